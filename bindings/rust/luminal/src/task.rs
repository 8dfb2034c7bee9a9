//! Tasks: spawning Rust futures ([`Builder`], and the simple [`spawn`](crate::spawn) /
//! [`Runtime::spawn`](crate::Runtime::spawn) / [`Handle::spawn`](crate::Handle::spawn)), awaiting them
//! ([`JoinHandle`], [`RawTask`] for tasks that cross the C ABI), in sets ([`JoinSet`]: joined in finishing order)
//! and combined ([`join_all`], [`select`], [`join!`](crate::join!): children polled inside the awaiting task).
//!
//! # The task cell
//!
//! A spawned future `F` becomes a `luminal_future` whose `state` is a `TaskCell`: ONE heap allocation per task
//! that holds the future and, once it completed, its output `Result<F::Output, PanicPayload>` in the same place
//! (the future is dropped in place by the READY poll, as tokio does, before the output is written). The READY poll
//! hands the cell itself over as the task's `void*` output; the cell is then owned twice — by the runtime's
//! `drop(state)` and by whoever takes the output (a [`JoinHandle`], or `drop_output` if nobody does) — and freed
//! by whichever of the two lets go last (an atomic count). `poll` is a monomorphised trampoline. Panics are caught
//! at the poll boundary (they never unwind through `extern "C"`): the task then completes with the panic payload.
//!
//! # Awaiting a task
//!
//! A [`JoinHandle`] (and a [`RawTask`]) is the crate's one adapter for runtime-provided futures
//! (`AwaitRaw`, in the private `await_raw` module) over a join source: `luminal_task_poll` with the awaiting task's own context
//! when it can (nothing allocated), else a helper task that polls it with its own context and wakes the Rust
//! waker. Outside any luminal task (a foreign executor, a plain thread) that helper is spawned on the runtime the
//! task was spawned on — no OS thread is started per handle. See the `await_raw` module docs.

use crate::await_raw::{AwaitRaw, RawPoll};
use crate::context::Enter;
use crate::error::{JoinError, PanicPayload};
use crate::ffi::{self, luminal_context, luminal_runtime, luminal_task};
use crate::{waker, RuntimeError};
use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::{self, ManuallyDrop};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

pub(crate) use crate::blocking::BlockingResult;
pub(crate) use crate::spawn::{spawn_on, spawn_raw_future, SpawnTarget};
pub use crate::combine::{join_all, select, JoinAll, Select};
#[doc(hidden)]
pub use crate::combine::__private;
pub use crate::join_set::{JoinNext, JoinSet};
pub use crate::spawn::{Builder, Spawner};

/// What a spawned Rust task hands over as its `void*` output.
pub(crate) type Output<T> = Result<T, PanicPayload>;

/// Polls `fut` with a Rust `Context` built from the luminal context (no allocation), with the context made
/// current for this copy of the crate, catching panics.
///
/// # Safety
/// `cx` must be the context of the poll in progress.
#[inline]
pub(crate) unsafe fn poll_in_context<F: Future>(
    fut: Pin<&mut F>,
    cx: *mut luminal_context,
) -> Poll<Result<F::Output, PanicPayload>> {
    // SAFETY: the caller's contract.
    unsafe { poll_in_context_of(fut, cx, ptr::null_mut()) }
}

/// [`poll_in_context`] with `luminal_context_runtime(cx)` already known (`rt`; NULL: not known).
///
/// # Safety
/// As for [`poll_in_context`]; `rt` is NULL or what `luminal_context_runtime(cx)` returns.
#[inline]
pub(crate) unsafe fn poll_in_context_of<F: Future>(
    fut: Pin<&mut F>,
    cx: *mut luminal_context,
    rt: *mut luminal_runtime,
) -> Poll<Result<F::Output, PanicPayload>> {
    let _enter = Enter::with_runtime(cx, rt);
    // SAFETY: `cx` is live for this whole function (the caller's contract), and the Waker does not outlive it.
    let waker = unsafe { waker::for_context(cx) };
    let mut rcx = Context::from_waker(&waker);
    match catch_unwind(AssertUnwindSafe(|| fut.poll(&mut rcx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
        Err(p) => Poll::Ready(Err(p)),
    }
}

// ------------------------------------------------------------------------------------------------------------
// The task cell
// ------------------------------------------------------------------------------------------------------------

/// What a [`TaskCell`] holds.
const STAGE_FUTURE: u8 = 0;
const STAGE_OUTPUT: u8 = 1;
const STAGE_EMPTY: u8 = 2;

/// The one allocation of a spawned task (see the module docs).
///
/// Ownership: `refs` counts the owners. 1 from the spawn on (the runtime's `drop(state)`, called exactly once);
/// the READY poll that hands the cell out as the output makes it 2 (nobody else can see the cell during the poll,
/// and the runtime orders the poll before `drop(state)` and before handing the output to anyone). The output's
/// owner takes it (`take_cell_output`: a JoinHandle, or `drop_cell_output` for an output nobody took) and then
/// lets go; `drop(state)` lets go too; the last one frees the cell (and drops whatever it still holds).
/// `stage` is only touched by the current sole user of the slot: the poll (sole by the runtime's contract),
/// `drop(state)` once it is the last owner, or the output's owner (the future is gone by then and `drop(state)`
/// does not touch the slot unless it is last, which the count orders after the taker's writes).
#[repr(C)]
struct TaskCell<F: Future> {
    refs: AtomicU8,
    stage: UnsafeCell<u8>,
    slot: UnsafeCell<Slot<F>>,
}

union Slot<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<Output<F::Output>>,
}

impl<F: Future> TaskCell<F> {
    /// Lets go of one owner; true if this was the last one (the caller then has the cell to itself).
    ///
    /// # Safety
    /// `cell` is a live cell and the caller one of its owners.
    #[inline]
    unsafe fn release(cell: *const TaskCell<F>) -> bool {
        // SAFETY: the cell lives while the caller owns it.
        let refs = unsafe { &(*cell).refs };
        // A count of 1 is ours alone: nobody can add an owner any more, so no atomic read-modify-write is needed.
        refs.load(Ordering::Acquire) == 1 || refs.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Drops what the cell still holds and frees it.
    ///
    /// # Safety
    /// The caller is the cell's last owner (`release` returned true).
    unsafe fn destroy(cell: *mut TaskCell<F>) {
        // SAFETY: the cell is ours alone (the caller's contract); `stage` says which union field is live, and it
        // is set to EMPTY before that field is dropped, so nothing is dropped twice; the Box is the one
        // `into_raw_future` made.
        unsafe {
            let slot = (*cell).slot.get();
            let stage = std::mem::replace(&mut *(*cell).stage.get(), STAGE_EMPTY);
            // A panicking destructor must not unwind into the runtime: swallow it (the panic hook has reported it).
            match stage {
                STAGE_FUTURE => {
                    let _ = catch_unwind(AssertUnwindSafe(|| ManuallyDrop::drop(&mut (*slot).future)));
                }
                STAGE_OUTPUT => {
                    let _ = catch_unwind(AssertUnwindSafe(|| ManuallyDrop::drop(&mut (*slot).output)));
                }
                _ => {}
            }
            drop(Box::from_raw(cell));
        }
    }
}

unsafe extern "C" fn poll_cell<F: Future>(
    state: *mut c_void,
    cx: *mut luminal_context,
    output: *mut *mut c_void,
) -> ffi::luminal_poll {
    let cell = state as *mut TaskCell<F>;
    // SAFETY: `state` is the cell made by `into_raw_future`, which never moves; the runtime never polls
    // concurrently, nor after READY, so the poll is the slot's sole user and the future (stage FUTURE) is live.
    let (slot, fut) = unsafe {
        let slot = (*cell).slot.get();
        debug_assert_eq!(*(*cell).stage.get(), STAGE_FUTURE);
        (slot, Pin::new_unchecked(&mut *(*slot).future))
    };
    // SAFETY: `cx` is the context of this poll.
    match unsafe { poll_in_context(fut, cx) } {
        Poll::Pending => ffi::LUMINAL_POLL_PENDING,
        // SAFETY: still the slot's sole user; the future is dropped once (stage set to EMPTY first) and the output
        // written into the memory it left; `output` is NULL or the runtime's slot for this poll.
        Poll::Ready(r) => unsafe {
            // Drop the finished future in place (its memory becomes the output's); a panicking destructor is
            // swallowed, the task's output stands.
            *(*cell).stage.get() = STAGE_EMPTY;
            let _ = catch_unwind(AssertUnwindSafe(|| ManuallyDrop::drop(&mut (*slot).future)));
            if output.is_null() {
                let _ = catch_unwind(AssertUnwindSafe(move || drop(r)));
            } else {
                ptr::write(ptr::addr_of_mut!((*slot).output), ManuallyDrop::new(r));
                *(*cell).stage.get() = STAGE_OUTPUT;
                (*cell).refs.store(2, Ordering::Relaxed);
                *output = state;
            }
            ffi::LUMINAL_POLL_READY
        },
    }
}

unsafe extern "C" fn drop_cell<F: Future>(state: *mut c_void) {
    let cell = state as *mut TaskCell<F>;
    // SAFETY: the runtime's `drop(state)`, called exactly once: it is one of the cell's owners.
    unsafe {
        if TaskCell::release(cell) {
            TaskCell::destroy(cell);
        }
    }
}

/// Takes the output out of a cell handed over by `poll_cell` and lets go of it.
///
/// # Safety
/// `out` is the output of a task spawned from `into_raw_future::<F>`, handed over to the caller (who thereby owns
/// it) exactly once.
pub(crate) unsafe fn take_cell_output<F: Future>(out: *mut c_void) -> Output<F::Output> {
    let cell = out as *mut TaskCell<F>;
    // SAFETY: the output's owner is the slot's sole user (see `TaskCell`); the output (stage OUTPUT) is live and
    // taken once (stage set to EMPTY); then the owner lets go.
    unsafe {
        debug_assert_eq!(*(*cell).stage.get(), STAGE_OUTPUT);
        *(*cell).stage.get() = STAGE_EMPTY;
        let r = ManuallyDrop::take(&mut (*(*cell).slot.get()).output);
        if TaskCell::release(cell) {
            TaskCell::destroy(cell);
        }
        r
    }
}

/// `drop_output`: an output nobody took.
pub(crate) unsafe extern "C" fn drop_cell_output<F: Future>(out: *mut c_void) {
    if !out.is_null() {
        // SAFETY: the runtime hands an output nobody took to `drop_output` once: we own it.
        let r = unsafe { take_cell_output::<F>(out) };
        let _ = catch_unwind(AssertUnwindSafe(move || drop(r)));
    }
}

/// How a [`JoinHandle`] turns the `void*` output of its task into the task's result.
pub(crate) type TakeOutput<T> = unsafe fn(*mut c_void) -> Output<T>;

/// Polls a future whose output crosses the C ABI as a pointer-sized word (see [`Builder::spawn_raw_on`]).
unsafe extern "C" fn poll_boxed_word<F: Future<Output = usize>>(
    state: *mut c_void,
    cx: *mut luminal_context,
    output: *mut *mut c_void,
) -> ffi::luminal_poll {
    // SAFETY: `state` is the Box made by `into_raw_word_future`, never moved, polled by one thread at a time;
    // `cx` is the context of this poll.
    let polled = unsafe { poll_in_context(Pin::new_unchecked(&mut *(state as *mut F)), cx) };
    match polled {
        Poll::Pending => ffi::LUMINAL_POLL_PENDING,
        Poll::Ready(r) => {
            // A panic cannot be expressed in a C output: the hook has printed it; the output is 0 (NULL).
            let word = r.unwrap_or(0);
            if !output.is_null() {
                // SAFETY: the runtime's output slot for this poll.
                unsafe { *output = word as *mut c_void };
            }
            ffi::LUMINAL_POLL_READY
        }
    }
}

unsafe extern "C" fn drop_boxed<F>(state: *mut c_void) {
    // SAFETY: the Box made by `into_raw_word_future`, dropped once by the runtime's `drop(state)`.
    let boxed = unsafe { Box::from_raw(state as *mut F) };
    // A panicking destructor must not unwind into the runtime: swallow it (the panic hook has reported it).
    let _ = catch_unwind(AssertUnwindSafe(move || drop(boxed)));
}

/// Turns a Rust future into a `luminal_future` the runtime takes ownership of.
pub(crate) fn into_raw_future<F>(future: F) -> ffi::luminal_future
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let cell = Box::new(TaskCell {
        refs: AtomicU8::new(1),
        stage: UnsafeCell::new(STAGE_FUTURE),
        slot: UnsafeCell::new(Slot { future: ManuallyDrop::new(future) }),
    });
    ffi::luminal_future {
        state: Box::into_raw(cell) as *mut c_void,
        poll: Some(poll_cell::<F>),
        drop: Some(drop_cell::<F>),
        drop_output: Some(drop_cell_output::<F>),
    }
}

/// Like [`into_raw_future`], for a future whose `usize` output is the task's `void*` output itself.
pub(crate) fn into_raw_word_future<F>(future: F) -> ffi::luminal_future
where
    F: Future<Output = usize> + Send + 'static,
{
    ffi::luminal_future {
        state: Box::into_raw(Box::new(future)) as *mut c_void,
        poll: Some(poll_boxed_word::<F>),
        drop: Some(drop_boxed::<F>),
        drop_output: None,
    }
}

// ------------------------------------------------------------------------------------------------------------
// The join source
// ------------------------------------------------------------------------------------------------------------

/// Joining one task: the [`RawPoll`] source behind [`JoinHandle`] and [`RawTask`]. Owns the join handle
/// (released on drop: the task runs on, detached).
pub(crate) struct Join {
    /// The owned join handle; NULL for a spawn that failed or a handle given away (`RawTask::into_raw`).
    task: *mut luminal_task,
    drop_output: Option<ffi::luminal_drop_fn>,
    /// A failed spawn: the error to report.
    failed: Option<RuntimeError>,
    /// An inline task (`task_inline`): its output lives in the runtime's storage of the task, which the join
    /// handle keeps, so the handle goes with the output ([`Joined`]) until the output has been taken.
    hold: bool,
}

// SAFETY: the task handle is a thread-safe runtime token; `drop_output` is a plain function.
unsafe impl Send for Join {}

/// A task's join result: the status and, for `LUMINAL_OK`, the output, which this value owns until
/// [`into_raw`](Self::into_raw) (an output nobody took is freed with the task's `drop_output`).
pub(crate) struct Joined {
    status: ffi::luminal_status,
    out: *mut c_void,
    drop_output: Option<ffi::luminal_drop_fn>,
    /// The join handle of an inline task, released once the output is taken or dropped (NULL otherwise).
    held: Held,
}

/// An owned join handle released on drop: kept while an output in the task's own storage is in use.
pub(crate) struct Held(*mut luminal_task);

impl Drop for Held {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: an owned handle; the task has finished.
            unsafe { ffi::luminal_task_release(self.0) }
        }
    }
}

// SAFETY: the output is owned data handed over by the runtime (`Send` like the task's output).
unsafe impl Send for Joined {}

impl Joined {
    /// The status, the output (now the caller's) and the join handle to release after the output was taken.
    fn into_parts(self) -> (ffi::luminal_status, *mut c_void, Held) {
        let mut me = ManuallyDrop::new(self);
        let held = mem::replace(&mut me.held, Held(ptr::null_mut()));
        (me.status, me.out, held)
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        if let (ffi::LUMINAL_OK, Some(d)) = (self.status, self.drop_output) {
            if !self.out.is_null() {
                // SAFETY: an output handed over to us that nobody took; `d` is the task's own drop_output.
                let _ = catch_unwind(AssertUnwindSafe(|| unsafe { d(self.out) }));
            }
        }
        // Then `held` is dropped: the handle goes after the output.
    }
}

impl Join {
    fn joined(&mut self, status: ffi::luminal_status, out: *mut c_void) -> Joined {
        // An inline task's output: the handle goes along (our `task` is NULL from here on; the join is over).
        let held = if self.hold && status == ffi::LUMINAL_OK { mem::replace(&mut self.task, ptr::null_mut()) } else { ptr::null_mut() };
        Joined { status, out, drop_output: self.drop_output, held: Held(held) }
    }
}

impl RawPoll for Join {
    type Output = Joined;

    unsafe fn poll_raw(&mut self, lcx: *mut luminal_context) -> Poll<Joined> {
        if let Some(done) = self.poll_now_if_failed() {
            return Poll::Ready(done);
        }
        let mut out = ptr::null_mut();
        // SAFETY: we own the task handle; `lcx` is live (the caller's contract).
        let status = unsafe { ffi::luminal_task_poll(self.task, lcx, &mut out) };
        if status == ffi::LUMINAL_PENDING {
            return Poll::Pending;
        }
        Poll::Ready(self.joined(status, out))
    }

    fn poll_now(&mut self) -> Option<Joined> {
        if let Some(done) = self.poll_now_if_failed() {
            return Some(done);
        }
        let mut out = ptr::null_mut();
        // SAFETY: we own the task handle; a zero timeout never blocks (and is allowed on workers).
        let status = unsafe { ffi::luminal_task_join(self.task, 0, &mut out) };
        (status != ffi::LUMINAL_E_TIMED_OUT).then(|| self.joined(status, out))
    }

    fn helper_failed(&mut self, e: RuntimeError) -> Joined {
        self.joined(e.status(), ptr::null_mut())
    }
}

impl Join {
    fn poll_now_if_failed(&mut self) -> Option<Joined> {
        if let Some(e) = self.failed {
            return Some(self.joined(e.status(), ptr::null_mut()));
        }
        self.task.is_null().then(|| self.joined(ffi::LUMINAL_E_INVALID_HANDLE, ptr::null_mut()))
    }

    fn abort(&self) {
        if !self.task.is_null() {
            // SAFETY: an owned handle; aborting a finished task does nothing.
            unsafe { ffi::luminal_task_abort(self.task) }
        }
    }

    fn is_finished(&self) -> bool {
        // SAFETY: an owned handle (NULL gives 0; NULL after a join that handed the handle over: finished).
        self.failed.is_some() || (self.hold && self.task.is_null()) || unsafe { ffi::luminal_task_is_finished(self.task) != 0 }
    }
}

impl Drop for Join {
    fn drop(&mut self) {
        if !self.task.is_null() {
            // SAFETY: we own the handle; the task runs on, detached (an unjoined output is freed by the runtime).
            unsafe { ffi::luminal_task_release(self.task) }
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// JoinHandle
// ------------------------------------------------------------------------------------------------------------

/// An owned permission to await a spawned task; `.await` gives `Ok(output)` or a [`JoinError`].
///
/// Dropping a `JoinHandle` detaches the task: it runs on, and its output is freed when it finishes. A
/// `JoinHandle` can be awaited from anywhere: directly inside a task (the cheap path, no allocation), inside
/// combinators, from another executor, or on a plain thread (then a helper task on the task's runtime waits for
/// it: see the [module docs](self)).
pub struct JoinHandle<T> {
    fut: AwaitRaw<Join>,
    take: Take<T>,
    _output: PhantomData<fn() -> T>,
}

/// How a [`JoinHandle`] gets its task's result.
enum Take<T> {
    /// From the task cell handed over as the output (see the module docs).
    Cell(TakeOutput<T>),
    /// From the shared slot of a blocking call (the task's output is NULL).
    Blocking(Arc<dyn BlockingResult<T>>),
    /// A failed spawn: there is nothing to take.
    Nothing,
}

// SAFETY: the join source is Send and `&self` methods only pass its token to thread-safe runtime functions.
unsafe impl<T: Send> Sync for JoinHandle<T> {}
impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// A handle for a spawn that the runtime rejected: it resolves to the corresponding error (cancelled for a
    /// shut-down runtime).
    pub(crate) fn failed(e: RuntimeError) -> JoinHandle<T> {
        let join = Join { task: ptr::null_mut(), drop_output: None, failed: Some(e), hold: false };
        JoinHandle { fut: AwaitRaw::new(join, ptr::null_mut()), take: Take::Nothing, _output: PhantomData }
    }

    /// Wraps the owned handle of a task spawned from `into_raw_future::<F>` onto the runtime `home` (a borrowed
    /// token: where a fallback helper is spawned outside any context).
    ///
    /// # Safety
    /// `task` is an owned handle of a task spawned from `into_raw_future::<F>`, given up by the caller.
    pub(crate) unsafe fn from_raw_task<F>(task: *mut luminal_task, home: *mut luminal_runtime) -> JoinHandle<T>
    where
        F: Future<Output = T>,
    {
        let join = Join { task, drop_output: Some(drop_cell_output::<F>), failed: None, hold: false };
        JoinHandle { fut: AwaitRaw::new(join, home), take: Take::Cell(take_cell_output::<F>), _output: PhantomData }
    }

    /// Wraps the owned handle of a task spawned by `task_inline::spawn::<F>` onto the runtime `home`.
    ///
    /// # Safety
    /// `task` is an owned handle of a task spawned by `task_inline::spawn::<F>`, given up by the caller.
    pub(crate) unsafe fn from_inline_task<F>(task: *mut luminal_task, home: *mut luminal_runtime) -> JoinHandle<T>
    where
        F: Future<Output = T>,
    {
        let join = Join { task, drop_output: Some(crate::task_inline::drop_output_fn::<F>()), failed: None, hold: true };
        JoinHandle {
            fut: AwaitRaw::new(join, home),
            take: Take::Cell(crate::task_inline::take_output::<F>),
            _output: PhantomData,
        }
    }

    /// Wraps the owned handle of a blocking call whose result lands in `result`.
    pub(crate) fn from_blocking(
        task: *mut luminal_task,
        home: *mut luminal_runtime,
        result: Arc<dyn BlockingResult<T>>,
    ) -> JoinHandle<T> {
        let join = Join { task, drop_output: None, failed: None, hold: false };
        JoinHandle { fut: AwaitRaw::new(join, home), take: Take::Blocking(result), _output: PhantomData }
    }

    /// Requests cancellation: the future is dropped at its next scheduling point and awaiting this handle gives
    /// a cancelled [`JoinError`] (unless the task already completed).
    pub fn abort(&self) {
        self.fut.source_ref(Join::abort);
    }

    /// True once the task has completed, been aborted, or been dropped by shutdown.
    pub fn is_finished(&self) -> bool {
        self.fut.is_done() || self.fut.source_ref(Join::is_finished).unwrap_or(true)
    }

    /// The underlying `luminal_task*` (borrowed; NULL if the spawn failed).
    pub fn as_raw(&self) -> *mut luminal_task {
        self.fut.source_ref(|j| j.task).unwrap_or(ptr::null_mut())
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `_held`: an inline task's join handle, released at the end, after `take` moved the output out.
        let (status, out, _held) = std::task::ready!(Pin::new(&mut self.fut).poll(cx)).into_parts();
        let r = match (&self.take, status) {
            (_, s) if s != ffi::LUMINAL_OK => Err(JoinError::from_status(s)),
            (Take::Cell(_), _) if out.is_null() => Err(JoinError::from_status(ffi::LUMINAL_E_INTERNAL)),
            // SAFETY: the output of the task spawned by `into_raw_future` that `take` belongs to; handed over to
            // us once.
            (Take::Cell(take), _) => unsafe { take(out) }.map_err(JoinError::panic),
            (Take::Blocking(b), _) => match b.take() {
                Some(r) => r.map_err(JoinError::panic),
                None => Err(JoinError::from_status(ffi::LUMINAL_E_INTERNAL)),
            },
            (Take::Nothing, _) => Err(JoinError::from_status(ffi::LUMINAL_E_INTERNAL)),
        };
        Poll::Ready(r)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("task", &self.as_raw()).finish()
    }
}

// ------------------------------------------------------------------------------------------------------------
// RawTask
// ------------------------------------------------------------------------------------------------------------

/// A task whose output is a plain C `void*`: a task spawned by C code or by another plugin (with its own copy of
/// this crate), or by [`Builder::spawn_raw_on`]. Awaiting it gives the output pointer; what it points to, and who
/// frees it, is the spawner's contract.
pub struct RawTask {
    fut: AwaitRaw<Join>,
}

// SAFETY: as for JoinHandle.
unsafe impl Sync for RawTask {}
impl Unpin for RawTask {}

impl RawTask {
    /// Takes ownership of the join handle `task` of a task on runtime `rt` (any runtime works: it only hosts the
    /// helper task that waits when the `RawTask` is awaited outside of any luminal task). `drop_output` frees an
    /// output that was received but never returned (only possible when the `RawTask` is dropped while a fallback
    /// helper holds its output); pass the task's own `drop_output`, or `None` if the output needs no freeing.
    ///
    /// # Safety
    /// `task` must be an owned `luminal_task*` (or stale: awaiting then reports a runtime error) that nobody else
    /// releases.
    pub unsafe fn from_raw<R: AsRef<crate::Runtime> + ?Sized>(
        rt: &R,
        task: *mut luminal_task,
        drop_output: Option<ffi::luminal_drop_fn>,
    ) -> RawTask {
        RawTask::with_home(task, rt.as_ref().home(), drop_output)
    }

    pub(crate) fn with_home(
        task: *mut luminal_task,
        home: *mut luminal_runtime,
        drop_output: Option<ffi::luminal_drop_fn>,
    ) -> RawTask {
        RawTask { fut: AwaitRaw::new(Join { task, drop_output, failed: None, hold: false }, home) }
    }

    /// Gives the owned `luminal_task*` back (to hand it to C or to a plugin). Returns NULL if a fallback helper
    /// already received the task's output (it is then freed with `drop_output`).
    pub fn into_raw(mut self) -> *mut luminal_task {
        match self.fut.take_source() {
            Some(mut join) => std::mem::replace(&mut join.task, ptr::null_mut()),
            None => ptr::null_mut(),
        }
    }

    /// See [`JoinHandle::abort`].
    pub fn abort(&self) {
        self.fut.source_ref(Join::abort);
    }

    /// See [`JoinHandle::is_finished`].
    pub fn is_finished(&self) -> bool {
        self.fut.is_done() || self.fut.source_ref(Join::is_finished).unwrap_or(true)
    }
}

impl Future for RawTask {
    type Output = Result<*mut c_void, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (status, out, _held) = std::task::ready!(Pin::new(&mut self.fut).poll(cx)).into_parts();
        Poll::Ready(if status == ffi::LUMINAL_OK { Ok(out) } else { Err(JoinError::from_status(status)) })
    }
}

impl fmt::Debug for RawTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let task = self.fut.source_ref(|j| j.task).unwrap_or(ptr::null_mut());
        f.debug_struct("RawTask").field("task", &task).finish()
    }
}
