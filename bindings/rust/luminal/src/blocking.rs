//! `spawn_blocking`: a Rust closure on the runtime's blocking pool (`luminal_spawn_blocking_with`).
//!
//! The closure and its result live in one `Arc<BlockingCall>` shared by the call and the [`JoinHandle`]. The
//! runtime gets one strong count of it as `arg`, and `drop_arg` — which the runtime calls exactly once: after `fn`
//! returned, when the call is cancelled before it started (abort, scope close, shutdown), or at once when the
//! spawn fails — releases that count. `fn` runs the closure and stores its result (or its panic) in the `Arc`; the
//! task's own output is NULL, so an unjoined result is simply dropped with the last count, and a closure that
//! never ran is dropped by `drop_arg`. Nothing leaks, whatever happens.

use crate::ffi::{self, luminal_runtime};
use crate::task::{JoinHandle, Output};
use crate::RuntimeError;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::{Arc, Mutex};

/// The state shared by a blocking call and its [`JoinHandle`].
struct BlockingCall<F, T> {
    stage: Mutex<Stage<F, T>>,
}

enum Stage<F, T> {
    Queued(F),
    Running,
    Done(Output<T>),
    Gone,
}

/// The result side of a blocking call, as the [`JoinHandle`] sees it.
pub(crate) trait BlockingResult<T>: Send + Sync {
    /// The result, if the closure ran to its end (taken once).
    fn take(&self) -> Option<Output<T>>;
}

impl<F: Send, T: Send> BlockingResult<T> for BlockingCall<F, T> {
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
}

unsafe extern "C" fn run_blocking<F, T>(arg: *mut c_void) -> *mut c_void
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: `arg` is the runtime's strong count, released only by `drop_blocking`, which runs after this returns.
    let call = unsafe { &*(arg as *const BlockingCall<F, T>) };
    let f = {
        let mut st = call.stage.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *st, Stage::Running) {
            Stage::Queued(f) => Some(f),
            other => {
                *st = other; // cannot happen: the runtime calls `fn` once, and only before `drop_arg`
                None
            }
        }
    };
    if let Some(f) = f {
        let r = catch_unwind(AssertUnwindSafe(f));
        let mut st = call.stage.lock().unwrap_or_else(|e| e.into_inner());
        *st = Stage::Done(r);
    }
    ptr::null_mut()
}

unsafe extern "C" fn drop_blocking<F, T>(arg: *mut c_void)
where
    F: Send,
    T: Send,
{
    // SAFETY: the runtime's strong count (from `Arc::into_raw` in `spawn_blocking`), released exactly once here.
    let call = unsafe { Arc::from_raw(arg as *const BlockingCall<F, T>) };
    // Never unwind into the runtime: a closure that never ran (cancelled) is dropped here, and so is an unjoined
    // result if this is the last count.
    let _ = catch_unwind(AssertUnwindSafe(move || {
        let queued = {
            let mut st = call.stage.lock().unwrap_or_else(|e| e.into_inner());
            match std::mem::replace(&mut *st, Stage::Gone) {
                Stage::Queued(f) => Some(f),
                other => {
                    *st = other;
                    None
                }
            }
        };
        drop(queued);
        drop(call);
    }));
}

/// `luminal_spawn_blocking_with(rt, ...)` of a Rust closure; `home` is the runtime's borrowed token for the handle.
pub(crate) fn spawn_blocking<F, T>(
    rt: *mut luminal_runtime,
    home: *mut luminal_runtime,
    opts: &ffi::luminal_spawn_options,
    f: F,
) -> Result<JoinHandle<T>, RuntimeError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let call = Arc::new(BlockingCall { stage: Mutex::new(Stage::Queued(f)) });
    let arg = Arc::into_raw(call.clone()) as *mut c_void;
    let mut task = ptr::null_mut();
    // SAFETY: `arg` is a strong count the runtime owns from here on and releases through `drop_blocking` exactly
    // once (also when the spawn fails); `opts` is borrowed for the call.
    let status = unsafe {
        ffi::luminal_spawn_blocking_with(
            rt,
            Some(run_blocking::<F, T>),
            arg,
            Some(drop_blocking::<F, T>),
            opts,
            &mut task,
        )
    };
    RuntimeError::check(status)?;
    if task.is_null() {
        return Err(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL));
    }
    Ok(JoinHandle::from_blocking(task, home, call))
}
