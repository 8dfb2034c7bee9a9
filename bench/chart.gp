# Grouped bars: time per op of each peer relative to tokio (1.0), per workload. Called by run.sh.
set terminal pngcairo size 1400,650 font ",11" noenhanced
set output outfile
set title "Time per op relative to tokio (lower is better; 2 worker threads; medians)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set datafile missing "?"
set key top left autotitle columnhead
set ylabel "ratio to tokio (log scale)"
set logscale y 2
set yrange [0.0625:16]
set grid ytics
set xtics rotate by 20 right nomirror
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 lw 1.5 lc rgb "black" front
plot for [i=2:*] datafile using i:xtic(1) title columnhead(i)
