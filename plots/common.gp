# Shared by every figure script: CSV input, one style. Each script is run as
#   gnuplot -e "data='DIR'; out='OUTDIR'; fmt='png'" plots/NAME.gp
# where DIR holds a sweep's CSVs (wafersim sweep --out DIR) and fmt is png or svg.
set datafile separator ','
if (!exists("data")) data = 'plots/data'
if (!exists("out")) out = 'plots/out'
if (!exists("fmt")) fmt = 'png'
if (fmt eq 'png') set terminal pngcairo size 900,600 enhanced font 'Sans,11'
if (fmt eq 'svg') set terminal svg size 900,600 enhanced font 'Sans,11' background rgb 'white'
set key top left box opaque
set grid
# twelve distinguishable colors (op kinds), then gnuplot's own
array C[12] = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#e7ba52']
do for [i=1:12] { set linetype i lc rgb C[i] lw 2 pt (i % 7) + 1 }
