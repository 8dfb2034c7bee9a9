//! [`JoinSet`] on `luminal_task_set_*`: tasks joined in the order they finish (tokio's `JoinSet`).
//!
//! Every member is spawned as one type-erased future (`Pin<Box<dyn Future<Output = T>>>`), so that the set can
//! take any member's output — the task cell of [`task`](crate::task) — with one monomorphised function: one more
//! allocation per spawn than [`spawn`](crate::spawn), the price of a set of futures of different types.
//!
//! Cancellation: a [`JoinNext`] dropped before it completed takes nothing from the runtime's set; one dropped after
//! its C future took a member (a helper task completed it) puts that member's result back into the set's stash,
//! which the next `join_next` returns first. So no member is lost and each output is dropped exactly once: taken
//! by a `join_next`, or dropped by `luminal_task_set_release` (with the cell's `drop_output`) or with the stash.
use crate::await_raw::{AwaitRaw, RawPoll};
use crate::ffi::{self, luminal_context, luminal_runtime, luminal_task_set};
use crate::sync::RawFut;
use crate::task::{drop_cell_output, into_raw_future, take_cell_output, Builder};
use crate::{JoinError, Runtime, RuntimeError};
use std::collections::VecDeque;
use std::ffi::c_void;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll};

/// What every member of a `JoinSet<T>` is spawned as.
type Erased<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A set of tasks on one runtime, joined in the order they finish (`luminal_task_set`).
///
/// ```no_run
/// use luminal::task::JoinSet;
/// let rt = luminal::Runtime::new().unwrap();
/// let sum = rt.block_on({
///     let rt = rt.clone();
///     async move {
///         let mut set = JoinSet::new(&rt);
///         for i in 0..10u64 {
///             set.spawn(async move { i * i });
///         }
///         let mut sum = 0;
///         while let Some(r) = set.join_next().await {
///             sum += r.unwrap();
///         }
///         sum
///     }
/// });
/// assert_eq!(sum, 285);
/// ```
///
/// Dropping the set aborts the members still running; outputs never joined are dropped (exactly once, when each
/// task finishes). A panic in a member comes out of [`join_next`](Self::join_next) as a [`JoinError`]
/// (`is_panic`), an aborted member as a cancelled one.
pub struct JoinSet<T> {
    raw: NonNull<luminal_task_set>,
    /// Where a `JoinNext` awaited outside a task runs its helper (a borrowed runtime token).
    home: *mut luminal_runtime,
    /// Members a dropped `JoinNext` had taken but not returned: handed out first.
    stash: VecDeque<Result<T, JoinError>>,
    _t: PhantomData<fn() -> T>,
}

// SAFETY: the C handle may be used from any thread; `home` is a plain token; the stash holds `T: Send` values and
// `&JoinSet` only reads the C length and the stash's length.
unsafe impl<T: Send> Send for JoinSet<T> {}
// SAFETY: see above.
unsafe impl<T: Send> Sync for JoinSet<T> {}

impl<T: Send + 'static> JoinSet<T> {
    /// An empty set on `rt` (a [`Runtime`] or a [`Handle`](crate::Handle)). Panics if the runtime refuses (shut
    /// down): see [`try_new`](Self::try_new).
    pub fn new<R: AsRef<Runtime> + ?Sized>(rt: &R) -> JoinSet<T> {
        Self::try_new(rt).expect("luminal::task::JoinSet::new: the runtime refused the task set")
    }

    /// Like [`new`](Self::new), returning the runtime's error (`ErrorKind::Shutdown`, ...).
    pub fn try_new<R: AsRef<Runtime> + ?Sized>(rt: &R) -> Result<JoinSet<T>, RuntimeError> {
        let rt = rt.as_ref();
        let mut raw = ptr::null_mut();
        // SAFETY: `rt` is a runtime handle (a stale one is reported).
        RuntimeError::check(unsafe { ffi::luminal_task_set_new(rt.as_raw(), &mut raw) })?;
        let raw = NonNull::new(raw).ok_or(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL))?;
        Ok(JoinSet { raw, home: rt.home(), stash: VecDeque::new(), _t: PhantomData })
    }

    /// Spawns `future` onto the set's runtime as a member. Panics if the runtime refuses (shut down): see
    /// [`try_spawn`](Self::try_spawn).
    pub fn spawn<F>(&mut self, future: F)
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.try_spawn(future).expect("luminal::task::JoinSet::spawn: the runtime refused the task")
    }

    /// Like [`spawn`](Self::spawn), returning the runtime's error (the future is then dropped).
    pub fn try_spawn<F>(&mut self, future: F) -> Result<(), RuntimeError>
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.spawn_raw(future, ptr::null())
    }

    /// Spawns with a [`Builder`]'s options (priority, scope; unset ones take the defaults: the set's spawns come
    /// from no task). `ErrorKind::Shutdown` for a closed scope, `ErrorKind::InvalidArgument` for another
    /// runtime's scope; the future is then dropped.
    pub fn try_spawn_with<F>(&mut self, builder: Builder<'_>, future: F) -> Result<(), RuntimeError>
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.spawn_raw(future, &builder.raw_options())
    }

    fn spawn_raw<F>(&mut self, future: F, opts: *const ffi::luminal_spawn_options) -> Result<(), RuntimeError>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let erased: Erased<T> = Box::pin(future);
        // SAFETY: a live set; the runtime takes the future also on failure; `opts` is NULL or borrowed for the call.
        RuntimeError::check(unsafe { ffi::luminal_task_set_spawn(self.raw.as_ptr(), into_raw_future(erased), opts) })
    }

    /// Waits for the next member to finish and returns its result, in finishing order; `None` when the set is
    /// empty. Cancellation-safe: dropping the future loses no member.
    pub fn join_next(&mut self) -> JoinNext<'_, T> {
        JoinNext { set: self, op: None }
    }

    /// The members spawned and not yet returned by [`join_next`](Self::join_next), finished or not.
    pub fn len(&self) -> usize {
        // SAFETY: a live set.
        unsafe { ffi::luminal_task_set_len(self.raw.as_ptr()) + self.stash.len() }
    }

    /// True if [`len`](Self::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Aborts every member still running; they stay in the set, and [`join_next`](Self::join_next) returns them
    /// (cancelled, or `Ok` for one that completed before the abort took effect).
    pub fn abort_all(&mut self) {
        // SAFETY: a live set.
        unsafe { ffi::luminal_task_set_abort_all(self.raw.as_ptr()) };
    }

    /// Aborts every member and waits until all have finished (their results are dropped).
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// The raw set, still owned by this value (for C code: `luminal_task_set_len`, ...; do not release it).
    pub fn as_raw(&self) -> *mut luminal_task_set {
        self.raw.as_ptr()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        // SAFETY: we own the handle; released once. No JoinNext borrows it any more (they borrow `&mut self`).
        unsafe { ffi::luminal_task_set_release(self.raw.as_ptr()) }
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("raw", &self.raw).field("stashed", &self.stash.len()).finish()
    }
}

/// The C join_next future's out-parameters (heap: they must not move while it runs).
struct Outs {
    output: *mut c_void,
    result: ffi::luminal_status,
}

/// The C join_next future, its out-parameters, and the member it took until the [`JoinNext`] claims it.
struct JoinNextOp<T> {
    fut: RawFut,
    outs: *mut Outs,
    /// A member taken from the C set: its join status and output (owned here until claimed).
    got: Option<(ffi::luminal_status, *mut c_void)>,
    _t: PhantomData<fn() -> T>,
}

// SAFETY: `outs` is owned heap memory; `got` holds a task output of `T: Send`.
unsafe impl<T: Send> Send for JoinNextOp<T> {}

impl<T: Send + 'static> RawPoll for JoinNextOp<T> {
    /// The C `*result`; the member, if one was taken, is in `got`.
    type Output = ffi::luminal_status;

    unsafe fn poll_raw(&mut self, lcx: *mut luminal_context) -> Poll<ffi::luminal_status> {
        // SAFETY: `lcx` is live (the caller's contract).
        if unsafe { self.fut.poll(lcx) }.is_pending() {
            return Poll::Pending;
        }
        // SAFETY: the C future wrote `outs` at completion and was dropped: nobody else touches them.
        let (st, out) = unsafe { ((*self.outs).result, (*self.outs).output) };
        if st != ffi::LUMINAL_E_EMPTY && st != ffi::LUMINAL_E_CLOSED {
            self.got = Some((st, out));
        }
        Poll::Ready(st)
    }

    fn helper_failed(&mut self, _e: RuntimeError) -> ffi::luminal_status {
        self.fut.drop_now(); // never completed: took nothing
        ffi::LUMINAL_E_CLOSED // the runtime is gone: nothing more will come out of the set
    }
}

/// A member's result from its join status and output.
///
/// # Safety
/// `out` is the output of a member of a `JoinSet<T>` (spawned as `Erased<T>`), now the caller's.
unsafe fn member_result<T>(st: ffi::luminal_status, out: *mut c_void) -> Result<T, JoinError> {
    match st {
        ffi::LUMINAL_OK if out.is_null() => Err(JoinError::from_status(ffi::LUMINAL_E_INTERNAL)),
        // SAFETY: the caller's contract.
        ffi::LUMINAL_OK => unsafe { take_cell_output::<Erased<T>>(out) }.map_err(JoinError::panic),
        s => Err(JoinError::from_status(s)),
    }
}

impl<T> Drop for JoinNextOp<T> {
    fn drop(&mut self) {
        self.fut.drop_now();
        // SAFETY: allocated in `JoinNext::poll`, freed once, after the C future that borrowed it is gone.
        drop(unsafe { Box::from_raw(self.outs) });
        if let Some((ffi::LUMINAL_OK, out)) = self.got.take() {
            // Taken and never claimed (the set itself is going): drop it.
            // SAFETY: the output is ours; `drop_cell_output` frees it once (NULL is ignored).
            unsafe { drop_cell_output::<Erased<T>>(out) }
        }
    }
}

/// The future of [`JoinSet::join_next`].
#[must_use = "futures do nothing unless awaited"]
pub struct JoinNext<'a, T: Send + 'static> {
    set: &'a mut JoinSet<T>,
    op: Option<AwaitRaw<JoinNextOp<T>>>,
}

impl<T: Send + 'static> Future for JoinNext<'_, T> {
    type Output = Option<Result<T, JoinError>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.op.is_none() {
            if let Some(r) = this.set.stash.pop_front() {
                return Poll::Ready(Some(r));
            }
            if this.set.is_empty() {
                return Poll::Ready(None); // nothing can join the set meanwhile: spawns need `&mut JoinSet`
            }
            let outs = Box::into_raw(Box::new(Outs { output: ptr::null_mut(), result: ffi::LUMINAL_E_CLOSED }));
            let mut fut = RawFut::empty();
            // SAFETY: a live set; `outs` is heap memory owned by the op below, freed only after the C future.
            let st = unsafe {
                ffi::luminal_task_set_join_next(this.set.raw.as_ptr(), &mut (*outs).output, &mut (*outs).result, &mut fut)
            };
            let op = JoinNextOp::<T> { fut: RawFut::new(fut), outs, got: None, _t: PhantomData };
            if st != ffi::LUMINAL_OK {
                return Poll::Ready(None); // a live set always makes one: only a forked runtime refuses
            }
            this.op = Some(AwaitRaw::new(op, this.set.home));
        }
        let a = this.op.as_mut().expect("set above");
        std::task::ready!(Pin::new(&mut *a).poll(cx));
        let got = a.source_mut(|s| s.got.take()).flatten();
        this.op = None;
        // SAFETY: a member of this set, taken from the C set and now ours.
        Poll::Ready(got.map(|(st, out)| unsafe { member_result(st, out) }))
    }
}

impl<T: Send + 'static> Drop for JoinNext<'_, T> {
    fn drop(&mut self) {
        // A member a helper task took meanwhile goes back (to the stash): nothing is lost.
        if let Some(op) = self.op.take() {
            if let Some(mut src) = op.into_source() {
                if let Some((st, out)) = src.got.take() {
                    // SAFETY: a member of this set, ours now.
                    self.set.stash.push_back(unsafe { member_result(st, out) });
                }
            }
        }
    }
}
