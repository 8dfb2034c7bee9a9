//! Polling allocates nothing on the Rust side: the Waker of each poll is built on the stack from the context's
//! luminal waker, and awaiting a JoinHandle inside a task uses luminal_task_poll directly.
mod counting;

use counting::ALLOCS;
use std::sync::atomic::Ordering;

#[test]
fn polls_and_wakes_do_not_allocate() {
    let rt = luminal::Runtime::builder().worker_threads(1).build().unwrap();
    let child = rt.spawn(async {
        for _ in 0..1000 {
            luminal::yield_now().await;
        }
    });
    let allocations = rt.block_on(rt.spawn(async move {
        let before = ALLOCS.load(Ordering::SeqCst);
        for _ in 0..10_000 {
            // Each yield is a wake_by_ref of the task's luminal waker and a new poll.
            luminal::yield_now().await;
        }
        child.await.unwrap(); // luminal_task_poll with the task's own context
        ALLOCS.load(Ordering::SeqCst) - before
    }));
    // None: a task's one allocation (its cell, which later holds the output too) is made when it is spawned.
    let allocations = allocations.unwrap();
    assert_eq!(allocations, 0, "Rust-side allocations during 11k polls");
}
