# Speedup vs sparsity: the simulated run (dense cycles / cycles, each point
# by the strategy the sweep ran: auto's choice), the FLOPs reduction (dense /
# executed FLOPs) and the ideal 1/(1-s); on the right axis, bound_fraction:
# the wafer's limit over the simulated cycles (output schema 5). Each
# simulated point is labelled with its strategy (output schema 8) and, for
# the pipeline, what stops the placer's interval lower (limit: pes, tile,
# width, sram or colors) and the PEs it used (output schema 6), for the
# layer-by-layer run its copies of the weights.
load 'plots/common.gp'
set output out.'/speedup.'.fmt
set title 'GPT-3 1.3B prefill on the wafer: speedup from unstructured weight sparsity'
set xlabel 'sparsity of the projection and feed-forward weights (fraction of zeros)'
set ylabel 'speedup over dense (x)'
set logscale y 2
set xrange [0:1]
set yrange [0.5:25]
set y2label 'share of the wafer''s limit (bound cycles / cycles)'
set y2range [0:1]
set y2tics 0.1
set label 1 'red labels: the strategy; pipeline: what stops the placer''s interval lower, PEs used; layerwise: copies' at graph 0.99, graph 0.03 right font ',9' tc rgb '#d62728'
plot 1/(1-x) with lines dashtype 2 lw 2 lc rgb '#888888' title 'ideal 1/(1-s) (every FLOP sparsifiable)', \
     data.'/sweep.csv' using 'sparsity':'flops_reduction' with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'FLOPs reduction (dense / executed)', \
     data.'/sweep.csv' using 'sparsity':'speedup' with linespoints lw 2 pt 5 lc rgb '#d62728' title 'simulated speedup (dense cycles / cycles)', \
     data.'/sweep.csv' using 'sparsity':'speedup':(stringcolumn('strategy') eq 'pipeline' ? \
       sprintf('pipeline: %s, %.0fk PEs', stringcolumn('limit'), column('pes_used') / 1000) : \
       sprintf('%s, %d copies', stringcolumn('strategy'), column('replicas'))) \
       with labels rotate by 60 left offset 0.3,0.6 font ',8' tc rgb '#d62728' notitle, \
     data.'/sweep.csv' using 'sparsity':'bound_fraction' axes x1y2 with linespoints lw 2 dashtype 3 pt 9 lc rgb '#2ca02c' title 'bound fraction (right axis)'
