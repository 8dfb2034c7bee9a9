//! Unix domain stream sockets: a path, or (a path whose first byte is NUL) a Linux abstract name.

use super::{check, shutdown_write, socket_name, split, OwnedReadHalf, OwnedWriteHalf, Stream};
use crate::addr;
use crate::ffi;
use crate::io::{poll_read_impl, poll_write_impl, PollIo};
use crate::io_op::Op;
use crate::Runtime;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// A Unix stream listener (`luminal_unix_listen`); closed on drop. A path it created stays on disk (remove it).
pub struct UnixListener {
    fd: OwnedFd,
    rt: Runtime,
}

impl UnixListener {
    /// Listens at `path` (which must not exist yet: `AddrInUse`), or an abstract name (`"\0name"`).
    pub fn bind<R: AsRef<Runtime> + ?Sized>(rt: &R, path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let a = addr::unix(path.as_ref())?;
        let (mut fd, mut err) = (-1, ffi::luminal_io_result::default());
        // SAFETY: the address is read during the call; out-pointers to locals.
        check(unsafe { ffi::luminal_unix_listen(&a, 128, &mut fd, &mut err) }, &err)?;
        // SAFETY: a new listening socket.
        Ok(UnixListener { fd: unsafe { OwnedFd::from_raw_fd(fd) }, rt: rt.as_ref().clone() })
    }

    /// Accepts a connection.
    pub async fn accept(&self) -> io::Result<UnixStream> {
        // SAFETY: result/out are the Op's.
        let op = Op::new(&self.rt, None, |res, out| unsafe {
            ffi::luminal_tcp_accept(self.rt.as_raw(), self.fd.as_raw_fd(), res, out)
        })?
        .fd_result();
        let fd = op.await?;
        // SAFETY: a new connected socket.
        Ok(UnixStream::from_fd(&self.rt, unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
    }

    /// The path (or abstract name, NUL first) listened at.
    pub fn local_addr(&self) -> io::Result<PathBuf> {
        addr::unix_path(&socket_name(self.fd.as_raw_fd(), false)?).ok_or_else(|| io::Error::other("unnamed socket"))
    }
}

/// A connected Unix stream socket; reads and writes as [`TcpStream`](super::TcpStream)'s.
pub struct UnixStream {
    s: Stream,
    io: PollIo,
}

impl UnixStream {
    /// Connects to `path` (or an abstract name). `NotFound` if no such path, `ConnectionRefused` if nobody
    /// listens.
    pub async fn connect<R: AsRef<Runtime> + ?Sized>(rt: &R, path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let rt = rt.as_ref();
        let a = addr::unix(path.as_ref())?;
        // SAFETY: the address is copied by the call; result/out are the Op's.
        let op =
            Op::new(rt, None, |res, out| unsafe { ffi::luminal_unix_connect(rt.as_raw(), &a, res, out) })?.fd_result();
        let fd = op.await?;
        // SAFETY: a new connected socket.
        Ok(UnixStream::from_fd(rt, unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
    }

    /// Wraps a connected Unix socket the caller owns.
    pub fn from_fd<R: AsRef<Runtime> + ?Sized>(rt: &R, fd: OwnedFd) -> UnixStream {
        UnixStream { s: Stream { fd, rt: rt.as_ref().clone() }, io: PollIo::default() }
    }

    /// Reads what is available into `buf` (0: the peer closed its side).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.s.read(buf).await
    }

    /// Fills `buf` exactly.
    pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        self.s.read_exact(buf).await
    }

    /// Writes some of `buf`.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.s.write(buf).await
    }

    /// Writes all of `buf`.
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.s.write_all(buf).await
    }

    /// Splits into halves that can move to different tasks.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::split(self.s)
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.s.fd.as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.s.fd.as_fd()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream").field("fd", &self.s.fd.as_raw_fd()).finish()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener").field("fd", &self.fd.as_raw_fd()).finish()
    }
}

poll_read_impl!(UnixStream);
poll_write_impl!(UnixStream, shutdown_write);
