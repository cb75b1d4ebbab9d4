# Training by weight streaming vs sparsity (wafersim sweep with
# workload.phase=train and sim.strategy=stream: data/train/sweep.csv): the
# step's time and each resource's busy time alone (the wafer's compute, the
# weights streamed in, the gradients out, the store), and tokens/s on the
# right axis. The step is never below the largest of them; where the stream
# is the largest, sparsity pays by the bytes it saves.
load 'plots/common.gp'
set output out.'/train.'.fmt
set title 'GPT-3 1.3B training step, weight streaming: time by resource vs sparsity'
set xlabel 'sparsity of the projection and feed-forward weights (fraction of zeros)'
set ylabel 'seconds per step'
set y2label 'tokens/s'
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
set xrange [0:1]
set key top right box opaque
T = data.'/train/sweep.csv'
plot T using 'sparsity':'step_s' with linespoints lw 3 pt 7 lc rgb '#000000' title 'step', \
     T using 'sparsity':'compute_s' with linespoints lw 2 pt 5 lc rgb '#1f77b4' title 'wafer compute', \
     T using 'sparsity':'stream_s' with linespoints lw 2 pt 9 lc rgb '#d62728' title 'weights in (stream alone)', \
     T using 'sparsity':'grad_s' with linespoints lw 2 pt 11 lc rgb '#ff7f0e' title 'gradients out (alone)', \
     T using 'sparsity':'store_s' with linespoints lw 2 pt 13 lc rgb '#2ca02c' title 'store (alone)', \
     T using 'sparsity':'tokens_per_s' axes x1y2 with linespoints lw 2 dt 2 pt 6 lc rgb '#7f7f7f' title 'tokens/s (right)'
