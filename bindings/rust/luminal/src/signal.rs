//! POSIX signals on `luminal_signal_*`: [`listen`] makes a [`Signal`] listener of one signal number; each
//! [`Signal::recv`] completes at the next delivery (deliveries that arrive while no `recv` is pending are kept as
//! one, coalesced as signalfd does). Several listeners of one signal each see every delivery; dropping the last
//! listener of a signal restores the disposition that was in force before its first (see luminal.h, "Signals").
//!
//! ```no_run
//! # async fn f(rt: &luminal::Runtime) -> Result<(), luminal::RuntimeError> {
//! let mut hup = luminal::signal::listen(rt, 1 /* SIGHUP */)?;
//! loop {
//!     hup.recv().await?;
//!     // reload the configuration
//! }
//! # }
//! ```
use crate::await_raw::{AwaitRaw, RawPoll};
use crate::ffi::{self, luminal_context, luminal_signal};
use crate::sync::RawFut;
use crate::{Runtime, RuntimeError};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll};

/// Starts listening to signal `signo` (1..64, except SIGKILL, SIGSTOP, the fault signals and 32..34).
/// `rt` hosts the helper task of a [`Recv`] awaited outside a task.
pub fn listen<R: AsRef<Runtime> + ?Sized>(rt: &R, signo: i32) -> Result<Signal, RuntimeError> {
    let rt = rt.as_ref();
    let mut raw = ptr::null_mut();
    // SAFETY: `rt` is a runtime handle (a stale one is reported).
    RuntimeError::check(unsafe { ffi::luminal_signal_listen(rt.as_raw(), signo, &mut raw) })?;
    let raw = NonNull::new(raw).ok_or(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL))?;
    Ok(Signal { raw, home: rt.home(), signo })
}

/// A listener of one signal (`luminal_signal`); released on drop.
pub struct Signal {
    raw: NonNull<luminal_signal>,
    home: *mut ffi::luminal_runtime,
    signo: i32,
}

// SAFETY: the C handle may be used from any thread concurrently; `home` is a plain token value.
unsafe impl Send for Signal {}
// SAFETY: as above: every method takes `&self` or `&mut self`.
unsafe impl Sync for Signal {}

impl Signal {
    /// Completes at the next delivery (at once if one arrived since the last `recv` completed). `Err` if the recv
    /// could not be made or completed (the runtime hosting its helper is gone).
    pub fn recv(&mut self) -> Recv<'_> {
        let mut fut = RawFut::empty();
        let result = Box::new(ffi::LUMINAL_PENDING);
        let result = Box::into_raw(result);
        // SAFETY: a live handle; `result` lives until the op is dropped (after the C future).
        let st = unsafe { ffi::luminal_signal_recv(self.raw.as_ptr(), result, &mut fut) };
        let op = RecvOp { fut: RawFut::new(fut), result };
        let state = if st == ffi::LUMINAL_OK { Ok(AwaitRaw::new(op, self.home)) } else { Err(RuntimeError::from_status(st)) };
        Recv { state: Some(state), _s: self }
    }

    /// The signal number.
    pub fn signo(&self) -> i32 {
        self.signo
    }

    /// The raw handle, still owned by this value (for C code; do not release it).
    pub fn as_raw(&self) -> *mut luminal_signal {
        self.raw.as_ptr()
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        // SAFETY: we own the handle; released once. No `Recv` borrowing it is alive.
        unsafe { ffi::luminal_signal_release(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("signo", &self.signo).finish()
    }
}

struct RecvOp {
    fut: RawFut,
    result: *mut ffi::luminal_status, // owned box, written by the C future until it is dropped
}

// SAFETY: `result` is owned heap memory; the C future may be polled and dropped on any thread.
unsafe impl Send for RecvOp {}

impl RawPoll for RecvOp {
    type Output = Result<(), RuntimeError>;

    unsafe fn poll_raw(&mut self, lcx: *mut luminal_context) -> Poll<Self::Output> {
        // SAFETY: `lcx` is live (the caller's contract).
        match unsafe { self.fut.poll(lcx) } {
            Poll::Pending => Poll::Pending,
            // SAFETY: the C future wrote the result at completion and was dropped.
            Poll::Ready(_) => Poll::Ready(RuntimeError::check(unsafe { *self.result })),
        }
    }

    fn helper_failed(&mut self, e: RuntimeError) -> Self::Output {
        self.fut.drop_now();
        Err(e)
    }
}

impl Drop for RecvOp {
    fn drop(&mut self) {
        self.fut.drop_now(); // first: the C future writes `result` until then
        // SAFETY: allocated by `Signal::recv` with Box::into_raw, freed once.
        drop(unsafe { Box::from_raw(self.result) });
    }
}

/// The future of [`Signal::recv`].
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a> {
    state: Option<Result<AwaitRaw<RecvOp>, RuntimeError>>,
    _s: &'a mut Signal,
}

impl Future for Recv<'_> {
    type Output = Result<(), RuntimeError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let out = match this.state.as_mut().expect("a luminal signal Recv was polled after it completed") {
            Ok(op) => std::task::ready!(Pin::new(op).poll(cx)),
            Err(e) => Err(*e),
        };
        this.state = None;
        Poll::Ready(out)
    }
}
