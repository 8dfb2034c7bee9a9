//! Runs the plugin ping-pong once and prints what each plugin saw.
fn main() {
    let rounds = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000u64);
    match plugin_host::run(rounds, 4) {
        Ok(report) => {
            println!("{rounds} rounds of ping-pong between a Rust and a C plugin on one Luminal runtime");
            println!("  rust plugin checksum {} (expected {})", report.rust_checksum, rounds * rounds);
            println!("  c plugin checksum    {} (expected {})", report.c_checksum, rounds * (rounds.max(1) - 1));
            assert_eq!(report.rust_checksum, rounds * rounds);
            assert_eq!(report.c_checksum, rounds * rounds.saturating_sub(1));
        }
        Err(e) => {
            eprintln!("plugin host failed: {e}");
            std::process::exit(1);
        }
    }
}
