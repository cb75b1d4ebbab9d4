// The command line, run in-process: output columns and figures, formats,
// help, exit statuses and determinism.
#include <gtest/gtest.h>

#include <jansson.h>

#include <sstream>
#include <string>
#include <vector>

#include "models/account.h"
#include "sim/cli.h"
#include "workloads/sparsity.h"
#include "ws_test.h"

namespace {

using wstest::run_cli;

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);) out.push_back(item);
  return out;
}

TEST(Cli, FlopsCsvHasTheDocumentedColumnsAndTheLibraryFigures) {
  auto r = run_cli({"flops", "--format", "csv", "--sparsity", "0,0.5,0.838"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto lines = split(r.out, '\n');
  ASSERT_EQ(lines.size(), 4u) << r.out;
  const std::string required =
      "model,sparsity,flops_dense,flops_sparse,flops_reduction,params_dense,params_sparse,"
      "params_reduction,weight_bytes_dense,weight_bytes_sparse";
  EXPECT_EQ(lines[0].rfind(required, 0), 0u) << lines[0];
  auto head = split(lines[0], ',');
  const double levels[] = {0, 0.5, 0.838};
  for (int l = 0; l < 3; l++) {
    auto cells = split(lines[1 + l], ',');
    ASSERT_EQ(cells.size(), head.size());
    // The same figures straight from the library.
    mdl_gpt m;
    mdl_gpt_preset("1.3B", &m);
    char err[256];
    mdl_graph *g = mdl_graph_build(&m, 2048, err, sizeof err);
    std::vector<int64_t> nnz(mdl_graph_op_count(g));
    wl_sparsity spec = wl_sparsity_uniform(levels[l]);
    wl_sparsity_nnz(&spec, g, nnz.data());
    mdl_cost t;
    mdl_account(g, nnz.data(), nullptr, &t);
    mdl_graph_destroy(g);
    EXPECT_EQ(cells[0], "1.3B");
    EXPECT_EQ(std::stod(cells[1]), levels[l]);
    EXPECT_EQ(std::stoll(cells[2]), t.flops_dense);
    EXPECT_EQ(std::stoll(cells[3]), t.flops_sparse);
    EXPECT_NEAR(std::stod(cells[4]), (double)t.flops_dense / (double)t.flops_sparse, 1e-12);
    EXPECT_EQ(std::stoll(cells[5]), t.params_dense);
    EXPECT_EQ(std::stoll(cells[6]), t.params_sparse);
    EXPECT_EQ(std::stoll(cells[8]), t.bytes_dense);
    EXPECT_EQ(std::stoll(cells[9]), t.bytes_sparse);
  }
}

TEST(Cli, FlopsJsonCarriesTheConfigAndTheSameKeys) {
  auto csv = run_cli({"flops", "--format=csv", "--sparsity=0.75"});
  auto js = run_cli({"flops", "--set", "output.format=json", "--sparsity", "0.75"});
  ASSERT_EQ(js.status, 0) << js.err;
  json_error_t e;
  json_t *doc = json_loads(js.out.c_str(), 0, &e);
  ASSERT_NE(doc, nullptr) << e.text;
  EXPECT_EQ(json_integer_value(json_object_get(doc, "schema_version")), WS_OUTPUT_SCHEMA_VERSION);
  EXPECT_STREQ(json_string_value(json_object_get(doc, "command")), "flops");
  json_t *cfg = json_object_get(doc, "config");
  EXPECT_STREQ(json_string_value(json_object_get(json_object_get(cfg, "model"), "preset")), "1.3B");
  json_t *rows = json_object_get(json_object_get(doc, "flops"), "totals");
  ASSERT_EQ(json_array_size(rows), 1u);
  auto lines = split(csv.out, '\n');
  auto head = split(lines[0], ','), cells = split(lines[1], ',');
  json_t *row = json_array_get(rows, 0);
  EXPECT_EQ(json_object_size(row), head.size());
  for (size_t c = 0; c < head.size(); c++) {
    json_t *v = json_object_get(row, head[c].c_str());
    ASSERT_NE(v, nullptr) << head[c];
    if (json_is_integer(v)) {
      EXPECT_EQ(std::to_string(json_integer_value(v)), cells[c]) << head[c];
    } else if (json_is_real(v)) {
      EXPECT_NEAR(json_real_value(v), std::stod(cells[c]), 1e-12 * std::stod(cells[c])) << head[c];
    } else {
      EXPECT_EQ(json_string_value(v), cells[c]) << head[c];
    }
  }
  json_decref(doc);
}

// Column c of a CSV row, by header name.
std::string cell(const std::vector<std::string> &head, const std::vector<std::string> &row, const char *col) {
  for (size_t i = 0; i < head.size(); i++)
    if (head[i] == col) return row.at(i);
  ADD_FAILURE() << "no column " << col;
  return "";
}

// With a tiling, every weight's tiles hold its mask's nonzeros: mean x tiles
// = weight_nnz, min <= mean <= max, imbalance = max / mean; the same run
// twice gives the same masks.
TEST(Cli, FlopsTilingAddsPerTileNonzerosOfTheMasks) {
  for (const char *pattern : {"bernoulli", "magnitude", "nm", "block"}) {
    const std::string set = std::string("workload.pattern=") + pattern;
    auto r = run_cli({"flops", "--model", "125M", "--sparsity", "0.5", "--per", "op", "--tiling", "12x8", "--set",
                      set, "--format", "csv"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, run_cli({"flops", "--model", "125M", "--sparsity", "0.5", "--per", "op", "--tiling", "12x8",
                              "--set", set, "--format", "csv"}).out);
    auto lines = split(r.out, '\n');
    auto head = split(lines[0], ',');
    EXPECT_EQ(head.back(), "tile_imbalance");
    int sparse = 0;
    for (size_t l = 1; l < lines.size(); l++) {
      auto row = split(lines[l], ',');
      if (cell(head, row, "k") == "0" || cell(head, row, "sparsifiable") == "no") continue;
      sparse++;
      const double mean = std::stod(cell(head, row, "tile_nnz_mean")), max = std::stod(cell(head, row, "tile_nnz_max"));
      EXPECT_NEAR(mean * 96, std::stod(cell(head, row, "weight_nnz")), 1e-6) << lines[l];
      EXPECT_LE(std::stod(cell(head, row, "tile_nnz_min")), mean);
      EXPECT_GE(max, mean);
      EXPECT_NEAR(std::stod(cell(head, row, "tile_imbalance")), max / mean, 1e-9);
      if (std::string(pattern) != "bernoulli") {  // exact patterns keep half of every weight
        EXPECT_EQ(2 * std::stoll(cell(head, row, "weight_nnz")),
                  std::stoll(cell(head, row, "k")) * std::stoll(cell(head, row, "n")));
      }
    }
    EXPECT_EQ(sparse, 12 * 6) << pattern;
  }
}

TEST(Cli, FlopsScheduleGivesTheIterativePruningLevels) {
  auto r = run_cli({"flops", "--schedule", "0.2,0.84", "--format", "csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto lines = split(r.out, '\n');
  ASSERT_EQ(lines.size(), 11u) << r.out;
  auto head = split(lines[0], ',');
  EXPECT_EQ(cell(head, split(lines[1], ','), "sparsity"), "0");
  EXPECT_EQ(cell(head, split(lines[3], ','), "sparsity"), "0.36");
  EXPECT_EQ(cell(head, split(lines[10], ','), "sparsity"), "0.84");
  const struct {
    std::vector<std::string> args;
    const char *want;
  } bad[] = {
      {{"flops", "--schedule", "0.2"}, "--schedule: expected STEP,TARGET"},
      {{"flops", "--schedule", "0,0.5"}, "--schedule: pruning step 0: expected a fraction of the remaining weights"},
      {{"flops", "--schedule", "0.2,0.5", "--sparsity", "0.1"}, "--sparsity and --schedule both give the levels"},
      {{"flops", "--tiling", "64"}, "--tiling: expected WxH"},
      {{"flops", "--tiling", "0x4"}, "--tiling (WxH): expected an integer in [1, 1048576], got '0'"},
      {{"flops", "--set", "workload.pattern=nm", "--sparsity", "0.3"}, "flops: op L0.q: nm: sparsity 0.3 keeps 2.8 of every 4"},
      {{"flops", "--model", "125M", "--set", "workload.pattern=nm", "--schedule", "0.5,0.75", "--tiling", "2x2"}, nullptr},
      {{"flops", "--model", "125M", "--set", "workload.pattern=nm", "--schedule", "0.2,0.5", "--tiling", "2x2"},
       "flops: op L0.q: nm: sparsity 0.2 keeps 3.2 of every 4"},
  };
  for (const auto &b : bad) {
    auto e = run_cli(b.args);
    EXPECT_EQ(e.status, b.want ? 2 : 0) << (b.want ? b.want : e.err);
    if (b.want) {
      EXPECT_NE(e.err.find(b.want), std::string::npos) << e.err;
    }
  }
}

TEST(Cli, PerKindAndPerOpRowsSumToTheTotals) {
  auto tot = run_cli({"flops", "--format", "csv", "--model", "125M", "--sparsity", "0.6"});
  auto kind = run_cli({"flops", "--format", "csv", "--model", "125M", "--sparsity", "0.6", "--per", "kind"});
  auto ops = run_cli({"flops", "--format", "csv", "--model", "125M", "--sparsity", "0.6", "--per", "op"});
  ASSERT_EQ(kind.status, 0) << kind.err;
  ASSERT_EQ(ops.status, 0) << ops.err;
  auto sum_col = [](const std::string &csv, const char *col, bool inference_only) {
    auto lines = split(csv, '\n');
    auto head = split(lines[0], ',');
    size_t c = 0, inf = head.size();
    for (size_t i = 0; i < head.size(); i++) {
      if (head[i] == col) c = i;
      if (head[i] == "inference") inf = i;
    }
    long long s = 0;
    for (size_t l = 1; l < lines.size(); l++) {
      auto cells = split(lines[l], ',');
      if (inference_only && inf < cells.size() && cells[inf] == "no") continue;
      s += std::stoll(cells[c]);
    }
    return s;
  };
  for (const char *col : {"flops_sparse", "flops_dense"}) {
    EXPECT_EQ(sum_col(kind.out, col, true), sum_col(tot.out, col, false)) << col;
    EXPECT_EQ(sum_col(ops.out, col, true), sum_col(tot.out, col, false)) << col;
  }
  for (const char *col : {"params_sparse", "weight_bytes_sparse", "weight_nnz"}) {
    EXPECT_EQ(sum_col(kind.out, col, false), sum_col(tot.out, col, false)) << col;
    EXPECT_EQ(sum_col(ops.out, col, false), sum_col(tot.out, col, false)) << col;
  }
  EXPECT_EQ(split(ops.out, '\n').size(), 1u + 14 * 12 + 4);
  EXPECT_NE(ops.out.find(",L0.scores,0,scores,fp16,12,2048,64,2048,no,yes,L0.q L0.k,"), std::string::npos);
}

TEST(Cli, TableFormatExplainsItsFigures) {
  auto r = run_cli({"flops"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("GPT-3 1.3B: 24 layers, d_model 2048, 16 heads x 128"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Chinchilla"), std::string::npos);
  EXPECT_NE(r.out.find("6.199T"), std::string::npos) << r.out;
}

TEST(Cli, ConfigPrintsYamlThatLoadsBack) {
  auto r = run_cli({"config", "--set", "fabric.clock=850 MHz", "--model", "13B"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("clock: 850 MHz"), std::string::npos) << r.out;
  std::string path = wstest::write_temp("effective.yaml", r.out);
  auto again = run_cli({"config", path});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, r.out);
  auto js = run_cli({"config", "--format", "json"});
  ASSERT_EQ(js.status, 0);
  json_error_t e;
  json_t *doc = json_loads(js.out.c_str(), 0, &e);
  ASSERT_NE(doc, nullptr) << e.text;
  json_decref(doc);
}

TEST(Cli, ModelsListsEveryPreset) {
  auto r = run_cli({"models", "--format", "csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto lines = split(r.out, '\n');
  ASSERT_EQ(lines.size(), 1 + mdl_gpt_preset_count());
  ASSERT_EQ(mdl_gpt_preset_count(), 10u); // eight GPT-3, two Llama
  EXPECT_EQ(lines[4].rfind("1.3B,24,2048,16,128,8192,50257,2048,1315723264,", 0), 0u) << lines[4];
}

TEST(Cli, HelpDescribesEveryOptionAndTheExitCodes) {
  auto main_help = run_cli({"--help"});
  EXPECT_EQ(main_help.status, 0);
  for (const char *s : {"flops", "models", "config", "run", "--set", "--model", "--format", "Exit status", "2 bad input"})
    EXPECT_NE(main_help.out.find(s), std::string::npos) << s;
  auto flops_help = run_cli({"flops", "--help"});
  EXPECT_EQ(flops_help.status, 0);
  for (const char *s : {"--sparsity", "--per", "--set", "flops_reduction", "weight_bytes_sparse", "Exit status"})
    EXPECT_NE(flops_help.out.find(s), std::string::npos) << s;
  for (const char *cmd : {"models", "config", "run"}) {
    auto h = run_cli({cmd, "-h"});
    EXPECT_EQ(h.status, 0) << cmd;
    EXPECT_NE(h.out.find(std::string("usage: wafersim ") + cmd), std::string::npos);
  }
  EXPECT_EQ(run_cli({"--version"}).status, 0);
}

TEST(Cli, BadInputExitsTwoWithOneLine) {
  const struct {
    std::vector<std::string> args;
    const char *want;
  } cases[] = {
      {{}, "usage: wafersim"},
      {{"simulate"}, "unknown command 'simulate'"},
      {{"flops", "--frobnicate"}, "unknown option '--frobnicate'"},
      {{"models", "--sparsity", "0.5"}, "unknown option '--sparsity'"},
      {{"flops", "--sparsity"}, "option --sparsity needs a value"},
      {{"flops", "--sparsity", "0.5,1.0"}, "--sparsity: expected a number in [0, 1), got '1.0'"},
      {{"flops", "--sparsity", ","}, "expected levels like"},
      {{"flops", "--per", "layer"}, "--per: expected total, kind or op, got 'layer'"},
      {{"flops", "--model", "GPT-5"}, "--set model.preset: expected one of"},
      {{"flops", "--format", "xml"}, "--set output.format: expected one of: table, csv, json"},
      {{"flops", "a.yaml", "b.yaml"}, "unexpected argument 'b.yaml'"},
      {{"flops", "/nonexistent.yaml"}, "/nonexistent.yaml: cannot open"},
      {{"run", "--set", "workload.seq_len=0"}, "--set workload.seq_len: expected an integer"},
  };
  for (const auto &c : cases) {
    auto r = run_cli(c.args);
    EXPECT_EQ(r.status, WS_EXIT_BAD_INPUT) << c.want;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    if (!c.args.empty()) {
      EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
    }
  }
}

TEST(Cli, BadConfigFileExitsTwoNamingTheLocation) {
  std::string path = wstest::write_temp("bad.yaml", "schema_version: 1\nmodel:\n  preset: custom\n  layers: 2\n  d_model: 64\n  heads: 3\n  d_ff: 8\n  vocab: 9\n  context: 8\nworkload: {seq_len: 8}\n");
  auto r = run_cli({"flops", path});
  EXPECT_EQ(r.status, WS_EXIT_BAD_INPUT);
  EXPECT_EQ(r.err, "wafersim: " + path + ":6:10: model.heads: 3 does not divide model.d_model = 64\n");
}

TEST(Cli, SameCommandTwiceGivesIdenticalBytes) {
  for (const char *fmt : {"table", "csv", "json"}) {
    auto a = run_cli({"flops", "--format", fmt, "--per", "op", "--sparsity", "0.3,0.9"});
    auto b = run_cli({"flops", "--format", fmt, "--per", "op", "--sparsity", "0.3,0.9"});
    ASSERT_EQ(a.status, 0);
    EXPECT_EQ(a.out, b.out) << fmt;
  }
}

TEST(Cli, WriteFailureExitsOne) {
  FILE *full = std::fopen("/dev/full", "w");
  if (!full) GTEST_SKIP() << "no /dev/full";
  char *argv[] = {(char *)"wafersim", (char *)"flops", (char *)"--per", (char *)"op", nullptr};
  FILE *err = std::tmpfile();
  EXPECT_EQ(ws_cli_main(4, argv, full, err), WS_EXIT_FAILURE);
  std::fclose(full);
  std::fclose(err);
}

}  // namespace

namespace {

TEST(Cli, ProbePrintsTheDocumentedColumns) {
  auto r = wstest::run_cli({"probe", "unicast", "--mesh", "8x8", "--wavelets", "10", "--format", "csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto lines = split(r.out, '\n');
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0].rfind("pattern,mesh,wavelets,fidelity,cycles,link_busy_max,events,wall_s,cycles_bound,bound_exact", 0), 0u)
      << lines[0];
  auto cells = split(lines[1], ',');
  EXPECT_EQ(cells[0], "unicast");
  EXPECT_EQ(cells[1], "8x8");
  EXPECT_EQ(cells[2], "10");
  EXPECT_EQ(cells[3], "train");
  EXPECT_EQ(cells[4], "26");  // 10 wavelets + 14 hops + 2 ramps
  EXPECT_EQ(cells[8], "26");
  EXPECT_EQ(cells[9], "yes");
  auto w = wstest::run_cli({"probe", "unicast", "--mesh", "8x8", "--wavelets", "10", "--fidelity", "wavelet", "--format", "json"});
  ASSERT_EQ(w.status, 0) << w.err;
  json_error_t e;
  json_t *doc = json_loads(w.out.c_str(), 0, &e);
  ASSERT_NE(doc, nullptr) << e.text;
  json_t *row = json_array_get(json_object_get(doc, "probe"), 0);
  EXPECT_EQ(json_integer_value(json_object_get(row, "cycles")), 26);
  EXPECT_STREQ(json_string_value(json_object_get(row, "fidelity")), "wavelet");
  EXPECT_STREQ(json_string_value(json_object_get(json_object_get(json_object_get(doc, "config"), "fabric"), "clock")), "1.1 GHz");
  json_decref(doc);
}

TEST(Cli, ProbeBadInput) {
  const struct {
    std::vector<std::string> args;
    const char *want;
  } cases[] = {
      {{"probe"}, "which PATTERN?"},
      {{"probe", "broadcast"}, "unknown pattern 'broadcast'"},
      {{"probe", "unicast", "--mesh", "64"}, "--mesh: expected WxH"},
      {{"probe", "unicast", "--mesh", "0x4"}, "--set fabric.width: expected an integer"},
      {{"probe", "unicast", "--wavelets", "0"}, "--wavelets: expected an integer in [1,"},
      {{"probe", "unicast", "--fidelity", "flit"}, "--set sim.fidelity: expected one of: train, wavelet"},
      {{"probe", "random", "--mesh", "64x64", "--messages", "400", "--wavelets", "1"}, "no color is free"},
      {{"probe", "multicast-row", "--mesh", "1x8"}, "too small"},
  };
  for (const auto &c : cases) {
    auto r = wstest::run_cli(c.args);
    EXPECT_EQ(r.status, WS_EXIT_BAD_INPUT) << c.want;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
  }
  auto h = wstest::run_cli({"probe", "--help"});
  EXPECT_EQ(h.status, 0);
  for (const char *s : {"--mesh", "--wavelets", "--fidelity", "--messages", "--seed", "allreduce", "cycles_bound"})
    EXPECT_NE(h.out.find(s), std::string::npos) << s;
}

}  // namespace

namespace {

TEST(Cli, KernelReportsCostModelAndSimulation) {
  auto r = wstest::run_cli({"kernel", "--model", "125M", "--op", "L0.ffn_up", "--region", "32x16", "--batch", "1,4",
                            "--sparsity", "0,0.9", "--kernel", "sparse,dense,auto", "--micro-batches", "4",
                            "--format", "csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto lines = split(r.out, '\n');
  ASSERT_EQ(lines.size(), 1u + 2 * 2 * 3) << r.out;
  EXPECT_EQ(lines[0].rfind("op,region,pes,batch,sparsity,kernel,nnz_max,nnz_mean,cycles_pe_max,cycles_pe_mean,"
                           "cycles_interval,cycles_first,sram_pe_max,fits",
                           0),
            0u)
      << lines[0];
  for (size_t l = 1; l < lines.size(); l++) {
    auto c = split(lines[l], ',');
    ASSERT_EQ(c.size(), 17u) << lines[l];
    EXPECT_EQ(c[2], "512");
    // The placer's model of the stage (kernels/estimate.h): within 5% of the
    // simulated interval (4 micro-batches: two steady intervals) where compute
    // sets the pace, and never above it by more.
    const double sim = std::stod(c[10]), model = std::stod(c[16]);
    EXPECT_LE(model, 1.05 * sim) << lines[l];
    if (std::stod(c[8]) >= 0.8 * sim) {
      EXPECT_NEAR(model, sim, 0.05 * sim) << lines[l];
    }
    EXPECT_EQ(c[13], "yes");
    // Steady state cannot beat the busiest PE's compute by more than the
    // interleaved bias add, nor the first micro-batch come before it.
    EXPECT_GE(std::stod(c[10]) * 1.02, std::stod(c[8])) << lines[l];
    EXPECT_GE(std::stoll(c[11]), std::stoll(c[8])) << lines[l];
  }
  // Dense multiplies every weight: 768 x 3072 per token of the micro-batch.
  EXPECT_EQ(split(lines[2], ',')[15], "2359296");  // dense, b = 1, sparsity 0
  EXPECT_EQ(split(lines[8], ',')[15], "2359296");  // dense, b = 1, sparsity 0.9: zeros multiplied too
  // The sparse kernel executes the nonzeros only: about a tenth at 90%.
  const double sparse90 = std::stod(split(lines[7], ',')[15]);
  EXPECT_NEAR(sparse90 / 2359296.0, 0.1, 0.01);
}

TEST(Cli, KernelBadInput) {
  const struct {
    std::vector<std::string> args;
    const char *want;
  } cases[] = {
      {{"kernel", "--op", "L0.gelu"}, "'L0.gelu' is not a weight GEMM"},
      {{"kernel", "--op", "L99.q"}, "'L99.q' is not a weight GEMM"},
      {{"kernel", "--region", "64"}, "--region: expected WxH"},
      {{"kernel", "--kernel", "fast"}, "--kernel: expected sparse, dense or auto, got 'fast'"},
      {{"kernel", "--batch", "0"}, "--batch: expected an integer"},
      {{"kernel", "--region", "9000x1"}, "gives L0.ffn_up (2048 x 8192) an empty tile"},
  };
  for (const auto &c : cases) {
    auto r = wstest::run_cli(c.args);
    EXPECT_EQ(r.status, WS_EXIT_BAD_INPUT) << c.want;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
  }
  // Too little SRAM is a row that says so, not an error.
  auto r = wstest::run_cli({"kernel", "--region", "8x4", "--kernel", "dense", "--format", "csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(",no,"), std::string::npos) << r.out;
}

}  // namespace
