// Reports by key (sim/table.h ws_column): every report's column table
// (run totals, run op rows, sweep points, place stages and totals, probe) against the output schema
// (sim/output.schema.json, the embedded copy): the same properties in the
// same order, the same x-unit, a JSON type that matches the column's; every
// column says where its value comes from; and a row read back by name
// carries the value of the field of that name (written out here, field by
// field, with a distinct value in each), so a reordered or mislabelled
// column fails.
#include <jansson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/flops.h"
#include "sim/jschema.h"
#include "sim/oprun.h"
#include "sim/place.h"
#include "sim/gemmrun.h"
#include "sim/probe.h"
#include "sim/run.h"
#include "sim/sweep.h"
#include "sim/table.h"
#include "ws_json.h"
#include "ws_test.h"

namespace {

using wstest::Json;

struct Cols {
  const char *def; // the schema's $defs entry
  const ws_column *cols;
  size_t n;
  size_t optional; // the last columns, not in the schema's "required" (flops: the tile columns, with --tiling)
};

std::vector<Cols> reports() {
  std::vector<Cols> v;
  size_t n = 0;
  const ws_column *c = ws_run_totals_columns(&n);
  v.push_back({"totals", c, n, 0});
  c = ws_run_ops_columns(&n);
  v.push_back({"op", c, n, 0});
  c = ws_sweep_columns(&n);
  v.push_back({"point", c, n, 0});
  c = ws_place_columns(&n);
  v.push_back({"place_stage", c, n, 0});
  c = ws_place_totals_columns(&n);
  v.push_back({"place_totals", c, n, 0});
  c = ws_probe_columns(&n);
  v.push_back({"probe", c, n, 0});
  c = ws_oprun_columns(&n);
  v.push_back({"kernel", c, n, 0});
  c = ws_gemmrun_columns(&n);
  v.push_back({"gemm", c, n, 0});
  c = ws_models_columns(&n);
  v.push_back({"model", c, n, 0});
  size_t ntile = 0;
  c = ws_flops_columns(WS_PER_TOTAL, &n, &ntile);
  v.push_back({"flops_total", c, n, ntile});
  c = ws_flops_columns(WS_PER_KIND, &n, &ntile);
  v.push_back({"flops_kind", c, n, ntile});
  c = ws_flops_columns(WS_PER_OP, &n, &ntile);
  v.push_back({"flops_op", c, n, ntile});
  return v;
}

// A property of the schema, "$ref"s followed (only "#/..." pointers).
const json_t *resolve(const json_t *schema, const json_t *prop) {
  for (int hops = 0; hops < 8; hops++) {
    const json_t *ref = json_object_get(prop, "$ref");
    if (!ref) return prop;
    std::string p = json_string_value(ref);
    EXPECT_EQ(p.rfind("#/", 0), 0u) << p;
    const json_t *at = schema;
    size_t i = 2;
    while (at && i <= p.size()) {
      const size_t j = std::min(p.find('/', i), p.size());
      at = json_object_get(at, p.substr(i, j - i).c_str());
      i = j + 1;
    }
    EXPECT_NE(at, nullptr) << p;
    if (!at) return nullptr;
    prop = at;
  }
  ADD_FAILURE() << "a $ref loop";
  return nullptr;
}

// The schema type a column of type t must have.
const char *json_type_of(ws_col_type t) {
  switch (t) {
  case WS_COL_I64:
  case WS_COL_U64:
  case WS_COL_I32:
  case WS_COL_U32: return "integer";
  case WS_COL_F64: return "number";
  case WS_COL_STR: return "string";
  }
  return "?";
}

} // namespace

// Each column table is exactly its schema object: the properties (no more,
// no fewer), in the order the schema's "required" lists them, each with the
// column's unit as x-unit and a type that holds the column's values.
TEST(Columns, SchemaMatchesTables) {
  Json s(wstest::output_schema());
  ASSERT_NE(s.j, nullptr);
  for (const Cols &r : reports()) {
    SCOPED_TRACE(r.def);
    const json_t *def = json_object_get(json_object_get(s.j, "$defs"), r.def);
    ASSERT_NE(def, nullptr);
    const json_t *props = json_object_get(def, "properties"), *req = json_object_get(def, "required");
    ASSERT_NE(props, nullptr);
    ASSERT_NE(req, nullptr);
    EXPECT_EQ(json_object_size(props), r.n);
    ASSERT_EQ(json_array_size(req), r.n - r.optional);
    for (size_t c = 0; c < r.n; c++) {
      const ws_column &col = r.cols[c];
      SCOPED_TRACE(col.name);
      if (c < r.n - r.optional) {
        EXPECT_STREQ(json_string_value(json_array_get(req, c)), col.name) << "column " << c << " out of order";
      } else { // an optional column: not required
        for (size_t q = 0; q < json_array_size(req); q++) EXPECT_STRNE(json_string_value(json_array_get(req, q)), col.name);
      }
      const json_t *p = resolve(s.j, json_object_get(props, col.name));
      ASSERT_NE(p, nullptr) << "not in the schema";
      const char *unit = json_string_value(json_object_get(p, "x-unit"));
      if (col.unit) {
        EXPECT_STREQ(unit, col.unit);
      } else {
        EXPECT_EQ(unit, nullptr) << "x-unit " << unit << " in the schema, none in the table";
      }
      const json_t *type = json_object_get(p, "type"), *en = json_object_get(p, "enum");
      if (!type && en) { // an enum of strings (yes / no): a string column
        EXPECT_EQ(col.type, WS_COL_STR);
        for (size_t e = 0; e < json_array_size(en); e++) EXPECT_TRUE(json_is_string(json_array_get(en, e)));
      } else if (json_is_array(type)) { // [T, "null"]: a derived column that leaves the cell empty where it does not apply
        ASSERT_EQ(json_array_size(type), 2u);
        EXPECT_STREQ(json_string_value(json_array_get(type, 0)), json_type_of(col.type));
        EXPECT_STREQ(json_string_value(json_array_get(type, 1)), "null");
        EXPECT_NE(col.get, nullptr) << "nullable in the schema: only a get can leave a cell empty";
      } else {
        ASSERT_TRUE(json_is_string(type)) << "one JSON type";
        EXPECT_STREQ(json_string_value(type), json_type_of(col.type));
      }
    }
  }
}

// Every column says where its value comes from; names are unique; a
// column read from a field has no getter and a derived one has one.
TEST(Columns, EveryColumnHasASource) {
  for (const Cols &r : reports()) {
    SCOPED_TRACE(r.def);
    std::set<std::string> names;
    for (size_t c = 0; c < r.n; c++) {
      const ws_column &col = r.cols[c];
      ASSERT_NE(col.name, nullptr);
      EXPECT_TRUE(names.insert(col.name).second) << col.name << " twice";
      ASSERT_NE(col.source, nullptr) << col.name;
      EXPECT_GT(std::strlen(col.source), 0u) << col.name;
      EXPECT_EQ(std::strchr(col.source, '\n'), nullptr) << col.name << ": one line";
      if (col.unit) {
        EXPECT_GT(std::strlen(col.unit), 0u) << col.name;
      }
    }
    EXPECT_EQ(ws_column_find(r.cols, r.n, "no_such_column"), nullptr);
  }
}

namespace {

// The one row of t as a JSON object (new reference).
json_t *row_of(const ws_table *t, size_t i) {
  json_t *rows = ws_table_json(t);
  json_t *row = json_incref(json_array_get(rows, i));
  json_decref(rows);
  return row;
}

void expect_int(const json_t *row, const char *key, int64_t v) {
  const json_t *x = json_object_get(row, key);
  ASSERT_TRUE(json_is_integer(x)) << key;
  EXPECT_EQ(json_integer_value(x), v) << key;
}
void expect_real(const json_t *row, const char *key, double v) {
  const json_t *x = json_object_get(row, key);
  ASSERT_TRUE(json_is_real(x)) << key;
  EXPECT_EQ(json_real_value(x), v) << key;
}
void expect_str(const json_t *row, const char *key, const char *v) {
  const json_t *x = json_object_get(row, key);
  ASSERT_TRUE(json_is_string(x)) << key;
  EXPECT_STREQ(json_string_value(x), v) << key;
}

} // namespace

// Totals with a distinct value in every field: each named cell holds the
// field of that name (run.h), whatever the columns' order.
TEST(Columns, TotalsRowReadBackByName) {
  ws_run_totals t;
  std::memset(&t, 0, sizeof t);
  t.cycles = 1001; t.fill_cycles = 1002; t.steady_interval = 1003; t.bound = 1004;
  t.seconds = 1.5; t.tokens_per_s = 2.5;
  t.flops_dense = 3.5; t.flops_executed = 4.5; t.flops_saved = 5.5; t.flops_reduction = 6.5;
  t.flops_simulated = 7.5; t.flops_per_s = 8.5; t.peak_flops_per_s = 9.5; t.peak_fraction = 10.5;
  t.params_dense = 1005; t.params = -1006; t.weight_bytes = 1007; t.macs = 1008; t.sram_max = 1009;
  t.sram_mean = 11.5; t.pes_used = 1010; t.pes_mesh = 1011; t.kernel_mix = 12.5;
  t.stages = 1012; t.micro_batch = 1013; t.micro_batches = 1014; t.placer_interval = 1015;
  t.events = 1016; t.wavelets_sent = 1017; t.link_wavelets = 1018;
  t.wall_s = 13.5; t.place_wall_s = 14.5; t.sim_wall_s = 15.5; t.events_per_s = 16.5;
  t.sim_bytes = 1019; t.peak_rss_bytes = 1020; t.bound_cycles_wafer = 1021; t.bound_fraction = 17.5;
  std::unique_ptr<ws_table, void (*)(ws_table *)> tb(ws_run_totals_row(&t), ws_table_destroy);
  ASSERT_TRUE(tb);
  ASSERT_EQ(ws_table_rows(tb.get()), 1u);
  Json row(row_of(tb.get(), 0));
  size_t n = 0;
  ws_run_totals_columns(&n);
  EXPECT_EQ(json_object_size(row.j), n);
  expect_int(row.j, "cycles", 1001);
  expect_int(row.j, "fill_cycles", 1002);
  expect_int(row.j, "steady_interval", 1003);
  expect_int(row.j, "bound_cycles", 1004);
  expect_real(row.j, "seconds", 1.5);
  expect_real(row.j, "tokens_per_s", 2.5);
  expect_real(row.j, "flops_dense", 3.5);
  expect_real(row.j, "flops_executed", 4.5);
  expect_real(row.j, "flops_saved", 5.5);
  expect_real(row.j, "flops_reduction", 6.5);
  expect_real(row.j, "flops_simulated", 7.5);
  expect_real(row.j, "flops_per_s", 8.5);
  expect_real(row.j, "peak_flops_per_s", 9.5);
  expect_real(row.j, "peak_fraction", 10.5);
  expect_int(row.j, "params_dense", 1005);
  expect_int(row.j, "params", -1006);
  expect_int(row.j, "weight_bytes", 1007);
  expect_int(row.j, "macs", 1008);
  expect_int(row.j, "sram_max_bytes", 1009);
  expect_real(row.j, "sram_mean_bytes", 11.5);
  expect_int(row.j, "pes_used", 1010);
  expect_int(row.j, "pes_mesh", 1011);
  expect_real(row.j, "kernel_mix", 12.5);
  expect_int(row.j, "stages", 1012);
  expect_int(row.j, "micro_batch", 1013);
  expect_int(row.j, "micro_batches", 1014);
  expect_int(row.j, "placer_interval", 1015);
  expect_int(row.j, "events", 1016);
  expect_int(row.j, "wavelets_sent", 1017);
  expect_int(row.j, "link_wavelets", 1018);
  expect_real(row.j, "wall_s", 13.5);
  expect_real(row.j, "place_wall_s", 14.5);
  expect_real(row.j, "sim_wall_s", 15.5);
  expect_real(row.j, "events_per_s", 16.5);
  expect_int(row.j, "sim_bytes", 1019);
  expect_int(row.j, "peak_rss_bytes", 1020);
  expect_int(row.j, "bound_cycles_wafer", 1021);
  expect_real(row.j, "bound_fraction", 17.5);
}

// The same for an op row (strategy.h's strat_op), nested region included.
TEST(Columns, OpRowReadBackByName) {
  ws_run_op o[2];
  std::memset(o, 0, sizeof o);
  o[1].name = "L1.q";
  o[1].kind = "q";
  o[1].kernel = "sparse";
  o[1].layer = -3;
  o[1].region.x = 101; o[1].region.y = 102; o[1].region.w = 103; o[1].region.h = 104;
  o[1].pes = 105; o[1].sparse_pes = 106; o[1].busy_max = 107; o[1].utilisation = 0.25;
  o[1].nnz_max = 108; o[1].nnz_mean = 1.75; o[1].first = 109; o[1].cycles = 110; o[1].bound = 111;
  o[1].macs = 112; o[1].sram_max = 113; o[1].weight_bytes = 114; o[1].interval = 115;
  o[0] = o[1];
  o[0].name = "embed";
  std::unique_ptr<ws_table, void (*)(ws_table *)> tb(ws_run_ops_rows(o, 2), ws_table_destroy);
  ASSERT_TRUE(tb);
  ASSERT_EQ(ws_table_rows(tb.get()), 2u);
  Json first(row_of(tb.get(), 0)), row(row_of(tb.get(), 1));
  expect_str(first.j, "op", "embed");
  size_t n = 0;
  ws_run_ops_columns(&n);
  EXPECT_EQ(json_object_size(row.j), n);
  expect_str(row.j, "op", "L1.q");
  expect_str(row.j, "kind", "q");
  expect_str(row.j, "kernel", "sparse");
  expect_int(row.j, "layer", -3);
  expect_int(row.j, "x", 101);
  expect_int(row.j, "y", 102);
  expect_int(row.j, "w", 103);
  expect_int(row.j, "h", 104);
  expect_int(row.j, "pes", 105);
  expect_int(row.j, "busy_max", 107);
  expect_real(row.j, "utilisation", 0.25);
  expect_int(row.j, "nnz_max", 108);
  expect_real(row.j, "nnz_mean", 1.75);
  expect_int(row.j, "first", 109);
  expect_int(row.j, "cycles", 110);
  expect_int(row.j, "bound_cycles", 111);
  expect_int(row.j, "macs", 112);
  expect_int(row.j, "sram_max_bytes", 113);
  expect_int(row.j, "weight_bytes", 114);
  expect_int(row.j, "placer_interval", 115);
}

// The probe's row: each named cell from the field of that name, the
// derived ones by their definitions.
TEST(Columns, ProbeRowReadBackByName) {
  ws_probe_row p;
  std::memset(&p, 0, sizeof p);
  p.spec.pattern = (ws_probe_pattern)ws_probe_pattern_parse("allreduce");
  p.spec.wavelets = 201;
  p.spec.fabric.width = 7;
  p.spec.fabric.height = 9;
  p.spec.fabric.fidelity = FAB_WAVELET;
  p.res.cycles = 2000;
  p.res.bound = 203;
  p.res.bound_exact = 1;
  p.res.wall_s = 0.5;
  p.res.fabric.link_busy_max = 204;
  p.res.fabric.wavelets_sent = 205;
  p.res.fabric.wavelets_received = 206;
  p.res.fabric.link_wavelets = 207;
  p.res.fabric.colors_max = 208;
  p.res.fabric.bytes = 1000;
  p.res.engine.executed = 209;
  p.res.engine.bytes = 24;
  p.clock = 1000000000;
  std::unique_ptr<ws_table, void (*)(ws_table *)> tb(ws_probe_table(&p), ws_table_destroy);
  ASSERT_TRUE(tb);
  Json row(row_of(tb.get(), 0));
  expect_str(row.j, "pattern", "allreduce");
  expect_str(row.j, "mesh", "7x9");
  expect_int(row.j, "wavelets", 201);
  expect_str(row.j, "fidelity", "wavelet");
  expect_int(row.j, "cycles", 2000);
  expect_int(row.j, "link_busy_max", 204);
  expect_int(row.j, "events", 209);
  expect_real(row.j, "wall_s", 0.5);
  expect_int(row.j, "cycles_bound", 203);
  expect_str(row.j, "bound_exact", "yes");
  expect_real(row.j, "time_us", 2.0);
  expect_real(row.j, "events_per_s", 418.0);
  expect_int(row.j, "wavelets_sent", 205);
  expect_int(row.j, "wavelets_received", 206);
  expect_int(row.j, "link_wavelets", 207);
  expect_int(row.j, "colors_max", 208);
  expect_int(row.j, "memory_bytes", 1024);
}

namespace {

ws_config tiny_sparse(const std::vector<std::string> &sets) {
  ws_config c;
  char err[WS_CONFIG_ERR_MAX];
  EXPECT_EQ(ws_config_init_default(&c, err, sizeof err), 0) << err;
  EXPECT_EQ(ws_config_load_file(&c, wstest::source_path("tests/expected/tiny-sparse.yaml").c_str(), err, sizeof err),
            0)
      << err;
  for (const auto &s : sets) EXPECT_EQ(ws_config_set(&c, s.c_str(), err, sizeof err), 0) << err;
  EXPECT_EQ(ws_config_finish(&c, err, sizeof err), 0) << err;
  return c;
}

} // namespace

// A sweep's rows against runs of the same points, by name: the totals'
// columns are the run's fields, the derived ones their definitions
// (speedup = the dense point's cycles / the point's, params_reduction,
// micro_batch and sparse_setup from the point's configuration, value the
// --vary value), and every cell's JSON type is its column's.
TEST(Columns, SweepRowsReadBackByName) {
  const double levels[] = {0.5};
  const char *const values[] = {"8", "16"};
  ws_sweep_spec spec{};
  spec.levels = levels;
  spec.nlevels = 1;
  spec.key = "workload.micro_batch";
  spec.values = values;
  spec.nvalues = 2;
  spec.jobs = 1;
  ws_config base = tiny_sparse({"kernels.sparse_setup=3"});
  char err[512] = "";
  std::unique_ptr<ws_sweep, void (*)(ws_sweep *)> s(ws_sweep_run(&base, &spec, err, sizeof err), ws_sweep_destroy);
  ASSERT_TRUE(s) << err;
  std::unique_ptr<ws_table, void (*)(ws_table *)> tb(ws_sweep_table(s.get()), ws_table_destroy);
  ASSERT_TRUE(tb);
  ASSERT_EQ(ws_table_rows(tb.get()), 4u); // per value: dense, then 0.5
  size_t n = 0;
  const ws_column *cols = ws_sweep_columns(&n);
  size_t i = 0;
  for (const char *mb : values) {
    uint64_t dense_cycles = 0;
    for (const char *level : {"0", "0.5"}) {
      SCOPED_TRACE(std::string("micro_batch ") + mb + ", sparsity " + level);
      ws_config c = tiny_sparse({"kernels.sparse_setup=3", std::string("workload.micro_batch=") + mb,
                                 std::string("workload.sparsity=") + level});
      std::unique_ptr<ws_run, void (*)(ws_run *)> r(ws_run_simulate(&c, nullptr, nullptr, err, sizeof err),
                                                    ws_run_destroy);
      ASSERT_TRUE(r) << err;
      const ws_run_totals *t = ws_run_totals_of(r.get());
      if (dense_cycles == 0) dense_cycles = t->cycles;
      Json row(row_of(tb.get(), i++));
      EXPECT_EQ(json_object_size(row.j), n);
      for (size_t k = 0; k < n; k++) { // the type each column declares
        const json_t *x = json_object_get(row.j, cols[k].name);
        EXPECT_TRUE(cols[k].type == WS_COL_STR ? json_is_string(x)
                    : cols[k].type == WS_COL_F64 ? json_is_real(x)
                                                 : json_is_integer(x))
            << cols[k].name;
      }
      expect_real(row.j, "sparsity", std::atof(level));
      expect_int(row.j, "cycles", (int64_t)t->cycles);
      expect_real(row.j, "seconds", t->seconds);
      expect_real(row.j, "tokens_per_s", t->tokens_per_s);
      expect_real(row.j, "speedup", (double)dense_cycles / (double)t->cycles);
      expect_real(row.j, "flops_reduction", t->flops_reduction);
      expect_real(row.j, "params_reduction", (double)t->params_dense / (double)t->params);
      expect_int(row.j, "weight_bytes", (int64_t)t->weight_bytes);
      expect_int(row.j, "sram_max_bytes", (int64_t)t->sram_max);
      expect_int(row.j, "pes_used", (int64_t)t->pes_used);
      expect_real(row.j, "kernel_mix", t->kernel_mix);
      expect_int(row.j, "micro_batch", std::atoi(mb));
      expect_int(row.j, "sparse_setup", 3);
      expect_str(row.j, "value", mb);
      expect_int(row.j, "fill_cycles", (int64_t)t->fill_cycles);
      expect_int(row.j, "steady_interval", (int64_t)t->steady_interval);
      expect_int(row.j, "bound_cycles", (int64_t)t->bound);
      expect_int(row.j, "placer_interval", (int64_t)t->placer_interval);
      expect_real(row.j, "flops_dense", t->flops_dense);
      expect_real(row.j, "flops_executed", t->flops_executed);
      expect_real(row.j, "flops_per_s", t->flops_per_s);
      expect_real(row.j, "peak_fraction", t->peak_fraction);
      expect_int(row.j, "events", (int64_t)t->events);
      expect_real(row.j, "flops_simulated", t->flops_simulated);
      expect_int(row.j, "bound_cycles_wafer", (int64_t)t->bound_cycles_wafer);
      expect_real(row.j, "bound_fraction", t->bound_fraction);
      // host fields (wall_s, events_per_s, sim_wall_s, peak_rss_bytes) differ from run to run: typed above
    }
  }
}

// pes.csv (no schema): its header is its column table's names, in order,
// and every row has a cell per column with the figures of that PE: stage -1
// exactly where op is empty, busy_fraction = busy_cycles / the run's cycles
// with 4 decimals (the table's fixed-decimals column), one row per PE.
TEST(Columns, PesCsvFromItsColumns) {
  size_t n = 0;
  const ws_column *cols = ws_run_pes_columns(&n);
  ASSERT_EQ(n, 7u);
  std::string want;
  for (size_t c = 0; c < n; c++) want += std::string(c ? "," : "") + cols[c].name;
  EXPECT_EQ(want, "x,y,stage,op,busy_cycles,busy_fraction,sram_bytes"); // plots/heatmaps.gp reads by position
  const ws_column *bf = ws_column_find(cols, n, "busy_fraction");
  ASSERT_NE(bf, nullptr);
  EXPECT_EQ(bf->decimals, 4);

  ws_config c = tiny_sparse({});
  char err[512] = "";
  std::unique_ptr<ws_run, void (*)(ws_run *)> r(ws_run_simulate(&c, nullptr, nullptr, err, sizeof err),
                                                ws_run_destroy);
  ASSERT_TRUE(r) << err;
  const ws_run_totals *t = ws_run_totals_of(r.get());
  char *buf = nullptr;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(ws_run_write_pes(r.get(), f), 0);
  std::fclose(f);
  std::string text(buf, len);
  std::free(buf);
  std::vector<std::string> lines;
  for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(text.substr(at, nl - at));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], want);
  EXPECT_EQ(lines.size(), 1 + (size_t)t->pes_mesh);
  size_t used = 0;
  for (size_t i = 1; i < lines.size(); i++) {
    std::vector<std::string> cell;
    std::string::size_type at = 0, comma;
    while ((comma = lines[i].find(',', at)) != std::string::npos) {
      cell.push_back(lines[i].substr(at, comma - at));
      at = comma + 1;
    }
    cell.push_back(lines[i].substr(at));
    ASSERT_EQ(cell.size(), n) << lines[i];
    EXPECT_EQ(cell[2] == "-1", cell[3].empty()) << lines[i];
    used += cell[2] != "-1";
    char want_bf[32];
    std::snprintf(want_bf, sizeof want_bf, "%.4f", std::stod(cell[4]) / (double)t->cycles);
    EXPECT_EQ(cell[5], want_bf) << lines[i];
    EXPECT_EQ(cell[5].size() - cell[5].find('.'), 5u) << lines[i];
  }
  EXPECT_EQ(used, (size_t)t->pes_used);
}

// A fixed-decimals column: CSV with that many decimals, the JSON and text
// renderings exact as before; ws_table_clear keeps the columns, drops rows.
TEST(Columns, FixedDecimalsOnlyInCsv) {
  const char *const names[] = {"a", "b"};
  std::unique_ptr<ws_table, void (*)(ws_table *)> tb(ws_table_create(2, names), ws_table_destroy);
  ASSERT_TRUE(tb);
  ws_table_decimals(tb.get(), 0, 3);
  ASSERT_EQ(ws_table_row(tb.get()), 0);
  ws_table_f64(tb.get(), 0, 2.0 / 3.0);
  ws_table_f64(tb.get(), 1, 2.0 / 3.0);
  char *buf = nullptr;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(ws_table_write(tb.get(), WS_FORMAT_CSV, f), 0);
  std::fclose(f);
  EXPECT_EQ(std::string(buf, len), "a,b\n0.667,0.666666666666667\n");
  std::free(buf);
  Json row(row_of(tb.get(), 0));
  expect_real(row.j, "a", 2.0 / 3.0);
  ws_table_clear(tb.get());
  EXPECT_EQ(ws_table_rows(tb.get()), 0u);
  f = open_memstream(&buf, &len);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(ws_table_write(tb.get(), WS_FORMAT_CSV, f), 0);
  std::fclose(f);
  EXPECT_EQ(std::string(buf, len), "a,b\n");
  std::free(buf);
}

// The kernel report by name: L0.ffn_up of tiny-sparse on 4x2 PEs, the
// sparse kernel at sparsity 0, at batch 1 and 8 (3 micro-batches): batch 1 fits a PE's SRAM (simulated:
// cycles_interval and cycles_first set), batch 8 does not (those cells
// null, fits "no"); the closed forms of the region: pes = 8 (all sparse), and
// at sparsity 0 every tile holds K/2 x N/4 weights (nnz_max = nnz_mean), macs
// = K x N x batch.
TEST(Columns, KernelRowsReadBackByName) {
  ws_config c = tiny_sparse({});
  const uint32_t batches[] = {1, 8};
  const double levels[] = {0};
  const krn_kernel kernels[] = {KRN_SPARSE};
  ws_oprun_spec spec{};
  spec.op = "L0.ffn_up";
  spec.width = 4;
  spec.height = 2;
  spec.batches = batches;
  spec.nbatches = 2;
  spec.levels = levels;
  spec.nlevels = 1;
  spec.kernels = kernels;
  spec.nkernels = 1;
  spec.micro_batches = 3;
  char err[512] = "";
  std::unique_ptr<ws_table, void (*)(ws_table *)> tb(ws_oprun(&c, &spec, err, sizeof err), ws_table_destroy);
  ASSERT_TRUE(tb) << err;
  ASSERT_EQ(ws_table_rows(tb.get()), 2u);
  const int64_t K = 128, N = 512; // tiny-sparse: d_model 128, d_ff 512
  for (size_t i = 0; i < 2; i++) {
    SCOPED_TRACE(i);
    Json row(row_of(tb.get(), i));
    expect_str(row.j, "op", "L0.ffn_up");
    expect_str(row.j, "region", "4x2");
    expect_int(row.j, "pes", 8);
    expect_int(row.j, "batch", batches[i]);
    expect_real(row.j, "sparsity", 0.0);
    expect_str(row.j, "kernel", "sparse");
    expect_int(row.j, "nnz_max", K / 2 * (N / 4));
    expect_real(row.j, "nnz_mean", (double)(K / 2 * (N / 4)));
    expect_int(row.j, "sparse_pes", 8);
    expect_int(row.j, "macs_per_microbatch", K * N * batches[i]);
    const bool fits = i == 0;
    expect_str(row.j, "fits", fits ? "yes" : "no");
    for (const char *k : {"cycles_interval", "cycles_first"})
      EXPECT_TRUE(fits ? json_is_integer(json_object_get(row.j, k)) : json_is_null(json_object_get(row.j, k))) << k;
    EXPECT_TRUE(json_is_integer(json_object_get(row.j, "interval_model")));
    EXPECT_GT(json_integer_value(json_object_get(row.j, "cycles_pe_max")), 0);
  }
}

// The models report by name: one row per preset, its dimensions those of
// mdl_gpt_preset, params_sparsifiable the closed form (q, k, v, o and the
// two or three FFN weights: below), and
// weight_bytes_dense 2 bytes (fp16) per parameter.
TEST(Columns, ModelRowsReadBackByName) {
  char err[256] = "";
  std::unique_ptr<ws_table, void (*)(ws_table *)> tb(ws_models_table(err, sizeof err), ws_table_destroy);
  ASSERT_TRUE(tb) << err;
  ASSERT_EQ(ws_table_rows(tb.get()), mdl_gpt_preset_count());
  for (size_t i = 0; i < mdl_gpt_preset_count(); i++) {
    mdl_gpt m;
    mdl_gpt_preset(mdl_gpt_preset_name(i), &m);
    SCOPED_TRACE(m.name);
    Json row(row_of(tb.get(), i));
    expect_str(row.j, "model", m.name);
    expect_int(row.j, "layers", m.layers);
    expect_int(row.j, "d_model", m.d_model);
    expect_int(row.j, "heads", m.heads);
    expect_int(row.j, "d_head", m.d_head);
    expect_int(row.j, "d_ff", m.d_ff);
    expect_int(row.j, "vocab", m.vocab);
    expect_int(row.j, "context", m.context);
    // q and o d x d, k and v d x (kv_heads d_head), and the feed-forward's two (GPT) or three (Llama) d x d_ff
    const int64_t dkv = m.kv_heads * m.d_head, ffn = m.arch == MDL_ARCH_LLAMA ? 3 : 2;
    const int64_t sparsifiable = m.layers * (2 * m.d_model * m.d_model + 2 * m.d_model * dkv + ffn * m.d_model * m.d_ff);
    expect_int(row.j, "params_sparsifiable", sparsifiable);
    const int64_t params = json_integer_value(json_object_get(row.j, "params"));
    expect_int(row.j, "weight_bytes_dense", 2 * params);
    EXPECT_GT(params, sparsifiable + m.vocab * m.d_model);
    expect_str(row.j, "arch", mdl_arch_name(m.arch));
    expect_int(row.j, "kv_heads", m.kv_heads);
  }
}

namespace {

// The flops table of tiny-sparse at the given levels and granularity
// (tiled 4 x 2 when tiled), NULL with a failure.
ws_table *flops_of(ws_flops_per per, std::vector<double> levels, bool tiled) {
  ws_config c = tiny_sparse({});
  ws_flops_spec spec{};
  spec.levels = levels.data();
  spec.nlevels = levels.size();
  spec.per = per;
  spec.tile_w = tiled ? 4 : 0;
  spec.tile_h = tiled ? 2 : 0;
  char err[512] = "";
  ws_table *t = ws_flops_table(&c, &spec, err, sizeof err);
  EXPECT_NE(t, nullptr) << err;
  return t;
}

} // namespace

// flops --per op by name, tiny-sparse (d_model 128, sequence 128) at 0.5,
// tiled 4 x 2: L0.q is 128 x 128 x 128, 2 m k n FLOPs dense, half of them
// sparse (its mask keeps 8192 of 16384), flops_saved and the reductions
// their definitions, 8192 / 8 nonzeros per tile on average and the
// imbalance max / mean; L0.ln1 has no weight: its tile cells null.
TEST(Columns, FlopsOpRowsReadBackByName) {
  std::unique_ptr<ws_table, void (*)(ws_table *)> tb(flops_of(WS_PER_OP, {0.5}, true), ws_table_destroy);
  ASSERT_TRUE(tb);
  Json rows(ws_table_json(tb.get()));
  const json_t *q = nullptr, *ln = nullptr;
  for (size_t i = 0; i < json_array_size(rows.j); i++) {
    const char *op = json_string_value(json_object_get(json_array_get(rows.j, i), "op"));
    if (std::strcmp(op, "L0.q") == 0) q = json_array_get(rows.j, i);
    if (std::strcmp(op, "L0.ln1") == 0) ln = json_array_get(rows.j, i);
  }
  ASSERT_NE(q, nullptr);
  ASSERT_NE(ln, nullptr);
  size_t n = 0, ntile = 0;
  ws_flops_columns(WS_PER_OP, &n, &ntile);
  EXPECT_EQ(json_object_size(q), n);
  expect_str(q, "model", "custom");
  expect_real(q, "sparsity", 0.5);
  expect_int(q, "layer", 0);
  expect_str(q, "kind", "q");
  expect_int(q, "m", 128);
  expect_int(q, "k", 128);
  expect_int(q, "n", 128);
  expect_str(q, "sparsifiable", "yes");
  expect_str(q, "inference", "yes");
  expect_str(q, "inputs", "L0.ln1");
  expect_int(q, "flops_dense", 2 * 128 * 128 * 128);
  expect_int(q, "flops_sparse", 128 * 128 * 128);
  expect_int(q, "flops_saved", 128 * 128 * 128);
  expect_real(q, "flops_reduction", 2.0);
  expect_int(q, "weight_nnz", 8192);
  const double pd = (double)json_integer_value(json_object_get(q, "params_dense")),
               ps = (double)json_integer_value(json_object_get(q, "params_sparse"));
  expect_real(q, "params_reduction", pd / ps);
  expect_real(q, "tile_nnz_mean", 1024.0);
  expect_real(q, "tile_imbalance", (double)json_integer_value(json_object_get(q, "tile_nnz_max")) / 1024.0);
  EXPECT_LE(json_integer_value(json_object_get(q, "tile_nnz_min")), 1024);
  expect_str(ln, "kind", "layernorm");
  expect_str(ln, "sparsifiable", "no");
  for (const char *k : {"tile_nnz_max", "tile_nnz_mean", "tile_nnz_min", "tile_imbalance"})
    EXPECT_TRUE(json_is_null(json_object_get(ln, k))) << k;
}

// Without a tiling the tile columns are left out (the last ntile of each
// granularity's table); totals: one row per level, seq_len the sequence,
// --per kind: the ops of a kind counted (2 blocks: 2 q ops).
TEST(Columns, FlopsTotalsAndKindsByName) {
  std::unique_ptr<ws_table, void (*)(ws_table *)> tot(flops_of(WS_PER_TOTAL, {0, 0.5}, false), ws_table_destroy);
  ASSERT_TRUE(tot);
  ASSERT_EQ(ws_table_rows(tot.get()), 2u);
  size_t n = 0, ntile = 0;
  ws_flops_columns(WS_PER_TOTAL, &n, &ntile);
  EXPECT_EQ(ntile, 4u);
  for (size_t i = 0; i < 2; i++) {
    Json row(row_of(tot.get(), i));
    EXPECT_EQ(json_object_size(row.j), n - ntile);
    EXPECT_EQ(json_object_get(row.j, "tile_nnz_max"), nullptr);
    expect_real(row.j, "sparsity", i == 0 ? 0.0 : 0.5);
    expect_int(row.j, "seq_len", 128);
    const int64_t d = json_integer_value(json_object_get(row.j, "flops_dense")),
                  sp = json_integer_value(json_object_get(row.j, "flops_sparse"));
    expect_int(row.j, "flops_saved", d - sp);
    expect_real(row.j, "flops_reduction", (double)d / (double)sp);
  }
  std::unique_ptr<ws_table, void (*)(ws_table *)> kinds(flops_of(WS_PER_KIND, {0.5}, false), ws_table_destroy);
  ASSERT_TRUE(kinds);
  Json rows(ws_table_json(kinds.get()));
  bool seen = false;
  for (size_t i = 0; i < json_array_size(rows.j); i++) {
    const json_t *r = json_array_get(rows.j, i);
    if (std::strcmp(json_string_value(json_object_get(r, "kind")), "q") != 0) continue;
    seen = true;
    expect_int(r, "ops", 2);
    expect_str(r, "inference", "yes");
    expect_int(r, "flops_dense", 2 * 2 * 128 * 128 * 128);
  }
  EXPECT_TRUE(seen);
}

// place --map (no schema): its header is its column table's names, and it
// has a row per PE of the mesh, the op empty exactly on the PEs no stage
// holds (as many as the mesh's PEs less the stages' regions).
TEST(Columns, PlaceMapFromItsColumns) {
  size_t n = 0;
  const ws_column *cols = ws_place_map_columns(&n);
  std::string want;
  for (size_t c = 0; c < n; c++) want += std::string(c ? "," : "") + cols[c].name;
  EXPECT_EQ(want, "x,y,op");
  ws_config c = tiny_sparse({});
  char err[512] = "";
  std::unique_ptr<ws_placement, void (*)(ws_placement *)> p(ws_place(&c, err, sizeof err), ws_placement_destroy);
  ASSERT_TRUE(p) << err;
  char *buf = nullptr;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(ws_place_write_map(p.get(), f), 0);
  std::fclose(f);
  std::string text(buf, len);
  std::free(buf);
  size_t lines = 0, unused = 0, at = 0;
  for (size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1, lines++) {
    const std::string line = text.substr(at, nl - at);
    if (lines == 0) {
      EXPECT_EQ(line, want);
      continue;
    }
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), 2) << line;
    unused += line.back() == ',';
  }
  uint64_t held = 0;
  for (uint32_t i = 0; i < ws_placement_count(p.get()); i++) {
    const fab_rect &r = ws_placement_stage(p.get(), i)->stage.region;
    held += (uint64_t)r.w * r.h;
  }
  const uint64_t mesh = (uint64_t)c.fabric.width * c.fabric.height;
  EXPECT_EQ(lines, 1 + mesh);
  EXPECT_EQ(unused, mesh - held);
}
