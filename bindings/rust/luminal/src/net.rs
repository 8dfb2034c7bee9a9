//! Sockets and streams on the runtime's IO backend: TCP over IPv4 and IPv6 ([`TcpListener`], [`TcpStream`]), Unix sockets,
//! UDP, and pipes ([`pipe`]).
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
//! Addresses are IPv4 or IPv6. Names are resolved by the runtime on its blocking pool ([`lookup_host`], and
//! [`TcpStream::connect`] with anything [`ToAddrs`]: a `SocketAddr`, `"host:port"`, `("host", port)`), never
//! on a worker. [`TcpListener::bind`] and [`UdpSocket::bind`] take addresses (a literal like `"[::1]:0"`).
//! Every stream implements the crate's [`AsyncRead`](crate::io::AsyncRead) / [`AsyncWrite`](crate::io::AsyncWrite)
//! and splits into owned halves ([`TcpStream::into_split`]). Unix sockets: [`UnixListener`], [`UnixStream`];
//! datagrams: [`UdpSocket`].

mod addrs;
mod split;
mod udp;
mod unix;

pub use addrs::{lookup_host, ToAddrs};
pub use split::{OwnedReadHalf, OwnedWriteHalf};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

use crate::addr;
use crate::ffi;
use crate::io::{poll_read_impl, poll_write_impl, PollIo};
use crate::io_op::{status_error, with_owned_buffer, Op};
use crate::Runtime;
use std::ffi::c_void;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The first address of `addr` (a literal resolves without blocking).
fn first_addr(addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?.next().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address given"))
}

/// `luminal_socket_set_option` on `fd`.
pub(crate) fn set_option(fd: RawFd, option: ffi::luminal_socket_option, value: i64) -> io::Result<()> {
    let mut err = ffi::luminal_io_result::default();
    // SAFETY: an out-pointer to a local.
    check(unsafe { ffi::luminal_socket_set_option(fd, option, value, &mut err) }, &err)
}

/// `luminal_socket_get_option` on `fd`.
pub(crate) fn get_option(fd: RawFd, option: ffi::luminal_socket_option) -> io::Result<i64> {
    let (mut v, mut err) = (0i64, ffi::luminal_io_result::default());
    // SAFETY: out-pointers to locals.
    check(unsafe { ffi::luminal_socket_get_option(fd, option, &mut v, &mut err) }, &err)?;
    Ok(v)
}

/// The local (or peer) address of socket `fd`, raw.
pub(crate) fn socket_name(fd: RawFd, peer: bool) -> io::Result<ffi::luminal_socket_addr> {
    let (mut a, mut err) = (addr::empty(), ffi::luminal_io_result::default());
    // SAFETY: out-pointers to locals.
    let st = unsafe {
        if peer {
            ffi::luminal_socket_peer_addr(fd, &mut a, &mut err)
        } else {
            ffi::luminal_socket_local_addr(fd, &mut a, &mut err)
        }
    };
    check(st, &err)?;
    Ok(a)
}

pub(crate) fn ip_name(fd: RawFd, peer: bool) -> io::Result<SocketAddr> {
    addr::from_raw(&socket_name(fd, peer)?).ok_or_else(|| io::Error::other("not an IP socket"))
}

/// The plain calls (listen, shutdown, pipe) report like the futures: the status, and the errno in the result.
pub(crate) fn check(status: ffi::luminal_status, result: &ffi::luminal_io_result) -> io::Result<()> {
    if status == ffi::LUMINAL_OK {
        Ok(())
    } else {
        Err(status_error(status, result.os_error))
    }
}

/// A TCP listener (`luminal_tcp_listen_addr`); closed on drop.
pub struct TcpListener {
    fd: OwnedFd,
    rt: Runtime,
    addr: SocketAddr,
}

impl TcpListener {
    /// Listens on an IPv4 or IPv6 address ("127.0.0.1:0", "[::1]:0": port 0 picks a free port; see
    /// [`local_addr`](Self::local_addr)); an IPv6 address takes IPv6 only (see [`bind_with`](Self::bind_with)),
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
        TcpListener::bind_with(rt, first_addr(addr)?, backlog, 0)
    }

    /// A listener on `addr` with `luminal_bind_flags` (`ffi::LUMINAL_BIND_DUAL_STACK`: an IPv6 address takes IPv4
    /// too; `ffi::LUMINAL_BIND_REUSEPORT`).
    pub fn bind_with<R: AsRef<Runtime> + ?Sized>(
        rt: &R,
        addr: SocketAddr,
        backlog: i32,
        flags: u32,
    ) -> io::Result<TcpListener> {
        let a = addr::to_raw(&addr);
        let (mut fd, mut bound, mut err) = (-1, addr::empty(), ffi::luminal_io_result::default());
        // SAFETY: the address is read during the call; out-pointers to locals.
        check(unsafe { ffi::luminal_tcp_listen_addr(&a, backlog, flags, &mut fd, &mut bound, &mut err) }, &err)?;
        // SAFETY: a new listening socket.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(TcpListener { fd, rt: rt.as_ref().clone(), addr: addr::from_raw(&bound).unwrap_or(addr) })
    }

    /// The address it listens at (with the actual port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
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
        Ok(TcpStream::from_fd(&self.rt, unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
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
pub(crate) struct Stream {
    pub(crate) fd: OwnedFd,
    pub(crate) rt: Runtime,
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
    io: PollIo,
}

impl TcpStream {
    /// Connects to `addr`: an address, or a host and port resolved on the blocking pool ([`lookup_host`]), each
    /// address tried in turn until one connects (`luminal_tcp_connect_addr`); the last error otherwise.
    pub async fn connect<R: AsRef<Runtime> + ?Sized>(rt: &R, addr: impl ToAddrs) -> io::Result<TcpStream> {
        let rt = rt.as_ref();
        let addrs = addrs::resolve(rt, addr).await?;
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to");
        for a in &addrs {
            match TcpStream::connect_addr(rt, a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn connect_addr(rt: &Runtime, a: &SocketAddr) -> io::Result<TcpStream> {
        let raw = addr::to_raw(a);
        // SAFETY: the address is copied by the call; result/out are the Op's.
        let op = Op::new(rt, None, |res, out| unsafe { ffi::luminal_tcp_connect_addr(rt.as_raw(), &raw, res, out) })?
            .fd_result();
        let fd = op.await?;
        // SAFETY: a new connected socket.
        Ok(TcpStream::from_fd(rt, unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
    }

    /// Wraps a connected socket the caller owns (non-blocking or not).
    pub fn from_fd<R: AsRef<Runtime> + ?Sized>(rt: &R, fd: OwnedFd) -> TcpStream {
        TcpStream { s: Stream { fd, rt: rt.as_ref().clone() }, io: PollIo::default() }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        ip_name(self.s.fd.as_raw_fd(), true)
    }

    /// This end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_name(self.s.fd.as_raw_fd(), false)
    }

    /// `TCP_NODELAY`: send small writes at once instead of coalescing them (Nagle's algorithm off).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        set_option(self.s.fd.as_raw_fd(), ffi::LUMINAL_SOCKOPT_NODELAY, on as i64)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        get_option(self.s.fd.as_raw_fd(), ffi::LUMINAL_SOCKOPT_NODELAY).map(|v| v != 0)
    }

    /// `SO_KEEPALIVE`.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        set_option(self.s.fd.as_raw_fd(), ffi::LUMINAL_SOCKOPT_KEEPALIVE, on as i64)
    }

    /// `SO_LINGER`: `None` off, else how long `close` waits for unsent data (`Some(0)`: reset the connection).
    pub fn set_linger(&self, linger: Option<std::time::Duration>) -> io::Result<()> {
        let v = linger.map_or(-1, |d| d.as_secs().min(i32::MAX as u64) as i64);
        set_option(self.s.fd.as_raw_fd(), ffi::LUMINAL_SOCKOPT_LINGER, v)
    }

    /// Splits into a read half and a write half that can move to different tasks.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::split(self.s)
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
    Ok((PipeReader::from_fd(rt, r), PipeWriter::from_fd(rt, w)))
}

/// The read end of a [`pipe`]; closed on drop.
pub struct PipeReader {
    s: Stream,
    io: PollIo,
}

impl PipeReader {
    /// A reader over an fd the caller owns (a pipe's read end, a child's stdout...), non-blocking or not.
    pub fn from_fd<R: AsRef<Runtime> + ?Sized>(rt: &R, fd: OwnedFd) -> PipeReader {
        PipeReader { s: Stream { fd, rt: rt.as_ref().clone() }, io: PollIo::default() }
    }

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
    io: PollIo,
}

impl PipeWriter {
    /// A writer over an fd the caller owns (a pipe's write end, a child's stdin...).
    pub fn from_fd<R: AsRef<Runtime> + ?Sized>(rt: &R, fd: OwnedFd) -> PipeWriter {
        PipeWriter { s: Stream { fd, rt: rt.as_ref().clone() }, io: PollIo::default() }
    }

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

/// `shutdown(SHUT_WR)` for a socket's `poll_close`.
pub(crate) fn shutdown_write(fd: RawFd) -> io::Result<()> {
    let mut err = ffi::luminal_io_result::default();
    // SAFETY: an out-pointer to a local.
    check(unsafe { ffi::luminal_stream_shutdown(fd, 1, &mut err) }, &err)
}

/// A pipe's `poll_close`: nothing to shut down (dropping the writer closes it).
pub(crate) fn nothing(_: RawFd) -> io::Result<()> {
    Ok(())
}

poll_read_impl!(TcpStream);
poll_write_impl!(TcpStream, shutdown_write);
poll_read_impl!(PipeReader);
poll_write_impl!(PipeWriter, nothing);
