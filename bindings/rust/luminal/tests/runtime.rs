//! Integration tests of the luminal crate against the real libluminal.
mod common;

use common::*;
use luminal::task::Builder;
use luminal::{ErrorKind, Handle, JoinError, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).thread_name("luminal-test").build().unwrap()
}

async fn hello_world() {}

#[test]
fn seed_usage_compiles_and_runs() {
    let rt = Runtime::new().unwrap();
    let rt_clone = rt.clone();
    rt.block_on(async move {
        #[allow(unused_must_use)]
        {
            rt_clone.spawn(hello_world()).await;
        }
    });
    assert!(rt.worker_count() >= 1);
    assert_eq!(luminal::abi_version(), luminal::ffi::LUMINAL_ABI_VERSION);
    assert!(!luminal::version().is_empty());
}

#[test]
fn runtime_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync>() {}
    assert_traits::<Runtime>();
    assert_traits::<Handle>();
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<luminal::JoinHandle<u32>>();
}

#[test]
fn spawn_and_join_100k_tasks() {
    let rt = rt(4);
    let n = 100_000u64;
    let handles: Vec<_> = (0..n).map(|i| rt.spawn(async move { i })).collect();
    let sum = rt.block_on(async move {
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, n * (n - 1) / 2);

    // The same from inside a task, through the worker's local queue.
    let sum = rt.block_on(rt.spawn(async move {
        let handles: Vec<_> = (0..n).map(|i| luminal::spawn(async move { i })).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    }));
    assert_eq!(sum.unwrap(), n * (n - 1) / 2);
}

fn tree(depth: u32) -> std::pin::Pin<Box<dyn std::future::Future<Output = u64> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return 1;
        }
        let handle = Handle::current();
        let left = handle.spawn(tree(depth - 1));
        let right = luminal::spawn(tree(depth - 1));
        luminal::yield_now().await;
        left.await.unwrap() + right.await.unwrap()
    })
}

#[test]
fn nested_spawn_from_inside_tasks() {
    let rt = rt(4);
    assert_eq!(rt.block_on(rt.spawn(tree(12))).unwrap(), 1 << 12);
    // Also from block_on's own future (context spawn outside a worker goes to the global queue).
    assert_eq!(rt.block_on(tree(10)), 1 << 10);
}

/// `Handle::current()` in a chain of tasks each spawned from the one before: it must name the runtime they run on
/// at every level. The runtime's token is kept in a task's inline cell where it fits; these futures (a boxed
/// future, a join handle held across an await) have room for it.
fn current_at_depth(depth: u32) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send>> {
    Box::pin(async move {
        let here = Handle::current().runtime().worker_count();
        if depth > 0 {
            let below = luminal::spawn(current_at_depth(depth - 1)).await.unwrap();
            assert_eq!(below, here, "a child task saw another runtime than its parent at depth {depth}");
        }
        here
    })
}

/// The same with futures whose cell has no room for the token (an Arc, a u64 and a u32: 24 bytes, the cell 32;
/// with the token it would be 40, the next storage class): detached, each records what it sees.
fn record_at_depth(seen: Arc<std::sync::Mutex<Vec<usize>>>, depth: u32, tag: u64) {
    luminal::spawn(async move {
        seen.lock().unwrap().push(Handle::current().runtime().worker_count() + tag as usize);
        if depth > 0 {
            record_at_depth(seen, depth - 1, tag);
        }
    });
}

#[test]
fn handle_current_in_nested_tasks_names_their_runtime() {
    let (one, three) = (rt(1), rt(3));
    assert_eq!(three.block_on(three.spawn(current_at_depth(5))).unwrap(), 3);
    assert_eq!(one.block_on(one.spawn(current_at_depth(5))).unwrap(), 1);
    // From a task of the other runtime: onto `three` through its handle (a spawn onto a runtime, not a context).
    let h = three.handle();
    assert_eq!(one.block_on(one.spawn(async move { h.spawn(current_at_depth(3)).await.unwrap() })).unwrap(), 3);
    for (rt, n) in [(&one, 1), (&three, 3)] {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        rt.block_on(async move { record_at_depth(s, 5, 0) });
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.lock().unwrap().len() < 6 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(*seen.lock().unwrap(), vec![n; 6]);
    }
}

#[test]
fn handle_outside_a_task() {
    assert!(Handle::try_current().is_none());
    assert!(!luminal::in_task());
    let err = Builder::new().spawn(async {}).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let r = std::panic::catch_unwind(|| luminal::spawn(async {}));
    assert!(r.is_err());
    let rt = rt(1);
    // A Handle from a Runtime spawns on the global queue.
    assert_eq!(rt.block_on(rt.handle().spawn(async { 5 })).unwrap(), 5);
    assert!(rt.block_on(async { luminal::in_task() }));
}

#[test]
fn abort_a_pending_task() {
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCounter(drops.clone());
    let h = rt.spawn(async move {
        let _d = d;
        Forever.await;
    });
    assert!(!h.is_finished());
    h.abort();
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_cancelled() && !err.is_panic(), "{err:?}");
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the aborted future is dropped once");

    // Aborting a task that awaits another one (the inner one is detached when the outer future is dropped).
    let h = rt.spawn(Forever);
    let waiter = rt.spawn(h);
    std::thread::sleep(Duration::from_millis(20));
    // Aborting a finished task has no effect.
    let done = rt.spawn(async { 7 });
    while !done.is_finished() {
        std::thread::yield_now();
    }
    done.abort();
    assert_eq!(rt.block_on(done).unwrap(), 7);
    waiter.abort();
    assert!(rt.block_on(waiter).unwrap_err().is_cancelled());
}

#[test]
fn abort_wakes_an_awaiting_task() {
    let rt = rt(2);
    let target = rt.spawn(Forever);
    let raw = target.as_raw();
    let waiter = rt.spawn(async move { target.await.map_err(|e| e.is_cancelled()) });
    std::thread::sleep(Duration::from_millis(20));
    // SAFETY: the handle is still owned by `target` inside the waiter; abort is thread-safe.
    unsafe { luminal::ffi::luminal_task_abort(raw) };
    assert_eq!(rt.block_on(waiter).unwrap(), Err(true));
}

#[test]
fn panic_propagation() {
    let rt = rt(2);
    let n = std::hint::black_box(42); // a run-time argument: the payload is a String
    let err: JoinError = rt.block_on(rt.spawn(async move { panic!("boom {n}") })).unwrap_err();
    assert!(err.is_panic() && !err.is_cancelled());
    assert!(err.to_string().contains("boom 42"));
    let payload = err.into_panic();
    assert_eq!(payload.downcast_ref::<String>().unwrap(), "boom 42");

    let err = rt.block_on(rt.spawn(async { std::panic::panic_any(17u32) })).unwrap_err();
    assert_eq!(*err.into_panic().downcast::<u32>().unwrap(), 17);

    // The runtime survives and keeps running tasks.
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);

    // A panic in block_on's future resumes on the caller.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(async { panic!("in block_on") })));
    assert_eq!(*r.unwrap_err().downcast::<&str>().unwrap(), "in block_on");

    // A panic inside a nested task, observed by its parent.
    let inner =
        rt.block_on(rt.spawn(async { luminal::spawn(async { panic!("inner") }).await.unwrap_err().is_panic() }));
    assert!(inner.unwrap());
}

#[test]
fn panic_in_drop_does_not_cross_the_boundary() {
    static BOMBS: AtomicUsize = AtomicUsize::new(0);
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            BOMBS.fetch_add(1, Ordering::SeqCst);
            panic!("panic in drop");
        }
    }
    let rt = rt(1);
    let bomb = Bomb; // created outside, so the future owns it even if it never runs
    let h = rt.spawn(async move {
        let _b = bomb;
        Forever.await
    });
    h.abort();
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
    assert_eq!(BOMBS.load(Ordering::SeqCst), 1);
    // A panicking output destructor, for an output nobody takes.
    struct BombOutput;
    impl Drop for BombOutput {
        fn drop(&mut self) {
            BOMBS.fetch_add(1, Ordering::SeqCst);
            panic!("panic in output drop");
        }
    }
    drop(rt.spawn(async { BombOutput }));
    let deadline = Instant::now() + Duration::from_secs(10);
    while BOMBS.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(BOMBS.load(Ordering::SeqCst), 2);
    assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
}

#[test]
fn dropping_an_unawaited_join_handle_detaches() {
    let rt = rt(2);
    let outputs_dropped = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    for i in 0..100 {
        let (tx, d) = (tx.clone(), DropCounter(outputs_dropped.clone()));
        drop(rt.spawn(async move {
            sleep(Duration::from_millis(1)).await;
            tx.send(i).unwrap();
            d // the output: freed by drop_output since nobody joins
        }));
    }
    let mut got: Vec<i32> = (0..100).map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap()).collect();
    got.sort();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    let deadline = Instant::now() + Duration::from_secs(10);
    while outputs_dropped.load(Ordering::SeqCst) < 100 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(outputs_dropped.load(Ordering::SeqCst), 100, "every detached output is freed");
}

#[test]
fn block_on_from_a_worker_thread_is_an_error() {
    let rt = rt(2);
    let rt2 = rt.clone();
    let r = rt.block_on(rt.spawn(async move { rt2.try_block_on(async { 1 }).map_err(|e| e.kind()) })).unwrap();
    assert_eq!(r, Err(ErrorKind::WouldDeadlock));

    // block_on (the panicking form) reports it as a panic of the task, not a hang.
    let rt3 = rt.clone();
    let err = rt.block_on(rt.spawn(async move { rt3.block_on(async { 1 }) })).unwrap_err();
    assert!(err.is_panic(), "{err:?}");

    // The runtime is still healthy.
    assert_eq!(rt.block_on(async { 2 }), 2);
}

#[test]
fn many_threads_spawning_at_once() {
    let rt = rt(4);
    let threads = 16;
    let per_thread = 5_000u64;
    let barrier = Arc::new(Barrier::new(threads));
    let joins: Vec<_> = (0..threads)
        .map(|t| {
            let (rt, barrier) = (rt.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let handles: Vec<_> =
                    (0..per_thread).map(|i| rt.spawn(async move { t as u64 * per_thread + i })).collect();
                // Each thread blocks on its own future at the same time as the others.
                rt.block_on(async move {
                    let mut sum = 0;
                    for h in handles {
                        sum += h.await.unwrap();
                    }
                    sum
                })
            })
        })
        .collect();
    let total: u64 = joins.into_iter().map(|j| j.join().unwrap()).sum();
    let n = threads as u64 * per_thread;
    assert_eq!(total, n * (n - 1) / 2);
}

#[test]
fn join_handles_inside_a_combinator() {
    // The combinator polls with its own waker: the JoinHandles must fall back to helper tasks.
    let rt = rt(4);
    let out = rt.block_on(rt.spawn(async {
        let hs = (0..200u64).map(|i| {
            luminal::spawn(async move {
                sleep(Duration::from_millis(1 + i % 5)).await;
                i
            })
        });
        join_all(hs).await.into_iter().map(|r| r.unwrap()).sum::<u64>()
    }));
    assert_eq!(out.unwrap(), 199 * 200 / 2);
    // Same in block_on.
    let hs: Vec<_> = (0..50u64).map(|i| rt.spawn(async move { i })).collect();
    let sum: u64 = rt.block_on(join_all(hs)).into_iter().map(|r| r.unwrap()).sum();
    assert_eq!(sum, 49 * 50 / 2);
}

#[test]
fn join_handle_on_a_foreign_executor() {
    let rt = rt(2);
    let h = rt.spawn(async {
        sleep(Duration::from_millis(20)).await;
        "done"
    });
    assert_eq!(foreign_block_on(h).unwrap(), "done");
    let h = rt.spawn(Forever);
    let raw = h.as_raw();
    let t = std::thread::spawn(move || foreign_block_on(h).unwrap_err().is_cancelled());
    std::thread::sleep(Duration::from_millis(20));
    unsafe { luminal::ffi::luminal_task_abort(raw) };
    assert!(t.join().unwrap());
}

#[test]
fn wakers_from_other_threads_and_yield_now() {
    let rt = rt(2);
    let r = rt.block_on(rt.spawn(async {
        for _ in 0..10 {
            sleep(Duration::from_millis(1)).await;
            luminal::yield_now().await;
        }
        "ok"
    }));
    assert_eq!(r.unwrap(), "ok");
    // In block_on, too.
    rt.block_on(async {
        sleep(Duration::from_millis(5)).await;
        luminal::yield_now().await;
    });
}

/// A combinator that polls its inner future with a waker of its own (as FuturesUnordered does): only that waker
/// knows the inner future wants another poll, so yield_now must wake it rather than ask the runtime to re-poll
/// the task (which would re-poll the combinator, which would not re-poll the inner future: a hang).
#[test]
fn yield_now_under_a_combinators_own_waker() {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Wake, Waker};
    struct Flag(std::sync::atomic::AtomicBool, Waker);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref()
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
            self.1.wake_by_ref();
        }
    }
    struct OwnWaker<F>(Pin<Box<F>>, usize);
    impl<F: Future> Future for OwnWaker<F> {
        type Output = (F::Output, usize);
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let flag = Arc::new(Flag(false.into(), cx.waker().clone()));
            let waker = Waker::from(flag.clone());
            self.1 += 1;
            match self.0.as_mut().poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(v) => Poll::Ready((v, self.1)),
                Poll::Pending => {
                    assert!(flag.0.load(Ordering::SeqCst), "the inner yield_now did not wake the combinator's waker");
                    Poll::Pending
                }
            }
        }
    }
    let rt = rt(1);
    let (v, polls) = rt
        .block_on(rt.spawn(OwnWaker(
            Box::pin(async {
                for _ in 0..5 {
                    luminal::yield_now().await;
                }
                9
            }),
            0,
        )))
        .unwrap();
    assert_eq!((v, polls), (9, 6));
}

/// The Waker a poll gets is resolved to the task's luminal waker only when used; it works from another thread
/// during the poll, its clones outlive the poll, and it is recognised as a luminal waker.
#[test]
fn the_poll_waker_works_borrowed_cloned_and_from_other_threads() {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    struct Steps(usize, Option<std::thread::JoinHandle<()>>);
    impl Future for Steps {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            self.0 += 1;
            let raw = luminal::waker::as_raw(cx.waker()).expect("a luminal waker");
            assert!(!raw.is_null());
            match self.0 {
                // Woken by reference from another thread while this poll runs.
                1 => {
                    let w = cx.waker();
                    std::thread::scope(|s| {
                        s.spawn(move || w.wake_by_ref());
                    });
                    Poll::Pending
                }
                // A clone, woken by another thread after the poll returned.
                2 => {
                    let w = cx.waker().clone();
                    assert_eq!(luminal::waker::as_raw(&w), Some(raw));
                    self.1 = Some(std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(5));
                        w.wake();
                    }));
                    Poll::Pending
                }
                _ => {
                    self.1.take().unwrap().join().unwrap();
                    Poll::Ready(self.0)
                }
            }
        }
    }
    let rt = rt(2);
    assert_eq!(rt.block_on(rt.spawn(Steps(0, None))).unwrap(), 3);
    assert_eq!(rt.block_on(Steps(0, None)), 3);
}

#[test]
fn block_on_accepts_non_send_borrowing_futures() {
    let rt = rt(1);
    let local = std::rc::Rc::new(5);
    let borrowed = &local;
    let v = rt.block_on(async {
        luminal::yield_now().await;
        **borrowed + 1
    });
    assert_eq!(v, 6);
}

#[test]
fn shutdown_cancels_and_drops_pending_tasks() {
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let d = DropCounter(drops.clone());
            rt.spawn(async move {
                let _d = d;
                Forever.await
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(10));
    rt.shutdown(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 10);
    for h in handles {
        assert!(h.is_finished());
        assert!(foreign_block_on(h).unwrap_err().is_cancelled());
    }
    // After shutdown: spawns fail, block_on fails.
    assert_eq!(Builder::new().spawn_on(&rt, async {}).unwrap_err().kind(), ErrorKind::Shutdown);
    let h = rt.spawn(async { 1 });
    assert!(h.is_finished());
    assert!(foreign_block_on(h).unwrap_err().is_cancelled());
    assert_eq!(rt.try_block_on(async { 1 }).unwrap_err().kind(), ErrorKind::Shutdown);
}

#[test]
fn builder_rejects_bad_options() {
    assert_eq!(Runtime::builder().worker_threads(5000).build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Runtime::builder().thread_name("a\0b").build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    let rt = Runtime::builder().worker_threads(3).build().unwrap();
    assert_eq!(rt.worker_count(), 3);
}

#[test]
fn last_runtime_handle_dropped_inside_a_task() {
    // Releasing the last handle on a worker starts the shutdown without deadlocking.
    let rt = rt(2);
    let (tx, rx) = mpsc::channel();
    let inner = rt.clone();
    rt.spawn(async move {
        let _keep = inner;
        sleep(Duration::from_millis(20)).await;
        tx.send(()).unwrap();
    });
    drop(rt);
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
}

#[test]
fn raw_tasks_and_wakers_across_the_c_abi() {
    let rt = rt(2);
    let t = Builder::new().spawn_raw_on(&rt, async { 1234usize }).unwrap();
    let raw = t.into_raw();
    // Hand it to "C" and back.
    let t = unsafe { luminal::RawTask::from_raw(&rt, raw, None) };
    assert_eq!(rt.block_on(t).unwrap() as usize, 1234);

    // A luminal waker round-trips through its raw pointer.
    let v = rt.block_on(rt.spawn(async {
        std::future::poll_fn(|cx| {
            let raw = luminal::waker::as_raw(cx.waker()).expect("a luminal waker");
            let w = unsafe { luminal::waker::clone_from_raw(raw) };
            assert!(luminal::waker::as_raw(&w).is_some());
            let owned = luminal::waker::into_raw(w).unwrap();
            unsafe { luminal::ffi::luminal_waker_release(owned) };
            std::task::Poll::Ready(9)
        })
        .await
    }));
    assert_eq!(v.unwrap(), 9);
}

#[test]
fn nested_block_on_on_a_non_worker_thread() {
    // block_on inside block_on's future (not a worker thread): allowed, and the contexts nest correctly.
    let rt = rt(2);
    let rt2 = rt.clone();
    let v = rt.block_on(async move {
        let inner = rt2.block_on(async { luminal::spawn(async { 20 }).await.unwrap() });
        // The outer context is restored: spawning from it still works.
        inner + luminal::spawn(async { 1 }).await.unwrap()
    });
    assert_eq!(v, 21);
}

#[test]
fn shutdown_from_a_worker_is_would_deadlock_but_starts() {
    let rt = rt(2);
    let rt2 = rt.clone();
    let r = rt.try_block_on(rt.spawn(async move { rt2.shutdown(None).map_err(|e| e.kind()) }));
    // The block_on itself is ended by the shutdown (Shutdown), or it sees the task's result first: the task
    // reports WouldDeadlock, or was cancelled by the shutdown it started.
    match r {
        Err(e) => assert_eq!(e.kind(), ErrorKind::Shutdown),
        Ok(Ok(status)) => assert_eq!(status, Err(ErrorKind::WouldDeadlock)),
        Ok(Err(e)) => assert!(e.is_cancelled(), "{e:?}"),
    }
    rt.shutdown(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(Builder::new().spawn_on(&rt, async {}).unwrap_err().kind(), ErrorKind::Shutdown);
}
