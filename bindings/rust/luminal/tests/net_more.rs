//! IPv6, names, UDP, Unix sockets, the stream traits, paths and child processes, on both IO backends.
mod common;

use luminal::io::{copy, AsyncReadExt, AsyncWriteExt};
use luminal::process::{Command, Stdio};
use luminal::{fs, net, ErrorKind, IoBackend, Runtime};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

fn runtimes() -> Vec<(IoBackend, Runtime)> {
    let mut v = Vec::new();
    for b in [IoBackend::Uring, IoBackend::Pool] {
        match Runtime::builder().worker_threads(2).io_backend(b).build() {
            Ok(rt) => v.push((b, rt)),
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
    std::env::temp_dir().join(format!(
        "luminal-rs2-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::SeqCst)
    ))
}

fn ipv6() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

/// Accepts one connection and echoes until end of stream, through the traits and `copy`.
async fn echo_server(listener: net::TcpListener) -> io::Result<u64> {
    let s = listener.accept().await?;
    let (mut r, mut w) = s.into_split();
    let n = copy(&mut r, &mut w).await?;
    w.close().await?;
    Ok(n)
}

#[test]
fn tcp_ipv4_ipv6_and_names_with_the_traits() {
    for (b, rt) in runtimes() {
        let mut targets = vec![("127.0.0.1:0", None)];
        if ipv6() {
            targets.push(("[::1]:0", None));
        }
        targets.push(("127.0.0.1:0", Some("localhost")));
        for (bind, name) in targets {
            let rt2 = rt.clone();
            let listener = net::TcpListener::bind(&rt, bind).unwrap();
            let addr = listener.local_addr();
            assert_ne!(addr.port(), 0);
            let server = rt.spawn(echo_server(listener));
            let got = rt
                .block_on(async move {
                    let mut c = match name {
                        Some(host) => net::TcpStream::connect(&rt2, (host, addr.port())).await?,
                        None => net::TcpStream::connect(&rt2, addr).await?,
                    };
                    c.set_nodelay(true)?;
                    assert!(c.nodelay()?);
                    assert_eq!(c.peer_addr()?.port(), addr.port());
                    let msg = vec![7u8; 100_000];
                    c.write_all(&msg).await?;
                    AsyncWriteExt::close(&mut c).await?; // our side done: the server's copy ends
                    let mut back = Vec::new();
                    AsyncReadExt::read_to_end(&mut c, &mut back).await?;
                    io::Result::Ok(back)
                })
                .unwrap_or_else(|e| panic!("{b:?} {bind} {name:?}: {e}"));
            assert_eq!(got.len(), 100_000, "{b:?} {bind}");
            assert_eq!(rt.block_on(server).unwrap().unwrap(), 100_000);
        }
    }
}

#[test]
fn lookup_host_and_refused() {
    for (b, rt) in runtimes() {
        let rt2 = rt.clone();
        let addrs = rt.block_on(async move { net::lookup_host(&rt2, "localhost:80").await }).unwrap();
        assert!(addrs.iter().any(|a| a == &"127.0.0.1:80".parse::<SocketAddr>().unwrap()), "{b:?}: {addrs:?}");
        let rt2 = rt.clone();
        let lit = rt.block_on(async move { net::lookup_host(&rt2, "[::1]:5").await }).unwrap();
        assert_eq!(lit, vec!["[::1]:5".parse::<SocketAddr>().unwrap()]);
        // Nothing listens: refused, for an address and for a name (every address of it).
        let held = common::RefusingPort::new();
        let port = held.port;
        let rt2 = rt.clone();
        let e = rt.block_on(async move { net::TcpStream::connect(&rt2, ("localhost", port)).await.unwrap_err() });
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{b:?}: {e}");
        let rt2 = rt.clone();
        let e = rt.block_on(async move { net::TcpStream::connect(&rt2, "no port").await.unwrap_err() });
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}

#[test]
fn udp_send_to_recv_from() {
    for (b, rt) in runtimes() {
        let a = net::UdpSocket::bind(&rt, "127.0.0.1:0").unwrap();
        let bsock = net::UdpSocket::bind(&rt, "127.0.0.1:0").unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), bsock.local_addr().unwrap());
        let r = rt.block_on(async move {
            let recv = async {
                let mut buf = [0u8; 16];
                let (n, from) = bsock.recv_from(&mut buf).await?;
                io::Result::Ok((buf[..n].to_vec(), from))
            };
            a.send_to(b"datagram", ba).await?;
            let (got, from) = recv.await?;
            assert_eq!(got, b"datagram");
            assert_eq!(from, aa);
            a.connect(ba)?;
            a.send(b"x").await?;
            let mut one = [0u8; 4];
            assert_eq!(bsock.recv(&mut one).await?, 1);
            io::Result::Ok(())
        });
        r.unwrap_or_else(|e| panic!("{b:?}: {e}"));
    }
}

#[test]
fn unix_sockets_path_and_abstract() {
    for (b, rt) in runtimes() {
        let path = temp_path("sock");
        let abs = PathBuf::from(format!("\0luminal-rs-{}-{b:?}", std::process::id()));
        for p in [path.clone(), abs] {
            let listener = net::UnixListener::bind(&rt, &p).unwrap();
            assert_eq!(listener.local_addr().unwrap(), p);
            let rt2 = rt.clone();
            let server = rt.spawn(async move {
                let s = listener.accept().await?;
                let mut buf = [0u8; 5];
                s.read_exact(&mut buf).await?;
                s.write_all(&buf).await?;
                io::Result::Ok(())
            });
            let p2 = p.clone();
            let got = rt
                .block_on(async move {
                    let mut c = net::UnixStream::connect(&rt2, &p2).await?;
                    c.write_all(b"hello").await?;
                    let mut buf = [0u8; 5];
                    AsyncReadExt::read_exact(&mut c, &mut buf).await?;
                    io::Result::Ok(buf)
                })
                .unwrap_or_else(|e| panic!("{b:?}: {e}"));
            assert_eq!(&got, b"hello");
            rt.block_on(server).unwrap().unwrap();
        }
        // The path stays after its listener: refused; removed: not found.
        let (rt2, p2) = (rt.clone(), path.clone());
        let e = rt.block_on(async move { net::UnixStream::connect(&rt2, &p2).await.unwrap_err() });
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        std::fs::remove_file(&path).unwrap();
        let (rt2, p2) = (rt.clone(), path.clone());
        let e = rt.block_on(async move { net::UnixStream::connect(&rt2, &p2).await.unwrap_err() });
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}

#[test]
fn paths() {
    for (b, rt) in runtimes() {
        let dir = temp_path("dir");
        let rt2 = rt.clone();
        let d = dir.clone();
        rt.block_on(async move {
            fs::create_dir(&rt2, &d).await?;
            assert_eq!(fs::create_dir(&rt2, &d).await.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
            fs::write(&rt2, d.join("a"), b"12345").await?;
            let m = fs::metadata(&rt2, d.join("a")).await?;
            assert!(m.is_file() && m.len() == 5);
            assert!(fs::metadata(&rt2, &d).await?.is_dir());
            fs::rename(&rt2, d.join("a"), d.join("b")).await?;
            assert_eq!(fs::metadata(&rt2, d.join("a")).await.unwrap_err().kind(), io::ErrorKind::NotFound);
            let entries = fs::read_dir(&rt2, &d).await?;
            assert_eq!(entries.len(), 1);
            assert_eq!(entries[0].file_name(), "b");
            assert!(entries[0].is_file());
            assert!(fs::remove_dir(&rt2, &d).await.is_err()); // not empty
            fs::remove_file(&rt2, d.join("b")).await?;
            fs::remove_dir(&rt2, &d).await?;
            assert_eq!(fs::read_dir(&rt2, &d).await.unwrap_err().kind(), io::ErrorKind::NotFound);
            io::Result::Ok(())
        })
        .unwrap_or_else(|e| panic!("{b:?}: {e}"));
    }
}

#[test]
fn child_processes() {
    for (b, rt) in runtimes() {
        let rt2 = rt.clone();
        rt.block_on(async move {
            // Piped stdin and stdout, an environment variable, a working directory, an exit code.
            let mut child = Command::new("sh")
                .args(["-c", "read x; echo \"$x:$LUMINAL_RS:$(pwd)\"; exit 3"])
                .env("LUMINAL_RS", "env")
                .current_dir("/tmp")
                .stdin(Stdio::Piped)
                .stdout(Stdio::Piped)
                .spawn(&rt2)?;
            let stdin = child.stdin.take().unwrap();
            stdin.write_all(b"in\n").await?;
            drop(stdin);
            let mut out = Vec::new();
            AsyncReadExt::read_to_end(child.stdout.as_mut().unwrap(), &mut out).await?;
            assert_eq!(out, b"in:env:/tmp\n");
            assert_eq!(child.wait().await?.code(), Some(3));
            // Killed while waited for.
            let mut sleeper = Command::new("sleep").arg("60").spawn(&rt2)?;
            sleeper.kill()?;
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(sleeper.wait().await?.signal(), Some(9));
            // No such program.
            let e = Command::new("luminal-no-such-program").spawn(&rt2).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound);
            io::Result::Ok(())
        })
        .unwrap_or_else(|e| panic!("{b:?}: {e}"));
    }
}
