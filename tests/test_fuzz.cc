// Mutated copies of the default configuration through the loader: every one
// is either accepted as a valid configuration, which reads back the same
// once written out, or refused with a one-line message naming the file. Run under ASan+UBSan by `make fuzz`.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "models/gpt.h"
#include "sim/config.h"

namespace {

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

TEST(ConfigFuzz, MutatedDefaultsAreAcceptedValidOrRefusedWithALocation) {
  const std::string base = ws_config_default_yaml();
  Rng rng{0x5EEDF00DULL};
  const int kMutants = 600;
  int accepted = 0, refused = 0;
  for (int i = 0; i < kMutants; i++) {
    const std::string text = mutate(base, rng);
    ws_config c;
    char err[WS_CONFIG_ERR_MAX] = "";
    ASSERT_EQ(ws_config_init_default(&c, err, sizeof err), 0) << err;
    int rc = ws_config_load_string(&c, text.data(), text.size(), "mutant.yaml", err, sizeof err);
    if (rc == 0) rc = ws_config_finish(&c, err, sizeof err);
    if (rc != 0) {
      refused++;
      // Loader errors name the file; cross-key errors name where the key was set.
      EXPECT_TRUE(std::strncmp(err, "mutant.yaml:", 12) == 0 || std::strncmp(err, "(embedded default):", 19) == 0)
          << err << "\n--- mutant " << i << ":\n" << text;
      EXPECT_EQ(std::strchr(err, '\n'), nullptr) << err;
      continue;
    }
    accepted++;
    // An accepted configuration is a valid one.
    char why[256];
    EXPECT_EQ(mdl_gpt_check(&c.model, why, sizeof why), 0) << why << "\n" << text;
    EXPECT_GE(c.fabric.width, 1);
    EXPECT_GE(c.fabric.height, 1);
    EXPECT_GE(c.fabric.sram_per_pe, 1);
    EXPECT_GE(c.fabric.clock, 1000000);
    EXPECT_TRUE(c.workload.sparsity >= 0.0 && c.workload.sparsity < 1.0);
    EXPECT_TRUE(c.workload.seq_len >= 1 && c.workload.seq_len <= c.model.context);
    // and a whole one: written out (as `wafersim config` prints it) and read
    // back, it is the same configuration
    char *buf = nullptr;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ASSERT_NE(out, nullptr);
    ASSERT_EQ(ws_config_write_yaml(&c, out), 0);
    std::fclose(out);
    ws_config back;
    ASSERT_EQ(ws_config_init_default(&back, err, sizeof err), 0) << err;
    EXPECT_EQ(ws_config_load_string(&back, buf, len, "written.yaml", err, sizeof err), 0) << err << "\n" << buf;
    EXPECT_EQ(ws_config_finish(&back, err, sizeof err), 0) << err;
    EXPECT_TRUE(ws_config_equal(&c, &back)) << "mutant " << i << " does not read back:\n" << text << "\n---\n" << buf;
    std::free(buf);
  }
  std::printf("[ fuzz     ] %d mutants: %d accepted, %d refused with a location\n", kMutants, accepted, refused);
  EXPECT_GT(refused, kMutants / 4);  // the mutations do reach the checks
  EXPECT_GT(accepted, 10);           // and some land in comments or keep values valid
}

}  // namespace
