#!/bin/sh
# make bench: every scenario REPS times (default 3) in its own process, the
# median run by wall time reported. Sections (BENCH_SECTIONS, default all three,
# in this order):
#   engine  the queue, PHOLD, the systolic mesh, then the systolic mesh against
#           the SimGrid version of it
#   masks   building GPT-3 1.3B's masks
#   e2e     `wafersim run` end to end against PEs and micro-batches
#           (tests/bench/e2e.sh; BENCH_E2E=quick for a small model)
# Progress goes to stderr; the summary to stdout:
#   bench NAME events=E wall_s=W events_per_s=R rss_kb=M ...
#   vs_simgrid NAME ratio=X sim_time_match=yes|no ...
#   bench e2e_... and bench e2e_slope ... (see e2e.sh)
# (ratio = SimGrid wall / wafersim wall; times match when they differ by at
# most 1e-6 cycles, see systolic_simgrid.c).
#   tests/bench/run.sh BENCH SYSTOLIC_SIMGRID WAFERSIM
set -eu
if [ $# -ne 3 ]; then
  echo "usage: tests/bench/run.sh BENCH SYSTOLIC_SIMGRID WAFERSIM" >&2
  exit 2
fi
BENCH=$1
SIMGRID=$2
WAFERSIM=$3
HERE=$(dirname "$0")
REPS=${REPS:-3}
. "$HERE/lib.sh"
SECTIONS=${BENCH_SECTIONS:-engine masks e2e}
for s in $SECTIONS; do
  case $s in
  engine | masks | e2e) ;;
  *) echo "tests/bench/run.sh: BENCH_SECTIONS: unknown section '$s' (expected engine, masks, e2e)" >&2; exit 2 ;;
  esac
done
want() { case " $SECTIONS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
OUT=$(mktemp)
trap 'rm -f "$OUT" "$OUT.pairs"' EXIT
: >"$OUT.pairs"

if want engine; then
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
fi
if want masks; then
  for p in bernoulli magnitude nm block; do
    for t in 1 2; do
      echo "bench: masks $p ($t threads)" >&2
      median "$BENCH" masks "$t" "$p" 0.75 >>"$OUT"
    done
  done
fi
if want e2e; then
  "$HERE/e2e.sh" "$WAFERSIM" >>"$OUT"
fi
cat "$OUT" "$OUT.pairs"
