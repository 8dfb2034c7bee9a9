//! [`Scope`]: a group of tasks cancelled as one, and the plugin-unload guarantee.

use crate::ffi;
use crate::{Runtime, RuntimeError};
use std::fmt;
use std::ptr::{self, NonNull};
use std::time::Duration;

/// A group of tasks on one runtime that can be cancelled as one (`luminal_scope_*`).
///
/// Spawn into it with [`task::Builder`](crate::task::Builder):
/// `Builder::new().scope(&scope).spawn_on(scope.runtime(), fut)`; tasks those tasks spawn from inside with
/// [`crate::spawn`] / [`Handle::spawn`](crate::Handle::spawn) (`luminal_context_spawn`) join the same scope, and so
/// do the helper tasks this crate spawns from inside them (the fallbacks of [`JoinHandle`](crate::JoinHandle),
/// [`time::Sleep`](crate::time::Sleep) and IO operations).
///
/// # The plugin-unload guarantee
///
/// [`close`](Scope::close) refuses new spawns into the scope, aborts all its tasks (each future is dropped at its
/// next scheduling point: at once if idle, right after the current poll if running), frees the outputs nobody
/// took (their [`JoinHandle`](crate::JoinHandle)s then resolve to a cancelled [`JoinError`](crate::JoinError)) and waits. When it
/// returns `Ok(())`, every future of the scope has been dropped, every output it produced has been taken or
/// freed, and no poll, drop or `drop_output` call into the scope's code is running or can start. So if all the
/// tasks that run a plugin's code were spawned into the plugin's scope, the plugin's shared library can be
/// unloaded (`dlclose`) right after `close` returns `Ok`, while the runtime and every other plugin keep running.
/// Wakers of the scope's tasks stay valid to call afterwards (they do nothing), so a host may still hold them.
///
/// What the guarantee does *not* cover (keep the plugin loaded, or avoid these): code of the plugin reachable
/// through other ways than its tasks — a Rust `Waker` whose vtable lives in the plugin (a `std::task::Waker`
/// created by the plugin's copy of this crate; pass raw `luminal_waker*`s across the boundary instead, as the
/// plugin example does), threads the plugin started, objects of the plugin the host still holds, and helper
/// tasks spawned outside any context (a plugin's `Sleep` or `JoinHandle` awaited on a foreign executor).
///
/// Dropping a `Scope` releases the handle (`luminal_scope_release`) without closing it: an open scope's tasks
/// run on.
pub struct Scope {
    raw: NonNull<ffi::luminal_scope>,
    rt: Runtime,
    owned: bool,
}

// SAFETY: the handle is a thread-safe runtime token; every scope function is thread-safe.
unsafe impl Send for Scope {}
// SAFETY: as above; `&Scope` methods only pass the token to thread-safe functions.
unsafe impl Sync for Scope {}

/// The counters of a scope ([`Scope::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScopeStats {
    /// Tasks that may still call the scope's code (their future or an unclaimed output is alive).
    pub live: u64,
    /// Tasks ever spawned into the scope.
    pub spawned: u64,
    /// Tasks whose future completed.
    pub completed: u64,
    /// Tasks dropped before completing (abort, scope close, runtime shutdown).
    pub cancelled: u64,
    /// Polls of the scope's tasks (spawn_fn and blocking calls included).
    pub polls: u64,
    /// The time spent in those polls: rank plugins by CPU with it.
    pub poll_time: std::time::Duration,
}

impl Scope {
    /// Creates an open scope on `rt` (a [`Runtime`], a [`Handle`](crate::Handle), ...). Fails with
    /// `ErrorKind::Shutdown` on a shut-down runtime.
    pub fn new<R: AsRef<Runtime> + ?Sized>(rt: &R) -> Result<Scope, RuntimeError> {
        let rt = rt.as_ref();
        let mut raw = ptr::null_mut();
        // SAFETY: a valid runtime handle.
        RuntimeError::check(unsafe { ffi::luminal_scope_new(rt.as_raw(), &mut raw) })?;
        let raw = NonNull::new(raw).ok_or(RuntimeError::from_status(ffi::LUMINAL_E_INTERNAL))?;
        Ok(Scope { raw, rt: rt.clone(), owned: true })
    }

    /// Wraps an owned `luminal_scope*` of runtime `rt`; dropping the `Scope` releases it. `None` for NULL.
    ///
    /// # Safety
    /// `raw` must be an owned scope handle of `rt` that nobody else releases.
    pub unsafe fn from_raw<R: AsRef<Runtime> + ?Sized>(rt: &R, raw: *mut ffi::luminal_scope) -> Option<Scope> {
        NonNull::new(raw).map(|raw| Scope { raw, rt: rt.as_ref().clone(), owned: true })
    }

    /// Wraps a *borrowed* `luminal_scope*` of runtime `rt` — e.g. the scope a host gave a plugin — without taking
    /// ownership: dropping the `Scope` does not release it. `None` for NULL. Once the owner has released the
    /// handle, the runtime reports it as stale (spawns fail with `ErrorKind::InvalidHandle`).
    ///
    /// # Safety
    /// `raw` must be NULL or a luminal handle value.
    pub unsafe fn from_borrowed_raw<R: AsRef<Runtime> + ?Sized>(rt: &R, raw: *mut ffi::luminal_scope) -> Option<Scope> {
        NonNull::new(raw).map(|raw| Scope { raw, rt: rt.as_ref().clone(), owned: false })
    }

    /// The underlying handle, borrowed for as long as `self` lives (pass it to C or to a plugin).
    pub fn as_raw(&self) -> *mut ffi::luminal_scope {
        self.raw.as_ptr()
    }

    /// Gives up ownership of the handle (release it with `luminal_scope_release`); NULL-free.
    pub fn into_raw(self) -> *mut ffi::luminal_scope {
        let raw = self.raw.as_ptr();
        let mut me = std::mem::ManuallyDrop::new(self);
        // SAFETY: `me` is never used again; drop its runtime handle.
        unsafe { ptr::drop_in_place(&mut me.rt) };
        raw
    }

    /// The runtime the scope belongs to.
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// Closes the scope (see the type docs) and waits up to `timeout` (`None` = as long as it takes,
    /// `Some(Duration::ZERO)` = don't wait) until the plugin-unload guarantee holds.
    ///
    /// Returns `Ok(())` once it holds; `ErrorKind::TimedOut` if a poll of the scope is still running (call again
    /// later: the scope stays closed). Calling it again on a closed scope is fine.
    ///
    /// On one of the runtime's own worker threads (inside a task) waiting could deadlock: the runtime then closes
    /// the scope without waiting (like [`Runtime::shutdown`] on a worker), and this method returns `Ok(())` if
    /// the guarantee already holds, else
    /// `ErrorKind::WouldDeadlock` — the scope is closed and its tasks aborted, but wait for the guarantee from
    /// another thread (or call again later with `Some(Duration::ZERO)`).
    pub fn close(&self, timeout: Option<Duration>) -> Result<(), RuntimeError> {
        let ns = timeout.map_or(u64::MAX, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        // SAFETY: a valid (or stale, then reported) scope handle.
        let status = unsafe { ffi::luminal_scope_close(self.as_raw(), ns) };
        if status == ffi::LUMINAL_E_WOULD_DEADLOCK {
            // SAFETY: as above; a zero timeout never blocks and is allowed on workers.
            return match unsafe { ffi::luminal_scope_close(self.as_raw(), 0) } {
                ffi::LUMINAL_OK => Ok(()),
                ffi::LUMINAL_E_TIMED_OUT => Err(RuntimeError::from_status(ffi::LUMINAL_E_WOULD_DEADLOCK)),
                s => RuntimeError::check(s),
            };
        }
        RuntimeError::check(status)
    }

    /// The scope's counters (all zero if the handle is stale: a borrowed scope its owner released; see
    /// [`try_stats`](Self::try_stats)).
    pub fn stats(&self) -> ScopeStats {
        self.try_stats().unwrap_or_default()
    }

    /// The scope's counters, or the runtime's error (`ErrorKind::InvalidHandle` for a stale handle).
    pub fn try_stats(&self) -> Result<ScopeStats, RuntimeError> {
        let mut c = ffi::luminal_scope_counters {
            struct_size: std::mem::size_of::<ffi::luminal_scope_counters>(),
            ..Default::default()
        };
        // SAFETY: `c` is borrowed for the call; struct_size says how much may be written.
        RuntimeError::check(unsafe { ffi::luminal_scope_stats(self.as_raw(), &mut c) })?;
        Ok(ScopeStats::from_counters(&c))
    }
}

impl ScopeStats {
    /// The counters as `luminal_scope_stats` filled them in (for code that calls the C function itself).
    pub fn from_counters(c: &ffi::luminal_scope_counters) -> ScopeStats {
        ScopeStats {
            live: c.live,
            spawned: c.spawned,
            completed: c.completed,
            cancelled: c.cancelled,
            polls: c.polls,
            poll_time: std::time::Duration::from_nanos(c.poll_ns),
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: we own the handle.
            unsafe { ffi::luminal_scope_release(self.as_raw()) }
        }
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").field("raw", &self.raw).field("owned", &self.owned).finish()
    }
}
