# Shell functions shared by the benchmark scripts (run.sh, e2e.sh); sourced, not run.
# Reads REPS (runs per scenario).

# median CMD...: run CMD REPS times (each prints one `bench NAME ... wall_s=W ...`
# line), print the line of the median wall_s (the lower median when REPS is even).
median() {
  runs=$(mktemp)
  i=0
  while [ "$i" -lt "$REPS" ]; do
    "$@" >>"$runs" || { rm -f "$runs"; return 1; }
    i=$((i + 1))
  done
  awk '{ for (f = 1; f <= NF; f++) if ($f ~ /^wall_s=/) { split($f, kv, "="); print kv[2], $0 } }' "$runs" |
    sort -g | awk -v m=$(((REPS + 1) / 2)) 'NR == m { $1 = ""; sub(/^ /, ""); print }'
  rm -f "$runs"
}

# field LINE KEY: the value of KEY=VALUE in LINE.
field() {
  printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'
}
