#!/usr/bin/env bash
# Runs the Rust examples (built by `./build.sh` with `cargo build --release --workspace --all-targets`).
set -euo pipefail
cd "$(dirname "$0")"
BIN=target/release
for e in hello io-demo plugin-host; do
  [ -x "$BIN/$e" ] || { echo "missing $BIN/$e: run cargo build --release --workspace first" >&2; exit 1; }
done
echo "-- rust: hello"; "$BIN/hello"
echo "-- rust: io-demo (uring)"; "$BIN/io-demo" uring || echo "(io_uring unavailable)"
echo "-- rust: io-demo (pool)"; "$BIN/io-demo" pool
echo "-- rust: plugin-host"; "$BIN/plugin-host" 10000
