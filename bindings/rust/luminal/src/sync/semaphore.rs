//! [`Semaphore`] on `luminal_semaphore_*` (fair, strict FIFO, batches of permits) and [`Mutex`] on a one-permit
//! semaphore.
use super::RawFut;
use crate::await_raw::{AwaitRaw, RawPoll};
use crate::ffi::{self, luminal_context, luminal_semaphore};
use crate::{Runtime, RuntimeError};
use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicI32, Ordering};
use std::task::{Context, Poll};

/// A fair counting semaphore (`luminal_semaphore`): requests are served in order of arrival, a request for `n`
/// permits takes them all at once, and a later request waits behind an earlier one even when it would fit.
pub struct Semaphore {
    raw: NonNull<luminal_semaphore>,
    home: *mut ffi::luminal_runtime,
}

// SAFETY: the C handle may be used from any thread concurrently; `home` is a plain token value.
unsafe impl Send for Semaphore {}
// SAFETY: as above: every method takes `&self`.
unsafe impl Sync for Semaphore {}

/// The error of [`Semaphore::acquire`]: the semaphore was closed (or, outside a task, the runtime that hosts the
/// helper task is gone).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct AcquireError(());
impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}
impl std::error::Error for AcquireError {}

/// The error of [`Semaphore::try_acquire`].
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Too few permits free now (or requests are waiting).
    NoPermits,
}
impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryAcquireError::Closed => "semaphore closed",
            TryAcquireError::NoPermits => "no permits available",
        })
    }
}
impl std::error::Error for TryAcquireError {}

impl Semaphore {
    /// Makes a semaphore with `permits` free permits on `rt` (which hosts the helper task of an [`Acquire`]
    /// awaited outside a task).
    pub fn new<R: AsRef<Runtime> + ?Sized>(rt: &R, permits: u64) -> Result<Semaphore, RuntimeError> {
        let rt = rt.as_ref();
        let mut raw = ptr::null_mut();
        // SAFETY: `rt` is a runtime handle (a stale one is reported).
        RuntimeError::check(unsafe { ffi::luminal_semaphore_new(rt.as_raw(), permits, &mut raw) })?;
        let raw = NonNull::new(raw).ok_or(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL))?;
        Ok(Semaphore { raw, home: rt.home() })
    }

    /// Waits for `n` permits (in FIFO order); the [`SemaphorePermit`] gives them back when dropped. Dropping the
    /// future before it completed returns whatever was granted to it.
    pub fn acquire(&self, n: u32) -> Acquire<'_> {
        Acquire { sem: self, n, op: None }
    }

    /// Takes `n` permits now, never waiting.
    pub fn try_acquire(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        // SAFETY: a live handle.
        match unsafe { ffi::luminal_semaphore_try_acquire(self.raw.as_ptr(), n) } {
            ffi::LUMINAL_OK => Ok(SemaphorePermit { sem: self, n }),
            ffi::LUMINAL_E_EMPTY => Err(TryAcquireError::NoPermits),
            _ => Err(TryAcquireError::Closed),
        }
    }

    /// Adds `n` permits, serving waiting requests oldest first. Ignored after [`close`](Self::close).
    pub fn add_permits(&self, n: u32) {
        // SAFETY: a live handle.
        unsafe { ffi::luminal_semaphore_add_permits(self.raw.as_ptr(), n) };
    }

    /// Closes the semaphore: waiting and later acquires fail with [`AcquireError`]; permits held stay held.
    pub fn close(&self) {
        // SAFETY: a live handle.
        unsafe { ffi::luminal_semaphore_close(self.raw.as_ptr()) };
    }

    /// The raw handle, still owned by this value (for C code; do not release it).
    pub fn as_raw(&self) -> *mut luminal_semaphore {
        self.raw.as_ptr()
    }
}

impl Drop for Semaphore {
    fn drop(&mut self) {
        // SAFETY: we own the handle; released once. Nothing borrowing it is alive.
        unsafe { ffi::luminal_semaphore_release(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore").field("raw", &self.raw).finish()
    }
}

/// Permits taken from a [`Semaphore`]; dropping it gives them back (`luminal_semaphore_add_permits`).
#[must_use = "the permits go back as soon as the permit is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: u32,
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> u32 {
        self.n
    }

    /// Keeps the permits taken: they do not go back.
    pub fn forget(mut self) {
        self.n = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.sem.add_permits(self.n);
        }
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").field("n", &self.n).finish()
    }
}

struct AcquireOp {
    fut: RawFut,
    /// The C future's `*result` (boxed: the op moves; the C future borrows it until it is dropped).
    result: Box<AtomicI32>,
    /// The semaphore (borrowed: the `Acquire` borrows the `Semaphore`), to give back unclaimed permits.
    raw: *mut luminal_semaphore,
    n: u32,
    /// Granted and not claimed by the `Acquire` yet.
    granted: bool,
}

// SAFETY: the raw handle is a thread-safe token; the rest is owned.
unsafe impl Send for AcquireOp {}

impl RawPoll for AcquireOp {
    type Output = ffi::luminal_status;

    unsafe fn poll_raw(&mut self, lcx: *mut luminal_context) -> Poll<ffi::luminal_status> {
        // SAFETY: `lcx` is live (the caller's contract).
        match unsafe { self.fut.poll(lcx) } {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => {
                let st = self.result.load(Ordering::Acquire);
                self.granted = st == ffi::LUMINAL_OK;
                Poll::Ready(st)
            }
        }
    }

    fn helper_failed(&mut self, e: RuntimeError) -> ffi::luminal_status {
        self.fut.drop_now(); // gives back anything granted to it
        if e.status() == ffi::LUMINAL_OK {
            ffi::LUMINAL_E_INTERNAL
        } else {
            e.status()
        }
    }
}

impl Drop for AcquireOp {
    fn drop(&mut self) {
        self.fut.drop_now();
        if self.granted && self.n > 0 {
            // Granted, never handed out as a permit: give the permits back.
            // SAFETY: the `Acquire` that owns this op borrows the live `Semaphore`.
            unsafe { ffi::luminal_semaphore_add_permits(self.raw, self.n) };
        }
    }
}

/// The future of [`Semaphore::acquire`]. It joins the queue when first polled.
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    n: u32,
    /// Made at the first poll; `None` again once completed.
    op: Option<AwaitRaw<AcquireOp>>,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.op.is_none() {
            let result = Box::new(AtomicI32::new(ffi::LUMINAL_E_CLOSED));
            let mut fut = RawFut::empty();
            // SAFETY: a live handle; `result` is heap memory the op keeps until the C future is dropped.
            let st =
                unsafe { ffi::luminal_semaphore_acquire(this.sem.raw.as_ptr(), this.n, result.as_ptr(), &mut fut) };
            if st != ffi::LUMINAL_OK {
                return Poll::Ready(Err(AcquireError(())));
            }
            let op = AcquireOp { fut: RawFut::new(fut), result, raw: this.sem.raw.as_ptr(), n: this.n, granted: false };
            this.op = Some(AwaitRaw::new(op, this.sem.home));
        }
        let op = this.op.as_mut().expect("set above");
        let st = std::task::ready!(Pin::new(&mut *op).poll(cx));
        // Claim the permits before the op (and its give-back on drop) goes.
        let claimed = op.source_mut(|s| std::mem::replace(&mut s.granted, false)).unwrap_or(false);
        this.op = None;
        Poll::Ready(if st == ffi::LUMINAL_OK && claimed {
            Ok(SemaphorePermit { sem: this.sem, n: this.n })
        } else {
            Err(AcquireError(()))
        })
    }
}

/// An async mutex on a one-permit [`Semaphore`] (FIFO: waiters get the lock in order of arrival). Like the
/// semaphore, its handle belongs to the runtime; the value lives in this process's memory.
pub struct Mutex<T: ?Sized> {
    sem: Semaphore,
    value: UnsafeCell<T>,
}

// SAFETY: the value moves with the mutex.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: the one permit gives one guard at a time exclusive access to the value.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// The error of [`Mutex::try_lock`]: the lock is held (or requested).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct TryLockError(());
impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("operation would block")
    }
}
impl std::error::Error for TryLockError {}

impl<T> Mutex<T> {
    /// A mutex holding `value`, on `rt` (which hosts the helper task of a `lock` awaited outside a task).
    pub fn new<R: AsRef<Runtime> + ?Sized>(rt: &R, value: T) -> Result<Mutex<T>, RuntimeError> {
        Ok(Mutex { sem: Semaphore::new(rt, 1)?, value: UnsafeCell::new(value) })
    }

    /// The value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock (FIFO).
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        match self.sem.acquire(1).await {
            Ok(permit) => {
                permit.forget();
                MutexGuard { lock: self }
            }
            Err(_) => panic!("luminal::sync::Mutex: the lock could not be acquired (the runtime hosting it is gone)"),
        }
    }

    /// Takes the lock now if it is free and nobody waits.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.sem.try_acquire(1) {
            Ok(permit) => {
                permit.forget();
                Ok(MutexGuard { lock: self })
            }
            Err(_) => Err(TryLockError(())),
        }
    }

    /// The value, through a unique borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex").finish_non_exhaustive()
    }
}

/// The lock of a [`Mutex`]: derefs to the value; dropping it unlocks.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    lock: &'a Mutex<T>,
}

// SAFETY: a guard gives `&T` through `&MutexGuard`: shareable if `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the mutex's one permit: no other guard exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this borrow unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.add_permits(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
