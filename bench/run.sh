#!/usr/bin/env bash
# Luminal against its peers, side by side: builds one small program per peer (same workloads, same number of
# worker threads), runs them workload by workload (peers interleaved, so drifting machine load hits all alike),
# and writes results/RESULTS.md (table of medians and ratios to tokio) and results/chart.png.
# Run through `./build.sh bench` (which builds libluminal first) or directly once build/lib/libluminal.so exists.
#   env: BENCH_WORKERS (2), BENCH_REPS (25), BENCH_WARMUP (5), BENCH_ROUNDS (3: fresh processes per workload and
#   peer; the table shows the median of their medians), BENCH_PEERS (all, e.g. "luminal-c tokio"; luminal-cpp is
#   cpp/bench_luminal.cpp, the same workloads with luminal::task<T>),
#   BENCH_SUITES ("main priority timers io": the peer workloads (with the sync ones: mpsc, semaphore), c/bench_priority.c + its tokio counterpart,
#   c/bench_timers.c + c/bench_gc.c + bench_luminal_c's `_no_io`/`_after_io` rows + c/bench_wake.c, c/bench_io.c + rust-tokio's bench-tokio-io + `cat` + c/bench_shutdown.c, conns: c/bench_conns.c + rust-luminal's bench-luminal-conns + rust-tokio's bench-tokio-conns; a subset writes its
#   report to results/partial/, leaving results/RESULTS.md alone), BENCH_IO_REPS (3 file reads per process after 1
#   warm-up), BENCH_IO_TCP_REPS (1 echo run of BENCH_IO_MSGS=100000 messages per process), BENCH_SHUTDOWN_OPS
#   (100000 reads in flight at shutdown), BENCH_SHUTDOWN_REPS (5 shutdowns per process)
set -euo pipefail
cd "$(dirname "$0")"
BENCH=$PWD
ROOT=$(cd .. && pwd)
OUT=$BENCH/out          # build products (ignored by git)
RES=$BENCH/results      # what gets committed
export BENCH_WORKERS=${BENCH_WORKERS:-2} BENCH_REPS=${BENCH_REPS:-25} BENCH_WARMUP=${BENCH_WARMUP:-5} BENCH_ROUNDS=${BENCH_ROUNDS:-3}
SUITES=${BENCH_SUITES:-"main priority timers io conns"}
[ "$SUITES" = "main priority timers io conns" ] || RES=$RES/partial
export BENCH_IO_REPS=${BENCH_IO_REPS:-3} BENCH_IO_TCP_REPS=${BENCH_IO_TCP_REPS:-1}
IOFILE=$OUT/io-1GiB.bin # made by bench_io, deleted at the end
trap 'rm -f "$IOFILE"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
mkdir -p "$OUT" "$RES"
START=$(date +%s)

need_apt() { # need_apt <command-or-file> <package>...
  local probe=$1; shift
  if ! command -v "$probe" >/dev/null 2>&1 && [ ! -e "$probe" ]; then
    echo "== installing $* with apt"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
  fi
}
need_apt gnuplot gnuplot-nox
need_apt python3 python3
need_apt /usr/include/oneapi/tbb.h libtbb-dev
need_apt /usr/share/cargo/registry/tokio-1.24.2 librust-tokio-dev
[ -f "$ROOT/build/lib/libluminal.so" ] || { echo "build/lib/libluminal.so missing: run ./build.sh bench" >&2; exit 1; }

echo "== building the peers"
cc -O2 -g -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -I"$ROOT/include" c/bench_luminal.c -o "$OUT/bench_luminal_c" \
  -L"$ROOT/build/lib" -lluminal -Wl,-rpath,"$ROOT/build/lib" -lpthread
g++ -O2 -g -std=c++20 -Wall -Wextra -I"$ROOT/include" cpp/bench_luminal.cpp -o "$OUT/bench_luminal_cpp" \
  -L"$ROOT/build/lib" -lluminal -Wl,-rpath,"$ROOT/build/lib" -lpthread
for prog in bench_priority bench_timers bench_io bench_shutdown bench_gc bench_conns bench_wake; do
  cc -O2 -g -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -I"$ROOT/include" c/$prog.c -o "$OUT/$prog" \
    -L"$ROOT/build/lib" -lluminal -Wl,-rpath,"$ROOT/build/lib" -lpthread
done
g++ -O2 -g -std=c++17 -Wall tbb/bench_tbb.cpp -o "$OUT/bench_tbb" -ltbb
(cd rust-tokio && cargo build --release --offline -q)
LUMINAL_RUST=ok
(cd rust-luminal && LUMINAL_LIB_DIR="$ROOT/build/lib" cargo build --release --offline -q) || LUMINAL_RUST=failed
dotnet publish dotnet -c Release -o "$OUT/dotnet-jit" --nologo -v quiet -clp:ErrorsOnly
dotnet publish dotnet -c Release -r linux-x64 -p:PublishAot=true -o "$OUT/dotnet-aot" --nologo -v quiet -clp:ErrorsOnly
# The same AOT program with the spawn workloads as plain ThreadPool work items (dotnet/WorkItems.cs).
printf '#!/bin/sh\nBENCH_DOTNET_ITEMS=1 exec "%s" "$@"\n' "$OUT/dotnet-aot/bench-dotnet" > "$OUT/dotnet-items"
chmod +x "$OUT/dotnet-items"

# peer name -> program. The order is the column order of the table.
declare -A PROG=(
  [luminal-rust]=rust-luminal/target/release/bench-luminal
  [luminal-c]=$OUT/bench_luminal_c
  [luminal-cpp]=$OUT/bench_luminal_cpp
  [tokio]=rust-tokio/target/release/bench-tokio
  [dotnet-aot]=$OUT/dotnet-aot/bench-dotnet
  [dotnet-jit]=$OUT/dotnet-jit/bench-dotnet
  [dotnet-items]=$OUT/dotnet-items
  [tbb]=$OUT/bench_tbb
)
PEERS=${BENCH_PEERS:-"luminal-rust luminal-c luminal-cpp tokio dotnet-aot dotnet-jit dotnet-items tbb"}
WORKLOADS="spawn_many_local spawn_many_remote_idle spawn_many_remote_busy yield_many ping_pong chained_spawn
           spawn_join pending_task_bytes idle_cpu"
# The sync primitives (channels, semaphore): only Luminal (C, Rust) and tokio::sync on tokio have them.
SYNC_WORKLOADS="mpsc_1to1 mpsc_4to1 semaphore_contended"
SYNC_PEERS="luminal-rust luminal-c tokio"

CONDITIONS="$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 |
  sed 's/^ //')), load average before the run: $(cut -d' ' -f1-3 /proc/loadavg), commit ${BENCH_COMMIT:-$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)}"
RAW=$RES/raw.tsv # peer, name, value, reps (ignored by git; RESULTS.md has it all)
: > "$RAW"
echo "== running (workers=$BENCH_WORKERS, reps=$BENCH_REPS after $BENCH_WARMUP warm-up, $BENCH_ROUNDS rounds)"
has() { case " $1 " in *" $2 "*) return 0;; esac; return 1; } # has <list> <word>
run() { # run <peer> <program> <args>...: one fresh process, its lines tagged with the peer into raw.tsv
  local p=$1; shift
  [ -x "$1" ] || return 0
  timeout 300 "$@" | sed "s/^/$p\t/" | tee -a "$RAW" || echo "$p $*: failed (exit $?)" >&2
}
for round in $(seq "$BENCH_ROUNDS"); do
  echo "-- round $round of $BENCH_ROUNDS"
  # Priority latency (~15 s) and timers (~3 s): Luminal from C, and tokio's counterpart of the priority workload.
  if has "$SUITES" priority; then
    has "$PEERS" luminal-c && run luminal-c "$OUT/bench_priority" levels && run luminal-c "$OUT/bench_priority" flat \
      && run luminal-c "$OUT/bench_priority" busy
    has "$PEERS" tokio && run tokio rust-tokio/target/release/bench-tokio-priority \
      && run tokio rust-tokio/target/release/bench-tokio-priority busy
  fi
  if has "$SUITES" timers && has "$PEERS" luminal-c; then
    for w in accuracy timers tasks; do run luminal-c "$OUT/bench_timers" "$w"; done
    # Collections while live tasks grow to 1M, and host spawn latency meanwhile (with file IO) (~10 s).
    for w in grow storm io; do run luminal-c "$OUT/bench_gc" "$w"; done
    # Idle IO is free: the scheduler workloads once more after one IO operation (names get `_after_io`), next to
    # the same process without it (`_no_io`): compared with the main suite's rows, the two columns ran at different
    # times (after bench_gc's 1M-task storm here) and in differently shaped processes.
    # bench_wake: what waking a parked worker costs the host thread, and how long until the task runs (~2 s).
    for io in 0 1; do
      BENCH_IO_FIRST=$io run luminal-c "$OUT/bench_luminal_c" yield_many spawn_many_local spawn_many_remote_idle
      BENCH_IO_FIRST=$io run luminal-c "$OUT/bench_wake"
    done
  fi
  # IO (~50 s a round): file reads (warm page cache) and a TCP echo, Luminal's two backends, tokio and cat.
  if has "$SUITES" io; then
    if [ ! -f "$IOFILE" ]; then
      "$OUT/bench_io" "$IOFILE" mkfile && cat "$IOFILE" >/dev/null # 1 GiB, fsync'ed, then read once: cache warm
    fi
    has "$PEERS" luminal-c && run cat "$OUT/bench_io" "$IOFILE" cat
    for part in sync uring_qd1 uring_qd8 pool_qd1 pool_qd8 map_copy map_sum; do
      has "$PEERS" luminal-c && run luminal-c "$OUT/bench_io" "$IOFILE" $part
    done
    for part in fs blocking_qd1 blocking_qd8; do
      has "$PEERS" tokio && run tokio rust-tokio/target/release/bench-tokio-io "$IOFILE" $part
    done
    for part in tcp_uring tcp_pool tcp6_uring tcp6_pool unix_uring unix_pool; do has "$PEERS" luminal-c && run luminal-c "$OUT/bench_io" "$IOFILE" $part; done
    has "$PEERS" tokio && run tokio rust-tokio/target/release/bench-tokio-io "$IOFILE" tcp
    # Shutdown with 100k pipe reads in flight (~5 s a round).
    for b in uring pool; do has "$PEERS" luminal-c && run luminal-c "$OUT/bench_shutdown" $b; done
  fi
  # Many connections (~25 s a round): a 64-connection echo and 10k idle connections (c/bench_conns.c).
  if has "$SUITES" conns; then
    for part in echo64_uring echo64_pool idle_uring idle_pool; do has "$PEERS" luminal-c && run luminal-c "$OUT/bench_conns" $part; done
    for part in echo64_uring idle_uring; do
      has "$PEERS" luminal-rust && run luminal-rust rust-luminal/target/release/bench-luminal-conns $part
    done
    for part in echo64 idle; do has "$PEERS" tokio && run tokio rust-tokio/target/release/bench-tokio-conns $part; done
  fi
  has "$SUITES" main || continue
  for w in $WORKLOADS; do
    # Each workload runs in a fresh process: no pool, heap or RSS left over from another workload.
    for p in $PEERS; do run "$p" "${PROG[$p]}" "$w"; done
  done
  for w in $SYNC_WORKLOADS; do
    for p in $PEERS; do has "$SYNC_PEERS" "$p" && run "$p" "${PROG[$p]}" "$w"; done
  done
done

rm -f "$IOFILE"
echo "== report"
python3 report.py "$RAW" "$RES" "$PEERS" "$CONDITIONS" "$LUMINAL_RUST"
has "$SUITES" main && gnuplot -e "datafile='$RES/chart.dat'; outfile='$RES/chart.png'" chart.gp
echo "== done in $(( $(date +%s) - START )) s: $RES/RESULTS.md, $RES/chart.png"
