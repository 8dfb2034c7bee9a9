//! The plugin example as an integration test: a Rust and a C plugin, loaded at run time, share the host's
//! runtime and wake each other's tasks.

#[test]
fn rust_and_c_plugins_play_ping_pong_on_the_host_runtime() {
    for (rounds, workers) in [(1u64, 1usize), (1000, 1), (5000, 4)] {
        let report = plugin_host::run(rounds, workers).unwrap();
        assert_eq!(report.rust_checksum, rounds * rounds, "rounds {rounds}, workers {workers}");
        assert_eq!(report.c_checksum, rounds * (rounds - 1), "rounds {rounds}, workers {workers}");
    }
}
