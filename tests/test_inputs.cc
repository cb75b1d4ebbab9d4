// Input that must never be silently accepted or badly reported (issue 16):
// map entries spelled two ways, values cut by fixed buffers, formats a
// command cannot write, deep nesting and oversized files, non-regular input
// files, safetensors data ranges, repeated rows in check's documents, and
// messages that are whole and blame the right source.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/config.h"
#include "sim/schema.h"
#include "workloads/infile.h"
#include "workloads/safetensors.h"
#include "ws_test.h"

using wstest::run_cli;

namespace {

// The message of loading yaml (named t.yaml) on top of the default; "" if it loads.
std::string load_error(const std::string &yaml) {
  ws_config c;
  char err[WS_CONFIG_ERR_MAX];
  EXPECT_EQ(ws_config_init_default(&c, err, sizeof err), 0) << err;
  if (ws_config_load_string(&c, yaml.data(), yaml.size(), "t.yaml", err, sizeof err) == 0) return "";
  return err;
}

// Runs fn in a child process that is killed after `seconds`; its text
// result comes back through a pipe. "(blocked)" if it did not finish: an
// open that blocks fails the test instead of hanging the suite.
template <typename F>
std::string in_child(F fn, unsigned seconds = 5) {
  int fds[2];
  if (pipe(fds) != 0) return "(pipe)";
  fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm(seconds);
    const std::string r = fn();
    if (write(fds[1], r.data(), r.size()) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, (size_t)n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return "(blocked)";
  return out;
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; i++) s[i] = (char)(v >> (8 * i));
  return s;
}

// A safetensors file from its header text and data bytes.
std::string raw(const std::string &header, const std::string &data) { return le64(header.size()) + header + data; }

// The error of opening a safetensors file with these bytes; "" if it opens.
std::string st_error(const std::string &name, const std::string &bytes) {
  const std::string path = wstest::write_temp(name, bytes);
  char err[512];
  wl_st *f = wl_st_open(path.c_str(), err, sizeof err);
  if (f) {
    wl_st_close(f);
    return "";
  }
  return std::string(err).substr(path.size() + 2);  // without "PATH: "
}

std::string json_text(json_t *doc) {
  char *s = json_dumps(doc, JSON_INDENT(1));
  std::string r = s ? s : "";
  free(s);
  return r;
}

// A copy of a baseline in tests/expected, changed by edit, written to a temp file.
template <typename F>
std::string edited_baseline(const std::string &from, const std::string &to, F edit) {
  json_error_t je;
  json_t *doc = json_load_file(wstest::source_path("tests/expected/" + from).c_str(), 0, &je);
  EXPECT_NE(doc, nullptr) << je.text;
  edit(doc);
  const std::string path = wstest::write_temp(to, json_text(doc));
  json_decref(doc);
  return path;
}

}  // namespace

// 1. Map entries are compared by what they name: layer 1 written as 1, 01,
// 1.0 or 1e0 is one entry, given twice in one mapping is an error naming
// both spellings and where; a --set of one entry over a file's map is an
// override, not a duplicate.
TEST(Inputs, MapEntriesAreComparedInCanonicalForm) {
  EXPECT_EQ(load_error("schema_version: 1\nworkload:\n  sparsity_by_layer: {1: 0.5, 01: 0.6}\n"),
            "t.yaml:3:31: workload.sparsity_by_layer.01: given twice: '1' (at 3:23) and '01' both name entry 1");
  EXPECT_EQ(load_error("schema_version: 1\nworkload:\n  sparsity_by_layer:\n    1.0: 0.5\n    1e0: 0.6\n"),
            "t.yaml:5:5: workload.sparsity_by_layer.1e0: given twice: '1.0' (at 4:5) and '1e0' both name entry 1");
  EXPECT_EQ(load_error("schema_version: 1\nworkload:\n  sparsity_by_layer: {2: 0.5, 2: 0.6}\n"),
            "t.yaml:3:31: workload.sparsity_by_layer.2: given twice (first at 3:23)");
  EXPECT_EQ(load_error("schema_version: 1\nworkload:\n  file: {tensors: {w: L0.q, \"w\": L0.k}}\n"),
            "t.yaml:3:29: workload.file.tensors.w: given twice (first at 3:20)");
  EXPECT_EQ(load_error("schema_version: 1\nworkload:\n  sparsity_by_kind: {q: 0.5, \"q\": 0.6}\n"),
            "t.yaml:3:35: workload.sparsity_by_kind.q: given twice");
  // Different entries load, each under its canonical number.
  ws_config c = wstest::config({}, "schema_version: 1\nworkload:\n  sparsity_by_layer: {01: 0.5, 2.0: 0.25}\n");
  EXPECT_EQ(c.workload.by_layer[1], 0.5);
  EXPECT_EQ(c.workload.by_layer[2], 0.25);
  // --set on top of a file's map overrides the entry, however it is spelled.
  c = wstest::config({"workload.sparsity_by_layer.01=0.75"},
                     "schema_version: 1\nworkload:\n  sparsity_by_layer: {1: 0.5, 2: 0.25}\n");
  EXPECT_EQ(c.workload.by_layer[1], 0.75);
  EXPECT_EQ(c.workload.by_layer[2], 0.25);
  EXPECT_TRUE(std::isnan(c.workload.by_layer[0]));
}

// 2. No user text is cut by a fixed buffer: --mesh's width is read whole
// (64e0...01 is 640; cut at 31 characters it was 64), a long --set key
// is named in full, a --schedule value longer than 127 characters is read
// whole, an unknown long option is named in full.
TEST(Inputs, NoOptionValueIsCutShort) {
  auto r = run_cli({"probe", "unicast", "--mesh", "64e00000000000000000000000000001x64", "--wavelets", "1",
                    "--format", "csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(",640x64,"), std::string::npos) << r.out;

  const std::string key = "fabric." + std::string(300, 'z');
  r = run_cli({"config", "--set", key + "=1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("wafersim: --set " + key + ": unknown key; expected one of: width, height", 0), 0u) << r.err;

  // Leading zeros: "0000...0.84" is 0.84; cut at 127 characters it was 0.
  const std::string target = std::string(200, '0') + "0.84";
  r = run_cli({"flops", "--format", "csv", "--schedule", "0.2," + target});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, run_cli({"flops", "--format", "csv", "--schedule", "0.2,0.84"}).out);

  // A YAML "\0" escape would cut a value at the NUL ("nm\0junk" was nm).
  EXPECT_EQ(load_error("schema_version: 1\nworkload:\n  pattern: \"nm\\0junk\"\n"),
            "t.yaml:3:12: a NUL character (\\0) after 'nm'; expected text without one");
  EXPECT_EQ(load_error("schema_version: 1\nworkload:\n  \"pattern\\0x\": nm\n"),
            "t.yaml:3:3: a NUL character (\\0) after 'pattern'; expected text without one");

  const std::string opt = "--" + std::string(60, 'q');
  r = run_cli({"flops", opt + "=1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "wafersim flops: unknown option '" + opt + "'; see 'wafersim flops --help'\n");
}

// 3. A command refuses an output format it cannot write, naming where it
// was asked for and the formats it writes; the others still write all three.
TEST(Inputs, CommandsRefuseFormatsTheyCannotWrite) {
  auto r = run_cli({"config", "--format", "csv"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "wafersim config: --format csv: config writes table or json, not csv\n");
  r = run_cli({"config", "--set", "output.format=csv"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "wafersim config: --set output.format=csv: config writes table or json, not csv\n");
  const std::string file = wstest::write_temp("csv.yaml", "schema_version: 1\noutput:\n  format: csv\n");
  r = run_cli({"config", file});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "wafersim config: " + file + ":3:11: output.format: config writes table or json, not csv\n");
  // The same file with a format config writes is fine.
  r = run_cli({"config", file, "--format", "json"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("{", 0), 0u);
  for (const char *cmd : {"flops", "models"})
    for (const char *f : {"table", "csv", "json"}) {
      r = run_cli({cmd, "--format", f});
      EXPECT_EQ(r.status, 0) << cmd << " " << f << ": " << r.err;
    }
  // check has its own --format (text, github).
  r = run_cli({"check", "--baseline", wstest::source_path("tests/expected/tiny-dense.json"), "--format", "csv"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "wafersim check: --format: expected text or github, got 'csv'\n");
}

// 4. Nesting deeper than WS_CONFIG_DEPTH_MAX is refused where it starts,
// at once (100,000 levels took 27 s to parse); a file over 1 MiB is refused
// before it is read.
TEST(Inputs, DeepNestingAndLargeFilesAreRefused) {
  const int n = 100000;
  const std::string deep = "schema_version: 1\nfabric: " + std::string(n, '[') + std::string(n, ']') + "\n";
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(load_error(deep), "t.yaml:2:40: nested deeper than 32 levels; a configuration needs at most 4");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 0.5);
  // Block style: the 33rd collection is a mapping starting at line 34.
  std::string block = "schema_version: 1\nfabric:\n";
  for (int i = 0; i < 40; i++) block += std::string(2 * (i + 1), ' ') + "a" + std::to_string(i) + ":\n";
  EXPECT_EQ(load_error(block).rfind("t.yaml:34:", 0), 0u) << load_error(block);
  EXPECT_NE(load_error(block).find("nested deeper than 32 levels"), std::string::npos);
  // Up to the limit the depth is not the error (the key is).
  std::string ok = "schema_version: 1\nfabric: {width: " + std::string(30, '[') + std::string(30, ']') + "}\n";
  EXPECT_NE(load_error(ok).find("fabric.width: expected a single value, got a list"), std::string::npos)
      << load_error(ok);

  std::string big = "schema_version: 1\n";
  big.append(WL_INFILE_CONFIG_MAX + 1 - big.size(), '#');
  const std::string path = wstest::write_temp("big.yaml", big);
  ws_config c;
  char err[WS_CONFIG_ERR_MAX];
  ASSERT_EQ(ws_config_init_default(&c, err, sizeof err), 0);
  EXPECT_NE(ws_config_load_file(&c, path.c_str(), err, sizeof err), 0);
  EXPECT_EQ(std::string(err), path + ": 1048577 bytes, larger than the 1 MiB limit of a configuration file");
  big.pop_back();  // exactly 1 MiB of comments after the version: loads
  const std::string path2 = wstest::write_temp("big2.yaml", big);
  EXPECT_EQ(ws_config_load_file(&c, path2.c_str(), err, sizeof err), 0) << err;
}

// 5. Every input file (configuration, safetensors, check's documents) must
// be a regular file: a FIFO is refused at once instead of blocking in
// open(); a directory or a device is named as what it is.
TEST(Inputs, NonRegularInputFilesAreRefusedWithoutBlocking) {
  const std::string fifo = wstest::temp_dir("in.fifo");
  unlink(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(in_child([&] {
              ws_config c;
              char err[WS_CONFIG_ERR_MAX];
              ws_config_init_default(&c, err, sizeof err);
              return ws_config_load_file(&c, fifo.c_str(), err, sizeof err) == 0 ? std::string("loaded")
                                                                                : std::string(err);
            }),
            fifo + ": is a FIFO (named pipe); expected a regular configuration file");
  EXPECT_EQ(in_child([&] {
              char err[512];
              wl_st *f = wl_st_open(fifo.c_str(), err, sizeof err);
              wl_st_close(f);
              return f ? std::string("opened") : std::string(err);
            }),
            fifo + ": is a FIFO (named pipe); expected a regular safetensors file");
  EXPECT_EQ(in_child([&] {
              auto r = run_cli({"check", "--baseline", fifo});
              return std::to_string(r.status) + " " + r.err;
            }),
            "2 wafersim check: " + fifo + ": is a FIFO (named pipe); expected a regular JSON document file\n");
  EXPECT_EQ(in_child([&] {
              auto r = run_cli({"config", fifo});
              return std::to_string(r.status) + " " + r.err;
            }),
            "2 wafersim: " + fifo + ": is a FIFO (named pipe); expected a regular configuration file\n");
  unlink(fifo.c_str());

  auto r = run_cli({"config", "/dev/null"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "wafersim: /dev/null: is a character device; expected a regular configuration file\n");
  const std::string dir = wstest::source_path("tests");
  r = run_cli({"check", "--baseline", dir});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "wafersim check: " + dir + ": is a directory; expected a regular JSON document file\n");
  uint64_t size = 0;
  char err[512];
  EXPECT_EQ(wl_infile_open("/dev/zero", "safetensors", WL_INFILE_NO_LIMIT, &size, err, sizeof err), -1);
  EXPECT_STREQ(err, "/dev/zero: is a character device; expected a regular safetensors file");
}

// 6. The tensors' data ranges cover the data area exactly (the format's
// rule): in bounds, without overlap or gap, to the end; empty tensors may
// share an offset; dtype x shape must be the byte length, overflow-safe.
TEST(Inputs, SafetensorsDataOffsetsCoverTheDataExactly) {
  const std::string d16(16, '\1'), d24(24, '\1');
  EXPECT_EQ(st_error("ov.safetensors",
                     raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                         d24)),
            "tensors 'a' (data_offsets [0, 16]) and 'b' ([8, 24]) overlap");
  // The same bytes claimed twice, listed in the other order.
  EXPECT_EQ(st_error("same.safetensors",
                     raw("{\"y\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]},"
                         "\"x\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]}}",
                         d16)),
            "tensors 'x' (data_offsets [0, 16]) and 'y' ([0, 16]) overlap");
  EXPECT_EQ(st_error("gap.safetensors",
                     raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
                         d24)),
            "data bytes [8, 16) belong to no tensor (before tensor 'b'); expected the tensors to cover the data "
            "exactly");
  EXPECT_EQ(st_error("tail.safetensors",
                     raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d16)),
            "data bytes [8, 16) belong to no tensor (after tensor 'a'); expected the tensors to cover the data "
            "exactly");
  EXPECT_EQ(st_error("none.safetensors", raw("{}", d16)),
            "data bytes [0, 16) belong to no tensor (after the header); expected the tensors to cover the data "
            "exactly");
  EXPECT_EQ(st_error("big.safetensors",
                     raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776,4],"
                         "\"data_offsets\":[0,16]}}",
                         d16)),
            "tensor 'a': 16 bytes of data for a F32 tensor of 18446744073709551615 elements");
  // In order, with an empty tensor between: opens.
  EXPECT_EQ(st_error("good.safetensors",
                     raw("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                         "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
                         "\"a\":{\"dtype\":\"U8\",\"shape\":[2,4],\"data_offsets\":[0,8]}}",
                         d16)),
            "");
}

// 7. check refuses a document naming a row twice (an op; a sweep point's
// level and value), baseline or new, naming the file, section and key.
TEST(Inputs, CheckDocumentsNameEachRowOnce) {
  const std::string base = wstest::source_path("tests/expected/tiny-dense.json");
  size_t ops = 0;
  const std::string dup = edited_baseline("tiny-dense.json", "dup-op.json", [&](json_t *doc) {
    json_t *rows = json_object_get(json_object_get(doc, "run"), "ops");
    ops = json_array_size(rows);
    json_array_append(rows, json_array_get(rows, 3));
  });
  const std::string op = "L0.k";
  auto r = run_cli({"check", "--baseline", base, dup});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "wafersim check: " + dup + ": run.ops: rows 3 and " + std::to_string(ops) + " are both " + op +
                       "; expected each op once\n");
  r = run_cli({"check", "--baseline", dup, base});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(dup + ": run.ops: rows 3 and"), std::string::npos) << r.err;

  const std::string sweep = wstest::source_path("tests/expected/tiny-sweep.json");
  const std::string dupp = edited_baseline("tiny-sweep.json", "dup-point.json", [](json_t *doc) {
    json_t *rows = json_object_get(json_object_get(doc, "sweep"), "points");
    json_array_append(rows, json_array_get(rows, 1));
  });
  r = run_cli({"check", "--baseline", sweep, dupp});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(dupp + ": sweep.points: rows 1 and"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("are both s=0.5 v=8; expected each sparsity and --vary value once"), std::string::npos)
      << r.err;
  const std::string dupk = edited_baseline("tiny-sweep.json", "dup-kind.json", [](json_t *doc) {
    json_t *rows = json_object_get(json_object_get(doc, "sweep"), "kinds");
    json_array_append(rows, json_array_get(rows, 0));
  });
  r = run_cli({"check", "--baseline", dupk, sweep});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(dupk + ": sweep.kinds: rows 0 and"), std::string::npos) << r.err;
  // The originals compare clean.
  r = run_cli({"check", "--baseline", sweep, sweep});
  EXPECT_EQ(r.status, 0) << r.err;
}

// 8. An unknown-key message lists every key or says how many it leaves out
// and where to see them all; check names the baseline, not --set, for an
// error in the baseline's own configuration or sweep spec.
TEST(Inputs, MessagesAreWholeAndBlameTheirSource) {
  auto r = run_cli({"config", "--set", "foo.bar=1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err,
            "wafersim: --set foo.bar: unknown key; expected SECTION.KEY with a section of: fabric, model, kernels, "
            "workload, placer, sim, output, system (every key: 'wafersim config', README 'Configuration')\n");
  // However long the file name, the list of fabric keys is whole or counts the rest.
  std::vector<std::string> fabric;
  for (size_t i = 0; i < ws_schema_keys(); i++)
    if (ws_schema_in(ws_schema_key(i)->path, "fabric")) fabric.push_back(ws_schema_leaf(ws_schema_key(i)->path));
  for (int parts : {0, 2, 3, 4}) {
    std::vector<std::string> dirs = {wstest::temp_dir("long")};
    for (int i = 0; i < parts; i++) dirs.push_back(dirs.back() + "/" + std::string(100, 'd'));
    for (const auto &d : dirs) mkdir(d.c_str(), 0700);
    const std::string file = dirs.back() + "/u.yaml";
    FILE *f = fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr) << file;
    fputs("schema_version: 1\nfabric:\n  nope: 1\n", f);
    fclose(f);
    r = run_cli({"config", file});
    EXPECT_EQ(r.status, 2);
    size_t listed = 0;
    for (const auto &k : fabric) listed += r.err.find(" " + k) != std::string::npos;
    if (listed < fabric.size())
      EXPECT_NE(r.err.find("; and " + std::to_string(fabric.size() - listed) +
                           " more: 'wafersim config' prints every key\n"),
                std::string::npos)
          << r.err;
    else
      EXPECT_EQ(r.err.substr(r.err.size() - fabric.back().size() - 1), fabric.back() + "\n");
    unlink(file.c_str());
    for (size_t i = dirs.size(); i-- > 0;) rmdir(dirs[i].c_str());
  }
  // In a short buffer the list counts what it leaves out.
  char buf[96];
  ws_schema_list("fabric", buf, sizeof buf);
  const std::string list = buf;
  size_t shown = 0;
  for (const auto &k : fabric) shown += list.find(k) != std::string::npos;
  EXPECT_LT(shown, fabric.size());
  EXPECT_NE(list.find("; and " + std::to_string(fabric.size() - shown) + " more: 'wafersim config' prints every key"),
            std::string::npos)
      << list;
  // A layer the baseline's configuration gives is the baseline's, even with
  // a --set of another layer on top.
  const std::string b2 = edited_baseline("tiny-dense.json", "blame-layer.json", [](json_t *doc) {
    json_object_set_new(json_object_get(json_object_get(doc, "config"), "workload"), "sparsity_by_layer",
                        json_pack("{s:f}", "5", 0.5));
  });
  r = run_cli({"check", "--baseline", b2, "--set", "workload.sparsity_by_layer.0=0.1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("wafersim check: " + b2 + " (its config):1:", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(": workload.sparsity_by_layer.5: model custom has layers 0 to 1\n"), std::string::npos);
  r = run_cli({"check", "--baseline", wstest::source_path("tests/expected/tiny-dense.json"), "--set",
               "workload.sparsity_by_layer.7=0.1"});
  EXPECT_EQ(r.err, "wafersim check: --set: workload.sparsity_by_layer.7: model custom has layers 0 to 1\n");
  // A sweep spec's value is the baseline's, not --set's.
  const std::string s1 = edited_baseline("tiny-sweep.json", "blame-spec.json", [](json_t *doc) {
    json_array_set_new(json_object_get(json_object_get(json_object_get(doc, "sweep"), "spec"), "values"), 1,
                       json_string("7"));
  });
  r = run_cli({"check", "--baseline", s1});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "wafersim check: " + s1 +
                       " (its sweep.spec): workload.micro_batch: 7 tokens do not divide workload.seq_len = 128\n");
}
