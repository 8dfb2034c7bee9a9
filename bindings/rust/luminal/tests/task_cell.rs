//! The task cell (the future, then its output: in the runtime's task storage, or one allocation per task for an
//! over-aligned future): every way a task can end drops its future exactly once, drops its output exactly once,
//! and frees its cell exactly once.
mod common;
/// Counts live Rust heap blocks, so a leaked or doubly freed cell shows.
mod counting;

use common::*;
use counting::{thread_allocs, ALLOCS, FREES};
use luminal::{Runtime, Scope};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// The checks run one after another inside a single #[test]: the allocation counters are process-wide, and the
/// harness allocates (and keeps) a record whenever a sibling test finishes, which a leak check would count.
#[test]
fn task_cells() {
    a_spawned_and_joined_task_allocates_once();
    every_path_drops_future_and_output_once_and_frees_the_cell();
    many_tasks_race_join_against_completion();
}

fn new_rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).thread_name("luminal-cell").build().unwrap()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[derive(Default)]
struct Counts {
    futures: Arc<AtomicUsize>,
    outputs: Arc<AtomicUsize>,
}

impl Counts {
    fn fut(&self) -> DropCounter {
        DropCounter(self.futures.clone())
    }
    fn out(&self) -> DropCounter {
        DropCounter(self.outputs.clone())
    }
    fn get(&self) -> (usize, usize) {
        (self.futures.load(Ordering::SeqCst), self.outputs.load(Ordering::SeqCst))
    }
}

/// Forwards wakes to another waker: a JoinHandle polled with it must use the fallback helper task.
struct Forward(Waker);
impl Wake for Forward {
    fn wake(self: Arc<Self>) {
        self.0.wake_by_ref()
    }
}

/// Polls `inner` once with a foreign waker (so a JoinHandle inside starts its fallback helper task), then drops it.
struct PollOnceForeign<F>(Option<F>);
impl<F: Future + Unpin> Future for PollOnceForeign<F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let w = Waker::from(Arc::new(Forward(cx.waker().clone())));
        let mut inner = self.0.take().unwrap();
        let r = Pin::new(&mut inner).poll(&mut Context::from_waker(&w));
        Poll::Ready(match r {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    }
}

fn every_path_drops_future_and_output_once_and_frees_the_cell() {
    let rt = new_rt(2);
    rt.block_on(rt.spawn(async {})).unwrap(); // warm up the workers
    let c = Counts::default();
    // The expected panics below must not print (a backtrace's symbol caches would count as live blocks).
    std::panic::set_hook(Box::new(|_| {}));
    let live_before = ALLOCS.load(Ordering::SeqCst) - FREES.load(Ordering::SeqCst);

    // 1. Completed and joined (from a plain thread, then from inside a task).
    let (f, o) = (c.fut(), c.out());
    let out = rt.block_on(rt.spawn(async move {
        let _f = f;
        o
    }));
    drop(out.unwrap());
    assert_eq!(c.get(), (1, 1));
    let (f, o) = (c.fut(), c.out());
    let out = rt.block_on(rt.spawn(async move {
        luminal::spawn(async move {
            let _f = f;
            luminal::yield_now().await;
            o
        })
        .await
    }));
    drop(out.unwrap().unwrap());
    assert_eq!(c.get(), (2, 2));

    // 2. Detached before it completed: the output is freed by drop_output.
    let (f, o) = (c.fut(), c.out());
    drop(rt.spawn(async move {
        let _f = f;
        sleep(Duration::from_millis(5)).await;
        o
    }));
    wait_for("the detached task", || c.get() == (3, 3));

    // 3. Completed, then the handle dropped unjoined.
    let (f, o) = (c.fut(), c.out());
    let h = rt.spawn(async move {
        let _f = f;
        o
    });
    wait_for("completion", || h.is_finished());
    assert_eq!(c.get(), (4, 3), "the future is dropped when it completes, the output waits for its owner");
    drop(h);
    wait_for("the unjoined output", || c.get() == (4, 4));

    // 4. Aborted while pending: the future is dropped, there is no output.
    let f = c.fut();
    let h = rt.spawn(async move {
        let _f = f;
        Forever.await
    });
    std::thread::sleep(Duration::from_millis(2));
    h.abort();
    assert!(rt.block_on(h).err().unwrap().is_cancelled());
    assert_eq!(c.get(), (5, 4));

    // 5. Panicked: joined (the payload is the output), and unjoined.
    let f = c.fut();
    let h = rt.spawn(async move {
        let _f = f;
        if true {
            panic!("task panic (expected)");
        }
    });
    let e = rt.block_on(h).err().unwrap();
    assert!(e.is_panic());
    drop(e);
    let f = c.fut();
    drop(rt.spawn(async move {
        let _f = f;
        panic!("detached task panic (expected)");
    }));
    wait_for("the panicked futures", || c.get() == (7, 4));

    // 6. Spawn failure: a shut-down runtime drops the future at once.
    let rt2 = new_rt(1);
    let (f, o) = (c.fut(), c.out());
    let done = rt2.spawn(async move {
        let _f = f;
        o
    });
    wait_for("the completed task of the second runtime", || done.is_finished());
    let (f2, o2) = (c.fut(), c.out());
    let pending = rt2.spawn(async move {
        let _f = f2;
        Forever.await;
        o2
    });
    std::thread::sleep(Duration::from_millis(2));
    rt2.shutdown(None).unwrap();
    assert_eq!(
        c.get(),
        (9, 5),
        "shutdown dropped the pending future (with o2 in it); the completed one's was dropped before"
    );
    let (f3, o3) = (c.fut(), c.out());
    let failed = rt2.spawn(async move {
        let _f = f3;
        o3
    });
    assert_eq!(c.get(), (10, 6), "the failed spawn dropped its future (with o3 in it)");
    assert!(rt.block_on(failed).err().unwrap().is_cancelled());
    assert!(rt.block_on(pending).err().unwrap().is_cancelled());
    // The completed task's output survived the shutdown; its handle still takes it.
    drop(rt.block_on(done).unwrap());
    assert_eq!(c.get(), (10, 7));
    drop(rt2);
    assert_eq!(c.get(), (10, 7));

    // 7. Scope close: an unclaimed output held by a live handle is freed by the close; the handle gets cancelled.
    let scope = Scope::new(&rt).unwrap();
    let (f, o) = (c.fut(), c.out());
    let h = luminal::task::Builder::new()
        .scope(&scope)
        .spawn_on(&rt, async move {
            let _f = f;
            o
        })
        .unwrap();
    wait_for("the scoped task", || h.is_finished());
    assert_eq!(c.get(), (11, 7));
    scope.close(None).unwrap();
    assert_eq!(c.get(), (11, 8));
    assert!(rt.block_on(h).err().unwrap().is_cancelled());

    // 8. The fallback helper task: a handle first polled with a foreign waker, then dropped after the task finished
    //    (the helper holds the output and frees it), or awaited to its end.
    let (f, o) = (c.fut(), c.out());
    let h = rt.spawn(async move {
        let _f = f;
        sleep(Duration::from_millis(2)).await;
        o
    });
    // The task's output is the half-polled future itself (handed out unawaited on purpose).
    #[allow(clippy::async_yields_async)]
    let h = rt.block_on(rt.spawn(async move {
        let mut once = PollOnceForeign(Some(h));
        let r = (&mut once).await;
        assert!(r.is_none());
        once
    }));
    drop(h);
    wait_for("the output held by a helper task", || c.get() == (12, 9));
    let (f, o) = (c.fut(), c.out());
    let r = rt.block_on(rt.spawn(async move {
        join_all([luminal::spawn(async move {
            let _f = f;
            sleep(Duration::from_millis(2)).await;
            o
        })])
        .await
    }));
    drop(r);
    assert_eq!(c.get(), (13, 10));

    // 9. A future whose destructor panics after it completed: the output stands.
    // The fields are held only for their destructors.
    struct PanicOnDrop(#[allow(dead_code)] DropCounter);
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("panic in a completed future's drop (expected)");
        }
    }
    struct Done(#[allow(dead_code)] PanicOnDrop, Option<DropCounter>);
    impl Future for Done {
        type Output = DropCounter;
        fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<DropCounter> {
            Poll::Ready(self.1.take().unwrap())
        }
    }
    let (f, o) = (c.fut(), c.out());
    let out = rt.block_on(rt.spawn(Done(PanicOnDrop(f), Some(o))));
    drop(out.unwrap());
    assert_eq!(c.get(), (14, 11));

    // Every cell (and everything else the tasks allocated) is freed.
    drop(rt);
    drop(std::panic::take_hook());
    // Helper threads of the test's own sleep futures may still be finishing (and freeing) on a loaded machine: a
    // real leak never goes away, so wait for the count to settle back rather than reading it once.
    let live = || ALLOCS.load(Ordering::SeqCst) - FREES.load(Ordering::SeqCst);
    let until = Instant::now() + Duration::from_secs(10);
    while live() > live_before && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    let live_after = live();
    assert!(live_after <= live_before, "{} Rust heap blocks leaked", live_after - live_before);
}

fn a_spawned_and_joined_task_allocates_once() {
    let rt = new_rt(1);
    const N: usize = 1000;
    let allocations = rt.block_on(rt.spawn(async {
        luminal::spawn(async {}).await.unwrap(); // warm up
                                                 // One worker: the spawns, the polls and the joins all run on this thread, so its own count is exact.
        let before = thread_allocs();
        for i in 0..N {
            assert_eq!(luminal::spawn(async move { i }).await.unwrap(), i);
        }
        thread_allocs() - before
    }));
    // The future moves into the runtime's task storage (luminal_spawn_inline), its output lives there too.
    assert_eq!(allocations.unwrap(), 0, "no Rust allocation per task: future and output live in the task");

    // A big future (beyond the runtime's small classes) too: the runtime gives it a native block of its own.
    let allocations = rt.block_on(rt.spawn(async {
        let before = thread_allocs();
        for i in 0..N {
            let big = [i as u8; 3000];
            let h = luminal::spawn(async move {
                luminal::yield_now().await;
                big[i % 3000] as usize + big.len()
            });
            assert_eq!(h.await.unwrap(), (i as u8) as usize + 3000);
        }
        thread_allocs() - before
    }));
    assert_eq!(allocations.unwrap(), 0, "a big future: no Rust allocation either");

    // Over-aligned futures (beyond LUMINAL_SPAWN_INLINE_MAX_ALIGN) keep the boxed cell: one allocation per task.
    #[repr(align(128))]
    struct Aligned(usize);
    let allocations = rt.block_on(rt.spawn(async {
        let before = thread_allocs();
        for i in 0..N {
            let a = Aligned(i);
            assert_eq!(luminal::spawn(async move { std::hint::black_box(&a).0 }).await.unwrap(), i);
        }
        thread_allocs() - before
    }));
    assert_eq!(allocations.unwrap(), N, "one boxed cell per over-aligned task: future and output share it");
}

fn many_tasks_race_join_against_completion() {
    let rt = new_rt(2);
    let c = Counts::default();
    let live_before = ALLOCS.load(Ordering::SeqCst) - FREES.load(Ordering::SeqCst);
    const N: usize = 20_000;
    let hs: Vec<_> = (0..N)
        .map(|i| {
            let (f, o) = (c.fut(), c.out());
            rt.spawn(async move {
                let _f = f;
                if i % 3 == 0 {
                    luminal::yield_now().await;
                }
                (i, o)
            })
        })
        .collect();
    let mut sum = 0;
    let mut kept = Vec::new();
    for (i, h) in hs.into_iter().enumerate() {
        match i % 4 {
            0 => drop(h),      // detached, maybe before, maybe after completion
            1 => kept.push(h), // dropped unjoined later
            _ => sum += rt.block_on(h).unwrap().0,
        }
    }
    drop(kept);
    wait_for("every task", || c.get() == (N, N));
    assert!(sum > 0);
    drop(rt);
    let live_after = ALLOCS.load(Ordering::SeqCst) - FREES.load(Ordering::SeqCst);
    assert!(live_after <= live_before, "{} Rust heap blocks leaked", live_after - live_before);
}
