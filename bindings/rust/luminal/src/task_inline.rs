//! The inline task state: a spawned future moved into the runtime's own task storage (`luminal_spawn_inline`),
//! so a spawn allocates nothing on the Rust side (tokio and async-task make one allocation per task; this makes
//! none once the runtime is warm, for futures of up to `LUMINAL_SPAWN_INLINE_SMALL` bytes).
//!
//! The state is an `InlineCell<F, H>`: a stage byte, the runtime's token where it fits ([`Home`]), and a union of
//! the future and its output, as the boxed `TaskCell` of the task module, without the owner count. The runtime owns the storage and keeps it until the
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
struct InlineCell<F: Future, H: Home> {
    stage: u8,
    /// `luminal_context_runtime` of this task's polls, if the cell has room for it (see [`WithHome`]).
    home: H,
    slot: Slot<F>,
}

union Slot<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<Output<F::Output>>,
}

/// Where a cell keeps the runtime token its polls run on ([`WithHome`], or nowhere: [`NoHome`]).
trait Home: Copy {
    fn new(rt: *mut luminal_runtime) -> Self;
    fn get(self) -> *mut luminal_runtime;
}

/// The token, when the spawner knew it (a spawn from inside a poll: the child runs on the spawner's runtime), else
/// NULL: a spawn from this task's poll then needs no `luminal_context_runtime` call (see `context::runtime_of`).
#[derive(Clone, Copy)]
struct WithHome(*mut luminal_runtime);
impl Home for WithHome {
    fn new(rt: *mut luminal_runtime) -> Self {
        WithHome(rt)
    }
    fn get(self) -> *mut luminal_runtime {
        self.0
    }
}

/// No room: the token would take the cell past a power of two, i.e. into a larger storage class of the runtime
/// (32, 64, 256 bytes), for every task of that future type.
#[derive(Clone, Copy)]
struct NoHome;
impl Home for NoHome {
    fn new(_: *mut luminal_runtime) -> Self {
        NoHome
    }
    fn get(self) -> *mut luminal_runtime {
        ptr::null_mut()
    }
}

/// Does the token fit in `F`'s cell without making it larger than the next power of two?
const fn with_home<F: Future>() -> bool {
    let (with, without) = (mem::size_of::<InlineCell<F, WithHome>>(), mem::size_of::<InlineCell<F, NoHome>>());
    with.next_power_of_two() == without.next_power_of_two()
        && mem::align_of::<InlineCell<F, WithHome>>() == mem::align_of::<InlineCell<F, NoHome>>()
}

/// Does a future of type `F` go into the runtime's storage (within `luminal_spawn_inline`'s limits)?
pub(crate) const fn fits<F: Future>() -> bool {
    mem::size_of::<InlineCell<F, NoHome>>() <= ffi::LUMINAL_SPAWN_INLINE_MAX_SIZE
        && mem::align_of::<InlineCell<F, NoHome>>() <= ffi::LUMINAL_SPAWN_INLINE_MAX_ALIGN
}

/// Spawns `future` (which must [`fit`](fits)) at `target`; the runtime takes it in every case.
/// `home`: the runtime's borrowed token (see [`runtime_of`](crate::context::runtime_of)), kept in the cell for a
/// spawn from inside a poll.
pub(crate) fn spawn<F>(target: SpawnTarget, home: *mut luminal_runtime, future: F) -> Result<*mut luminal_task, RuntimeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if with_home::<F>() {
        spawn_cell::<F, WithHome>(target, home, future)
    } else {
        spawn_cell::<F, NoHome>(target, home, future)
    }
}

fn spawn_cell<F, H: Home>(target: SpawnTarget, home: *mut luminal_runtime, future: F) -> Result<*mut luminal_task, RuntimeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    debug_assert!(fits::<F>() && mem::size_of::<InlineCell<F, H>>() <= ffi::LUMINAL_SPAWN_INLINE_MAX_SIZE);
    // The runtime moves these bytes (memcpy) into its storage, or drops them in place on failure: either way they
    // are not ours any more once the call returns, so the cell is never dropped here.
    // From inside a poll `home` is that poll's luminal_context_runtime; onto a runtime it is that too unless it is
    // the runtime's own handle (`Runtime::home`'s fallback), which is not what the task's polls would be told.
    let home = match target {
        SpawnTarget::Context(_) | SpawnTarget::ContextWith(..) => home,
        SpawnTarget::Runtime(rt) | SpawnTarget::With(rt, ..) if rt != home => home,
        _ => ptr::null_mut(),
    };
    let mut cell = ManuallyDrop::new(InlineCell::<F, H> {
        stage: STAGE_FUTURE,
        home: H::new(home),
        slot: Slot { future: ManuallyDrop::new(future) },
    });
    let state = &mut *cell as *mut InlineCell<F, H> as *mut c_void;
    let (size, align) = (mem::size_of::<InlineCell<F, H>>(), mem::align_of::<InlineCell<F, H>>());
    let (poll, drop, drop_output) = (
        Some(poll_inline::<F, H> as ffi::luminal_poll_fn),
        Some(drop_inline::<F, H> as ffi::luminal_drop_fn),
        Some(drop_output_inline::<F, H> as ffi::luminal_drop_fn),
    );
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

unsafe extern "C" fn poll_inline<F: Future, H: Home>(
    state: *mut c_void,
    cx: *mut luminal_context,
    output: *mut *mut c_void,
) -> ffi::luminal_poll {
    let cell = state as *mut InlineCell<F, H>;
    // SAFETY: `state` is the runtime's copy of the cell, at a fixed address from the spawn on; the runtime never
    // polls concurrently, nor after READY, so the poll is the cell's sole user and the future (stage FUTURE) is
    // live; from here on it stays pinned there.
    let fut = unsafe {
        debug_assert_eq!((*cell).stage, STAGE_FUTURE);
        Pin::new_unchecked(&mut *(*cell).slot.future)
    };
    // SAFETY: `cx` is the context of this poll; the cell's home is NULL or its runtime's borrowed token.
    match unsafe { poll_in_context_of(fut, cx, (*cell).home.get()) } {
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

unsafe extern "C" fn drop_inline<F: Future, H: Home>(state: *mut c_void) {
    let cell = state as *mut InlineCell<F, H>;
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
    // SAFETY: the caller's contract; `spawn::<F>` made the cell with the same choice.
    unsafe {
        if with_home::<F>() {
            take_cell_output::<F, WithHome>(out)
        } else {
            take_cell_output::<F, NoHome>(out)
        }
    }
}

/// # Safety
/// As for [`take_output`], the cell being an `InlineCell<F, H>`.
unsafe fn take_cell_output<F: Future, H: Home>(out: *mut c_void) -> Output<F::Output> {
    let cell = out as *mut InlineCell<F, H>;
    // SAFETY: the output's owner is the cell's sole user; the output (stage OUTPUT) is live and taken once.
    unsafe {
        debug_assert_eq!((*cell).stage, STAGE_OUTPUT);
        (*cell).stage = STAGE_EMPTY;
        ManuallyDrop::take(&mut (*cell).slot.output)
    }
}

/// `drop_output`: an output nobody took (the runtime calls it before the storage goes).
unsafe extern "C" fn drop_output_inline<F: Future, H: Home>(out: *mut c_void) {
    if !out.is_null() {
        // SAFETY: the runtime hands an output nobody took to `drop_output` once, storage still there.
        let r = unsafe { take_cell_output::<F, H>(out) };
        let _ = catch_unwind(AssertUnwindSafe(move || drop(r)));
    }
}

/// The `drop_output` of [`spawn`]`::<F>`'s tasks (for the join handle).
pub(crate) fn drop_output_fn<F: Future>() -> ffi::luminal_drop_fn {
    if with_home::<F>() {
        drop_output_inline::<F, WithHome>
    } else {
        drop_output_inline::<F, NoHome>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (cell size without the token, the size spawned, whether the token is kept) for futures like `f`.
    fn layout<F: Future>(_: &F) -> (usize, usize, bool) {
        let without = mem::size_of::<InlineCell<F, NoHome>>();
        let spawned = if with_home::<F>() { mem::size_of::<InlineCell<F, WithHome>>() } else { without };
        (without, spawned, with_home::<F>())
    }

    #[test]
    fn the_runtime_token_never_moves_a_cell_into_a_larger_class() {
        let (a, b, c, d) = ([1u64; 2], [1u64; 5], [1u64; 6], [1u64; 40]); // captured: the futures' sizes
        let cases = [
            layout(&async {}),
            layout(&async move { std::hint::black_box(a); }),
            layout(&async move { std::hint::black_box(b); }),
            layout(&async move { std::hint::black_box(c); }),
            layout(&async move { std::hint::black_box(d); }),
        ];
        for (without, spawned, _) in cases {
            assert_eq!(spawned.next_power_of_two(), without.next_power_of_two(), "{without} -> {spawned} bytes");
        }
        // tests/runtime.rs's record_at_depth: an Arc, a u64 and a u32 make a cell with no room.
        let (arc, n, t) = (std::sync::Arc::new(()), 5u32, 7u64);
        assert!(!layout(&async move { std::hint::black_box((&arc, n, t)); }).2);
        // The tiny tasks (a 24-byte cell: Result<(), panic> and a few bytes of future) keep it in the 32-byte class;
        // a 32-byte cell has no room.
        assert_eq!(cases[0], (24, 32, true));
        assert_eq!(cases[1], (32, 32, false));
    }
}
