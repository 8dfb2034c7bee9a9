//! [`Notify`] on `luminal_notify_*` (tokio's `Notify` semantics: one stored permit).
use super::RawFut;
use crate::await_raw::{AwaitRaw, RawPoll};
use crate::ffi::{self, luminal_context, luminal_notify};
use crate::{Runtime, RuntimeError};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll};

/// Notifies one task or all waiting tasks (`luminal_notify`): [`notify_one`](Self::notify_one) wakes the oldest
/// waiter or stores one permit; [`notify_waiters`](Self::notify_waiters) wakes every [`Notified`] that exists now
/// (also those not polled yet) and stores nothing.
pub struct Notify {
    raw: NonNull<luminal_notify>,
    home: *mut ffi::luminal_runtime,
}

// SAFETY: the C handle may be used from any thread concurrently; `home` is a plain token value.
unsafe impl Send for Notify {}
// SAFETY: as above: every method takes `&self`.
unsafe impl Sync for Notify {}

impl Notify {
    /// Makes a notify on `rt` (which hosts the helper task of a [`Notified`] awaited outside a task).
    pub fn new<R: AsRef<Runtime> + ?Sized>(rt: &R) -> Result<Notify, RuntimeError> {
        let rt = rt.as_ref();
        let mut raw = ptr::null_mut();
        // SAFETY: `rt` is a runtime handle (a stale one is reported).
        RuntimeError::check(unsafe { ffi::luminal_notify_new(rt.as_raw(), &mut raw) })?;
        let raw = NonNull::new(raw).ok_or(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL))?;
        Ok(Notify { raw, home: rt.home() })
    }

    /// Wakes the oldest waiting [`Notified`], or stores one permit (at most one) for the next.
    pub fn notify_one(&self) {
        // SAFETY: a live handle.
        unsafe { ffi::luminal_notify_one(self.raw.as_ptr()) };
    }

    /// Wakes every [`Notified`] that exists now; stores no permit.
    pub fn notify_waiters(&self) {
        // SAFETY: a live handle.
        unsafe { ffi::luminal_notify_all(self.raw.as_ptr()) };
    }

    /// A future that completes when notified. It registers at once: a [`notify_waiters`](Self::notify_waiters)
    /// after this call wakes it even before it is polled. Panics when polled if the wait could not be made or
    /// completed (outside a task, once the runtime that hosts its helper task is gone).
    pub fn notified(&self) -> Notified<'_> {
        let mut fut = RawFut::empty();
        // SAFETY: a live handle.
        let st = unsafe { ffi::luminal_notify_wait(self.raw.as_ptr(), &mut fut) };
        let state = if st == ffi::LUMINAL_OK {
            Ok(AwaitRaw::new(WaitOp { fut: RawFut::new(fut), raw: self.raw.as_ptr(), woken: false }, self.home))
        } else {
            Err(RuntimeError::from_status(st))
        };
        Notified { state: Some(state), _n: self }
    }

    /// The raw handle, still owned by this value (for C code; do not release it).
    pub fn as_raw(&self) -> *mut luminal_notify {
        self.raw.as_ptr()
    }
}

impl Drop for Notify {
    fn drop(&mut self) {
        // SAFETY: we own the handle; released once. No `Notified` borrowing it is alive.
        unsafe { ffi::luminal_notify_release(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify").field("raw", &self.raw).finish()
    }
}

struct WaitOp {
    fut: RawFut,
    /// The notify (borrowed: the `Notified` borrows the `Notify`), to pass on a wake that was not claimed.
    raw: *mut luminal_notify,
    /// Completed by a notification that the `Notified` has not returned yet.
    woken: bool,
}

// SAFETY: the raw handle is a thread-safe token.
unsafe impl Send for WaitOp {}

impl RawPoll for WaitOp {
    type Output = Result<(), RuntimeError>;

    unsafe fn poll_raw(&mut self, lcx: *mut luminal_context) -> Poll<Self::Output> {
        // SAFETY: `lcx` is live (the caller's contract).
        match unsafe { self.fut.poll(lcx) } {
            Poll::Pending => Poll::Pending,
            Poll::Ready(out) if out == ffi::LUMINAL_FAILED_OUTPUT => {
                Poll::Ready(Err(RuntimeError::from_status(ffi::LUMINAL_E_SHUTDOWN)))
            }
            Poll::Ready(_) => {
                self.woken = true;
                Poll::Ready(Ok(()))
            }
        }
    }

    fn helper_failed(&mut self, e: RuntimeError) -> Self::Output {
        self.fut.drop_now();
        Err(e)
    }
}

impl Drop for WaitOp {
    fn drop(&mut self) {
        if self.woken {
            // A notification this wait consumed and nobody saw: pass it on (as the C future's drop would). A wake
            // by notify_waiters cannot be told apart: it becomes a stored permit, as if notified once more.
            // SAFETY: the `Notified` that owns this op borrows the live `Notify`.
            unsafe { ffi::luminal_notify_one(self.raw) };
        }
    }
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    /// `None` once completed. Dropping the op drops its source, which passes an unclaimed wake on.
    state: Option<Result<AwaitRaw<WaitOp>, RuntimeError>>,
    _n: &'a Notify,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let op = match this.state.as_mut().expect("a luminal Notified was polled after it completed") {
            Ok(op) => op,
            Err(e) => panic!("luminal::sync::Notified cannot complete: {e}"),
        };
        match std::task::ready!(Pin::new(&mut *op).poll(cx)) {
            Ok(()) => {
                op.source_mut(|s| s.woken = false); // claimed
                this.state = None;
                Poll::Ready(())
            }
            Err(e) => panic!("luminal::sync::Notified cannot complete: {e} (the runtime hosting it is gone)"),
        }
    }
}
