#include "core/byte_size.hpp"

#include <gtest/gtest.h>

namespace concur {
namespace {

TEST(ByteSize, PlainBytesAndBinaryUnits) {
  EXPECT_EQ(parse_byte_size("0"), 0u);
  EXPECT_EQ(parse_byte_size("4096"), 4096u);
  EXPECT_EQ(parse_byte_size("512B"), 512u);
  EXPECT_EQ(parse_byte_size("64K"), 64u << 10);
  EXPECT_EQ(parse_byte_size("64k"), 64u << 10);
  EXPECT_EQ(parse_byte_size("64KiB"), 64u << 10);
  EXPECT_EQ(parse_byte_size("100M"), 100u << 20);
  EXPECT_EQ(parse_byte_size("2G"), uint64_t{2} << 30);
  EXPECT_EQ(parse_byte_size("1T"), uint64_t{1} << 40);
}

TEST(ByteSize, AnythingElseIsRefused) {
  for (const char* bad : {"", "K", "-1", "+1", "1.5M", "0x10", "1e3", "10 M", "10X", "M10", "99999999999999999999",
                          "4294967297G", "1KK"})
    EXPECT_FALSE(parse_byte_size(bad).has_value()) << bad;
}

}  // namespace
}  // namespace concur
