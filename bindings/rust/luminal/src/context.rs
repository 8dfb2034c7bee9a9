//! The current task's context: [`Handle`], [`spawn`], [`yield_now`].
//!
//! # How the binding finds the `luminal_context`
//!
//! The runtime passes a `luminal_context*` to every poll and keeps nothing in thread-local storage. A Rust
//! [`Context`] can only carry a [`Waker`], so this binding's poll
//! trampolines store the `luminal_context*` in a thread-local of **this copy of the crate** for exactly the
//! duration of the poll (a guard restores the previous value afterwards, also when the future panics, so nested
//! `block_on` polls on a non-worker thread work too).
//!
//! Why this is safe across plugins: every shared library that links this crate (the host binary, each Rust
//! plugin) has its own copy of the code *and of the thread-local*. A copy's thread-local is non-null only while
//! that copy's trampoline is on the current thread's stack, i.e. while the runtime polls a task that was spawned
//! (or block_on'd) through that copy, and it then holds the context of exactly that poll, which the runtime keeps
//! valid for the whole poll. So a copy never sees another copy's context and never sees a stale one. The only
//! consequence of the split is benign: a future created by copy A but polled inside a task of copy B (e.g. a
//! plugin future awaited directly by the host) sees "no current task" in A's code: [`Handle::try_current`]
//! returns `None`, [`spawn`] panics (use [`Runtime::spawn`](crate::Runtime::spawn) on a runtime passed
//! explicitly), and [`JoinHandle`]s fall back to a slower but correct way of waiting. Across
//! a plugin boundary, pass the `luminal_runtime*` explicitly ([`Runtime::clone_from_raw`](crate::Runtime)), and
//! exchange tasks as `luminal_task*` ([`RawTask`](crate::RawTask)) and wakers as `luminal_waker*`
//! ([`waker::as_raw`](crate::waker::as_raw)); those are runtime tokens that mean the same to every copy.

use crate::ffi::{self, luminal_context, luminal_waker};
use crate::task::{spawn_on, SpawnTarget};
use crate::JoinHandle;
use crate::{Priority, Runtime, RuntimeError, SpawnOptions};
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll, Waker};

thread_local! {
    /// The context of the poll this copy of the crate is running on this thread (or NULL), and that context's
    /// task waker once something asked for it (`luminal_context_waker`, fetched at most once per poll, and only
    /// if the poll uses its waker at all: see [`waker_of`]).
    static CURRENT: Cell<(*mut luminal_context, *const luminal_waker)> =
        const { Cell::new((ptr::null_mut(), ptr::null())) };
}

/// Sets `CURRENT` for the duration of one poll; restores the previous value on drop (also while unwinding).
pub(crate) struct Enter {
    prev: (*mut luminal_context, *const luminal_waker),
}

impl Enter {
    #[inline]
    pub(crate) fn new(cx: *mut luminal_context) -> Enter {
        Enter { prev: CURRENT.with(|c| c.replace((cx, ptr::null()))) }
    }
}

impl Drop for Enter {
    #[inline]
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.prev));
    }
}

/// The `luminal_context*` of the poll in progress on this thread, if this copy of the crate is running one.
#[inline]
pub(crate) fn current() -> Option<*mut luminal_context> {
    let cx = CURRENT.with(|c| c.get().0);
    (!cx.is_null()).then_some(cx)
}

/// `luminal_context_waker(cx)`: from this thread's cache when `cx` is the poll running here, else from the
/// runtime (a context's `Waker` may be used from another thread while its poll runs).
///
/// # Safety
/// `cx` must be the context of a poll in progress.
#[inline]
pub(crate) unsafe fn waker_of(cx: *mut luminal_context) -> *const luminal_waker {
    CURRENT.with(|c| {
        let (current, cached) = c.get();
        if current != cx {
            return ffi::luminal_context_waker(cx);
        }
        if cached.is_null() {
            let w = ffi::luminal_context_waker(cx);
            c.set((cx, w));
            return w;
        }
        cached
    })
}

/// The context of the poll running on this thread if `waker` wakes that poll's own task, i.e. the future is
/// awaited by the task itself rather than under a combinator's (or another executor's) waker: only then may the
/// runtime be handed the context to register the task's waker directly, or be asked to yield the task.
#[inline]
pub(crate) fn current_for(waker: &Waker) -> Option<*mut luminal_context> {
    let cx = current()?;
    // SAFETY: cx is the context of the poll running on this thread.
    unsafe { crate::waker::wakes_task_of(waker, cx) }.then_some(cx)
}

/// The raw `luminal_context*` of the task this copy of the crate is polling on this thread, if any.
///
/// # Safety
/// The pointer is valid only until the current poll returns: never store it, and use it only from this thread
/// (e.g. to call `luminal_context_spawn` or `luminal_task_poll` from C code called by the future).
pub unsafe fn current_raw_context() -> Option<*mut luminal_context> {
    current()
}

/// True if called from inside a poll run by this copy of the crate (a spawned task or a `block_on`).
pub fn in_task() -> bool {
    current().is_some()
}

/// A cheap, cloneable handle to a runtime, usually obtained inside a running task with [`Handle::current`].
///
/// [`Handle::spawn`] puts the task on the current worker's local queue (`luminal_context_spawn`) when called from
/// a task of the same runtime, which is the cheapest way to spawn; elsewhere it spawns onto the runtime's global
/// queue. A `Handle` owns a runtime handle, so it keeps the runtime alive like a [`Runtime`] clone does.
#[derive(Clone)]
pub struct Handle {
    rt: Runtime,
    /// The token `luminal_context_runtime` returned when this handle was made (identifies the runtime of the
    /// context without an extra call), or NULL if it was made from a `Runtime`.
    id: *mut ffi::luminal_runtime,
}

// SAFETY: `id` is only compared, never dereferenced; `Runtime` is Send + Sync.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Handle {
    /// The handle of the runtime running the current task.
    ///
    /// # Panics
    /// If not called from inside a task or `block_on` future polled by this copy of the crate (see the module
    /// docs); use [`Handle::try_current`] to get an `Option`.
    pub fn current() -> Handle {
        Handle::try_current().expect("luminal::Handle::current() called outside of a Luminal task")
    }

    /// The handle of the runtime running the current task, or `None` outside of one.
    pub fn try_current() -> Option<Handle> {
        let cx = current()?;
        // SAFETY: cx is the context of the poll running on this thread.
        let id = unsafe { ffi::luminal_context_runtime(cx) };
        // SAFETY: id is a borrowed runtime handle; clone_from_raw makes an owned one.
        let rt = unsafe { Runtime::clone_from_raw(id) }?;
        Some(Handle { rt, id })
    }

    pub(crate) fn from_runtime(rt: Runtime) -> Handle {
        Handle { rt, id: ptr::null_mut() }
    }

    /// The runtime this handle refers to.
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// Spawns `future`; see the type docs for which queue it goes to. If the runtime is shut down, the returned
    /// handle resolves to a cancelled [`JoinError`](crate::JoinError).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.try_spawn(future).unwrap_or_else(JoinHandle::failed)
    }

    /// Like [`spawn`](Self::spawn) but returns the runtime's error if the spawn is rejected.
    pub fn try_spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, RuntimeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if let Some(cx) = current() {
            // SAFETY: cx is the live context of this thread's poll.
            if !self.id.is_null() && unsafe { ffi::luminal_context_runtime(cx) } == self.id {
                return spawn_on(SpawnTarget::Context(cx), future);
            }
        }
        self.rt.try_spawn(future)
    }

    /// Spawns `future` with priority `priority`; see [`spawn_opts`](Self::spawn_opts).
    pub fn spawn_with<F>(&self, priority: Priority, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_opts(SpawnOptions::new().priority(priority), future)
    }

    /// Spawns `future` with [`SpawnOptions`]. From a task of the same runtime it uses
    /// `luminal_context_spawn_with` (the current worker's queue), and unset options inherit the current task's
    /// priority and scope; elsewhere `luminal_spawn_with` (defaults: `UserInitiated`, no scope).
    pub fn spawn_opts<'a, F>(&self, opts: impl Into<SpawnOptions<'a>>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.try_spawn_opts(opts, future).unwrap_or_else(JoinHandle::failed)
    }

    /// Like [`spawn_opts`](Self::spawn_opts) but returns the runtime's error if the spawn is rejected.
    pub fn try_spawn_opts<'a, F>(
        &self,
        opts: impl Into<SpawnOptions<'a>>,
        future: F,
    ) -> Result<JoinHandle<F::Output>, RuntimeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let opts = opts.into();
        if let Some(cx) = current() {
            // SAFETY: cx is the live context of this thread's poll.
            if !self.id.is_null() && unsafe { ffi::luminal_context_runtime(cx) } == self.id {
                let target = SpawnTarget::ContextWith(cx, opts.raw_scope(), opts.priority.as_raw());
                return spawn_on(target, future);
            }
        }
        self.rt.try_spawn_opts(opts, future)
    }

    /// Runs `f` on the runtime's blocking pool; see [`Runtime::spawn_blocking`].
    pub fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.rt.spawn_blocking(f)
    }

    /// Runs `future` to completion on the calling thread; see [`Runtime::block_on`].
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }
}

impl AsRef<Runtime> for Handle {
    fn as_ref(&self) -> &Runtime {
        &self.rt
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("runtime", &self.rt).finish()
    }
}

/// Spawns `future` onto the current worker's local queue (`luminal_context_spawn`), like `tokio::spawn`.
///
/// # Panics
/// If called outside of a task polled by this copy of the crate (see the module docs). Use [`try_spawn`] or
/// [`Runtime::spawn`](crate::Runtime::spawn) where that can happen.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match try_spawn(future) {
        Ok(h) => h,
        Err(e) if e.status() == ffi::LUMINAL_E_INVALID_ARGUMENT && !in_task() => {
            panic!("luminal::spawn() called outside of a Luminal task")
        }
        Err(e) => JoinHandle::failed(e),
    }
}

/// Like [`spawn`], but returns an error instead of panicking: `ErrorKind::InvalidArgument` outside of a task,
/// or the runtime's error if it rejects the spawn.
pub fn try_spawn<F>(future: F) -> Result<JoinHandle<F::Output>, RuntimeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match current() {
        Some(cx) => spawn_on(SpawnTarget::Context(cx), future),
        None => {
            drop(future);
            Err(RuntimeError::from_status(ffi::LUMINAL_E_INVALID_ARGUMENT))
        }
    }
}

/// Like [`spawn`], with a priority (`luminal_context_spawn_with`; the scope is inherited).
///
/// # Panics
/// Outside of a task polled by this copy of the crate.
pub fn spawn_with<F>(priority: Priority, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_opts(SpawnOptions::new().priority(priority), future)
}

/// Like [`spawn`], with [`SpawnOptions`] (`luminal_context_spawn_with`): unset options inherit the current
/// task's priority and scope.
///
/// # Panics
/// Outside of a task polled by this copy of the crate.
pub fn spawn_opts<'a, F>(opts: impl Into<SpawnOptions<'a>>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let opts = opts.into();
    match current() {
        Some(cx) => spawn_on(SpawnTarget::ContextWith(cx, opts.raw_scope(), opts.priority.as_raw()), future)
            .unwrap_or_else(JoinHandle::failed),
        None => panic!("luminal::spawn_opts() called outside of a Luminal task"),
    }
}

/// Yields once to the scheduler: the task is woken at once and polled again after other ready tasks.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        match current_for(cx.waker()) {
            // Awaited by the task itself (not under a combinator's own waker): one call instead of a wake.
            // SAFETY: lcx is the live context of this thread's poll.
            Some(lcx) if unsafe { ffi::luminal_context_yield(lcx) } == ffi::LUMINAL_OK => {}
            _ => cx.waker().wake_by_ref(),
        }
        Poll::Pending
    }
}
