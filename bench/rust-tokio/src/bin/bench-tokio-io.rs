//! IO on tokio (the counterpart of ../../../c/bench_io.c): sequential reads of FILE and a TCP echo on loopback.
//! Usage: bench-tokio-io FILE part...   (run.sh runs each part in a fresh process)
//!   fs              tokio::fs::File, read() into a 64 KiB buffer until EOF. NB: tokio 1.24's File does each read as a
//!                   spawn_blocking call of at most 16 KiB (tokio/src/io/blocking.rs MAX_BUF), so 4 pool hops / 64 KiB
//!   blocking_qd1    spawn_blocking(pread 64 KiB) awaited one at a time: Luminal's pool backend done by hand
//!   blocking_qd8    the same with 8 in flight (8 buffers, offsets issued in order)
//!   tcp             echo server task + client task, 64-byte messages one at a time (write_all, read_exact), NODELAY
//! Prints `io_file_tokio_<part>_gbps` / `io_tcp_echo_tokio_msgs_per_s` lines (`name<TAB>median<TAB>reps`).
//! env: BENCH_WORKERS (2), BENCH_IO_REPS (5 after 1 warm-up), BENCH_IO_TCP_REPS (3), BENCH_IO_MSGS (100000).
use std::collections::VecDeque;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CHUNK: usize = 64 * 1024;
const MSG: usize = 64;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn read_fs(path: String) -> u64 {
    let mut f = tokio::fs::File::open(&path).await.unwrap();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).await.unwrap();
        if n == 0 {
            return total;
        }
        total += n as u64;
    }
}

async fn read_blocking(path: String, depth: usize) -> u64 {
    let file = Arc::new(std::fs::File::open(&path).unwrap());
    let size = file.metadata().unwrap().len();
    let mut free: Vec<Vec<u8>> = (0..depth).map(|_| vec![0u8; CHUNK]).collect();
    let mut inflight = VecDeque::new();
    let (mut next, mut total) = (0u64, 0u64);
    loop {
        while next < size && !free.is_empty() {
            let (file, mut buf, off) = (file.clone(), free.pop().unwrap(), next);
            next += CHUNK as u64;
            inflight.push_back(tokio::task::spawn_blocking(move || {
                let n = file.read_at(&mut buf, off).unwrap();
                (buf, n)
            }));
        }
        match inflight.pop_front() {
            None => return total,
            Some(h) => {
                let (buf, n) = h.await.unwrap();
                total += n as u64;
                free.push(buf);
            }
        }
    }
}

async fn echo(msgs: usize) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            s.write_all(&buf[..n]).await.unwrap();
        }
    });
    let client = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let (mut msg, mut back) = ([b'x'; MSG], [0u8; MSG]);
        let warm = msgs / 100;
        let mut t0 = Instant::now();
        for i in 0..warm + msgs {
            if i == warm {
                t0 = Instant::now();
            }
            s.write_all(&msg).await.unwrap();
            s.read_exact(&mut back).await.unwrap();
            assert_eq!(msg, back);
            msg[0] = msg[0].wrapping_add(1);
        }
        msgs as f64 / t0.elapsed().as_secs_f64()
    });
    let rate = client.await.unwrap();
    server.await.unwrap();
    rate
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args[1].clone();
    let (reps, tcp_reps, msgs) = (env("BENCH_IO_REPS", 5), env("BENCH_IO_TCP_REPS", 3), env("BENCH_IO_MSGS", 100000));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env("BENCH_WORKERS", 2))
        .enable_io()
        .build()
        .unwrap();
    for part in &args[2..] {
        if part == "tcp" {
            rt.block_on(rt.spawn(echo(msgs / 10))).unwrap(); // warm-up: a tenth of the messages
            let v = (0..tcp_reps).map(|_| rt.block_on(rt.spawn(echo(msgs))).unwrap()).collect();
            println!("io_tcp_echo_tokio_msgs_per_s\t{:.0}\t{}", median(v), tcp_reps);
            continue;
        }
        let mut v = Vec::new();
        for i in 0..=reps {
            let p = path.clone();
            let t = Instant::now();
            let bytes = match part.as_str() {
                "fs" => rt.block_on(rt.spawn(read_fs(p))),
                "blocking_qd1" => rt.block_on(rt.spawn(read_blocking(p, 1))),
                "blocking_qd8" => rt.block_on(rt.spawn(read_blocking(p, 8))),
                _ => panic!("unknown part {part}"),
            }
            .unwrap();
            let ns = t.elapsed().as_nanos() as f64;
            assert_eq!(bytes, std::fs::metadata(&path).unwrap().len());
            if i > 0 {
                v.push(bytes as f64 / ns); // bytes per ns = GB/s; i = 0 is the warm-up
            }
        }
        println!("io_file_tokio_{part}_gbps\t{:.3}\t{reps}", median(v));
    }
}
