//! The observers a [`Builder`](crate::Builder) can give a runtime: thread hooks and a log hook, as Rust closures
//! behind the C callbacks of `luminal_runtime_options`.
//!
//! The closures are boxed once per runtime built with them and never freed: a runtime may outlive every Rust
//! `Runtime` value (a C host or a plugin may hold its handle), and the library calls the hooks until its last
//! thread exits, which Rust cannot observe. That is a few bytes per runtime built with hooks.
//! A panic in a hook is caught at the boundary (unwinding into C is undefined) and ignored.

use crate::ffi;
use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Which kind of runtime thread a thread hook runs on (`luminal_thread_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThreadKind {
    /// A worker; the index is 0 .. worker count.
    Worker,
    /// A blocking-pool thread; the index is a slot number below the pool's cap, reused.
    Blocking,
    /// An IO helper thread (the pool backend's reactor is 0).
    Io,
}

/// The level of a log line (`luminal_log_level`), most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Something failed (an internal error, a call into unloaded plugin code refused).
    Error = 1,
    /// A likely mistake (an unknown `LUMINAL_IO_BACKEND`, a scope released with live tasks).
    Warn = 2,
    /// Decisions (the IO backend chosen and why).
    Info = 3,
    /// Lifecycle (runtime created, shut down).
    Debug = 4,
}

pub(crate) type ThreadHook = Hook<dyn Fn(ThreadKind, usize) + Send + Sync>;
pub(crate) type LogHook = Hook<dyn Fn(LogLevel, &str) + Send + Sync>;

/// A closure kept by a [`Builder`](crate::Builder) (cloned with it; printed as `Hook`).
pub(crate) struct Hook<F: ?Sized>(pub(crate) Arc<F>);

impl<F: ?Sized> Clone for Hook<F> {
    fn clone(&self) -> Self {
        Hook(Arc::clone(&self.0))
    }
}

impl<F: ?Sized> std::fmt::Debug for Hook<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

/// What the C callbacks' user pointers point to (leaked: see the module docs).
pub(crate) struct Hooks {
    pub(crate) start: Option<ThreadHook>,
    pub(crate) stop: Option<ThreadHook>,
    pub(crate) log: Option<LogHook>,
}

impl Hooks {
    /// Leaks the hooks and fills the options' hook fields with callbacks that call them.
    pub(crate) fn install(self, opts: &mut ffi::luminal_runtime_options) {
        if self.start.is_none() && self.stop.is_none() && self.log.is_none() {
            return;
        }
        let has = (self.start.is_some(), self.stop.is_some(), self.log.is_some());
        let user = Box::into_raw(Box::new(self)) as *mut c_void;
        if has.0 {
            opts.on_thread_start = Some(thread_started);
        }
        if has.1 {
            opts.on_thread_stop = Some(thread_stopping);
        }
        opts.thread_hook_user = user;
        if has.2 {
            opts.log = Some(log_line);
            opts.log_user = user;
        }
    }
}

fn kind_of(kind: ffi::luminal_thread_kind) -> ThreadKind {
    match kind {
        ffi::LUMINAL_THREAD_WORKER => ThreadKind::Worker,
        ffi::LUMINAL_THREAD_BLOCKING => ThreadKind::Blocking,
        _ => ThreadKind::Io,
    }
}

unsafe extern "C" fn thread_started(user: *mut c_void, kind: ffi::luminal_thread_kind, index: u32) {
    // SAFETY: `user` is the leaked `Hooks` of `install`, alive for the process.
    let hooks = unsafe { &*(user as *const Hooks) };
    if let Some(f) = &hooks.start {
        let _ = catch_unwind(AssertUnwindSafe(|| (f.0)(kind_of(kind), index as usize)));
    }
}

unsafe extern "C" fn thread_stopping(user: *mut c_void, kind: ffi::luminal_thread_kind, index: u32) {
    // SAFETY: as in `thread_started`.
    let hooks = unsafe { &*(user as *const Hooks) };
    if let Some(f) = &hooks.stop {
        let _ = catch_unwind(AssertUnwindSafe(|| (f.0)(kind_of(kind), index as usize)));
    }
}

unsafe extern "C" fn log_line(user: *mut c_void, level: ffi::luminal_log_level, message: *const c_char) {
    // SAFETY: as in `thread_started`; `message` is a NUL-terminated string borrowed for this call.
    let (hooks, text) = unsafe { (&*(user as *const Hooks), CStr::from_ptr(message)) };
    let level = match level {
        ffi::LUMINAL_LOG_ERROR => LogLevel::Error,
        ffi::LUMINAL_LOG_WARN => LogLevel::Warn,
        ffi::LUMINAL_LOG_INFO => LogLevel::Info,
        _ => LogLevel::Debug,
    };
    if let Some(f) = &hooks.log {
        let _ = catch_unwind(AssertUnwindSafe(|| (f.0)(level, &text.to_string_lossy())));
    }
}
