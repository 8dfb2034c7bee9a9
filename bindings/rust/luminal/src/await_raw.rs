//! The one way this crate awaits something the runtime provides: [`AwaitRaw`].
//!
//! A join handle (`luminal_task_poll`), a timer (`luminal_sleep_until`) and an IO operation (`luminal_file_*`,
//! `luminal_stream_*`, ...) have one thing in common: they can only be polled with a real `luminal_context`,
//! because the runtime registers *the context's task* as the one to wake. A Rust future gets a
//! [`Waker`](std::task::Waker), not a context. Each of them is a [`RawPoll`] — "poll me with a context" — and
//! [`AwaitRaw`] turns any `RawPoll` into a Rust future:
//!
//! * **Fast path** — awaited directly by a task of this copy of the crate (the Rust waker *is* the waker of the
//!   task being polled, see [`context::current_for`]): the source is polled with that task's own context, so the
//!   runtime wakes the task directly. Nothing is allocated.
//! * **Already done** — otherwise, [`RawPoll::poll_now`] may answer without a context (a finished task's join).
//! * **Fallback** — polled under another waker (a combinator's, a foreign executor's, another copy of the crate's,
//!   or on a plain thread with no luminal context at all): the source moves into a small shared slot, and a
//!   *helper task* — a `luminal_future` of a few lines — polls it with the helper's own context and wakes the Rust
//!   waker when it completes. The helper is spawned on the current context if this copy of the crate is polling
//!   one (so inside a scoped task it joins the same [`Scope`](crate::Scope)), else on the **home** runtime the
//!   source was made for: the runtime a task was spawned on, a `Sleep`'s or an IO operation's runtime.
//!
//! No thread is ever started for this: a `JoinHandle` awaited on a plain thread costs one helper task on its
//! runtime (which parks on the runtime's wakers like any task), not an OS thread per handle as it once did. The
//! home is the runtime's *borrowed* token (`luminal_context_runtime`, see [`Runtime`](crate::Runtime)'s notes),
//! valid as long as the runtime lives, so a helper can be spawned even after the `Runtime` value a task was
//! spawned through was dropped; once the runtime itself is gone, spawning the helper fails and the source gives
//! its [`RawPoll::helper_failed`] answer.
//!
//! Ownership: the source stays owned by the `AwaitRaw`, also while a helper polls it (the slot is shared, the
//! helper only borrows it under the slot's lock). Dropping the `AwaitRaw` takes the source out and drops it there
//! and then — for an IO operation that means the kernel has let go of the buffer when the drop returns — and then
//! aborts the helper, which finds the slot empty and completes. A leaked `AwaitRaw` (`mem::forget`) leaks the slot
//! with it rather than freeing anything the runtime may still use.

use crate::context;
use crate::ffi::{self, luminal_context, luminal_runtime, luminal_task};
use crate::task::{spawn_raw_future, SpawnTarget};
use crate::RuntimeError;
use std::ffi::c_void;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Something the runtime provides that must be polled with a `luminal_context`.
pub(crate) trait RawPoll: Send + 'static {
    type Output: Send + 'static;

    /// Polls with `lcx`. Not called again after it returned `Ready`.
    ///
    /// # Safety
    /// `lcx` must be the context of the poll in progress on this thread.
    unsafe fn poll_raw(&mut self, lcx: *mut luminal_context) -> Poll<Self::Output>;

    /// Without a context and without blocking: the output, if it is known already. Default: not known.
    fn poll_now(&mut self) -> Option<Self::Output> {
        None
    }

    /// The output when no helper can poll the source: it could not be spawned (`e` is the runtime's refusal), or
    /// it was dropped unfinished (runtime shut down, scope closed: `e` is `LUMINAL_E_CANCELLED`).
    fn helper_failed(&mut self, e: RuntimeError) -> Self::Output;
}

/// A [`RawPoll`] as a Rust future; see the module docs. `Unpin`; panics if polled after it completed.
pub(crate) struct AwaitRaw<S: RawPoll> {
    mode: Mode<S>,
    /// The runtime a fallback helper is spawned on outside any context: a borrowed token, never released here.
    home: *mut luminal_runtime,
    done: bool,
}

enum Mode<S: RawPoll> {
    /// Owned here, polled with the awaiting task's context.
    Direct(S),
    /// In the slot a helper task polls; `task` is the helper's owned join handle (NULL if the spawn failed).
    Helper { shared: Arc<Shared<S>>, task: *mut luminal_task },
    /// Taken out (`take_source`), or mid-move.
    Empty,
}

struct Shared<S: RawPoll> {
    slot: Mutex<Slot<S>>,
}

struct Slot<S: RawPoll> {
    /// `None` once the `AwaitRaw` took it back (dropped, or `take_source`).
    source: Option<S>,
    /// What the helper received, until the `AwaitRaw` takes it.
    output: Option<S::Output>,
    /// The helper received the output (it may have been taken since).
    finished: bool,
    /// The helper went away unfinished, or was never spawned: the reason.
    gone: Option<RuntimeError>,
    /// The Rust waker to wake when `output` or `gone` is set.
    waker: Option<Waker>,
}

impl<S: RawPoll> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Slot<S>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// SAFETY: the source and its output are `Send`; the raw pointers are runtime tokens, usable from any thread; every
// access to the shared slot goes through its mutex.
unsafe impl<S: RawPoll> Send for AwaitRaw<S> {}
impl<S: RawPoll> Unpin for AwaitRaw<S> {}

impl<S: RawPoll> AwaitRaw<S> {
    /// Awaits `source`; a fallback helper outside any context goes to `home` (a borrowed runtime token).
    pub(crate) fn new(source: S, home: *mut luminal_runtime) -> AwaitRaw<S> {
        AwaitRaw { mode: Mode::Direct(source), home, done: false }
    }

    /// True once `poll` returned `Ready`, or the helper has the output waiting.
    pub(crate) fn is_done(&self) -> bool {
        self.done
            || match &self.mode {
                Mode::Helper { shared, .. } => {
                    let slot = shared.lock();
                    slot.finished || slot.gone.is_some()
                }
                _ => false,
            }
    }

    /// Calls `f` with the source, wherever it is now (`None` once it was taken out).
    pub(crate) fn source_ref<R>(&self, f: impl FnOnce(&S) -> R) -> Option<R> {
        match &self.mode {
            Mode::Direct(s) => Some(f(s)),
            Mode::Helper { shared, .. } => shared.lock().source.as_ref().map(f),
            Mode::Empty => None,
        }
    }

    /// Like [`source_ref`](Self::source_ref), mutably.
    pub(crate) fn source_mut<R>(&mut self, f: impl FnOnce(&mut S) -> R) -> Option<R> {
        match &mut self.mode {
            Mode::Direct(s) => Some(f(s)),
            Mode::Helper { shared, .. } => shared.lock().source.as_mut().map(f),
            Mode::Empty => None,
        }
    }

    /// Takes the source back, unless a helper already received its output (then `None`; the output is dropped
    /// with the `AwaitRaw`). A helper that has not finished is aborted (it would find the slot empty anyway).
    pub(crate) fn take_source(&mut self) -> Option<S> {
        match std::mem::replace(&mut self.mode, Mode::Empty) {
            Mode::Direct(s) => Some(s),
            Mode::Helper { shared, task } => {
                let s = {
                    let mut slot = shared.lock();
                    if slot.finished {
                        None
                    } else {
                        slot.source.take()
                    }
                };
                // Put it back: an output the helper holds is dropped by `drop`, and the helper aborted there.
                self.mode = Mode::Helper { shared, task };
                s
            }
            Mode::Empty => None,
        }
    }

    /// Takes the source out wherever it is — also after a helper finished with it — and lets go of the rest (the
    /// helper is aborted). Taken under the slot's lock, so a helper poll in progress finishes first: whatever the
    /// source received by then (a message, permits) is in it. For futures whose source holds what it received until
    /// it is claimed, so that dropping the awaiting future can give it back instead of losing it.
    pub(crate) fn into_source(mut self) -> Option<S> {
        match std::mem::replace(&mut self.mode, Mode::Empty) {
            Mode::Direct(s) => Some(s),
            Mode::Helper { shared, task } => {
                let s = shared.lock().source.take();
                // Put the helper back: `drop` aborts it and drops an unclaimed output.
                self.mode = Mode::Helper { shared, task };
                s
            }
            Mode::Empty => None,
        }
    }

    /// Moves the source into a shared slot and spawns the helper (see the module docs).
    fn start_helper(&mut self, cx: &mut Context<'_>) -> Poll<S::Output> {
        let Mode::Direct(source) = std::mem::replace(&mut self.mode, Mode::Empty) else {
            unreachable!("start_helper in Direct mode only")
        };
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot {
                source: Some(source),
                output: None,
                finished: false,
                gone: None,
                waker: Some(cx.waker().clone()),
            }),
        });
        let fut = ffi::luminal_future {
            state: Arc::into_raw(shared.clone()) as *mut c_void,
            poll: Some(helper_poll::<S>),
            drop: Some(helper_drop::<S>),
            drop_output: None,
        };
        let target = match context::current() {
            Some(lcx) => SpawnTarget::Context(lcx),
            None => SpawnTarget::Runtime(self.home),
        };
        // The runtime takes the helper also on failure; its drop then records `gone` (no lock is held here).
        let spawned = spawn_raw_future(target, fut);
        let task = spawned.unwrap_or(ptr::null_mut());
        self.mode = Mode::Helper { shared: shared.clone(), task };
        if let Err(e) = spawned {
            shared.lock().gone = Some(e);
        }
        self.poll_slot(&shared, cx)
    }

    fn poll_slot(&mut self, shared: &Shared<S>, cx: &mut Context<'_>) -> Poll<S::Output> {
        let mut slot = shared.lock();
        if let Some(out) = slot.output.take() {
            self.done = true;
            return Poll::Ready(out);
        }
        if let Some(e) = slot.gone {
            self.done = true;
            let source = slot.source.as_mut().expect("the source stays in the slot until the AwaitRaw lets go");
            return Poll::Ready(source.poll_now().unwrap_or_else(|| source.helper_failed(e)));
        }
        match &slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => slot.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<S: RawPoll> Future for AwaitRaw<S> {
    type Output = S::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<S::Output> {
        let this = self.get_mut();
        assert!(!this.done, "a luminal future was polled after it completed");
        match &mut this.mode {
            Mode::Direct(source) => {
                if let Some(lcx) = context::current_for(cx.waker()) {
                    // SAFETY: `current_for` returns the context of the poll running on this thread.
                    let p = unsafe { source.poll_raw(lcx) };
                    this.done = p.is_ready();
                    return p;
                }
                if let Some(out) = source.poll_now() {
                    this.done = true;
                    return Poll::Ready(out);
                }
                this.start_helper(cx)
            }
            Mode::Helper { shared, .. } => {
                let shared = shared.clone();
                this.poll_slot(&shared, cx)
            }
            Mode::Empty => panic!("a luminal future was polled after its source was taken"),
        }
    }
}

impl<S: RawPoll> Drop for AwaitRaw<S> {
    fn drop(&mut self) {
        // Direct (the common case): the source drops with the field. Matched by reference first: moving the whole
        // mode out costs a store-forwarding stall per handle (its fields were just written one by one).
        if !matches!(self.mode, Mode::Helper { .. }) {
            return;
        }
        if let Mode::Helper { shared, task } = std::mem::replace(&mut self.mode, Mode::Empty) {
            // Take the source and any unclaimed output out under the lock (a helper poll in progress finishes
            // first), and drop them here, synchronously, outside the lock.
            let (source, output) = {
                let mut slot = shared.lock();
                slot.waker = None;
                (slot.source.take(), slot.output.take())
            };
            drop(source);
            drop(output);
            if !task.is_null() {
                // SAFETY: we own the helper's join handle; aborting a finished task does nothing.
                unsafe {
                    ffi::luminal_task_abort(task);
                    ffi::luminal_task_release(task);
                }
            }
        }
    }
}

/// The helper's poll: polls the source with the helper's own context, stores the output, wakes the Rust waker.
unsafe extern "C" fn helper_poll<S: RawPoll>(
    state: *mut c_void,
    cx: *mut luminal_context,
    output: *mut *mut c_void,
) -> ffi::luminal_poll {
    // SAFETY: `state` is the strong count the helper future owns (released by `helper_drop`, which the runtime
    // never runs during a poll); `output` is NULL or the runtime's output slot.
    let shared = unsafe {
        if !output.is_null() {
            *output = ptr::null_mut();
        }
        &*(state as *const Shared<S>)
    };
    let polled = catch_unwind(AssertUnwindSafe(|| {
        let mut slot = shared.lock();
        let Some(source) = slot.source.as_mut() else {
            return None; // the AwaitRaw let go of it: nothing to do
        };
        // SAFETY: `cx` is the context of this poll.
        match unsafe { source.poll_raw(cx) } {
            Poll::Pending => Some(Poll::Pending),
            Poll::Ready(out) => {
                slot.output = Some(out);
                slot.finished = true;
                Some(Poll::Ready(slot.waker.take()))
            }
        }
    }));
    let waker = match polled {
        Ok(Some(Poll::Pending)) => return ffi::LUMINAL_POLL_PENDING,
        Ok(Some(Poll::Ready(w))) => w,
        Ok(None) => None,
        // Our own code panicked (a bug): report the source as failed rather than unwind into the runtime.
        Err(_) => {
            let mut slot = shared.lock();
            slot.gone = Some(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL));
            slot.waker.take()
        }
    };
    if let Some(w) = waker {
        // A foreign waker may panic: it must not unwind into the runtime.
        let _ = catch_unwind(AssertUnwindSafe(|| w.wake()));
    }
    ffi::LUMINAL_POLL_READY
}

/// The helper's drop (exactly once): an unfinished helper reports `gone`; the slot itself is freed with the last
/// of the two strong counts.
unsafe extern "C" fn helper_drop<S: RawPoll>(state: *mut c_void) {
    // SAFETY: the strong count `start_helper` handed to the helper future; the runtime drops it exactly once.
    let shared = unsafe { Arc::from_raw(state as *const Shared<S>) };
    let waker = {
        let mut slot = shared.lock();
        if !slot.finished && slot.gone.is_none() && slot.source.is_some() {
            slot.gone = Some(RuntimeError::from_status(ffi::LUMINAL_E_CANCELLED));
            slot.waker.take()
        } else {
            None
        }
    };
    if let Some(w) = waker {
        let _ = catch_unwind(AssertUnwindSafe(|| w.wake()));
    }
    // The last count (the AwaitRaw leaked, or gone with the slot emptied) drops the slot: never unwind from it.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(shared)));
}
