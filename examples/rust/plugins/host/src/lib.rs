//! The plugin host: loads plugin shared libraries at run time through the plugin contract of
//! include/luminal_plugin.h ([`luminal::plugin::Plugin`]: `luminal_plugin_open` gives each plugin the host's
//! runtime and a scope of its own and calls its init; `luminal_plugin_close` drains the scope, calls its fini and
//! unloads it), awaits the tasks they spawned, and unloads them again while the runtime runs on.
//!
//! Unloading at run time is safe because of the scope guarantee: every task of a plugin is in its scope, and
//! `luminal_plugin_close` calls fini and unloads only once no poll, drop or drop_output of the plugin's code runs
//! or can start. The host still holds wakers of the plugin's (now cancelled) tasks in its mailboxes; those are
//! luminal wakers wrapped by the host's own copy of the binding, so waking or dropping them afterwards is harmless.
//!
//! Two plugins play ping-pong on the host's runtime: the Rust plugin (a cdylib with its own copy of the
//! `luminal` crate) and the C plugin (plain C against luminal_plugin.h). Each waits on its inbox by leaving its task's
//! `luminal_waker` in a host mailbox; the other plugin's send wakes it. The host wraps those wakers as its own
//! Rust `Waker`s (`luminal::waker::clone_from_raw`): a luminal waker means the same thing to every copy of the
//! binding and to C, which is what makes the plugin boundary safe.
use luminal::ffi::{luminal_scope_counters, luminal_status, luminal_task, luminal_waker};
use luminal::{RawTask, Runtime, ScopeStats};
use std::collections::VecDeque;
use std::ffi::{c_void, CStr, CString};
use std::future::Future;
use std::os::raw::{c_char, c_int};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

// Only to show that a closed plugin's library is gone from the process (RTLD_NOLOAD).
extern "C" {
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlclose(handle: *mut c_void) -> c_int;
}
const RTLD_NOW: c_int = 2;
const RTLD_NOLOAD: c_int = 4; // glibc

// ------------------------------------------------------------------------------------------------------------
// The plugin ABI (mirror of plugin_api.h)
// ------------------------------------------------------------------------------------------------------------

/// Opaque to the plugins; really a [`Mailbox`].
#[repr(C)]
pub struct LxMailbox {
    _private: [u8; 0],
}

type StartFn = unsafe extern "C" fn(
    plugin: *mut c_void,
    inbox: *mut LxMailbox,
    outbox: *mut LxMailbox,
    rounds: u64,
    out: *mut *mut luminal_task,
) -> luminal_status;
type ParkFn = unsafe extern "C" fn(plugin: *mut c_void, mailbox: *mut LxMailbox, count: u32) -> luminal_status;

/// Mirror of `lx_host_api`: the host's mailbox functions in, the plugin's functions out (filled by its init), its
/// scope's counters at fini.
#[repr(C)]
pub struct LxHostApi {
    pub struct_size: usize,
    pub mailbox_send: unsafe extern "C" fn(mb: *mut LxMailbox, value: u64),
    pub mailbox_recv: unsafe extern "C" fn(mb: *mut LxMailbox, waker: *const luminal_waker, out: *mut u64) -> c_int,
    pub name: *const c_char,
    pub luminal_spawn_address: *const c_void,
    pub plugin: *mut c_void,
    pub start: Option<StartFn>,
    pub park: Option<ParkFn>,
    pub scope_at_fini: luminal_scope_counters,
    pub fini_calls: u32,
}

impl LxHostApi {
    /// A fresh struct with the host's mailbox functions, boxed: its address is the plugin's `host_data`.
    pub fn new() -> Box<LxHostApi> {
        Box::new(LxHostApi {
            struct_size: std::mem::size_of::<LxHostApi>(),
            mailbox_send,
            mailbox_recv,
            name: std::ptr::null(),
            luminal_spawn_address: std::ptr::null(),
            plugin: std::ptr::null_mut(),
            start: None,
            park: None,
            scope_at_fini: luminal_scope_counters::default(),
            fini_calls: 0,
        })
    }
}

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

    /// True if a task left its waker here (it is parked on this mailbox).
    pub fn has_waiter(&self) -> bool {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).waker.is_some()
    }

    /// Sends from the host.
    pub fn send(&self, value: u64) {
        // SAFETY: a live mailbox.
        unsafe { mailbox_send(self.as_ffi(), value) }
    }

    /// Receives in a task of the host (its waker is a luminal waker of the host's copy of the binding).
    pub fn recv(self: &Arc<Self>) -> impl Future<Output = u64> + Send + 'static {
        struct Recv(Arc<Mailbox>);
        impl Future for Recv {
            type Output = u64;
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
                let w = luminal::waker::as_raw(cx.waker()).expect("Mailbox::recv must be awaited by a Luminal task");
                let mut v = 0;
                // SAFETY: a live mailbox; `w` is borrowed for the call.
                if unsafe { mailbox_recv(self.0.as_ffi(), w, &mut v) } != 0 {
                    Poll::Ready(v)
                } else {
                    Poll::Pending
                }
            }
        }
        Recv(self.clone())
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

/// A loaded plugin: the binding's [`luminal::plugin::Plugin`] and the `lx_host_api` handed to it as host_data
/// (boxed: the plugin keeps its address until fini). Dropping it closes the plugin (see `Plugin`'s docs).
pub struct LoadedPlugin {
    plugin: luminal::plugin::Plugin,
    api: Box<LxHostApi>,
    path: CString,
    pub name: String,
}

impl LoadedPlugin {
    /// Opens the plugin at `path` on `rt` (`luminal_plugin_open`): its init fills in the `lx_host_api`.
    pub fn open(rt: &Runtime, path: &Path) -> Result<LoadedPlugin, String> {
        let cpath = CString::new(path.as_os_str().to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
        let mut api = LxHostApi::new();
        let host_data = &mut *api as *mut LxHostApi as *mut c_void;
        // SAFETY: the example's plugins implement luminal_plugin.h and take an lx_host_api as host_data; the box
        // lives as long as `LoadedPlugin`, whose `plugin` field is closed (dropped) first.
        let plugin = unsafe { luminal::plugin::Plugin::open(rt, path, host_data) }
            .map_err(|e| format!("luminal_plugin_open {}: {e}", path.display()))?;
        if api.start.is_none() || api.park.is_none() || api.name.is_null() {
            return Err(format!("{}: its init did not fill in the lx_host_api", path.display()));
        }
        // SAFETY: a static NUL-terminated string of the plugin (checked non-NULL), copied while it is loaded.
        let name = unsafe { CStr::from_ptr(api.name) }.to_string_lossy().into_owned();
        Ok(LoadedPlugin { plugin, api, path: cpath, name })
    }

    /// Calls the plugin's `start` (its player goes into its scope) and wraps the join handle it returns.
    pub fn start(&self, rt: &Runtime, inbox: &Mailbox, outbox: &Mailbox, rounds: u64) -> Result<RawTask, String> {
        let start = self.api.start.ok_or("the plugin is closed")?;
        let mut task = std::ptr::null_mut();
        // SAFETY: the plugin's function and pointer from its init; the mailboxes outlive the tasks (see `run`).
        let status = unsafe { start(self.api.plugin, inbox.as_ffi(), outbox.as_ffi(), rounds, &mut task) };
        luminal::RuntimeError::check(status).map_err(|e| format!("{}: start: {e}", self.name))?;
        // SAFETY: an owned join handle whose output is a number (nothing to free).
        Ok(unsafe { RawTask::from_raw(rt, task, None) })
    }

    /// Calls the plugin's `park`: `count` background tasks in its scope that stay pending (one waits on `mailbox`,
    /// the others sleep for an hour).
    pub fn park(&self, mailbox: &Mailbox, count: u32) -> Result<(), String> {
        let park = self.api.park.ok_or("the plugin is closed")?;
        // SAFETY: as for `start`.
        let status = unsafe { park(self.api.plugin, mailbox.as_ffi(), count) };
        luminal::RuntimeError::check(status).map_err(|e| format!("{}: park: {e}", self.name))
    }

    /// The counters of the plugin's scope (while it is open).
    pub fn scope_stats(&self) -> ScopeStats {
        self.plugin.scope_stats()
    }

    /// The address of `luminal_spawn` in the libluminal the plugin uses, as its init reported it.
    pub fn luminal_spawn_address(&self) -> Option<usize> {
        let p = self.api.luminal_spawn_address as usize;
        (p != 0).then_some(p)
    }

    /// Closes the plugin (`luminal_plugin_close`, waiting up to 10 s: scope drained, fini, unload) and returns its
    /// scope's counters as its fini saw them, and whether the library is really gone from the process (`dlopen`
    /// with `RTLD_NOLOAD` finds it no more). A library may legitimately stay mapped, e.g. while thread-local
    /// destructors it registered are pending.
    pub fn close(mut self) -> Result<(ScopeStats, bool), String> {
        self.plugin.close(Some(Duration::from_secs(10))).map_err(|e| format!("closing {}: {e}", self.name))?;
        if self.api.fini_calls != 1 {
            return Err(format!("{}: fini ran {} times", self.name, self.api.fini_calls));
        }
        let c = self.api.scope_at_fini;
        let stats = ScopeStats::from_counters(&c);
        // SAFETY: RTLD_NOLOAD never loads anything; a handle it returns is closed again at once.
        let gone = unsafe {
            let h = dlopen(self.path.as_ptr(), RTLD_NOW | RTLD_NOLOAD);
            if h.is_null() {
                true
            } else {
                dlclose(h);
                false
            }
        };
        Ok((stats, gone))
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

/// What one run produced.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// The Rust plugin's checksum: the sum of the answers it received (1 + 3 + ... = rounds²).
    pub rust_checksum: u64,
    /// The C plugin's checksum: the sum of the numbers it received (0 + 2 + ... = rounds·(rounds − 1)).
    pub c_checksum: u64,
    /// The C plugin's scope just before it was closed (its parked tasks still pending) and right after.
    pub c_scope_before_close: ScopeStats,
    pub c_scope_after_close: ScopeStats,
    /// Whether the C plugin's library was really gone from the process after dlclose.
    pub c_unmapped: bool,
    /// The Rust plugin's checksum of a second game played after the C plugin was unloaded, with the host
    /// answering in its place (rounds² again).
    pub rust_checksum_after_unload: u64,
    /// The Rust plugin's scope right after it was closed.
    pub rust_scope_after_close: ScopeStats,
    /// Whether the Rust plugin's library was really gone after dlclose (it may stay mapped while thread-local
    /// destructors of its copy of std are registered on the runtime's threads).
    pub rust_unmapped: bool,
    /// The address of `luminal_spawn` as the host, the Rust plugin and the C plugin see it (before the game; `run`
    /// fails if they differ): all equal when the process has one instance of libluminal.
    pub luminal_spawn_addresses: [Option<usize>; 3],
}

/// How many background tasks each plugin parks before its scope is closed.
pub const PARKED: u32 = 8;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Waits (up to 5 s) until `cond` holds.
fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// Loads both plugins, each with its own scope, on a fresh runtime of `workers` threads, and:
/// 1. plays `rounds` rounds of ping-pong between them;
/// 2. lets each park [`PARKED`] background tasks (sleeping, or waiting on a mailbox whose waker the host holds);
/// 3. closes the C plugin's scope while those tasks are pending and dlcloses the C plugin, then wakes the waker
///    it still holds for it (harmless);
/// 4. shows the Rust plugin keeps working: another `rounds`-round game, with a host task answering in place of the
///    unloaded C plugin;
/// 5. closes the Rust plugin's scope and unloads it too; the runtime is shut down only at the very end.
pub fn run(rounds: u64, workers: usize) -> Result<Report, String> {
    let rt = Runtime::builder().worker_threads(workers).thread_name("plugin-host").build().map_err(err)?;
    let to_rust = Arc::new(Mailbox::default());
    let to_c = Arc::new(Mailbox::default());
    let (rust_parking, c_parking) = (Mailbox::default(), Mailbox::default());
    // Options: each is taken when it is closed; on an error path the rest is closed (by drop) after the shutdown.
    let mut rust_plugin = Some(LoadedPlugin::open(&rt, &rust_plugin_path()?)?);
    let mut c_plugin = Some(LoadedPlugin::open(&rt, &c_plugin_path())?);

    let result = (|| {
        let (rust, c) = (rust_plugin.as_ref().unwrap(), c_plugin.as_ref().unwrap());
        // 0. One libluminal in the process (else the plugins' handles would be foreign to the host's runtime).
        let host_spawn = luminal::library::functions().ok().map(|f| f.luminal_spawn as usize);
        let luminal_spawn_addresses = [host_spawn, rust.luminal_spawn_address(), c.luminal_spawn_address()];
        if host_spawn.is_none() || luminal_spawn_addresses.iter().any(|a| *a != host_spawn) {
            return Err(format!(
                "not one libluminal in the process: luminal_spawn at {luminal_spawn_addresses:x?} (host, Rust plugin, C plugin)"
            ));
        }
        // 1. The C player starts first and waits for the Rust player's first message.
        let c_task = c.start(&rt, &to_c, &to_rust, rounds)?;
        let rust_task = rust.start(&rt, &to_rust, &to_c, rounds)?;
        let (rust_checksum, c_checksum) = rt.block_on(async {
            // A host task awaits the C plugin's task from a worker (luminal_task_poll with the worker's context)...
            let c_checksum = rt.spawn(async move { c_task.await.map(|out| out as u64) });
            // ...while block_on itself awaits the Rust plugin's task.
            let rust_checksum = rust_task.await.map_err(|e| format!("rust plugin task: {e}"))? as u64;
            let c_checksum =
                c_checksum.await.map_err(|e| format!("host task: {e}"))?.map_err(|e| format!("c plugin task: {e}"))?;
            Ok::<_, String>((rust_checksum, c_checksum))
        })?;

        // 2. Background work that only closing the plugin ends.
        rust.park(&rust_parking, PARKED)?;
        c.park(&c_parking, PARKED)?;
        if !wait_until(|| rust_parking.has_waiter() && c_parking.has_waiter()) {
            return Err("the parked tasks did not reach their mailboxes".into());
        }

        // 3. Unload the C plugin at run time: its scope is drained (the parked tasks cancelled), fini, dlclose.
        let c_scope_before_close = c.scope_stats();
        let (c_scope_after_close, c_unmapped) = c_plugin.take().unwrap().close()?;
        c_parking.send(1); // wakes the cancelled waiter's waker: does nothing

        // 4. The Rust plugin keeps working; the host answers n + 1 in place of the C plugin.
        let rust = rust_plugin.as_ref().unwrap();
        let rust_live = rust.scope_stats().live;
        let rust_task = rust.start(&rt, &to_rust, &to_c, rounds)?;
        let (inbox, outbox) = (to_c.clone(), to_rust.clone());
        let host_player = rt.spawn(async move {
            for _ in 0..rounds {
                let v = inbox.recv().await;
                outbox.send(v + 1);
            }
        });
        let rust_checksum_after_unload = rt.block_on(async {
            host_player.await.map_err(|e| format!("host player: {e}"))?;
            rust_task.await.map(|v| v as u64).map_err(|e| format!("rust plugin task after the unload: {e}"))
        })?;
        if rust.scope_stats().live != rust_live {
            return Err(format!("the Rust plugin's parked tasks changed: {:?}", rust.scope_stats()));
        }

        // 5. Unload the Rust plugin too.
        let (rust_scope_after_close, rust_unmapped) = rust_plugin.take().unwrap().close()?;
        rust_parking.send(1);
        Ok(Report {
            rust_checksum,
            c_checksum,
            c_scope_before_close,
            c_scope_after_close,
            c_unmapped,
            rust_checksum_after_unload,
            rust_scope_after_close,
            rust_unmapped,
            luminal_spawn_addresses,
        })
    })();

    // On an error path a plugin may still be open: the shutdown drops its tasks (its library still loaded), then
    // dropping it closes it (fini, unload).
    let shutdown = rt.shutdown(None).map_err(err);
    drop((rust_plugin, c_plugin));
    drop(rt);
    drop((to_rust, to_c, rust_parking, c_parking));
    shutdown?;
    result
}
