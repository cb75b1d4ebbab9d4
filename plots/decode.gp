# Decode: time per output token and tokens/s of one sequence vs sparsity,
# each point labelled by the strategy that ran it (wafersim sweep with
# workload.phase=decode: its sweep.csv in data/decode).
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
plot data.'/decode/sweep.csv' using 'sparsity':(column('tpot_s')*1e6) with linespoints lw 2 pt 7 title 'time per token (us, left)', \
     data.'/decode/sweep.csv' using 'sparsity':'tokens_per_s_per_seq' axes x1y2 with linespoints lw 2 pt 5 title 'tokens/s per sequence (right)', \
     data.'/decode/sweep.csv' using 'sparsity':(column('tpot_s')*1e6):'strategy' with labels rotate by 45 left offset 0,0.8 font ',9' notitle
