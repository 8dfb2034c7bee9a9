//! Runtime-owned synchronization: [`mpsc`] channels, [`oneshot`], [`Notify`], [`Semaphore`] and [`Mutex`].
//!
//! These wrap the runtime's C primitives (`luminal_channel_*`, `luminal_notify_*`, `luminal_semaphore_*`), so
//! their handles are tokens of the one libluminal in the process: a host can create a channel and hand the raw
//! sender ([`mpsc::Sender::into_raw`]) to a plugin — in C, C++ or Rust (with its own copy of this crate) — that
//! sends on it from its tasks. Rust's and C++'s own channel types cannot cross such a boundary (two copies of a
//! crate, two layouts); a Luminal handle can.
//!
//! Inside a single binary, runtime-agnostic crates (`tokio::sync`, `async-channel`, `futures::channel`, ...) work
//! on Luminal too: they only need a [`Waker`](std::task::Waker), which every Luminal task has. Use these types
//! where a handle must cross a plugin or language boundary, or to avoid a dependency.
//!
//! Every future here is a runtime-provided future awaited through the crate's one adapter (see
//! [`time`](crate::time)): polled with the awaiting task's own context inside a task of this crate, through a
//! small helper task elsewhere (another executor, `block_on`'s caller, a plain thread) — spawned on the runtime
//! the primitive was created on. Each primitive works after its runtime is gone only inside tasks of a live
//! runtime; outside one, its futures then fail as documented per type (a closed channel, a closed semaphore).
//!
//! Cancellation: dropping a pending [`mpsc::Recv`] loses no message, dropping a pending [`mpsc::SendFuture`] never
//! delivers its message and drops it exactly once, dropping a pending [`Acquire`] returns what it was granted, and
//! dropping a [`Notified`] that was woken by [`Notify::notify_one`] passes the notification on — also when a
//! helper task had already completed the operation when the future was dropped.

pub mod mpsc;
mod notify;
pub mod oneshot;
mod semaphore;

pub use notify::{Notified, Notify};
pub use semaphore::{
    Acquire, AcquireError, Mutex, MutexGuard, Semaphore, SemaphorePermit, TryAcquireError, TryLockError,
};

use crate::ffi;
use std::ffi::c_void;
use std::ptr;
use std::task::Poll;

/// An owned C future (`luminal_future`) dropped exactly once: when it completes, or with this value.
pub(crate) struct RawFut(Option<ffi::luminal_future>);

// SAFETY: the runtime's sync futures may be polled and dropped on any thread (never concurrently: that takes `&mut`).
unsafe impl Send for RawFut {}

impl RawFut {
    /// Takes ownership of `fut` (filled by a successful `luminal_*` call).
    pub(crate) fn new(fut: ffi::luminal_future) -> RawFut {
        RawFut(Some(fut))
    }

    pub(crate) fn empty() -> ffi::luminal_future {
        ffi::luminal_future { state: ptr::null_mut(), poll: None, drop: None, drop_output: None }
    }

    /// Polls it; on `Ready` (its output) the future has been dropped already, so what it held (a message it never
    /// delivered) is let go of before this returns. Ready(NULL) if it was gone already.
    ///
    /// # Safety
    /// `lcx` must be the context of the poll in progress on this thread.
    pub(crate) unsafe fn poll(&mut self, lcx: *mut ffi::luminal_context) -> Poll<*mut c_void> {
        let Some(fut) = self.0.as_ref() else { return Poll::Ready(ptr::null_mut()) };
        let Some(poll) = fut.poll else {
            self.drop_now();
            return Poll::Ready(ptr::null_mut());
        };
        let mut out = ptr::null_mut();
        // SAFETY: an owned, undropped future polled with the live context (the caller's contract).
        if unsafe { poll(fut.state, lcx, &mut out) } != ffi::LUMINAL_POLL_READY {
            return Poll::Pending;
        }
        self.drop_now();
        Poll::Ready(out)
    }

    /// Drops the future now (at most once).
    pub(crate) fn drop_now(&mut self) {
        if let Some(fut) = self.0.take() {
            if let Some(d) = fut.drop {
                // SAFETY: an owned future, dropped exactly once (it was taken out of the option).
                unsafe { d(fut.state) }
            }
        }
    }
}

impl Drop for RawFut {
    fn drop(&mut self) {
        self.drop_now();
    }
}
