//! Streams on the runtime's IO backend: TCP over IPv4 ([`TcpListener`], [`TcpStream`]) and pipes ([`pipe`]).
//!
//! ```no_run
//! use luminal::{net, Runtime};
//! let rt = Runtime::new().unwrap();
//! let rt2 = rt.clone();
//! rt.block_on(async move {
//!     let listener = net::TcpListener::bind(&rt2, "127.0.0.1:0")?;
//!     let addr = listener.local_addr();
//!     let server = rt2.spawn(async move {
//!         let s = listener.accept().await?;
//!         let mut buf = [0u8; 64];
//!         let n = s.read(&mut buf).await?;
//!         s.write_all(&buf[..n]).await
//!     });
//!     let c = net::TcpStream::connect(&rt2, addr).await?;
//!     c.write_all(b"ping").await?;
//!     let mut buf = [0u8; 4];
//!     c.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"ping");
//!     server.await?
//! }).unwrap();
//! ```
//!
//! Streams read what is available (at least one byte, or 0 once the peer closed its side) and may write fewer
//! bytes than asked ([`TcpStream::write_all`] repeats). A closed peer makes writes fail with `EPIPE` /
//! `ECONNRESET` (never `SIGPIPE`). Reads and writes take `&self`, so one task may read while another writes
//! (share the stream in an `Arc`). The buffer-safety rules of [`fs`](crate::fs#buffer-safety) hold here too:
//! dropping a pending read or write waits until the kernel let go of the buffer.
//!
//! Only IPv4 is supported by the runtime; addresses are given as anything [`ToSocketAddrs`] (the first IPv4
//! address is used; a host name is resolved synchronously by the standard library, so prefer literal addresses
//! inside tasks, or resolve in [`Runtime::spawn_blocking`]).

use crate::ffi;
use crate::io_op::{status_error, with_owned_buffer, Op};
use crate::Runtime;
use std::ffi::{c_void, CString};
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

fn v4(addr: impl ToSocketAddrs) -> io::Result<SocketAddrV4> {
    for a in addr.to_socket_addrs()? {
        if let SocketAddr::V4(a) = a {
            return Ok(a);
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidInput, "luminal supports IPv4 addresses only"))
}

fn ip_cstring(a: &SocketAddrV4) -> CString {
    CString::new(a.ip().to_string()).expect("an IP address has no NUL")
}

/// The plain calls (listen, shutdown, pipe) report like the futures: the status, and the errno in the result.
fn check(status: ffi::luminal_status, result: &ffi::luminal_io_result) -> io::Result<()> {
    if status == ffi::LUMINAL_OK {
        Ok(())
    } else {
        Err(status_error(status, result.os_error))
    }
}

/// A TCP listener (`luminal_tcp_listen`); closed on drop.
pub struct TcpListener {
    fd: OwnedFd,
    rt: Runtime,
    addr: SocketAddrV4,
}

impl TcpListener {
    /// Listens on an IPv4 address ("127.0.0.1:0": port 0 picks a free port; see [`local_addr`](Self::local_addr)),
    /// with a backlog of 1024. Binding does not block, so this is a plain function.
    pub fn bind<R: AsRef<Runtime> + ?Sized>(rt: &R, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        TcpListener::bind_with_backlog(rt, addr, 1024)
    }

    /// Like [`bind`](Self::bind) with a given backlog.
    pub fn bind_with_backlog<R: AsRef<Runtime> + ?Sized>(
        rt: &R,
        addr: impl ToSocketAddrs,
        backlog: i32,
    ) -> io::Result<TcpListener> {
        let a = v4(addr)?;
        let ip = ip_cstring(&a);
        let (mut fd, mut port, mut err) = (-1, 0u16, ffi::luminal_io_result::default());
        // SAFETY: out-pointers to locals; the ip string is borrowed for the call.
        check(unsafe { ffi::luminal_tcp_listen(ip.as_ptr(), a.port(), backlog, &mut fd, &mut port, &mut err) }, &err)?;
        // SAFETY: a new listening socket.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(TcpListener { fd, rt: rt.as_ref().clone(), addr: SocketAddrV4::new(*a.ip(), port) })
    }

    /// The address it listens on, with the actual port.
    pub fn local_addr(&self) -> SocketAddr {
        SocketAddr::V4(self.addr)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Waits for a connection (`luminal_tcp_accept`).
    pub async fn accept(&self) -> io::Result<TcpStream> {
        // SAFETY: result/out are the Op's.
        let op = Op::new(&self.rt, None, |res, out| unsafe {
            ffi::luminal_tcp_accept(self.rt.as_raw(), self.fd.as_raw_fd(), res, out)
        })?
        .fd_result();
        let fd = op.await?;
        // SAFETY: a new connected socket.
        Ok(TcpStream { s: Stream { fd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) }, rt: self.rt.clone() } })
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener").field("fd", &self.fd.as_raw_fd()).field("addr", &self.addr).finish()
    }
}

/// A socket or pipe end read and written through the runtime.
struct Stream {
    fd: OwnedFd,
    rt: Runtime,
}

impl Stream {
    async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_op(buf)?.await.map(|v| v as usize)
    }

    fn read_op(&self, buf: &mut [u8]) -> io::Result<Op> {
        let (ptr, len) = (buf.as_mut_ptr() as *mut c_void, buf.len());
        // SAFETY: `buf` is borrowed by the future awaiting the Op, and the Op drops the runtime's future (waiting
        // for the kernel) before that borrow ends.
        Op::new(&self.rt, None, |res, out| unsafe {
            ffi::luminal_stream_read(self.rt.as_raw(), self.fd.as_raw_fd(), ptr, len, res, out)
        })
    }

    async fn read_owned(&self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let op = {
            let (rt, fd) = (self.rt.as_raw(), self.fd.as_raw_fd());
            // SAFETY: the buffer's memory is owned by the operation until it is over.
            with_owned_buffer(&self.rt, buf, |ptr, len, res, out| unsafe {
                ffi::luminal_stream_read(rt, fd, ptr, len, res, out)
            })
        };
        let (r, buf) = op.run().await;
        (r.map(|v| v as usize), buf)
    }

    async fn write_owned(&self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let op = {
            let (rt, fd) = (self.rt.as_raw(), self.fd.as_raw_fd());
            // SAFETY: the buffer's memory is owned by the operation until it is over.
            with_owned_buffer(&self.rt, buf, |ptr, len, res, out| unsafe {
                ffi::luminal_stream_write(rt, fd, ptr, len, res, out)
            })
        };
        let (r, buf) = op.run().await;
        (r.map(|v| v as usize), buf)
    }

    fn write_op(&self, buf: &[u8]) -> io::Result<Op> {
        let (ptr, len) = (buf.as_ptr() as *const c_void, buf.len());
        // SAFETY: as in read_op.
        Op::new(&self.rt, None, |res, out| unsafe {
            ffi::luminal_stream_write(self.rt.as_raw(), self.fd.as_raw_fd(), ptr, len, res, out)
        })
    }

    async fn read_exact(&self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read(buf).await? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    async fn read_to_end(&self, out: &mut Vec<u8>) -> io::Result<usize> {
        let start = out.len();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            match self.read(&mut chunk).await? {
                0 => return Ok(out.len() - start),
                n => out.extend_from_slice(&chunk[..n]),
            }
        }
    }

    async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.write_op(buf)?.await.map(|v| v as usize)
    }

    async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }
}

/// A TCP connection; closed on drop.
pub struct TcpStream {
    s: Stream,
}

impl TcpStream {
    /// Connects to an IPv4 address (`luminal_tcp_connect`).
    pub async fn connect<R: AsRef<Runtime> + ?Sized>(rt: &R, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let rt = rt.as_ref();
        let a = v4(addr)?;
        let ip = ip_cstring(&a);
        // SAFETY: the ip string is copied or used during the call; result/out are the Op's.
        let op = Op::new(rt, None, |res, out| unsafe {
            ffi::luminal_tcp_connect(rt.as_raw(), ip.as_ptr(), a.port(), res, out)
        })?
        .fd_result();
        let fd = op.await?;
        // SAFETY: a new connected socket.
        Ok(TcpStream { s: Stream { fd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) }, rt: rt.clone() } })
    }

    /// Wraps a connected socket (e.g. a `std::net::TcpStream` converted with `OwnedFd::from`).
    pub fn from_fd<R: AsRef<Runtime> + ?Sized>(rt: &R, fd: OwnedFd) -> TcpStream {
        TcpStream { s: Stream { fd, rt: rt.as_ref().clone() } }
    }

    /// Reads what is available into `buf` (at least 1 byte; 0 once the peer closed its side).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.s.read(buf).await
    }

    /// Fills `buf`; `ErrorKind::UnexpectedEof` if the peer closes first.
    pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        self.s.read_exact(buf).await
    }

    /// Like [`read`](Self::read), with a buffer the operation owns while it runs: `buf` (its whole length) is moved
    /// in and handed back with the result; the bytes read are `buf[..n]`. Safe even if the future is leaked (see
    /// "Buffer safety" in [`fs`](crate::fs)).
    pub async fn read_owned(&self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        self.s.read_owned(buf).await
    }

    /// Like [`write`](Self::write), with a buffer the operation owns while it runs (handed back with the count).
    pub async fn write_owned(&self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        self.s.write_owned(buf).await
    }

    /// Reads until the peer closes its side, appending to `out`; returns the number of bytes read.
    pub async fn read_to_end(&self, out: &mut Vec<u8>) -> io::Result<usize> {
        self.s.read_to_end(out).await
    }

    /// Writes up to `buf.len()` bytes; returns how many.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.s.write(buf).await
    }

    /// Writes all of `buf`.
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.s.write_all(buf).await
    }

    /// Shuts down the read, write or both directions (`luminal_stream_shutdown`). Not a future: it does not
    /// block.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let how = match how {
            Shutdown::Read => 0,
            Shutdown::Write => 1,
            Shutdown::Both => 2,
        };
        let mut err = ffi::luminal_io_result::default();
        // SAFETY: our fd; an out-pointer to a local.
        check(unsafe { ffi::luminal_stream_shutdown(self.s.fd.as_raw_fd(), how, &mut err) }, &err)
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.s.fd.as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.s.fd.as_fd()
    }
}

impl From<TcpStream> for OwnedFd {
    fn from(s: TcpStream) -> OwnedFd {
        s.s.fd
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream").field("fd", &self.s.fd.as_raw_fd()).finish()
    }
}

/// Makes a pipe (`luminal_pipe`, `O_CLOEXEC`): bytes written to the [`PipeWriter`] come out of the
/// [`PipeReader`]; the reader reads 0 once the writer is dropped.
pub fn pipe<R: AsRef<Runtime> + ?Sized>(rt: &R) -> io::Result<(PipeReader, PipeWriter)> {
    let rt = rt.as_ref();
    let (mut fds, mut err) = ([-1i32; 2], ffi::luminal_io_result::default());
    // SAFETY: out-pointers to locals.
    check(unsafe { ffi::luminal_pipe(fds.as_mut_ptr(), &mut err) }, &err)?;
    // SAFETY: two new fds.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((PipeReader { s: Stream { fd: r, rt: rt.clone() } }, PipeWriter { s: Stream { fd: w, rt: rt.clone() } }))
}

/// The read end of a [`pipe`]; closed on drop.
pub struct PipeReader {
    s: Stream,
}

impl PipeReader {
    /// Reads what is available (at least 1 byte; 0 once every writer is closed).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.s.read(buf).await
    }

    /// Fills `buf`; `ErrorKind::UnexpectedEof` if the writer closes first.
    pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        self.s.read_exact(buf).await
    }

    /// Reads until every writer is closed, appending to `out`.
    pub async fn read_to_end(&self, out: &mut Vec<u8>) -> io::Result<usize> {
        self.s.read_to_end(out).await
    }
}

/// The write end of a [`pipe`]; closed on drop.
pub struct PipeWriter {
    s: Stream,
}

impl PipeWriter {
    /// Writes up to `buf.len()` bytes; returns how many (`EPIPE` once the reader is closed).
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.s.write(buf).await
    }

    /// Writes all of `buf`.
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.s.write_all(buf).await
    }
}

macro_rules! fd_impls {
    ($t:ty) => {
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.s.fd.as_raw_fd()
            }
        }
        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.s.fd.as_fd()
            }
        }
        impl From<$t> for OwnedFd {
            fn from(p: $t) -> OwnedFd {
                p.s.fd
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t)).field("fd", &self.s.fd.as_raw_fd()).finish()
            }
        }
    };
}
fd_impls!(PipeReader);
fd_impls!(PipeWriter);
