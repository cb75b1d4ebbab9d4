#!/bin/sh
# make bench: every scenario (engine; building masks) REPS times (default 3) in its own process,
# the median run by wall time reported; then the systolic mesh against the
# SimGrid version of it. Progress goes to stderr; the summary to stdout:
#   bench NAME events=E wall_s=W events_per_s=R rss_kb=M ...
#   vs_simgrid NAME ratio=X sim_time_match=yes|no ...
# (ratio = SimGrid wall / wafersim wall; times match when they differ by at
# most 1e-6 cycles, see systolic_simgrid.c).
set -eu
BENCH=$1
SIMGRID=$2
REPS=${REPS:-3}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

# median NAME CMD...: run CMD REPS times, print the line of the median wall_s.
median() {
  runs=$(mktemp)
  i=0
  while [ "$i" -lt "$REPS" ]; do
    "$@" >>"$runs"
    i=$((i + 1))
  done
  awk '{ for (f = 1; f <= NF; f++) if ($f ~ /^wall_s=/) { split($f, kv, "="); print kv[2], $0 } }' "$runs" |
    sort -g | awk -v m=$(((REPS + 1) / 2)) 'NR == m { $1 = ""; sub(/^ /, ""); print }'
  rm -f "$runs"
}

field() { # field LINE KEY
  printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'
}

for n in 1024 65536 1048576; do
  for q in wheel heap; do
    echo "bench: queue $n ($q)" >&2
    median "$BENCH" queue "$n" --queue "$q" >>"$OUT"
    echo "bench: phold $n ($q)" >&2
    median "$BENCH" phold "$n" --queue "$q" >>"$OUT"
  done
done
for n in 16 64 128 256; do
  echo "bench: systolic $n" >&2
  median "$BENCH" systolic "$n" >>"$OUT"
done
for p in bernoulli magnitude nm block; do
  for t in 1 2; do
    echo "bench: masks $p ($t threads)" >&2
    median "$BENCH" masks "$t" "$p" 0.75 >>"$OUT"
  done
done
for n in 16 64 128; do
  echo "bench: simgrid systolic $n" >&2
  sg=$(median "$SIMGRID" "$n")
  printf '%s\n' "$sg" >>"$OUT"
  ws=$(grep "^bench systolic-$n " "$OUT")
  awk -v name="systolic-$n" \
    -v sw="$(field "$sg" wall_s)" -v ww="$(field "$ws" wall_s)" \
    -v sr="$(field "$sg" rss_kb)" -v wr="$(field "$ws" rss_kb)" \
    -v se="$(field "$sg" sim_end)" -v we="$(field "$ws" sim_end)" 'BEGIN {
      d = se - we; if (d < 0) d = -d
      printf "vs_simgrid %s ratio=%.1f sim_time_match=%s simgrid_end=%s wafersim_end=%s rss_ratio=%.1f\n",
        name, sw / ww, d <= 1e-6 ? "yes" : "no", se, we, sr / wr }' >>"$OUT.pairs"
done
cat "$OUT" "$OUT.pairs"
rm -f "$OUT.pairs"
