# Wafer heatmaps at the lowest (dense) and highest sparsity of a sweep: the
# stage of every PE (placement; neighbouring stages in different colors),
# its busy fraction (compute cycles / the run's cycles) and its SRAM use.
# Unused PEs are left white.
load 'plots/common.gp'
if (fmt eq 'png') set terminal pngcairo size 1500,1000 enhanced font 'Sans,10'
if (fmt eq 'svg') set terminal svg size 1500,1000 enhanced font 'Sans,10' background rgb 'white'
set output out.'/heatmaps.'.fmt
unset grid
unset key
set size ratio -1
set autoscale fix
set yrange [*:*] reverse
set xlabel 'x (PE column)'
set ylabel 'y (PE row)'
set multiplot layout 2,3 title 'The wafer per PE: placement, busy fraction, SRAM (top: dense; bottom: the sweep''s highest sparsity)'
array F[2] = ['pes_first', 'pes_last']
array L[2] = ['dense', 'highest sparsity']
do for [i=1:2] {
  f = data.'/'.F[i].'.csv'
  set title 'stage of each PE, '.L[i]
  set palette maxcolors 12
  set palette defined (0 '#1f77b4', 1 '#ff7f0e', 2 '#2ca02c', 3 '#d62728', 4 '#9467bd', 5 '#8c564b', \
                       6 '#e377c2', 7 '#7f7f7f', 8 '#bcbd22', 9 '#17becf', 10 '#393b79', 11 '#e7ba52')
  set cbrange [0:11]
  set cblabel 'stage index mod 12'
  plot f using 1:2:($3 < 0 ? NaN : int($3) % 12) skip 1 with image
  set title 'busy fraction, '.L[i]
  set palette rgb 21,22,23
  set palette maxcolors 0
  set cbrange [0:*]
  set cblabel 'compute cycles / run cycles'
  plot f using 1:2:($3 < 0 ? NaN : $6) skip 1 with image
  set title 'SRAM used, '.L[i]
  set cblabel 'KiB'
  set cbrange [0:48]
  plot f using 1:2:($3 < 0 ? NaN : $7 / 1024) skip 1 with image
}
unset multiplot
