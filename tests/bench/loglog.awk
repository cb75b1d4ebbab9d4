# Least-squares slope of ln(y) against ln(x) over `bench` lines of KEY=VALUE
# fields (tests/bench/e2e.sh): y ~ c * x^slope, so slope 1 is linear growth,
# below 1 slower, above 1 faster. Variables (awk -v):
#   x, y   the keys of the two fields, e.g. x=pes_x_micro_batches y=sim_wall_s
#   where  optional KEY=VALUE: only lines whose field KEY equals VALUE
#   name   optional: only lines whose NAME (the second word) starts with it
# Lines without both keys, or with a value <= 0, are skipped. Prints one line:
#   bench e2e_slope x=X y=Y [where=K=V] points=N slope=S r2=R
# slope=nan when fewer than 2 points or all x equal (no spread to fit).
BEGIN {
  if (x == "" || y == "") { print "loglog.awk: set -v x=KEY -v y=KEY" > "/dev/stderr"; exit 2 }
  if (where != "") { wk = where; sub(/=.*/, "", wk); wv = substr(where, length(wk) + 2) }
}
$1 == "bench" && (name == "" || index($2, name) == 1) {
  xs = ""; ys = ""; ok = (where == "")
  for (f = 3; f <= NF; f++) {
    eq = index($f, "="); if (!eq) continue
    k = substr($f, 1, eq - 1); v = substr($f, eq + 1)
    if (k == x) xs = v
    if (k == y) ys = v
    if (where != "" && k == wk && v == wv) ok = 1
  }
  if (!ok || xs == "" || ys == "" || xs + 0 <= 0 || ys + 0 <= 0) next
  lx = log(xs + 0); ly = log(ys + 0)
  n++; sx += lx; sy += ly; sxx += lx * lx; sxy += lx * ly; syy += ly * ly
}
END {
  if (x == "" || y == "") exit 2
  sel = where != "" ? " where=" where : ""
  dxx = sxx - sx * sx / (n ? n : 1); dxy = sxy - sx * sy / (n ? n : 1); dyy = syy - sy * sy / (n ? n : 1)
  if (n < 2 || dxx <= 1e-12) { printf "bench e2e_slope x=%s y=%s%s points=%d slope=nan r2=nan\n", x, y, sel, n; exit }
  s = dxy / dxx
  if (s > -5e-4 && s < 5e-4) s = 0  # no "-0.000"
  r2 = dyy > 1e-12 ? dxy * dxy / (dxx * dyy) : 1
  printf "bench e2e_slope x=%s y=%s%s points=%d slope=%.3f r2=%.3f\n", x, y, sel, n, s, r2
}
