//! The inline task state: a spawned future moved into the runtime's own task storage (`luminal_spawn_inline`),
//! so a spawn allocates nothing on the Rust side (tokio and async-task make one allocation per task; this makes
//! none once the runtime is warm, for futures of up to `LUMINAL_SPAWN_INLINE_SMALL` bytes).
//!
//! The state is an `InlineCell<F>`: a stage byte, the runtime's token when known, and a union of the future and
//! its output, as the boxed `TaskCell` of the task module, without the owner count. The runtime owns the storage and keeps it until the
//! task's output is disposed of and its join handle released (see `luminal_spawn_inline` in luminal.h), so:
//! * the READY poll drops the future in place, writes the output into the same bytes and hands the cell over as the
//!   task's `void*` output;
//! * `drop(state)` (called once, after the READY poll or instead of it) drops only a future still there; an output
//!   belongs to whoever takes it: a [`JoinHandle`](crate::task::JoinHandle), which keeps the join handle until it
//!   has moved the output out (see `Joined`), or the runtime's `drop_output` for an output nobody took.
//!
//! Only the current sole user touches the cell: the poll (the runtime never polls concurrently), `drop(state)`
//! (the runtime orders it after the poll and before anyone can take the output), the output's taker.

use crate::ffi::{self, luminal_context, luminal_runtime, luminal_task};
use crate::spawn::{options, SpawnTarget};
use crate::task::{poll_in_context_of, Output};
use crate::RuntimeError;
use std::ffi::c_void;
use std::future::Future;
use std::mem::{self, ManuallyDrop};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr;
use std::task::Poll;

const STAGE_FUTURE: u8 = 0;
const STAGE_OUTPUT: u8 = 1;
const STAGE_EMPTY: u8 = 2;

#[repr(C)]
struct InlineCell<F: Future> {
    stage: u8,
    /// `luminal_context_runtime` of this task's polls when the spawner knew it (a spawn from inside a poll: the
    /// child runs on the spawner's runtime), else NULL: a spawn from this task's poll then needs no call to learn
    /// it (see `context::runtime_of`).
    home: *mut luminal_runtime,
    slot: Slot<F>,
}

union Slot<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<Output<F::Output>>,
}

/// Does a future of type `F` go into the runtime's storage (within `luminal_spawn_inline`'s limits)?
pub(crate) const fn fits<F: Future>() -> bool {
    mem::size_of::<InlineCell<F>>() <= ffi::LUMINAL_SPAWN_INLINE_MAX_SIZE
        && mem::align_of::<InlineCell<F>>() <= ffi::LUMINAL_SPAWN_INLINE_MAX_ALIGN
}

/// Spawns `future` (which must [`fit`](fits)) at `target`; the runtime takes it in every case.
/// `home`: the runtime's borrowed token (see [`runtime_of`](crate::context::runtime_of)), kept in the cell for a
/// spawn from inside a poll.
pub(crate) fn spawn<F>(target: SpawnTarget, home: *mut luminal_runtime, future: F) -> Result<*mut luminal_task, RuntimeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    debug_assert!(fits::<F>());
    // The runtime moves these bytes (memcpy) into its storage, or drops them in place on failure: either way they
    // are not ours any more once the call returns, so the cell is never dropped here.
    // From inside a poll `home` is that poll's luminal_context_runtime; onto a runtime it is that too unless it is
    // the runtime's own handle (`Runtime::home`'s fallback), which is not what the task's polls would be told.
    let home = match target {
        SpawnTarget::Context(_) | SpawnTarget::ContextWith(..) => home,
        SpawnTarget::Runtime(rt) | SpawnTarget::With(rt, ..) if rt != home => home,
        _ => ptr::null_mut(),
    };
    let mut cell =
        ManuallyDrop::new(InlineCell::<F> { stage: STAGE_FUTURE, home, slot: Slot { future: ManuallyDrop::new(future) } });
    let state = &mut *cell as *mut InlineCell<F> as *mut c_void;
    let (size, align) = (mem::size_of::<InlineCell<F>>(), mem::align_of::<InlineCell<F>>());
    let (poll, drop, drop_output) = (Some(poll_inline::<F> as ffi::luminal_poll_fn), Some(drop_inline::<F> as ffi::luminal_drop_fn), Some(drop_output_inline::<F> as ffi::luminal_drop_fn));
    let mut task = ptr::null_mut();
    // SAFETY: `state` is `size` live bytes aligned to `align` that we give up (see above); an InlineCell is
    // trivially relocatable (the future is not pinned before its first poll); options are borrowed for the call;
    // handles and contexts are tokens the runtime validates.
    let status = unsafe {
        match target {
            SpawnTarget::Runtime(rt) => {
                ffi::luminal_spawn_inline(rt, state, size, align, poll, drop, drop_output, ptr::null(), &mut task)
            }
            SpawnTarget::Context(cx) => {
                ffi::luminal_context_spawn_inline(cx, state, size, align, poll, drop, drop_output, ptr::null(), &mut task)
            }
            SpawnTarget::With(rt, scope, priority) => ffi::luminal_spawn_inline(
                rt, state, size, align, poll, drop, drop_output, &options(scope, priority), &mut task,
            ),
            SpawnTarget::ContextWith(cx, scope, priority) => ffi::luminal_context_spawn_inline(
                cx, state, size, align, poll, drop, drop_output, &options(scope, priority), &mut task,
            ),
        }
    };
    RuntimeError::check(status)?;
    if task.is_null() {
        return Err(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL));
    }
    Ok(task)
}

unsafe extern "C" fn poll_inline<F: Future>(
    state: *mut c_void,
    cx: *mut luminal_context,
    output: *mut *mut c_void,
) -> ffi::luminal_poll {
    let cell = state as *mut InlineCell<F>;
    // SAFETY: `state` is the runtime's copy of the cell, at a fixed address from the spawn on; the runtime never
    // polls concurrently, nor after READY, so the poll is the cell's sole user and the future (stage FUTURE) is
    // live; from here on it stays pinned there.
    let fut = unsafe {
        debug_assert_eq!((*cell).stage, STAGE_FUTURE);
        Pin::new_unchecked(&mut *(*cell).slot.future)
    };
    // SAFETY: `cx` is the context of this poll; the cell's home is NULL or its runtime's borrowed token.
    match unsafe { poll_in_context_of(fut, cx, (*cell).home) } {
        Poll::Pending => ffi::LUMINAL_POLL_PENDING,
        // SAFETY: still the sole user; the future is dropped once (stage EMPTY first) and the output written into
        // the bytes it left (the runtime keeps them until the output is disposed of and the handle released).
        Poll::Ready(r) => unsafe {
            (*cell).stage = STAGE_EMPTY;
            let _ = catch_unwind(AssertUnwindSafe(|| ManuallyDrop::drop(&mut (*cell).slot.future)));
            if output.is_null() {
                let _ = catch_unwind(AssertUnwindSafe(move || drop(r)));
            } else {
                ptr::write(ptr::addr_of_mut!((*cell).slot.output), ManuallyDrop::new(r));
                (*cell).stage = STAGE_OUTPUT;
                *output = state;
            }
            ffi::LUMINAL_POLL_READY
        },
    }
}

unsafe extern "C" fn drop_inline<F: Future>(state: *mut c_void) {
    let cell = state as *mut InlineCell<F>;
    // SAFETY: the runtime's `drop(state)`, once, never during a poll, before anyone can take the output. A future
    // still there is ours to drop; an output is not (see the module docs).
    unsafe {
        if (*cell).stage == STAGE_FUTURE {
            (*cell).stage = STAGE_EMPTY;
            // A panicking destructor must not unwind into the runtime: swallow it (the panic hook has reported it).
            let _ = catch_unwind(AssertUnwindSafe(|| ManuallyDrop::drop(&mut (*cell).slot.future)));
        }
    }
}

/// Takes the output out of a cell handed over by `poll_inline`.
///
/// # Safety
/// `out` is the output of a task spawned by [`spawn`]`::<F>`, handed over to the caller (who thereby owns it)
/// exactly once, and the task's join handle (which keeps the storage) is still held.
pub(crate) unsafe fn take_output<F: Future>(out: *mut c_void) -> Output<F::Output> {
    let cell = out as *mut InlineCell<F>;
    // SAFETY: the output's owner is the cell's sole user; the output (stage OUTPUT) is live and taken once.
    unsafe {
        debug_assert_eq!((*cell).stage, STAGE_OUTPUT);
        (*cell).stage = STAGE_EMPTY;
        ManuallyDrop::take(&mut (*cell).slot.output)
    }
}

/// `drop_output`: an output nobody took (the runtime calls it before the storage goes).
unsafe extern "C" fn drop_output_inline<F: Future>(out: *mut c_void) {
    if !out.is_null() {
        // SAFETY: the runtime hands an output nobody took to `drop_output` once, storage still there.
        let r = unsafe { take_output::<F>(out) };
        let _ = catch_unwind(AssertUnwindSafe(move || drop(r)));
    }
}

/// The `drop_output` of [`spawn`]`::<F>`'s tasks (for the join handle).
pub(crate) fn drop_output_fn<F: Future>() -> ffi::luminal_drop_fn {
    drop_output_inline::<F>
}
