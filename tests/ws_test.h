// Helpers shared by the suites: run a wafersim command in-process and
// capture its output, and locate the repository's files.
#ifndef WAFERSIM_TESTS_WS_TEST_H
#define WAFERSIM_TESTS_WS_TEST_H

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <unistd.h>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fabric/collective.h"
#include "fabric/fabric.h"
#include "sim/cli.h"
#include "sim/config.h"
#include "workloads/mask.h"
#include "sim/place.h"
#include "sim/run.h"
#include "sim/engine/engine.h"
#include "kernels/pipeline.h"

namespace wstest {

// A path inside the source tree (WS_SOURCE_DIR is set by the Makefile).
inline std::string source_path(const std::string &rel) { return std::string(WS_SOURCE_DIR) + "/" + rel; }

// The binary of this build (a sanitizer build keeps it in its build directory), "" if none.
inline std::string binary() {
  for (const std::string &p : {std::string(WS_BUILD_DIR) + "/wafersim", std::string(WS_SOURCE_DIR) + "/wafersim"})
    if (access(p.c_str(), X_OK) == 0) return p;
  return "";
}

struct CliResult {
  int status;
  std::string out, err;
};

// Runs `wafersim ARGS...` through ws_cli_main, capturing stdout and stderr.
inline CliResult run_cli(const std::vector<std::string> &args) {
  std::vector<std::string> storage = {"wafersim"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char *> argv;
  for (auto &s : storage) argv.push_back(&s[0]);
  argv.push_back(nullptr);
  char *obuf = nullptr, *ebuf = nullptr;
  size_t olen = 0, elen = 0;
  FILE *out = open_memstream(&obuf, &olen);
  FILE *err = open_memstream(&ebuf, &elen);
  if (!out || !err) std::abort();
  int status = ws_cli_main((int)storage.size(), argv.data(), out, err);
  std::fclose(out);
  std::fclose(err);
  CliResult r{status, std::string(obuf, olen), std::string(ebuf, elen)};
  std::free(obuf);
  std::free(ebuf);
  return r;
}

// The embedded default with sim.strategy: pipeline (the strategy most suites
// test; the default is auto), then a YAML text, then --set assignments, then
// the cross-key checks; every step is expected to succeed.
inline ws_config config(const std::vector<std::string> &sets, const std::string &yaml = "") {
  ws_config c;
  char err[WS_CONFIG_ERR_MAX];
  EXPECT_EQ(ws_config_init_default(&c, err, sizeof err), 0) << err;
  EXPECT_EQ(ws_config_set(&c, "sim.strategy=pipeline", err, sizeof err), 0) << err;
  if (!yaml.empty()) {
    EXPECT_EQ(ws_config_load_string(&c, yaml.data(), yaml.size(), "t.yaml", err, sizeof err), 0) << err;
  }
  for (const auto &s : sets) EXPECT_EQ(ws_config_set(&c, s.c_str(), err, sizeof err), 0) << err;
  EXPECT_EQ(ws_config_finish(&c, err, sizeof err), 0) << err;
  return c;
}

// The CS-2 fabric preset's timing (1-cycle hops and ramps, 4-deep queues,
// 24 colors) on a small mesh.
inline fab_config fabric_config(fab_fidelity fid, uint32_t w = 16, uint32_t h = 16) {
  fab_config c{};
  c.width = w;
  c.height = h;
  c.colors = 24;
  c.hop_latency = 1;
  c.ramp_latency = 1;
  c.queue_depth = 4;
  c.add_latency = 1;
  c.consume_cycles = 1;
  c.fidelity = fid;
  return c;
}

// A fabric on its own engine, and the calls its suites make on it.
struct Mesh {
  sim_engine *e = nullptr;
  fab_fabric *f = nullptr;
  char err[512] = "";
  explicit Mesh(fab_config c) {
    e = sim_engine_create(nullptr, err, sizeof err);
    f = fab_create(e, &c, err, sizeof err);
    EXPECT_NE(f, nullptr) << err;
  }
  ~Mesh() {
    fab_destroy(f);
    sim_engine_destroy(e);
  }
  fab_pe at(uint32_t x, uint32_t y) const { return fab_at(fab_config_of(f)->width, x, y); }
  uint32_t path(fab_pe a, fab_pe b) {
    uint32_t r = 0;
    EXPECT_EQ(fab_route_path(f, a, b, &r, err, sizeof err), 0) << err;
    return r;
  }
  uint32_t rect(fab_pe a, fab_rect q) {
    uint32_t r = 0;
    EXPECT_EQ(fab_route_rect(f, a, q, &r, err, sizeof err), 0) << err;
    return r;
  }
  // One round of n wavelets over plan c (which it frees); the members' transfers.
  std::vector<fab_xfer> round(fab_coll *c, uint32_t n, uint64_t ready = 0) {
    EXPECT_NE(c, nullptr) << err;
    std::vector<fab_xfer> x(c ? fab_coll_members(c) : 0);
    fab_round r{};
    r.n = n;
    r.ready = ready;
    if (c) {
      EXPECT_EQ(fab_coll_round(f, c, &r, x.data(), err, sizeof err), 0) << err;
    }
    fab_coll_destroy(c);
    return x;
  }
  fab_xfer send(uint32_t route, uint32_t n, uint64_t ready = 0) {
    fab_xfer x = 0;
    EXPECT_EQ(fab_send(f, route, n, ready, &x, err, sizeof err), 0) << err;
    return x;
  }
  // Runs to the end; returns the pattern's cycles: last activity + 1.
  uint64_t run() {
    EXPECT_EQ(sim_engine_run(e), 0) << sim_engine_error(e);
    EXPECT_EQ(fab_check_finished(f, err, sizeof err), 0) << err;
    return fab_stats_get(f).last_cycle + 1;
  }
};

// Writes text to a fresh file under the build's temporary directory; returns its path.
inline std::string write_temp(const std::string &name, const std::string &text) {
  std::string path = std::string(::testing::TempDir()) + name;
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  return path;
}

// A path under the build's temporary directory, unique to this process (not created).
inline std::string temp_dir(const std::string &name) {
  return std::string(::testing::TempDir()) + name + "." + std::to_string((long)getpid());
}

// A whole file's text, or "" when it cannot be read.
inline std::string read_file(const std::string &path) {
  std::string text;
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) return text;
  char buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  return text;
}

// The placed pipeline of a configuration, simulated with its per-PE state
// kept (ws_run keeps only its reports): what the MAC count reads.
struct Simulated {
  ws_placement *place = nullptr;
  sim_engine *e = nullptr;
  fab_fabric *f = nullptr;
  krn_pipe *p = nullptr;
  std::vector<krn_stage> stages;
  ~Simulated() {
    krn_pipe_destroy(p);
    fab_destroy(f);
    sim_engine_destroy(e);
    ws_placement_destroy(place);
  }
};

// s.stages simulated on fc and m for `run` (the handles into s), which must succeed.
inline bool simulate_stages(const fab_config &fc, const krn_machine &m, const krn_run &run, Simulated &s) {
  char err[1024] = "";
  s.e = sim_engine_create(nullptr, err, sizeof err);
  s.f = s.e ? fab_create(s.e, &fc, err, sizeof err) : nullptr;
  s.p = s.f ? krn_pipe_create(s.e, s.f, &m, s.stages.data(), (uint32_t)s.stages.size(), &run, err, sizeof err)
            : nullptr;
  EXPECT_NE(s.p, nullptr) << err;
  if (!s.p) return false;
  EXPECT_EQ(sim_engine_run(s.e), 0) << sim_engine_error(s.e);
  EXPECT_EQ(krn_pipe_check(s.p, err, sizeof err), 0) << err;
  return true;
}

inline bool simulate_placed(const ws_config &c, Simulated &s) {
  char err[1024] = "";
  s.place = ws_place(&c, err, sizeof err);
  EXPECT_NE(s.place, nullptr) << err;
  if (!s.place) return false;
  for (uint32_t i = 0; i < ws_placement_count(s.place); i++) s.stages.push_back(ws_placement_stage(s.place, i)->stage);
  fab_config fc;
  krn_machine m;
  ws_config_fabric(&c, &fc);
  ws_config_machine(&c, &m);
  const uint32_t b = (uint32_t)c.workload.micro_batch, seq = (uint32_t)c.workload.seq_len;
  const krn_run run = {b, seq / b, seq, false, nullptr, nullptr, 0, 0};
  return simulate_stages(fc, m, run, s);
}

// A GEMM stage on region r: W is k x n (kept where mask says, all without
// one), the input from the host, no weights or bias values.
inline krn_stage gemm_stage(const char *name, fab_rect r, uint32_t k, uint32_t n, krn_kernel kernel,
                            const wl_mask *mask = nullptr) {
  krn_stage s{};
  s.kind = KRN_STAGE_GEMM;
  s.name = name;
  s.region = r;
  s.in[0] = s.in[1] = s.in[2] = -1;
  s.k = k;
  s.n = n;
  s.kernel = kernel;
  s.mask = mask;
  return s;
}

// One attention stage of `heads` heads over n features on region r, fed by
// three dense GEMMs of k = 4 (the host's input; 8 PEs a row from x = 0, so
// r starts at x 26 or beyond) standing in for q, k and v: attention alone,
// its inputs fast. Simulated on fc (its fidelity) for `mbs` micro-batches
// of b tokens of one sequence; the handles in s (stages: the three feeders,
// then the attention, index 3).
inline bool simulate_fed_attention(const fab_config &fc, const krn_machine &m, fab_rect r, uint32_t n,
                                   uint32_t heads, uint32_t b, uint32_t mbs, Simulated &s) {
  for (uint32_t i = 0; i < 3; i++) s.stages.push_back(gemm_stage("feeder", {i * 8, 0, 8, 1}, 4, n, KRN_DENSE));
  krn_stage a{};
  a.kind = KRN_STAGE_ATTENTION;
  a.name = "attention";
  a.region = r;
  a.n = n;
  a.heads = heads;
  for (uint32_t i = 0; i < KRN_MAX_INPUTS; i++) a.in[i] = (int)i;
  s.stages.push_back(a);
  return simulate_stages(fc, m, {b, mbs, b * mbs, false, nullptr, nullptr, 0, 0}, s);
}

// A run, freed with its handle.
using RunPtr = std::unique_ptr<ws_run, void (*)(ws_run *)>;

// c simulated end to end (ws_run_simulate), which must succeed.
inline RunPtr simulate(const ws_config &c) {
  char err[WS_CONFIG_ERR_MAX] = "";
  RunPtr r(ws_run_simulate(&c, nullptr, nullptr, err, sizeof err), ws_run_destroy);
  EXPECT_TRUE(r) << err;
  return r;
}

// tiny-dense's model and mesh: two decoder layers (d 128, 4 heads of 32,
// d_ff 512, vocab 256), 128 tokens in micro-batches of 16, on 64 x 64 PEs.
inline const std::vector<std::string> kTinyModel = {
    "fabric.width=64",    "fabric.height=64",    "model.preset=custom", "model.layers=2",
    "model.d_model=128",  "model.heads=4",       "model.d_ff=512",      "model.vocab=256",
    "model.context=128",  "workload.seq_len=128", "workload.micro_batch=16", "sim.strategy=pipeline"};

// kTinyModel's sets, then more.
inline std::vector<std::string> tiny(const std::vector<std::string> &more = {}) {
  std::vector<std::string> s = kTinyModel;
  s.insert(s.end(), more.begin(), more.end());
  return s;
}

// Cut point i of n in `parts`: the stage's own, or even (as the pipeline cuts).
inline uint32_t cut_at(const uint32_t *given, uint32_t n, uint32_t parts, uint32_t i) {
  return given ? given[i] : (uint32_t)((uint64_t)i * n / parts);
}

// Kept weights of a tile, counted element by element from the mask (not
// with wl_mask_count, which the pipeline uses); every weight without one.
inline uint64_t kept(const wl_mask *mask, uint32_t k0, uint32_t k1, uint32_t n0, uint32_t n1) {
  if (!mask) return (uint64_t)(k1 - k0) * (n1 - n0);
  uint64_t n = 0;
  for (uint32_t k = k0; k < k1; k++)
    for (uint32_t c = n0; c < n1; c++) n += wl_mask_get(mask, k, c);
  return n;
}

// Logits and other matrices in double, row-major; the largest magnitude,
// and the largest difference from another's values.
using Mat = std::vector<double>;
inline double max_abs(const Mat &a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::fabs(v));
  return m;
}
template <typename T>
double max_diff(const Mat &a, const T *b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); i++) m = std::max(m, std::fabs(a[i] - (double)b[i]));
  return m;
}

// Causal softmax attention of S tokens, H heads of dh features each (rows of
// H x dh), in double: the two reference forward passes' (test_functional.cc,
// test_llama.cc; a Llama's keys and values repeated to every query head first).
inline Mat causal_attention(const Mat &q, const Mat &k, const Mat &v, uint32_t S, uint32_t H, uint32_t dh) {
  const size_t d = (size_t)H * dh;
  Mat a((size_t)S * d, 0.0);
  for (uint32_t hd = 0; hd < H; hd++)
    for (uint32_t t = 0; t < S; t++) {
      std::vector<double> p(t + 1);
      double mx = -INFINITY, sum = 0;
      for (uint32_t u = 0; u <= t; u++) {
        double s = 0;
        for (uint32_t e = 0; e < dh; e++) s += q[t * d + hd * dh + e] * k[u * d + hd * dh + e];
        mx = std::max(mx, p[u] = s / std::sqrt((double)dh));
      }
      for (uint32_t u = 0; u <= t; u++) sum += (p[u] = std::exp(p[u] - mx));
      for (uint32_t u = 0; u <= t; u++)
        for (uint32_t e = 0; e < dh; e++) a[t * d + hd * dh + e] += p[u] / sum * v[u * d + hd * dh + e];
    }
  return a;
}

}  // namespace wstest

#endif
