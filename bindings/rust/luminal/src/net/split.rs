//! The owned halves of a stream ([`TcpStream::into_split`](super::TcpStream::into_split),
//! [`UnixStream::into_split`](super::UnixStream::into_split)): each can move to its own task; the socket closes
//! when both are gone.

use super::{shutdown_write, Stream};
use crate::io::{poll_read_impl, poll_write_impl, PollIo};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

/// The reading half of a split stream.
pub struct OwnedReadHalf {
    s: Arc<Stream>,
    io: PollIo,
}

/// The writing half of a split stream. Dropping it does not shut the socket down: use `close` (or `shutdown`).
pub struct OwnedWriteHalf {
    s: Arc<Stream>,
    io: PollIo,
}

pub(crate) fn split(s: Stream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let s = Arc::new(s);
    (OwnedReadHalf { s: s.clone(), io: PollIo::default() }, OwnedWriteHalf { s, io: PollIo::default() })
}

impl OwnedReadHalf {
    /// Reads what is available into `buf` (0: the peer closed its side); lends `buf` to the kernel directly.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.s.read(buf).await
    }

    /// Fills `buf` exactly.
    pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        self.s.read_exact(buf).await
    }
}

impl OwnedWriteHalf {
    /// Writes some of `buf`; returns how many bytes.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.s.write(buf).await
    }

    /// Writes all of `buf`.
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.s.write_all(buf).await
    }

    /// Shuts the writing side down (the peer reads end of stream).
    pub fn shutdown(&self) -> io::Result<()> {
        shutdown_write(self.s.fd.as_raw_fd())
    }
}

impl AsRawFd for OwnedReadHalf {
    fn as_raw_fd(&self) -> RawFd {
        self.s.fd.as_raw_fd()
    }
}

impl AsRawFd for OwnedWriteHalf {
    fn as_raw_fd(&self) -> RawFd {
        self.s.fd.as_raw_fd()
    }
}

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedReadHalf").field("fd", &self.s.fd.as_raw_fd()).finish()
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedWriteHalf").field("fd", &self.s.fd.as_raw_fd()).finish()
    }
}

poll_read_impl!(OwnedReadHalf);
poll_write_impl!(OwnedWriteHalf, shutdown_write);
