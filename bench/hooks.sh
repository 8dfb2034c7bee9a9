#!/usr/bin/env bash
# What observing costs (issue 16: "one predictable branch per event when no hook is set"): bench_hooks on a runtime
# without observers ("off"), with a no-op task hook ("on"), and, when BENCH_BASELINE_LIB names an older
# libluminal.so.0 (a build from before the hooks existed), the same "off" program on it ("before"). Processes are
# interleaved round by round so drifting machine load hits all columns alike. Writes results/hooks.md.
#   env: BENCH_HOOKS_ROUNDS (5), BENCH_HOOKS_REPS (15 per process), BENCH_BASELINE_LIB (optional)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd .. && pwd)
OUT=$PWD/out
RES=$PWD/results
mkdir -p "$OUT" "$RES"
ROUNDS=${BENCH_HOOKS_ROUNDS:-5}
REPS=${BENCH_HOOKS_REPS:-15}
cc -O2 -g -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -I"$ROOT/include" c/bench_hooks.c -o "$OUT/bench_hooks" \
  -L"$ROOT/build/lib" -lluminal -Wl,-rpath,"$ROOT/build/lib" -lpthread
BASE_DIR=""
if [ -n "${BENCH_BASELINE_LIB:-}" ]; then
  BASE_DIR=$OUT/baseline-lib
  mkdir -p "$BASE_DIR"
  cp -L "$BENCH_BASELINE_LIB" "$BASE_DIR/libluminal.so.0"
fi
declare -A RUNS
for ((r = 1; r <= ROUNDS; r++)); do
  [ -n "$BASE_DIR" ] && RUNS[before]+="$(LD_LIBRARY_PATH=$BASE_DIR "$OUT/bench_hooks" off "$REPS")"$'\n'
  RUNS[off]+="$("$OUT/bench_hooks" off "$REPS")"$'\n'
  RUNS[on]+="$("$OUT/bench_hooks" on "$REPS")"$'\n'
  echo "-- round $r/$ROUNDS"
done
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
cell() { printf '%s' "${RUNS[$1]:-}" | awk -v w="$2" '$1 == w {print $2}' | median; }
{
  echo "# Observability cost (bench/hooks.sh, $(date -u +%Y-%m-%d), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "ns per operation, median over $ROUNDS processes (each the median of $REPS repetitions), 2 workers. spawn_ready:"
  echo "a task spawned from outside, polled once, finished (4 hook events: spawned, poll start, poll end, completed)."
  echo "yield_many: one poll of a yielding task (2 hook events: poll start, poll end)."
  echo
  if [ -n "$BASE_DIR" ]; then
    echo "| workload | before (no hooks in the library) | off (hooks unset) | off / before | on (no-op task hook) |"
    echo "|---|---:|---:|---:|---:|"
  else
    echo "| workload | off (hooks unset) | on (no-op task hook) |"
    echo "|---|---:|---:|"
  fi
  for w in spawn_ready yield_many; do
    off=$(cell off $w); on=$(cell on $w)
    if [ -n "$BASE_DIR" ]; then
      before=$(cell before $w)
      echo "| $w | $before | $off | $(awk -v a="$off" -v b="$before" 'BEGIN {printf "%.2f", a / b}') | $on |"
    else
      echo "| $w | $off | $on |"
    fi
  done
} > "$RES/hooks.md"
cat "$RES/hooks.md"
