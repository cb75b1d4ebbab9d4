# Training by weight streaming vs the number of wafers (wafersim sweep with
# --vary system.wafers=1,2,4,8,16: data/train_wafers/sweep.csv, dense and
# 0.84): tokens/s per step against the wafers, the linear ideal from one
# wafer's, and the scaling efficiency (tokens/s / (wafers x one wafer's)) on
# the right axis, each point labelled with its busiest resource (bound_by).
load 'plots/common.gp'
set output out.'/train_wafers.'.fmt
set title 'GPT-3 1.3B training, weight streaming: tokens/s and scaling efficiency vs wafers'
set xlabel 'wafers (data-parallel, system.wafers)'
set ylabel 'tokens/s'
set y2label 'scaling efficiency'
set logscale x 2
set logscale y 2
set xrange [0.8:20]
set y2range [0:1.1]
set y2tics 0.1
set ytics nomirror
set key bottom right box opaque
set format y '%.0s%c'
set datafile missing NaN
W = data.'/train_wafers/sweep.csv'
stats W using (column('sparsity') == 0 && column('wafers') == 1 ? column('tokens_per_s') : 1/0) nooutput
one_d = STATS_max
stats W using (column('sparsity') > 0 && column('wafers') == 1 ? column('tokens_per_s') : 1/0) nooutput
one_s = STATS_max
plot W using 'wafers':(column('sparsity') == 0 ? column('tokens_per_s') : 1/0) smooth unique with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'dense', \
     W using 'wafers':(column('sparsity') > 0 ? column('tokens_per_s') : 1/0) smooth unique with linespoints lw 2 pt 5 lc rgb '#d62728' title 'sparse (0.84)', \
     W using 'wafers':(column('sparsity') == 0 ? one_d * column('wafers') : 1/0) smooth unique with lines dt 2 lw 1 lc rgb '#1f77b4' title 'dense, linear', \
     W using 'wafers':(column('sparsity') > 0 ? one_s * column('wafers') : 1/0) smooth unique with lines dt 2 lw 1 lc rgb '#d62728' title 'sparse, linear', \
     W using 'wafers':(column('sparsity') == 0 ? column('tokens_per_s') / (one_d * column('wafers')) : 1/0) axes x1y2 smooth unique with linespoints dt 3 lw 2 pt 6 lc rgb '#1f77b4' title 'dense efficiency (right)', \
     W using 'wafers':(column('sparsity') > 0 ? column('tokens_per_s') / (one_s * column('wafers')) : 1/0) axes x1y2 smooth unique with linespoints dt 3 lw 2 pt 4 lc rgb '#d62728' title 'sparse efficiency (right)', \
     W using 'wafers':'tokens_per_s':'bound_by' with labels offset 0,1 font ',8' notitle
