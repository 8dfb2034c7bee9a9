//! luminal::task::{JoinSet, join_all, select} and luminal::join! against the real libluminal: finishing order,
//! lengths, panics and aborts of members, cancellation of join_next (nothing lost), and every future and output
//! dropped exactly once — inside tasks (direct polls) and outside them (foreign wakers: helper tasks).
mod common;

use common::*;
use luminal::sync::oneshot;
use luminal::task::{join_all, select, JoinSet};
use luminal::Runtime;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

fn rt(workers: usize) -> Runtime {
    Runtime::builder().worker_threads(workers).thread_name("luminal-set-test").build().unwrap()
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn count(c: &AtomicUsize) -> usize {
    c.load(Ordering::SeqCst)
}

/// A waker that records that it was woken (no luminal context: a helper task polls).
#[derive(Default)]
struct Flag(AtomicBool);
impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn join_set_returns_members_in_finishing_order() {
    let rt = rt(2);
    let r2 = rt.clone();
    rt.block_on(async move {
        let mut set = JoinSet::new(&r2);
        let mut gates = Vec::new();
        for i in 0..4usize {
            let (tx, rx) = oneshot::channel::<()>(&r2);
            gates.push(Some(tx));
            set.spawn(async move {
                rx.await.unwrap();
                i
            });
        }
        assert_eq!(set.len(), 4);
        for (k, i) in [2usize, 0, 3, 1].into_iter().enumerate() {
            gates[i].take().unwrap().send(()).unwrap();
            assert_eq!(set.join_next().await.unwrap().unwrap(), i);
            assert_eq!(set.len(), 3 - k);
        }
        assert!(set.is_empty());
        assert!(set.join_next().await.is_none());
        set.spawn(async { 7 }); // usable again after running empty
        assert_eq!(set.join_next().await.unwrap().unwrap(), 7);
    });
}

#[test]
fn join_set_len_counts_finished_members_until_joined() {
    let rt = rt(2);
    let mut set = JoinSet::new(&rt);
    let done = counter();
    for i in 0..10u64 {
        let done = done.clone();
        set.spawn(async move {
            done.fetch_add(1, Ordering::SeqCst);
            i
        });
    }
    wait_until("members finished", || count(&done) == 10);
    assert_eq!(set.len(), 10);
    let mut sum = 0;
    let mut n = 10;
    while let Some(r) = rt.block_on(set.join_next()) {
        sum += r.unwrap();
        n -= 1;
        assert_eq!(set.len(), n);
    }
    assert_eq!(sum, 45);
}

#[test]
fn join_set_reports_panics_and_aborts() {
    let rt = rt(2);
    let r2 = rt.clone();
    let drops = counter();
    let d = drops.clone();
    rt.block_on(async move {
        let mut set = JoinSet::new(&r2);
        set.spawn(async { panic!("member panicked") });
        let guard = DropCounter(d.clone());
        set.spawn(async move {
            let _g = guard;
            Forever.await;
            0
        });
        let r = set.join_next().await.unwrap();
        let e = r.unwrap_err();
        assert!(e.is_panic());
        assert_eq!(*e.into_panic().downcast::<&str>().unwrap(), "member panicked");
        set.abort_all();
        let e = set.join_next().await.unwrap().unwrap_err();
        assert!(e.is_cancelled());
        assert_eq!(count(&d), 1);
        assert!(set.join_next().await.is_none());
    });
    assert_eq!(count(&drops), 1);
}

#[test]
fn dropping_a_join_set_aborts_members_and_drops_unjoined_outputs_once() {
    let rt = rt(2);
    let (futs, outs) = (counter(), counter());
    let mut set = JoinSet::new(&rt);
    for _ in 0..5 {
        let (f, o) = (DropCounter(futs.clone()), outs.clone());
        set.spawn(async move {
            let _f = f;
            DropCounter(o) // the output: never joined
        });
    }
    for _ in 0..5 {
        let f = DropCounter(futs.clone());
        set.spawn(async move {
            let _f = f;
            Forever.await;
            DropCounter(Arc::new(AtomicUsize::new(0)))
        });
    }
    wait_until("the ready members finished", || count(&futs) >= 5);
    assert_eq!(set.len(), 10);
    drop(set);
    wait_until("every member dropped", || count(&futs) == 10 && count(&outs) == 5);
    drop(rt);
    assert_eq!((count(&futs), count(&outs)), (10, 5), "each future and output dropped exactly once");
}

#[test]
fn join_set_shutdown_aborts_and_waits() {
    let rt = rt(2);
    let r2 = rt.clone();
    let drops = counter();
    let d = drops.clone();
    rt.block_on(async move {
        let mut set = JoinSet::new(&r2);
        for _ in 0..8 {
            let g = DropCounter(d.clone());
            set.spawn(async move {
                let _g = g;
                Forever.await
            });
        }
        set.shutdown().await;
        assert!(set.is_empty());
        assert_eq!(count(&d), 8);
    });
}

#[test]
fn a_dropped_join_next_loses_no_member() {
    let rt = rt(2);
    let mut set = JoinSet::new(&rt);
    // Inside a task: a pending join_next dropped, the member still comes out of the next one.
    let (tx, rx) = oneshot::channel::<()>(&rt);
    set.spawn(async move {
        rx.await.unwrap();
        1u32
    });
    rt.block_on(async {
        let mut j = set.join_next();
        let polled = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut j).poll(cx).is_pending())).await;
        assert!(polled);
    });
    tx.send(()).unwrap();
    assert_eq!(rt.block_on(set.join_next()).unwrap().unwrap(), 1);

    // Outside a task: the helper task takes the member, then the JoinNext is dropped without being polled
    // again: the member is stashed and comes out next.
    for i in 0..20u32 {
        let (tx, rx) = oneshot::channel::<()>(&rt);
        set.spawn(async move {
            rx.await.unwrap();
            i
        });
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        {
            let mut j = set.join_next();
            assert!(Pin::new(&mut j).poll(&mut cx).is_pending());
            tx.send(()).unwrap();
            wait_until("the helper joined the member", || flag.0.load(Ordering::SeqCst));
        }
        assert_eq!(set.len(), 1, "the member taken by the dropped join_next is still in the set");
        assert_eq!(rt.block_on(set.join_next()).unwrap().unwrap(), i);
        assert!(set.is_empty());
    }
}

#[test]
fn join_set_outside_a_task() {
    let rt = rt(2);
    let mut set = JoinSet::new(&rt);
    for i in 0..16u64 {
        set.spawn(async move {
            luminal::yield_now().await;
            i
        });
    }
    let mut sum = 0;
    while let Some(r) = foreign_block_on(set.join_next()) {
        sum += r.unwrap();
    }
    assert_eq!(sum, 120);
}

#[test]
fn join_all_keeps_the_given_order_and_drops_each_child_once() {
    let rt = rt(2);
    let r2 = rt.clone();
    let drops = counter();
    let d = drops.clone();
    let out = rt.block_on(async move {
        let mut gates = Vec::new();
        let futs: Vec<_> = (0..5usize)
            .map(|i| {
                let (tx, rx) = oneshot::channel::<()>(&r2);
                gates.push(tx);
                let g = DropCounter(d.clone());
                async move {
                    let _g = g;
                    rx.await.unwrap();
                    i * 10
                }
            })
            .collect();
        // Finish in reverse order from another task: the outputs still come in the order given.
        let fire = r2.spawn(async move {
            for tx in gates.into_iter().rev() {
                tx.send(()).unwrap();
                luminal::yield_now().await;
            }
        });
        let v = join_all(&r2, futs).await;
        fire.await.unwrap();
        v
    });
    assert_eq!(out, vec![0, 10, 20, 30, 40]);
    assert_eq!(count(&drops), 5);
    assert_eq!(rt.block_on(join_all(&rt, Vec::<std::future::Ready<u8>>::new())), Vec::<u8>::new());
}

#[test]
fn join_all_resumes_a_childs_panic_after_the_others_completed() {
    let rt = rt(2);
    let r2 = rt.clone();
    let (drops, outs) = (counter(), counter());
    let (d, o) = (drops.clone(), outs.clone());
    let h = rt.spawn(async move {
        let futs: Vec<Pin<Box<dyn Future<Output = DropCounter> + Send>>> = vec![
            Box::pin(async move { DropCounter(o.clone()) }),
            Box::pin(async { panic!("child panicked") }),
            Box::pin(async move {
                let _g = DropCounter(d);
                luminal::yield_now().await;
                DropCounter(Arc::new(AtomicUsize::new(0)))
            }),
        ];
        join_all(&r2, futs).await
    });
    let Err(e) = rt.block_on(h) else { panic!("the child's panic was not resumed") };
    assert!(e.is_panic());
    assert_eq!(count(&drops), 1, "the other children ran to completion and were dropped once");
    assert_eq!(count(&outs), 1, "the other outputs were dropped once");
}

#[test]
fn a_dropped_join_all_drops_children_and_collected_outputs_once() {
    let rt = rt(2);
    let (futs, outs) = (counter(), counter());
    let (f, o) = (futs.clone(), outs.clone());
    let r2 = rt.clone();
    rt.block_on(async move {
        let children: Vec<Pin<Box<dyn Future<Output = DropCounter> + Send>>> = (0..6)
            .map(|i| {
                let (g, o) = (DropCounter(f.clone()), o.clone());
                let b: Pin<Box<dyn Future<Output = DropCounter> + Send>> = Box::pin(async move {
                    let _g = g;
                    if i % 2 == 1 {
                        Forever.await;
                    }
                    DropCounter(o)
                });
                b
            })
            .collect();
        let mut j = join_all(&r2, children);
        let pending = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut j).poll(cx).is_pending())).await;
        assert!(pending);
    });
    assert_eq!((count(&futs), count(&outs)), (6, 3));
}

#[test]
fn select_returns_the_first_and_drops_the_losers_at_once() {
    let rt = rt(2);
    let r2 = rt.clone();
    let drops = counter();
    let d = drops.clone();
    rt.block_on(async move {
        let (tx, rx) = oneshot::channel::<u32>(&r2);
        let mut futs: Vec<Pin<Box<dyn Future<Output = u32> + Send>>> = Vec::new();
        for _ in 0..3 {
            let g = DropCounter(d.clone());
            futs.push(Box::pin(async move {
                let _g = g;
                Forever.await;
                0
            }));
        }
        futs.push(Box::pin(async move { rx.await.unwrap() }));
        let sel = select(&r2, futs);
        assert_eq!(count(&d), 0);
        tx.send(42).unwrap();
        assert_eq!(sel.await, (3, 42));
        assert_eq!(count(&d), 3, "the losers were dropped exactly once when the select completed");
        // Several ready in one poll: the lowest index wins.
        let (w, v) = select(&r2, [std::future::ready(5u8), std::future::ready(6u8)]).await;
        assert_eq!((w, v), (0, 5));
    });
    assert_eq!(count(&drops), 3);
}

#[test]
fn select_resumes_the_winners_panic_and_outside_a_task_works() {
    let rt = rt(2);
    let r2 = rt.clone();
    let h = rt.spawn(async move {
        let futs: Vec<Pin<Box<dyn Future<Output = u8> + Send>>> =
            vec![Box::pin(Forever2), Box::pin(async { panic!("winner panicked") })];
        select(&r2, futs).await
    });
    assert!(rt.block_on(h).unwrap_err().is_panic());
    // A foreign executor: a helper task polls the children.
    let (tx, rx) = oneshot::channel::<u8>(&rt);
    let futs: Vec<Pin<Box<dyn Future<Output = u8> + Send>>> =
        vec![Box::pin(Forever2), Box::pin(async move { rx.await.unwrap() })];
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(9).unwrap();
    });
    assert_eq!(foreign_block_on(select(&rt, futs)), (1, 9));
    t.join().unwrap();
}

/// Forever, with an output type.
struct Forever2;
impl Future for Forever2 {
    type Output = u8;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u8> {
        Poll::Pending
    }
}

#[test]
fn join_macro_joins_futures_of_different_types() {
    let rt = rt(2);
    let r2 = rt.clone();
    let drops = counter();
    let d = drops.clone();
    let (a, b, c) = rt.block_on(async move {
        let (tx, rx) = oneshot::channel::<String>(&r2);
        let g = DropCounter(d);
        luminal::join!(
            async move {
                let _g = g;
                rx.await.unwrap()
            },
            async move {
                luminal::yield_now().await;
                tx.send("hello".to_string()).unwrap();
                7u8
            },
            std::future::ready(vec![1, 2]),
        )
    });
    assert_eq!((a.as_str(), b, c), ("hello", 7, vec![1, 2]));
    assert_eq!(count(&drops), 1);
}

#[test]
fn combinators_and_join_next_are_send_inside_spawned_tasks() {
    let rt = rt(2);
    let r2 = rt.clone();
    let h = rt.spawn(async move {
        let v = join_all(&r2, (0..3u32).map(|i| async move { i })).await;
        let (w, x) = select(&r2, [std::future::ready(1u8)]).await;
        let (a, b) = luminal::join!(async { 1u8 }, async { "two" });
        let mut set = JoinSet::new(&r2);
        set.spawn(async { 5u64 });
        let five = set.join_next().await.unwrap().unwrap();
        (v, w, x, a, b, five)
    });
    assert_eq!(rt.block_on(h).unwrap(), (vec![0, 1, 2], 0, 1, 1, "two", 5));
}
