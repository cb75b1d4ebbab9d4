// The configuration: the embedded default, its shipped file and round trip,
// --set overrides, and every error path with its file:line:column.
#include <gtest/gtest.h>

#include <jansson.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sim/config.h"
#include "ws_test.h"

namespace {

ws_config finished_default() {
  ws_config c;
  char err[WS_CONFIG_ERR_MAX];
  EXPECT_EQ(ws_config_init_default(&c, err, sizeof err), 0) << err;
  EXPECT_EQ(ws_config_finish(&c, err, sizeof err), 0) << err;
  return c;
}

// Loads text as "t.yaml" over the default and finishes; returns the error ("" if none).
std::string load_error(const std::string &text) {
  ws_config c;
  char err[WS_CONFIG_ERR_MAX] = "";
  EXPECT_EQ(ws_config_init_default(&c, err, sizeof err), 0);
  if (ws_config_load_string(&c, text.data(), text.size(), "t.yaml", err, sizeof err) != 0) return err;
  if (ws_config_finish(&c, err, sizeof err) != 0) return err;
  return "";
}

std::string yaml_of(const ws_config &c) {
  char *buf = nullptr;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  EXPECT_EQ(ws_config_write_yaml(&c, f), 0);
  std::fclose(f);
  std::string s(buf, len);
  std::free(buf);
  return s;
}

// Loads text onto an all-zero configuration (no default underneath).
ws_config load_bare(const std::string &text) {
  ws_config c;
  ws_config_init_empty(&c);
  char err[WS_CONFIG_ERR_MAX] = "";
  EXPECT_EQ(ws_config_load_string(&c, text.data(), text.size(), "echo.yaml", err, sizeof err), 0) << err;
  EXPECT_EQ(ws_config_finish(&c, err, sizeof err), 0) << err;
  return c;
}

TEST(Config, DefaultIsTheCs2PresetWithGpt3_1_3B) {
  ws_config c = finished_default();
  EXPECT_EQ(c.fabric.width, 750);
  EXPECT_EQ(c.fabric.height, 994);
  EXPECT_EQ(c.fabric.clock, 1100000000LL);
  EXPECT_EQ(c.fabric.sram_per_pe, 48 * 1024);
  EXPECT_EQ(c.fabric.fmac_fp16, 4);
  EXPECT_EQ(c.fabric.fmac_fp32, 1);
  EXPECT_STREQ(c.model.name, "1.3B");
  EXPECT_EQ(c.model.layers, 24);
  EXPECT_EQ(c.model.d_model, 2048);
  EXPECT_EQ(c.workload.phase, WS_PHASE_PREFILL);
  EXPECT_EQ(c.workload.seq_len, 2048);
  EXPECT_EQ(c.workload.sparsity, 0.0);
  EXPECT_EQ(c.output.format, WS_FORMAT_TABLE);
}

// fabric.preset: wse3 takes a CS-3's published mesh, SRAM and SIMD (and the
// WSE-2's clock, an assumption) for the keys not given; a key given in a
// file or by --set wins whatever the order; cs2 is the embedded default's.
TEST(Config, AMachinePresetSetsTheKeysNotGiven) {
  ws_config c = wstest::config({"fabric.preset=wse3"});
  EXPECT_EQ(c.fabric.preset, WS_MACHINE_WSE3);
  EXPECT_EQ(c.fabric.width, 755);
  EXPECT_EQ(c.fabric.height, 1174);
  EXPECT_EQ(c.fabric.sram_per_pe, 48 * 1024);
  EXPECT_EQ(c.fabric.fmac_fp16, 8);
  EXPECT_EQ(c.fabric.clock, 1100000000LL);
  c = wstest::config({"fabric.width=700", "fabric.preset=wse3"});
  EXPECT_EQ(c.fabric.width, 700);
  EXPECT_EQ(c.fabric.height, 1174);
  c = wstest::config({"fabric.preset=wse3", "fabric.fmac_fp16=16"});
  EXPECT_EQ(c.fabric.fmac_fp16, 16);
  c = wstest::config({}, "schema_version: 1\nfabric: {preset: wse3, height: 100}\n");
  EXPECT_EQ(c.fabric.height, 100);
  EXPECT_EQ(c.fabric.width, 755);
  c = wstest::config({"fabric.preset=cs2"});
  EXPECT_EQ(c.fabric.width, 750);
  EXPECT_EQ(c.fabric.fmac_fp16, 4);
  // the effective configuration reads back to the same machine
  ws_config back = wstest::config({}, "schema_version: 1\nfabric: {preset: wse3, width: 755, height: 1174, fmac_fp16: 8}\n");
  EXPECT_EQ(back.fabric.width, 755);
  EXPECT_EQ(back.fabric.fmac_fp16, 8);
}

TEST(Config, ShippedFileIsTheEmbeddedDefault) {
  std::string path = wstest::source_path("sim/default.yaml");
  FILE *f = std::fopen(path.c_str(), "rb");
  ASSERT_NE(f, nullptr) << path;
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  EXPECT_EQ(text, std::string(ws_config_default_yaml()));

  ws_config from_file;
  ws_config_init_empty(&from_file);
  char err[WS_CONFIG_ERR_MAX];
  ASSERT_EQ(ws_config_load_file(&from_file, path.c_str(), err, sizeof err), 0) << err;
  ASSERT_EQ(ws_config_finish(&from_file, err, sizeof err), 0) << err;
  ws_config embedded = finished_default();
  EXPECT_TRUE(ws_config_equal(&from_file, &embedded));
}

TEST(Config, EffectiveYamlRoundTrips) {
  ws_config c = finished_default();
  ws_config same = load_bare(yaml_of(c));
  EXPECT_TRUE(ws_config_equal(&c, &same));

  char err[WS_CONFIG_ERR_MAX];
  for (const char *set : {"fabric.clock=850MHz", "workload.sparsity=0.838", "model.preset=175B",
                          "fabric.sram_per_pe=1536", "output.format=json", "sim.seed=42"}) {
    ASSERT_EQ(ws_config_set(&c, set, err, sizeof err), 0) << err;
  }
  ASSERT_EQ(ws_config_finish(&c, err, sizeof err), 0) << err;
  std::string y = yaml_of(c);
  ws_config back = load_bare(y);
  EXPECT_TRUE(ws_config_equal(&c, &back)) << y;
  EXPECT_EQ(back.workload.sparsity, 0.838);
  EXPECT_EQ(back.fabric.sram_per_pe, 1536);
  EXPECT_NE(y.find("sram_per_pe: 1.5 KiB"), std::string::npos) << y;
  // Changing one value breaks equality.
  ASSERT_EQ(ws_config_set(&back, "sim.seed=43", err, sizeof err), 0);
  EXPECT_FALSE(ws_config_equal(&c, &back));
}

const char kCustom[] =
    "schema_version: 1\n"
    "model:\n"
    "  preset: custom\n"
    "  layers: 2\n"
    "  d_model: 64\n"
    "  heads: 4\n"
    "  d_ff: 256\n"
    "  vocab: 1000\n"
    "  context: 16\n"
    "workload:\n"
    "  seq_len: 16\n";

TEST(Config, CustomModelRoundTripsWithItsDimensions) {
  ws_config c = load_bare(std::string(ws_config_default_yaml()));
  char err[WS_CONFIG_ERR_MAX];
  ASSERT_EQ(ws_config_load_string(&c, kCustom, sizeof kCustom - 1, "custom.yaml", err, sizeof err), 0) << err;
  ASSERT_EQ(ws_config_finish(&c, err, sizeof err), 0) << err;
  EXPECT_STREQ(c.model.name, "custom");
  EXPECT_EQ(c.model.d_head, 16);
  std::string y = yaml_of(c);
  EXPECT_NE(y.find("  d_model: 64\n"), std::string::npos) << y;
  ws_config back = load_bare(y);
  EXPECT_TRUE(ws_config_equal(&c, &back));
}

TEST(Config, JsonEchoMirrorsTheYaml) {
  ws_config c = finished_default();
  json_t *j = ws_config_json(&c);
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(json_integer_value(json_object_get(j, "schema_version")), 1);
  json_t *fabric = json_object_get(j, "fabric");
  EXPECT_EQ(json_integer_value(json_object_get(fabric, "width")), 750);
  EXPECT_STREQ(json_string_value(json_object_get(fabric, "clock")), "1.1 GHz");
  EXPECT_STREQ(json_string_value(json_object_get(json_object_get(j, "model"), "preset")), "1.3B");
  EXPECT_TRUE(json_is_object(json_object_get(j, "placer")));
  json_decref(j);
}

struct BadCase {
  const char *yaml;
  const char *want[3];  // substrings the message must hold
};

// Every way a file can be wrong, with the location the message must name.
const BadCase kBad[] = {
    {"schema_version: 1\nfabric: [1, 2\n", {"t.yaml:3:1: malformed YAML", nullptr}},
    {"fabric:\n  width: 750\n", {"t.yaml:1:1: schema_version: missing", nullptr}},
    {"schema_version: 2\n", {"t.yaml:1:17: schema_version: expected 1", "got '2'"}},
    {"schema_version: [1]\n", {"t.yaml:1:17: schema_version: expected 1", "got a list"}},
    {"schema_version: 1\nfabrik:\n  width: 1\n", {"t.yaml:2:1: fabrik: unknown section", "expected one of: schema_version, fabric"}},
    {"schema_version: 1\nfabric:\n  widht: 750\n", {"t.yaml:3:3: fabric.widht: unknown key", "expected one of: width, height, clock"}},
    {"schema_version: 1\nplacer:\n  cost: 3\n", {"t.yaml:3:3: placer.cost: unknown key", "expected one of: tiling, shelf_height"}},
    {"schema_version: 1\nfabric:\n  width: [1]\n", {"t.yaml:3:10: fabric.width: expected a single value, got a list", nullptr}},
    {"schema_version: 1\nfabric:\n  width: {a: 1}\n", {"t.yaml:3:10: fabric.width", "got a mapping"}},
    {"schema_version: 1\nfabric:\n  width:\n", {"t.yaml:3:9: fabric.width", "got nothing"}},
    {"schema_version: 1\nfabric: 3\n", {"t.yaml:2:9: fabric: expected a mapping of fabric keys", "got a value"}},
    {"schema_version: 1\nfabric:\n  width: abc\n", {"t.yaml:3:10: fabric.width: expected an integer in [1, 1048576], got 'abc'", nullptr}},
    {"schema_version: 1\nfabric:\n  width: 0\n", {"t.yaml:3:10: fabric.width", "got '0'"}},
    {"schema_version: 1\nfabric:\n  height: -5\n", {"t.yaml:3:11: fabric.height", "got '-5'"}},
    {"schema_version: 1\nfabric:\n  sram_per_pe: 0 KiB\n", {"t.yaml:3:16: fabric.sram_per_pe: expected a size like '48 KiB'", nullptr}},
    {"schema_version: 1\nfabric:\n  sram_per_pe: 48 KiBs\n", {"fabric.sram_per_pe", "unknown unit"}},
    {"schema_version: 1\nfabric:\n  clock: 1.1\n", {"t.yaml:3:10: fabric.clock: expected a frequency like '1.1 GHz' in [1 MHz, 100 GHz], got '1.1'", nullptr}},
    {"schema_version: 1\nfabric:\n  fmac_fp16: 2.5\n", {"fabric.fmac_fp16", "not a whole number"}},
    {"schema_version: 1\nworkload:\n  sparsity: 1.0\n", {"t.yaml:3:13: workload.sparsity: expected a number in [0, 1), got '1.0'", nullptr}},
    {"schema_version: 1\nworkload:\n  sparsity: -0.1\n", {"workload.sparsity", "got '-0.1'"}},
    {"schema_version: 1\nworkload:\n  sparsity: .nan\n", {"workload.sparsity", "got '.nan'"}},
    {"schema_version: 1\nfabric:\n  preset: wse2\n", {"t.yaml:3:11: fabric.preset: expected one of: cs2, wse3, got 'wse2'", nullptr}},
    {"schema_version: 1\nworkload:\n  phase: finetune\n", {"t.yaml:3:10: workload.phase: expected one of: prefill, decode, generate, train, got 'finetune'", nullptr}},
    {"schema_version: 1\nworkload:\n  phase: decode\n  seq_len: 2040\n  new_tokens: 9\n", {"t.yaml:5:15: workload.new_tokens: a prompt of workload.seq_len = 2040 tokens and 9 new ones exceed the context of model 1.3B (2048 tokens)", nullptr}},
    {"schema_version: 1\noutput:\n  format: xml\n", {"output.format: expected one of: table, csv, json", nullptr}},
    {"schema_version: 1\nmodel:\n  preset: 3B\n", {"t.yaml:3:11: model.preset: expected one of: 125M 350M 760M 1.3B 2.7B 6.7B 13B 175B llama3-8b llama-tiny custom, got '3B'", nullptr}},
    {"schema_version: 1\nmodel:\n  kv_heads: 2\n", {"t.yaml:3:13: model.kv_heads: only with model.preset: custom", "preset 1.3B"}},
    {"schema_version: 1\nmodel:\n  arch: llama\n", {"t.yaml:3:9: model.arch: only with model.preset: custom", nullptr}},
    {"schema_version: 1\nmodel:\n  arch: bert\n", {"t.yaml:3:9: model.arch: expected one of: gpt, llama", nullptr}},
    {"schema_version: 1\nmodel: {preset: custom, layers: 1, d_model: 64, heads: 4, d_ff: 128, vocab: 64, context: 64, arch: llama, "
     "kv_heads: 3}\nworkload: {seq_len: 16}\n",
     {"model.kv_heads: 3, expected a divisor of model.heads = 4", nullptr}},
    {"schema_version: 1\nmodel: {preset: custom, layers: 1, d_model: 64, heads: 4, d_ff: 128, vocab: 64, context: 64, "
     "kv_heads: 2}\nworkload: {seq_len: 16}\n",
     {"model.kv_heads: 2, expected a divisor of model.heads = 4 (and equal to it with model.arch: gpt)", nullptr}},
    {"schema_version: 1\nmodel: {preset: custom, layers: 1, d_model: 64, heads: 4, d_ff: 128, vocab: 64, context: 64, "
     "rope_theta: 5000}\nworkload: {seq_len: 16}\n",
     {"model.rope_theta: only with model.arch: llama", nullptr}},
    {"schema_version: 1\nmodel: {preset: custom, layers: 1, d_model: 60, heads: 4, d_ff: 128, vocab: 64, context: 64, "
     "arch: llama}\nworkload: {seq_len: 16}\n",
     {"d_head = 15 must be even", nullptr}},
    {"schema_version: 1\nworkload:\n  sparsity_by_kind: {ffn_gate: 0.5}\n",
     {"workload.sparsity_by_kind.ffn_gate: model 1.3B (a gpt block) has no ffn_gate weights", nullptr}},
    {"schema_version: 1\nmodel:\n  layers: 2\n", {"t.yaml:3:11: model.layers: only with model.preset: custom", "preset 1.3B"}},
    {"schema_version: 1\nmodel:\n  preset: custom\n  layers: 2\n  d_model: 64\n  heads: 4\n  vocab: 10\n  context: 8\n",
     {"t.yaml:3:11: model.preset: custom needs model.d_ff", nullptr}},
    {"schema_version: 1\nmodel:\n  preset: custom\n  layers: 2\n  d_model: 64\n  heads: 3\n  d_ff: 4\n  vocab: 10\n  context: 8\nworkload:\n  seq_len: 8\n",
     {"t.yaml:6:10: model.heads: 3 does not divide model.d_model = 64", nullptr}},
    {"schema_version: 1\nmodel:\n  preset: custom\n  layers: 0\n", {"t.yaml:4:11: model.layers", "got '0'"}},
    {"schema_version: 1\nworkload:\n  seq_len: 4096\n", {"t.yaml:3:12: workload.seq_len: 4096 tokens exceed the context of model 1.3B (2048 tokens)", nullptr}},
    {"schema_version: 1\nfabric:\n  width: 1\n  width: 2\n", {"t.yaml:4:10: fabric.width: given twice", nullptr}},
    {"schema_version: 1\nsim: {seed: 1}\nsim: {seed: 2}\n", {"t.yaml:3:6: sim: section given twice", nullptr}},
    {"schema_version: 1\nschema_version: 1\n", {"t.yaml:2:17: schema_version: given twice", nullptr}},
    {"schema_version: 1\n---\nschema_version: 1\n", {"t.yaml:3:1: a second YAML document", nullptr}},
    {"", {"t.yaml:1:1: empty configuration", nullptr}},
    {"# only a comment\n", {"t.yaml:1:1: empty configuration", nullptr}},
    {"- 1\n- 2\n", {"t.yaml:1:1: (top level): expected a mapping", "got a list"}},
    {"schema_version: 1\n? [a, b]\n: 1\n", {"t.yaml:2:3: (top level): expected a section name", nullptr}},
    {"schema_version: 1\nfabric:\n  ? [a]\n  : 1\n", {"t.yaml:3:5: fabric: expected a key name", nullptr}},
    {"schema_version: 1\nfabric:\n\twidth: 3\n", {"t.yaml:", "malformed YAML", nullptr}},
    {"schema_version: 1\nsim:\n  seed: *nope\n", {"t.yaml:3:9: malformed YAML", nullptr}},
    // the workload's sparsity spec, pattern and file
    {"schema_version: 1\nworkload:\n  sparsity_by_kind: {lm_head: 0.5}\n",
     {"t.yaml:3:22: workload.sparsity_by_kind.lm_head: lm_head weights are never sparsified", "README, Accounting conventions"}},
    {"schema_version: 1\nworkload:\n  sparsity_by_kind: {ffn: 0.5}\n",
     {"t.yaml:3:22: workload.sparsity_by_kind.ffn: unknown key; expected one of: q, k, v, attn_out, ffn_up, ffn_down", nullptr}},
    {"schema_version: 1\nworkload:\n  sparsity_by_kind: {q: 1}\n", {"t.yaml:3:25: workload.sparsity_by_kind.q: expected a number in [0, 1)", nullptr}},
    {"schema_version: 1\nworkload:\n  sparsity_by_layer: {24: 0.5}\n",
     {"t.yaml:3:22: workload.sparsity_by_layer.24: model 1.3B has layers 0 to 23", nullptr}},
    {"schema_version: 1\nworkload:\n  sparsity_by_layer: {first: 0.5}\n", {"t.yaml:3:23: workload.sparsity_by_layer.first: a layer: expected", nullptr}},
    {"schema_version: 1\nworkload:\n  sparsity_by_layer: {3: 0.5, 3: 0.6}\n", {"t.yaml:3:31: workload.sparsity_by_layer.3: given twice", nullptr}},
    {"schema_version: 1\nworkload:\n  sparsity_by_layer: [0.5]\n", {"t.yaml:3:22: workload.sparsity_by_layer: expected a mapping", "got a list"}},
    {"schema_version: 1\nworkload:\n  sparsity_by_layer: {3: [1]}\n", {"t.yaml:3:26: workload.sparsity_by_layer.3: expected a single value, got a list", nullptr}},
    {"schema_version: 1\nworkload:\n  pattern: random\n", {"t.yaml:3:12: workload.pattern: expected one of: bernoulli, magnitude, nm, block, file", nullptr}},
    {"schema_version: 1\nworkload:\n  pattern: nm\n  sparsity: 0.6\n",
     {"t.yaml:3:12: workload.pattern: op L0.q: nm: sparsity 0.6 keeps 1.6 of every 4 weights along K", nullptr}},
    {"schema_version: 1\nworkload:\n  pattern: block\n  block: 3\n", {"t.yaml:3:12: workload.pattern: op L0.q: block: blocks of 3 x 3 do not tile a 2048 x 2048 weight", nullptr}},
    {"schema_version: 1\nworkload:\n  magnitude: {outlier_scale: 0.5}\n", {"workload.magnitude.outlier_scale: expected a number in [1, 1e+06], got '0.5'", nullptr}},
    {"schema_version: 1\nworkload:\n  magnitude: {sigma: 1}\n", {"workload.magnitude.sigma: unknown key; expected one of: row_sigma, col_sigma", nullptr}},
    {"schema_version: 1\nworkload:\n  pattern: file\n", {"t.yaml:3:12: workload.pattern: file needs workload.file.path", nullptr}},
    {"schema_version: 1\nworkload:\n  file: {path: w.safetensors}\n",
     {"t.yaml:3:16: workload.file: given, but workload.pattern is bernoulli; set workload.pattern: file", nullptr}},
    {"schema_version: 1\nworkload:\n  pattern: file\n  file:\n    path: w.st\n    tensors: {a: lm_head}\n",
     {"t.yaml:6:14: workload.file.tensors.a: 'lm_head' is not a sparsifiable op of model 1.3B", nullptr}},
    {"schema_version: 1\nworkload:\n  pattern: file\n  file:\n    path: w.st\n    tensors: {a: L99.q}\n",
     {"workload.file.tensors.a: 'L99.q' is not an op of model 1.3B", nullptr}},
    {"schema_version: 1\nworkload:\n  pattern: file\n  file:\n    path: w.st\n    tensors: {a: L0.q, b: L0.q}\n",
     {"workload.file.tensors.b: op L0.q already has tensor 'a'", nullptr}},
    {"schema_version: 1\nworkload:\n  pattern: file\n  file:\n    path: w.st\n    tensors: {a: L0.q}\n",
     {"workload.file.tensors: no tensor for op L0.k; pattern file needs one per sparse weight", nullptr}},
    {"schema_version: 1\nworkload:\n  file: {layout: ck}\n", {"workload.file.layout: expected one of: kn, nk", nullptr}},
};

TEST(Config, EveryErrorNamesFileLineColumnKeyAndExpectation) {
  for (const BadCase &c : kBad) {
    std::string err = load_error(c.yaml);
    ASSERT_FALSE(err.empty()) << "accepted:\n" << c.yaml;
    for (const char *w : c.want) {
      if (!w) break;
      EXPECT_NE(err.find(w), std::string::npos) << "message: " << err << "\nwanted: " << w << "\nfor:\n" << c.yaml;
    }
    EXPECT_EQ(err.find('\n'), std::string::npos) << "one line: " << err;
  }
}

TEST(Config, AFailedLoadLeavesTheConfigurationUnchanged) {
  ws_config c = finished_default(), before = c;
  const char bad[] = "schema_version: 1\nfabric:\n  width: 12\n  height: 0\n";
  char err[WS_CONFIG_ERR_MAX];
  ASSERT_NE(ws_config_load_string(&c, bad, sizeof bad - 1, "t.yaml", err, sizeof err), 0);
  EXPECT_TRUE(ws_config_equal(&c, &before));
  ASSERT_NE(ws_config_set(&c, "fabric.width=0", err, sizeof err), 0);
  EXPECT_TRUE(ws_config_equal(&c, &before));
}

TEST(Config, FileErrors) {
  ws_config c = finished_default();
  char err[WS_CONFIG_ERR_MAX];
  ASSERT_NE(ws_config_load_file(&c, "/nonexistent/x.yaml", err, sizeof err), 0);
  EXPECT_STREQ(err, "/nonexistent/x.yaml: cannot open: No such file or directory");
  std::string dir = wstest::source_path("tests");
  ASSERT_NE(ws_config_load_file(&c, dir.c_str(), err, sizeof err), 0);
  EXPECT_EQ(std::string(err), dir + ": is a directory; expected a regular configuration file");
  std::string nul = wstest::write_temp("nul.yaml", std::string("schema_version: 1\n\0\n", 20));
  ASSERT_NE(ws_config_load_file(&c, nul.c_str(), err, sizeof err), 0);
  EXPECT_NE(std::string(err).find("contains a NUL byte"), std::string::npos) << err;
  std::string big = wstest::write_temp("big.yaml", std::string((1 << 20) + 1, '#'));
  ASSERT_NE(ws_config_load_file(&c, big.c_str(), err, sizeof err), 0);
  EXPECT_NE(std::string(err).find("larger than"), std::string::npos) << err;
  std::string ok = wstest::write_temp("ok.yaml", "schema_version: 1\nfabric: {width: 64, height: 32}\n");
  ASSERT_EQ(ws_config_load_file(&c, ok.c_str(), err, sizeof err), 0) << err;
  EXPECT_EQ(c.fabric.width, 64);
  EXPECT_EQ(c.fabric.height, 32);
  EXPECT_EQ(std::string(c.origin[0].where), ok + ":2:17");
}

TEST(Config, SetOverridesWithTheSameChecks) {
  ws_config c = finished_default();
  char err[WS_CONFIG_ERR_MAX];
  ASSERT_EQ(ws_config_set(&c, "fabric.clock=850MHz", err, sizeof err), 0) << err;
  EXPECT_EQ(c.fabric.clock, 850000000LL);
  ASSERT_EQ(ws_config_set(&c, "fabric.sram_per_pe=64 KiB", err, sizeof err), 0) << err;
  EXPECT_EQ(c.fabric.sram_per_pe, 65536);
  ASSERT_EQ(ws_config_set(&c, "workload.sparsity=0.838", err, sizeof err), 0) << err;
  EXPECT_EQ(c.workload.sparsity, 0.838);
  ASSERT_EQ(ws_config_set(&c, "model.preset=gpt3-2.7b", err, sizeof err), 0) << err;
  ASSERT_EQ(ws_config_finish(&c, err, sizeof err), 0) << err;
  EXPECT_STREQ(c.model.name, "2.7B");
  EXPECT_EQ(c.model.d_model, 2560);

  const struct {
    const char *set, *want;
  } bad[] = {
      {"fabric.width", "--set 'fabric.width': expected key.path=value"},
      {"=3", "expected key.path=value"},
      {"fabric.widht=3", "--set fabric.widht: unknown key; expected one of: width, height"},
      {"fabrik.width=3", "--set fabrik.width: unknown key; expected SECTION.KEY with a section of: fabric, model"},
      {"fabric=3", "--set fabric: is a section; set one of its keys: width, height"},
      {"schema_version=1", "--set schema_version: the schema version cannot be overridden"},
      {"fabric.width=0", "--set fabric.width: expected an integer in [1, 1048576], got '0'"},
      {"fabric.clock=fast", "--set fabric.clock: expected a frequency like '1.1 GHz'"},
      {"workload.sparsity=1", "--set workload.sparsity: expected a number in [0, 1), got '1'"},
      {"model.preset=GPT-5", "--set model.preset: expected one of: 125M"},
  };
  for (const auto &b : bad) {
    ASSERT_NE(ws_config_set(&c, b.set, err, sizeof err), 0) << b.set;
    EXPECT_NE(std::string(err).find(b.want), std::string::npos) << err;
  }
  // A dimension set on a named preset is refused at finish, naming the --set.
  ASSERT_EQ(ws_config_set(&c, "model.layers=2", err, sizeof err), 0);
  ASSERT_NE(ws_config_finish(&c, err, sizeof err), 0);
  EXPECT_NE(std::string(err).find("--set: model.layers: only with model.preset: custom"), std::string::npos) << err;
}

TEST(Config, SparsitySpecMapsRoundTripAndOverrideWithSet) {
  const std::string text =
      "schema_version: 1\nworkload:\n  sparsity: 0.5\n  sparsity_by_kind: {ffn_up: 0.9, q: 0.25}\n"
      "  sparsity_by_layer: {0: 0.1, 23: 0.2}\n  pattern: magnitude\n  magnitude: {row_sigma: 1.5}\n";
  ws_config c;
  char err[WS_CONFIG_ERR_MAX];
  ASSERT_EQ(ws_config_init_default(&c, err, sizeof err), 0);
  ASSERT_EQ(ws_config_load_string(&c, text.data(), text.size(), "t.yaml", err, sizeof err), 0) << err;
  ASSERT_EQ(ws_config_set(&c, "workload.sparsity_by_layer.5=0.3", err, sizeof err), 0) << err;
  ASSERT_EQ(ws_config_set(&c, "workload.sparsity_by_kind.k=0.6", err, sizeof err), 0) << err;
  ASSERT_EQ(ws_config_finish(&c, err, sizeof err), 0) << err;
  wl_sparsity s;
  ws_config_sparsity(&c, &s);
  EXPECT_EQ(s.level, 0.5);
  EXPECT_EQ(s.kind[MDL_OP_FFN_UP], 0.9);
  EXPECT_EQ(s.kind[MDL_OP_K], 0.6);
  EXPECT_TRUE(std::isnan(s.kind[MDL_OP_V]));
  EXPECT_EQ(s.layer[5], 0.3);
  EXPECT_TRUE(std::isnan(s.layer[4]));
  EXPECT_EQ(ws_config_pattern(&c).row_sigma, 1.5);
  const std::string y = yaml_of(c);
  EXPECT_NE(y.find("  sparsity_by_layer: {0: 0.1, 5: 0.3, 23: 0.2}\n"), std::string::npos) << y;
  EXPECT_NE(y.find("  sparsity_by_kind:\n    q: 0.25\n    k: 0.6\n    ffn_up: 0.9\n"), std::string::npos) << y;
  EXPECT_EQ(y.find("    v:"), std::string::npos) << "kinds not given are not written: " << y;
  ws_config back = load_bare(y);
  EXPECT_TRUE(ws_config_equal(&c, &back));
  ws_config plain = finished_default();
  EXPECT_FALSE(ws_config_equal(&c, &plain));
  // A file's map replaces the map below it; JSON nests the same way.
  const std::string again = "schema_version: 1\nworkload:\n  sparsity_by_layer: {7: 0.7}\n";
  ASSERT_EQ(ws_config_load_string(&c, again.data(), again.size(), "u.yaml", err, sizeof err), 0) << err;
  ws_config_sparsity(&c, &s);
  EXPECT_TRUE(std::isnan(s.layer[5]));
  EXPECT_EQ(s.layer[7], 0.7);
  json_t *j = ws_config_json(&c);
  json_t *w = json_object_get(j, "workload");
  EXPECT_EQ(json_real_value(json_object_get(json_object_get(w, "sparsity_by_layer"), "7")), 0.7);
  EXPECT_EQ(json_real_value(json_object_get(json_object_get(w, "sparsity_by_kind"), "ffn_up")), 0.9);
  EXPECT_EQ(json_real_value(json_object_get(json_object_get(w, "magnitude"), "row_sigma")), 1.5);
  EXPECT_STREQ(json_string_value(json_object_get(json_object_get(w, "file"), "layout")), "kn");
  json_decref(j);

  const struct {
    const char *set, *want;
  } bad[] = {
      {"workload.sparsity_by_layer=0.5", "--set workload.sparsity_by_layer: is a mapping; set one entry, e.g. workload.sparsity_by_layer.0=0.5"},
      {"workload.sparsity_by_layer.x=0.5", "--set workload.sparsity_by_layer.x: a layer: expected"},
      {"workload.sparsity_by_kind.embed=0.5", "--set workload.sparsity_by_kind.embed: embed weights are never sparsified"},
      {"workload.sparsity_by_kind=0.5", "--set workload.sparsity_by_kind: is a section; set one of its keys: q, k, v"},
      {"workload.magnitude.row_sigma=-1", "--set workload.magnitude.row_sigma: expected a number in [0, 10]"},
  };
  for (const auto &b : bad) {
    ASSERT_NE(ws_config_set(&c, b.set, err, sizeof err), 0) << b.set;
    EXPECT_NE(std::string(err).find(b.want), std::string::npos) << err;
  }
}

TEST(Config, TensorNamesWithDotsAndQuotesRoundTrip) {
  ws_config c = finished_default();
  char err[WS_CONFIG_ERR_MAX];
  for (const char *s : {"workload.pattern=file", "workload.file.path=/tmp/w \"x\".safetensors",
                        "workload.file.tensors.transformer.h.0.attn.q.weight=L0.q"})
    ASSERT_EQ(ws_config_set(&c, s, err, sizeof err), 0) << err;
  for (const char *kind : {"k", "v", "attn_out", "ffn_up", "ffn_down"}) {
    const std::string set = std::string("workload.file.tensors.t\"") + kind + "=L0." + kind;
    ASSERT_EQ(ws_config_set(&c, set.c_str(), err, sizeof err), 0) << err;
  }
  ASSERT_NE(ws_config_finish(&c, err, sizeof err), 0);  // layers 1 to 23 have none yet
  EXPECT_NE(std::string(err).find("--set: workload.file.tensors: no tensor for op L1.q"), std::string::npos) << err;
  ASSERT_EQ(ws_config_set(&c, "model.preset=custom", err, sizeof err), 0);
  for (const char *s : {"model.layers=1", "model.d_model=64", "model.heads=4", "model.d_ff=256", "model.vocab=100",
                        "model.context=64", "workload.seq_len=64"})
    ASSERT_EQ(ws_config_set(&c, s, err, sizeof err), 0) << err;
  ASSERT_EQ(ws_config_finish(&c, err, sizeof err), 0) << err;
  EXPECT_EQ(c.workload.file.ntensors, 6u);
  EXPECT_STREQ(c.workload.file.tensors[0].tensor, "transformer.h.0.attn.q.weight");
  const std::string y = yaml_of(c);
  ws_config back = load_bare(y);
  EXPECT_TRUE(ws_config_equal(&c, &back)) << y;
  EXPECT_STREQ(back.workload.file.path, "/tmp/w \"x\".safetensors");
  EXPECT_STREQ(back.workload.file.tensors[1].tensor, "t\"k");
}

TEST(Config, SetsBuildACustomModel) {
  ws_config c = finished_default();
  char err[WS_CONFIG_ERR_MAX];
  for (const char *s : {"model.preset=custom", "model.layers=2", "model.d_model=64", "model.heads=4",
                        "model.d_ff=256", "model.vocab=1000", "model.context=64", "workload.seq_len=16"})
    ASSERT_EQ(ws_config_set(&c, s, err, sizeof err), 0) << err;
  ASSERT_EQ(ws_config_finish(&c, err, sizeof err), 0) << err;
  EXPECT_EQ(c.model.d_head, 16);
  // Dropping back to a preset with the dimensions still given is an error.
  ASSERT_EQ(ws_config_set(&c, "model.preset=125M", err, sizeof err), 0);
  EXPECT_NE(ws_config_finish(&c, err, sizeof err), 0);
}

}  // namespace
