//! One runtime IO operation (a `luminal_future` of the IO personalities) as a Rust future: [`Op`].
//!
//! # Polling
//!
//! The runtime's IO futures must be polled with a real `luminal_context`: an [`Op`] is an
//! [`AwaitRaw`](crate::await_raw) of an [`IoOp`] source, awaited like a `JoinHandle` or a `Sleep` (fast path with
//! the awaiting task's context; elsewhere a helper task polls it). The C future stays owned by the `Op` also while
//! a helper polls it, so dropping the `Op` always drops the C future synchronously, which is what keeps borrowed
//! buffers safe.
//!
//! # Buffers
//!
//! The C future borrows the caller's buffer, the `luminal_io_result` and any output struct until it completes or
//! is dropped; its drop cancels an operation in flight and waits until the kernel (or the pool thread) has let
//! go of the buffer. The `Op` drops the C future in its own `Drop`, so a Rust future borrowing `&mut [u8]` that
//! is dropped mid-flight (an aborted task, a lost `select`, a timeout) leaves the buffer untouched afterwards.
//! The result and output structs live on the heap, owned by the source, and are freed only after the C future
//! was dropped (if the `Op` is leaked with `mem::forget`, they leak too rather than dangle).

use crate::await_raw::{AwaitRaw, RawPoll};
use crate::ffi::{self, luminal_context};
use crate::{Runtime, RuntimeError};
use std::ffi::c_void;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll};

/// Heap memory the C future writes into (an output struct), freed after the C future is dropped.
pub(crate) struct Extra {
    pub(crate) ptr: *mut c_void,
    pub(crate) free: unsafe fn(*mut c_void),
}

/// The source of an [`Op`]: the C future and the memory it borrows.
pub(crate) struct IoOp {
    /// The C future, owned until it completes or the source is dropped.
    fut: Option<ffi::luminal_future>,
    /// The runtime's result slot (borrowed by the C future), from `Box::into_raw`.
    result: *mut ffi::luminal_io_result,
    extra: Option<Extra>,
    /// The result's value is a new file descriptor (closed if nobody claims it).
    fd_result: bool,
}

// SAFETY: the raw pointers are heap memory owned by `IoOp` (and borrowed by the C future, which may be polled and
// dropped on any thread, never concurrently: `&mut IoOp` sees to that).
unsafe impl Send for IoOp {}

impl IoOp {
    fn drop_c(&mut self) {
        if let Some(f) = self.fut.take() {
            if let Some(d) = f.drop {
                // SAFETY: the future's drop, called once (`take` above); it blocks until the kernel let go of the
                // buffers.
                unsafe { d(f.state) }
            }
        }
    }
}

/// A completed operation's result; a new fd in it is closed unless [`claim`](Self::claim)ed.
pub(crate) struct IoDone {
    r: ffi::luminal_io_result,
    fd: bool,
}

impl IoDone {
    fn claim(mut self) -> ffi::luminal_io_result {
        self.fd = false;
        self.r
    }
}

impl Drop for IoDone {
    fn drop(&mut self) {
        if self.fd && self.r.status == ffi::LUMINAL_OK {
            use std::os::fd::FromRawFd;
            // SAFETY: a new fd the runtime opened for this operation, never handed to anyone.
            drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(self.r.value as i32) });
        }
    }
}

impl RawPoll for IoOp {
    type Output = IoDone;

    unsafe fn poll_raw(&mut self, lcx: *mut luminal_context) -> Poll<IoDone> {
        let Some(f) = self.fut else {
            // Cannot happen (not polled after Ready); answer rather than hang.
            return Poll::Ready(IoDone { r: failed(ffi::LUMINAL_E_INTERNAL), fd: false });
        };
        let mut out = ptr::null_mut();
        let poll = f.poll.expect("checked by Op::with_extra");
        // SAFETY: an owned, undropped C future, polled with the caller's live context (never concurrently).
        if unsafe { poll(f.state, lcx, &mut out) } != ffi::LUMINAL_POLL_READY {
            return Poll::Pending;
        }
        // SAFETY: the C future wrote the result before completing; the slot is ours.
        let r = unsafe { *self.result };
        self.drop_c();
        Poll::Ready(IoDone { r, fd: self.fd_result })
    }

    fn helper_failed(&mut self, e: RuntimeError) -> IoDone {
        IoDone { r: failed(e.status()), fd: false }
    }
}

impl Drop for IoOp {
    fn drop(&mut self) {
        self.drop_c();
        // SAFETY: nothing borrows them any more (the C future is gone); each is freed once, here.
        unsafe {
            drop(Box::from_raw(self.result));
            if let Some(e) = self.extra.take() {
                (e.free)(e.ptr);
            }
        }
    }
}

fn failed(status: ffi::luminal_status) -> ffi::luminal_io_result {
    ffi::luminal_io_result { status, os_error: 0, value: 0 }
}

/// A runtime IO future as a Rust future with output `io::Result<u64>` (the result's `value`).
pub(crate) struct Op {
    fut: AwaitRaw<IoOp>,
}

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
        let mut source = IoOp { fut: (status == ffi::LUMINAL_OK).then_some(fut), result, extra, fd_result: false };
        if !ok {
            let extra = source.extra.take();
            drop(source);
            let status = if status == ffi::LUMINAL_OK { ffi::LUMINAL_E_INTERNAL } else { status };
            return Err((status_error(status, 0), extra));
        }
        Ok(Op { fut: AwaitRaw::new(source, rt.home()) })
    }

    /// Takes the extra memory back out once the operation is over (the C future is dropped first, so nothing
    /// borrows it any more).
    fn take_extra(&mut self) -> Option<Extra> {
        self.fut.source_mut(|s| {
            s.drop_c();
            s.extra.take()
        })?
    }

    /// The result's value is a new file descriptor (closed if the `Op` is dropped after completing unclaimed).
    pub(crate) fn fd_result(mut self) -> Op {
        self.fut.source_mut(|s| s.fd_result = true);
        self
    }

    /// The extra output memory, to read after completion.
    pub(crate) fn extra_ptr(&self) -> *mut c_void {
        self.fut.source_ref(|s| s.extra.as_ref().map_or(ptr::null_mut(), |e| e.ptr)).unwrap_or(ptr::null_mut())
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
        let done = std::task::ready!(Pin::new(&mut self.get_mut().fut).poll(cx));
        Poll::Ready(finished(done.claim()))
    }
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
        // SAFETY: `p` is the boxed Vec made below; the source frees its extra memory once.
        drop(unsafe { Box::from_raw(p as *mut Vec<u8>) });
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
