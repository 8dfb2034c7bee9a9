//! `futures_io::AsyncRead` / `AsyncWrite` for every stream of `libluminal` (anything implementing
//! `luminal::io::AsyncRead` / `AsyncWrite`: TCP and Unix streams, their split halves, pipes, a child's pipes), so
//! libraries written against the `futures-io` traits can use them:
//!
//! ```no_run
//! use luminal_futures_io::Compat;
//! # async fn f(rt: luminal::Runtime) -> std::io::Result<()> {
//! let stream = luminal::net::TcpStream::connect(&rt, "127.0.0.1:8080").await?;
//! let io = Compat::new(stream); // impl futures_io::AsyncRead + AsyncWrite
//! # drop(io); Ok(()) }
//! ```
#![warn(missing_docs)]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A luminal stream seen through the `futures-io` traits (the poll functions forward one to one).
#[derive(Debug)]
pub struct Compat<T>(T);

impl<T> Compat<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Compat<T> {
        Compat(inner)
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.0
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.0
    }

    /// Unwraps it.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: luminal::io::AsyncRead + Unpin> futures_io::AsyncRead for Compat<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl<T: luminal::io::AsyncWrite + Unpin> futures_io::AsyncWrite for Compat<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
    }
}
