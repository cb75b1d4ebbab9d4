// The fuzz targets (tests/fuzz/) without libFuzzer: every file of their seed
// corpus (tests/fuzz/corpus/TARGET/) and of their regression inputs
// (tests/fuzz/regress/TARGET/, the inputs that once broke an invariant)
// through the target's function, which checks the invariants of its surface;
// seeds named ok-* must be accepted and bad-* refused. Then mutated copies
// of the default configuration through the configuration target. `make fuzz`
// runs the same functions under libFuzzer with ASan and UBSan.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sim/check.h"
#include "sim/config.h"
#include "sim/jschema.h"
#include "tests/fuzz/fuzz.h"

namespace {

namespace fs = std::filesystem;
using target_fn = int (*)(const uint8_t *, size_t, char *, size_t);

std::string slurp(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every input of a target's corpus and regression folders; returns how many seeds there were.
size_t replay(const char *target, target_fn fn) {
  size_t seeds = 0;
  for (const char *kind : {"corpus", "regress"}) {
    const fs::path dir = fs::path(WS_SOURCE_DIR) / "tests" / "fuzz" / kind / target;
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> files;
    for (const auto &e : fs::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto &f : files) {
      const std::string data = slurp(f), name = f.filename().string();
      char why[WS_FUZZ_WHY_MAX] = "";
      const int rc = fn(reinterpret_cast<const uint8_t *>(data.data()), data.size(), why, sizeof why);
      EXPECT_NE(rc, WS_FUZZ_VIOLATED) << f << ": " << why;
      if (name.rfind("ok-", 0) == 0) {
        EXPECT_EQ(rc, WS_FUZZ_ACCEPTED) << f << " (named ok-: must be accepted)";
      }
      if (name.rfind("bad-", 0) == 0) {
        EXPECT_EQ(rc, WS_FUZZ_REFUSED) << f << " (named bad-: must be refused)";
      }
      seeds += std::strcmp(kind, "corpus") == 0;
    }
  }
  return seeds;
}

TEST(FuzzCorpus, Config) { EXPECT_GE(replay("config", ws_fuzz_config), 10u); }
TEST(FuzzCorpus, Safetensors) { EXPECT_GE(replay("safetensors", ws_fuzz_safetensors), 10u); }
TEST(FuzzCorpus, Check) { EXPECT_GE(replay("check", ws_fuzz_check), 5u); }

// The command line's corpus names files relative to the repository's root.
TEST(FuzzCorpus, Cli) {
  char cwd[PATH_MAX];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(chdir(WS_SOURCE_DIR), 0);
  EXPECT_GE(replay("cli", ws_fuzz_cli), 10u);
  ASSERT_EQ(chdir(cwd), 0);
}

// The targets refuse what breaks them: a target that accepted everything, or
// refused everything, would pass the replay above on its own corpus.
TEST(FuzzCorpus, TargetsTellAcceptedFromRefused) {
  char why[WS_FUZZ_WHY_MAX];
  const std::string ok = "schema_version: 1\n";
  EXPECT_EQ(ws_fuzz_config(reinterpret_cast<const uint8_t *>(ok.data()), ok.size(), why, sizeof why), WS_FUZZ_ACCEPTED)
      << why;
  const std::string bad = std::string("schema_version: 1\n") + '\0' + "fabric.width=0";
  EXPECT_EQ(ws_fuzz_config(reinterpret_cast<const uint8_t *>(bad.data()), bad.size(), why, sizeof why), WS_FUZZ_REFUSED)
      << why;
  const std::string cli = std::string("config") + '\0' + "--set" + '\0' + "fabric.widht=3";
  EXPECT_EQ(ws_fuzz_cli(reinterpret_cast<const uint8_t *>(cli.data()), cli.size(), why, sizeof why), WS_FUZZ_REFUSED)
      << why;
}

// What the fuzz targets found, as plain tests of the API.

// check matches rows by op name: with two rows of one name the second was
// compared with the first's match, so a change in it went unreported
// (0 of N moved) and a document moved against itself. Now refused.
TEST(FuzzFindings, CheckRefusesRowsItCannotTellApart) {
  char err[512] = "";
  json_t *schema = ws_jschema_output(err, sizeof err);
  ASSERT_NE(schema, nullptr) << err;
  json_error_t je;
  json_t *base = json_load_file(WS_SOURCE_DIR "/tests/expected/tiny-dense.json", 0, &je);
  ASSERT_NE(base, nullptr) << je.text;
  json_t *ops = json_object_get(json_object_get(base, "run"), "ops");
  json_t *first = json_deep_copy(json_array_get(ops, 0));
  json_array_clear(ops);
  json_array_append(ops, first);
  json_array_append_new(ops, json_deep_copy(first));
  json_t *cur = json_deep_copy(base);
  json_t *second = json_array_get(json_object_get(json_object_get(cur, "run"), "ops"), 1);
  json_object_set_new(second, "cycles", json_integer(json_integer_value(json_object_get(second, "cycles")) + 5));
  ASSERT_EQ(ws_jschema_validate(schema, cur, err, sizeof err), 0) << err;
  const ws_check_opts o = {0.0, 0.0, nullptr, 0, false, WS_CHECK_TEXT, false};
  ws_check_result res;
  FILE *out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(ws_check_compare(schema, base, cur, &o, out, &res, err, sizeof err), -1);
  const std::string want = std::string("the baseline: run.ops: rows 0 and 1 are both ") +
                           json_string_value(json_object_get(first, "op"));
  EXPECT_EQ(std::string(err).rfind(want, 0), 0u) << err;
  std::fclose(out);
  json_decref(first);
  json_decref(base);
  json_decref(cur);
  json_decref(schema);
}

// An op name holding a newline split a ::error line of the github format in
// two (GitHub reads the second as text, or as another workflow command).
TEST(FuzzFindings, CheckOutputQuotesDocumentsOnOneLine) {
  char err[512] = "";
  json_t *schema = ws_jschema_output(err, sizeof err);
  ASSERT_NE(schema, nullptr) << err;
  json_error_t je;
  json_t *base = json_load_file(WS_SOURCE_DIR "/tests/expected/tiny-dense.json", 0, &je);
  ASSERT_NE(base, nullptr) << je.text;
  json_t *cur = json_deep_copy(base);
  json_object_set_new(json_array_get(json_object_get(json_object_get(cur, "run"), "ops"), 1), "op",
                      json_string("x\ny%"));
  for (ws_check_format f : {WS_CHECK_GITHUB, WS_CHECK_TEXT}) {
    const ws_check_opts o = {0.0, 0.0, nullptr, 0, false, f, false};
    ws_check_result res;
    char *text = nullptr;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ASSERT_NE(out, nullptr);
    ASSERT_EQ(ws_check_compare(schema, base, cur, &o, out, &res, err, sizeof err), 0) << err;
    std::fclose(out);
    const std::string s(text, len);
    std::free(text);
    EXPECT_EQ(res.moved, 2u);
    EXPECT_EQ((size_t)std::count(s.begin(), s.end(), '\n'), res.moved + (f == WS_CHECK_GITHUB ? 1 : 2)) << s;
    EXPECT_NE(s.find(f == WS_CHECK_GITHUB ? "::error title=wafersim check::ops[x%0Ay%] (row)" : "ops[x\\ny%]"),
              std::string::npos) << s;
  }
  json_decref(base);
  json_decref(cur);
  json_decref(schema);
}

// Messages quoted a YAML value's newline: two lines, where one is the rule.
TEST(FuzzFindings, ConfigMessagesAreOneLineWhateverTheyQuote) {
  ws_config c;
  char err[WS_CONFIG_ERR_MAX] = "";
  ASSERT_EQ(ws_config_init_default(&c, err, sizeof err), 0) << err;
  const std::string text = "schema_version: 1\nkernels: {accumulate: \"fp32\\nrp\"}\n";
  EXPECT_EQ(ws_config_load_string(&c, text.data(), text.size(), "q.yaml", err, sizeof err), -1);
  EXPECT_STREQ(err, "q.yaml:2:23: kernels.accumulate: expected one of: fp32, fp16, got 'fp32\\nrp'");
  EXPECT_EQ(ws_config_set(&c, "model.preset=1.3B\x01\n", err, sizeof err), -1);
  EXPECT_EQ(std::strchr(err, '\n'), nullptr) << err;
  EXPECT_NE(std::strstr(err, "1.3B\\x01\\n"), nullptr) << err;
}

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  size_t below(size_t n) { return n ? (size_t)(next() % n) : 0; }
};

// Fragments that stress YAML structure and the value parsers.
const char *const kTokens[] = {":",      "- ",     "[",      "]",     "{",        "}",      ",",     "&a ",
                               "*a",     "!!int ", "!!str ", "\t",    "\"",       "'",      "#",     "---\n",
                               "...\n",  "~",      "null",   "-1",    "0",        "1e400",  "0x10",  "99999999999999999999",
                               "0.9999", "KiB",    "GHz",    "  ",    "\n",       "? ",     "|\n  ", ">\n  ",
                               "custom", "175B",   "nan",    "1.5",   "\xc3\xa9", "\xff",   "%YAML 1.1\n", "<<: *a\n"};

std::string mutate(const std::string &base, Rng &r) {
  std::string s = base;
  const int edits = 1 + (int)r.below(4);
  for (int e = 0; e < edits && !s.empty(); e++) {
    size_t at = r.below(s.size());
    switch (r.below(6)) {
      case 0: s[at] = (char)(32 + r.below(95)); break;                    // replace a byte
      case 1: s.erase(at, 1 + r.below(12)); break;                        // delete a run
      case 2: s.insert(at, kTokens[r.below(sizeof kTokens / sizeof *kTokens)]); break;
      case 3: {                                                           // duplicate a line
        size_t b = s.rfind('\n', at), end = s.find('\n', at);
        b = b == std::string::npos ? 0 : b + 1;
        if (end != std::string::npos) s.insert(b, s.substr(b, end - b + 1));
        break;
      }
      case 4: s.resize(at); break;                                        // truncate
      default: {                                                          // swap two bytes
        size_t other = r.below(s.size());
        std::swap(s[at], s[other]);
      }
    }
  }
  return s;
}

// Mutated copies of the default configuration through the configuration
// target: each is refused with one line naming where, or accepted as a valid
// configuration that writes YAML and JSON reading back equal.
TEST(ConfigFuzz, MutatedDefaultsKeepTheLoadersInvariants) {
  const std::string base = ws_config_default_yaml();
  Rng rng{0x5EEDF00DULL};
  const int kMutants = 600;
  int accepted = 0, refused = 0;
  for (int i = 0; i < kMutants; i++) {
    const std::string text = mutate(base, rng);
    char why[WS_FUZZ_WHY_MAX] = "";
    const int rc = ws_fuzz_config(reinterpret_cast<const uint8_t *>(text.data()), text.size(), why, sizeof why);
    ASSERT_NE(rc, WS_FUZZ_VIOLATED) << why << "\n--- mutant " << i << ":\n" << text;
    (rc == WS_FUZZ_ACCEPTED ? accepted : refused)++;
  }
  std::printf("[ fuzz     ] %d mutants: %d accepted, %d refused with a location\n", kMutants, accepted, refused);
  EXPECT_GT(refused, kMutants / 4);  // the mutations do reach the checks
  EXPECT_GT(accepted, 10);           // and some land in comments or keep values valid
}

}  // namespace
