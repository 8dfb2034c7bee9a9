#!/usr/bin/env bash
# Draws a trace written by example_trace (Chrome trace-event JSON) as a PNG, headless: python3 turns the slices
# into rectangles, gnuplot (pngcairo) draws one lane per worker coloured by scope, and the sampled metrics below.
# This is what made the README's picture; Perfetto (https://ui.perfetto.dev) shows the same file interactively.
#   usage: examples/c/trace_to_png.sh [TRACE.json] [OUT.png]   (defaults: build/cmake/trace.json, examples/c/trace.png)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IN=${1:-$ROOT/build/cmake/trace.json}
PNG=${2:-$ROOT/examples/c/trace.png}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 - "$IN" "$TMP" <<'PY'
import json, sys
events = json.load(open(sys.argv[1]))["traceEvents"]
out = sys.argv[2]
names = {e["tid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"}
colour = {"plugin-a": "0xd95f02", "plugin-b": "0x1b9e77", "host": "0x7570b3"}
t0 = min(e["ts"] for e in events if "ts" in e)
with open(out + "/slices.dat", "w") as f:
    for e in events:
        if e.get("ph") != "X":
            continue
        x0, x1 = (e["ts"] - t0) / 1000.0, (e["ts"] + e["dur"] - t0) / 1000.0
        y = e["tid"]
        f.write(f"{(x0 + x1) / 2} {y} {x0} {x1} {y - 0.38} {y + 0.38} {colour.get(e['name'], '0x999999')}\n")
with open(out + "/counters.dat", "w") as f:
    for e in events:
        if e.get("ph") == "C" and e["name"] == "tasks":
            f.write(f"{(e['ts'] - t0) / 1000.0} {e['args']['alive']} {e['args']['ready']}\n")
with open(out + "/lanes.gp", "w") as f:
    labels = ", ".join(f'"{name}" {tid}' for tid, name in sorted(names.items()))
    f.write(f"set ytics ({labels})\nset yrange [{max(names) + 0.7}:-0.7]\n")
PY
gnuplot <<GP
set terminal pngcairo size 1400,640 font "DejaVu Sans,11"
set output "$PNG"
set multiplot layout 2,1 title "Luminal trace (example_trace): one lane per worker, one box per poll, coloured by scope" noenhanced margins 0.1,0.97,0.1,0.9 spacing 0,0.08
set style fill solid 0.9 noborder
load "$TMP/lanes.gp"
unset xlabel
set format x ""
set grid xtics
set key horizontal at graph 1, graph 1.13 right
set size 1,0.62
set origin 0,0.34
plot "$TMP/slices.dat" using 1:2:3:4:5:6:7 with boxxyerror lc rgb variable notitle, \
     NaN with boxes lc rgb "#d95f02" title "plugin-a (CPU-heavy polls)", \
     NaN with boxes lc rgb "#1b9e77" title "plugin-b (short polls, sleeps)", \
     NaN with boxes lc rgb "#7570b3" title "host (urgent, sleeps)"
set size 1,0.3
set origin 0,0.02
set key horizontal at graph 1, graph 1.22 right
set format x "%g"
set xlabel "ms"
set ytics auto
set autoscale y
set yrange [0:*]
plot "$TMP/counters.dat" using 1:2 with steps lw 2 lc rgb "#444444" title "tasks alive", \
     "" using 1:3 with steps lw 2 lc rgb "#e7298a" title "tasks ready (queued)"
unset multiplot
GP
echo "wrote $PNG"
