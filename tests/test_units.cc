// Quantities with units: exact parsing, range and unit errors, and the
// formatter's output reading back to the same value.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "sim/units.h"

namespace {

int64_t parse_ok(const char *text, ws_unit unit) {
  int64_t v = -1;
  char err[256] = "";
  EXPECT_EQ(ws_units_parse(text, unit, 0, INT64_MAX, &v, err, sizeof err), 0) << text << ": " << err;
  return v;
}

std::string parse_err(const char *text, ws_unit unit, int64_t min = 1, int64_t max = INT64_MAX) {
  int64_t v = 12345;
  char err[256] = "";
  EXPECT_EQ(ws_units_parse(text, unit, min, max, &v, err, sizeof err), -1) << text;
  EXPECT_EQ(v, 12345) << "a failed parse must not write its output";
  return err;
}

TEST(Units, BytesDecimalAndBinaryPrefixes) {
  EXPECT_EQ(parse_ok("48 KiB", WS_UNIT_BYTES), 49152);
  EXPECT_EQ(parse_ok("48KiB", WS_UNIT_BYTES), 49152);
  EXPECT_EQ(parse_ok("  48 kib ", WS_UNIT_BYTES), 49152);
  EXPECT_EQ(parse_ok("1.5 KiB", WS_UNIT_BYTES), 1536);
  EXPECT_EQ(parse_ok("2 MB", WS_UNIT_BYTES), 2000000);
  EXPECT_EQ(parse_ok("40 GB", WS_UNIT_BYTES), 40000000000LL);
  EXPECT_EQ(parse_ok("1 TiB", WS_UNIT_BYTES), 1LL << 40);
  EXPECT_EQ(parse_ok("49152", WS_UNIT_BYTES), 49152);
  EXPECT_EQ(parse_ok("7 B", WS_UNIT_BYTES), 7);
}

TEST(Units, FrequencyIsExactNotFloatingPoint) {
  EXPECT_EQ(parse_ok("1.1 GHz", WS_UNIT_HZ), 1100000000LL);
  EXPECT_EQ(parse_ok("850 MHz", WS_UNIT_HZ), 850000000LL);
  EXPECT_EQ(parse_ok("0.85GHz", WS_UNIT_HZ), 850000000LL);
  EXPECT_EQ(parse_ok("1.1e9", WS_UNIT_HZ), 1100000000LL);
  EXPECT_EQ(parse_ok("1.123456789 GHz", WS_UNIT_HZ), 1123456789LL);
}

TEST(Units, CountsAcceptExponentsButNoUnit) {
  EXPECT_EQ(parse_ok("2048", WS_UNIT_COUNT), 2048);
  EXPECT_EQ(parse_ok("2.048e3", WS_UNIT_COUNT), 2048);
  EXPECT_EQ(parse_ok("+5", WS_UNIT_COUNT), 5);
  EXPECT_NE(parse_err("5 KiB", WS_UNIT_COUNT).find("no unit allowed"), std::string::npos);
  EXPECT_NE(parse_err("2.5", WS_UNIT_COUNT).find("not a whole number"), std::string::npos);
}

TEST(Units, ErrorsSayWhatWasExpected) {
  std::string e = parse_err("abc", WS_UNIT_BYTES, 1, 1LL << 30);
  EXPECT_NE(e.find("expected a size like '48 KiB' in [1 B, 1 GiB], got 'abc'"), std::string::npos) << e;
  e = parse_err("3 furlongs", WS_UNIT_HZ);
  EXPECT_NE(e.find("unknown unit"), std::string::npos) << e;
  EXPECT_NE(e.find("a frequency like '1.1 GHz'"), std::string::npos) << e;
  EXPECT_NE(parse_err("", WS_UNIT_COUNT).find("got ''"), std::string::npos);
  EXPECT_NE(parse_err("0 KiB", WS_UNIT_BYTES).find("in [1 B,"), std::string::npos);
  EXPECT_NE(parse_err("-1", WS_UNIT_COUNT).find("got '-1'"), std::string::npos);
  parse_err("0.5 B", WS_UNIT_BYTES);
  parse_err("1e", WS_UNIT_COUNT);
  parse_err(".", WS_UNIT_COUNT);
  parse_err("1..2", WS_UNIT_COUNT);
}

TEST(Units, OverflowIsAnErrorNotAWrap) {
  parse_err("9223372036854775808", WS_UNIT_COUNT);
  parse_err("99999999999999999999 GiB", WS_UNIT_BYTES);
  parse_err("1e30", WS_UNIT_COUNT);
  parse_err("1e999999", WS_UNIT_COUNT);
  parse_err("100000000000000000000000000000", WS_UNIT_COUNT);
  EXPECT_EQ(parse_ok("9223372036854775807", WS_UNIT_COUNT), INT64_MAX);
  EXPECT_EQ(parse_ok("8388607 TiB", WS_UNIT_BYTES), 8388607LL << 40);
  parse_err("8388608 TiB", WS_UNIT_BYTES);  // 2^63 bytes
}

TEST(Units, FormatPicksTheLargestExactUnit) {
  char buf[32];
  const struct {
    int64_t v;
    ws_unit u;
    const char *text;
  } cases[] = {
      {49152, WS_UNIT_BYTES, "48 KiB"},       {1536, WS_UNIT_BYTES, "1.5 KiB"},
      {1000, WS_UNIT_BYTES, "1 KB"},          {1500, WS_UNIT_BYTES, "1.5 KB"},
      {7, WS_UNIT_BYTES, "7 B"},              {1100000000LL, WS_UNIT_HZ, "1.1 GHz"},
      {850000000LL, WS_UNIT_HZ, "850 MHz"},   {1123456789LL, WS_UNIT_HZ, "1123456789 Hz"},
      {2048, WS_UNIT_COUNT, "2048"},          {1LL << 30, WS_UNIT_BYTES, "1 GiB"},
  };
  for (const auto &c : cases) {
    ws_units_format(c.v, c.u, buf, sizeof buf);
    EXPECT_STREQ(buf, c.text);
  }
}

TEST(Units, FormatReadsBackToTheSameValue) {
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < 20000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    // Spread over all magnitudes: a random value shifted right by 0..62 bits.
    int64_t v = (int64_t)((x >> 1) >> (x % 63));
    for (ws_unit u : {WS_UNIT_COUNT, WS_UNIT_BYTES, WS_UNIT_HZ}) {
      char buf[48];
      ws_units_format(v, u, buf, sizeof buf);
      EXPECT_EQ(parse_ok(buf, u), v) << buf;
    }
  }
}

TEST(Units, RealsAreFiniteAndInRange) {
  double v = -1;
  char err[256];
  EXPECT_EQ(ws_units_parse_real("0.838", 0, 1, 1, &v, err, sizeof err), 0);
  EXPECT_DOUBLE_EQ(v, 0.838);
  EXPECT_EQ(ws_units_parse_real("0", 0, 1, 1, &v, err, sizeof err), 0);
  for (const char *bad : {"1", "1.0", "-0.1", "nan", "inf", "0x1p-1", "", "0.5x", "abc"}) {
    EXPECT_EQ(ws_units_parse_real(bad, 0, 1, 1, &v, err, sizeof err), -1) << bad;
    EXPECT_NE(std::string(err).find("expected a number in [0, 1)"), std::string::npos) << err;
  }
  EXPECT_EQ(ws_units_parse_real("1", 0, 1, 0, &v, err, sizeof err), 0);
}

}  // namespace
