//! Byte-stream traits, std only: [`AsyncRead`] and [`AsyncWrite`] (poll-based, as `futures-io` and tokio's are,
//! so code written against those shapes ports directly), the helpers [`AsyncReadExt`] / [`AsyncWriteExt`]
//! (`read`, `read_exact`, `read_to_end`, `write`, `write_all`, `flush`, `close`) and [`copy`].
//!
//! Every stream of the crate implements them: [`TcpStream`](crate::net::TcpStream),
//! [`UnixStream`](crate::net::UnixStream), the halves of their `into_split`, pipes and a child's pipes. The
//! companion crate `bindings/rust/futures-io-compat` (`luminal_futures_io::Compat`) presents any of them through
//! the `futures-io` traits.
//!
//! # Buffers
//!
//! A poll-based read cannot lend the caller's buffer to the kernel: the caller may drop it between two polls. So
//! each stream reads into a buffer of its own (reused from read to read) and copies out what arrived; bytes that
//! did not fit wait for the next read. A write copies the caller's bytes into the stream's own buffer when it
//! starts; a write that returned `Pending` expects to be polled again with the same bytes (as every
//! `poll_write` does). The `async fn`s of the streams themselves (`TcpStream::read`...) lend the buffer directly
//! and copy nothing.

use crate::io_op::with_owned_buffer;
use crate::{ffi, Runtime};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Reads bytes as they become available.
pub trait AsyncRead {
    /// Reads into `buf`: `Ready(Ok(n))` with `n > 0` bytes, `Ready(Ok(0))` at end of stream (or for an empty
    /// `buf`), or `Pending` (the task is woken when it is worth polling again).
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
}

/// Writes bytes.
pub trait AsyncWrite {
    /// Writes some of `buf`: `Ready(Ok(n))` with the bytes written. After `Pending`, poll again with the same bytes.
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    /// Completes a write in progress (the streams buffer nothing else).
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Flushes, then shuts the writing side down (sockets: `shutdown(SHUT_WR)`, so the peer reads end of stream).
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

impl<T: AsyncRead + Unpin + ?Sized> AsyncRead for &mut T {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut **self).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin + ?Sized> AsyncWrite for &mut T {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut **self).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut **self).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut **self).poll_close(cx)
    }
}

/// The `async` helpers of every [`AsyncRead`].
pub trait AsyncReadExt: AsyncRead {
    /// Reads what is available into `buf` (0: end of stream).
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        poll_fn(move |cx| Pin::new(&mut *self).poll_read(cx, buf))
    }

    /// Fills `buf` exactly; `ErrorKind::UnexpectedEof` if the stream ends first.
    fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<()>> + 'a
    where
        Self: Unpin,
    {
        async move {
            let mut done = 0;
            while done < buf.len() {
                match self.read(&mut buf[done..]).await? {
                    0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                    n => done += n,
                }
            }
            Ok(())
        }
    }

    /// Reads until end of stream, appending to `out`; returns how many bytes were appended.
    fn read_to_end<'a>(&'a mut self, out: &'a mut Vec<u8>) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        async move {
            let start = out.len();
            let mut chunk = vec![0u8; 16 * 1024];
            loop {
                match self.read(&mut chunk).await? {
                    0 => return Ok(out.len() - start),
                    n => out.extend_from_slice(&chunk[..n]),
                }
            }
        }
    }
}

impl<T: AsyncRead + ?Sized> AsyncReadExt for T {}

/// The `async` helpers of every [`AsyncWrite`].
pub trait AsyncWriteExt: AsyncWrite {
    /// Writes some of `buf`; returns how many bytes.
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> impl Future<Output = io::Result<usize>> + 'a
    where
        Self: Unpin,
    {
        poll_fn(move |cx| Pin::new(&mut *self).poll_write(cx, buf))
    }

    /// Writes all of `buf` (repeating short writes); `ErrorKind::WriteZero` if the stream takes nothing.
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + 'a
    where
        Self: Unpin,
    {
        async move {
            let mut done = 0;
            while done < buf.len() {
                match self.write(&buf[done..]).await? {
                    0 => return Err(io::ErrorKind::WriteZero.into()),
                    n => done += n,
                }
            }
            Ok(())
        }
    }

    /// Completes a write in progress.
    fn flush(&mut self) -> impl Future<Output = io::Result<()>> + '_
    where
        Self: Unpin,
    {
        poll_fn(move |cx| Pin::new(&mut *self).poll_flush(cx))
    }

    /// Flushes and shuts the writing side down.
    fn close(&mut self) -> impl Future<Output = io::Result<()>> + '_
    where
        Self: Unpin,
    {
        poll_fn(move |cx| Pin::new(&mut *self).poll_close(cx))
    }
}

impl<T: AsyncWrite + ?Sized> AsyncWriteExt for T {}

/// Copies everything `reader` yields into `writer` until end of stream; returns the bytes copied. The writer is
/// flushed, not closed.
pub async fn copy<R, W>(reader: &mut R, writer: &mut W) -> io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            writer.flush().await?;
            return Ok(total);
        }
        writer.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

type Pending = Exclusive<Pin<Box<dyn Future<Output = (io::Result<u64>, Vec<u8>)> + Send>>>;

/// A value reachable only through `&mut` (like std's unstable `Exclusive`): so a stream stays `Sync` — shared
/// `&TcpStream`s use its `&self` methods — while the operation held for its poll-based traits is only `Send`.
pub(crate) struct Exclusive<T>(T);

// SAFETY: no `&self` method reaches the inner value, so sharing `&Exclusive<T>` across threads shares nothing.
unsafe impl<T: Send> Sync for Exclusive<T> {}

impl<T> Exclusive<T> {
    fn get_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// The state behind a stream's [`AsyncRead`] / [`AsyncWrite`]: an operation in flight per direction on a buffer
/// the stream owns (see the module docs), and read bytes not yet handed out.
#[derive(Default)]
pub(crate) struct PollIo {
    read: Option<Pending>,
    read_buf: Vec<u8>,
    unread: std::ops::Range<usize>,
    write: Option<Pending>,
    write_buf: Vec<u8>,
}

impl PollIo {
    pub(crate) fn poll_read(
        &mut self,
        rt: &Runtime,
        fd: i32,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if !self.unread.is_empty() {
            let n = self.unread.len().min(buf.len());
            buf[..n].copy_from_slice(&self.read_buf[self.unread.start..self.unread.start + n]);
            self.unread.start += n;
            return Poll::Ready(Ok(n));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let pending = self.read.get_or_insert_with(|| {
            let mut v = std::mem::take(&mut self.read_buf);
            v.resize(buf.len().max(4096), 0);
            let rt_raw = rt.as_raw();
            // SAFETY: the buffer is owned by the operation until it is over.
            let op = with_owned_buffer(rt, v, |ptr, len, res, out| unsafe {
                ffi::luminal_stream_read(rt_raw, fd, ptr, len, res, out)
            });
            Exclusive(Box::pin(op.run()))
        });
        let (r, v) = std::task::ready!(pending.get_mut().as_mut().poll(cx));
        self.read = None;
        self.read_buf = v;
        let got = r? as usize;
        let n = got.min(buf.len());
        buf[..n].copy_from_slice(&self.read_buf[..n]);
        self.unread = n..got;
        Poll::Ready(Ok(n))
    }

    pub(crate) fn poll_write(
        &mut self,
        rt: &Runtime,
        fd: i32,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.write.is_none() && buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let pending = self.write.get_or_insert_with(|| {
            let mut v = std::mem::take(&mut self.write_buf);
            v.clear();
            v.extend_from_slice(buf);
            let rt_raw = rt.as_raw();
            // SAFETY: the buffer is owned by the operation until it is over.
            let op = with_owned_buffer(rt, v, |ptr, len, res, out| unsafe {
                ffi::luminal_stream_write(rt_raw, fd, ptr, len, res, out)
            });
            Exclusive(Box::pin(op.run()))
        });
        let (r, v) = std::task::ready!(pending.get_mut().as_mut().poll(cx));
        self.write = None;
        self.write_buf = v;
        Poll::Ready(r.map(|n| n as usize))
    }

    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(pending) = self.write.as_mut() else { return Poll::Ready(Ok(())) };
        let (r, v) = std::task::ready!(pending.get_mut().as_mut().poll(cx));
        self.write = None;
        self.write_buf = v;
        Poll::Ready(r.map(drop))
    }
}

/// Implements the crate's [`AsyncRead`] / [`AsyncWrite`] for a
/// stream type with fields `s` (something with `fd` and `rt`) and `io` ([`PollIo`]).
macro_rules! poll_read_impl {
    ($t:ty) => {
        impl $crate::io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let this = self.get_mut();
                this.io.poll_read(&this.s.rt, std::os::fd::AsRawFd::as_raw_fd(&this.s.fd), cx, buf)
            }
        }
    };
}

macro_rules! poll_write_impl {
    ($t:ty, $shutdown:expr) => {
        impl $crate::io::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let this = self.get_mut();
                this.io.poll_write(&this.s.rt, std::os::fd::AsRawFd::as_raw_fd(&this.s.fd), cx, buf)
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                self.get_mut().io.poll_flush(cx)
            }
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let this = self.get_mut();
                std::task::ready!(this.io.poll_flush(cx))?;
                let shutdown: fn(i32) -> std::io::Result<()> = $shutdown;
                std::task::Poll::Ready(shutdown(std::os::fd::AsRawFd::as_raw_fd(&this.s.fd)))
            }
        }
    };
}

pub(crate) use {poll_read_impl, poll_write_impl};
