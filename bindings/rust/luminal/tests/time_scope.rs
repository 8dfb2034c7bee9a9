//! luminal::time and luminal::Scope against the real libluminal.
mod common;

use common::*;
use luminal::task::Builder;
use luminal::time::{self, Elapsed, Instant};
use luminal::{ErrorKind, Handle, Runtime, Scope, ScopeStats};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).thread_name("luminal-time-test").build().unwrap()
}

const MS: Duration = Duration::from_millis(1);
/// Generous: a loaded CI machine may be slow, but a timer must never be seconds late.
const LATE: Duration = Duration::from_secs(2);

/// A small deterministic PRNG (no dependencies).
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
fn instant_arithmetic() {
    let a = Instant::now();
    let b = a + Duration::from_millis(5);
    assert_eq!(b.duration_since(a), Duration::from_millis(5));
    assert_eq!(a.duration_since(b), Duration::ZERO);
    assert_eq!(a.checked_duration_since(b), None);
    assert_eq!(b - a, Duration::from_millis(5));
    assert_eq!(b - Duration::from_millis(5), a);
    assert_eq!(Instant::from_nanos(a.as_nanos()), a);
    assert!(a.checked_add(Duration::MAX).is_none());
    assert_eq!(a.saturating_add(Duration::MAX).as_nanos(), u64::MAX);
    let mut c = a;
    c += MS;
    assert!(c > a);
    let t = Instant::now();
    std::thread::sleep(Duration::from_millis(3));
    assert!(t.elapsed() >= Duration::from_millis(3), "Instant is a monotonic clock in real time");
    assert!(Instant::now() >= t);
}

#[test]
fn sleep_never_returns_early() {
    let rt = rt(2);
    let durations = [0u64, 1, 2, 3, 5, 7, 10, 16, 25, 50];
    // In block_on (the fast path with the block_on thread's context).
    let r = rt.clone();
    rt.block_on(async move {
        for &ms in &durations {
            let d = Duration::from_millis(ms);
            let start = Instant::now();
            let s = time::sleep(&r, d);
            let deadline = s.deadline();
            assert!(deadline >= start + d);
            s.await;
            let now = Instant::now();
            assert!(now >= deadline, "sleep({ms} ms) returned {:?} early", deadline - now);
            assert!(now - start >= d);
            assert!(now - start < LATE, "sleep({ms} ms) took {:?}", now - start);
        }
    });
    // In spawned tasks, through a Handle, many at once.
    let tasks: Vec<_> = (0..200u64)
        .map(|i| {
            rt.spawn(async move {
                let h = Handle::current();
                let d = Duration::from_micros(i * 137 % 20_000);
                let start = Instant::now();
                let s = time::sleep(&h, d);
                let deadline = s.deadline();
                s.await;
                let now = Instant::now();
                assert!(now >= deadline, "sleep({d:?}) returned {:?} early", deadline - now);
                assert!(now - start < LATE);
            })
        })
        .collect();
    rt.block_on(async move {
        for t in tasks {
            t.await.unwrap();
        }
    });
    // sleep_until with a past deadline completes at once.
    let r = rt.clone();
    rt.block_on(async move {
        let past = Instant::now() - MS;
        time::sleep_until(&r, past).await;
        time::sleep_until(&r, Instant::from_nanos(0)).await;
    });
}

#[test]
fn sleeps_complete_in_deadline_order() {
    let rt = rt(2);
    let order = Arc::new(Mutex::new(Vec::new()));
    let base = Instant::now() + Duration::from_millis(20);
    // Deadlines 15 ms apart (well above the 1 ms tick), spawned in a shuffled order.
    let mut idx: Vec<u64> = (0..12).collect();
    let mut seed = 7;
    for i in (1..idx.len()).rev() {
        idx.swap(i, lcg(&mut seed) as usize % (i + 1));
    }
    let tasks: Vec<_> = idx
        .iter()
        .map(|&i| {
            let (order, r) = (order.clone(), rt.clone());
            rt.spawn(async move {
                let deadline = base + Duration::from_millis(15 * i);
                time::sleep_until(&r, deadline).await;
                assert!(Instant::now() >= deadline);
                order.lock().unwrap().push(i);
            })
        })
        .collect();
    rt.block_on(async move {
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(*order.lock().unwrap(), (0..12).collect::<Vec<_>>());

    // Within one task: the earlier of two sleeps polled side by side finishes first.
    let r = rt.clone();
    let first = rt.block_on(async move {
        let mut a = time::sleep(&r, Duration::from_millis(40));
        let mut b = time::sleep(&r, Duration::from_millis(10));
        poll_fn(|cx| {
            if Pin::new(&mut a).poll(cx).is_ready() {
                return Poll::Ready('a');
            }
            if Pin::new(&mut b).poll(cx).is_ready() {
                return Poll::Ready('b');
            }
            Poll::Pending
        })
        .await
    });
    assert_eq!(first, 'b');
}

#[test]
fn timeout_fires_and_does_not_fire() {
    let rt = rt(2);
    let r = rt.clone();
    rt.block_on(async move {
        // Fires: the inner sleep is far longer.
        let start = Instant::now();
        let t = time::timeout(&r, Duration::from_millis(20), time::sleep(&r, Duration::from_secs(3600)));
        let deadline = t.deadline();
        let e: Elapsed = t.await.unwrap_err();
        assert_eq!(e.to_string(), "deadline has elapsed");
        assert!(Instant::now() >= deadline);
        assert!(start.elapsed() >= Duration::from_millis(20) && start.elapsed() < LATE);

        // Does not fire: the inner completes first, with its output.
        let start = Instant::now();
        let v = time::timeout(&r, Duration::from_secs(5), async {
            time::sleep(&r, Duration::from_millis(10)).await;
            42
        })
        .await;
        assert_eq!(v, Ok(42));
        assert!(start.elapsed() < Duration::from_secs(5));

        // The inner future is polled first: ready at once wins even with a zero timeout.
        assert_eq!(time::timeout(&r, Duration::ZERO, async { 7 }).await, Ok(7));
        assert!(time::timeout(&r, Duration::ZERO, Forever).await.is_err());

        // A timed-out inner future is dropped with the Timeout; a JoinHandle as inner keeps its task.
        let drops = Arc::new(AtomicUsize::new(0));
        let d = DropCounter(drops.clone());
        let res = time::timeout(&r, Duration::from_millis(5), async move {
            let _d = d;
            Forever.await
        })
        .await;
        assert!(res.is_err());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        let slow = r.spawn(async { 5 });
        assert_eq!(time::timeout_at(&r, Instant::now() + Duration::from_secs(5), slow).await.unwrap().unwrap(), 5);

        let e: std::io::Error = time::timeout(&r, MS, Forever).await.unwrap_err().into();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    });
}

/// A task future that creates a sleep, polls it once (registering the task's waker in the timer wheel), drops
/// it and stays pending without registering anything else. Any later poll would be a wake by the dropped timer.
struct PollOnceThenDrop {
    polls: Arc<AtomicUsize>,
    rt: Runtime,
    d: Duration,
}

impl Future for PollOnceThenDrop {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polls.fetch_add(1, Ordering::SeqCst) == 0 {
            let mut s = time::sleep(&self.rt, self.d);
            assert!(Pin::new(&mut s).poll(cx).is_pending());
            drop(s);
        }
        Poll::Pending
    }
}

struct CountingWaker(AtomicUsize);
impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_a_pending_sleep_cancels_it() {
    let rt = rt(2);
    // Fast path: the dropped timer never wakes the task.
    let polls = Arc::new(AtomicUsize::new(0));
    let task = rt.spawn(PollOnceThenDrop { polls: polls.clone(), rt: rt.clone(), d: Duration::from_millis(10) });
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while polls.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(polls.load(Ordering::SeqCst), 1, "a dropped Sleep woke its task");
    task.abort();

    // Fallback (a foreign waker): the helper task is aborted with the Sleep; the waker is never woken.
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(counter.clone());
    let mut s = time::sleep(&rt, Duration::from_millis(10));
    assert!(Pin::new(&mut s).poll(&mut Context::from_waker(&waker)).is_pending());
    drop(s);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(counter.0.load(Ordering::SeqCst), 0, "a dropped fallback Sleep woke its waker");

    // Never polled, far future, Duration::MAX: dropping is clean.
    drop(time::sleep(&rt, Duration::from_secs(10)));
    let r = rt.clone();
    rt.block_on(async move {
        let mut forever = time::sleep(&r, Duration::MAX);
        assert_eq!(forever.deadline().as_nanos(), u64::MAX);
        poll_fn(|cx| {
            assert!(Pin::new(&mut forever).poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        drop(forever);
        assert!(time::timeout(&r, Duration::from_millis(5), time::sleep(&r, Duration::MAX)).await.is_err());
    });

    // No leak: many timers registered and dropped; memory stays flat and timers keep working.
    let r = rt.clone();
    let rss_before = rss_kib();
    rt.block_on(async move {
        for round in 0..20 {
            let mut sleeps: Vec<_> = (0..10_000).map(|i| time::sleep(&r, Duration::from_secs(60 + i))).collect();
            poll_fn(|cx| {
                for s in &mut sleeps {
                    assert!(Pin::new(s).poll(cx).is_pending());
                }
                Poll::Ready(())
            })
            .await;
            drop(sleeps);
            if round == 0 {
                // The first round may grow the runtime's timer pool; measure from here.
            }
        }
        let start = Instant::now();
        time::sleep(&r, Duration::from_millis(5)).await;
        assert!(start.elapsed() >= Duration::from_millis(5));
    });
    let grown = rss_kib().saturating_sub(rss_before);
    assert!(grown < 64 * 1024, "RSS grew by {grown} KiB over 200k registered-and-dropped timers");
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0) * 4
}

#[test]
fn sleeps_longer_than_the_timer_wheel_stay_pending() {
    // The runtime's wheel spans 2^36 ms (~795 days); once it has advanced, a longer timer used to complete at
    // once. The binding caps each runtime timer and re-arms, so these must stay pending.
    let rt = rt(1);
    let r = rt.clone();
    rt.block_on(async move { time::sleep(&r, Duration::from_millis(5)).await }); // advance the wheel
    let day = Duration::from_secs(86_400);
    let long: Vec<_> = [day * 790, day * 800, day * 365 * 3, Duration::from_secs(1 << 40), Duration::MAX]
        .into_iter()
        .map(|d| rt.spawn(time::sleep(&rt, d)))
        .collect();
    let r = rt.clone();
    rt.block_on(async move { time::sleep(&r, Duration::from_millis(30)).await });
    for (i, h) in long.iter().enumerate() {
        assert!(!h.is_finished(), "long sleep #{i} completed early");
    }
    // A timeout around one is not fooled either.
    let r = rt.clone();
    assert!(rt
        .block_on(async move { time::timeout(&r, Duration::from_millis(10), time::sleep(&r, day * 900)).await })
        .is_err());
    for h in long {
        h.abort();
    }
}

#[test]
fn ten_thousand_concurrent_sleeps() {
    let rt = rt(4);
    let early = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut seed = 42;
    let tasks: Vec<_> = (0..10_000)
        .map(|_| {
            let d = Duration::from_micros(lcg(&mut seed) % 50_000);
            let (early, done) = (early.clone(), done.clone());
            rt.spawn(async move {
                let s = time::sleep(&Handle::current(), d);
                let deadline = s.deadline();
                s.await;
                if Instant::now() < deadline {
                    early.fetch_add(1, Ordering::SeqCst);
                }
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    rt.block_on(async move {
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(done.load(Ordering::SeqCst), 10_000);
    assert_eq!(early.load(Ordering::SeqCst), 0, "sleeps returned early");
    assert!(start.elapsed() < Duration::from_secs(10), "10k sleeps of < 50 ms took {:?}", start.elapsed());

    // 10k sleeps in one task behind a combinator's waker: the fallback (one helper task per sleep).
    let r = rt.clone();
    let start = Instant::now();
    let n = rt.block_on(async move {
        let sleeps = (0..10_000u64).map(|i| {
            let s = time::sleep(&r, Duration::from_micros(i * 3));
            async move {
                let deadline = s.deadline();
                s.await;
                Instant::now() >= deadline
            }
        });
        join_all(sleeps).await.into_iter().filter(|ok| *ok).count()
    });
    assert_eq!(n, 10_000);
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn sleep_on_a_foreign_executor_and_a_plain_thread() {
    let rt = rt(1);
    let start = Instant::now();
    foreign_block_on(time::sleep(&rt, Duration::from_millis(20)));
    assert!(start.elapsed() >= Duration::from_millis(20) && start.elapsed() < LATE);
    let start = Instant::now();
    let r = foreign_block_on(time::timeout(&rt, Duration::from_millis(10), time::sleep(&rt, Duration::MAX)));
    assert!(r.is_err() && start.elapsed() >= Duration::from_millis(10), "{r:?} after {:?}", start.elapsed());

    // A sleep made on one thread, awaited in a task.
    let s = time::sleep(&rt, Duration::from_millis(10));
    let deadline = s.deadline();
    rt.block_on(rt.spawn(s)).unwrap();
    assert!(Instant::now() >= deadline);

    // The Runtime passed to sleep() may go away before the first poll: the Sleep keeps a handle until then.
    let clone = rt.clone();
    let s = time::sleep(&clone, Duration::from_millis(5));
    drop(clone);
    foreign_block_on(s);
}

#[test]
fn sleeps_on_a_shut_down_runtime() {
    let rt = rt(1);
    rt.shutdown(None).unwrap();
    let e = time::try_sleep_until(&rt, Instant::now()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shutdown);
    let s = time::sleep(&rt, MS);
    let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| foreign_block_on(s)));
    let msg = p.unwrap_err();
    let msg = msg.downcast_ref::<String>().map(String::as_str).unwrap_or("");
    assert!(msg.contains("refused its timer"), "{msg}");
}

// ------------------------------------------------------------------------------------------------------------
// Scopes
// ------------------------------------------------------------------------------------------------------------

#[test]
fn scope_close_cancels_pending_tasks() {
    let rt = rt(2);
    let scope = Scope::new(&rt).unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..30 {
        let d = DropCounter(drops.clone());
        let r = rt.clone();
        handles.push(scope.spawn_in(async move {
            let _d = d;
            match i % 3 {
                0 => time::sleep(&r, Duration::from_secs(3600)).await,
                1 => Forever.await,
                _ => {
                    // A child spawned from inside joins the scope.
                    let _ = luminal::spawn(async move { time::sleep(&r, Duration::from_secs(3600)).await }).await;
                }
            }
            i
        }));
    }
    // Let them all reach their pending point (every parent has spawned its child), however loaded the machine.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while scope.stats().spawned < 40 && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(20));
    let st = scope.stats();
    assert_eq!(st.spawned, 40, "30 tasks + 10 children: {st:?}");
    assert_eq!(st.live, 40, "{st:?}");
    assert_eq!(st.completed, 0);

    scope.close(Some(Duration::from_secs(5))).unwrap();
    // The guarantee: every future is dropped by the time close returns.
    assert_eq!(drops.load(Ordering::SeqCst), 30);
    // Close aborts the tasks one by one: a parent whose child was cancelled first may still be polled (woken by
    // its child's JoinHandle) and complete before its own abort, so only the 20 parked tasks and the 10 children
    // are certain to be cancelled.
    let st = scope.stats();
    assert_eq!((st.live, st.spawned, st.completed + st.cancelled), (0, 40, 40), "{st:?}");
    assert!(st.cancelled >= 30, "{st:?}");
    let mut completed = 0;
    for (i, h) in handles.into_iter().enumerate() {
        assert!(h.is_finished());
        match rt.block_on(h) {
            Ok(v) if i % 3 == 2 => {
                assert_eq!(v, i);
                completed += 1;
            }
            Ok(v) => panic!("task {i} completed with {v} although it was parked"),
            Err(e) => assert!(e.is_cancelled(), "{e}"),
        }
    }
    // Close frees outputs nobody took, so even a parent that completed reports cancelled here.
    assert!(completed <= st.completed as usize, "{completed} outputs taken, {st:?}");
    // Closing again is fine; the runtime runs on.
    scope.close(None).unwrap();
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
}

#[test]
fn spawn_into_a_closed_scope_fails() {
    let rt = rt(1);
    let scope = Scope::new(&rt).unwrap();
    scope.close(None).unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCounter(drops.clone());
    let e = scope.try_spawn_in(async move { drop(d) }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shutdown);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the refused future is dropped at once");
    let d = DropCounter(drops.clone());
    let e = Builder::new()
        .priority(luminal::Priority::Background)
        .scope(&scope)
        .spawn_on(&rt.handle(), async move { drop(d) });
    assert!(e.unwrap_err().is_shutdown());
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert!(Builder::new().scope(&scope).spawn_raw_on(&rt, async { 1 }).is_err());
    assert_eq!(scope.stats().spawned, 0);
    // A task of the closed scope cannot spawn children into it either.
    let scope = Scope::new(&rt).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let gate = Arc::new(Mutex::new(()));
    let g = gate.lock().unwrap();
    let gate2 = gate.clone();
    let h = scope.spawn_in(async move {
        poll_fn(|cx| {
            // Parks the poll until the test lets go, then spawns after the close began.
            let _g = gate2.lock().unwrap();
            let _ = tx.send(Builder::new().spawn(async {}).map(|_| ()).map_err(|e| e.kind()));
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        })
        .await
    });
    std::thread::sleep(Duration::from_millis(20));
    // The poll is blocked on the gate: close cannot finish within 0 ns.
    assert_eq!(scope.close(Some(Duration::ZERO)).unwrap_err().kind(), ErrorKind::TimedOut);
    drop(g);
    scope.close(None).unwrap();
    assert_eq!(rx.recv().unwrap(), Err(ErrorKind::Shutdown));
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
}

#[test]
fn scope_stats_count_completed_and_cancelled_tasks() {
    let rt = rt(2);
    let scope = Scope::new(&rt.handle()).unwrap();
    assert_eq!(scope.stats(), ScopeStats::default());
    let done: Vec<_> = (0..5u32).map(|i| scope.spawn_in(async move { i })).collect();
    let sum: u32 = rt.block_on(async move {
        let mut s = 0;
        for h in done {
            s += h.await.unwrap();
        }
        s
    });
    assert_eq!(sum, 10);
    let st = scope.stats();
    assert_eq!((st.spawned, st.completed, st.cancelled, st.live), (5, 5, 0, 0), "{st:?}");

    // Aborted: cancelled.
    let h = scope.spawn_in(Forever);
    h.abort();
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
    // Detached and completed: its output is freed, it is no longer live.
    drop(scope.spawn_in(async { String::from("freed by drop_output") }));
    let deadline = Instant::now() + LATE;
    while scope.stats().live != 0 && Instant::now() < deadline {
        std::thread::sleep(MS);
    }
    let st = scope.stats();
    assert_eq!((st.spawned, st.completed, st.cancelled, st.live), (7, 6, 1, 0), "{st:?}");

    // Completed but output not taken yet: still live (the output's drop is the scope's code), until close.
    let h = scope.spawn_in(async { vec![1u8; 16] });
    while !h.is_finished() {
        std::thread::sleep(MS);
    }
    assert_eq!(scope.stats().live, 1);
    scope.close(None).unwrap();
    let st = scope.stats();
    assert_eq!((st.spawned, st.completed, st.live), (8, 7, 0), "{st:?}");
    assert!(rt.block_on(h).unwrap_err().is_cancelled(), "close frees outputs nobody took");
}

#[test]
fn scope_close_on_a_worker_and_across_runtimes() {
    let rt = rt(2);
    let scope = Arc::new(Scope::new(&rt).unwrap());
    let s2 = scope.clone();
    let r = rt.block_on(rt.spawn(async move {
        let parked = s2.spawn_in(Forever);
        // On a worker a non-zero timeout would block the worker: the binding closes without waiting.
        let closed = s2.close(Some(Duration::from_secs(1))).map_err(|e| e.kind());
        (closed, parked.await.map_err(|e| e.is_cancelled()))
    }));
    let (closed, parked) = r.unwrap();
    assert!(matches!(closed, Ok(()) | Err(ErrorKind::WouldDeadlock)), "{closed:?}");
    assert_eq!(parked, Err(true));
    assert!(s2_closed(&scope));
    scope.close(None).unwrap();
    // The raw call on a worker closes without waiting and says it could not wait.
    let scope3 = Arc::new(Scope::new(&rt).unwrap());
    let s3 = scope3.clone();
    let raw = rt.block_on(rt.spawn(async move { unsafe { luminal::ffi::luminal_scope_close(s3.as_raw(), 1) } }));
    assert_eq!(raw.unwrap(), luminal::ffi::LUMINAL_E_WOULD_DEADLOCK);
    assert!(scope3.try_spawn_in(async {}).is_err(), "the raw close on a worker closed the scope");
    scope3.close(None).unwrap();

    // A scope belongs to one runtime.
    let other = self::rt(1);
    let scope = Scope::new(&rt).unwrap();
    let foreign = unsafe { Scope::from_borrowed_raw(&other, scope.as_raw()) }.unwrap();
    assert_eq!(foreign.try_spawn_in(async {}).unwrap_err().kind(), ErrorKind::InvalidArgument);
    drop(foreign); // borrowed: does not release
    assert!(scope.try_stats().is_ok());
}

fn s2_closed(scope: &Scope) -> bool {
    scope.try_spawn_in(async {}).map_err(|e| e.kind()).err() == Some(ErrorKind::Shutdown)
}

#[test]
fn scope_close_waits_for_a_running_poll() {
    let rt = rt(2);
    let scope = Scope::new(&rt).unwrap();
    let dropped_at = Arc::new(Mutex::new(None::<Instant>));
    let poll_end = Arc::new(Mutex::new(None::<Instant>));
    struct Marker(Arc<Mutex<Option<Instant>>>);
    impl Drop for Marker {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(Instant::now());
        }
    }
    let (m, pe) = (Marker(dropped_at.clone()), poll_end.clone());
    let started = Arc::new(AtomicUsize::new(0));
    let st = started.clone();
    let _h = scope.spawn_in(async move {
        let _m = m;
        poll_fn(|_| {
            st.store(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(100)); // a long poll
            *pe.lock().unwrap() = Some(Instant::now());
            Poll::<()>::Pending
        })
        .await
    });
    while started.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    assert_eq!(scope.close(Some(Duration::ZERO)).unwrap_err().kind(), ErrorKind::TimedOut);
    scope.close(None).unwrap();
    let (dropped, ended) = (dropped_at.lock().unwrap().unwrap(), poll_end.lock().unwrap().unwrap());
    assert!(dropped >= ended, "the future was dropped only after its running poll returned");
    assert_eq!(scope.stats().live, 0);
}

/// Spawning into a scope is `task::Builder::new().scope(&scope).spawn_on(scope.runtime(), fut)`; these tests do it
/// often enough to name it.
trait SpawnIn {
    fn try_spawn_in<F>(&self, f: F) -> Result<luminal::JoinHandle<F::Output>, luminal::RuntimeError>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static;
    fn spawn_in<F>(&self, f: F) -> luminal::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.try_spawn_in(f).expect("spawn into the scope")
    }
}

impl SpawnIn for Scope {
    fn try_spawn_in<F>(&self, f: F) -> Result<luminal::JoinHandle<F::Output>, luminal::RuntimeError>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Builder::new().scope(self).spawn_on(self.runtime(), f)
    }
}
