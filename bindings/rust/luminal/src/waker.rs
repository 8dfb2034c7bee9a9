//! Rust [`Waker`]s backed one-to-one by `luminal_waker` handles.
//!
//! The [`RawWakerVTable`] of this module maps `clone`/`wake`/`wake_by_ref`/`drop` onto `luminal_waker_clone`,
//! `luminal_waker_wake`, `luminal_waker_wake_by_ref` and `luminal_waker_release`; the `RawWaker`'s data pointer *is*
//! the `luminal_waker*`. Polling builds the `Waker` for the context's borrowed waker on the stack without
//! allocating or cloning anything.
//!
//! Because a `luminal_waker` is a plain runtime token, wakers can cross plugin boundaries freely: hand the raw
//! pointer ([`as_raw`]) to C or to another copy of this crate, which turns it back into a `Waker` with
//! [`clone_from_raw`] / [`from_raw`].

use crate::ffi::{self, luminal_waker};
use std::mem::ManuallyDrop;
use std::task::{RawWaker, RawWakerVTable, Waker};

static VTABLE: RawWakerVTable = RawWakerVTable::new(vt_clone, vt_wake, vt_wake_by_ref, vt_drop);

unsafe fn vt_clone(data: *const ()) -> RawWaker {
    RawWaker::new(ffi::luminal_waker_clone(data as *const luminal_waker) as *const (), &VTABLE)
}
unsafe fn vt_wake(data: *const ()) {
    ffi::luminal_waker_wake(data as *mut luminal_waker)
}
unsafe fn vt_wake_by_ref(data: *const ()) {
    ffi::luminal_waker_wake_by_ref(data as *const luminal_waker)
}
unsafe fn vt_drop(data: *const ()) {
    ffi::luminal_waker_release(data as *mut luminal_waker)
}

/// A `Waker` for a *borrowed* `luminal_waker` (e.g. the context's). Never drop it: it does not own `w`.
pub(crate) unsafe fn borrowed(w: *const luminal_waker) -> ManuallyDrop<Waker> {
    ManuallyDrop::new(Waker::from_raw(RawWaker::new(w as *const (), &VTABLE)))
}

/// Wraps an *owned* `luminal_waker` (from `luminal_waker_clone`) in a `Waker`; dropping the `Waker` releases it.
///
/// # Safety
/// `w` must be an owned waker handle (or NULL/stale, which makes a waker that does nothing) that the caller gives
/// up.
pub unsafe fn from_raw(w: *mut luminal_waker) -> Waker {
    Waker::from_raw(RawWaker::new(w as *const (), &VTABLE))
}

/// Makes a `Waker` from a *borrowed* `luminal_waker` (it clones it with `luminal_waker_clone`). This is how code
/// receiving a `const luminal_waker*` from C or from a plugin turns it into a Rust waker.
///
/// # Safety
/// `w` must be NULL or a luminal waker handle (a stale one is harmless: the runtime ignores it).
pub unsafe fn clone_from_raw(w: *const luminal_waker) -> Waker {
    from_raw(ffi::luminal_waker_clone(w))
}

/// The `luminal_waker*` behind `waker`, borrowed for as long as `waker` lives, or `None` if `waker` is not a
/// luminal waker created by this copy of the crate (wakers of other executors, of combinators, or of another
/// plugin's copy of this crate are not recognised).
pub fn as_raw(waker: &Waker) -> Option<*const luminal_waker> {
    if std::ptr::eq(waker.vtable(), &VTABLE) {
        Some(waker.data() as *const luminal_waker)
    } else {
        None
    }
}

/// Gives up a luminal `Waker` and returns its owned `luminal_waker*` (release or wake it), or the `Waker` back if
/// it is not one of this crate's luminal wakers.
pub fn into_raw(waker: Waker) -> Result<*mut luminal_waker, Waker> {
    match as_raw(&waker) {
        Some(p) => {
            std::mem::forget(waker);
            Ok(p as *mut luminal_waker)
        }
        None => Err(waker),
    }
}

/// True if `waker` is a luminal waker that wakes the same task as the luminal waker `w`.
pub(crate) fn wakes_same_task(waker: &Waker, w: *const luminal_waker) -> bool {
    match as_raw(waker) {
        Some(p) => p == w || unsafe { ffi::luminal_waker_will_wake(p, w) } != 0,
        None => false,
    }
}
