# Sensitivity of the speedup at the sweep's sparse level (0.84 in `make
# figures`) to the micro-batch size and to the per-nonzero set-up cost: two
# sweeps with --vary, two levels each (dense, sparse), so every second row
# (from the second) is a sparse point.
load 'plots/common.gp'
set output out.'/sensitivity.'.fmt
set multiplot layout 1,2 title 'Speedup over dense at 84% sparsity (GPT-3 1.3B, 512-token prefill, 750 x 994 PEs)'
set ylabel 'speedup over dense (x)'
set yrange [0:*]
set offsets graph 0.05, graph 0.05, 0, 0
set key bottom right
set title 'vs micro-batch size'
set xlabel 'tokens per micro-batch'
set logscale x 2
plot data.'/sens_batch/sweep.csv' every 2::1 using 'micro_batch':'speedup' with linespoints lt 1 title 'simulated', \
     '' every 2::1 using 'micro_batch':'flops_reduction' with lines lt 8 dashtype 2 title 'FLOPs reduction'
unset logscale x
set title 'vs per-nonzero set-up cost'
set xlabel 'kernels.sparse\_setup (cycles per nonzero)'
plot data.'/sens_setup/sweep.csv' every 2::1 using 'sparse_setup':'speedup' with linespoints lt 1 title 'simulated', \
     '' every 2::1 using 'sparse_setup':'flops_reduction' with lines lt 8 dashtype 2 title 'FLOPs reduction'
unset multiplot
