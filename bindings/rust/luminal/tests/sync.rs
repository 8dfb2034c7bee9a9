//! luminal::sync (channels, oneshot, Notify, Semaphore, Mutex) against the real libluminal: ordering, closing,
//! cancellation (nothing lost, nothing duplicated, every value dropped exactly once), FIFO, mutual exclusion —
//! inside tasks (direct polls) and outside them (foreign wakers: helper tasks).
mod common;

use common::*;
use luminal::sync::mpsc::{self, SendError, TryRecvError, TrySendError};
use luminal::sync::{oneshot, Mutex, Notify, Semaphore, TryAcquireError};
use luminal::Runtime;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).thread_name("luminal-sync-test").build().unwrap()
}

/// Polls `f` once with the current context's waker: `Some(output)` if it completed.
async fn poll_once<F: Future + Unpin>(f: &mut F) -> Option<F::Output> {
    poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut *f).poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

/// A waker that records that it was woken (a foreign waker: no luminal context, so a helper task polls).
#[derive(Default)]
struct Flag(AtomicBool);
impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}
fn wait_flag(f: &Flag) {
    let t = Instant::now();
    while !f.0.load(Ordering::SeqCst) {
        assert!(t.elapsed() < Duration::from_secs(10), "never woken");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn mpsc_ordering_one_and_many_producers() {
    let rt = rt(2);
    let (tx, mut rx) = mpsc::channel::<u64>(&rt, 4);
    const N: u64 = 2000;
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let tx = tx.clone();
            rt.spawn(async move {
                for i in 0..N {
                    tx.send(p * N + i).await.unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let got = rt.block_on(async move {
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    for p in producers {
        rt.block_on(p).unwrap();
    }
    assert_eq!(got.len() as u64, 4 * N);
    let mut next = [0u64; 4];
    for v in got {
        let p = (v / N) as usize;
        assert_eq!(v % N, next[p], "producer {p} out of order");
        next[p] += 1;
    }
}

#[test]
fn unbounded_and_try_ops() {
    let rt = rt(1);
    let (tx, mut rx) = mpsc::unbounded_channel::<String>(&rt);
    for i in 0..100 {
        tx.try_send(i.to_string()).unwrap();
    }
    for i in 0..100 {
        assert_eq!(rx.try_recv().unwrap(), i.to_string());
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let (btx, _brx) = mpsc::channel::<u8>(&rt, 1);
    btx.try_send(1).unwrap();
    assert!(matches!(btx.try_send(2), Err(TrySendError::Full(2))));
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn closing_hands_values_back_and_drops_unreceived_once() {
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = || DropCounter(drops.clone());
    // Receiver gone: try_send and send give the value back (not dropped).
    let (tx, rx) = mpsc::channel::<DropCounter>(&rt, 2);
    tx.try_send(d()).unwrap();
    tx.try_send(d()).unwrap();
    drop(rx); // two queued: dropped now, once each
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    match tx.try_send(d()) {
        Err(TrySendError::Closed(v)) => drop(v),
        _ => panic!("expected Closed"),
    }
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    let r = rt.block_on(tx.send(d()));
    assert!(matches!(r, Err(SendError(_))));
    assert_eq!(drops.load(Ordering::SeqCst), 3, "the value came back, not dropped");
    drop(r);
    assert_eq!(drops.load(Ordering::SeqCst), 4);

    // A send waiting on a full channel when the receiver goes: the value comes back.
    let (tx, rx) = mpsc::channel::<DropCounter>(&rt, 1);
    tx.try_send(d()).unwrap();
    let tx2 = tx.clone();
    let h = rt.spawn(async move {
        match tx2.send(DropCounter(Arc::new(AtomicUsize::new(0)))).await {
            Err(SendError(v)) => {
                drop(v);
                true
            }
            Ok(()) => false,
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    drop(rx);
    assert!(rt.block_on(h).unwrap(), "the waiting send got its value back");
    assert_eq!(drops.load(Ordering::SeqCst), 5);

    // Senders gone: the receiver drains the queue, then None.
    let (tx, mut rx) = mpsc::unbounded_channel::<u32>(&rt);
    tx.try_send(7).unwrap();
    drop(tx);
    rt.block_on(async move {
        assert_eq!(rx.recv().await, Some(7));
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn every_message_dropped_exactly_once_under_load() {
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(AtomicUsize::new(0));
    const PER: usize = 500;
    let (tx, mut rx) = mpsc::channel::<DropCounter>(&rt, 8);
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let (tx, drops) = (tx.clone(), drops.clone());
            rt.spawn(async move {
                let mut refused = 0;
                for _ in 0..PER {
                    if let Err(SendError(v)) = tx.send(DropCounter(drops.clone())).await {
                        drop(v);
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    drop(tx);
    let rec = received.clone();
    // Receive some, then drop the receiver with messages queued and senders waiting.
    rt.block_on(async move {
        for _ in 0..700 {
            drop(rx.recv().await.unwrap());
            rec.fetch_add(1, Ordering::SeqCst);
        }
        drop(rx);
    });
    let refused: usize = hs.into_iter().map(|h| rt.block_on(h).unwrap()).sum();
    assert_eq!(received.load(Ordering::SeqCst), 700);
    assert!(refused > 0, "some sends were refused");
    assert_eq!(drops.load(Ordering::SeqCst), 4 * PER, "every value dropped exactly once");
}

#[test]
fn dropped_recv_loses_nothing_inside_a_task() {
    let rt = rt(1);
    let (tx, mut rx) = mpsc::channel::<u32>(&rt, 4);
    rt.block_on(async move {
        for i in 0..100 {
            {
                let mut r = rx.recv();
                assert!(poll_once(&mut r).await.is_none()); // pending, registered
            } // dropped
            tx.try_send(i).unwrap();
            assert_eq!(rx.recv().await, Some(i));
        }
    });
}

#[test]
fn dropped_recv_after_its_helper_received_keeps_the_message() {
    let rt = rt(2);
    let (tx, mut rx) = mpsc::channel::<u32>(&rt, 4);
    for i in 0..50u32 {
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        {
            let mut r = rx.recv();
            assert!(Pin::new(&mut r).poll(&mut cx).is_pending()); // a helper task polls it now
            tx.try_send(i).unwrap();
            wait_flag(&flag); // the helper received the message
        } // dropped without being polled again
        assert_eq!(rx.try_recv(), Ok(i), "the message a dropped recv received comes out next");
        tx.try_send(1000 + i).unwrap();
        assert_eq!(rx.try_recv(), Ok(1000 + i));
    }
}

#[test]
fn dropped_send_never_delivers_and_drops_once() {
    let rt = rt(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let (tx, mut rx) = mpsc::channel::<(u32, DropCounter)>(&rt, 1);
    rt.block_on(async move {
        tx.send((1, DropCounter(d.clone()))).await.unwrap();
        {
            let mut s = tx.send((2, DropCounter(d.clone())));
            assert!(poll_once(&mut s).await.is_none()); // waiting for room
        } // cancelled: never delivered, dropped once
        assert_eq!(d.load(Ordering::SeqCst), 1);
        let (a, _) = rx.recv().await.unwrap();
        assert_eq!(a, 1);
        assert!(tx.send((3, DropCounter(d.clone()))).await.is_ok());
        let (b, _) = rx.recv().await.unwrap();
        assert_eq!(b, 3, "the cancelled send was not delivered");
        assert_eq!(rx.try_recv().map(|v| v.0), Err(TryRecvError::Empty));
    });
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

#[test]
fn send_and_recv_outside_a_task() {
    let rt = rt(2);
    let (tx, mut rx) = mpsc::channel::<u32>(&rt, 2);
    let t = std::thread::spawn(move || {
        foreign_block_on(async move {
            for i in 0..200 {
                tx.send(i).await.unwrap();
            }
        })
    });
    let got = foreign_block_on(async move {
        let mut v = Vec::new();
        while let Some(x) = rx.recv().await {
            v.push(x);
        }
        v
    });
    t.join().unwrap();
    assert_eq!(got, (0..200).collect::<Vec<_>>());
}

/// A plain value of at most a pointer's size travels in the message's bits (no box): 0 (a NULL message) is a value
/// like any other, a refused waiting send hands the value back, and a type without drop glue that is not `Copy`
/// arrives once.
#[test]
fn small_plain_values_travel_inline() {
    let rt = rt(2);
    let (tx, mut rx) = mpsc::channel::<usize>(&rt, 4);
    for v in [0usize, usize::MAX, 1, 0] {
        tx.try_send(v).unwrap();
    }
    assert!(matches!(tx.try_send(0), Err(TrySendError::Full(0))));
    for v in [0usize, usize::MAX, 1, 0] {
        assert_eq!(rx.try_recv(), Ok(v));
    }
    tx.try_send(0).unwrap();
    assert_eq!(rt.block_on(async { rx.recv().await }), Some(0), "0 arrives as a message, not as the end");

    // A send waiting on a full channel when the receiver goes: the value comes back (a copy of its bits).
    let (tx, rx) = mpsc::channel::<u32>(&rt, 1);
    tx.try_send(1).unwrap();
    let h = rt.spawn(async move { tx.send(0xDEAD_BEEF).await });
    std::thread::sleep(Duration::from_millis(50));
    drop(rx);
    assert_eq!(rt.block_on(h).unwrap(), Err(SendError(0xDEAD_BEEF)));

    // Delivered after waiting: the value arrives once.
    let (tx, mut rx) = mpsc::channel::<i64>(&rt, 1);
    tx.try_send(-1).unwrap();
    let h = rt.spawn(async move { tx.send(-2).await });
    std::thread::sleep(Duration::from_millis(20));
    rt.block_on(async {
        assert_eq!(rx.recv().await, Some(-1));
        assert_eq!(rx.recv().await, Some(-2));
        assert_eq!(rx.recv().await, None);
    });
    assert_eq!(rt.block_on(h).unwrap(), Ok(()));

    // No drop glue, not Copy: moved through, never duplicated.
    #[derive(Debug, PartialEq)]
    struct Token(u32, u16);
    let (tx, mut rx) = mpsc::unbounded_channel::<Token>(&rt);
    tx.try_send(Token(7, 0)).unwrap();
    assert_eq!(rx.try_recv(), Ok(Token(7, 0)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

    // Oneshots: 0, and a unit value.
    let (tx, rx) = oneshot::channel::<usize>(&rt);
    let h = rt.spawn(rx);
    tx.send(0).unwrap();
    assert_eq!(rt.block_on(h).unwrap(), Ok(0));
    let (tx, mut rx) = oneshot::channel::<()>(&rt);
    tx.send(()).unwrap();
    assert_eq!(rx.try_recv(), Ok(()));
}

#[test]
fn oneshot_send_recv_close() {
    let rt = rt(1);
    let (tx, rx) = oneshot::channel::<String>(&rt);
    let h = rt.spawn(rx);
    tx.send("hi".into()).unwrap();
    assert_eq!(rt.block_on(h).unwrap().unwrap(), "hi");

    let (tx, rx) = oneshot::channel::<u8>(&rt);
    drop(tx);
    assert_eq!(rt.block_on(rx), Err(oneshot::RecvError));

    let (tx, rx) = oneshot::channel::<u8>(&rt);
    drop(rx);
    assert_eq!(tx.send(5), Err(5));

    let (tx, mut rx) = oneshot::channel::<u8>(&rt);
    assert_eq!(rx.try_recv(), Err(oneshot::TryRecvError::Empty));
    tx.send(9).unwrap();
    assert_eq!(rx.try_recv(), Ok(9));
    assert_eq!(rx.try_recv(), Err(oneshot::TryRecvError::Closed));
}

/// The native oneshot: a value sent and never received is dropped exactly once (with the receiver, or with a
/// pending poll's receiver); try_recv after a pending poll; awaited inside a task (direct polls) and outside.
#[test]
fn oneshot_drops_and_pending_polls() {
    struct D(Arc<AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    // sent, never received
    let (tx, rx) = oneshot::channel::<D>(&rt);
    tx.send(D(drops.clone())).ok().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // refused: handed back, dropped by us
    let (tx, rx) = oneshot::channel::<D>(&rt);
    drop(rx);
    let back = tx.send(D(drops.clone())).err().unwrap();
    drop(back);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    // a pending poll, then the value, then try_recv takes it
    let (tx, mut rx) = oneshot::channel::<u32>(&rt);
    let (tx2, rx2) = oneshot::channel::<u32>(&rt);
    let (polled_tx, polled_rx) = std::sync::mpsc::channel::<()>();
    let h = rt.spawn(async move {
        assert!(poll_once(&mut rx).await.is_none());
        polled_tx.send(()).unwrap();
        let go = rx2.await.unwrap();
        assert_eq!(go, 1);
        loop {
            match rx.try_recv() {
                Ok(v) => return v,
                Err(oneshot::TryRecvError::Empty) => luminal::yield_now().await,
                Err(e) => panic!("{e}"),
            }
        }
    });
    polled_rx.recv().unwrap();
    tx.send(77).unwrap();
    tx2.send(1).unwrap();
    assert_eq!(rt.block_on(h).unwrap(), 77);
    // a pending poll dropped with its receiver after the send: the value dropped once
    let (tx, mut rx) = oneshot::channel::<D>(&rt);
    let d2 = drops.clone();
    let h = rt.spawn(async move {
        assert!(poll_once(&mut rx).await.is_none());
        rx
    });
    let rx = rt.block_on(h).unwrap();
    tx.send(D(d2)).ok().unwrap();
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    // many, across tasks, awaited inside tasks
    let hs: Vec<_> = (0..200u32)
        .map(|i| {
            let (tx, rx) = oneshot::channel::<u32>(&rt);
            let h = rt.spawn(rx);
            rt.spawn(async move { tx.send(i).unwrap() });
            h
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(rt.block_on(h).unwrap(), Ok(i as u32));
    }
}

#[test]
fn notify_one_stores_a_permit_and_waiters_wake() {
    let rt = rt(2);
    let n = Arc::new(Notify::new(&rt).unwrap());
    n.notify_one();
    n.notify_one(); // at most one stored
    let n2 = n.clone();
    rt.block_on(async move {
        n2.notified().await; // the stored permit
        let mut second = n2.notified();
        assert!(poll_once(&mut second).await.is_none(), "only one permit is stored");
    });
    // notify_waiters wakes every Notified that exists now, even unpolled ones.
    let woke = Arc::new(AtomicUsize::new(0));
    let registered = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let (n, woke, registered) = (n.clone(), woke.clone(), registered.clone());
            rt.spawn(async move {
                let f = n.notified(); // registered from here on
                registered.fetch_add(1, Ordering::SeqCst);
                f.await;
                woke.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let t = Instant::now();
    while registered.load(Ordering::SeqCst) < 3 {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::yield_now();
    }
    n.notify_waiters();
    for h in hs {
        rt.block_on(h).unwrap();
    }
    assert_eq!(woke.load(Ordering::SeqCst), 3);
    let n3 = n.clone();
    rt.block_on(async move {
        let mut f = n3.notified();
        n3.notify_waiters();
        assert!(poll_once(&mut f).await.is_some(), "registered at notified(), before its first poll");
    });
}

#[test]
fn dropped_notified_passes_notify_one_on() {
    let rt = rt(1);
    let n = Notify::new(&rt).unwrap();
    rt.block_on(async {
        let mut a = n.notified();
        let mut b = n.notified();
        assert!(poll_once(&mut a).await.is_none());
        assert!(poll_once(&mut b).await.is_none());
        n.notify_one(); // wakes a
        drop(a); // ... which passes it on to b
        assert!(poll_once(&mut b).await.is_some());
    });
    // Outside a task: the helper completed the wait, the Notified is dropped unpolled: the wake is passed on.
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    {
        let mut a = n.notified();
        assert!(Pin::new(&mut a).poll(&mut cx).is_pending());
        n.notify_one();
        wait_flag(&flag);
    }
    rt.block_on(async {
        let mut c = n.notified();
        assert!(poll_once(&mut c).await.is_some(), "the notification was passed on as a stored permit");
    });
}

#[test]
fn semaphore_strict_fifo_and_batches() {
    let rt = rt(1);
    let s = Semaphore::new(&rt, 0).unwrap();
    rt.block_on(async {
        let mut a = s.acquire(2);
        let mut b = s.acquire(1);
        assert!(poll_once(&mut a).await.is_none());
        assert!(poll_once(&mut b).await.is_none());
        s.add_permits(1);
        assert!(poll_once(&mut b).await.is_none(), "a later request for 1 waits behind an earlier one for 2");
        assert_eq!(s.try_acquire(1).unwrap_err(), TryAcquireError::NoPermits);
        s.add_permits(1);
        let pa = poll_once(&mut a).await.expect("a got its 2").unwrap();
        assert_eq!(pa.num_permits(), 2);
        assert!(poll_once(&mut b).await.is_none());
        drop(pa); // 2 back: b gets 1, 1 left
        let pb = poll_once(&mut b).await.expect("b served").unwrap();
        let pc = s.try_acquire(1).unwrap();
        assert_eq!(s.try_acquire(1).unwrap_err(), TryAcquireError::NoPermits);
        drop((pb, pc));
        assert!(s.try_acquire(2).is_ok());
    });
    // FIFO across tasks: the order of arrival is the order of service.
    let rt2 = rt.clone();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sem = Arc::new(Semaphore::new(&rt, 0).unwrap());
    let queued = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..8)
        .map(|i| {
            let (sem, order, q) = (sem.clone(), order.clone(), queued.clone());
            let h = rt.spawn(async move {
                let mut a = sem.acquire(1);
                assert!(poll_once(&mut a).await.is_none());
                q.fetch_add(1, Ordering::SeqCst); // in the queue now
                let p = a.await.unwrap();
                order.lock().unwrap().push(i);
                p.forget();
            });
            let t = Instant::now();
            while queued.load(Ordering::SeqCst) <= i {
                assert!(t.elapsed() < Duration::from_secs(10));
                std::thread::yield_now();
            }
            h
        })
        .collect();
    for _ in 0..8 {
        sem.add_permits(1);
    }
    for h in hs {
        rt2.block_on(h).unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>());
}

#[test]
fn semaphore_close_and_cancelled_acquire_returns_permits() {
    let rt = rt(1);
    let s = Semaphore::new(&rt, 0).unwrap();
    rt.block_on(async {
        {
            let mut a = s.acquire(1);
            assert!(poll_once(&mut a).await.is_none());
            s.add_permits(1); // granted to a
        } // a dropped before claiming: the permit goes back
        assert!(s.try_acquire(1).map(|p| p.forget()).is_ok());
    });
    // Outside a task: the helper was granted the permit, the Acquire is dropped unpolled.
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    {
        let mut a = s.acquire(1);
        assert!(Pin::new(&mut a).poll(&mut cx).is_pending());
        s.add_permits(1);
        wait_flag(&flag);
    }
    assert!(s.try_acquire(1).map(|p| p.forget()).is_ok(), "the granted permit came back");
    rt.block_on(async {
        let mut a = s.acquire(1);
        assert!(poll_once(&mut a).await.is_none());
        s.close();
        assert!(poll_once(&mut a).await.expect("closed").is_err());
        assert!(s.acquire(1).await.is_err());
        assert_eq!(s.try_acquire(1).unwrap_err(), TryAcquireError::Closed);
    });
}

#[test]
fn mutex_excludes_under_contention() {
    let rt = rt(2);
    let m = Arc::new(Mutex::new(&rt, (0u64, false)).unwrap());
    const TASKS: usize = 8;
    const ITERS: u64 = 500;
    let hs: Vec<_> = (0..TASKS)
        .map(|_| {
            let m = m.clone();
            rt.spawn(async move {
                for _ in 0..ITERS {
                    let mut g = m.lock().await;
                    assert!(!g.1, "two guards at once");
                    g.1 = true;
                    let v = g.0;
                    luminal::yield_now().await; // others run, and must wait
                    g.0 = v + 1;
                    g.1 = false;
                }
            })
        })
        .collect();
    for h in hs {
        rt.block_on(h).unwrap();
    }
    assert_eq!(m.try_lock().unwrap().0, TASKS as u64 * ITERS);
    let g = m.try_lock().unwrap();
    assert!(m.try_lock().is_err());
    drop(g);
}
