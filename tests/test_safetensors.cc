// Masks from .safetensors files: weights of every float dtype pruned by
// magnitude (checked against a sort), masks used as they are, both layouts,
// every malformed file a clear error, and a whole model's masks from a file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "models/account.h"
#include "models/graph.h"
#include "workloads/safetensors.h"
#include "workloads/weights.h"
#include "ws_test.h"

namespace {

struct Tensor {
  std::string name, dtype;
  std::vector<uint64_t> shape;
  std::string bytes;
};

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; i++) s[i] = (char)(v >> (8 * i));
  return s;
}

// A safetensors file: the length, the JSON header padded to 8 bytes, the data.
std::string safetensors(const std::vector<Tensor> &ts) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}", data;
  for (const Tensor &t : ts) {
    header += ",\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); i++) header += (i ? "," : "") + std::to_string(t.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(data.size()) + "," + std::to_string(data.size() + t.bytes.size()) + "]}";
    data += t.bytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  return le64(header.size()) + header + data;
}

std::string raw(const std::string &header, const std::string &data) { return le64(header.size()) + header + data; }
std::string cut(const std::string &file, size_t bytes) { return file.substr(0, file.size() - bytes); }

double half_value(uint16_t h) {  // IEEE binary16, finite
  const int e = (h >> 10) & 0x1F, m = h & 0x3FF;
  const double v = e ? std::ldexp(1.0 + m / 1024.0, e - 15) : std::ldexp(m / 1024.0, -14);
  return h & 0x8000 ? -v : v;
}

// Random finite values of a dtype: the file's bytes and their magnitudes.
void random_values(const std::string &dtype, size_t n, uint32_t seed, std::string *bytes, std::vector<double> *mag) {
  std::mt19937 rng(seed);
  bytes->clear();
  mag->clear();
  for (size_t i = 0; i < n; i++) {
    if (dtype == "F32") {
      float f = std::ldexp((float)(rng() % 100000) / 1e5f, (int)(rng() % 20) - 10) * (rng() % 2 ? 1 : -1);
      uint32_t b;
      std::memcpy(&b, &f, 4);
      for (int k = 0; k < 4; k++) bytes->push_back((char)(b >> (8 * k)));
      mag->push_back(std::fabs((double)f));
    } else {
      uint16_t b;
      do b = (uint16_t)rng();
      while (dtype == "F16" ? ((b >> 10) & 0x1F) == 0x1F : ((b >> 7) & 0xFF) == 0xFF);  // no Inf or NaN
      bytes->push_back((char)(b & 0xFF));
      bytes->push_back((char)(b >> 8));
      if (dtype == "F16") {
        mag->push_back(std::fabs(half_value(b)));
      } else {
        const uint32_t f32 = (uint32_t)b << 16;
        float f;
        std::memcpy(&f, &f32, 4);
        mag->push_back(std::fabs((double)f));
      }
    }
  }
}

// The same tensor stored N x K: element (k, n) at n * K + k.
std::string transpose(const std::string &bytes, size_t K, size_t N, size_t width) {
  std::string out(bytes.size(), '\0');
  for (size_t k = 0; k < K; k++)
    for (size_t n = 0; n < N; n++) out.replace((n * K + k) * width, width, bytes, (k * N + n) * width, width);
  return out;
}

using Mask = std::unique_ptr<wl_mask, void (*)(wl_mask *)>;
using File = std::unique_ptr<wl_st, void (*)(wl_st *)>;

File open_st(const std::string &path) {
  char err[512] = "";
  wl_st *f = wl_st_open(path.c_str(), err, sizeof err);
  EXPECT_NE(f, nullptr) << err;
  return File(f, wl_st_close);
}

Mask mask_of(wl_st *f, const char *name, uint32_t K, uint32_t N, wl_layout layout, double density) {
  char err[512] = "";
  wl_mask *m = wl_st_mask(f, name, K, N, layout, density, err, sizeof err);
  EXPECT_NE(m, nullptr) << err;
  return Mask(m, wl_mask_destroy);
}

TEST(Safetensors, FloatWeightsArePrunedByMagnitudeInEitherLayout) {
  const uint32_t K = 24, N = 37;
  for (const char *dtype : {"F32", "F16", "BF16"}) {
    std::string bytes;
    std::vector<double> mag;
    random_values(dtype, K * N, 5, &bytes, &mag);
    const size_t width = std::string(dtype) == "F32" ? 4 : 2;
    const std::string path = wstest::write_temp(std::string("w_") + dtype + ".safetensors",
                                                safetensors({{"w", dtype, {K, N}, bytes},
                                                             {"wt", dtype, {N, K}, transpose(bytes, K, N, width)}}));
    File f = open_st(path);
    std::vector<size_t> order(K * N);  // by magnitude, largest first, ties to the lower index
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return mag[a] > mag[b]; });
    for (double density : {1.0, 0.5, 0.16, 0.0}) {
      Mask m = mask_of(f.get(), "w", K, N, WL_LAYOUT_KN, density);
      Mask t = mask_of(f.get(), "wt", K, N, WL_LAYOUT_NK, density);
      const size_t keep = (size_t)std::llround(density * K * N);
      ASSERT_EQ(wl_mask_nnz(m.get()), keep) << dtype;
      std::vector<bool> want(K * N, false);
      for (size_t i = 0; i < keep; i++) want[order[i]] = true;
      for (size_t i = 0; i < K * N; i++) {
        ASSERT_EQ(wl_mask_get(m.get(), (uint32_t)(i / N), (uint32_t)(i % N)), want[i]) << dtype << " " << i;
        ASSERT_EQ(wl_mask_get(t.get(), (uint32_t)(i / N), (uint32_t)(i % N)), want[i]) << dtype << " nk " << i;
      }
    }
  }
}

TEST(Safetensors, U8AndBoolMasksAreUsedAsTheyAre) {
  const uint32_t K = 9, N = 70;
  std::mt19937 rng(3);
  std::string u8, b;
  for (uint32_t i = 0; i < K * N; i++) {
    u8.push_back((char)(rng() % 4));
    b.push_back((char)(rng() % 2));
  }
  const std::string path = wstest::write_temp(
      "m.safetensors", safetensors({{"u", "U8", {K, N}, u8}, {"b", "BOOL", {N, K}, transpose(b, K, N, 1)}}));
  File f = open_st(path);
  Mask u = mask_of(f.get(), "u", K, N, WL_LAYOUT_KN, 0.5);  // the density does not matter
  Mask m = mask_of(f.get(), "b", K, N, WL_LAYOUT_NK, 0.5);
  uint64_t nu = 0, nb = 0;
  for (uint32_t i = 0; i < K * N; i++) {
    EXPECT_EQ(wl_mask_get(u.get(), i / N, i % N), u8[i] != 0) << i;
    EXPECT_EQ(wl_mask_get(m.get(), i / N, i % N), b[i] != 0) << i;
    nu += u8[i] != 0;
    nb += b[i] != 0;
  }
  EXPECT_EQ(wl_mask_nnz(u.get()), nu);
  EXPECT_EQ(wl_mask_nnz(m.get()), nb);
}

TEST(Safetensors, MalformedFilesGiveClearErrors) {
  const std::string f32_6(24, '\0');
  std::string nan = f32_6;
  const float qnan = NAN;
  std::memcpy(&nan[16], &qnan, 4);
  const struct {
    const char *name;
    std::string file;
    const char *want;  // in the message of opening, or of reading tensor "w" as 2 x 3
  } bad[] = {
      {"short", "abc", "3 bytes, shorter than the 8-byte header length: truncated or not safetensors"},
      {"long_header", le64(1000) + "{}", "a header of 1000 bytes does not fit in 10 bytes: truncated"},
      {"huge_header", le64(UINT64_C(1) << 40) + "{}", "nor in the format's 100 MiB"},
      {"not_json", raw("{\"w\": [1, 2", ""), "header is not JSON: 1:"},
      {"dup", raw("{\"w\":{},\"w\":{}}", ""), "header is not JSON"},
      {"not_object", raw("[1, 2]", ""), "header: expected a JSON object of tensors"},
      {"no_offsets", raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3]}}", f32_6), "tensor 'w': expected {\"dtype\""},
      {"bad_dtype", safetensors({{"w", "F17", {2, 3}, f32_6}}), "tensor 'w': unknown dtype 'F17'"},
      {"bad_dim", raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,24]}}", f32_6), "shape[1] is not a dimension"},
      {"bad_offsets", raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[24,0]}}", f32_6), "begin <= end"},
      {"truncated", cut(safetensors({{"w", "F32", {2, 3}, f32_6}}), 4), "end at 24, past the 20 data bytes: truncated"},
      {"size_mismatch", safetensors({{"w", "F32", {2, 3}, std::string(20, '\0')}}), "20 bytes of data for a F32 tensor of 6 elements"},
      {"wrong_dtype", safetensors({{"w", "I32", {2, 3}, f32_6}}), "tensor 'w': dtype I32; expected F32, F16 or BF16 weights, or U8 or BOOL masks"},
      {"wrong_shape", safetensors({{"w", "F32", {3, 2, 1}, f32_6}}), "tensor 'w': shape [3, 2, 1]; the weight is K x N = 2 x 3, stored [2, 3] (layout kn)"},
      {"swapped", safetensors({{"w", "F32", {3, 2}, f32_6}}), "it looks stored N x K: set workload.file.layout: nk"},
      {"nan", safetensors({{"w", "F32", {2, 3}, nan}}), "tensor 'w': element 4 is NaN"},
      {"missing", safetensors({{"v", "F32", {2, 3}, f32_6}}), "tensor 'w': not in the file (it has 1 tensors, e.g. v)"},
  };
  for (const auto &b : bad) {
    const std::string path = wstest::write_temp(std::string("bad_") + b.name + ".safetensors", b.file);
    char err[512] = "";
    wl_st *f = wl_st_open(path.c_str(), err, sizeof err);
    wl_mask *m = f ? wl_st_mask(f, "w", 2, 3, WL_LAYOUT_KN, 0.5, err, sizeof err) : nullptr;
    EXPECT_EQ(m, nullptr) << b.name;
    wl_mask_destroy(m);
    wl_st_close(f);
    EXPECT_NE(std::string(err).find(b.want), std::string::npos) << b.name << ": " << err;
    EXPECT_EQ(std::string(err).rfind(path, 0), 0u) << "names the file: " << err;
  }
  char err[512];
  EXPECT_EQ(wl_st_open("/nonexistent/w.safetensors", err, sizeof err), nullptr);
  EXPECT_STREQ(err, "/nonexistent/w.safetensors: cannot open: No such file or directory");
  const std::string dir = wstest::source_path("tests");
  EXPECT_EQ(wl_st_open(dir.c_str(), err, sizeof err), nullptr);
  EXPECT_EQ(std::string(err), dir + ": is a directory; expected a regular safetensors file");
}

// Corrupted bytes anywhere (length, header, data) give a mask or a message
// that names the file; never a crash (this suite also runs under ASan).
TEST(Safetensors, CorruptedFilesAreReadOrRefusedNeverCrash) {
  std::string bytes;
  std::vector<double> mag;
  random_values("F16", 6, 1, &bytes, &mag);
  const std::string good = safetensors({{"w", "F16", {2, 3}, bytes}, {"m", "U8", {2, 3}, std::string(6, '\1')}});
  std::mt19937 rng(12);
  int refused = 0;
  for (int i = 0; i < 400; i++) {
    std::string f = good;
    for (int k = 0, n = 1 + (int)(rng() % 3); k < n; k++) f[rng() % f.size()] = (char)rng();
    if (rng() % 4 == 0) f.resize(rng() % f.size());
    const std::string path = wstest::write_temp("fuzz.safetensors", f);
    char err[512] = "";
    wl_st *st = wl_st_open(path.c_str(), err, sizeof err);
    wl_mask *m = st ? wl_st_mask(st, "w", 2, 3, WL_LAYOUT_KN, 0.5, err, sizeof err) : nullptr;
    if (m) {
      EXPECT_EQ(wl_mask_nnz(m), 3u);
    } else {
      refused++;
      EXPECT_EQ(std::string(err).rfind(path + ": ", 0), 0u) << err;
    }
    wl_mask_destroy(m);
    wl_st_close(st);
  }
  EXPECT_GT(refused, 100);
}

// A small model's every sparse weight from one file, through the configuration.
TEST(Safetensors, AModelsMasksComeFromTheFileTheConfigurationNames) {
  mdl_gpt gpt{"custom", 2, 32, 2, 16, 128, 100, 16, MDL_ARCH_GPT, 2, 0};
  char err[512] = "";
  std::unique_ptr<mdl_graph, void (*)(mdl_graph *)> g(mdl_graph_build(&gpt, 16, err, sizeof err), mdl_graph_destroy);
  ASSERT_NE(g, nullptr) << err;
  std::vector<Tensor> ts;
  std::string yaml =
      "schema_version: 1\nmodel: {preset: custom, layers: 2, d_model: 32, heads: 2, d_ff: 128, vocab: 100, "
      "context: 16}\nworkload:\n  seq_len: 16\n  sparsity: 0.75\n  pattern: file\n  file:\n    tensors:\n";
  for (size_t i = 0; i < mdl_graph_op_count(g.get()); i++) {
    const mdl_op *op = mdl_graph_op(g.get(), i);
    if (!op->sparsifiable) continue;
    Tensor t{std::string("h.") + op->name + ".weight", "F16", {(uint64_t)op->weight_rows, (uint64_t)op->weight_cols}, ""};
    std::vector<double> mag;
    random_values("F16", (size_t)(op->weight_rows * op->weight_cols), (uint32_t)i, &t.bytes, &mag);
    yaml += "      \"" + t.name + "\": " + op->name + "\n";
    ts.push_back(t);
  }
  const std::string path = wstest::write_temp("model.safetensors", safetensors(ts));
  yaml += "    path: " + path + "\n";
  const std::string cfg = wstest::write_temp("model_file.yaml", yaml);
  auto r = wstest::run_cli({"flops", cfg, "--per", "op", "--tiling", "2x2", "--format", "csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(",L1.ffn_down,"), std::string::npos) << r.out;
  // The nonzeros are the masks': exactly a quarter of every sparse weight.
  wl_sparsity s = wl_sparsity_uniform(0.75);
  wl_file_spec fs{};
  std::snprintf(fs.path, sizeof fs.path, "%s", path.c_str());
  fs.ntensors = (uint32_t)ts.size();
  for (size_t i = 0, j = 0; i < mdl_graph_op_count(g.get()); i++)
    if (mdl_graph_op(g.get(), i)->sparsifiable) {
      std::snprintf(fs.tensors[j].tensor, sizeof fs.tensors[j].tensor, "%s", ts[j].name.c_str());
      std::snprintf(fs.tensors[j].op, sizeof fs.tensors[j].op, "%s", mdl_graph_op(g.get(), i)->name);
      j++;
    }
  wl_pattern p{};
  p.kind = WL_PATTERN_FILE;
  const wl_spec spec{&s, p, &fs, 1, 2};
  std::unique_ptr<wl_weights, void (*)(wl_weights *)> w(wl_weights_build(g.get(), &spec, err, sizeof err),
                                                        wl_weights_destroy);
  ASSERT_NE(w, nullptr) << err;
  for (size_t i = 0; i < mdl_graph_op_count(g.get()); i++) {
    const mdl_op *op = mdl_graph_op(g.get(), i);
    if (!op->sparsifiable) continue;
    EXPECT_EQ((int64_t)wl_mask_nnz(wl_weights_mask(w.get(), i)), mdl_nnz(op->weight_rows * op->weight_cols, 0.25));
    const std::string row = "," + std::string(op->name) + ",";
    const size_t at = r.out.find(row);
    ASSERT_NE(at, std::string::npos) << op->name;
  }
  // A tensor that is not the op's weight names the op, tensor and shape.
  std::swap(fs.tensors[0].tensor, fs.tensors[4].tensor);  // L0.q <-> L0.ffn_up
  EXPECT_EQ(wl_weights_build(g.get(), &spec, err, sizeof err), nullptr);
  EXPECT_NE(std::string(err).find("op L0.q: " + path + ": tensor 'h.L0.ffn_up.weight': shape [32, 128]"),
            std::string::npos)
      << err;
}

}  // namespace
