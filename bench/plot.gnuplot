# Each case's throughput next to its ceiling, from the data file scripts/bench.sh writes:
#   case <TAB> requests/s <TAB> ceiling name <TAB> ceiling/s <TAB> ratio text
#   gnuplot -e "datafile='x.dat'; outfile='x.png'; chart_title='...'" bench/plot.gnuplot
# The y axis is logarithmic: reads run at tens of thousands per second, orders at a few thousand,
# checkouts at hundreds. The last row is the checkout case, next to the direct orders (spread).

if (!exists("datafile")) datafile = 'bench.dat'
if (!exists("outfile")) outfile = 'bench.png'
if (!exists("chart_title")) chart_title = 'Stockroom make bench'

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1200,650 font ",10" noenhanced
} else {
    set terminal png size 1200,650 noenhanced
}
set output outfile
set datafile separator "\t"
set title chart_title
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [30:300000]
set xrange [-0.6:5.6]
set ylabel "requests (or transactions) per second, log scale"
set grid ytics
set key top right
set xtics scale 0 font ",9"
set bmargin 5

plot datafile using 2:xtic(stringcolumn(1)."\nvs ".stringcolumn(3)) title "Stockroom through nginx (wrk)" linecolor rgb "#3b6ea8", \
     '' using 4 title "ceiling of the same run" linecolor rgb "#b0b0b0", \
     '' using ($0 - 0.15):($2 * 1.15):(sprintf("%.0f", $2)) with labels font ",8" notitle, \
     '' using ($0 + 0.15):($4 * 1.15):(sprintf("%.0f", $4)) with labels font ",8" notitle, \
     '' using 0:(($2 > $4 ? $2 : $4) * 1.6):("ratio ".stringcolumn(5)) with labels font ",10" notitle
