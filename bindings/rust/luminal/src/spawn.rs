//! Spawning: where a spawn goes ([`SpawnTarget`]), and the one configurable way to spawn, [`Builder`].
//!
//! The simple ways — [`crate::spawn`] inside a task, [`Runtime::spawn`], [`Handle::spawn`],
//! [`Runtime::spawn_blocking`] / [`Handle::spawn_blocking`] — cover the common cases; everything with options
//! (priority, scope), a `Result` instead of a failed handle, or a C-ABI output goes through [`Builder`].

use crate::context::{self, Handle};
use crate::ffi::{self, luminal_context, luminal_runtime, luminal_task};
use crate::task::{into_raw_future, into_raw_word_future, JoinHandle, RawTask};
use crate::{Priority, Runtime, RuntimeError, Scope};
use std::future::Future;
use std::ptr;

/// Where a spawn goes.
#[derive(Clone, Copy)]
pub(crate) enum SpawnTarget {
    /// `luminal_spawn` onto a runtime handle.
    Runtime(*mut luminal_runtime),
    /// `luminal_context_spawn` from inside a poll.
    Context(*mut luminal_context),
    /// `luminal_spawn_with`: a scope (may be NULL) and a priority (0 = inherit).
    With(*mut luminal_runtime, *mut ffi::luminal_scope, ffi::luminal_priority),
    /// `luminal_context_spawn_with`: unset fields inherit from the task being polled.
    ContextWith(*mut luminal_context, *mut ffi::luminal_scope, ffi::luminal_priority),
}

pub(crate) fn options(scope: *mut ffi::luminal_scope, priority: ffi::luminal_priority) -> ffi::luminal_spawn_options {
    ffi::luminal_spawn_options { struct_size: std::mem::size_of::<ffi::luminal_spawn_options>(), scope, priority }
}

/// Spawns a prepared `luminal_future` (the runtime takes it, also on failure), returning the owned task handle.
pub(crate) fn spawn_raw_future(
    target: SpawnTarget,
    fut: ffi::luminal_future,
) -> Result<*mut luminal_task, RuntimeError> {
    let mut task = ptr::null_mut();
    // SAFETY: the runtime takes `fut` in every case (dropping it on failure); the options are borrowed for the
    // call; handles and contexts are tokens the runtime validates (a context is only ever the live one).
    let status = unsafe {
        match target {
            SpawnTarget::Runtime(rt) => ffi::luminal_spawn(rt, fut, &mut task),
            SpawnTarget::Context(cx) => ffi::luminal_context_spawn(cx, fut, &mut task),
            SpawnTarget::With(rt, scope, priority) => {
                ffi::luminal_spawn_with(rt, fut, &options(scope, priority), &mut task)
            }
            SpawnTarget::ContextWith(cx, scope, priority) => {
                ffi::luminal_context_spawn_with(cx, fut, &options(scope, priority), &mut task)
            }
        }
    };
    RuntimeError::check(status)?;
    if task.is_null() {
        return Err(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL));
    }
    Ok(task)
}

/// Spawns `future` at `target`; `home` is the runtime's borrowed token (see [`JoinHandle`]'s fallback).
pub(crate) fn spawn_on<F>(
    target: SpawnTarget,
    home: *mut luminal_runtime,
    future: F,
) -> Result<JoinHandle<F::Output>, RuntimeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if crate::task_inline::fits::<F>() {
        // The future moves into the runtime's task storage: no allocation here.
        let task = crate::task_inline::spawn(target, home, future)?;
        // SAFETY: a fresh owned handle of a task spawned by `task_inline::spawn::<F>`.
        return Ok(unsafe { JoinHandle::from_inline_task::<F>(task, home) });
    }
    let task = spawn_raw_future(target, into_raw_future(future))?;
    // SAFETY: a fresh owned handle of a task spawned by `into_raw_future::<F>`.
    Ok(unsafe { JoinHandle::from_raw_task::<F>(task, home) })
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::Runtime {}
    impl Sealed for crate::Handle {}
}

/// What [`Builder::spawn_on`] spawns onto: a [`Runtime`] or a [`Handle`] (sealed).
///
/// * a `Runtime`: the runtime's global queue (`luminal_spawn_with`); unset options take the defaults
///   ([`Priority::UserInitiated`], no scope), even from inside a task;
/// * a `Handle`: from inside a task of its runtime, the current worker's queue (`luminal_context_spawn_with`), and
///   unset options inherit the current task's priority and scope; elsewhere like a `Runtime`.
pub trait Spawner: sealed::Sealed {
    #[doc(hidden)]
    fn spawner_runtime(&self) -> &Runtime;
    #[doc(hidden)]
    fn spawner_context(&self) -> Option<*mut luminal_context>;
}

impl Spawner for Runtime {
    fn spawner_runtime(&self) -> &Runtime {
        self
    }
    fn spawner_context(&self) -> Option<*mut luminal_context> {
        None
    }
}

impl Spawner for Handle {
    fn spawner_runtime(&self) -> &Runtime {
        self.runtime()
    }
    fn spawner_context(&self) -> Option<*mut luminal_context> {
        self.current_context()
    }
}

/// Spawns with options, like tokio's `task::Builder`: a [`Priority`], a [`Scope`], onto the current task
/// ([`spawn`](Self::spawn)) or a [`Runtime`] / [`Handle`] ([`spawn_on`](Self::spawn_on)), for futures, blocking
/// closures ([`spawn_blocking_on`](Self::spawn_blocking_on)) and futures whose output crosses the C ABI
/// ([`spawn_raw_on`](Self::spawn_raw_on)). Every method returns the runtime's error (`ErrorKind::Shutdown` for a
/// shut-down runtime or a closed scope, `ErrorKind::InvalidArgument` for another runtime's scope) instead of a
/// handle that fails later; the future or closure has then been dropped.
///
/// ```no_run
/// use luminal::task::Builder;
/// use luminal::{Priority, Runtime, Scope};
///
/// let rt = Runtime::new().unwrap();
/// let scope = Scope::new(&rt).unwrap();
/// let h = Builder::new().priority(Priority::Background).scope(&scope).spawn_on(&rt, async { 1 }).unwrap();
/// let b = Builder::new().priority(Priority::Utility).spawn_blocking_on(&rt, || 2).unwrap();
/// assert_eq!(rt.block_on(async { h.await.unwrap() + b.await.unwrap() }), 3);
/// ```
///
/// Unset options inherit from the current task where the spawn is made from inside one (see [`Spawner`]); else
/// they take the defaults: [`Priority::UserInitiated`], no scope. A scope must belong to the runtime spawned on.
#[derive(Clone, Copy, Debug, Default)]
#[must_use = "a Builder does nothing until one of its spawn methods is called"]
pub struct Builder<'a> {
    priority: Priority,
    scope: Option<&'a Scope>,
}

impl<'a> Builder<'a> {
    /// A builder with every option unset (inherit / defaults).
    pub fn new() -> Builder<'a> {
        Builder::default()
    }

    /// The task's priority.
    pub fn priority(mut self, priority: Priority) -> Builder<'a> {
        self.priority = priority;
        self
    }

    /// Spawn into `scope` (closing it cancels the task; see [`Scope`]).
    pub fn scope(mut self, scope: &'a Scope) -> Builder<'a> {
        self.scope = Some(scope);
        self
    }

    fn raw_scope(&self) -> *mut ffi::luminal_scope {
        self.scope.map_or(ptr::null_mut(), |s| s.as_raw())
    }

    /// The options as the C ABI takes them (for `luminal_task_set_spawn`).
    pub(crate) fn raw_options(&self) -> ffi::luminal_spawn_options {
        options(self.raw_scope(), self.priority.as_raw())
    }

    fn is_default(&self) -> bool {
        self.scope.is_none() && self.priority == Priority::Inherit
    }

    /// Where a spawn with these options onto `on` goes, and the runtime's token for the handle.
    fn target<S: Spawner + ?Sized>(&self, on: &S) -> (SpawnTarget, *mut luminal_runtime) {
        let rt = on.spawner_runtime();
        let (scope, prio) = (self.raw_scope(), self.priority.as_raw());
        let target = match on.spawner_context() {
            Some(cx) if self.is_default() => SpawnTarget::Context(cx),
            Some(cx) => SpawnTarget::ContextWith(cx, scope, prio),
            None if self.is_default() => SpawnTarget::Runtime(rt.as_raw()),
            None => SpawnTarget::With(rt.as_raw(), scope, prio),
        };
        (target, rt.home())
    }

    /// Spawns `future` from inside a task onto the current worker's queue (`luminal_context_spawn_with`): unset
    /// options inherit the current task's priority and scope. Outside of a task polled by this copy of the crate
    /// it returns `ErrorKind::InvalidArgument` (and drops the future).
    pub fn spawn<F>(self, future: F) -> Result<JoinHandle<F::Output>, RuntimeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let Some(cx) = context::current() else {
            drop(future);
            return Err(RuntimeError::from_status(ffi::LUMINAL_E_INVALID_ARGUMENT));
        };
        let target = if self.is_default() {
            SpawnTarget::Context(cx)
        } else {
            SpawnTarget::ContextWith(cx, self.raw_scope(), self.priority.as_raw())
        };
        // SAFETY: cx is the context of the poll running on this thread.
        spawn_on(target, unsafe { context::runtime_of(cx) }, future)
    }

    /// Spawns `future` onto a [`Runtime`] or a [`Handle`]; see [`Spawner`] for the queue and what unset options
    /// mean.
    pub fn spawn_on<S, F>(self, on: &S, future: F) -> Result<JoinHandle<F::Output>, RuntimeError>
    where
        S: Spawner + ?Sized,
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (target, home) = self.target(on);
        spawn_on(target, home, future)
    }

    /// Runs `f` on the runtime's blocking pool (`luminal_spawn_blocking_with`), never on a worker; the priority
    /// orders the pool's queue and a scope makes closing it wait for the call (and cancel it if it has not
    /// started). See [`Runtime::spawn_blocking`] for the rest. Unset options take the defaults.
    pub fn spawn_blocking_on<S, F, T>(self, on: &S, f: F) -> Result<JoinHandle<T>, RuntimeError>
    where
        S: Spawner + ?Sized,
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let rt = on.spawner_runtime();
        crate::blocking::spawn_blocking(rt.as_raw(), rt.home(), &options(self.raw_scope(), self.priority.as_raw()), f)
    }

    /// Spawns a future whose output crosses the C ABI as is: the `usize` becomes the task's `void*` output (no
    /// allocation, no `drop_output`). Use it to hand a task to C code or to another plugin ([`RawTask::into_raw`]).
    /// A panic in such a future completes the task with output 0 (the panic hook reports the panic; a C output has
    /// no way to carry it).
    pub fn spawn_raw_on<S, F>(self, on: &S, future: F) -> Result<RawTask, RuntimeError>
    where
        S: Spawner + ?Sized,
        F: Future<Output = usize> + Send + 'static,
    {
        let (target, home) = self.target(on);
        let task = spawn_raw_future(target, into_raw_word_future(future))?;
        Ok(RawTask::with_home(task, home, None))
    }
}
