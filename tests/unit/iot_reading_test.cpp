// Readings of homework 10: exact formats, inclusive ranges, and the collector's grammar.
#include <gtest/gtest.h>

#include <regex>

#include "iot/reading.hpp"

namespace concur::iot {
namespace {

TEST(IotReading, EnvFormatIsExactAndInRange) {
  std::mt19937_64 rng(1);
  const std::regex re(R"(^Device1: Temp=(\d+), Humid=(\d+), lilum=(\d+)$)");
  int seen_lo = 0, seen_hi = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string r = make_reading("Device1", kind_spec(DeviceKind::env), rng);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(r, m, re)) << r;
    int t = std::stoi(m[1]), h = std::stoi(m[2]), l = std::stoi(m[3]);
    ASSERT_GE(t, 0);
    ASSERT_LE(t, 40);
    ASSERT_GE(h, 0);
    ASSERT_LE(h, 100);
    ASSERT_GE(l, 70);
    ASSERT_LE(l, 150);
    seen_lo += t == 0 || h == 0 || l == 70;
    seen_hi += t == 40 || h == 100 || l == 150;
  }
  EXPECT_GT(seen_lo, 0) << "inclusive lower bounds never drawn";
  EXPECT_GT(seen_hi, 0) << "inclusive upper bounds never drawn";
}

TEST(IotReading, HealthFormatIsExactAndBoundsAreInclusive) {
  std::mt19937_64 rng(2);
  const std::regex re(R"(^Device2: Heartbeat=(\d+), Steps=(\d+), Cal=(\d+)$)");
  bool hb_lo = false, hb_hi = false;
  for (int i = 0; i < 20000; ++i) {
    std::string r = make_reading("Device2", kind_spec(DeviceKind::health), rng);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(r, m, re)) << r;
    int hb = std::stoi(m[1]), st = std::stoi(m[2]), cal = std::stoi(m[3]);
    ASSERT_TRUE(hb >= 40 && hb <= 140) << r;
    ASSERT_TRUE(st >= 2000 && st <= 6000) << r;
    ASSERT_TRUE(cal >= 1000 && cal <= 4000) << r;
    hb_lo = hb_lo || hb == 40;
    hb_hi = hb_hi || hb == 140;
  }
  EXPECT_TRUE(hb_lo && hb_hi);
}

TEST(IotReading, KindDefaults) {
  EXPECT_EQ(kind_spec(DeviceKind::env).default_name, "Device1");
  EXPECT_EQ(kind_spec(DeviceKind::env).default_port, 7001);
  EXPECT_EQ(kind_spec(DeviceKind::env).default_interval, Millis(3000));
  EXPECT_EQ(kind_spec(DeviceKind::health).default_name, "Device2");
  EXPECT_EQ(kind_spec(DeviceKind::health).default_port, 7002);
  EXPECT_EQ(kind_spec(DeviceKind::health).default_interval, Millis(5000));
  EXPECT_EQ(parse_kind("env"), DeviceKind::env);
  EXPECT_EQ(parse_kind("health"), DeviceKind::health);
  EXPECT_FALSE(parse_kind("Env"));
}

TEST(IotReading, GrammarAcceptsReadings) {
  auto r = parse_reading("Device1: Temp=20, Humid=50, lilum=100");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "Device1");
  ASSERT_EQ(r->fields.size(), 3u);
  EXPECT_EQ(r->fields[2].key, "lilum");
  EXPECT_EQ(r->fields[2].value, 100);
  EXPECT_TRUE(parse_reading("Device1-7: X=1"));
  EXPECT_TRUE(parse_reading("living room: t_1=-5, h=0"));
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(parse_reading(make_reading("Device1", kind_spec(DeviceKind::env), rng)));
    EXPECT_TRUE(parse_reading(make_reading("Device2-9", kind_spec(DeviceKind::health), rng)));
  }
}

TEST(IotReading, GrammarRefusesAnythingElse) {
  for (std::string_view bad : {"", "Device1", "Device1:", "Device1: ", "Device1:Temp=1", "Device1: Temp=",
                               "Device1: Temp=x", "Device1: Temp=1,", "Device1: Temp=1, ", "Device1: Temp=1,Humid=2",
                               "Device1: Temp=1 , Humid=2", "Device1: Temp=1.5", "Device1: 1=1", "Device1: Temp==1",
                               ": Temp=1", "Dev:ice: Temp=1", "Device1: Temp=1\r", "Device1: Temp=99999999999999999999",
                               "Device1: Temp=1\x1b[2J", "GET / HTTP/1.1"}) {
    std::string why;
    EXPECT_FALSE(parse_reading(bad, &why)) << "accepted: " << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(IotReading, GrammarLimitIs1024Bytes) {
  std::string line = "D: K=1";
  while (line.size() + 5 <= kMaxReading) line += ", K=1";
  line.resize(kMaxReading);
  while (!line.empty() && line.back() != '1') line.pop_back();
  ASSERT_LE(line.size(), kMaxReading);
  EXPECT_TRUE(parse_reading(line)) << line.size();
  std::string too_long = "D: K=" + std::string(kMaxReading, '1');
  std::string why;
  EXPECT_FALSE(parse_reading(too_long, &why));
  EXPECT_NE(why.find("1024"), std::string::npos);
}

TEST(IotReading, DeviceNames) {
  EXPECT_TRUE(valid_device_name("Device1"));
  EXPECT_TRUE(valid_device_name("Device1-8000"));
  EXPECT_FALSE(valid_device_name(""));
  EXPECT_FALSE(valid_device_name("a:b"));
  EXPECT_FALSE(valid_device_name(" lead"));
  EXPECT_FALSE(valid_device_name("tab\tname"));
  EXPECT_FALSE(valid_device_name(std::string(65, 'x')));
}

}  // namespace
}  // namespace concur::iot
