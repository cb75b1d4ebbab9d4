// Functional mode end to end (issue 16): `wafersim run --set
// sim.functional=true` places a tiny GPT with the real placer, carries real
// values over the fabric, and its logits match a reference forward pass
// written HERE from the model's definition (GPT-2/3: token + position
// embedding; per layer layernorm, Q/K/V projections under their masks,
// causal softmax attention per head, output projection, residual add,
// layernorm, FFN up, GELU, FFN down, residual add; final layernorm; LM head
// tied to the token table, no bias), wired by hand: it reads neither the
// lowering's stages nor the graph's producer indices, so a wrong connection
// there cannot be copied into it. Values come from the functional mode's
// seeded generator (workloads/values.h) by op name, masks from the same
// sparsity spec. Also: the tolerance is tight enough (a deliberately wrong
// wiring of the reference moves the logits by far more), and a model too
// large for real values is refused up front.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "models/graph.h"
#include "sim/config.h"
#include "sim/functional.h"
#include "sim/run.h"
#include "workloads/values.h"
#include "workloads/weights.h"
#include "ws_test.h"

namespace {

// Two decoder layers, d_model 64, 4 heads, d_ff 256, a 64-word vocabulary,
// 64 tokens in micro-batches of 16, on 64 x 64 PEs.
std::vector<std::string> tiny(std::vector<std::string> more) {
  std::vector<std::string> s = {"fabric.width=64",   "fabric.height=64",   "model.preset=custom",
                                "model.layers=2",    "model.d_model=64",   "model.heads=4",
                                "model.d_ff=256",    "model.vocab=64",     "model.context=64",
                                "workload.seq_len=64", "workload.micro_batch=16", "sim.functional=true"};
  s.insert(s.end(), more.begin(), more.end());
  return s;
}

// Deliberate wrong wirings of the reference, to show the tolerance catches them.
enum class Fault { kNone, kSwapQK, kSkipFromNorm, kNoGelu, kNoPositions };

using wstest::Mat;  // rows x cols, row-major

std::vector<float> values(const ws_config &c, const std::string &op, wl_values_role role, uint32_t rows, uint32_t cols) {
  std::vector<float> v((size_t)rows * cols);
  wl_values_fill((uint64_t)c.sim.seed, op.c_str(), role, rows, cols, v.data());
  return v;
}

// The masks of the configuration's sparsity spec, by op name.
struct Masks {
  mdl_graph *g = nullptr;
  wl_weights *w = nullptr;
  explicit Masks(const ws_config &c) {
    char err[512];
    g = mdl_graph_build(&c.model, c.workload.seq_len, err, sizeof err);
    EXPECT_NE(g, nullptr) << err;
    wl_sparsity sp;
    ws_config_sparsity(&c, &sp);
    const wl_spec spec = ws_config_spec(&c, &sp);
    w = wl_weights_build(g, &spec, err, sizeof err);
    EXPECT_NE(w, nullptr) << err;
  }
  ~Masks() {
    wl_weights_destroy(w);
    mdl_graph_destroy(g);
  }
  const wl_mask *of(const std::string &op) const {
    const int i = mdl_graph_find(g, op.c_str());
    EXPECT_GE(i, 0) << op;
    return wl_weights_mask(w, (size_t)i);
  }
};

// The independent reference: logits [S x V] in double.
Mat reference(const ws_config &c, Fault fault = Fault::kNone) {
  const uint32_t S = (uint32_t)c.workload.seq_len, d = (uint32_t)c.model.d_model, H = (uint32_t)c.model.heads;
  const uint32_t dh = d / H, f = (uint32_t)c.model.d_ff, V = (uint32_t)c.model.vocab, L = (uint32_t)c.model.layers;
  const Masks masks(c);
  std::vector<uint32_t> tok(S);
  wl_values_tokens((uint64_t)c.sim.seed, S, V, tok.data());

  auto linear = [&](const Mat &x, const std::string &op, uint32_t K, uint32_t N, bool bias, const wl_mask *mask) {
    const std::vector<float> W = values(c, op, WL_VALUES_WEIGHT, K, N);
    const std::vector<float> B = bias ? values(c, op, WL_VALUES_BIAS, 1, N) : std::vector<float>(N, 0.0f);
    Mat y((size_t)S * N);
    for (uint32_t t = 0; t < S; t++)
      for (uint32_t n = 0; n < N; n++) {
        double a = B[n];
        for (uint32_t k = 0; k < K; k++)
          if (!mask || wl_mask_get(mask, k, n)) a += x[(size_t)t * K + k] * W[(size_t)k * N + n];
        y[(size_t)t * N + n] = a;
      }
    return y;
  };
  auto layernorm = [&](const Mat &x, const std::string &op) {
    const std::vector<float> g = values(c, op, WL_VALUES_GAIN, 1, d), b = values(c, op, WL_VALUES_SHIFT, 1, d);
    Mat y(x.size());
    for (uint32_t t = 0; t < S; t++) {
      double mean = 0, var = 0;
      for (uint32_t i = 0; i < d; i++) mean += x[(size_t)t * d + i] / d;
      for (uint32_t i = 0; i < d; i++) var += (x[(size_t)t * d + i] - mean) * (x[(size_t)t * d + i] - mean) / d;
      for (uint32_t i = 0; i < d; i++)
        y[(size_t)t * d + i] = (x[(size_t)t * d + i] - mean) / std::sqrt(var + 1e-5) * g[i] + b[i];
    }
    return y;
  };

  // token + position embedding
  const std::vector<float> E = values(c, "embed", WL_VALUES_TABLE, V, d), P = values(c, "pos_embed", WL_VALUES_TABLE, S, d);
  Mat x((size_t)S * d);
  for (uint32_t t = 0; t < S; t++)
    for (uint32_t i = 0; i < d; i++)
      x[(size_t)t * d + i] = E[(size_t)tok[t] * d + i] + (fault == Fault::kNoPositions ? 0.0 : P[(size_t)t * d + i]);

  for (uint32_t l = 0; l < L; l++) {
    const std::string n = "L" + std::to_string(l) + ".";
    const Mat h = layernorm(x, n + "ln1");
    Mat q = linear(h, n + "q", d, d, true, masks.of(n + "q"));
    Mat k = linear(h, n + "k", d, d, true, masks.of(n + "k"));
    const Mat v = linear(h, n + "v", d, d, true, masks.of(n + "v"));
    if (fault == Fault::kSwapQK) std::swap(q, k);
    const Mat a = wstest::causal_attention(q, k, v, S, H, dh);  // causal softmax attention per head
    const Mat o = linear(a, n + "attn_out", d, d, true, masks.of(n + "attn_out"));
    const Mat &skip = fault == Fault::kSkipFromNorm ? h : x;  // the residual's skip: the block's input
    Mat r1(x.size());
    for (size_t e = 0; e < x.size(); e++) r1[e] = skip[e] + o[e];
    const Mat h2 = layernorm(r1, n + "ln2");
    Mat up = linear(h2, n + "ffn_up", d, f, true, masks.of(n + "ffn_up"));
    if (fault != Fault::kNoGelu)
      for (double &u : up) u = 0.5 * u * (1 + std::tanh(std::sqrt(2 / M_PI) * (u + 0.044715 * u * u * u)));
    const Mat down = linear(up, n + "ffn_down", f, d, true, masks.of(n + "ffn_down"));
    for (size_t e = 0; e < x.size(); e++) x[e] = r1[e] + down[e];
  }
  const Mat hf = layernorm(x, "final.ln");
  Mat logits((size_t)S * V, 0.0);  // tied: logits[t, w] = hf[t] . E[w]
  for (uint32_t t = 0; t < S; t++)
    for (uint32_t w = 0; w < V; w++)
      for (uint32_t i = 0; i < d; i++) logits[(size_t)t * V + w] += hf[(size_t)t * d + i] * E[(size_t)w * d + i];
  return logits;
}

using wstest::max_abs;
using wstest::max_diff;

// The tolerance the run applies (functional.h): fp32 kernels against a
// double reference, relative to the largest logit.
double tolerance(const Mat &ref) { return WS_FUNCTIONAL_TOLERANCE * std::max(1.0, max_abs(ref)); }

struct Case {
  const char *name;
  std::vector<std::string> sets;
  const char *kernel;  // what every weight GEMM must run: "sparse", "dense", or nullptr (any)
};

void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

class Functional : public ::testing::TestWithParam<Case> {};

// The run's logits (ws_run_simulate, as `wafersim run` calls it) against the
// independent reference; the run's own verdict agrees; its own reference
// (sim/functional.c, a walk of the graph) equals this one to double rounding.
TEST_P(Functional, RunLogitsMatchAnIndependentForwardPass) {
  const ws_config c = wstest::config(tiny(GetParam().sets));
  char err[1024] = "";
  std::unique_ptr<ws_run, void (*)(ws_run *)> r(ws_run_simulate(&c, nullptr, nullptr, err, sizeof err), ws_run_destroy);
  ASSERT_TRUE(r) << err;
  const ws_functional_result *fr = ws_run_functional(r.get());
  ASSERT_NE(fr, nullptr);
  ASSERT_NE(ws_run_logits(r.get()), nullptr);
  if (GetParam().kernel)
    for (uint32_t i = 0; i < ws_run_op_count(r.get()); i++) {
      const ws_run_op *o = ws_run_op_at(r.get(), i);
      const std::string k = o->kernel;  // a weight GEMM's kernel, else the stage kind
      if (k == "sparse" || k == "dense" || k == "mixed") {
        EXPECT_STREQ(o->kernel, GetParam().kernel) << o->name;
      }
    }
  const Mat ref = reference(c);
  const double worst = max_diff(ref, ws_run_logits(r.get())), tol = tolerance(ref);
  std::printf("[ functional ] %s: logits up to %.3f, worst difference %.2e, tolerance %.2e, %llu cycles\n",
              GetParam().name, max_abs(ref), worst, tol, (unsigned long long)ws_run_totals_of(r.get())->cycles);
  EXPECT_LE(worst, tol);
  EXPECT_GT(max_abs(ref), 1.0);  // the logits are not trivially small: the tolerance means something
  EXPECT_TRUE(fr->ok);
  EXPECT_EQ(fr->logits, (uint64_t)c.workload.seq_len * c.model.vocab);
  EXPECT_NEAR(fr->max_error, worst, 1e-6 * std::max(1.0, max_abs(ref)));  // the run's reference is this one
  std::vector<uint32_t> tok(c.workload.seq_len);
  wl_values_tokens((uint64_t)c.sim.seed, (uint32_t)c.workload.seq_len, (uint32_t)c.model.vocab, tok.data());
  std::unique_ptr<double, void (*)(void *)> own(ws_functional_reference(&c, tok.data(), err, sizeof err), std::free);
  ASSERT_TRUE(own) << err;
  EXPECT_LT(max_diff(ref, own.get()), 1e-9 * std::max(1.0, max_abs(ref)));
  // values change no timing: the same cycles and events without them
  ws_config timing = c;
  timing.sim.functional = false;
  std::unique_ptr<ws_run, void (*)(ws_run *)> t(ws_run_simulate(&timing, nullptr, nullptr, err, sizeof err),
                                                ws_run_destroy);
  ASSERT_TRUE(t) << err;
  EXPECT_EQ(ws_run_functional(t.get()), nullptr);
  EXPECT_EQ(ws_run_totals_of(t.get())->cycles, ws_run_totals_of(r.get())->cycles);
  EXPECT_EQ(ws_run_totals_of(t.get())->events, ws_run_totals_of(r.get())->events);
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, Functional,
    ::testing::Values(Case{"dense kernel, dense weights", {"kernels.kernel=dense"}, "dense"},
                      Case{"sparse kernel, 50 % random", {"kernels.kernel=sparse", "workload.sparsity=0.5"}, "sparse"},
                      Case{"auto, 75 % magnitude, balanced tiles",
                           {"workload.sparsity=0.75", "workload.pattern=magnitude", "placer.tiling=balanced"},
                           nullptr}),
    [](const ::testing::TestParamInfo<Case> &i) { return std::to_string(i.index); });

// Each deliberate wrong wiring moves the logits by far more than the
// tolerance (so a run wired that way would fail), and the run is far from it.
TEST(FunctionalTolerance, AWrongWiringIsFarOutsideIt) {
  const ws_config c = wstest::config(tiny({"workload.sparsity=0.5"}));
  const Mat good = reference(c);
  const double tol = tolerance(good);
  char err[1024] = "";
  std::unique_ptr<ws_run, void (*)(ws_run *)> r(ws_run_simulate(&c, nullptr, nullptr, err, sizeof err), ws_run_destroy);
  ASSERT_TRUE(r) << err;
  const double run_err = max_diff(good, ws_run_logits(r.get()));
  EXPECT_LE(run_err, tol);
  for (const auto &[fault, name] : {std::pair{Fault::kSwapQK, "q and k swapped"},
                                    std::pair{Fault::kSkipFromNorm, "residual skip from the layernorm"},
                                    std::pair{Fault::kNoGelu, "GELU skipped"},
                                    std::pair{Fault::kNoPositions, "no position embedding"}}) {
    const Mat bad = reference(c, fault);
    const double moved = max_diff(good, bad.data());
    std::printf("[ functional ] %s moves the logits by %.3f (tolerance %.2e, the run is off by %.2e)\n", name, moved,
                tol, run_err);
    EXPECT_GT(moved, 100 * tol) << name;
    EXPECT_GT(max_diff(bad, ws_run_logits(r.get())), 100 * tol) << name;
  }
}

// The CLI: the verdict on stderr, exit 0; the JSON document unchanged in shape.
TEST(FunctionalCli, TinyRunSaysTheLogitsMatch) {
  std::vector<std::string> args = {"run", "--format", "json"};
  for (const auto &s : tiny({"workload.sparsity=0.5"})) args.insert(args.end(), {"--set", s});
  const auto r = wstest::run_cli(args);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("wafersim run: functional: the logits (64 tokens x 64) match the reference forward pass"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("functional_"), std::string::npos);  // no totals field the schema does not know
}

// Parameters as functional mode counts them, in closed form from the
// dimensions; the limits refuse large models before placing (exit 2).
TEST(FunctionalCli, LargeConfigurationsAreRefusedUpFront) {
  const ws_config c = wstest::config(tiny({}));
  char err[256];
  mdl_graph *g = mdl_graph_build(&c.model, c.workload.seq_len, err, sizeof err);
  ASSERT_NE(g, nullptr) << err;
  const uint64_t d = 64, f = 256, V = 64, ctx = 64, L = 2;
  EXPECT_EQ(ws_functional_weights(g), V * d + ctx * d + L * (4 * (d * d + d) + (d * f + f) + (f * d + d) + 2 * 2 * d) + 2 * d);
  mdl_graph_destroy(g);

  struct Refusal {
    std::vector<std::string> args;
    const char *says;
  } cases[] = {
      {{"run", "--set", "sim.functional=true"},
       "--set: sim.functional: model 1.3B has 1315723264 parameters; functional mode holds every one in memory as a "
       "real fp32 value and takes at most 16777216 (2^24, 64 MiB)"},
      {{"run", "--set", "sim.functional=true", "--set", "workload.seq_len=128", "--set", "model.preset=custom", "--set",
        "model.layers=1", "--set", "model.d_model=16", "--set", "model.heads=2", "--set", "model.d_ff=64", "--set",
        "model.vocab=65536", "--set", "model.context=128"},
       "sim.functional: workload.seq_len 128 x the widest op output (65536) is 8388608 values"},
  };
  for (const auto &k : cases) {
    const auto r = wstest::run_cli(k.args);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find(k.says), std::string::npos) << r.err;
  }
  // from a file, the error names file:line:column
  const std::string path = wstest::write_temp("functional-large.yaml", "schema_version: 1\nsim: {functional: true}\n");
  const auto r = wstest::run_cli({"run", path});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(path + ":2:19: sim.functional: model 1.3B"), std::string::npos) << r.err;
}

// The generator's promises (values.h): a table's first rows do not depend on
// how many rows are asked for, each op and role its own stream, the seed
// changes everything, the scales as stated, token ids within the vocabulary.
TEST(FunctionalValues, SeededByOpNameRoleAndElement) {
  std::vector<float> a(10 * 4), b(20 * 4), c(10 * 4), e(10 * 4);
  wl_values_fill(1, "embed", WL_VALUES_TABLE, 10, 4, a.data());
  wl_values_fill(1, "embed", WL_VALUES_TABLE, 20, 4, b.data());
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin()));
  wl_values_fill(2, "embed", WL_VALUES_TABLE, 10, 4, c.data());
  wl_values_fill(1, "pos_embed", WL_VALUES_TABLE, 10, 4, e.data());
  size_t same_seed = 0, same_op = 0;
  for (size_t i = 0; i < a.size(); i++) same_seed += a[i] == c[i], same_op += a[i] == e[i];
  EXPECT_EQ(same_seed, 0u);
  EXPECT_EQ(same_op, 0u);
  std::vector<float> w(256 * 64), g(64);
  wl_values_fill(1, "L0.q", WL_VALUES_WEIGHT, 256, 64, w.data());
  double lo = 0, hi = 0, mean = 0;
  for (float x : w) lo = std::min(lo, (double)x), hi = std::max(hi, (double)x), mean += x / w.size();
  EXPECT_GE(lo, -1.0 / 16);  // u / sqrt(256)
  EXPECT_LT(hi, 1.0 / 16);
  EXPECT_GT(hi - lo, 0.99 * 2 / 16);  // the range is used
  EXPECT_LT(std::fabs(mean), 0.002);  // centred: 16384 draws of sd 0.036
  wl_values_fill(1, "L0.ln1", WL_VALUES_GAIN, 1, 64, g.data());
  for (float x : g) EXPECT_TRUE(x >= 0.8f && x < 1.2f) << x;
  std::vector<uint32_t> t(1000);
  wl_values_tokens(1, 1000, 7, t.data());
  std::vector<int> hits(7);
  for (uint32_t id : t) {
    ASSERT_LT(id, 7u);
    hits[id]++;
  }
  for (int h : hits) EXPECT_GT(h, 100);  // about 143 each
}

}  // namespace
