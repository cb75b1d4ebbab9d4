// wafersim check and the output schema: the regression baselines in
// tests/expected/ pass unchanged; a 1% change in the clock or a change in the
// per-nonzero set-up is caught (and only where the physics says); bad and
// mismatched baselines are exit 2 with a message naming what; every output
// validates against sim/output.schema.json; the same configuration gives the
// same files apart from the host's fields, on one worker or two.
#include <dirent.h>
#include <jansson.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "sim/config.h"
#include "sim/jschema.h"
#include "ws_json.h"
#include "ws_test.h"

namespace {

using wstest::read_file;
using wstest::run_cli;
using wstest::source_path;
using wstest::strip_host;
using wstest::strip_host_csv;

const std::string kTinyDense = source_path("tests/expected/tiny-dense.json");
const std::string kTinySparse = source_path("tests/expected/tiny-sparse.json");

using wstest::Json;

json_t *load(const std::string &path) {
  json_error_t je;
  json_t *d = json_load_file(path.c_str(), 0, &je);
  EXPECT_NE(d, nullptr) << path << ": " << je.text;
  return d;
}

std::string validate(const json_t *s, const json_t *doc) {
  char err[512] = "";
  return ws_jschema_validate(s, doc, err, sizeof err) == 0 ? "" : err;
}

std::string save(const std::string &name, const json_t *doc) {
  char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
  const std::string path = wstest::write_temp(name, text);
  free(text);
  return path;
}

// The regression points that make test runs: every baseline but wafer-*.
std::vector<std::string> small_baselines() {
  std::vector<std::string> out;
  const std::string dir = source_path("tests/expected");
  DIR *d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent *e = readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0 && n.rfind("wafer-", 0) != 0)
      out.push_back(dir + "/" + n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Schema, IsTheRepositorysFileAndItsVersionIsTheCodes) {
  Json s(wstest::output_schema()), file(load(source_path("sim/output.schema.json")));
  ASSERT_NE(s.j, nullptr);
  EXPECT_TRUE(json_equal(s.j, file.j)) << "the embedded schema is stale: rebuild";
  const json_t *v = ws_jschema_at(s.j, "#/properties/schema_version/const");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(json_integer_value(v), WS_OUTPUT_SCHEMA_VERSION);
}

TEST(Schema, EveryBaselineAndAFreshRunAndSweepValidate) {
  Json s(wstest::output_schema());
  for (const auto &b : small_baselines()) {
    Json d(load(b));
    EXPECT_EQ(validate(s.j, d.j), "") << b;
  }
  const std::string dir = wstest::temp_dir("schema");
  const std::vector<std::string> tiny = {source_path("tests/expected/tiny-sparse.yaml")};
  auto r = run_cli({"run", tiny[0], "--out", dir});
  ASSERT_EQ(r.status, 0) << r.err;
  Json run(load(dir + "/run.json"));
  EXPECT_EQ(validate(s.j, run.j), "");
  r = run_cli({"sweep", tiny[0], "--sparsity", "0.5", "--vary", "workload.micro_batch=8,16", "--out", dir});
  ASSERT_EQ(r.status, 0) << r.err;
  Json sweep(load(dir + "/sweep.json"));
  EXPECT_EQ(validate(s.j, sweep.j), "");
}

// Every command's JSON, in every shape it takes, is described by the schema.
TEST(Schema, EveryCommandsDocumentValidates) {
  Json s(wstest::output_schema());
  const std::string tiny = source_path("tests/expected/tiny-sparse.yaml");
  const std::vector<std::vector<std::string>> commands = {
      {"flops"},
      {"flops", "--tiling", "8x8"},
      {"flops", "--per", "kind", "--schedule", "0.4,0.84"},
      {"flops", "--per", "op", "--tiling", "8x8", "--sparsity", "0,0.5"},
      {"flops", "--per", "kind", "--tiling", "8x8"},
      {"models"},
      {"probe", "allreduce", "--wavelets", "20"},
      {"probe", "random", "--messages", "40", "--fidelity", "wavelet"},
      {"kernel", "--sparsity", "0,0.9", "--batch", "1,16", "--kernel", "auto,dense"},
      {"kernel", "--region", "1x1", "--kernel", "dense"}, /* does not fit: no simulated cycles */
      {"gemm", "--m", "4", "--k", "64", "--n", "32", "--region", "8x8", "--sparsity", "0,0.5", "--set",
       "sim.strategy=layerwise"},
      {"gemm", "--m", "16", "--k", "64", "--n", "32", "--region", "4x4"}, /* the pipeline's stage */
      {"gemm", "--m", "16", "--k", "64", "--n", "32", "--set", "sim.strategy=bound"},
      {"place"},
      {"config"}};
  for (auto args : commands) {
    const std::string cmd = args[0];
    args.insert(args.end(), {tiny, "--format", "json"});
    auto r = run_cli(args);
    ASSERT_EQ(r.status, 0) << cmd << ": " << r.err;
    json_error_t je;
    Json d(json_loads(r.out.c_str(), 0, &je));
    ASSERT_NE(d.j, nullptr) << cmd << ": " << je.text;
    EXPECT_EQ(validate(s.j, d.j), "") << cmd << " " << (args.size() > 4 ? args[1] + " " + args[2] : "");
    EXPECT_STREQ(json_string_value(json_object_get(d.j, "command")), cmd.c_str());
    EXPECT_EQ(json_object_size(d.j), cmd == "config" ? 4u : 5u) << cmd << ": version, command, config, figures";
    if (cmd != "config") {
      EXPECT_NE(json_object_get(d.j, cmd.c_str()), nullptr) << cmd << ": figures under its name";
    }
  }
}

// The figures must sit under the command's own key, and only there.
TEST(Schema, FiguresOnlyUnderTheCommandsName) {
  Json s(wstest::output_schema());
  auto r = run_cli({"flops", "--format", "json"}), m = run_cli({"models", "--format", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  json_error_t je;
  Json d(json_loads(r.out.c_str(), 0, &je)), models(json_loads(m.out.c_str(), 0, &je));
  json_t *rows = json_incref(json_object_get(json_object_get(d.j, "flops"), "totals"));
  json_object_set(d.j, "models", json_object_get(models.j, "models")); /* another command's valid figures */
  EXPECT_EQ(validate(s.j, d.j), "(document): 6 fields, expected at most 5");
  json_object_del(d.j, "flops");
  EXPECT_EQ(validate(s.j, d.j), "(document): missing required field 'flops'");
  json_object_del(d.j, "models");
  json_object_set_new(d.j, "flops", json_pack("{s:O,s:O}", "totals", rows, "ops", rows));
  EXPECT_EQ(validate(s.j, d.j), "flops: 2 fields, expected at most 1");
  json_object_set_new(d.j, "flops", json_object());
  EXPECT_EQ(validate(s.j, d.j), "flops: 0 fields, expected at least 1");
  json_object_set_new(d.j, "flops", json_pack("{s:O}", "ops", rows));
  EXPECT_EQ(validate(s.j, d.j), "flops.ops[0]: missing required field 'op'");
  json_object_set_new(d.j, "command", json_string("config"));
  json_object_del(d.j, "flops");
  EXPECT_EQ(validate(s.j, d.j), "");
  json_object_set_new(d.j, "run", json_object());
  EXPECT_NE(validate(s.j, d.j), "") << "a config document has no figures";
  json_decref(rows);
}

TEST(Schema, TypeListsConditionsAndSizes) {
  Json s(json_pack("{s:{s:{s:[s,s]}},s:[{s:{s:[s],s:{s:{s:i}}},s:{s:[s]}}],s:i}", "properties", "a", "type",
                   "integer", "null", "allOf", "if", "required", "a", "properties", "a", "const", 1, "then", "required", "b",
                   "minProperties", 1));
  Json ok(json_pack("{s:n}", "a")), one(json_pack("{s:i}", "a", 1)), two(json_pack("{s:i,s:i}", "a", 1, "b", 2)),
      str(json_pack("{s:s}", "a", "x")), none(json_object());
  EXPECT_EQ(validate(s.j, ok.j), "");
  EXPECT_EQ(validate(s.j, one.j), "(document): missing required field 'b'") << "if a is 1, then b";
  EXPECT_EQ(validate(s.j, two.j), "");
  EXPECT_EQ(validate(s.j, str.j), "a: expected [\"integer\",\"null\"], got string");
  EXPECT_EQ(validate(s.j, none.j), "(document): 0 fields, expected at least 1");
}

TEST(Schema, NamesTheFirstViolationAtItsPath) {
  Json s(wstest::output_schema()), d(load(kTinyDense));
  json_t *ops = json_object_get(json_object_get(d.j, "run"), "ops");
  json_object_set_new(json_array_get(ops, 3), "cycles", json_string("many"));
  EXPECT_EQ(validate(s.j, d.j), "run.ops[3].cycles: expected integer, got string");
  json_object_set_new(json_array_get(ops, 3), "cycles", json_integer(-5));
  EXPECT_NE(validate(s.j, d.j).find("run.ops[3].cycles: -5 is outside"), std::string::npos);
  json_object_del(json_object_get(json_object_get(d.j, "run"), "totals"), "fill_cycles");
  EXPECT_EQ(validate(s.j, d.j), "run.totals: missing required field 'fill_cycles'");
  Json fresh(load(kTinyDense));
  json_object_set_new(fresh.j, "extra", json_true());
  EXPECT_EQ(validate(s.j, fresh.j), "(document): field 'extra' is not in the schema");
  json_object_del(fresh.j, "extra");
  json_object_set_new(fresh.j, "command", json_string("plot"));
  EXPECT_EQ(validate(s.j, fresh.j).rfind("command: expected one of [\"run\",\"sweep\",", 0), 0u);
  json_object_set_new(fresh.j, "command", json_string("place"));
  EXPECT_EQ(validate(s.j, fresh.j), "(document): missing required field 'place'") << "a run's figures, not a place's";
}

TEST(Schema, RefusesKeywordsItDoesNotImplement) {
  Json s(json_pack("{s:{s:{s:s}}}", "properties", "a", "pattern", "^x")), d(json_pack("{s:i}", "a", 1));
  EXPECT_NE(validate(s.j, d.j).find("'pattern', which this validator does not implement"), std::string::npos);
}

TEST(Check, EverySmallBaselinePassesUnchanged) {
  const auto baselines = small_baselines();
  ASSERT_GE(baselines.size(), 5u);
  for (const auto &b : baselines) {
    auto r = run_cli({"check", "--baseline", b});
    EXPECT_EQ(r.status, 0) << b << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find(" 0 of "), std::string::npos) << r.out;
  }
}

// A 1% faster clock moves seconds, tokens/s and FLOP/s by 1% (and so the time
// to first token and a sequence's tokens/s) and no cycle count.
TEST(Check, CatchesAOnePercentClockChangeWhereThePhysicsSays) {
  auto r = run_cli({"check", "--baseline", kTinyDense, "--set", "fabric.clock=1.111GHz"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("configurations differ (fabric.clock: 1.1 GHz vs 1.111 GHz)"), std::string::npos) << r.err;
  r = run_cli({"check", "--baseline", kTinyDense, "--set", "fabric.clock=1.111GHz", "--allow-config-change"});
  EXPECT_EQ(r.status, 1) << r.err;
  for (const char *f : {"seconds", "tokens_per_s", "flops_per_s", "peak_flops_per_s", "ttft_s", "tokens_per_s_per_seq"})
    EXPECT_NE(r.out.find(f), std::string::npos) << f << "\n" << r.out;
  EXPECT_NE(r.out.find("+1.0000%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("6 of "), std::string::npos) << r.out;
  r = run_cli({"check", "--baseline", kTinyDense, "--set", "fabric.clock=1.111GHz", "--allow-config-change", "--only",
               "cycles,fill_cycles,steady_interval"});
  EXPECT_EQ(r.status, 0) << r.out;
  r = run_cli({"check", "--baseline", kTinyDense, "--set", "fabric.clock=1.111GHz", "--allow-config-change", "--rtol",
               "0.011"});
  EXPECT_EQ(r.status, 0) << r.out;
}

TEST(Check, CatchesTheSparseSetupCost) {
  auto r = run_cli({"check", "--baseline", kTinySparse, "--set", "kernels.sparse_setup=3", "--allow-config-change",
                    "--only", "cycles", "--format", "github"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.out.rfind("::warning title=wafersim check::the configurations differ (kernels.sparse_setup: 2 vs 3)", 0),
            0u)
      << r.out;
  EXPECT_NE(r.out.find("\n::error title=wafersim check::totals cycles moved from "), std::string::npos) << r.out;
}

TEST(Check, TolerancesRowsAndUpdate) {
  Json base(load(kTinyDense)), cur(load(kTinyDense));
  json_t *tot = json_object_get(json_object_get(cur.j, "run"), "totals");
  const json_int_t cycles = json_integer_value(json_object_get(tot, "cycles"));
  json_object_set_new(tot, "cycles", json_integer(cycles + cycles / 200)); /* +0.5% */
  json_object_set_new(tot, "wall_s", json_real(1e6));                     /* host: never compared */
  const std::string now = save("check-now.json", cur.j);
  EXPECT_EQ(run_cli({"check", "--baseline", kTinyDense, now, "--rtol", "0.01"}).status, 0);
  auto r = run_cli({"check", "--baseline", kTinyDense, now, "--rtol", "0.001"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("totals                   cycles"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 of "), std::string::npos) << r.out;
  EXPECT_EQ(run_cli({"check", "--baseline", kTinyDense, now, "--atol", std::to_string(cycles)}).status, 0);
  json_array_remove(json_object_get(json_object_get(cur.j, "run"), "ops"), 2);
  r = run_cli({"check", "--baseline", kTinyDense, save("check-row.json", cur.j)});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("(row)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(missing)"), std::string::npos) << r.out;
  const std::string copy = save("check-base.json", base.j);
  r = run_cli({"check", "--baseline", copy, now, "--update-baseline"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(run_cli({"check", "--baseline", copy, now}).status, 0);
  Json updated(load(copy)), wanted(load(now));
  EXPECT_TRUE(json_equal(updated.j, wanted.j)) << "the baseline is the new document";
}

TEST(Check, BadOrMismatchedBaselinesAreExit2) {
  auto r = run_cli({"check", "--baseline", wstest::write_temp("bad.json", "{\"schema_version\": 1,\n  oops")});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("bad.json: line 2"), std::string::npos) << r.err;
  r = run_cli({"check", "--baseline", "/nonexistent/b.json"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("/nonexistent/b.json"), std::string::npos) << r.err;
  Json d(load(kTinyDense));
  json_object_set_new(d.j, "schema_version", json_integer(WS_OUTPUT_SCHEMA_VERSION + 1));
  r = run_cli({"check", "--baseline", save("v3.json", d.j)});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("schema_version: expected " + std::to_string(WS_OUTPUT_SCHEMA_VERSION) + ", got " + std::to_string(WS_OUTPUT_SCHEMA_VERSION + 1)), std::string::npos) << r.err;
  json_object_set_new(d.j, "schema_version", json_integer(WS_OUTPUT_SCHEMA_VERSION));
  json_object_del(json_object_get(json_object_get(d.j, "run"), "totals"), "cycles");
  r = run_cli({"check", "--baseline", save("nocycles.json", d.j)});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("missing required field 'cycles'"), std::string::npos) << r.err;
  r = run_cli({"check", "--baseline", kTinyDense, kTinySparse});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("workload.sparsity: 0 vs 0.75"), std::string::npos) << r.err;
  EXPECT_EQ(run_cli({"check", kTinyDense}).status, 2);
  r = run_cli({"flops", "--format", "json"});
  const std::string flops = wstest::write_temp("flops.json", r.out);
  r = run_cli({"check", "--baseline", flops});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("a document of 'flops'; check compares those of run and sweep"), std::string::npos) << r.err;
  EXPECT_EQ(run_cli({"check", "--baseline", kTinyDense, "--rtol", "-1"}).status, 2);
  EXPECT_EQ(run_cli({"check", "--baseline", kTinyDense, "--only", "nosuchfield"}).status, 2);
  EXPECT_EQ(run_cli({"check", "--baseline", kTinyDense, "--format", "xml"}).status, 2);
}

// The same configuration gives the same files apart from the host's fields,
// run twice, and on one worker or two.
TEST(Determinism, SameFilesAcrossRunsAndWorkers) {
  Json s(wstest::output_schema());
  const std::string yaml = source_path("tests/expected/tiny-sparse.yaml");
  std::string dirs[2];
  for (int i = 0; i < 2; i++) {
    dirs[i] = wstest::temp_dir("det" + std::to_string(i));
    auto r = run_cli({"run", yaml, "--out", dirs[i] + "/run"});
    ASSERT_EQ(r.status, 0) << r.err;
    r = run_cli({"sweep", yaml, "--sparsity", "0.5,0.9", "-j", std::to_string(i + 1), "--out", dirs[i] + "/sweep"});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  for (const char *f : {"run/ops.csv", "run/pes.csv", "sweep/kinds.csv", "sweep/pes_first.csv", "sweep/pes_last.csv"})
    EXPECT_EQ(read_file(dirs[0] + "/" + f), read_file(dirs[1] + "/" + f)) << f;
  EXPECT_EQ(strip_host_csv(s.j, "#/$defs/totals", read_file(dirs[0] + "/run/totals.csv")),
            strip_host_csv(s.j, "#/$defs/totals", read_file(dirs[1] + "/run/totals.csv")));
  EXPECT_EQ(strip_host_csv(s.j, "#/$defs/point", read_file(dirs[0] + "/sweep/sweep.csv")),
            strip_host_csv(s.j, "#/$defs/point", read_file(dirs[1] + "/sweep/sweep.csv")));
  for (const char *f : {"run/run.json", "sweep/sweep.json"}) {
    Json a(load(dirs[0] + "/" + f)), b(load(dirs[1] + "/" + f));
    strip_host(s.j, s.j, a.j);
    strip_host(s.j, s.j, b.j);
    char *ta = json_dumps(a.j, JSON_REAL_PRECISION(17)), *tb = json_dumps(b.j, JSON_REAL_PRECISION(17));
    EXPECT_STREQ(ta, tb) << f;
    EXPECT_EQ(std::string(ta).find("wall_s"), std::string::npos) << "host fields stripped";
    free(ta);
    free(tb);
  }
  auto r = run_cli({"check", "--baseline", dirs[0] + "/sweep/sweep.json", dirs[1] + "/sweep/sweep.json"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  r = run_cli({"check", "--baseline", dirs[0] + "/sweep/sweep.json"}); /* rerun from its spec */
  EXPECT_EQ(r.status, 0) << r.out << r.err;
}

// A baseline of an older schema_version cannot be compared, but can be
// rewritten from its own configuration; then it passes.
TEST(Check, UpdatesABaselineOfAnOlderSchemaVersion) {
  Json d(load(kTinyDense));
  json_object_set_new(d.j, "schema_version", json_integer(WS_OUTPUT_SCHEMA_VERSION - 1));
  json_object_del(json_object_get(json_object_get(d.j, "run"), "totals"), "cycles"); /* fields may differ too */
  const std::string old = save("old.json", d.j);
  EXPECT_EQ(run_cli({"check", "--baseline", old}).status, 2);
  auto r = run_cli({"check", "--baseline", old, "--update-baseline"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("was of schema_version " + std::to_string(WS_OUTPUT_SCHEMA_VERSION - 1) + ", not compared"), std::string::npos) << r.out;
  r = run_cli({"check", "--baseline", old});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  Json now(load(old)), base(load(kTinyDense));
  EXPECT_EQ(json_integer_value(json_object_get(now.j, "schema_version")), WS_OUTPUT_SCHEMA_VERSION);
  EXPECT_EQ(json_integer_value(json_object_get(json_object_get(json_object_get(now.j, "run"), "totals"), "cycles")),
            json_integer_value(json_object_get(json_object_get(json_object_get(base.j, "run"), "totals"), "cycles")));
}

}  // namespace
