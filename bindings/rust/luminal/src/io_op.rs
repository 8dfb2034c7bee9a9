//! One runtime IO operation (a `luminal_future` of the IO personalities) as a Rust future: [`Op`].
//!
//! # Polling
//!
//! The runtime's IO futures must be polled with a real `luminal_context` (they register the task's waker from
//! it). Like [`time::Sleep`](crate::time::Sleep):
//!
//! * **Fast path** — awaited directly by a task of this copy of the crate: the C future is polled with the
//!   task's own context, so the completion wakes the task directly.
//! * **Fallback** — polled with another waker (a combinator's, a foreign executor's, another copy of the crate's):
//!   a small helper task polls the C future with *its* context and wakes the Rust waker on completion. The C
//!   future itself stays owned by the [`Op`] (in a mutex shared with the helper), never by the helper: so
//!   dropping the `Op` always drops the C future synchronously, which is what keeps borrowed buffers safe.
//!
//! # Buffers
//!
//! The C future borrows the caller's buffer, the `luminal_io_result` and any output struct until it completes or
//! is dropped; its drop cancels an operation in flight and waits until the kernel (or the pool thread) has let
//! go of the buffer. The `Op` drops the C future in its own `Drop`, so a Rust future borrowing `&mut [u8]` that
//! is dropped mid-flight (an aborted task, a lost `select`, a timeout) leaves the buffer untouched afterwards.
//! The result and output structs live on the heap, owned by the shared state, and are freed only after the C
//! future was dropped (if the `Op` is leaked with `mem::forget`, they leak too rather than dangle).

use crate::context;
use crate::ffi::{self, luminal_context, luminal_task};
use crate::task::{spawn_raw_future, SpawnTarget};
use crate::{Runtime, RuntimeError};
use std::ffi::c_void;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Heap memory the C future writes into (an output struct), freed after the C future is dropped.
pub(crate) struct Extra {
    pub(crate) ptr: *mut c_void,
    pub(crate) free: unsafe fn(*mut c_void),
}

struct Inner {
    /// The C future, owned until it completes or the `Op` is dropped.
    fut: Option<ffi::luminal_future>,
    /// The runtime's result slot (borrowed by the C future).
    result: *mut ffi::luminal_io_result,
    extra: Option<Extra>,
    /// The result, once the C future completed.
    done: Option<ffi::luminal_io_result>,
    /// Fallback: the Rust waker to wake on completion.
    waker: Option<Waker>,
    /// Fallback: the helper was dropped before completion (runtime shutdown).
    helper_gone: bool,
    /// The `Op` returned the result to its caller.
    claimed: bool,
    /// The result's value is a new file descriptor: close it if nobody claimed it.
    fd_result: bool,
}

// SAFETY: the raw pointers are heap memory owned by `Inner` (and borrowed by the C future, which may be polled and
// dropped on any thread, never concurrently: the mutex sees to that).
unsafe impl Send for Inner {}

impl Inner {
    /// Polls the C future with the luminal context `lcx`; on completion records the result and drops it.
    unsafe fn poll_c(&mut self, lcx: *mut luminal_context) -> bool {
        let Some(f) = self.fut else { return true };
        let mut out = ptr::null_mut();
        if (f.poll.unwrap())(f.state, lcx, &mut out) != ffi::LUMINAL_POLL_READY {
            return false;
        }
        self.done = Some(*self.result);
        self.fut = None;
        if let Some(d) = f.drop {
            d(f.state);
        }
        true
    }

    fn drop_c(&mut self) {
        if let Some(f) = self.fut.take() {
            if let Some(d) = f.drop {
                // SAFETY: called once; blocks until the kernel let go of the buffers.
                unsafe { d(f.state) }
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.drop_c();
        if let (false, true, Some(r)) = (self.claimed, self.fd_result, self.done) {
            if r.status == ffi::LUMINAL_OK {
                // Completed (in a fallback helper) but never handed over: close the new fd.
                use std::os::fd::FromRawFd;
                // SAFETY: an fd the runtime opened for us that nobody else knows.
                drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(r.value as i32) });
            }
        }
        // SAFETY: nothing borrows them any more.
        unsafe {
            drop(Box::from_raw(self.result));
            if let Some(e) = self.extra.take() {
                (e.free)(e.ptr);
            }
        }
    }
}

struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A runtime IO future as a Rust future with output `io::Result<u64>` (the result's `value`).
pub(crate) struct Op {
    shared: Arc<Shared>,
    /// The runtime, to spawn the fallback helper when no luminal context is current.
    rt: Runtime,
    helper: *mut luminal_task,
}

// SAFETY: see `Inner`; the helper handle is a thread-safe token.
unsafe impl Send for Op {}
unsafe impl Sync for Op {}

impl Op {
    /// Makes an operation: `make(result, out)` calls the `luminal_*` constructor. `extra` is output memory the
    /// constructor was given (freed after the C future). Errors of the constructor map to `io::Error`.
    pub(crate) fn new(
        rt: &Runtime,
        extra: Option<Extra>,
        make: impl FnOnce(*mut ffi::luminal_io_result, *mut ffi::luminal_future) -> ffi::luminal_status,
    ) -> io::Result<Op> {
        Op::with_extra(rt, extra, make).map_err(|(e, extra)| {
            if let Some(x) = extra {
                // SAFETY: the constructor failed, so nothing borrows it.
                unsafe { (x.free)(x.ptr) }
            }
            e
        })
    }

    /// Like [`new`](Self::new), but a failed constructor hands `extra` back instead of freeing it.
    fn with_extra(
        rt: &Runtime,
        extra: Option<Extra>,
        make: impl FnOnce(*mut ffi::luminal_io_result, *mut ffi::luminal_future) -> ffi::luminal_status,
    ) -> Result<Op, (io::Error, Option<Extra>)> {
        let result = Box::into_raw(Box::<ffi::luminal_io_result>::default());
        let mut fut = ffi::luminal_future { state: ptr::null_mut(), poll: None, drop: None, drop_output: None };
        let status = make(result, &mut fut);
        let ok = status == ffi::LUMINAL_OK && fut.poll.is_some();
        let inner = Inner {
            fut: (status == ffi::LUMINAL_OK).then_some(fut),
            result,
            extra,
            done: None,
            waker: None,
            helper_gone: false,
            claimed: false,
            fd_result: false,
        };
        let shared = Arc::new(Shared { inner: Mutex::new(inner) });
        if !ok {
            let extra = shared.lock().extra.take();
            drop(shared);
            let status = if status == ffi::LUMINAL_OK { ffi::LUMINAL_E_INTERNAL } else { status };
            return Err((status_error(status, 0), extra));
        }
        Ok(Op { shared, rt: rt.clone(), helper: ptr::null_mut() })
    }

    /// Takes the extra memory back out once the operation is over (the C future is dropped first, so nothing
    /// borrows it any more).
    fn take_extra(&self) -> Option<Extra> {
        let mut inner = self.shared.lock();
        inner.drop_c();
        inner.extra.take()
    }

    /// The result's value is a new file descriptor (closed if the `Op` is dropped after completing unclaimed).
    pub(crate) fn fd_result(self) -> Op {
        self.shared.lock().fd_result = true;
        self
    }

    /// The extra output memory, to read after completion.
    pub(crate) fn extra_ptr(&self) -> *mut c_void {
        self.shared.lock().extra.as_ref().map_or(ptr::null_mut(), |e| e.ptr)
    }

    fn start_helper(&mut self, lcx: Option<*mut luminal_context>) -> io::Result<()> {
        let state = Box::into_raw(Box::new(self.shared.clone())) as *mut c_void;
        let fut = ffi::luminal_future { state, poll: Some(helper_poll), drop: Some(helper_drop), drop_output: None };
        let target = match lcx {
            Some(lcx) => SpawnTarget::Context(lcx),
            None => SpawnTarget::Runtime(self.rt.as_raw()),
        };
        self.helper = spawn_raw_future(target, fut).map_err(io::Error::from)?;
        Ok(())
    }
}

fn finished(r: ffi::luminal_io_result) -> io::Result<u64> {
    match r.status {
        ffi::LUMINAL_OK => Ok(r.value),
        s => Err(status_error(s, r.os_error)),
    }
}

/// Maps a status (and errno for `LUMINAL_E_IO`) to an `io::Error`.
pub(crate) fn status_error(status: ffi::luminal_status, os_error: i32) -> io::Error {
    match status {
        ffi::LUMINAL_E_IO => io::Error::from_raw_os_error(os_error),
        ffi::LUMINAL_E_CANCELLED => io::Error::other("luminal: IO operation cancelled"),
        s => RuntimeError::from_status(s).into(),
    }
}

impl Future for Op {
    type Output = io::Result<u64>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        let shared = this.shared.clone();
        let mut inner = shared.lock();
        if let Some(r) = inner.done {
            inner.claimed = true;
            return Poll::Ready(finished(r));
        }
        if inner.helper_gone {
            return Poll::Ready(Err(status_error(ffi::LUMINAL_E_SHUTDOWN, 0)));
        }
        if this.helper.is_null() {
            if let Some(lcx) = context::current_for(cx.waker()) {
                // SAFETY: an owned, undropped C future polled with the current task's context.
                if unsafe { inner.poll_c(lcx) } {
                    inner.claimed = true;
                    return Poll::Ready(finished(inner.done.unwrap()));
                }
                return Poll::Pending;
            }
        }
        let lcx = context::current();
        match &inner.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => inner.waker = Some(cx.waker().clone()),
        }
        if this.helper.is_null() {
            drop(inner); // a failed spawn drops the helper at once, which locks
            if let Err(e) = this.start_helper(lcx) {
                return Poll::Ready(Err(e));
            }
        }
        Poll::Pending
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        // Drop the C future here and now: this waits for the kernel to let go of the caller's buffer.
        self.shared.lock().drop_c();
        if !self.helper.is_null() {
            // SAFETY: we own the helper's join handle.
            unsafe {
                ffi::luminal_task_abort(self.helper);
                ffi::luminal_task_release(self.helper);
            }
        }
    }
}

unsafe extern "C" fn helper_poll(
    state: *mut c_void,
    cx: *mut luminal_context,
    output: *mut *mut c_void,
) -> ffi::luminal_poll {
    let shared = &*(state as *const Arc<Shared>);
    if !output.is_null() {
        *output = ptr::null_mut();
    }
    let waker = {
        let mut inner = shared.lock();
        if inner.fut.is_none() {
            return ffi::LUMINAL_POLL_READY; // completed, or the Op was dropped
        }
        if !inner.poll_c(cx) {
            return ffi::LUMINAL_POLL_PENDING;
        }
        inner.waker.take()
    };
    if let Some(w) = waker {
        let _ = catch_unwind(AssertUnwindSafe(|| w.wake()));
    }
    ffi::LUMINAL_POLL_READY
}

unsafe extern "C" fn helper_drop(state: *mut c_void) {
    let shared = Box::from_raw(state as *mut Arc<Shared>);
    let waker = {
        let mut inner = shared.lock();
        if inner.done.is_none() && inner.fut.is_some() {
            inner.helper_gone = true;
            inner.waker.take()
        } else {
            None
        }
    };
    if let Some(w) = waker {
        let _ = catch_unwind(AssertUnwindSafe(|| w.wake()));
    }
    let _ = catch_unwind(AssertUnwindSafe(move || drop(shared)));
}

/// An operation on a buffer it owns while it runs: the buffer is moved in (into the operation's heap state, like
/// its result slot) and handed back with the result by [`run`](Self::run). If the future is dropped mid-flight the
/// buffer is freed after the kernel let go of it; if the future is leaked (`mem::forget`), the buffer leaks with
/// it — it is never freed or handed back while the kernel may still use it.
pub(crate) struct OwnedOp(Result<Op, (io::Error, Vec<u8>)>);

/// Starts an [`OwnedOp`] on `buf`: `make(ptr, len, result, out)` calls the `luminal_*` constructor with the
/// buffer's memory. (Not async: the raw pointers stay out of the future, which is `Send`.)
pub(crate) fn with_owned_buffer(
    rt: &Runtime,
    mut buf: Vec<u8>,
    make: impl FnOnce(*mut c_void, usize, *mut ffi::luminal_io_result, *mut ffi::luminal_future) -> ffi::luminal_status,
) -> OwnedOp {
    unsafe fn free(p: *mut c_void) {
        drop(Box::from_raw(p as *mut Vec<u8>));
    }
    // Boxing the Vec moves its header, not its heap memory: `ptr` stays valid while the box lives.
    let (ptr, len) = (buf.as_mut_ptr() as *mut c_void, buf.len());
    let extra = Extra { ptr: Box::into_raw(Box::new(buf)) as *mut c_void, free };
    OwnedOp(Op::with_extra(rt, Some(extra), |res, out| make(ptr, len, res, out)).map_err(|(e, x)| (e, owned_vec(x))))
}

/// The Vec behind an [`OwnedOp`]'s extra memory (empty if there is none).
fn owned_vec(e: Option<Extra>) -> Vec<u8> {
    // SAFETY: the only Extra of an OwnedOp is the boxed Vec made by `with_owned_buffer`.
    e.map_or_else(Vec::new, |e| *unsafe { Box::from_raw(e.ptr as *mut Vec<u8>) })
}

impl OwnedOp {
    pub(crate) async fn run(self) -> (io::Result<u64>, Vec<u8>) {
        match self.0 {
            Err((e, buf)) => (Err(e), buf),
            Ok(mut op) => {
                let r = (&mut op).await;
                let buf = owned_vec(op.take_extra());
                (r, buf)
            }
        }
    }
}
