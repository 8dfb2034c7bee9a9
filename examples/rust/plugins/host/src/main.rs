//! Runs the plugin example once and prints what happened: ping-pong between a Rust and a C plugin, then the C
//! plugin is closed at run time (luminal_plugin_close: its scope drained while its tasks are pending, fini, unload)
//! and the Rust plugin keeps working.
fn main() {
    let rounds = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000u64);
    match plugin_host::run(rounds, 4) {
        Ok(r) => {
            println!("{rounds} rounds of ping-pong between a Rust and a C plugin on one Luminal runtime");
            println!("  rust plugin checksum {} (expected {})", r.rust_checksum, rounds * rounds);
            println!("  c plugin checksum    {} (expected {})", r.c_checksum, rounds * rounds.saturating_sub(1));
            println!("c plugin scope before close: {:?}", r.c_scope_before_close);
            println!("c plugin scope after close:  {:?}", r.c_scope_after_close);
            println!("c plugin closed (luminal_plugin_close) while the runtime runs (unmapped: {})", r.c_unmapped);
            println!(
                "rust plugin after the unload: {rounds} more rounds with the host answering, checksum {} (expected {})",
                r.rust_checksum_after_unload,
                rounds * rounds
            );
            println!("rust plugin scope after close: {:?}", r.rust_scope_after_close);
            println!("rust plugin closed (unmapped: {})", r.rust_unmapped);
            assert_eq!(r.rust_checksum, rounds * rounds);
            assert_eq!(r.c_checksum, rounds * rounds.saturating_sub(1));
            assert_eq!(r.rust_checksum_after_unload, rounds * rounds);
            assert_eq!(r.c_scope_after_close.live, 0);
            assert_eq!(r.rust_scope_after_close.live, 0);
        }
        Err(e) => {
            eprintln!("plugin host failed: {e}");
            std::process::exit(1);
        }
    }
}
