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

use crate::ffi::{self, luminal_context, luminal_runtime, luminal_waker};
use crate::task::{spawn_on, Builder, SpawnTarget};
use crate::JoinHandle;
use crate::Runtime;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll, Waker};

/// What this copy of the crate knows about the poll running on this thread.
#[derive(Clone, Copy)]
struct Current {
    /// The poll's context, or NULL outside of one.
    cx: *mut luminal_context,
    /// `luminal_context_waker(cx)`, once something asked for it (NULL until then).
    waker: *const luminal_waker,
    /// `luminal_context_runtime(cx)`, once something asked for it (NULL until then).
    rt: *mut luminal_runtime,
}

const NOT_IN_A_POLL: Current = Current { cx: ptr::null_mut(), waker: ptr::null(), rt: ptr::null_mut() };

thread_local! {
    /// The context of the poll this copy of the crate is running on this thread, and what was asked of it: each
    /// of `luminal_context_waker` and `luminal_context_runtime` is fetched at most once per poll, and only if the
    /// poll needs it (see [`waker_of`], [`runtime_of`]).
    static CURRENT: Cell<Current> = const { Cell::new(NOT_IN_A_POLL) };
}

/// Sets `CURRENT` for the duration of one poll; restores the previous value on drop (also while unwinding).
pub(crate) struct Enter {
    prev: Current,
}

impl Enter {
    /// `rt`: `luminal_context_runtime(cx)` if the caller knows it already, else NULL (fetched when first asked).
    #[inline]
    pub(crate) fn with_runtime(cx: *mut luminal_context, rt: *mut luminal_runtime) -> Enter {
        Enter { prev: CURRENT.with(|c| c.replace(Current { cx, rt, ..NOT_IN_A_POLL })) }
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
    let cx = CURRENT.with(|c| c.get().cx);
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
        let mut cur = c.get();
        if cur.cx != cx {
            // SAFETY: `cx` is live (the caller's contract).
            return unsafe { ffi::luminal_context_waker(cx) };
        }
        if cur.waker.is_null() {
            // SAFETY: as above.
            cur.waker = unsafe { ffi::luminal_context_waker(cx) };
            c.set(cur);
        }
        cur.waker
    })
}

/// `luminal_context_runtime(cx)` (the runtime's borrowed token, valid as long as it lives), cached like
/// [`waker_of`].
///
/// # Safety
/// `cx` must be the context of a poll in progress.
#[inline]
pub(crate) unsafe fn runtime_of(cx: *mut luminal_context) -> *mut luminal_runtime {
    CURRENT.with(|c| {
        let mut cur = c.get();
        if cur.cx != cx {
            // SAFETY: `cx` is live (the caller's contract).
            return unsafe { ffi::luminal_context_runtime(cx) };
        }
        if cur.rt.is_null() {
            // SAFETY: as above.
            cur.rt = unsafe { ffi::luminal_context_runtime(cx) };
            c.set(cur);
        }
        cur.rt
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
/// a task of the same runtime, which is the cheapest way to spawn (unset options inherit the current task's
/// priority and scope); elsewhere it spawns onto the runtime's global queue. A `Handle` owns a runtime handle, so
/// it keeps the runtime alive like a [`Runtime`] clone does. Options (priority, scope): [`Builder`].
#[derive(Clone)]
pub struct Handle {
    rt: Runtime,
}

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
        let home = unsafe { runtime_of(cx) };
        // SAFETY: `home` is a borrowed runtime token (or NULL); this makes an owned handle whose home it is.
        let rt = unsafe { Runtime::clone_from_home(home) }?;
        Some(Handle { rt })
    }

    pub(crate) fn from_runtime(rt: Runtime) -> Handle {
        Handle { rt }
    }

    /// The runtime this handle refers to.
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// Spawns `future`; see the type docs for which queue it goes to. If the runtime is shut down, the returned
    /// handle resolves to a cancelled [`JoinError`](crate::JoinError); [`Builder::spawn_on`] returns the error
    /// instead.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Builder::new().spawn_on(self, future).unwrap_or_else(JoinHandle::failed)
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

    /// The context of the poll running on this thread, if it belongs to this handle's runtime.
    pub(crate) fn current_context(&self) -> Option<*mut luminal_context> {
        let cx = current()?;
        // SAFETY: cx is the context of the poll running on this thread.
        (unsafe { runtime_of(cx) } == self.rt.home()).then_some(cx)
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

/// Spawns `future` onto the current worker's local queue (`luminal_context_spawn`), like `tokio::spawn`: it
/// inherits the current task's priority and scope. Options: [`Builder::spawn`].
///
/// # Panics
/// If called outside of a task polled by this copy of the crate (see the module docs). [`Builder::spawn`]
/// returns `ErrorKind::InvalidArgument` there instead; [`Runtime::spawn`] works anywhere.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let Some(cx) = current() else {
        drop(future);
        panic!("luminal::spawn() called outside of a Luminal task")
    };
    // SAFETY: cx is the context of the poll running on this thread.
    let home = unsafe { runtime_of(cx) };
    spawn_on(SpawnTarget::Context(cx), home, future).unwrap_or_else(JoinHandle::failed)
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
