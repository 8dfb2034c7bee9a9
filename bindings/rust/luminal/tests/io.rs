//! fs and net on both IO backends (io_uring and the blocking pool).
mod common;

use common::*;
use luminal::{fs, net, time, ErrorKind, IoBackend, Runtime};
use std::io;
use std::net::Shutdown;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One runtime per backend; io_uring is skipped (with a note) where the kernel refuses it.
fn runtimes(workers: usize) -> Vec<(IoBackend, Runtime)> {
    let mut v = Vec::new();
    for b in [IoBackend::Uring, IoBackend::Pool] {
        match Runtime::builder().worker_threads(workers).io_backend(b).build() {
            Ok(rt) => {
                assert_eq!(rt.io_backend(), b);
                v.push((b, rt));
            }
            Err(e) if b == IoBackend::Uring && e.kind() == ErrorKind::Unsupported => {
                eprintln!("io_uring unavailable here: testing the pool backend only");
            }
            Err(e) => panic!("building a runtime with {b:?}: {e}"),
        }
    }
    v
}

fn temp_path(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!("luminal-rs-{}-{}-{}", std::process::id(), tag, N.fetch_add(1, Ordering::SeqCst)))
}

#[test]
fn auto_backend_is_one_of_the_two() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    assert!(matches!(rt.io_backend(), IoBackend::Uring | IoBackend::Pool));
}

#[test]
fn file_round_trip_on_both_backends() {
    for (b, rt) in runtimes(2) {
        let path = temp_path("rt");
        let rt2 = rt.clone();
        let p = path.clone();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let d = data.clone();
        rt.block_on(rt.spawn(async move {
            let f = fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&rt2, &p).await?;
            f.write_all_at(&d, 0).await?;
            f.write_all_at(b"HEAD", 0).await?;
            f.sync_all().await?;
            let m = f.metadata().await?;
            assert_eq!(m.len(), d.len() as u64);
            assert!(m.is_file() && !m.is_dir());
            assert_eq!(m.mode() & 0o777 & !0o022, 0o644 & !0o022);
            let age = std::time::SystemTime::now().duration_since(m.modified()).unwrap_or_default();
            assert!(age < Duration::from_secs(60), "mtime {:?}", m.modified());

            let mut buf = vec![0u8; 1000];
            assert_eq!(f.read_at(&mut buf[..4], 0).await?, 4);
            assert_eq!(&buf[..4], b"HEAD");
            f.read_exact_at(&mut buf, 5000).await?;
            assert_eq!(&buf[..], &d[5000..6000]);
            // A short read at the end, then end of file.
            assert_eq!(f.read_at(&mut buf, d.len() as u64 - 10).await?, 10);
            assert_eq!(f.read_at(&mut buf, d.len() as u64).await?, 0);
            f.close().await?;

            // The runtime-owned buffer and the mapped view.
            let all = fs::read(&rt2, &p).await?;
            assert_eq!(all.len(), d.len());
            assert_eq!(&all[..4], b"HEAD");
            assert_eq!(&all[4..], &d[4..]);
            let map = fs::map(&rt2, &p).await?;
            assert_eq!(&map[..], &all[..]);
            let v: Vec<u8> = all.into();
            assert_eq!(v.len(), d.len());

            // fs::write, File::create and File::open.
            fs::write(&rt2, &p, b"short").await?;
            let f = fs::File::open(&rt2, &p).await?;
            assert_eq!(f.metadata().await?.len(), 5);
            let mut small = [0u8; 16];
            assert_eq!(f.read_at(&mut small, 0).await?, 5);
            // A read-only file refuses writes (EBADF).
            assert_eq!(f.write_at(b"x", 0).await.unwrap_err().raw_os_error(), Some(9));
            drop(f); // a synchronous close
            io::Result::Ok(())
        }))
        .unwrap()
        .unwrap_or_else(|e| panic!("{b:?}: {e}"));

        // Empty files read and map as empty slices.
        let empty = temp_path("empty");
        std::fs::write(&empty, b"").unwrap();
        let rt2 = rt.clone();
        let e2 = empty.clone();
        rt.block_on(async move {
            assert!(fs::read(&rt2, &e2).await.unwrap().is_empty());
            assert!(fs::map(&rt2, &e2).await.unwrap().is_empty());
        });
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&empty);
    }
}

#[test]
fn missing_files_are_not_found_on_both_backends() {
    for (b, rt) in runtimes(1) {
        let rt2 = rt.clone();
        rt.block_on(async move {
            let p = "/nonexistent/luminal/missing";
            let e = fs::File::open(&rt2, p).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound, "{b:?}: {e}");
            assert_eq!(fs::read(&rt2, p).await.unwrap_err().kind(), io::ErrorKind::NotFound);
            assert_eq!(fs::map(&rt2, p).await.unwrap_err().kind(), io::ErrorKind::NotFound);
            let e = fs::OpenOptions::new().write(true).create_new(true).open(&rt2, "/").await.unwrap_err();
            assert!(e.raw_os_error().is_some(), "{e}");
            assert_eq!(fs::File::open(&rt2, "a\0b").await.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            // create_new on an existing file: EEXIST.
            let e = fs::OpenOptions::new().write(true).create_new(true).open(&rt2, "/tmp").await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        });
    }
}

async fn echo_server(listener: net::TcpListener, conns: usize) -> io::Result<usize> {
    let mut total = 0;
    for _ in 0..conns {
        let s = listener.accept().await?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).await?;
            total += n;
        }
    }
    Ok(total)
}

#[test]
fn tcp_echo_on_both_backends() {
    for (b, rt) in runtimes(2) {
        let listener = net::TcpListener::bind(&rt, "127.0.0.1:0").unwrap();
        let addr = listener.local_addr();
        assert_ne!(listener.port(), 0);
        let server = rt.spawn(echo_server(listener, 2));
        let rt2 = rt.clone();
        let client = rt.spawn(async move {
            for _ in 0..2 {
                let c = net::TcpStream::connect(&rt2, addr).await?;
                for i in 0..200u32 {
                    let msg = format!("message {i} {}", "x".repeat((i % 50) as usize));
                    c.write_all(msg.as_bytes()).await?;
                    let mut back = vec![0u8; msg.len()];
                    c.read_exact(&mut back).await?;
                    assert_eq!(back, msg.as_bytes());
                }
                // A large write while the server echoes concurrently: read it back from another task.
                let c = Arc::new(c);
                let big: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
                let reader = {
                    let c = c.clone();
                    let n = big.len();
                    luminal::spawn(async move {
                        let mut got = vec![0u8; n];
                        c.read_exact(&mut got).await.map(|_| got)
                    })
                };
                c.write_all(&big).await?;
                assert!(reader.await.unwrap()? == big);
                c.shutdown(Shutdown::Write)?;
                let mut rest = Vec::new();
                assert_eq!(c.read_to_end(&mut rest).await?, 0);
            }
            io::Result::Ok(())
        });
        rt.block_on(client).unwrap().unwrap_or_else(|e| panic!("{b:?} client: {e}"));
        let total = rt.block_on(server).unwrap().unwrap_or_else(|e| panic!("{b:?} server: {e}"));
        assert!(total > 2_000_000);

        // Connection refused (nothing listens on the port).
        let held = RefusingPort::new();
        let (rt2, port) = (rt.clone(), held.port);
        let e = rt.block_on(async move { net::TcpStream::connect(&rt2, ("127.0.0.1", port)).await.unwrap_err() });
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{b:?}: {e}");
        assert!(net::TcpListener::bind(&rt, "not an address").is_err());
    }
}

#[test]
fn owned_buffers_on_both_backends() {
    for (b, rt) in runtimes(2) {
        let path = temp_path("owned");
        let (rt2, p) = (rt.clone(), path.clone());
        rt.block_on(rt.spawn(async move {
            let f = fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&rt2, &p).await?;
            let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
            let (n, back) = f.write_at_owned(data.clone(), 0).await;
            assert_eq!(n?, data.len());
            assert_eq!(back, data, "the buffer comes back as it went in");
            let (n, got) = f.read_at_owned(vec![0u8; 150_000], 0).await;
            let n = n?;
            assert_eq!(n, data.len(), "a short read at the end of the file");
            assert_eq!(&got[..n], &data[..]);
            assert_eq!(got.len(), 150_000);
            // An error still hands the buffer back.
            let (r, got) = f.read_at_owned(vec![7u8; 4], u64::MAX - 1).await;
            assert!(r.is_err());
            assert_eq!(got, vec![7u8; 4]);
            io::Result::Ok(())
        }))
        .unwrap()
        .unwrap_or_else(|e| panic!("{b:?}: {e}"));
        std::fs::remove_file(&path).unwrap();

        let rt2 = rt.clone();
        let r = rt.block_on(rt.spawn(async move {
            let (a, c) = connected_pair(&rt2).await?;
            let (n, msg) = c.write_owned(b"owned bytes".to_vec()).await;
            assert_eq!(n?, 11);
            let (n, got) = a.read_owned(vec![0u8; 64]).await;
            let n = n?;
            assert_eq!(&got[..n], &msg[..]);
            io::Result::Ok(())
        }));
        r.unwrap().unwrap_or_else(|e| panic!("{b:?}: {e}"));
    }
}

/// An accepted and a connected end of one loopback TCP connection.
async fn connected_pair(rt: &Runtime) -> io::Result<(net::TcpStream, net::TcpStream)> {
    let listener = net::TcpListener::bind(rt, "127.0.0.1:0")?;
    let addr = listener.local_addr();
    let (accepted, connected) = join2(listener.accept(), net::TcpStream::connect(rt, addr)).await;
    Ok((accepted?, connected?))
}

/// A leaked in-flight read with an owned buffer: the buffer leaks with it, so the data that arrives later is
/// written into memory nobody else can have (the runtime and the other IO keep working).
#[test]
fn a_leaked_owned_read_leaks_its_buffer_instead_of_dangling() {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    for (b, rt) in runtimes(2) {
        let rt2 = rt.clone();
        let r = rt.block_on(rt.spawn(async move {
            let (a, c) = connected_pair(&rt2).await?;
            // Poll the read once (nothing to read yet: it is in flight), then leak it.
            struct PollOnce<F>(Option<Pin<Box<F>>>);
            impl<F: Future> Future for PollOnce<F> {
                type Output = ();
                fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                    let mut f = self.0.take().unwrap();
                    assert!(f.as_mut().poll(cx).is_pending());
                    std::mem::forget(f);
                    Poll::Ready(())
                }
            }
            let a = Arc::new(a);
            let a2 = a.clone();
            PollOnce(Some(Box::pin(async move { a2.read_owned(vec![0u8; 1 << 16]).await }))).await;
            c.write_all(&[0xAB; 1000]).await?;
            // Churn the allocator: a dangling buffer would be reused and overwritten right here.
            let churn: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 1 << 16]).collect();
            // Wait until the leaked read has taken the bytes (nothing left queued on the socket): on a loaded machine
            // the read may complete well after the write.
            {
                use std::os::fd::AsRawFd;
                extern "C" {
                    fn ioctl(fd: i32, req: std::ffi::c_ulong, ...) -> i32;
                }
                const FIONREAD: std::ffi::c_ulong = 0x541B;
                for _ in 0..1000 {
                    time::sleep(&rt2, Duration::from_millis(5)).await;
                    let mut queued: i32 = -1;
                    assert_eq!(unsafe { ioctl(a.as_raw_fd(), FIONREAD, &mut queued as *mut i32) }, 0);
                    if queued == 0 {
                        break;
                    }
                }
            }
            for (i, v) in churn.iter().enumerate() {
                assert!(v.iter().all(|&x| x == i as u8), "memory handed back was written by the kernel");
            }
            // The socket still works (the leaked read got those bytes).
            c.write_all(b"next").await?;
            let mut four = [0u8; 4];
            a.read_exact(&mut four).await?;
            assert_eq!(&four, b"next");
            io::Result::Ok(())
        }));
        r.unwrap().unwrap_or_else(|e| panic!("{b:?}: {e}"));
    }
}

#[test]
fn pipes_on_both_backends() {
    for (b, rt) in runtimes(2) {
        let (r, w) = net::pipe(&rt).unwrap();
        let writer = rt.spawn(async move {
            for i in 0..100u8 {
                w.write_all(&[i; 1000]).await?;
            }
            io::Result::Ok(()) // dropping `w` closes the write end
        });
        let reader = rt.spawn(async move {
            let mut all = Vec::new();
            r.read_to_end(&mut all).await.map(|_| all)
        });
        rt.block_on(writer).unwrap().unwrap();
        let all = rt.block_on(reader).unwrap().unwrap();
        assert_eq!(all.len(), 100_000, "{b:?}");
        assert!(all.chunks(1000).enumerate().all(|(i, c)| c.iter().all(|&x| x == i as u8)));

        // Writing to a pipe whose reader is gone: EPIPE, no SIGPIPE.
        let (r, w) = net::pipe(&rt).unwrap();
        drop(r);
        let e = rt.block_on(async move { w.write(b"x").await.unwrap_err() });
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{b:?}: {e}");
    }
}

/// A buffer that outlives the tasks reading into it, so it can be checked after they are gone.
fn leaked_buffer(n: usize) -> (&'static mut [u8], *const u8) {
    let b: &'static mut [u8] = Box::leak(vec![0u8; n].into_boxed_slice());
    let p = b.as_ptr();
    (b, p)
}

fn all_zero(p: *const u8, n: usize) -> bool {
    // SAFETY: the leaked buffer lives forever; nothing else writes to it (that is what is being checked).
    (0..n).all(|i| unsafe { std::ptr::read_volatile(p.add(i)) } == 0)
}

#[test]
fn dropping_a_pending_read_releases_the_buffer() {
    for (b, rt) in runtimes(2) {
        // A pipe read, aborted while in flight.
        let (r, w) = net::pipe(&rt).unwrap();
        let r = Arc::new(r);
        let (buf, p) = leaked_buffer(64);
        let r2 = r.clone();
        let task = rt.spawn(async move { r2.read(buf).await });
        std::thread::sleep(Duration::from_millis(50));
        assert!(!task.is_finished());
        task.abort();
        assert!(rt.block_on(task).unwrap_err().is_cancelled());
        // Data arriving now must not land in the dropped read's buffer, and must still be readable.
        let rt2 = rt.clone();
        let got = rt.block_on(async move {
            w.write_all(b"after the abort").await.unwrap();
            time::sleep(&rt2, Duration::from_millis(50)).await;
            let mut again = [0u8; 64];
            let n = r.read(&mut again).await.unwrap();
            again[..n].to_vec()
        });
        assert!(all_zero(p, 64), "{b:?}: the aborted read wrote into its buffer");
        assert_eq!(got, b"after the abort", "{b:?}");

        // A TCP read lost to a timeout (the Rust future is dropped inside the task, which goes on).
        let listener = net::TcpListener::bind(&rt, "127.0.0.1:0").unwrap();
        let addr = listener.local_addr();
        let rt2 = rt.clone();
        let (buf, p) = leaked_buffer(64);
        let res = rt.block_on(rt.spawn(async move {
            let (server, client) = join2(listener.accept(), net::TcpStream::connect(&rt2, addr)).await;
            let (server, client) = (server?, client?);
            let r = time::timeout(&rt2, Duration::from_millis(30), server.read(buf)).await;
            assert!(r.is_err(), "the read should time out");
            client.write_all(b"late").await?;
            time::sleep(&rt2, Duration::from_millis(50)).await;
            let mut again = [0u8; 8];
            let n = server.read(&mut again).await?;
            io::Result::Ok(again[..n].to_vec())
        }));
        assert_eq!(res.unwrap().unwrap(), b"late", "{b:?}");
        assert!(all_zero(p, 64), "{b:?}: the timed-out read wrote into its buffer");
    }
}

#[test]
fn io_futures_under_foreign_wakers() {
    for (b, rt) in runtimes(1) {
        // Inside a task, but polled through a combinator's waker (the helper-task fallback).
        let (r, w) = net::pipe(&rt).unwrap();
        let rt2 = rt.clone();
        let got = rt.block_on(rt.spawn(async move {
            let reads = join_all((0..1).map(|_| async {
                let mut buf = [0u8; 16];
                let n = r.read(&mut buf).await.unwrap();
                buf[..n].to_vec()
            }));
            let write = async {
                time::sleep(&rt2, Duration::from_millis(20)).await;
                w.write_all(b"via helper").await.unwrap();
            };
            let (reads, ()) = join2(reads, write).await;
            reads
        }));
        assert_eq!(got.unwrap(), vec![b"via helper".to_vec()], "{b:?}");

        // On a plain thread with a foreign executor (no luminal context at all).
        let path = temp_path("foreign");
        std::fs::write(&path, b"foreign executor").unwrap();
        let data = foreign_block_on(fs::read(&rt, &path)).unwrap();
        assert_eq!(&*data, b"foreign executor", "{b:?}");
        let f = foreign_block_on(fs::File::open(&rt, &path)).unwrap();
        let mut buf = [0u8; 7];
        assert_eq!(foreign_block_on(f.read_at(&mut buf, 8)).unwrap(), 7);
        assert_eq!(&buf, b"executo");

        // A pending fallback read dropped: the buffer is released too.
        let (r, w) = net::pipe(&rt).unwrap();
        let (buf, p) = leaked_buffer(16);
        let mut fut = Box::pin(r.read(buf));
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        std::thread::sleep(Duration::from_millis(20));
        drop(fut);
        rt.block_on(async move { w.write_all(b"late").await.unwrap() });
        std::thread::sleep(Duration::from_millis(20));
        assert!(all_zero(p, 16), "{b:?}");
        let _ = std::fs::remove_file(&path);
    }
}

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls two futures with the caller's waker.
fn join2<A: Future, B: Future>(a: A, b: B) -> impl Future<Output = (A::Output, B::Output)> {
    struct J<A: Future, B: Future> {
        a: Pin<Box<A>>,
        b: Pin<Box<B>>,
        ra: Option<A::Output>,
        rb: Option<B::Output>,
    }
    impl<A: Future, B: Future> Future for J<A, B> {
        type Output = (A::Output, B::Output);
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            // SAFETY: nothing is moved out of a pinned field (the futures are boxed).
            let this = unsafe { self.get_unchecked_mut() };
            if this.ra.is_none() {
                if let Poll::Ready(v) = this.a.as_mut().poll(cx) {
                    this.ra = Some(v);
                }
            }
            if this.rb.is_none() {
                if let Poll::Ready(v) = this.b.as_mut().poll(cx) {
                    this.rb = Some(v);
                }
            }
            if this.ra.is_some() && this.rb.is_some() {
                Poll::Ready((this.ra.take().unwrap(), this.rb.take().unwrap()))
            } else {
                Poll::Pending
            }
        }
    }
    J { a: Box::pin(a), b: Box::pin(b), ra: None, rb: None }
}

#[test]
fn io_on_a_shut_down_runtime_fails_cleanly() {
    for (_b, rt) in runtimes(1) {
        let rt2 = rt.clone();
        rt.shutdown(Some(Duration::from_secs(10))).unwrap();
        let e = foreign_block_on(fs::read(&rt2, "/etc/hostname")).unwrap_err();
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn io_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let (r, w) = net::pipe(&rt).unwrap();
    let mut buf = [0u8; 4];
    is_send(&r.read(&mut buf));
    is_send(&w.write(b"x"));
    is_send(&fs::read(&rt, "x"));
    is_send(&fs::map(&rt, "x"));
    is_send(&net::TcpStream::connect(&rt, "127.0.0.1:1"));
}
