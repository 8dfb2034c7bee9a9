//! Luminal IO from Rust: a file copy (caller's buffers, then a mapped view to check it), a TCP echo server with
//! concurrent clients, a pipe, and a blocking DNS lookup on the blocking pool.
//!
//! Usage: io-demo [auto|uring|pool]
use luminal::task::Builder;
use luminal::{fs, net, IoBackend, Priority, Runtime};
use std::io;
use std::sync::Arc;
use std::time::Instant;

async fn copy(rt: &Runtime, from: &std::path::Path, to: &std::path::Path) -> io::Result<u64> {
    let src = fs::File::open(rt, from).await?;
    let dst = fs::File::create(rt, to).await?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut off = 0u64;
    loop {
        let n = src.read_at(&mut buf, off).await?;
        if n == 0 {
            break;
        }
        dst.write_all_at(&buf[..n], off).await?;
        off += n as u64;
    }
    dst.sync_all().await?;
    dst.close().await?;
    Ok(off)
}

async fn echo(stream: net::TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

fn main() -> io::Result<()> {
    let backend = match std::env::args().nth(1).as_deref() {
        Some("uring") => IoBackend::Uring,
        Some("pool") => IoBackend::Pool,
        _ => IoBackend::Auto,
    };
    let rt = Runtime::builder().worker_threads(4).io_backend(backend).build().map_err(io::Error::from)?;
    println!("luminal {} — IO backend: {:?}", luminal::version(), rt.io_backend());
    let rt2 = rt.clone();
    rt.block_on(async move {
        let rt = rt2;
        // 1. File copy, at background priority (its reads carry that priority into io_uring).
        let dir = std::env::temp_dir();
        let (a, b) = (
            dir.join(format!("luminal-io-{}-a", std::process::id())),
            dir.join(format!("luminal-io-{}-b", std::process::id())),
        );
        let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 253) as u8).collect();
        fs::write(&rt, &a, &data).await?;
        let t = Instant::now();
        let (rt_c, a_c, b_c) = (rt.clone(), a.clone(), b.clone());
        let copy_task = async move { copy(&rt_c, &a_c, &b_c).await };
        let n = Builder::new().priority(Priority::Background).spawn_on(&rt, copy_task)?.await??;
        let copied = fs::map(&rt, &b).await?;
        assert_eq!(&copied[..], &data[..]);
        println!("copied {} MiB in {:?}; the mapped copy matches", n >> 20, t.elapsed());
        let _ = (std::fs::remove_file(&a), std::fs::remove_file(&b));

        // 2. A TCP echo server, one task per connection, and 8 concurrent clients.
        let listener = net::TcpListener::bind(&rt, "127.0.0.1:0")?;
        let addr = listener.local_addr();
        let server = rt.spawn(async move {
            let mut conns = Vec::new();
            for _ in 0..8 {
                let s = listener.accept().await?;
                conns.push(luminal::spawn(echo(s)));
            }
            let mut total = 0;
            for c in conns {
                total += c.await??;
            }
            io::Result::Ok(total)
        });
        let t = Instant::now();
        let clients: Vec<_> = (0..8)
            .map(|id| {
                let rt = rt.clone();
                rt.clone().spawn(async move {
                    let c = Arc::new(net::TcpStream::connect(&rt, addr).await?);
                    for i in 0..1000 {
                        let msg = format!("client {id} message {i}");
                        c.write_all(msg.as_bytes()).await?;
                        let mut back = vec![0u8; msg.len()];
                        c.read_exact(&mut back).await?;
                        assert_eq!(back, msg.as_bytes());
                    }
                    c.shutdown(std::net::Shutdown::Write)?;
                    io::Result::Ok(())
                })
            })
            .collect();
        for c in clients {
            c.await??;
        }
        let echoed = server.await??;
        println!("echoed 8000 round trips ({} KiB) in {:?}", echoed >> 10, t.elapsed());

        // 3. A pipe.
        let (r, w) = net::pipe(&rt)?;
        let writer = rt.spawn(async move { w.write_all(b"through a pipe").await });
        let mut got = Vec::new();
        r.read_to_end(&mut got).await?;
        writer.await??;
        println!("pipe: {:?}", String::from_utf8_lossy(&got));

        // 4. Something that blocks (DNS) goes to the blocking pool, never onto a worker.
        let addrs = rt
            .spawn_blocking(|| std::net::ToSocketAddrs::to_socket_addrs("localhost:80").map(|a| a.collect::<Vec<_>>()))
            .await??;
        println!("localhost resolves to {addrs:?}");

        // 5. Errors are std::io::Errors.
        let e = fs::read(&rt, "/no/such/file").await.unwrap_err();
        println!("reading a missing file: {e} ({:?})", e.kind());
        io::Result::Ok(())
    })
}
