//! The benchmark workloads on Luminal through its Rust binding (after tokio's benches/rt_multi_threaded.rs).
//! Prints one line per workload: `name<TAB>value<TAB>reps` (value: median ns per op unless the name says
//! otherwise). Usage: bench-luminal [workload...]; env BENCH_REPS, BENCH_WARMUP, BENCH_WORKERS.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use luminal::Runtime;
use luminal::sync::oneshot;

const NUM_SPAWN: usize = 10_000;
const NUM_YIELD: usize = 1_000;
const TASKS: usize = 200;
const NUM_PINGS: usize = 1_000;
const CHAIN: usize = 1_000;
const PENDING: usize = 1_000_000;
const LATENCY_SAMPLES: usize = 2_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `f` WARMUP times, then REPS times; prints the median of (elapsed ns / ops).
fn measure(name: &str, ops: usize, mut f: impl FnMut()) {
    let (warmup, reps) = (env("BENCH_WARMUP", 3), env("BENCH_REPS", 15));
    (0..warmup).for_each(|_| f());
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64 / ops as f64
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("{name}\t{:.1}\t{reps}", v[v.len() / 2]);
}

fn spawn_many_local(rt: &Runtime) {
    let (tx, rx) = mpsc::sync_channel(1);
    let rem = Arc::new(AtomicUsize::new(0));
    measure("spawn_many_local", NUM_SPAWN, || {
        rem.store(NUM_SPAWN, Relaxed);
        let (tx, rem) = (tx.clone(), rem.clone());
        rt.spawn(async move {
            for _ in 0..NUM_SPAWN {
                let (tx, rem) = (tx.clone(), rem.clone());
                luminal::spawn(async move {
                    if rem.fetch_sub(1, Relaxed) == 1 {
                        tx.send(()).unwrap();
                    }
                });
            }
        });
        rx.recv().unwrap();
    });
}

fn spawn_many_remote(rt: &Runtime, name: &str) {
    let mut handles = Vec::with_capacity(NUM_SPAWN);
    measure(name, NUM_SPAWN, || {
        for _ in 0..NUM_SPAWN {
            handles.push(rt.spawn(async {}));
        }
        rt.block_on(async {
            for h in handles.drain(..) {
                h.await.unwrap();
            }
        });
    });
}

fn spawn_many_remote_busy(rt: &Runtime) {
    // Keep every worker busy with tasks that yield in a loop, as tokio's spawn_many_remote_busy1 does.
    let busy = Arc::new(AtomicBool::new(true));
    for _ in 0..2 * env("BENCH_WORKERS", 2) {
        let busy = busy.clone();
        rt.spawn(async move {
            while busy.load(Relaxed) {
                luminal::yield_now().await;
            }
        });
    }
    spawn_many_remote(rt, "spawn_many_remote_busy");
    busy.store(false, Relaxed);
}

fn yield_many(rt: &Runtime) {
    let (tx, rx) = mpsc::sync_channel(TASKS);
    measure("yield_many", TASKS * NUM_YIELD, || {
        for _ in 0..TASKS {
            let tx = tx.clone();
            rt.spawn(async move {
                for _ in 0..NUM_YIELD {
                    luminal::yield_now().await;
                }
                tx.send(()).unwrap();
            });
        }
        for _ in 0..TASKS {
            rx.recv().unwrap();
        }
    });
}

fn ping_pong(rt: &Runtime) {
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let rem = Arc::new(AtomicUsize::new(0));
    measure("ping_pong", NUM_PINGS, || {
        rem.store(NUM_PINGS, Relaxed);
        let (done_tx, rem) = (done_tx.clone(), rem.clone());
        rt.spawn(async move {
            for _ in 0..NUM_PINGS {
                let (done_tx, rem) = (done_tx.clone(), rem.clone());
                luminal::spawn(async move {
                    let h = luminal::Handle::current();
                    let (tx1, rx1) = oneshot::channel::<()>(&h);
                    let (tx2, rx2) = oneshot::channel::<()>(&h);
                    luminal::spawn(async move {
                        rx1.await.unwrap();
                        tx2.send(()).unwrap();
                    });
                    tx1.send(()).unwrap();
                    rx2.await.unwrap();
                    if rem.fetch_sub(1, Relaxed) == 1 {
                        done_tx.send(()).unwrap();
                    }
                });
            }
        });
        done_rx.recv().unwrap();
    });
}

const MSGS: usize = 100_000;
const CAPACITY: usize = 1024;
const SEM_TASKS: usize = 8;
const SEM_ITERS: usize = 1_000;
const SEM_PERMITS: u64 = 2;

/// `producers` tasks send MSGS messages in all over one bounded (1024) luminal::sync::mpsc channel to one consumer.
fn mpsc_throughput(rt: &Runtime, name: &str, producers: usize) {
    measure(name, MSGS, || {
        let (tx, mut rx) = luminal::sync::mpsc::channel::<usize>(rt, CAPACITY);
        for _ in 0..producers {
            let tx = tx.clone();
            rt.spawn(async move {
                for i in 0..MSGS / producers {
                    tx.send(i).await.unwrap();
                }
            });
        }
        drop(tx);
        rt.block_on(rt.spawn(async move {
            let mut got = 0;
            while rx.recv().await.is_some() {
                got += 1;
            }
            assert_eq!(got, MSGS);
        }))
        .unwrap();
    });
}

/// SEM_TASKS tasks x SEM_ITERS times: acquire 1 of SEM_PERMITS permits, yield while holding it, give it back.
fn semaphore_contended(rt: &Runtime) {
    measure("semaphore_contended", SEM_TASKS * SEM_ITERS, || {
        let sem = Arc::new(luminal::sync::Semaphore::new(rt, SEM_PERMITS).unwrap());
        let handles: Vec<_> = (0..SEM_TASKS)
            .map(|_| {
                let sem = sem.clone();
                rt.spawn(async move {
                    for _ in 0..SEM_ITERS {
                        let p = sem.acquire(1).await.unwrap();
                        luminal::yield_now().await;
                        drop(p);
                    }
                })
            })
            .collect();
        rt.block_on(async {
            for h in handles {
                h.await.unwrap();
            }
        });
    });
}

fn chained_spawn(rt: &Runtime) {
    fn iter(done_tx: mpsc::SyncSender<()>, n: usize) {
        if n == 0 {
            done_tx.send(()).unwrap();
        } else {
            luminal::spawn(async move { iter(done_tx, n - 1) });
        }
    }
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    measure("chained_spawn", CHAIN, || {
        let done_tx = done_tx.clone();
        rt.spawn(async move { iter(done_tx, CHAIN) });
        done_rx.recv().unwrap();
    });
}

/// Spawn a trivial task from inside a task and await it; p50 and p99 over all samples of all reps.
fn spawn_join_latency(rt: &Runtime) {
    let (warmup, reps) = (env("BENCH_WARMUP", 3), env("BENCH_REPS", 15));
    let mut all: Vec<u64> = rt.block_on(rt.spawn(async move {
        let mut v = Vec::with_capacity((warmup + reps) * LATENCY_SAMPLES);
        for _ in 0..(warmup + reps) * LATENCY_SAMPLES {
            let t = Instant::now();
            luminal::spawn(async {}).await.unwrap();
            v.push(t.elapsed().as_nanos() as u64);
        }
        v
    })).unwrap();
    let mut v = all.split_off(warmup * LATENCY_SAMPLES);
    v.sort_unstable();
    println!("spawn_join_p50_ns\t{}\t{reps}", v[v.len() / 2]);
    println!("spawn_join_p99_ns\t{}\t{reps}", v[v.len() * 99 / 100]);
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 4096
}

/// RSS growth with 1M spawned tasks that are all pending (each polled once, never woken).
fn pending_task_bytes(rt: &Runtime) {
    let polled = Arc::new(AtomicUsize::new(0));
    let before = rss_bytes();
    for _ in 0..PENDING {
        let polled = polled.clone();
        rt.spawn(async move {
            polled.fetch_add(1, Relaxed);
            std::future::pending::<()>().await
        });
    }
    while polled.load(Relaxed) < PENDING {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("pending_task_bytes\t{}\t1", (rss_bytes() - before) / PENDING);
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the zeroed struct.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU time (user + system, whole process) burnt by a runtime with nothing to do, per second of wall time.
fn idle_cpu(rt: &Runtime) {
    rt.block_on(rt.spawn(async {})).unwrap(); // wake the workers once, then leave them idle
    let mut v: Vec<u128> = (0..3)
        .map(|_| {
            let (c, t) = (cpu_time(), Instant::now());
            std::thread::sleep(Duration::from_secs(1));
            (cpu_time() - c).as_micros() * 1_000_000 / t.elapsed().as_micros()
        })
        .collect();
    v.sort_unstable();
    println!("idle_cpu_us_per_s\t{}\t3", v[1]);
}

fn main() {
    let rt = Runtime::builder().worker_threads(env("BENCH_WORKERS", 2)).build().unwrap();
    let all = ["spawn_many_local", "spawn_many_remote_idle", "spawn_many_remote_busy", "yield_many", "ping_pong",
        "chained_spawn", "spawn_join", "pending_task_bytes", "idle_cpu", "mpsc_1to1", "mpsc_4to1",
        "semaphore_contended"];
    let args: Vec<String> = std::env::args().skip(1).collect();
    for w in all.iter().filter(|w| args.is_empty() || args.iter().any(|a| a == *w)) {
        match *w {
            "spawn_many_local" => spawn_many_local(&rt),
            "spawn_many_remote_idle" => spawn_many_remote(&rt, "spawn_many_remote_idle"),
            "spawn_many_remote_busy" => spawn_many_remote_busy(&rt),
            "yield_many" => yield_many(&rt),
            "ping_pong" => ping_pong(&rt),
            "chained_spawn" => chained_spawn(&rt),
            "spawn_join" => spawn_join_latency(&rt),
            "pending_task_bytes" => pending_task_bytes(&rt),
            "mpsc_1to1" => mpsc_throughput(&rt, "mpsc_1to1", 1),
            "mpsc_4to1" => mpsc_throughput(&rt, "mpsc_4to1", 4),
            "semaphore_contended" => semaphore_contended(&rt),
            _ => idle_cpu(&rt),
        }
    }
}
