//! The plugin host: loads plugin shared libraries at run time (`dlopen`/`dlsym`, declared by hand), gives them its
//! runtime as a plain `luminal_runtime*`, and awaits the tasks they spawned.
//!
//! Two plugins play ping-pong on the host's runtime: the Rust plugin (a cdylib with its own copy of the
//! `luminal` crate) and the C plugin (plain C against luminal.h). Each waits on its inbox by leaving its task's
//! `luminal_waker` in a host mailbox; the other plugin's send wakes it. The host wraps those wakers as its own
//! Rust `Waker`s (`luminal::waker::clone_from_raw`): a luminal waker means the same thing to every copy of the
//! binding and to C, which is what makes the plugin boundary safe.
use luminal::ffi::{luminal_status, luminal_task, luminal_waker};
use luminal::{RawTask, Runtime};
use std::collections::VecDeque;
use std::ffi::{c_void, CStr, CString};
use std::os::raw::{c_char, c_int};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::task::Waker;

extern "C" {
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlclose(handle: *mut c_void) -> c_int;
    fn dlerror() -> *mut c_char;
}
const RTLD_NOW: c_int = 2;

// ------------------------------------------------------------------------------------------------------------
// The plugin ABI (mirror of plugin_api.h)
// ------------------------------------------------------------------------------------------------------------

/// Opaque to the plugins; really a [`Mailbox`].
#[repr(C)]
pub struct LxMailbox {
    _private: [u8; 0],
}

/// Mirror of `lx_host_api`.
#[repr(C)]
pub struct LxHostApi {
    pub struct_size: usize,
    pub runtime: *mut luminal::ffi::luminal_runtime,
    pub mailbox_send: unsafe extern "C" fn(mb: *mut LxMailbox, value: u64),
    pub mailbox_recv: unsafe extern "C" fn(mb: *mut LxMailbox, waker: *const luminal_waker, out: *mut u64) -> c_int,
}

type StartFn = unsafe extern "C" fn(
    host: *const LxHostApi,
    inbox: *mut LxMailbox,
    outbox: *mut LxMailbox,
    rounds: u64,
    out: *mut *mut luminal_task,
) -> luminal_status;
type NameFn = unsafe extern "C" fn() -> *const c_char;

// ------------------------------------------------------------------------------------------------------------
// Mailboxes
// ------------------------------------------------------------------------------------------------------------

/// A queue of numbers plus the waker of the task waiting for the next one.
#[derive(Default)]
pub struct Mailbox {
    inner: Mutex<MailboxInner>,
}

#[derive(Default)]
struct MailboxInner {
    queue: VecDeque<u64>,
    waker: Option<Waker>,
}

impl Mailbox {
    fn as_ffi(&self) -> *mut LxMailbox {
        self as *const Mailbox as *mut LxMailbox
    }
}

unsafe extern "C" fn mailbox_send(mb: *mut LxMailbox, value: u64) {
    let mb = &*(mb as *const Mailbox);
    let waker = {
        let mut inner = mb.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.queue.push_back(value);
        inner.waker.take()
    };
    // A plugin's luminal waker, woken through the host's copy of the binding.
    if let Some(w) = waker {
        w.wake();
    }
}

unsafe extern "C" fn mailbox_recv(mb: *mut LxMailbox, waker: *const luminal_waker, out: *mut u64) -> c_int {
    let mb = &*(mb as *const Mailbox);
    let mut inner = mb.inner.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = inner.queue.pop_front() {
        *out = v;
        return 1;
    }
    let same = inner
        .waker
        .as_ref()
        .and_then(luminal::waker::as_raw)
        .is_some_and(|old| luminal::ffi::luminal_waker_will_wake(old, waker) != 0);
    if !same {
        inner.waker = Some(luminal::waker::clone_from_raw(waker));
    }
    0
}

// ------------------------------------------------------------------------------------------------------------
// Loading plugins
// ------------------------------------------------------------------------------------------------------------

/// A loaded plugin. Dropping it unloads the library: do that only once no task of the plugin can run any more
/// (the runtime is shut down), since the runtime calls the plugin's poll and drop functions.
pub struct Plugin {
    lib: *mut c_void,
    start: StartFn,
    pub name: String,
}

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string.
    let e = unsafe { dlerror() };
    if e.is_null() {
        "unknown dl error".into()
    } else {
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

impl Plugin {
    /// dlopens `path` and looks up the plugin's entry points.
    pub fn load(path: &Path) -> Result<Plugin, String> {
        let cpath = CString::new(path.as_os_str().to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: plain libc calls; the symbols are checked for NULL and have the types of plugin_api.h.
        unsafe {
            let lib = dlopen(cpath.as_ptr(), RTLD_NOW);
            if lib.is_null() {
                return Err(format!("dlopen {}: {}", path.display(), dl_error()));
            }
            let start = dlsym(lib, c"lx_plugin_start".as_ptr());
            let name = dlsym(lib, c"lx_plugin_name".as_ptr());
            if start.is_null() || name.is_null() {
                let e = format!("{}: missing plugin symbols: {}", path.display(), dl_error());
                dlclose(lib);
                return Err(e);
            }
            let name = std::mem::transmute::<*mut c_void, NameFn>(name);
            let name = CStr::from_ptr(name()).to_string_lossy().into_owned();
            Ok(Plugin { lib, start: std::mem::transmute::<*mut c_void, StartFn>(start), name })
        }
    }

    /// Calls the plugin's `lx_plugin_start` and wraps the join handle it returns.
    pub fn start(&self, api: &LxHostApi, inbox: &Mailbox, outbox: &Mailbox, rounds: u64) -> Result<RawTask, String> {
        let mut task = std::ptr::null_mut();
        // SAFETY: the mailboxes outlive the tasks (see `run`).
        let status = unsafe { (self.start)(api, inbox.as_ffi(), outbox.as_ffi(), rounds, &mut task) };
        luminal::RuntimeError::check(status).map_err(|e| format!("{}: lx_plugin_start: {e}", self.name))?;
        // SAFETY: an owned join handle whose output is a number (nothing to free).
        Ok(unsafe { RawTask::from_raw(task, None) })
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        // SAFETY: the handle came from dlopen.
        unsafe { dlclose(self.lib) };
    }
}

/// Where the C plugin was built (by build.rs).
pub fn c_plugin_path() -> PathBuf {
    std::env::var_os("LX_C_PLUGIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("LX_C_PLUGIN_PATH")))
}

/// Where cargo put the Rust plugin: `$LX_RUST_PLUGIN`, or next to the running executable (target/<profile>/, or
/// target/<profile>/deps/ for tests).
pub fn rust_plugin_path() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("LX_RUST_PLUGIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().ok_or("no executable directory")?;
    let name = format!("{}rust_plugin{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let candidates = [dir.join(&name), dir.join("..").join(&name), dir.join("deps").join(&name)];
    candidates.iter().find(|p| p.exists()).cloned().ok_or_else(|| {
        format!("{name} not found next to {} (build the workspace, or set LX_RUST_PLUGIN)", exe.display())
    })
}

/// What one ping-pong game produced.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// The Rust plugin's checksum: the sum of the answers it received (1 + 3 + ... = rounds²).
    pub rust_checksum: u64,
    /// The C plugin's checksum: the sum of the numbers it received (0 + 2 + ... = rounds·(rounds − 1)).
    pub c_checksum: u64,
}

/// Loads both plugins, plays `rounds` rounds of ping-pong between them on a fresh runtime of `workers` threads,
/// shuts the runtime down and unloads the plugins.
pub fn run(rounds: u64, workers: usize) -> Result<Report, String> {
    let rust_plugin = Plugin::load(&rust_plugin_path()?)?;
    let c_plugin = Plugin::load(&c_plugin_path())?;
    let rt =
        Runtime::builder().worker_threads(workers).thread_name("plugin-host").build().map_err(|e| e.to_string())?;
    let to_rust = Mailbox::default();
    let to_c = Mailbox::default();
    let api =
        LxHostApi { struct_size: std::mem::size_of::<LxHostApi>(), runtime: rt.as_raw(), mailbox_send, mailbox_recv };

    let result = (|| {
        // The C player starts first and waits for the Rust player's first message.
        let c_task = c_plugin.start(&api, &to_c, &to_rust, rounds)?;
        let rust_task = rust_plugin.start(&api, &to_rust, &to_c, rounds)?;
        rt.block_on(async {
            // A host task awaits the C plugin's task from a worker (luminal_task_poll with the worker's context)...
            let c_checksum = rt.spawn(async move { c_task.await.map(|out| out as u64) });
            // ...while block_on itself awaits the Rust plugin's task.
            let rust_checksum = rust_task.await.map_err(|e| format!("rust plugin task: {e}"))? as u64;
            let c_checksum =
                c_checksum.await.map_err(|e| format!("host task: {e}"))?.map_err(|e| format!("c plugin task: {e}"))?;
            Ok(Report { rust_checksum, c_checksum })
        })
    })();

    // The plugins' code must stay loaded until the runtime can no longer poll or drop their futures.
    rt.shutdown(None).map_err(|e| e.to_string())?;
    drop(rt);
    drop((to_rust, to_c));
    drop((rust_plugin, c_plugin));
    result
}
