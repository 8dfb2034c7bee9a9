//! Sleeping in a task allocates nothing on the Rust side: a Sleep polls the runtime's timer future with the task's
//! own context. (A file of its own: the allocation counter is process-wide, and the test harness allocates when
//! another test of the same binary finishes.)
mod counting;

use counting::ALLOCS;
use std::sync::atomic::Ordering;

#[test]
fn sleeping_in_a_task_does_not_allocate() {
    let rt = luminal::Runtime::builder().worker_threads(1).build().unwrap();
    let allocations = rt.block_on(rt.spawn(async move {
        let h = luminal::Handle::current();
        let before = ALLOCS.load(Ordering::SeqCst);
        for i in 0..200u64 {
            // Creating a Sleep, polling it with the task's context (the timer wheel wakes the task directly),
            // and dropping it: no Rust-side allocation.
            luminal::time::sleep(&h, std::time::Duration::from_micros(i % 3 * 100)).await;
        }
        ALLOCS.load(Ordering::SeqCst) - before
    }));
    let allocations = allocations.unwrap();
    assert_eq!(allocations, 0, "{allocations} Rust-side allocations during 200 sleeps");
}
