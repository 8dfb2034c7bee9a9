//! The plugin example as an integration test: a Rust and a C plugin, loaded at run time, share the host's runtime
//! and wake each other's tasks; then each is unloaded at run time after closing its scope with tasks pending.
use luminal::plugin::Plugin;
use luminal::{ErrorKind, Runtime};
use plugin_host::{c_plugin_path, rust_plugin_path, LxHostApi, Mailbox, PARKED};
use std::ffi::c_void;
use std::time::Duration;

#[test]
fn plugins_play_ping_pong_then_are_unloaded_at_run_time() {
    for (rounds, workers) in [(1u64, 1usize), (1000, 1), (5000, 4)] {
        let r = plugin_host::run(rounds, workers).unwrap();
        let ctx = format!("rounds {rounds}, workers {workers}: {r:?}");
        // One libluminal in the process: the host's copy of the crate, the Rust plugin's copy and the C plugin's
        // link all reach the same instance (the C plugin, loaded first, brought it in; both copies of the crate
        // found it already loaded).
        let [host, rust, c] = r.luminal_spawn_addresses;
        assert!(host.is_some(), "{ctx}");
        assert_eq!(rust, host, "the Rust plugin uses another libluminal instance than the host: {ctx}");
        assert_eq!(c, host, "the C plugin uses another libluminal instance than the host: {ctx}");
        assert_eq!(r.rust_checksum, rounds * rounds, "{ctx}");
        assert_eq!(r.c_checksum, rounds * (rounds - 1), "{ctx}");

        // The C plugin's scope: its player completed; its parked tasks were pending until the close.
        let (before, after) = (r.c_scope_before_close, r.c_scope_after_close);
        assert_eq!(before.spawned, 1 + PARKED as u64, "{ctx}");
        assert_eq!(before.live, PARKED as u64, "{ctx}");
        assert_eq!(before.completed, 1, "{ctx}");
        assert_eq!(after.live, 0, "{ctx}");
        assert_eq!(after.cancelled, PARKED as u64, "{ctx}");
        assert!(r.c_unmapped, "the C plugin is gone from the process after dlclose: {ctx}");

        // The Rust plugin kept working after the C plugin was unloaded.
        assert_eq!(r.rust_checksum_after_unload, rounds * rounds, "{ctx}");
        // Two players (each with `rounds` nested children) completed; the parked tasks were cancelled.
        let rs = r.rust_scope_after_close;
        assert_eq!(rs.live, 0, "{ctx}");
        assert_eq!(rs.cancelled, PARKED as u64, "{ctx}");
        assert_eq!(rs.spawned, 2 + 2 * rounds + PARKED as u64, "{ctx}");
        assert_eq!(rs.completed, 2 + 2 * rounds, "{ctx}");
    }
}

fn host_data(api: &mut LxHostApi) -> *mut c_void {
    api as *mut LxHostApi as *mut c_void
}

/// `Plugin::open` of one of the example's plugins (or of a file that is none).
fn open(rt: &Runtime, path: impl AsRef<std::path::Path>, data: *mut c_void) -> Result<Plugin, luminal::RuntimeError> {
    // SAFETY: the example's plugins take an lx_host_api (or NULL, which they refuse) as host_data; the other files
    // opened here are no plugins (refused before any of their code but initializers runs: libluminal's own, again).
    unsafe { Plugin::open(rt, path, data) }
}

#[test]
fn open_reports_what_is_wrong() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let e = open(&rt, "/nonexistent/libnothing.so", std::ptr::null_mut()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    // libluminal itself is a shared library, but not a plugin
    let lib = luminal::library::path().expect("libluminal is loaded");
    let e = open(&rt, &lib, std::ptr::null_mut()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotPlugin, "{e}");
    // both plugins refuse a NULL host_data in their init: the Rust one through export_plugin!'s error path
    for path in [rust_plugin_path().unwrap(), c_plugin_path()] {
        let e = open(&rt, &path, std::ptr::null_mut()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PluginInit, "{}: {e}", path.display());
    }
    let e = open(&rt, "a\0b", std::ptr::null_mut()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

/// Dropping an open `Plugin` closes it: its parked tasks are cancelled and waited for, then fini runs once.
#[test]
fn drop_closes_the_plugin() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    for path in [c_plugin_path(), rust_plugin_path().unwrap()] {
        let mut api = LxHostApi::new();
        let mailbox = Mailbox::default();
        let plugin = open(&rt, &path, host_data(&mut api)).unwrap();
        // SAFETY: the plugin's park function and pointer from its init; the mailbox outlives the plugin.
        let st = unsafe { (api.park.unwrap())(api.plugin, &mailbox as *const Mailbox as *mut _, 4) };
        assert_eq!(st, luminal::ffi::LUMINAL_OK);
        assert_eq!(plugin.scope_stats().spawned, 4);
        drop(plugin);
        assert_eq!(api.fini_calls, 1, "{}", path.display());
        assert_eq!(api.scope_at_fini.live, 0);
        assert_eq!(api.scope_at_fini.cancelled, 4);
        assert!(api.park.is_none(), "fini took the functions back");
    }
}

/// `close` with a timeout from a worker is refused (nothing happens); with `Some(ZERO)` or from another thread it
/// works; a closed `Plugin` closes again as a no-op.
#[test]
fn close_from_a_worker_and_twice() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let mut api = LxHostApi::new();
    let plugin = open(&rt, c_plugin_path(), host_data(&mut api)).unwrap();
    let on_worker = rt.spawn(async move {
        let mut p = plugin;
        let r = p.close(Some(Duration::from_secs(1)));
        (p, r)
    });
    let (mut plugin, refused) = rt.block_on(on_worker).unwrap();
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::WouldDeadlock);
    assert!(plugin.is_open());
    assert_eq!(api.fini_calls, 0);
    plugin.close(None).unwrap();
    assert!(!plugin.is_open());
    assert_eq!(api.fini_calls, 1);
    plugin.close(None).unwrap(); // already closed: nothing to do
    assert!(plugin.scope_raw().is_null());
    assert_eq!(api.fini_calls, 1);
}
