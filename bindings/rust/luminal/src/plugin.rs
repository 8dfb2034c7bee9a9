//! Plugins (include/luminal_plugin.h): write one in Rust with [`Entry`] and [`export_plugin!`](crate::export_plugin),
//! load one (in any language) with [`Plugin`].
//!
//! # The contract
//!
//! A plugin is a shared library (a Rust `cdylib`) exporting `luminal_plugin_init` and `luminal_plugin_fini`. The
//! host's [`Plugin::open`] (`luminal_plugin_open`) loads it, gives it a scope of its own and calls init on the
//! opening thread; [`Plugin::close`] (`luminal_plugin_close`) closes that scope and waits until no poll or drop of
//! the plugin's tasks runs, then calls fini on the closing thread, then unloads the library. So every task of the
//! plugin must be spawned into [`Host::scope`] (`task::Builder::new().scope(&scope)`; tasks spawned from inside
//! them with [`crate::spawn`] join it too), and fini must leave nothing behind that could call into the library
//! (threads, callbacks, a `std::task::Waker` made by this copy of the crate held by the host).
//!
//! # A plugin in Rust
//!
//! ```no_run
//! use luminal::plugin::{Entry, Host};
//! use luminal::task::Builder;
//!
//! struct Greeter;
//!
//! impl Entry for Greeter {
//!     fn init(host: &Host) -> Result<Self, luminal::RuntimeError> {
//!         let scope = host.scope()?;
//!         Builder::new().scope(&scope).spawn_on(scope.runtime(), async { println!("hello from a plugin") })?;
//!         Ok(Greeter)
//!     }
//! }
//!
//! luminal::export_plugin!(Greeter);
//! ```
//!
//! Panics never cross the boundary: a panic in `init` fails the load (`LUMINAL_E_PLUGIN_INIT` for the host), one in
//! `fini` is caught and dropped.
//!
//! Holding a [`Runtime`] (or a [`Scope`], which holds one) in the plugin's state keeps the host's runtime alive
//! until fini drops it: the host's last `luminal_runtime_release` then does not shut it down. Clone the runtime
//! where it is needed and drop it, or keep only [`Host`] (plain pointers, valid until fini returns).

use crate::{ffi, Runtime, RuntimeError, Scope, ScopeStats};
use std::ffi::{c_void, CString};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::time::Duration;

// ------------------------------------------------------------------------------------------------------------
// The plugin's side
// ------------------------------------------------------------------------------------------------------------

/// What the host hands to a plugin (`luminal_plugin_host`): the host's runtime, the plugin's own scope and the
/// host's `host_data`. Plain pointers, valid (and unchanged) from init until fini returns, so it may be copied into
/// the plugin's state.
#[derive(Clone, Copy)]
pub struct Host {
    raw: NonNull<ffi::luminal_plugin_host>,
}

// SAFETY: the struct is immutable while the plugin is loaded and holds only tokens and the host's pointer; every
// luminal function is thread-safe.
unsafe impl Send for Host {}
// SAFETY: as above.
unsafe impl Sync for Host {}

impl Host {
    /// Wraps the pointer init received.
    ///
    /// # Safety
    /// `raw` must be NULL or the `luminal_plugin_host*` given to `luminal_plugin_init`, and the `Host` must not be
    /// used after `luminal_plugin_fini` returned.
    pub unsafe fn from_raw(raw: *const ffi::luminal_plugin_host) -> Option<Host> {
        NonNull::new(raw as *mut ffi::luminal_plugin_host).map(|raw| Host { raw })
    }

    /// The raw struct.
    pub fn as_raw(&self) -> *const ffi::luminal_plugin_host {
        self.raw.as_ptr()
    }

    fn get(&self) -> ffi::luminal_plugin_host {
        // SAFETY: valid until fini returns (the type's contract); the library never changes it meanwhile.
        unsafe { *self.raw.as_ptr() }
    }

    /// The ABI version of the library that loaded the plugin (compare with [`ffi::LUMINAL_ABI_VERSION`]).
    pub fn abi_version(&self) -> u32 {
        self.get().abi_version
    }

    /// The host's runtime as a borrowed `luminal_runtime*` (valid as long as the runtime lives).
    pub fn runtime_raw(&self) -> *mut ffi::luminal_runtime {
        self.get().runtime
    }

    /// An owned clone of the host's runtime (`ErrorKind::InvalidHandle` once it is gone). Holding it keeps the
    /// runtime alive: see the module docs.
    pub fn runtime(&self) -> Result<Runtime, RuntimeError> {
        // SAFETY: a runtime token (or a stale one, which the library refuses: None).
        unsafe { Runtime::clone_from_raw(self.runtime_raw()) }
            .ok_or(RuntimeError::from_status(ffi::LUMINAL_E_INVALID_HANDLE))
    }

    /// The plugin's scope as a borrowed `luminal_scope*` (valid until fini returns; never release it).
    pub fn scope_raw(&self) -> *mut ffi::luminal_scope {
        self.get().scope
    }

    /// The plugin's scope, borrowed (dropping it releases nothing), with a clone of the runtime: spawn every task
    /// of the plugin into it.
    pub fn scope(&self) -> Result<Scope, RuntimeError> {
        let rt = self.runtime()?;
        // SAFETY: a scope token of that runtime, valid until fini returns.
        unsafe { Scope::from_borrowed_raw(&rt, self.scope_raw()) }
            .ok_or(RuntimeError::from_status(ffi::LUMINAL_E_INVALID_HANDLE))
    }

    /// The `host_data` the host passed to `luminal_plugin_open`.
    pub fn host_data(&self) -> *mut c_void {
        self.get().host_data
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.get();
        f.debug_struct("Host")
            .field("abi_version", &h.abi_version)
            .field("runtime", &h.runtime)
            .field("scope", &h.scope)
            .field("host_data", &h.host_data)
            .finish()
    }
}

/// A plugin written in Rust: [`init`](Entry::init) when it is loaded, [`fini`](Entry::fini) (by default: drop)
/// when it is unloaded. Export it with [`export_plugin!`](crate::export_plugin).
pub trait Entry: Sized + 'static {
    /// Called once, on the thread that called `luminal_plugin_open`. `Err` (or a panic) fails the load: the host
    /// gets `LUMINAL_E_PLUGIN_INIT`, what was spawned into the scope is cancelled and waited for, and
    /// [`fini`](Entry::fini) is not called (the error path drops whatever init made itself).
    fn init(host: &Host) -> Result<Self, RuntimeError>;

    /// Called once, on the thread that called `luminal_plugin_close`, after every task of the plugin's scope has
    /// been dropped and before the library is unloaded. Release here whatever could still call into the library.
    fn fini(self) {}
}

/// `luminal_plugin_init` for `T` (what [`export_plugin!`](crate::export_plugin) expands to).
///
/// # Safety
/// Only as the library calls it: `host` valid until fini, `state` a writable pointer.
#[doc(hidden)]
pub unsafe fn __init<T: Entry>(host: *const ffi::luminal_plugin_host, state: *mut *mut c_void) -> ffi::luminal_status {
    if state.is_null() {
        return ffi::LUMINAL_E_INVALID_ARGUMENT;
    }
    // SAFETY: the library's pointer, valid until fini (the caller's contract).
    let Some(host) = (unsafe { Host::from_raw(host) }) else { return ffi::LUMINAL_E_INVALID_ARGUMENT };
    match catch_unwind(AssertUnwindSafe(|| T::init(&host))) {
        Ok(Ok(plugin)) => {
            // SAFETY: `state` is writable (checked non-NULL; the library's own variable).
            unsafe { *state = Box::into_raw(Box::new(plugin)) as *mut c_void };
            ffi::LUMINAL_OK
        }
        Ok(Err(e)) if e.status() != ffi::LUMINAL_OK => e.status(),
        _ => ffi::LUMINAL_E_INTERNAL, // a panic (its payload is dropped here, inside the plugin)
    }
}

/// `luminal_plugin_fini` for `T` (what [`export_plugin!`](crate::export_plugin) expands to).
///
/// # Safety
/// Only as the library calls it: `state` is what [`__init`] stored, given once.
#[doc(hidden)]
pub unsafe fn __fini<T: Entry>(state: *mut c_void) {
    if state.is_null() {
        return;
    }
    // SAFETY: the Box `__init` leaked, handed back exactly once.
    let plugin = unsafe { Box::from_raw(state as *mut T) };
    // A panic must not unwind into the library; there is nobody to report it to.
    let _ = catch_unwind(AssertUnwindSafe(move || plugin.fini()));
}

/// Exports `luminal_plugin_init` and `luminal_plugin_fini` for a type implementing [`plugin::Entry`](Entry); use
/// it once, in a `cdylib`: `luminal::export_plugin!(MyPlugin);`.
#[macro_export]
macro_rules! export_plugin {
    ($ty:ty) => {
        /// The plugin's `luminal_plugin_init` (include/luminal_plugin.h), made by `luminal::export_plugin!`.
        ///
        /// # Safety
        /// Called by libluminal's `luminal_plugin_open` only.
        #[no_mangle]
        pub unsafe extern "C" fn luminal_plugin_init(
            host: *const $crate::ffi::luminal_plugin_host,
            plugin_state: *mut *mut ::std::ffi::c_void,
        ) -> $crate::ffi::luminal_status {
            // SAFETY: forwarded as the library called us.
            unsafe { $crate::plugin::__init::<$ty>(host, plugin_state) }
        }

        /// The plugin's `luminal_plugin_fini` (include/luminal_plugin.h), made by `luminal::export_plugin!`.
        ///
        /// # Safety
        /// Called by libluminal's `luminal_plugin_close` only.
        #[no_mangle]
        pub unsafe extern "C" fn luminal_plugin_fini(plugin_state: *mut ::std::ffi::c_void) {
            // SAFETY: forwarded as the library called us.
            unsafe { $crate::plugin::__fini::<$ty>(plugin_state) }
        }
    };
}

// ------------------------------------------------------------------------------------------------------------
// The host's side
// ------------------------------------------------------------------------------------------------------------

/// A loaded plugin (`luminal_plugin*`), in any language: [`open`](Plugin::open) loads it and calls its init,
/// [`close`](Plugin::close) unloads it safely (scope drained, fini, unload).
///
/// Dropping a `Plugin` that is still open closes it, waiting as long as it takes (`luminal_plugin_close` with no
/// timeout). Where that is refused (on one of the runtime's worker threads: `WouldDeadlock`) the plugin stays
/// loaded for the rest of the process (its tasks keep running; nothing unsafe happens). Call [`close`](Plugin::close)
/// to choose the timeout and see errors. The `Plugin` does not keep the runtime alive: a runtime shut down first
/// has dropped the plugin's tasks, and the close then only calls fini and unloads.
pub struct Plugin {
    raw: *mut ffi::luminal_plugin, // NULL once closed
}

// SAFETY: a token; every plugin function is thread-safe.
unsafe impl Send for Plugin {}
// SAFETY: `&Plugin` methods only pass the token to thread-safe functions.
unsafe impl Sync for Plugin {}

impl Plugin {
    /// Loads the plugin at `path` onto `rt` and calls its `luminal_plugin_init` on this thread (`luminal_plugin_open`).
    /// `host_data` is handed to the plugin untouched (it must stay valid as long as the plugin uses it).
    ///
    /// Errors: `ErrorKind::Io` (the library cannot be loaded), `NotPlugin` (no entry points), `PluginInit` (its init
    /// failed), `WouldDeadlock` (on one of the runtime's workers: use `spawn_blocking`), `Shutdown`,
    /// `InvalidArgument` (a NUL in the path).
    ///
    /// # Safety
    /// Loading a library runs its code (its initializers, then its init) in this process, as `libloading`'s
    /// `Library::new` does: `path` must be a plugin that honours include/luminal_plugin.h, and `host_data` what that
    /// plugin expects, valid as long as the plugin uses it.
    pub unsafe fn open<R: AsRef<Runtime> + ?Sized>(
        rt: &R,
        path: impl AsRef<Path>,
        host_data: *mut c_void,
    ) -> Result<Plugin, RuntimeError> {
        let path = path_to_c(path.as_ref()).ok_or(RuntimeError::from_status(ffi::LUMINAL_E_INVALID_ARGUMENT))?;
        let mut raw = ptr::null_mut();
        // SAFETY: a live runtime handle and a NUL-terminated path, both borrowed for the call; the library and
        // host_data are the caller's promise.
        RuntimeError::check(unsafe {
            ffi::luminal_plugin_open(rt.as_ref().as_raw(), path.as_ptr(), host_data, &mut raw)
        })?;
        Ok(Plugin { raw })
    }

    /// Unloads the plugin (`luminal_plugin_close`): closes its scope and waits up to `timeout` (`None` = as long as
    /// it takes, `Some(Duration::ZERO)` = don't wait) until no poll or drop of its tasks runs, then calls its fini
    /// on this thread and unloads the library. `Ok(())` also if it was already closed.
    ///
    /// `ErrorKind::TimedOut`: a task's poll or drop was still running; the plugin stays loaded (its scope closed)
    /// and `close` may be called again. `ErrorKind::WouldDeadlock`: a timeout other than zero on one of the
    /// runtime's workers; nothing was done.
    pub fn close(&mut self, timeout: Option<Duration>) -> Result<(), RuntimeError> {
        if self.raw.is_null() {
            return Ok(());
        }
        let ns = timeout.map_or(u64::MAX, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        // SAFETY: our handle (the library checks it).
        RuntimeError::check(unsafe { ffi::luminal_plugin_close(self.raw, ns) })?;
        self.raw = ptr::null_mut();
        Ok(())
    }

    /// True until a [`close`](Self::close) succeeded.
    pub fn is_open(&self) -> bool {
        !self.raw.is_null()
    }

    /// The plugin's scope, borrowed (valid until the plugin is closed; never release it); NULL once closed.
    pub fn scope_raw(&self) -> *mut ffi::luminal_scope {
        if self.raw.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: our handle.
        unsafe { ffi::luminal_plugin_scope(self.raw) }
    }

    /// The counters of the plugin's scope (all zero once closed).
    pub fn scope_stats(&self) -> ScopeStats {
        let mut c = ffi::luminal_scope_counters {
            struct_size: std::mem::size_of::<ffi::luminal_scope_counters>(),
            ..Default::default()
        };
        // SAFETY: `c` is borrowed for the call; a NULL or stale scope is refused (c stays zero).
        if unsafe { ffi::luminal_scope_stats(self.scope_raw(), &mut c) } != ffi::LUMINAL_OK {
            return ScopeStats::default();
        }
        ScopeStats::from_counters(&c)
    }

    /// The raw handle (NULL once closed), borrowed.
    pub fn as_raw(&self) -> *mut ffi::luminal_plugin {
        self.raw
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        // Errors are documented on the type: on a worker the plugin stays loaded.
        let _ = self.close(None);
    }
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin").field("raw", &self.raw).finish()
    }
}

#[cfg(unix)]
fn path_to_c(p: &Path) -> Option<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).ok()
}

#[cfg(not(unix))]
fn path_to_c(p: &Path) -> Option<CString> {
    CString::new(p.to_str()?).ok()
}
