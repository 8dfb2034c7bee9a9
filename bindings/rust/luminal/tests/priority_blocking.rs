//! Priorities, spawn options and the blocking pool.
mod common;

use common::*;
use luminal::task::Builder;
use luminal::{Handle, Priority, Runtime, Scope};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).thread_name("luminal-prio").build().unwrap()
}

/// Occupies the runtime's only worker until the returned sender is used (or dropped).
fn hold_worker(rt: &Runtime) -> mpsc::Sender<()> {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let h = Builder::new().priority(Priority::UserInteractive).spawn_on(rt, async move {
        started_tx.send(()).unwrap();
        let _ = release_rx.recv(); // blocks the worker thread on purpose
    });
    drop(h.unwrap());
    started_rx.recv_timeout(Duration::from_secs(10)).expect("the holder task did not start");
    release_tx
}

#[test]
fn queued_tasks_run_in_priority_order() {
    let rt = rt(1);
    let release = hold_worker(&rt);
    let order = Arc::new(Mutex::new(Vec::new()));
    let prios = [
        Priority::Background,
        Priority::Utility,
        Priority::UserInitiated,
        Priority::UserInteractive,
        Priority::Background,
        Priority::Inherit, // outside a task: UserInitiated
        Priority::UserInteractive,
        Priority::Utility,
    ];
    let handles: Vec<_> = prios
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let order = order.clone();
            Builder::new().priority(p).spawn_on(&rt, async move { order.lock().unwrap().push((p, i)) }).unwrap()
        })
        .collect();
    release.send(()).unwrap();
    rt.block_on(async move {
        for h in handles {
            h.await.unwrap();
        }
    });
    let got: Vec<usize> = order.lock().unwrap().iter().map(|&(_, i)| i).collect();
    // Most urgent first, FIFO within a level.
    assert_eq!(got, vec![3, 6, 2, 5, 1, 7, 0, 4], "{:?}", order.lock().unwrap());
}

#[test]
fn builder_spawns_inherit_unless_set() {
    let rt = rt(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    // A background parent spawns children (onto the same worker, which it keeps busy until they are all queued):
    // one inheriting (background), one user-interactive, one utility. They run after the parent, most urgent
    // first.
    let parent = Builder::new().priority(Priority::Background).spawn_on(&rt, async move {
        let h = Handle::current();
        let mk = |tag: &'static str| {
            let o = o.clone();
            async move { o.lock().unwrap().push(tag) }
        };
        let a = Builder::new().priority(Priority::Inherit).spawn_on(&h, mk("inherit")).unwrap();
        let b = Builder::new().priority(Priority::UserInteractive).spawn_on(&h, mk("interactive")).unwrap();
        let c = Builder::new().priority(Priority::Utility).spawn(mk("utility")).unwrap();
        let d = Builder::new().spawn(mk("inherit2")).unwrap();
        (a.await.unwrap(), b.await.unwrap(), c.await.unwrap(), d.await.unwrap())
    });
    rt.block_on(parent.unwrap()).unwrap();
    assert_eq!(*order.lock().unwrap(), vec!["interactive", "utility", "inherit", "inherit2"]);
}

#[test]
fn builder_with_a_scope_and_inheritance_of_the_scope() {
    let rt = rt(2);
    let scope = Scope::new(&rt).unwrap();
    let h = Builder::new().priority(Priority::Utility).scope(&scope).spawn_on(&rt, async {
        // Children inherit the scope, whatever priority they ask for.
        let a = Builder::new().priority(Priority::UserInteractive).spawn(async { 1 }).unwrap();
        let b = Builder::new().priority(Priority::Background).spawn_on(&Handle::current(), async { 2 }).unwrap();
        a.await.unwrap() + b.await.unwrap()
    });
    assert_eq!(rt.block_on(h.unwrap()).unwrap(), 3);
    let h = Builder::new().priority(Priority::Background).scope(&scope).spawn_on(scope.runtime(), async { 4 });
    assert_eq!(rt.block_on(h.unwrap()).unwrap(), 4);
    let h = Builder::new().scope(&scope).spawn_on(&rt.handle(), async { 5 });
    assert_eq!(rt.block_on(h.unwrap()).unwrap(), 5);
    let st = scope.stats();
    assert_eq!(st.spawned, 5, "{st:?}");
    assert_eq!(st.completed, 5, "{st:?}");

    // A scope of another runtime is refused.
    let other = Runtime::builder().worker_threads(1).build().unwrap();
    let e = Builder::new().scope(&scope).spawn_on(&other, async {}).unwrap_err();
    assert_eq!(e.kind(), luminal::ErrorKind::InvalidArgument);

    // A closed scope refuses the spawn (and drops the future).
    scope.close(None).unwrap();
    let e = Builder::new().scope(&scope).priority(Priority::UserInteractive).spawn_on(&rt, async { 6 }).unwrap_err();
    assert!(e.is_shutdown(), "{e:?}");
}

#[test]
fn spawn_blocking_returns_and_panics() {
    let rt = rt(2);
    let h = rt.spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(10));
        // The OS thread name (std only knows the names of threads it started).
        std::fs::read_to_string("/proc/thread-self/comm").unwrap_or_default()
    });
    let name = rt.block_on(h).unwrap();
    assert!(name.starts_with("luminal-b-"), "{name:?}"); // a pool thread (luminal-b-SLOT), not a worker ("luminal-prio")

    let h = rt.spawn_blocking(|| -> u32 { panic!("boom in the pool") });
    let e = rt.block_on(h).unwrap_err();
    assert!(e.is_panic());
    assert_eq!(*e.into_panic().downcast::<&str>().unwrap(), "boom in the pool");

    // From inside a task, through the Handle, awaited in place.
    let v = rt.block_on(rt.spawn(async { Handle::current().spawn_blocking(|| 6 * 7).await.unwrap() })).unwrap();
    assert_eq!(v, 42);
}

#[test]
fn many_blocking_calls_beyond_the_cap_all_complete() {
    let rt = Runtime::builder()
        .worker_threads(2)
        .max_blocking_threads(3)
        .blocking_keep_alive(Duration::from_millis(50))
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..60u64)
        .map(|i| {
            let (running, peak) = (running.clone(), peak.clone());
            rt.spawn_blocking(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
                i
            })
        })
        .collect();
    let sum: u64 = rt.block_on(async move {
        let mut s = 0;
        for h in handles {
            s += h.await.unwrap();
        }
        s
    });
    assert_eq!(sum, 60 * 59 / 2);
    assert!(peak.load(Ordering::SeqCst) <= 3, "peak {}", peak.load(Ordering::SeqCst));
    // Awaited through a foreign waker (the JoinHandle fallback) too.
    let hs: Vec<_> = (0..10).map(|i| rt.spawn_blocking(move || i)).collect();
    let out = rt.block_on(join_all(hs));
    assert_eq!(out.into_iter().map(Result::unwrap).sum::<i32>(), 45);
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn spawn_blocking_leaks_nothing() {
    let rt = Runtime::builder().worker_threads(1).max_blocking_threads(1).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));

    // 1. An output nobody joins is dropped when the call finishes.
    let d = drops.clone();
    let h = rt.spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(20));
        DropCounter(d)
    });
    drop(h);
    wait_for("the unjoined output to be dropped", || drops.load(Ordering::SeqCst) == 1);

    // 2. An output that finished before the handle is dropped.
    let d = drops.clone();
    let h = rt.spawn_blocking(move || DropCounter(d));
    wait_for("the call to finish", || h.is_finished());
    drop(h);
    assert_eq!(drops.load(Ordering::SeqCst), 2);

    // 3. A call aborted while queued (the single pool thread is busy): its closure is dropped, never called.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let busy = rt.spawn_blocking(move || release_rx.recv().ok());
    let called = Arc::new(AtomicUsize::new(0));
    let (d, c) = (DropCounter(drops.clone()), called.clone());
    let queued = rt.spawn_blocking(move || {
        c.fetch_add(1, Ordering::SeqCst);
        drop(d);
    });
    queued.abort();
    release_tx.send(()).unwrap();
    assert!(rt.block_on(queued).unwrap_err().is_cancelled());
    assert_eq!(drops.load(Ordering::SeqCst), 3, "the cancelled closure was not dropped");
    assert_eq!(called.load(Ordering::SeqCst), 0);
    assert_eq!(rt.block_on(busy).unwrap(), Some(()));

    // 4. Aborted while queued and the handle dropped once finished (not awaited).
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let busy = rt.spawn_blocking(move || release_rx.recv().ok());
    let d = DropCounter(drops.clone());
    let queued = rt.spawn_blocking(move || drop(d));
    queued.abort();
    release_tx.send(()).unwrap();
    rt.block_on(busy).unwrap();
    wait_for("the aborted call to finish", || queued.is_finished());
    drop(queued);
    assert_eq!(drops.load(Ordering::SeqCst), 4);

    // 5. A panic payload nobody joins is dropped too (no crash, no leak of the closure).
    let d = DropCounter(drops.clone());
    drop(rt.spawn_blocking(move || {
        let _d = d;
        panic!("unjoined panic")
    }));
    wait_for("the panicking call's closure to be dropped", || drops.load(Ordering::SeqCst) == 5);

    // 6. Shutdown cancels a queued call whose handle is still held: awaiting it drops the closure.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let _busy = rt.spawn_blocking(move || release_rx.recv_timeout(Duration::from_millis(200)).ok());
    let d = DropCounter(drops.clone());
    let queued = rt.spawn_blocking(move || drop(d));
    rt.shutdown(Some(Duration::from_secs(10))).unwrap();
    drop(release_tx);
    let r = common::foreign_block_on(queued);
    assert!(r.unwrap_err().is_cancelled());
    assert_eq!(drops.load(Ordering::SeqCst), 6);

    // 7. Spawning on a shut-down runtime drops the closure at once.
    let d = DropCounter(drops.clone());
    assert!(Builder::new().spawn_blocking_on(&rt, move || drop(d)).unwrap_err().is_shutdown());
    assert_eq!(drops.load(Ordering::SeqCst), 7);
}

#[test]
fn blocking_call_cancelled_by_shutdown_after_its_handle_was_dropped_drops_its_closure() {
    // Before `luminal_spawn_blocking_with` (drop_arg), this closure leaked: nobody was left to drop it.
    let rt = Runtime::builder().worker_threads(1).max_blocking_threads(1).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let busy = rt.spawn_blocking(move || release_rx.recv_timeout(Duration::from_millis(300)).ok());
    let d = DropCounter(drops.clone());
    drop(rt.spawn_blocking(move || drop(d))); // queued behind `busy`, handle gone
    drop(busy);
    rt.shutdown(Some(Duration::from_secs(10))).unwrap();
    drop(release_tx);
    wait_for("the cancelled closure to be dropped", || drops.load(Ordering::SeqCst) == 1);
}

#[test]
fn builder_blocking_call_in_a_scope_is_cancelled_by_closing_the_scope() {
    let rt = Runtime::builder().worker_threads(1).max_blocking_threads(1).build().unwrap();
    let scope = Scope::new(&rt).unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let busy = rt.spawn_blocking(move || release_rx.recv().ok());
    let (d, called) = (DropCounter(drops.clone()), Arc::new(AtomicUsize::new(0)));
    let c = called.clone();
    let queued = Builder::new()
        .scope(&scope)
        .priority(Priority::Background)
        .spawn_blocking_on(&rt, move || {
            c.fetch_add(1, Ordering::SeqCst);
            drop(d);
            7
        })
        .unwrap();
    assert_eq!(scope.stats().spawned, 1);
    // Closing the scope cancels the queued call (the pool's only thread is busy) and waits for nothing else.
    scope.close(Some(Duration::from_secs(10))).unwrap();
    assert!(rt.block_on(queued).unwrap_err().is_cancelled());
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the cancelled closure was dropped");
    assert_eq!(called.load(Ordering::SeqCst), 0, "and never called");
    release_tx.send(()).unwrap();
    assert_eq!(rt.block_on(busy).unwrap(), Some(()));
    // Outside a scope, with a priority: runs and returns.
    let h = Builder::new().priority(Priority::UserInteractive).spawn_blocking_on(&rt.handle(), || 6 * 7).unwrap();
    assert_eq!(rt.block_on(h).unwrap(), 42);
}
