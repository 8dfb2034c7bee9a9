//! Polling allocates nothing on the Rust side: the Waker of each poll is built on the stack from the context's
//! luminal waker, and awaiting a JoinHandle inside a task uses luminal_task_poll directly.
mod counting;

#[test]
fn polls_and_wakes_do_not_allocate() {
    let rt = luminal::Runtime::builder().worker_threads(1).build().unwrap();
    let child = rt.spawn(async {
        for _ in 0..1000 {
            luminal::yield_now().await;
        }
    });
    let allocations = rt.block_on(rt.spawn(async move {
        let before = counting::thread_allocs(); // this worker thread only: a sibling test allocates on its own
        for _ in 0..10_000 {
            // Each yield is a wake_by_ref of the task's luminal waker and a new poll.
            luminal::yield_now().await;
        }
        child.await.unwrap(); // luminal_task_poll with the task's own context
        counting::thread_allocs() - before
    }));
    // None: a task's one allocation (its cell, which later holds the output too) is made when it is spawned.
    let allocations = allocations.unwrap();
    assert_eq!(allocations, 0, "Rust-side allocations during 11k polls");
}

/// Small plain values (here usize) travel in the channel's message bits: sending and receiving them allocates
/// nothing (a Box per message was ~30% of the mpsc benchmark's instructions).
#[test]
fn small_channel_messages_do_not_allocate() {
    let rt = luminal::Runtime::builder().worker_threads(1).build().unwrap();
    let (tx, mut rx) = luminal::sync::mpsc::channel::<usize>(&rt, 64);
    let allocations = rt.block_on(rt.spawn(async move {
        tx.try_send(1).unwrap(); // (the first message: whatever is made once, outside the count)
        assert_eq!(rx.recv().await, Some(1));
        let before = counting::thread_allocs(); // (a sibling test finishing allocates on its own thread)
        for i in 0..10_000usize {
            tx.try_send(i).unwrap();
            assert_eq!(rx.recv().await, Some(i));
        }
        counting::thread_allocs() - before
    }));
    assert_eq!(allocations.unwrap(), 0, "Rust-side allocations for 10k usize messages");
}
