//! Rust [`Waker`]s backed one-to-one by `luminal_waker` handles.
//!
//! The [`RawWakerVTable`] of this module maps `clone`/`wake`/`wake_by_ref`/`drop` onto `luminal_waker_clone`,
//! `luminal_waker_wake`, `luminal_waker_wake_by_ref` and `luminal_waker_release`; the `RawWaker`'s data pointer *is*
//! the `luminal_waker*`.
//!
//! The `Waker` a poll hands to its future is built on the stack without allocating, and without asking the
//! runtime for anything: its data is the poll's `luminal_context*` (under a second vtable), resolved to the task's
//! `luminal_waker` (`luminal_context_waker`, cached for the poll) only when something wakes, clones or inspects
//! it. Most polls of short tasks never do. Such a context `Waker` is only ever borrowed, for one poll: cloning it
//! gives an ordinary owned luminal `Waker`.
//!
//! Because a `luminal_waker` is a plain runtime token, wakers can cross plugin boundaries freely: hand the raw
//! pointer ([`as_raw`]) to C or to another copy of this crate, which turns it back into a `Waker` with
//! [`clone_from_raw`] / [`from_raw`].

use crate::context;
use crate::ffi::{self, luminal_context, luminal_waker};
use std::mem::ManuallyDrop;
use std::task::{RawWaker, RawWakerVTable, Waker};

static VTABLE: RawWakerVTable = RawWakerVTable::new(vt_clone, vt_wake, vt_wake_by_ref, vt_drop);

/// The vtable of a context `Waker` (data = the poll's `luminal_context*`). It is never owned, so `wake` (by
/// value) and `drop` cannot be reached with a live one; they behave as `wake_by_ref` and nothing.
static CX_VTABLE: RawWakerVTable = RawWakerVTable::new(cx_clone, cx_wake_by_ref, cx_wake_by_ref, cx_drop);

// The vtable functions of VTABLE: `data` is a `luminal_waker*` the Waker owns (a token the runtime validates: a
// stale one is ignored, never read through).
unsafe fn vt_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a waker token (see above); the clone is owned by the new RawWaker.
    RawWaker::new(unsafe { ffi::luminal_waker_clone(data as *const luminal_waker) } as *const (), &VTABLE)
}
unsafe fn vt_wake(data: *const ()) {
    // SAFETY: the Waker's own token, consumed once (`wake` takes the Waker by value).
    unsafe { ffi::luminal_waker_wake(data as *mut luminal_waker) }
}
unsafe fn vt_wake_by_ref(data: *const ()) {
    // SAFETY: the Waker's own token, borrowed for the call.
    unsafe { ffi::luminal_waker_wake_by_ref(data as *const luminal_waker) }
}
unsafe fn vt_drop(data: *const ()) {
    // SAFETY: the Waker's own token, released once (the Waker is being dropped).
    unsafe { ffi::luminal_waker_release(data as *mut luminal_waker) }
}

// The vtable functions of CX_VTABLE: `data` is the `luminal_context*` of the poll in progress (a context Waker is
// only ever borrowed by that poll, see `for_context`).
unsafe fn cx_clone(data: *const ()) -> RawWaker {
    // SAFETY: the context is live (see above); the task waker it gives is borrowed, and vt_clone clones it.
    unsafe { vt_clone(context::waker_of(data as *mut luminal_context) as *const ()) }
}
unsafe fn cx_wake_by_ref(data: *const ()) {
    // SAFETY: as above; the task waker is borrowed for the call.
    unsafe { ffi::luminal_waker_wake_by_ref(context::waker_of(data as *mut luminal_context)) }
}
unsafe fn cx_drop(_: *const ()) {}

/// The `Waker` of a poll: borrowed, valid while the poll of `cx` runs (see the module docs).
///
/// # Safety
/// `cx` is the context of the poll in progress, and the Waker (never dropped: `ManuallyDrop`) is not used after
/// that poll returns.
pub(crate) unsafe fn for_context(cx: *mut luminal_context) -> ManuallyDrop<Waker> {
    // SAFETY: CX_VTABLE's functions are sound for a live context, which the caller guarantees for the Waker's
    // whole use; `drop` does nothing, so the missing ownership is harmless.
    ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(cx as *const (), &CX_VTABLE)) })
}

/// Wraps an *owned* `luminal_waker` (from `luminal_waker_clone`) in a `Waker`; dropping the `Waker` releases it.
///
/// # Safety
/// `w` must be an owned waker handle (or NULL/stale, which makes a waker that does nothing) that the caller gives
/// up.
pub unsafe fn from_raw(w: *mut luminal_waker) -> Waker {
    // SAFETY: VTABLE's functions are sound for any token value; the Waker owns `w` (the caller gives it up).
    unsafe { Waker::from_raw(RawWaker::new(w as *const (), &VTABLE)) }
}

/// Makes a `Waker` from a *borrowed* `luminal_waker` (it clones it with `luminal_waker_clone`). This is how code
/// receiving a `const luminal_waker*` from C or from a plugin turns it into a Rust waker.
///
/// # Safety
/// `w` must be NULL or a luminal waker handle (a stale one is harmless: the runtime ignores it).
pub unsafe fn clone_from_raw(w: *const luminal_waker) -> Waker {
    // SAFETY: `w` is NULL or a token (the caller's contract); the clone is owned, and given to the Waker.
    unsafe { from_raw(ffi::luminal_waker_clone(w)) }
}

/// The `luminal_waker*` behind `waker`, borrowed for as long as `waker` lives, or `None` if `waker` is not a
/// luminal waker created by this copy of the crate (wakers of other executors, of combinators, or of another
/// plugin's copy of this crate are not recognised).
pub fn as_raw(waker: &Waker) -> Option<*const luminal_waker> {
    if std::ptr::eq(waker.vtable(), &VTABLE) {
        Some(waker.data() as *const luminal_waker)
    } else if std::ptr::eq(waker.vtable(), &CX_VTABLE) {
        // SAFETY: a context Waker exists only while its poll runs.
        Some(unsafe { context::waker_of(waker.data() as *mut luminal_context) })
    } else {
        None
    }
}

/// Gives up a luminal `Waker` and returns its owned `luminal_waker*` (release or wake it), or the `Waker` back if
/// it is not one of this crate's luminal wakers.
pub fn into_raw(waker: Waker) -> Result<*mut luminal_waker, Waker> {
    // Only an ordinary luminal Waker can be owned (a context Waker is always borrowed).
    if std::ptr::eq(waker.vtable(), &VTABLE) {
        let p = waker.data() as *mut luminal_waker;
        std::mem::forget(waker);
        Ok(p)
    } else {
        Err(waker)
    }
}

/// True if `waker` wakes the task being polled with context `cx`.
///
/// # Safety
/// `cx` must be the context of a poll in progress.
pub(crate) unsafe fn wakes_task_of(waker: &Waker, cx: *mut luminal_context) -> bool {
    if std::ptr::eq(waker.vtable(), &CX_VTABLE) {
        return waker.data() == cx as *const ();
    }
    match as_raw(waker) {
        Some(p) => {
            // SAFETY: `cx` is live (the caller's contract); both wakers are tokens borrowed for the calls.
            let w = unsafe { context::waker_of(cx) };
            // SAFETY: as above.
            p == w || unsafe { ffi::luminal_waker_will_wake(p, w) } != 0
        }
        None => false,
    }
}
