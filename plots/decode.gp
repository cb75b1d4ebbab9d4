# Decode: time per output token and tokens/s of one sequence vs sparsity,
# on both strategies (wafersim sweep with workload.phase=decode and
# sim.strategy layerwise, then pipeline: their sweep.csv in data/decode and
# data/decode_pipeline).
load 'plots/common.gp'
set output out.'/decode.'.fmt
set title 'Decode: time per output token and tokens/s per sequence vs sparsity'
set xlabel 'sparsity'
set ylabel 'time per output token (us)'
set y2label 'tokens/s per sequence'
set y2tics
set ytics nomirror
set yrange [0:*]
set offsets 0, 0, graph 0.15, 0
set y2range [0:*]
set key bottom left box opaque
L = data.'/decode/sweep.csv'
P = data.'/decode_pipeline/sweep.csv'
plot L using 'sparsity':(column('tpot_s')*1e6) with linespoints lw 2 pt 7 lt 1 title 'layerwise: time per token (us, left)', \
     P using 'sparsity':(column('tpot_s')*1e6) with linespoints lw 2 pt 7 lt 2 title 'pipeline: time per token (us, left)', \
     L using 'sparsity':'tokens_per_s_per_seq' axes x1y2 with linespoints lw 2 pt 5 dt 2 lt 1 title 'layerwise: tokens/s (right)', \
     P using 'sparsity':'tokens_per_s_per_seq' axes x1y2 with linespoints lw 2 pt 5 dt 2 lt 2 title 'pipeline: tokens/s (right)'
