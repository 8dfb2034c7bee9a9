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

use crate::await_raw::RawPoll;
use crate::ffi;
use crate::RuntimeError;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::ptr;
use std::task::Poll;

/// How a value of type `T` travels as a primitive's `void*` message. A plain value (no drop glue) that fits in a
/// pointer travels in the pointer's own bits: no allocation, and nothing to drop if the runtime discards it (the
/// primitive is then made without a `drop_message`). Anything else goes as a leaked box (the primitive's own node
/// type). A box per message had been ~30% of a `usize` channel's instructions, and its `free` ran on the other
/// thread (issue 15's mpsc rows). NULL is a valid message (the inline value 0).
pub(crate) struct Inline<T>(PhantomData<T>);

impl<T> Inline<T> {
    pub(crate) const YES: bool = std::mem::size_of::<T>() <= std::mem::size_of::<*mut c_void>()
        && std::mem::align_of::<T>() <= std::mem::align_of::<*mut c_void>()
        && !std::mem::needs_drop::<T>();

    /// `v`'s bits as a message (only when [`Self::YES`]).
    pub(crate) fn encode(v: T) -> *mut c_void {
        debug_assert!(Self::YES);
        let mut bits: usize = 0;
        // SAFETY: `T` fits in a usize (size and alignment, `YES`); its bytes are moved into it.
        unsafe { ptr::write(&mut bits as *mut usize as *mut T, v) };
        bits as *mut c_void
    }

    /// The value a message made by [`Self::encode`] carries.
    ///
    /// # Safety
    /// `p` must come from `encode` for this `T`, and be decoded once (a second copy of a value without drop glue is
    /// harmless to memory, but the caller owns the value's meaning).
    pub(crate) unsafe fn decode(p: *mut c_void) -> T {
        let bits = p as usize;
        // SAFETY: the caller's contract: these are the bytes of a `T`.
        unsafe { ptr::read(&bits as *const usize as *const T) }
    }
}

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

/// Where a C recv future (`luminal_channel_recv`, `luminal_oneshot_recv`) writes its outcome: borrowed by the C
/// future until it is dropped, so it lives on the heap, owned by its [`RecvOp`].
struct RecvOuts {
    msg: *mut c_void,
    result: ffi::luminal_status,
}

/// A C recv future, its out-parameters, and the message it received until the Rust side claims it ([`Self::take`]);
/// one shape for channels and oneshots, which differ only in how a message is dropped (`drop_msg`: the
/// primitive's `drop_message`, for a message received and never claimed).
pub(crate) struct RecvOp<T> {
    fut: RawFut,
    outs: *mut RecvOuts,
    got: Option<*mut c_void>, // (NULL is a valid message: see Inline)
    drop_msg: unsafe extern "C" fn(*mut c_void),
    _t: PhantomData<fn(T) -> T>,
}

// SAFETY: `outs` is owned heap memory; `got` is a message carrying a `T: Send`.
unsafe impl<T: Send> Send for RecvOp<T> {}

impl<T> RecvOp<T> {
    /// Makes the C future with `make(msg_out, result_out, future_out)` (a `luminal_*_recv` call); its status if
    /// that fails (nothing is held then).
    ///
    /// # Safety
    /// `make` must be a `luminal_*_recv` call on a live receiver whose messages `drop_msg` drops.
    pub(crate) unsafe fn start(
        drop_msg: unsafe extern "C" fn(*mut c_void),
        make: impl FnOnce(*mut *mut c_void, *mut ffi::luminal_status, *mut ffi::luminal_future) -> ffi::luminal_status,
    ) -> Result<RecvOp<T>, ffi::luminal_status> {
        let outs = Box::into_raw(Box::new(RecvOuts { msg: ptr::null_mut(), result: ffi::LUMINAL_E_CLOSED }));
        let mut fut = RawFut::empty();
        // SAFETY: `outs` is heap memory owned by the op below, freed only after the C future is dropped.
        let st = unsafe { make(&mut (*outs).msg, &mut (*outs).result, &mut fut) };
        let op = RecvOp { fut: RawFut::new(fut), outs, got: None, drop_msg, _t: PhantomData };
        if st != ffi::LUMINAL_OK {
            return Err(st); // the op goes: an empty future, its outs freed
        }
        Ok(op)
    }

    /// The message received (after `Ready(LUMINAL_OK)`), now the caller's; None if there is none.
    pub(crate) fn take(&mut self) -> Option<*mut c_void> {
        self.got.take()
    }
}

impl<T: Send + 'static> RawPoll for RecvOp<T> {
    type Output = ffi::luminal_status;

    unsafe fn poll_raw(&mut self, lcx: *mut ffi::luminal_context) -> Poll<ffi::luminal_status> {
        // SAFETY: `lcx` is live (the caller's contract).
        match unsafe { self.fut.poll(lcx) } {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => {
                // SAFETY: the C future wrote `outs` at completion and was dropped: nobody else touches them.
                let (st, msg) = unsafe { ((*self.outs).result, (*self.outs).msg) };
                if st == ffi::LUMINAL_OK {
                    self.got = Some(msg);
                }
                Poll::Ready(st)
            }
        }
    }

    fn helper_failed(&mut self, _e: RuntimeError) -> ffi::luminal_status {
        self.fut.drop_now(); // a recv that never completed holds nothing
        ffi::LUMINAL_E_CLOSED
    }
}

impl<T> Drop for RecvOp<T> {
    fn drop(&mut self) {
        self.fut.drop_now();
        // SAFETY: allocated in `start`, freed once, after the C future that borrowed it is gone.
        drop(unsafe { Box::from_raw(self.outs) });
        if let Some(msg) = self.got.take() {
            // Received and never claimed (its receiver is going): dropped as the primitive drops it.
            // SAFETY: the message is ours; `drop_msg` frees it exactly once.
            unsafe { (self.drop_msg)(msg) }
        }
    }
}
