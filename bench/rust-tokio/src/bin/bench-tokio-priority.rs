//! Priority latency on tokio (the counterpart of ../../../c/bench_priority.c; tokio has one level, so this is
//! its "flat" configuration). One task is woken every ~1 ms by an outside thread (sleep 1 ms + 0-50 us, t0 = now,
//! wake the task's stored waker); the task records t1 when it is polled; latency = t1 - t0. Meanwhile 4 x workers tasks
//! keep every worker busy: each poll spins ~50 us on the clock, then yields (wakes its own waker, returns Pending).
//! Prints `priority_flat_<stat><TAB>value<TAB>samples` lines (p50/p99/max ns, background polls per second, skipped
//! wakes). env: BENCH_WORKERS (2), BENCH_PRIORITY_WAKES (2000 measured wakes, after 100 warm-up wakes).
//! `bench-tokio-priority busy`: woken every ~100 us (+0-20 us) while the polls spin 20 us and yield with
//! `tokio::task::yield_now` (C's `busy`; lines `priority_busy_*`).
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

const WARMUP_WAKES: usize = 100;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Default)]
struct Shared {
    slot: Mutex<Option<Waker>>, // the task's waker, stored by the task, taken by the thread
    t0: Mutex<Option<Instant>>, // when the thread woke the task
    stop: AtomicBool,
    finished: AtomicBool,
    bg_polls: AtomicU64,
    skipped: AtomicU64,
}

fn main() {
    let busy = std::env::args().nth(1).as_deref() == Some("busy");
    let config = if busy { "busy" } else { "flat" };
    let (spin, period) = if busy { (20_000u64, 100_000u64) } else { (50_000, 1_000_000) };
    let spin_d = Duration::from_nanos(spin);
    let workers = env("BENCH_WORKERS", 2);
    let wakes = env("BENCH_PRIORITY_WAKES", 2000);
    let total = WARMUP_WAKES + wakes;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).build().unwrap();
    let sh = Arc::new(Shared::default());

    for _ in 0..4 * workers {
        let sh = sh.clone();
        if busy {
            // tokio::task::yield_now, which defers the yielded task until the worker has looked at its other work
            // and the injection queue (what luminal_context_yield now does too).
            rt.spawn(async move {
                while !sh.stop.load(Relaxed) {
                    let start = Instant::now();
                    while start.elapsed() < spin_d {}
                    sh.bg_polls.fetch_add(1, Relaxed);
                    tokio::task::yield_now().await;
                }
            });
            continue;
        }
        rt.spawn(poll_fn(move |cx| {
            if sh.stop.load(Relaxed) {
                return Poll::Ready(());
            }
            let start = Instant::now();
            while start.elapsed() < spin_d {}
            sh.bg_polls.fetch_add(1, Relaxed);
            cx.waker().wake_by_ref(); // yield: wake myself, return pending
            Poll::Pending
        }));
    }
    std::thread::sleep(Duration::from_millis(50)); // let the background tasks occupy the workers

    let (tx, rx) = mpsc::channel();
    let task_sh = sh.clone();
    let mut samples: Vec<u64> = Vec::with_capacity(total);
    rt.spawn(poll_fn(move |cx| {
        let t1 = Instant::now();
        if let Some(t0) = task_sh.t0.lock().unwrap().take() {
            samples.push((t1 - t0).as_nanos() as u64);
        }
        if samples.len() == total {
            task_sh.finished.store(true, SeqCst);
            tx.send(std::mem::take(&mut samples)).unwrap();
            return Poll::Ready(());
        }
        *task_sh.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }));
    while sh.slot.lock().unwrap().is_none() {
        std::thread::sleep(Duration::from_micros(100));
    }

    let th_sh = sh.clone();
    let th = std::thread::spawn(move || {
        let mut rnd = 2463534242u32; // 0-50 us of jitter: no phase lock with the 50 us polls (as in the C program)
        while !th_sh.finished.load(SeqCst) {
            rnd ^= rnd << 13;
            rnd ^= rnd >> 17;
            rnd ^= rnd << 5;
            std::thread::sleep(Duration::from_nanos(period + (rnd as u64 % spin)));
            let Some(w) = th_sh.slot.lock().unwrap().take() else {
                th_sh.skipped.fetch_add(1, Relaxed);
                continue;
            };
            *th_sh.t0.lock().unwrap() = Some(Instant::now());
            w.wake();
        }
    });
    // The measured window (for background polls per second) starts roughly after the warm-up wakes.
    std::thread::sleep(Duration::from_millis(WARMUP_WAKES as u64));
    let (start, polls0) = (Instant::now(), sh.bg_polls.load(Relaxed));
    let mut v = rx.recv().unwrap();
    let (secs, polls) = (start.elapsed().as_secs_f64(), sh.bg_polls.load(Relaxed) - polls0);
    th.join().unwrap();
    sh.stop.store(true, Relaxed);
    rt.shutdown_timeout(Duration::from_secs(5));

    let v = &mut v[WARMUP_WAKES..];
    v.sort_unstable();
    let n = v.len();
    println!("priority_{config}_p50_ns\t{}\t{n}", v[n / 2]);
    println!("priority_{config}_p99_ns\t{}\t{n}", v[n * 99 / 100]);
    println!("priority_{config}_max_ns\t{}\t{n}", v[n - 1]);
    println!("priority_{config}_bg_polls_per_s\t{:.0}\t{n}", polls as f64 / secs);
    println!("priority_{config}_skipped_wakes\t{}\t{n}", sh.skipped.load(Relaxed));
}
