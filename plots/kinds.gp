# Cycles by op kind, stacked, per sparsity level: for each kind, the sum over
# its stages of their busiest PE's compute cycles for the whole sequence.
load 'plots/common.gp'
set output out.'/kinds.'.fmt
set title 'Compute cycles by op kind (busiest PE of each stage, summed), per sparsity'
set xlabel 'sparsity'
set ylabel 'compute cycles (millions)'
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.75
set key outside right top vertical noenhanced
set xtics rotate by -45
ncol = words(system("head -1 '".data."/kinds.csv' | tr ',' ' '"))
plot for [i=3:ncol] data.'/kinds.csv' using (column(i)/1e6):xtic(sprintf('%.3g', column(1))) title columnheader(i)
