#!/bin/sh
# make bench-e2e (and the e2e section of make bench): how the cost of the whole
# job, `wafersim run`, grows with the PEs simulated and with the micro-batches.
#   tests/bench/e2e.sh WAFERSIM
# Two axes, each point its own process, REPS times (E2E_REPS overrides), the
# run of median wall_s reported:
#   PEs:           the model on meshes E2E_MESHES at seq_len E2E_PE_SEQ
#   micro-batches: the model on E2E_MB_MESH at seq_len E2E_SEQS (micro-batches
#                  = seq_len / micro_batch; same micro-batch size, so the same
#                  work per micro-batch and only their number changes)
# A point on both axes runs once. BENCH_E2E=full (default) is GPT-3 1.3B at 84 %
# sparsity: 1/3, 1/2 and the whole 750 x 994 wafer (1/4 does not place, see
# README) at 2048 tokens, and 32, 64, 128 micro-batches on the whole wafer;
# minutes per point. BENCH_E2E=quick is GPT-3 125M on 250x167, 300x200 and
# 433x289 (the same 1/3 : 1/2 : 1 ratios; 125M places on nothing smaller than
# about 250 x 167) at 256 tokens, and 8, 16, 32 micro-batches on 250 x 167;
# seconds per point. E2E_MODEL, E2E_SPARSITY, E2E_MICRO_BATCH override the rest.
# Prints, after progress on stderr:
#   bench e2e_MESH_mbN model=M mesh=WxH seq_len=S pes=P pes_mesh=Q micro_batches=N
#     pes_x_micro_batches=P*N events=E wall_s=W sim_wall_s=S place_wall_s=L
#     cpu_s=C rss_kb=K events_per_s=R
#   bench e2e_slope x=X y=Y [where=K=V] points=N slope=S r2=R   (tests/bench/loglog.awk)
# pes is pes_used (the PEs the placement gives work), wall_s the whole run
# (parse, place, simulate), rss_kb the peak resident set; all from the run's
# own totals (`wafersim run --format json`), but cpu_s: the run's user + system
# CPU time, measured here, steadier than wall time when the machine is shared.
set -eu
if [ $# -ne 1 ]; then
  echo "usage: tests/bench/e2e.sh WAFERSIM" >&2
  exit 2
fi
WAFERSIM=$1
HERE=$(dirname "$0")
. "$HERE/lib.sh"
REPS=${E2E_REPS:-${REPS:-3}}

case ${BENCH_E2E:-full} in
full)
  model=1.3B meshes="433x574 530x703 750x994" pe_seq=2048 mb_mesh=750x994 seqs="512 1024 2048" ;;
quick)
  model=125M meshes="250x167 300x200 433x289" pe_seq=256 mb_mesh=250x167 seqs="128 256 512" ;;
*)
  echo "tests/bench/e2e.sh: BENCH_E2E=${BENCH_E2E}: expected full or quick" >&2
  exit 2 ;;
esac
model=${E2E_MODEL:-$model}
meshes=${E2E_MESHES:-$meshes}
pe_seq=${E2E_PE_SEQ:-$pe_seq}
mb_mesh=${E2E_MB_MESH:-$mb_mesh}
seqs=${E2E_SEQS:-$seqs}
sparsity=${E2E_SPARSITY:-0.84}
mb=${E2E_MICRO_BATCH:-16}

OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

# point MESH SEQ_LEN: one `wafersim run`, its bench line on stdout.
point() {
  w=${1%x*}
  h=${1#*x}
  json=$(mktemp)
  err=$(mktemp)
  cpu=$(mktemp)
  # In a subshell, `times` prints the CPU time of its children (the run alone):
  # line 2, user then system, as 1m2.5s.
  if ! ("$WAFERSIM" run --model "$model" --set "workload.sparsity=$sparsity" \
    --set "workload.micro_batch=$mb" --set "workload.seq_len=$2" \
    --set "fabric.width=$w" --set "fabric.height=$h" --format json >"$json" 2>"$err" && times >"$cpu"); then
    echo "bench e2e: wafersim run of $model on $1 at seq_len $2 failed:" >&2
    grep -v 'simulating:' "$err" >&2 || true
    rm -f "$json" "$err" "$cpu"
    return 1
  fi
  cpu_s=$(awk 'NR == 2 { t = 0; for (f = 1; f <= 2; f++) { split($f, ms, "m"); t += 60 * ms[1] + ms[2] } printf "%.3f", t }' "$cpu")
  # The run's totals: each key's first occurrence (they are unique in a run document).
  grep -o '"\(pes_used\|pes_mesh\|micro_batches\|events\|wall_s\|sim_wall_s\|place_wall_s\|events_per_s\|peak_rss_bytes\)": *[^,}]*' \
    "$json" | tr -d '" ' |
    awk -F: -v model="$model" -v mesh="$1" -v seq="$2" -v cpu="$cpu_s" '
      !($1 in v) { v[$1] = $2 }
      END {
        printf "bench e2e_%s_mb%d model=%s mesh=%s seq_len=%d pes=%d pes_mesh=%d micro_batches=%d", \
          mesh, v["micro_batches"], model, mesh, seq, v["pes_used"], v["pes_mesh"], v["micro_batches"]
        printf " pes_x_micro_batches=%.0f events=%.0f wall_s=%.3f sim_wall_s=%.3f place_wall_s=%.3f", \
          v["pes_used"] * v["micro_batches"], v["events"], v["wall_s"], v["sim_wall_s"], v["place_wall_s"]
        printf " cpu_s=%s rss_kb=%.0f events_per_s=%.0f\n", cpu, v["peak_rss_bytes"] / 1024, v["events_per_s"]
      }'
  rm -f "$json" "$err" "$cpu"
}

done_points=" "
run_point() { # run_point MESH SEQ_LEN, once per distinct point
  case $done_points in *" $1:$2 "*) return 0 ;; esac
  done_points="$done_points$1:$2 "
  echo "bench: e2e $model on $1, seq_len $2 ($REPS runs)" >&2
  line=$(median point "$1" "$2")
  [ -n "$line" ] || exit 1
  printf '%s\n' "$line" >>"$OUT"
}

for m in $meshes; do run_point "$m" "$pe_seq"; done
for s in $seqs; do run_point "$mb_mesh" "$s"; done

fit() { # fit X Y [KEY=VALUE]
  awk -f "$HERE/loglog.awk" -v x="$1" -v y="$2" -v where="${3:-}" -v name=e2e_ "$OUT"
}
cat "$OUT"
for y in sim_wall_s wall_s cpu_s events rss_kb; do fit pes_x_micro_batches "$y"; done
for y in sim_wall_s wall_s cpu_s rss_kb; do fit pes "$y" "micro_batches=$((pe_seq / mb))"; done
for y in sim_wall_s wall_s cpu_s rss_kb; do fit micro_batches "$y" "mesh=$mb_mesh"; done
