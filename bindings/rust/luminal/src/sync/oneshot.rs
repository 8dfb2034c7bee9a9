//! A one-value channel: a Luminal channel of capacity 1 with one sender (the C contract has no separate type: it
//! costs the same), so the raw sender can cross a plugin boundary like an [`mpsc`] one.
use super::mpsc::{self, RecvOp, TryRecvError as MpscTryRecvError, TrySendError};
use crate::await_raw::AwaitRaw;
use crate::Runtime;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Makes a oneshot channel on `rt` (which hosts the receiver's helper task outside a task). Panics if the runtime
/// refuses (shut down).
pub fn channel<T: Send + 'static>(rt: &(impl AsRef<Runtime> + ?Sized)) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = mpsc::channel(rt, 1);
    (Sender { inner: tx }, Receiver { inner: Some(rx), op: None })
}

/// Sends the one value.
#[derive(Debug)]
pub struct Sender<T> {
    inner: mpsc::Sender<T>,
}

impl<T: Send + 'static> Sender<T> {
    /// Sends `value` (never waits); `Err(value)` if the receiver is gone.
    pub fn send(self, value: T) -> Result<(), T> {
        // One sender, one value, capacity 1: never full.
        self.inner.try_send(value).map_err(TrySendError::into_inner)
    }
}

/// The error of awaiting a [`Receiver`]: the sender was dropped without sending.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct RecvError;
impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel closed")
    }
}
impl std::error::Error for RecvError {}

/// The error of [`Receiver::try_recv`].
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// Not sent yet.
    Empty,
    /// The sender was dropped without sending, or the value was received already.
    Closed,
}
impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "channel empty",
            TryRecvError::Closed => "channel closed",
        })
    }
}
impl std::error::Error for TryRecvError {}

/// Receives the one value: a `Future<Output = Result<T, RecvError>>`. Dropping it drops an unreceived value.
pub struct Receiver<T: Send + 'static> {
    /// `None` once the value was received.
    inner: Option<mpsc::Receiver<T>>,
    op: Option<AwaitRaw<RecvOp<T>>>,
}

impl<T: Send + 'static> Unpin for Receiver<T> {}

impl<T: Send + 'static> Receiver<T> {
    /// Takes the value now if it was sent.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let rx = self.inner.as_mut().ok_or(TryRecvError::Closed)?;
        if let Some(op) = self.op.take() {
            rx.recover(op); // a value a pending poll received comes out first
        }
        match rx.try_recv() {
            Ok(v) => {
                self.inner = None;
                Ok(v)
            }
            Err(MpscTryRecvError::Empty) => Err(TryRecvError::Empty),
            Err(MpscTryRecvError::Disconnected) => Err(TryRecvError::Closed),
        }
    }
}

impl<T: Send + 'static> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let rx = this.inner.as_mut().expect("a oneshot Receiver was polled after it completed");
        let v = std::task::ready!(rx.poll_recv(&mut this.op, cx));
        this.inner = None;
        Poll::Ready(v.ok_or(RecvError))
    }
}

impl<T: Send + 'static> Drop for Receiver<T> {
    fn drop(&mut self) {
        // The op first (its C future holds the channel open for senders), then the receiver handle.
        self.op = None;
        self.inner = None;
    }
}

impl<T: Send + 'static> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver").field("done", &self.inner.is_none()).finish()
    }
}
