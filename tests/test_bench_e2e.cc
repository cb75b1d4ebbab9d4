// The end-to-end benchmark's arithmetic (tests/bench/e2e.sh, loglog.awk): the
// log-log slope on synthetic power laws, and the whole script against a fake
// `wafersim` whose cost is a known function of the PEs and micro-batches (so no
// simulation runs: milliseconds).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

const std::string kBench = std::string(WS_SOURCE_DIR) + "/tests/bench/";

struct Cmd {
  int status;
  std::string out;
};

Cmd run(const std::string &cmd) {
  Cmd r{-1, ""};
  FILE *p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  r.status = pclose(p);
  return r;
}

// A scratch directory, removed at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ws-bench-e2e-XXXXXX";
    const char *d = mkdtemp(tmpl);
    path = d ? d : "";
  }
  ~TempDir() {
    if (!path.empty() && std::system(("rm -rf '" + path + "'").c_str()) != 0) std::abort();
  }
  std::string write(const std::string &name, const std::string &text) const {
    const std::string f = path + "/" + name;
    std::ofstream(f) << text;
    return f;
  }
};

// KEY=VALUE fields of one line.
std::map<std::string, std::string> fields(const std::string &line) {
  std::map<std::string, std::string> m;
  std::istringstream in(line);
  std::string w;
  while (in >> w) {
    const size_t eq = w.find('=');
    if (eq != std::string::npos) m[w.substr(0, eq)] = w.substr(eq + 1);
  }
  return m;
}

std::vector<std::string> lines_starting(const std::string &text, const std::string &prefix) {
  std::vector<std::string> v;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l))
    if (l.compare(0, prefix.size(), prefix) == 0) v.push_back(l);
  return v;
}

std::string fit(const std::string &file, const std::string &x, const std::string &y,
                const std::string &where = "") {
  const Cmd c = run("awk -f '" + kBench + "loglog.awk' -v x=" + x + " -v y=" + y +
                    " -v where='" + where + "' -v name=e2e_ '" + file + "'");
  EXPECT_EQ(c.status, 0) << c.out;
  return c.out;
}

TEST(BenchLogLog, SlopeOfAPowerLaw) {
  TempDir t;
  ASSERT_FALSE(t.path.empty());
  // y = 3 x^1.5 and z = 7 x^0.5 at four points; a line of another name and a
  // point with y = 0 (skipped) must not count.
  std::string text;
  for (double x : {10.0, 40.0, 250.0, 1e6}) {
    char l[256];
    std::snprintf(l, sizeof l, "bench e2e_p x=%.17g y=%.17g z=%.17g g=%s\n", x, 3 * std::pow(x, 1.5),
                  7 * std::sqrt(x), x < 100 ? "a" : "b");
    text += l;
  }
  text += "bench systolic-16 x=5 y=1e9 z=1 g=a\nbench e2e_zero x=7 y=0 z=0 g=a\n";
  const std::string f = t.write("lines", text);
  auto a = fields(fit(f, "x", "y"));
  EXPECT_EQ(a["points"], "4");
  EXPECT_EQ(a["slope"], "1.500");
  EXPECT_EQ(a["r2"], "1.000");
  EXPECT_EQ(fields(fit(f, "x", "z"))["slope"], "0.500");
  // Only the g=b points: still the same law.
  auto b = fields(fit(f, "x", "y", "g=b"));
  EXPECT_EQ(b["points"], "2");
  EXPECT_EQ(b["slope"], "1.500");
  EXPECT_EQ(b["where"], "g=b");
  // One point, or no spread in x: no slope.
  EXPECT_EQ(fields(fit(f, "x", "y", "x=10"))["slope"], "nan");
  // Noise lowers r2 below 1 and the slope is the least-squares one:
  // ln y = 0, ln 2, 0 at ln x = 0, 1, 2 (x = 1, e, e^2): slope 0, r2 0.
  const std::string g = t.write("noisy", "bench e2e_a x=1 y=1\nbench e2e_b x=2.718281828459045 y=2\n"
                                         "bench e2e_c x=7.38905609893065 y=1\n");
  auto c = fields(fit(g, "x", "y"));
  EXPECT_EQ(c["points"], "3");
  EXPECT_NEAR(std::atof(c["slope"].c_str()), 0.0, 1e-3);
  EXPECT_NEAR(std::atof(c["r2"].c_str()), 0.0, 1e-3);
  // ln y = 0, 0, ln 4: slope ln 4 / 2 = 0.693, r2 = 0.75.
  const std::string h = t.write("bent", "bench e2e_a x=1 y=1\nbench e2e_b x=2.718281828459045 y=1\n"
                                        "bench e2e_c x=7.38905609893065 y=4\n");
  auto d = fields(fit(h, "x", "y"));
  EXPECT_EQ(d["slope"], "0.693");
  EXPECT_EQ(d["r2"], "0.750");
}

// A stand-in for wafersim: `run ... --set fabric.width=W --set fabric.height=H
// --set workload.seq_len=S --format json` prints a run document whose totals
// are pes_used = W x H / 2, micro_batches = S / 16, events = 10 x pes x mb^2,
// sim_wall_s = 1e-6 x pes x mb x f, place_wall_s = 1e-5 x pes x f, where f
// cycles through 1.2, 1.0, 0.9 per call (so the median of 3 has f = 1), and
// peak RSS = 1000 x pes bytes. Every call appends a line to CALLS.
const char kFake[] = R"(#!/bin/sh
w= h= s=
while [ $# -gt 0 ]; do
  case $2 in fabric.width=*) w=${2#*=} ;; fabric.height=*) h=${2#*=} ;; workload.seq_len=*) s=${2#*=} ;; esac
  shift
done
echo "$w $h $s" >>"$CALLS"
n=$(wc -l <"$CALLS")
awk -v w="$w" -v h="$h" -v s="$s" -v n="$n" 'BEGIN {
  f = (n % 3 == 1) ? 1.2 : (n % 3 == 2) ? 1.0 : 0.9
  p = w * h / 2; mb = s / 16; sim = 1e-6 * p * mb * f; place = 1e-5 * p * f
  printf "{\n  \"command\": \"run\",\n  \"config\": {\"workload\": {\"micro_batch\": 16, \"seq_len\": %d}},\n", s
  printf "  \"totals\": {\n    \"pes_used\": %d,\n    \"pes_mesh\": %d,\n    \"micro_batches\": %d,\n", p, w * h, mb
  printf "    \"events\": %.0f,\n    \"wall_s\": %.9g,\n    \"place_wall_s\": %.9g,\n", 10 * p * mb * mb, sim + place, place
  printf "    \"sim_wall_s\": %.9g,\n    \"events_per_s\": %.9g,\n    \"peak_rss_bytes\": %.0f\n  }\n}\n", sim, 10 * p * mb * mb / sim, 1000 * p
}'
echo "wafersim run: simulating: 100% after 0 s" >&2
)";

TEST(BenchE2e, EachPointOnceMedianOfRepsAndTheSlopes) {
  TempDir t;
  ASSERT_FALSE(t.path.empty());
  const std::string fake = t.write("wafersim", kFake);
  const std::string calls = t.path + "/calls";
  ASSERT_EQ(chmod(fake.c_str(), 0755), 0);
  // PE axis: 3 meshes at 512 tokens (32 micro-batches); micro-batch axis: 3
  // lengths on 200x100, which is also on the PE axis at 512 tokens.
  const std::string env = "CALLS='" + calls +
                          "' BENCH_E2E=quick E2E_REPS=3 E2E_MESHES='100x50 200x100 400x200' "
                          "E2E_PE_SEQ=512 E2E_MB_MESH=200x100 E2E_SEQS='256 512 1024' ";
  const Cmd c = run(env + "sh '" + kBench + "e2e.sh' '" + fake + "' 2>/dev/null");
  ASSERT_EQ(c.status, 0) << c.out;
  // 5 distinct points, each run 3 times.
  const Cmd n = run("wc -l <'" + calls + "'");
  EXPECT_EQ(std::atoi(n.out.c_str()), 15);
  const auto points = lines_starting(c.out, "bench e2e_");
  std::vector<std::map<std::string, std::string>> pts;
  for (const auto &l : points)
    if (l.compare(0, 16, "bench e2e_slope ") != 0) pts.push_back(fields(l));
  ASSERT_EQ(pts.size(), 5u) << c.out;
  EXPECT_EQ(points[0].substr(0, 23), "bench e2e_100x50_mb32 m") << points[0];
  // The median run (f = 1): sim_wall_s = 1e-6 x 2500 x 32 = 0.080 on 100x50.
  EXPECT_EQ(pts[0]["mesh"], "100x50");
  EXPECT_EQ(pts[0]["pes"], "2500");
  EXPECT_EQ(pts[0]["pes_mesh"], "5000");
  EXPECT_EQ(pts[0]["micro_batches"], "32");
  EXPECT_EQ(pts[0]["pes_x_micro_batches"], "80000");
  EXPECT_EQ(pts[0]["sim_wall_s"], "0.080");
  EXPECT_EQ(pts[0]["place_wall_s"], "0.025");
  EXPECT_EQ(pts[0]["wall_s"], "0.105");
  EXPECT_EQ(pts[0]["events"], "25600000");
  EXPECT_EQ(pts[0]["rss_kb"], "2441");  // 2.5e6 bytes / 1024
  EXPECT_EQ(pts[0]["seq_len"], "512");
  EXPECT_EQ(pts[0]["model"], "125M");
  EXPECT_NE(pts[0].count("cpu_s"), 0u);
  EXPECT_EQ(pts[3]["mesh"], "200x100");
  EXPECT_EQ(pts[3]["micro_batches"], "16");
  EXPECT_EQ(pts[4]["micro_batches"], "64");
  // Slopes: sim wall linear in PEs x micro-batches; events linear in PEs and
  // quadratic in micro-batches; memory linear in PEs, flat in micro-batches.
  std::map<std::string, std::map<std::string, std::string>> slope;
  for (const auto &l : lines_starting(c.out, "bench e2e_slope ")) {
    auto f = fields(l);
    const size_t w = l.find(" where=");
    const std::string key = f["x"] + " " + f["y"] + (w == std::string::npos ? "" : l.substr(w, l.find(' ', w + 1) - w));
    slope[key] = f;
  }
  EXPECT_EQ(slope["pes_x_micro_batches sim_wall_s"]["slope"], "1.000");
  EXPECT_EQ(slope["pes_x_micro_batches sim_wall_s"]["points"], "5");
  EXPECT_EQ(slope["pes sim_wall_s where=micro_batches=32"]["slope"], "1.000");
  EXPECT_EQ(slope["pes sim_wall_s where=micro_batches=32"]["points"], "3");
  EXPECT_EQ(slope["micro_batches sim_wall_s where=mesh=200x100"]["slope"], "1.000");
  EXPECT_EQ(slope["micro_batches sim_wall_s where=mesh=200x100"]["points"], "3");
  EXPECT_EQ(slope["pes wall_s where=micro_batches=32"]["slope"], "1.000");
  EXPECT_EQ(slope["pes rss_kb where=micro_batches=32"]["slope"], "1.000");
  EXPECT_EQ(slope["micro_batches rss_kb where=mesh=200x100"]["slope"], "0.000");
  // wall = place + sim grows slower than linearly in micro-batches (place is fixed).
  const double wall_mb = std::atof(slope["micro_batches wall_s where=mesh=200x100"]["slope"].c_str());
  EXPECT_GT(wall_mb, 0.5);
  EXPECT_LT(wall_mb, 1.0);
  EXPECT_NE(slope.count("pes_x_micro_batches events"), 0u);
}

TEST(BenchE2e, AFailedRunStopsWithItsMessage) {
  TempDir t;
  ASSERT_FALSE(t.path.empty());
  const std::string fake =
      t.write("wafersim", "#!/bin/sh\necho 'wafersim run: place: the mesh is too small' >&2\nexit 2\n");
  ASSERT_EQ(chmod(fake.c_str(), 0755), 0);
  const Cmd c = run("BENCH_E2E=quick E2E_REPS=1 sh '" + kBench + "e2e.sh' '" + fake + "' 2>&1");
  EXPECT_NE(c.status, 0);
  EXPECT_NE(c.out.find("bench e2e: wafersim run of 125M on 250x167 at seq_len 256 failed:"), std::string::npos)
      << c.out;
  EXPECT_NE(c.out.find("the mesh is too small"), std::string::npos) << c.out;
  EXPECT_EQ(c.out.find("e2e_slope"), std::string::npos) << c.out;
}

}  // namespace
