//! The plugin example as an integration test: a Rust and a C plugin, loaded at run time, share the host's runtime
//! and wake each other's tasks; then each is unloaded at run time after closing its scope with tasks pending.
use plugin_host::PARKED;

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
