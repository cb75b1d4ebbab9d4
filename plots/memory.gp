# Weight memory held on the wafer and the fullest PE's SRAM, per sparsity.
load 'plots/common.gp'
set output out.'/memory.'.fmt
set title 'Weight memory on the wafer and SRAM of the fullest PE vs sparsity'
set xlabel 'sparsity'
set ylabel 'weights held on the wafer (GB)'
set y2label 'SRAM of the fullest PE (KiB)'
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:50]
set key bottom left box opaque
plot data.'/sweep.csv' using 'sparsity':(column('weight_bytes')/1e9) with linespoints lw 2 pt 7 title 'weights held (GB, left)', \
     data.'/sweep.csv' using 'sparsity':(column('sram_max_bytes')/1024) axes x1y2 with linespoints lw 2 pt 5 title 'fullest PE SRAM (KiB, right)', \
     48 axes x1y2 with lines dashtype 2 lc rgb '#888888' title 'PE SRAM, 48 KiB'
