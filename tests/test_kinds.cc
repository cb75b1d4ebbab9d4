// Kinds: the stage-kind tables (kernels/kind.h). Every kind has a complete
// table and the names the reports print; slots follow the mapping (whole
// heads for attention); the entry stages are the embedding and a GEMM fed by
// the host; and nothing outside the kind table's files switches on the kind.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/kind.h"
#include "kernels/pipeline.h"

namespace {

const krn_stage_kind kAll[] = {KRN_STAGE_EMBED,     KRN_STAGE_GEMM, KRN_STAGE_ATTENTION,
                               KRN_STAGE_LAYERNORM, KRN_STAGE_GELU, KRN_STAGE_ADD};

TEST(Kinds, EveryKindHasACompleteTableAndTheReportedName) {
  const char *const names[] = {"embed", "gemm", "attention", "layernorm", "gelu", "add"};
  const uint32_t inputs[] = {0, 1, 3, 1, 1, 2};
  std::set<std::string> seen;
  for (size_t i = 0; i < sizeof kAll / sizeof kAll[0]; i++) {
    const krn_kind_ops *o = krn_kind_of(kAll[i]);
    ASSERT_NE(o, nullptr);
    EXPECT_STREQ(o->name, names[i]);
    EXPECT_EQ(o->inputs, inputs[i]) << names[i];
    EXPECT_LE(o->inputs, (uint32_t)KRN_MAX_INPUTS);
    EXPECT_TRUE(seen.insert(o->name).second) << names[i];
    EXPECT_TRUE(o->max_rows && o->max_cols && o->estimate && o->busy && o->setup && o->pe_setup && o->compute)
        << names[i];
    // a kind that reduces partial results has a result handler, one with an all-reduce its second phase
    EXPECT_EQ(o->result != nullptr, !o->elementwise) << names[i];
    EXPECT_EQ(o->arm != nullptr, !o->elementwise || o->all_reduced != nullptr) << names[i];
    // element-wise kinds keep one slot of each side per PE; a fusion is named by its kind
    if (o->elementwise) {
      EXPECT_TRUE(o->in == KRN_SLOTS_PES && o->out == KRN_SLOTS_PES) << names[i];
    }
    EXPECT_EQ(o->named_by_op, kAll[i] != KRN_STAGE_EMBED && kAll[i] != KRN_STAGE_ATTENTION) << names[i];
  }
}

TEST(Kinds, SlotsFollowTheMapping) {
  EXPECT_EQ(krn_slots_count(KRN_SLOTS_ROWS, 3, 5), 3u);
  EXPECT_EQ(krn_slots_count(KRN_SLOTS_COLS, 3, 5), 5u);
  EXPECT_EQ(krn_slots_count(KRN_SLOTS_PES, 3, 5), 15u);
  // a GEMM takes x by rows and sends y by columns; the embedding sends by rows
  EXPECT_EQ(krn_kind_of(KRN_STAGE_GEMM)->in, KRN_SLOTS_ROWS);
  EXPECT_EQ(krn_kind_of(KRN_STAGE_GEMM)->out, KRN_SLOTS_COLS);
  EXPECT_EQ(krn_kind_of(KRN_STAGE_EMBED)->out, KRN_SLOTS_ROWS);
  // attention's slots hold whole heads: 12 heads of 64 over 5 slots start at heads 0, 2, 4, 7, 9
  krn_stage a{};
  a.kind = KRN_STAGE_ATTENTION;
  a.n = 768;
  a.heads = 12;
  const uint64_t heads[] = {0, 2, 4, 7, 9, 12};
  for (uint32_t j = 0; j <= 5; j++) EXPECT_EQ(krn_kind_slot_start(&a, 768, 5, j), heads[j] * 64) << j;
  // the others split features evenly
  krn_stage g{};
  g.kind = KRN_STAGE_GELU;
  g.n = 100;
  for (uint32_t j = 0; j <= 3; j++) EXPECT_EQ(krn_kind_slot_start(&g, 100, 3, j), j * 100u / 3) << j;
}

TEST(Kinds, EntryStagesAreTheEmbeddingAndAGemmFedByTheHost) {
  krn_stage s{};
  s.in[0] = s.in[1] = s.in[2] = -1;
  s.kind = KRN_STAGE_EMBED;
  EXPECT_TRUE(krn_kind_entry(&s));
  s.kind = KRN_STAGE_GEMM;
  EXPECT_TRUE(krn_kind_entry(&s));
  s.kind = KRN_STAGE_LAYERNORM; // no producer, but no host input either: not an entry (set-up refuses it)
  EXPECT_FALSE(krn_kind_entry(&s));
  s.in[0] = 0;
  s.kind = KRN_STAGE_GEMM;
  EXPECT_FALSE(krn_kind_entry(&s));
}

// Whether a line compares a stage's kind with a KRN_STAGE_ constant, indexes
// by one or has a case of one: `case KRN_STAGE_`, `== KRN_STAGE_`,
// `KRN_STAGE_X !=`, `[KRN_STAGE_` (spaces allowed between). By hand, not with
// std::regex, whose instantiation a sanitizer build of GCC 12 rejects
// (-Wmaybe-uninitialized inside libstdc++).
bool switches_on_kind(const std::string &line) {
  const std::string k = "KRN_STAGE_";
  auto word = [](char c) { return std::isalnum((unsigned char)c) || c == '_'; };
  auto space = [](char c) { return std::isspace((unsigned char)c) != 0; };
  for (size_t at = line.find(k); at != std::string::npos; at = line.find(k, at + 1)) {
    size_t b = at;
    while (b > 0 && space(line[b - 1])) b--;
    if (b > 0 && line[b - 1] == '[') return true;
    if (b >= 2 && line[b - 1] == '=' && (line[b - 2] == '=' || line[b - 2] == '!')) return true;
    if (b < at && b >= 4 && line.compare(b - 4, 4, "case") == 0 && (b == 4 || !word(line[b - 5]))) return true;
    size_t e = at + k.size();
    while (e < line.size() && word(line[e])) e++;
    while (e < line.size() && space(line[e])) e++;
    if (e + 1 < line.size() && (line[e] == '=' || line[e] == '!') && line[e + 1] == '=') return true;
  }
  return false;
}

TEST(Kinds, TheSwitchFinderSeesEachFormAndNothingElse) {
  for (const char *yes : {"case KRN_STAGE_GEMM:", "if (k == KRN_STAGE_ADD)", "k !=KRN_STAGE_ADD",
                          "KRN_STAGE_GEMM == k", "KRN_STAGE_GEMM!= k", "t[KRN_STAGE_GEMM] = 1", "t[ KRN_STAGE_X]"})
    EXPECT_TRUE(switches_on_kind(yes)) << yes;
  for (const char *no : {"s.kind = KRN_STAGE_GEMM;", "f(KRN_STAGE_ADD)", "showcase KRN_STAGE_X", "k <= KRN_STAGE_X",
                         "KRN_STAGE_X = 2,", "x == y"})
    EXPECT_FALSE(switches_on_kind(no)) << no;
}

// The kind table is the only place that switches on the kind: outside
// kernels/kind.c (its lookup array) no source compares a stage's kind with
// a KRN_STAGE_ constant, indexes by one, or has a case of one. Lowering
// (kernels/lower.c) and a one-op run (sim/oprun.c) may name the kind a stage is.
TEST(Kinds, NothingOutsideTheKindTableSwitchesOnTheKind) {
  namespace fs = std::filesystem;
  std::vector<std::string> found;
  size_t files = 0;
  for (const char *dir : {"kernels", "sim", "fabric", "models", "workloads"}) {
    for (const auto &e : fs::recursive_directory_iterator(fs::path(WS_SOURCE_DIR) / dir)) {
      const std::string ext = e.path().extension().string();
      if (ext != ".c" && ext != ".h") continue;
      const std::string rel = fs::relative(e.path(), WS_SOURCE_DIR).string();
      if (rel == "kernels/kind.c") continue;
      files++;
      std::ifstream in(e.path());
      std::string line;
      for (int n = 1; std::getline(in, line); n++)
        if (switches_on_kind(line)) found.push_back(rel + ":" + std::to_string(n) + ": " + line);
    }
  }
  EXPECT_GT(files, 20u);
  std::ostringstream all;
  for (const auto &f : found) all << f << "\n";
  EXPECT_TRUE(found.empty()) << "switches on the stage kind outside the kind table:\n" << all.str();
}

}  // namespace
