//! Spawning Rust futures as luminal tasks, and awaiting tasks: [`JoinHandle`] and [`RawTask`].
//!
//! A spawned future `F` becomes a `luminal_future` whose `state` is a [`TaskCell`]: ONE heap allocation per
//! task that holds the future and, once it completed, its output `Result<F::Output, PanicPayload>` in the same
//! place (the future is dropped in place by the READY poll, as tokio does, before the output is written). The
//! READY poll hands the cell itself over as the task's `void*` output; the cell is then owned twice — by the
//! runtime's `drop(state)` and by whoever takes the output (a [`JoinHandle`], or `drop_output` if nobody does) —
//! and freed by whichever of the two lets go last (an atomic count). `poll` is a monomorphised trampoline.
//! Panics are caught at the poll boundary (they never unwind through `extern "C"`): the task then completes
//! with the panic payload.

use crate::context::{self, Enter};
use crate::error::{JoinError, PanicPayload};
use crate::ffi::{self, luminal_context, luminal_task};
use crate::{waker, RuntimeError};
use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// What a spawned Rust task hands over as its `void*` output.
type Output<T> = Result<T, PanicPayload>;

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
    let _enter = Enter::new(cx);
    let waker = waker::for_context(cx);
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
    #[inline]
    unsafe fn release(cell: *const TaskCell<F>) -> bool {
        // A count of 1 is ours alone: nobody can add an owner any more, so no atomic read-modify-write is needed.
        let refs = &(*cell).refs;
        refs.load(Ordering::Acquire) == 1 || refs.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Drops what the cell still holds and frees it. The caller is its last owner.
    unsafe fn destroy(cell: *mut TaskCell<F>) {
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

unsafe extern "C" fn poll_cell<F: Future>(
    state: *mut c_void,
    cx: *mut luminal_context,
    output: *mut *mut c_void,
) -> ffi::luminal_poll {
    let cell = state as *mut TaskCell<F>;
    let slot = (*cell).slot.get();
    debug_assert_eq!(*(*cell).stage.get(), STAGE_FUTURE);
    // SAFETY: the future lives in the cell made by `into_raw_future`, which never moves; the runtime never polls
    // concurrently, nor after READY.
    let fut = Pin::new_unchecked(&mut *(*slot).future);
    match poll_in_context(fut, cx) {
        Poll::Pending => ffi::LUMINAL_POLL_PENDING,
        Poll::Ready(r) => {
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
        }
    }
}

unsafe extern "C" fn drop_cell<F: Future>(state: *mut c_void) {
    let cell = state as *mut TaskCell<F>;
    if TaskCell::release(cell) {
        TaskCell::destroy(cell);
    }
}

/// Takes the output out of a cell handed over by `poll_cell` (the caller owns that output) and lets go of it.
unsafe fn take_cell_output<F: Future>(out: *mut c_void) -> Output<F::Output> {
    let cell = out as *mut TaskCell<F>;
    debug_assert_eq!(*(*cell).stage.get(), STAGE_OUTPUT);
    *(*cell).stage.get() = STAGE_EMPTY;
    let r = ManuallyDrop::take(&mut (*(*cell).slot.get()).output);
    if TaskCell::release(cell) {
        TaskCell::destroy(cell);
    }
    r
}

/// `drop_output`: an output nobody took.
unsafe extern "C" fn drop_cell_output<F: Future>(out: *mut c_void) {
    if !out.is_null() {
        let r = take_cell_output::<F>(out);
        let _ = catch_unwind(AssertUnwindSafe(move || drop(r)));
    }
}

/// How a [`JoinHandle`] turns the `void*` output of its task into the task's result.
type TakeOutput<T> = unsafe fn(*mut c_void) -> Output<T>;

/// Polls a future whose output crosses the C ABI as a pointer-sized word (see [`Runtime::spawn_raw`]).
unsafe extern "C" fn poll_boxed_word<F: Future<Output = usize>>(
    state: *mut c_void,
    cx: *mut luminal_context,
    output: *mut *mut c_void,
) -> ffi::luminal_poll {
    let fut = Pin::new_unchecked(&mut *(state as *mut F));
    match poll_in_context(fut, cx) {
        Poll::Pending => ffi::LUMINAL_POLL_PENDING,
        Poll::Ready(r) => {
            // A panic cannot be expressed in a C output: the hook has printed it; the output is 0 (NULL).
            let word = r.unwrap_or(0);
            if !output.is_null() {
                *output = word as *mut c_void;
            }
            ffi::LUMINAL_POLL_READY
        }
    }
}

unsafe extern "C" fn drop_boxed<F>(state: *mut c_void) {
    // A panicking destructor must not unwind into the runtime: swallow it (the panic hook has reported it).
    let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(state as *mut F))));
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

/// Like [`into_raw_future`] for a future whose `usize` output is handed over as the `void*` itself.
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

/// Where a spawn goes.
#[derive(Clone, Copy)]
pub(crate) enum SpawnTarget {
    /// `luminal_spawn` onto a runtime handle.
    Runtime(*mut ffi::luminal_runtime),
    /// `luminal_context_spawn` from inside a poll.
    Context(*mut luminal_context),
    /// `luminal_spawn_with`: a scope (may be NULL) and a priority (0 = inherit).
    With(*mut ffi::luminal_runtime, *mut ffi::luminal_scope, ffi::luminal_priority),
    /// `luminal_context_spawn_with`: unset fields inherit from the task being polled.
    ContextWith(*mut luminal_context, *mut ffi::luminal_scope, ffi::luminal_priority),
}

/// Spawns a prepared `luminal_future`, returning the owned task handle.
pub(crate) fn spawn_raw_future(
    target: SpawnTarget,
    fut: ffi::luminal_future,
) -> Result<*mut luminal_task, RuntimeError> {
    let mut task = ptr::null_mut();
    let opts = |scope, priority| ffi::luminal_spawn_options {
        struct_size: std::mem::size_of::<ffi::luminal_spawn_options>(),
        scope,
        priority,
    };
    // SAFETY: the runtime takes `fut` in every case (dropping it on failure); `opts` is borrowed for the call.
    let status = unsafe {
        match target {
            SpawnTarget::Runtime(rt) => ffi::luminal_spawn(rt, fut, &mut task),
            SpawnTarget::Context(cx) => ffi::luminal_context_spawn(cx, fut, &mut task),
            SpawnTarget::With(rt, scope, priority) => {
                ffi::luminal_spawn_with(rt, fut, &opts(scope, priority), &mut task)
            }
            SpawnTarget::ContextWith(cx, scope, priority) => {
                ffi::luminal_context_spawn_with(cx, fut, &opts(scope, priority), &mut task)
            }
        }
    };
    RuntimeError::check(status)?;
    if task.is_null() {
        return Err(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL));
    }
    Ok(task)
}

pub(crate) fn spawn_on<F>(target: SpawnTarget, future: F) -> Result<JoinHandle<F::Output>, RuntimeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let task = spawn_raw_future(target, into_raw_future(future))?;
    // SAFETY: a fresh owned handle of a task spawned by `into_raw_future::<F>`.
    Ok(unsafe { JoinHandle::from_raw_task::<F>(task) })
}

// ------------------------------------------------------------------------------------------------------------
// The shared join machinery
// ------------------------------------------------------------------------------------------------------------

/// Join state shared by [`JoinHandle`] and [`RawTask`]: the owned task handle, and the fallback waiter.
///
/// Fast path: when the handle is awaited directly by a task of this copy of the crate (the Rust waker is the
/// task's own luminal waker), `luminal_task_poll` registers the task's waker; nothing is allocated.
///
/// Fallback: when the waker is something else (a combinator's waker, another executor, another plugin's copy of
/// the crate), registering the context's waker would wake the wrong thing, so ownership of the task handle moves
/// to a *waiter*: a small luminal task (spawned on the current context if there is one) or, with no luminal
/// context at all, a thread blocked in `luminal_task_join`. The waiter stores the result and wakes the Rust waker.
struct Core {
    /// The task handle. Owned by `Core` unless `watch` is set; then owned by the waiter, and only used for
    /// `abort` (a stale handle is ignored by the runtime, so that stays safe after the waiter releases it).
    task: *mut luminal_task,
    drop_output: Option<ffi::luminal_drop_fn>,
    watch: Option<Arc<Watch>>,
    /// Set when a spawn failed: the error to report at the first poll.
    failed: Option<RuntimeError>,
    done: bool,
}

struct Watch {
    state: Mutex<WatchState>,
}

struct WatchState {
    result: Option<(ffi::luminal_status, *mut c_void)>,
    waker: Option<Waker>,
    drop_output: Option<ffi::luminal_drop_fn>,
}

// SAFETY: the output pointer is owned data handed over by the runtime (Send like the task's output).
unsafe impl Send for WatchState {}

impl Drop for WatchState {
    fn drop(&mut self) {
        if let (Some((ffi::LUMINAL_OK, out)), Some(d)) = (self.result.take(), self.drop_output) {
            if !out.is_null() {
                // SAFETY: an output nobody took; drop_output is the task's own.
                unsafe { d(out) }
            }
        }
    }
}

impl Watch {
    fn finish(&self, status: ffi::luminal_status, out: *mut c_void) {
        let waker = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.result.is_none() {
                st.result = Some((status, out));
            }
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The luminal task that waits for another task on behalf of a `Core` (see `Core`).
struct Waiter {
    task: *mut luminal_task,
    watch: Arc<Watch>,
}

impl Waiter {
    fn complete(&mut self, status: ffi::luminal_status, out: *mut c_void) {
        let task = std::mem::replace(&mut self.task, ptr::null_mut());
        self.watch.finish(status, out);
        // SAFETY: the waiter owns the task handle.
        unsafe { ffi::luminal_task_release(task) };
    }
}

unsafe extern "C" fn waiter_poll(
    state: *mut c_void,
    cx: *mut luminal_context,
    _out: *mut *mut c_void,
) -> ffi::luminal_poll {
    let w = &mut *(state as *mut Waiter);
    let mut out = ptr::null_mut();
    let status = ffi::luminal_task_poll(w.task, cx, &mut out);
    if status == ffi::LUMINAL_PENDING {
        return ffi::LUMINAL_POLL_PENDING;
    }
    w.complete(status, out);
    ffi::LUMINAL_POLL_READY
}

unsafe extern "C" fn waiter_drop(state: *mut c_void) {
    let mut w = Box::from_raw(state as *mut Waiter);
    if !w.task.is_null() {
        // Dropped before the task finished: its runtime is shutting down (or the spawn failed).
        let _ = catch_unwind(AssertUnwindSafe(|| w.complete(ffi::LUMINAL_E_CANCELLED, ptr::null_mut())));
    }
}

impl Core {
    fn new(task: *mut luminal_task, drop_output: Option<ffi::luminal_drop_fn>) -> Core {
        Core { task, drop_output, watch: None, failed: None, done: false }
    }

    fn failed(e: RuntimeError) -> Core {
        Core { task: ptr::null_mut(), drop_output: None, watch: None, failed: Some(e), done: false }
    }

    fn poll_raw(&mut self, cx: &mut Context<'_>) -> Poll<(ffi::luminal_status, *mut c_void)> {
        if let Some(e) = self.failed.take() {
            self.done = true;
            return Poll::Ready((e.status(), ptr::null_mut()));
        }
        assert!(!self.done, "luminal JoinHandle polled after it completed");
        if let Some(watch) = &self.watch {
            let mut st = watch.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(r) = st.result.take() {
                self.done = true;
                return Poll::Ready(r);
            }
            match &st.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => st.waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        let mut out = ptr::null_mut();
        if let Some(lcx) = context::current_for(cx.waker()) {
            // SAFETY: lcx is the live context of this thread's poll; we own the task handle.
            let status = unsafe { ffi::luminal_task_poll(self.task, lcx, &mut out) };
            if status == ffi::LUMINAL_PENDING {
                return Poll::Pending;
            }
            self.done = true;
            return Poll::Ready((status, out));
        }
        let lcx = context::current();
        // Fallback: check without blocking, then hand the task to a waiter.
        // SAFETY: we own the task handle; a zero timeout never blocks (and is allowed on workers).
        let status = unsafe { ffi::luminal_task_join(self.task, 0, &mut out) };
        if status != ffi::LUMINAL_E_TIMED_OUT {
            self.done = true;
            return Poll::Ready((status, out));
        }
        let watch = Arc::new(Watch {
            state: Mutex::new(WatchState {
                result: None,
                waker: Some(cx.waker().clone()),
                drop_output: self.drop_output,
            }),
        });
        self.watch = Some(watch.clone());
        let waiter = Waiter { task: self.task, watch };
        match lcx {
            Some(lcx) => {
                let fut = ffi::luminal_future {
                    state: Box::into_raw(Box::new(waiter)) as *mut c_void,
                    poll: Some(waiter_poll),
                    drop: Some(waiter_drop),
                    drop_output: None,
                };
                // On failure the runtime drops the waiter, which reports "cancelled".
                let _ = spawn_raw_future(SpawnTarget::Context(lcx), fut);
            }
            None => {
                struct SendWaiter(Waiter);
                // SAFETY: the task handle is a thread-safe runtime token.
                unsafe impl Send for SendWaiter {}
                let w = SendWaiter(waiter);
                let spawned = std::thread::Builder::new().name("luminal-join-waiter".into()).spawn(move || {
                    let mut w = w;
                    let mut out = ptr::null_mut();
                    // SAFETY: the waiter owns the task handle; this thread is not a worker.
                    let status = unsafe { ffi::luminal_task_join(w.0.task, u64::MAX, &mut out) };
                    w.0.complete(status, out);
                });
                if let Err(_e) = spawned {
                    // The closure (and the waiter in it) was dropped: report the task as failed.
                    let watch = self.watch.as_ref().unwrap();
                    watch.finish(ffi::LUMINAL_E_NO_MEMORY, ptr::null_mut());
                    // The task handle was not released by anyone: release it here.
                    unsafe { ffi::luminal_task_release(self.task) };
                }
            }
        }
        Poll::Pending
    }

    fn abort(&self) {
        if !self.task.is_null() {
            // SAFETY: a live or stale handle; stale ones are ignored.
            unsafe { ffi::luminal_task_abort(self.task) }
        }
    }

    fn is_finished(&self) -> bool {
        if self.done || self.failed.is_some() {
            return true;
        }
        let watched_done = |w: &Arc<Watch>| w.state.lock().map(|s| s.result.is_some()).unwrap_or(true);
        // SAFETY: a live or stale handle (a stale one reads as "not finished", hence the second look at `watch`).
        let task_done = || unsafe { ffi::luminal_task_is_finished(self.task) != 0 };
        match &self.watch {
            Some(w) => watched_done(w) || task_done() || watched_done(w),
            None => task_done(),
        }
    }

    /// Gives up the owned task handle (NULL if it is no longer owned here).
    fn into_raw(mut self) -> *mut luminal_task {
        let t = if self.watch.is_none() { self.task } else { ptr::null_mut() };
        self.task = ptr::null_mut();
        t
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        if self.watch.is_none() && !self.task.is_null() {
            // SAFETY: we own the handle; the task runs on, detached.
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
/// combinators, from another executor, or on a plain thread via [`Runtime::block_on`](crate::Runtime::block_on).
pub struct JoinHandle<T> {
    core: Core,
    /// Turns the task's `void*` output into its result (the task cell's, see the module docs); `None` for a
    /// failed spawn and for `spawn_blocking`.
    take: Option<TakeOutput<T>>,
    /// For [`Runtime::spawn_blocking`](crate::Runtime::spawn_blocking): where the closure and its result live.
    blocking: Option<Arc<dyn BlockingSlot<T>>>,
    _output: PhantomData<fn() -> T>,
}

// SAFETY: the task handle is a thread-safe runtime token; `&self` methods only call thread-safe functions.
unsafe impl<T: Send> Send for JoinHandle<T> {}
unsafe impl<T: Send> Sync for JoinHandle<T> {}
impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// A handle for a spawn that the runtime rejected: it resolves to the corresponding error (cancelled for a
    /// shut-down runtime).
    pub(crate) fn failed(e: RuntimeError) -> JoinHandle<T> {
        JoinHandle { core: Core::failed(e), take: None, blocking: None, _output: PhantomData }
    }

    /// Wraps the owned handle of a task spawned from `into_raw_future::<F>`.
    pub(crate) unsafe fn from_raw_task<F>(task: *mut luminal_task) -> JoinHandle<T>
    where
        F: Future<Output = T>,
    {
        JoinHandle {
            core: Core::new(task, Some(drop_cell_output::<F>)),
            take: Some(take_cell_output::<F>),
            blocking: None,
            _output: PhantomData,
        }
    }

    /// Requests cancellation: the future is dropped at its next scheduling point and awaiting this handle gives
    /// a cancelled [`JoinError`] (unless the task already completed).
    pub fn abort(&self) {
        self.core.abort()
    }

    /// True once the task has completed, been aborted, or been dropped by shutdown.
    pub fn is_finished(&self) -> bool {
        self.core.is_finished()
    }

    /// The underlying `luminal_task*` (borrowed; NULL if the spawn failed).
    pub fn as_raw(&self) -> *mut luminal_task {
        self.core.task
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (status, out) = std::task::ready!(self.core.poll_raw(cx));
        if let Some(b) = &self.blocking {
            return Poll::Ready(match (status, b.take()) {
                (ffi::LUMINAL_OK, Some(Ok(v))) => Ok(v),
                (ffi::LUMINAL_OK, Some(Err(p))) => Err(JoinError::panic(p)),
                (ffi::LUMINAL_OK, None) => Err(JoinError::from_status(ffi::LUMINAL_E_INTERNAL)),
                (s, _) => {
                    // Cancelled before it started (abort, shutdown): the closure was never called; drop it.
                    b.reclaim();
                    Err(JoinError::from_status(s))
                }
            });
        }
        Poll::Ready(if status == ffi::LUMINAL_OK {
            match self.take {
                None => Err(JoinError::from_status(ffi::LUMINAL_E_INTERNAL)),
                Some(_) if out.is_null() => Err(JoinError::from_status(ffi::LUMINAL_E_INTERNAL)),
                // SAFETY: the output of the task spawned by `into_raw_future` that `take` belongs to; handed
                // over to us once.
                Some(take) => match unsafe { take(out) } {
                    Ok(v) => Ok(v),
                    Err(p) => Err(JoinError::panic(p)),
                },
            }
        } else {
            Err(JoinError::from_status(status))
        })
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(b) = &self.blocking {
            // A blocking call that finished without running (cancelled) never will: drop its closure now. One
            // still queued or running cleans up after itself (see `spawn_blocking`).
            if self.core.is_finished() {
                b.reclaim();
            }
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("task", &self.core.task).finish()
    }
}

// ------------------------------------------------------------------------------------------------------------
// RawTask
// ------------------------------------------------------------------------------------------------------------

/// A task whose output is a plain C `void*`: a task spawned by C code or by another plugin (with its own copy of
/// this crate), or by [`Runtime::spawn_raw`](crate::Runtime::spawn_raw). Awaiting it gives the output pointer;
/// what it points to, and who frees it, is the spawner's contract.
pub struct RawTask {
    core: Core,
}

// SAFETY: as for JoinHandle.
unsafe impl Send for RawTask {}
unsafe impl Sync for RawTask {}
impl Unpin for RawTask {}

impl RawTask {
    /// Takes ownership of the join handle `task`. `drop_output` frees an output that was received but never
    /// returned (only possible when the `RawTask` is dropped while a fallback waiter holds its output); pass the
    /// task's own `drop_output`, or `None` if the output needs no freeing.
    ///
    /// # Safety
    /// `task` must be an owned `luminal_task*` (or stale: awaiting then reports a runtime error) that nobody else
    /// releases.
    pub unsafe fn from_raw(task: *mut luminal_task, drop_output: Option<ffi::luminal_drop_fn>) -> RawTask {
        RawTask { core: Core::new(task, drop_output) }
    }

    /// Gives the owned `luminal_task*` back (to hand it to C or to a plugin). Returns NULL if the handle was
    /// already awaited through the fallback waiter, which then owns it.
    pub fn into_raw(self) -> *mut luminal_task {
        self.core.into_raw()
    }

    /// See [`JoinHandle::abort`].
    pub fn abort(&self) {
        self.core.abort()
    }

    /// See [`JoinHandle::is_finished`].
    pub fn is_finished(&self) -> bool {
        self.core.is_finished()
    }
}

impl Future for RawTask {
    type Output = Result<*mut c_void, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (status, out) = std::task::ready!(self.core.poll_raw(cx));
        Poll::Ready(if status == ffi::LUMINAL_OK { Ok(out) } else { Err(JoinError::from_status(status)) })
    }
}

impl fmt::Debug for RawTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawTask").field("task", &self.core.task).finish()
    }
}

// ------------------------------------------------------------------------------------------------------------
// spawn_blocking
// ------------------------------------------------------------------------------------------------------------

/// The state shared by a `spawn_blocking` call and its [`JoinHandle`].
///
/// `luminal_spawn_blocking` has no `drop_output` and no drop function for its argument, so the binding never
/// hands the runtime anything that would need one: the argument is one strong count of this `Arc` (the "call's
/// reference"), the closure lives in `stage`, the C function writes the result into `stage` and returns NULL.
/// Exactly one side releases the call's reference: the C function when it runs (it takes `Queued`), or the
/// join handle once the task finished without running (cancelled before it started: abort or shutdown), which
/// takes `Queued` in `reclaim`. The runtime calls the function only if it has not reported the task finished
/// (it checks for an abort, then calls, then marks the task complete), so after "finished" a `Queued` closure is
/// never going to run. An unjoined result is dropped with the last reference (on the blocking thread, or by the
/// handle). The one remaining leak: a call still queued when the runtime shuts down whose handle was dropped
/// before (nobody is left to observe the cancellation; the C API gives no drop hook for the argument).
struct Blocking<F, T> {
    stage: Mutex<Stage<F, T>>,
}

enum Stage<F, T> {
    Queued(F),
    Running,
    Done(Output<T>),
    Gone,
}

pub(crate) trait BlockingSlot<T>: Send + Sync {
    /// The result, if the closure ran to its end.
    fn take(&self) -> Option<Output<T>>;
    /// After the task finished: drop the closure and release the call's reference if the closure never ran.
    fn reclaim(&self);
}

impl<F: Send, T: Send> BlockingSlot<T> for Blocking<F, T> {
    fn take(&self) -> Option<Output<T>> {
        let mut st = self.stage.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *st, Stage::Gone) {
            Stage::Done(r) => Some(r),
            other => {
                *st = other;
                None
            }
        }
    }

    fn reclaim(&self) {
        let f = {
            let mut st = self.stage.lock().unwrap_or_else(|e| e.into_inner());
            match std::mem::replace(&mut *st, Stage::Gone) {
                Stage::Queued(f) => f,
                other => {
                    *st = other;
                    return;
                }
            }
        };
        let _ = catch_unwind(AssertUnwindSafe(move || drop(f)));
        // SAFETY: the call's reference, which nobody else releases now that `Queued` is gone; the caller holds
        // another reference, so `self` stays valid.
        unsafe { Arc::decrement_strong_count(self as *const Self) };
    }
}

unsafe extern "C" fn run_blocking<F, T>(arg: *mut c_void) -> *mut c_void
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: the call's reference (see `Blocking`).
    let shared = Arc::from_raw(arg as *const Blocking<F, T>);
    let f = {
        let mut st = shared.stage.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *st, Stage::Running) {
            Stage::Queued(f) => Some(f),
            other => {
                // Reclaimed already (cannot happen: the runtime does not call a finished task).
                *st = other;
                None
            }
        }
    };
    let Some(f) = f else {
        std::mem::forget(shared); // not ours to release
        return ptr::null_mut();
    };
    let r = catch_unwind(AssertUnwindSafe(f));
    let _ = catch_unwind(AssertUnwindSafe(move || {
        let mut st = shared.stage.lock().unwrap_or_else(|e| e.into_inner());
        *st = Stage::Done(r);
        drop(st);
        drop(shared); // the last reference if the handle is gone: the result is dropped here
    }));
    ptr::null_mut()
}

/// `luminal_spawn_blocking` of a Rust closure (see `Blocking`).
pub(crate) fn spawn_blocking_on<F, T>(rt: *mut ffi::luminal_runtime, f: F) -> Result<JoinHandle<T>, RuntimeError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let shared = Arc::new(Blocking { stage: Mutex::new(Stage::Queued(f)) });
    let arg = Arc::into_raw(shared.clone()) as *mut c_void;
    let mut task = ptr::null_mut();
    // SAFETY: `arg` stays valid until the function runs or the handle reclaims it.
    let status = unsafe { ffi::luminal_spawn_blocking(rt, Some(run_blocking::<F, T>), arg, &mut task) };
    if status != ffi::LUMINAL_OK {
        shared.reclaim(); // the runtime refused: the function will never be called
        return Err(RuntimeError::from_status(status));
    }
    if task.is_null() {
        // Cannot happen; the call may still run, so its reference must stay (leaked rather than risked).
        return Err(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL));
    }
    Ok(JoinHandle { core: Core::new(task, None), take: None, blocking: Some(shared), _output: PhantomData })
}
