//! Many connections on Luminal through its Rust binding: bench-tokio-conns.rs with tokio's types swapped for
//! luminal::net's (diff the two files), and the backend in the part's name as in ../../../c/bench_conns.c.
//! Usage: bench-luminal-conns part   (one part per process)
//!   echo64_uring, echo64_pool   64 client tasks ping-ponging 64-byte messages (write_all, read_exact, NODELAY)
//!            with one server task each (spawned by an accept loop); BENCH_CONNS_SECS (2) s counted after all connected
//!   idle_uring, idle_pool   BENCH_CONNS_IDLE (10000) connections from a child process (`client PORT N`), each
//!            served by a task parked in a 4 KiB read; RSS growth per connection, setup and teardown times, listen
//!            overflows, GCs during setup
//!   client PORT N   (internal) the idle workload's connecting child
//! env: BENCH_WORKERS (2), BENCH_CONNS_SECS (2), BENCH_CONNS_IDLE (10000), BENCH_CONNS_BACKLOG (1024).
use std::future::Future;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use luminal::net::{TcpListener, TcpStream};
use luminal::{IoBackend, Runtime};

const MSG: usize = 64;
const CONNS: usize = 64;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
fn rss_bytes() -> i64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    s.split_whitespace().nth(1).unwrap().parse::<i64>().unwrap() * 4096
}
fn listen_overflows() -> i64 {
    let s = std::fs::read_to_string("/proc/net/netstat").unwrap();
    let lines: Vec<&str> = s.lines().collect();
    for pair in lines.chunks(2) {
        if pair.len() == 2 && pair[0].starts_with("TcpExt:") {
            for (n, v) in pair[0].split_whitespace().zip(pair[1].split_whitespace()) {
                if n == "ListenOverflows" {
                    return v.parse().unwrap();
                }
            }
        }
    }
    -1
}
fn listener(rt: &Runtime) -> TcpListener {
    TcpListener::bind_with_backlog(rt, "127.0.0.1:0", env("BENCH_CONNS_BACKLOG", 1024) as i32).unwrap()
}
fn rusage() -> (f64, i64) {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let cpu = (u.ru_utime.tv_sec + u.ru_stime.tv_sec) as f64 * 1e6 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) as f64;
    (cpu, u.ru_nvcsw + u.ru_nivcsw)
}

fn echo64(rt: &Runtime, b: &str) {
    let (connected, go, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..CONNS).map(|_| AtomicU64::new(0)).collect());
    let l = listener(rt);
    let addr = l.local_addr();
    rt.spawn(async move {
        for _ in 0..CONNS {
            let s = l.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            luminal::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    let n = s.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    s.write_all(&buf[..n]).await.unwrap();
                }
            });
        }
    });
    let clients: Vec<_> = (0..CONNS)
        .map(|i| {
            let (connected, go, stop, counts, r) = (connected.clone(), go.clone(), stop.clone(), counts.clone(), rt.clone());
            rt.spawn(async move {
                let s = TcpStream::connect(&r, addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                connected.fetch_add(1, Relaxed);
                let (mut msg, mut back) = ([b'x'; MSG], [0u8; MSG]);
                loop {
                    s.write_all(&msg).await.unwrap();
                    s.read_exact(&mut back).await.unwrap();
                    assert_eq!(msg, back);
                    msg[0] = msg[0].wrapping_add(1);
                    if stop.load(Relaxed) {
                        return;
                    }
                    if go.load(Relaxed) {
                        counts[i].fetch_add(1, Relaxed);
                    }
                }
            })
        })
        .collect();
    while connected.load(Relaxed) < CONNS {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(200));
    let u0 = rusage();
    let t0 = Instant::now();
    go.store(true, Relaxed);
    std::thread::sleep(Duration::from_secs(env("BENCH_CONNS_SECS", 2) as u64));
    stop.store(true, Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    let u1 = rusage();
    for c in clients {
        rt.block_on(c).unwrap();
    }
    let v: Vec<u64> = counts.iter().map(|c| c.load(Relaxed)).collect();
    let total: u64 = v.iter().sum();
    let least = *v.iter().min().unwrap();
    println!("conns_echo64_{b}_msgs_per_s\t{:.0}\t1", total as f64 / secs);
    println!("conns_echo64_{b}_slowest_share\t{:.3}\t1", least as f64 / (total as f64 / CONNS as f64));
    println!("conns_echo64_{b}_cswitch_per_msg\t{:.3}\t1", (u1.1 - u0.1) as f64 / total.max(1) as f64);
    println!("conns_echo64_{b}_cpu_us_per_msg\t{:.3}\t1", (u1.0 - u0.0) / total.max(1) as f64);
}

fn idle(rt: &Runtime, b: &str) {
    let n = env("BENCH_CONNS_IDLE", 10000);
    let (parked, ended) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let l = listener(rt);
    let port = l.port();
    let (p, e) = (parked.clone(), ended.clone());
    rt.spawn(async move {
        for _ in 0..n {
            let s = l.accept().await.unwrap();
            let (p, e) = (p.clone(), e.clone());
            luminal::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut first = true; // counted as parked at its first Pending
                loop {
                    let mut read = Box::pin(s.read(&mut buf));
                    let r = std::future::poll_fn(|cx| {
                        let r = read.as_mut().poll(cx);
                        if r.is_pending() && first {
                            first = false;
                            p.fetch_add(1, Relaxed);
                        }
                        r
                    })
                    .await;
                    if r.unwrap() == 0 {
                        e.fetch_add(1, Relaxed);
                        return;
                    }
                }
            });
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    let (rss0, ovf0) = (rss_bytes(), listen_overflows());
    // SAFETY: reads a counter.
    let gc0 = unsafe { luminal::ffi::luminal_debug_gc_count() };
    let t0 = Instant::now();
    let mut child = Command::new("/proc/self/exe")
        .args(["client", &port.to_string(), &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    while parked.load(Relaxed) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    let setup = t0.elapsed();
    let (rss1, ovf1) = (rss_bytes(), listen_overflows());
    // SAFETY: reads a counter.
    let gc1 = unsafe { luminal::ffi::luminal_debug_gc_count() };
    let mut c = [0u8; 1];
    child.stdout.as_mut().unwrap().read_exact(&mut c).unwrap();
    let t2 = Instant::now();
    child.stdin.as_mut().unwrap().write_all(b"x").unwrap();
    while ended.load(Relaxed) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    let teardown = t2.elapsed();
    child.wait().unwrap();
    println!("conns_idle_{b}_rss_per_conn_bytes\t{:.0}\t1", (rss1 - rss0) as f64 / n as f64);
    println!("conns_idle_{b}_setup_ms\t{:.1}\t1", setup.as_secs_f64() * 1e3);
    println!("conns_idle_{b}_teardown_ms\t{:.1}\t1", teardown.as_secs_f64() * 1e3);
    println!("conns_idle_{b}_listen_overflows\t{}\t1", ovf1 - ovf0);
    println!("conns_idle_{b}_setup_gcs\t{}\t1", gc1 - gc0);
}

fn client(port: u16, n: usize) {
    let conns: Vec<std::net::TcpStream> = (0..n).map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let mut c = [0u8; 1];
    std::io::stdout().write_all(b"x").unwrap();
    std::io::stdout().flush().unwrap();
    std::io::stdin().read_exact(&mut c).unwrap();
    drop(conns);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "client" {
        return client(args[2].parse().unwrap(), args[3].parse().unwrap());
    }
    let (part, b) = args[1].rsplit_once('_').expect("part: echo64_uring, echo64_pool, idle_uring or idle_pool");
    let backend = match b {
        "uring" => IoBackend::Uring,
        "pool" => IoBackend::Pool,
        _ => panic!("unknown backend {b}"),
    };
    let rt = Runtime::builder().worker_threads(env("BENCH_WORKERS", 2)).io_backend(backend).build().unwrap();
    match part {
        "echo64" => echo64(&rt, b),
        "idle" => idle(&rt, b),
        p => panic!("unknown part {p}"),
    }
}
