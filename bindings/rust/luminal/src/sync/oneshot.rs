//! A one-value channel on `luminal_oneshot_*`: one lock-free cell in the runtime per oneshot (no lock, no queue),
//! its send releases the sender. The value travels as a `Box<T>` passed as the oneshot's `void*` (a small plain value
//! in the pointer's bits instead: see [`Inline`]); the oneshot's `drop_message` frees a value sent and never
//! received, so every value is dropped exactly once.
use super::{Inline, RecvOp};
use crate::await_raw::AwaitRaw;
use crate::ffi::{self, luminal_oneshot_receiver, luminal_oneshot_sender, luminal_runtime};
use crate::{Runtime, RuntimeError};
use std::ffi::c_void;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll};

/// The oneshot's `drop_message`: frees a value sent and never received.
unsafe extern "C" fn drop_value<T>(p: *mut c_void) {
    if Inline::<T>::YES || p.is_null() {
        return; // nothing to drop (an inline value has no drop glue)
    }
    // SAFETY: every value of a `channel::<T>` oneshot is a leaked `Box<T>`; the runtime calls drop_message at most
    // once, for a value nobody received. A panicking destructor must not unwind into the runtime.
    let value = unsafe { Box::from_raw(p as *mut T) };
    let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// Takes the value out of a received message.
///
/// # Safety
/// `p` must be a value of a `channel::<T>` oneshot, now the caller's.
unsafe fn take_value<T>(p: *mut c_void) -> T {
    if Inline::<T>::YES {
        // SAFETY: the caller's contract: an inline value's message.
        return unsafe { Inline::decode(p) };
    }
    // SAFETY: the caller's contract.
    *unsafe { Box::from_raw(p as *mut T) }
}

/// A value as this oneshot's message (see [`take_value`]).
fn make_value<T>(value: T) -> *mut c_void {
    if Inline::<T>::YES {
        Inline::encode(value)
    } else {
        Box::into_raw(Box::new(value)) as *mut c_void
    }
}

/// The oneshot's `drop_message`: none for an inline value (nothing to drop, so no call back into Rust).
fn drop_fn<T>() -> Option<unsafe extern "C" fn(*mut c_void)> {
    if Inline::<T>::YES {
        None
    } else {
        Some(drop_value::<T>)
    }
}

/// Makes a oneshot channel on `rt` (which hosts the receiver's helper task outside a task). Panics if the runtime
/// refuses (shut down).
pub fn channel<T: Send + 'static>(rt: &(impl AsRef<Runtime> + ?Sized)) -> (Sender<T>, Receiver<T>) {
    let rt = rt.as_ref();
    let (mut tx, mut rx) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: `rt` is a runtime handle (a stale one is reported).
    let st = unsafe { ffi::luminal_oneshot_new(rt.as_raw(), drop_fn::<T>(), &mut tx, &mut rx) };
    if let Err(e) = RuntimeError::check(st) {
        panic!("luminal::sync::oneshot::channel: the runtime refused the oneshot: {e}");
    }
    let (Some(tx), Some(rx)) = (NonNull::new(tx), NonNull::new(rx)) else {
        panic!("luminal::sync::oneshot::channel: no handles");
    };
    (Sender { raw: tx, _t: PhantomData }, Receiver { raw: Some(rx), home: rt.home(), op: None })
}

/// Sends the one value.
pub struct Sender<T> {
    raw: NonNull<luminal_oneshot_sender>,
    _t: PhantomData<fn(T) -> T>,
}

// SAFETY: the C handle may be used from any thread; sending takes `self`.
unsafe impl<T: Send> Send for Sender<T> {}
// SAFETY: `&Sender` gives access to nothing.
unsafe impl<T: Send> Sync for Sender<T> {}

impl<T: Send + 'static> Sender<T> {
    /// Sends `value` (never waits); `Err(value)` if the receiver is gone.
    pub fn send(self, value: T) -> Result<(), T> {
        let raw = self.raw.as_ptr();
        std::mem::forget(self); // the send releases the handle, whatever its result
        let p = make_value(value);
        // SAFETY: our own live sender, used once; the value is taken only on OK.
        match unsafe { ffi::luminal_oneshot_send(raw, p) } {
            ffi::LUMINAL_OK => Ok(()),
            // SAFETY: refused: the message is still ours.
            _ => Err(unsafe { take_value(p) }),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // SAFETY: our own handle, not sent on (send forgets self); released once. The receiver gets CLOSED.
        unsafe { ffi::luminal_oneshot_sender_release(self.raw.as_ptr()) }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender").field("raw", &self.raw).finish()
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
    /// `None` once the value was received (or the oneshot found closed).
    raw: Option<NonNull<luminal_oneshot_receiver>>,
    home: *mut luminal_runtime,
    op: Option<AwaitRaw<RecvOp<T>>>,
}

// SAFETY: the C handle may be used from any thread; every method takes `&mut self`.
unsafe impl<T: Send + 'static> Send for Receiver<T> {}
// SAFETY: `&Receiver` gives access to nothing.
unsafe impl<T: Send + 'static> Sync for Receiver<T> {}
impl<T: Send + 'static> Unpin for Receiver<T> {}

impl<T: Send + 'static> Receiver<T> {
    /// Takes the value now if it was sent.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let raw = self.raw.ok_or(TryRecvError::Closed)?;
        if let Some(op) = self.op.take() {
            // A value a pending poll received comes out first; else the C future is dropped (it held nothing).
            if let Some(v) = op.into_source().and_then(|mut s| s.got.take()) {
                self.finish();
                // SAFETY: the value the C future handed over, ours now.
                return Ok(unsafe { take_value(v) });
            }
        }
        let mut msg = ptr::null_mut();
        // SAFETY: our own live receiver.
        match unsafe { ffi::luminal_oneshot_try_recv(raw.as_ptr(), &mut msg) } {
            ffi::LUMINAL_OK => {
                self.finish();
                // SAFETY: received: the value is ours.
                Ok(unsafe { take_value(msg) })
            }
            ffi::LUMINAL_E_EMPTY => Err(TryRecvError::Empty),
            _ => {
                self.finish();
                Err(TryRecvError::Closed)
            }
        }
    }

    /// Releases the handle (the value is taken, or there is none).
    fn finish(&mut self) {
        self.op = None;
        if let Some(raw) = self.raw.take() {
            // SAFETY: our own handle, released once (taken out of the option).
            unsafe { ffi::luminal_oneshot_receiver_release(raw.as_ptr()) }
        }
    }
}

impl<T: Send + 'static> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let raw = this.raw.expect("a oneshot Receiver was polled after it completed");
        if this.op.is_none() {
            match this.try_recv() {
                Ok(v) => return Poll::Ready(Ok(v)),
                Err(TryRecvError::Closed) => return Poll::Ready(Err(RecvError)),
                Err(TryRecvError::Empty) => {}
            }
            // SAFETY: a live receiver; the out-parameters are the op's, live until its C future is dropped.
            let make = |msg, res, fut| unsafe { ffi::luminal_oneshot_recv(raw.as_ptr(), msg, res, fut) };
            // SAFETY: a recv on a oneshot of `T`, whose value `drop_value::<T>` drops.
            let src = unsafe { RecvOp::<T>::start(drop_value::<T>, make) };
            let Ok(src) = src else {
                this.finish();
                return Poll::Ready(Err(RecvError));
            };
            this.op = Some(AwaitRaw::new(src, this.home));
        }
        let a = this.op.as_mut().expect("set above");
        let st = std::task::ready!(Pin::new(&mut *a).poll(cx));
        let got = a.source_mut(|s| s.take()).flatten();
        this.finish();
        Poll::Ready(match (st, got) {
            // SAFETY: the value the C future handed over, ours now.
            (ffi::LUMINAL_OK, Some(v)) => Ok(unsafe { take_value(v) }),
            _ => Err(RecvError),
        })
    }
}

impl<T: Send + 'static> Drop for Receiver<T> {
    fn drop(&mut self) {
        // The op first (a value it received is dropped with it; its C future keeps the receiver side open), then the
        // handle (a value sent and never received goes to drop_message).
        self.finish();
    }
}

impl<T: Send + 'static> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver").field("done", &self.raw.is_none()).finish()
    }
}
