// Line reassembly for the collector and the device's Register matcher: pure, byte by byte.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "iot/line_assembler.hpp"

namespace concur::iot {
namespace {

struct Out {
  std::vector<std::string> lines;
  std::vector<size_t> too_long;
};

void feed(LineAssembler& a, std::string_view bytes, Out& out) {
  a.feed(
      bytes, [&](std::string_view l) { out.lines.emplace_back(l); }, [&](size_t n) { out.too_long.push_back(n); });
}

TEST(IotLineAssembler, ByteAtATime) {
  LineAssembler a(1024);
  Out out;
  std::string text = "Device1: Temp=1, Humid=2, lilum=70\nDevice2: Heartbeat=40, Steps=2000, Cal=1000\n";
  for (char c : text) feed(a, std::string_view(&c, 1), out);
  ASSERT_EQ(out.lines.size(), 2u);
  EXPECT_EQ(out.lines[0], "Device1: Temp=1, Humid=2, lilum=70");
  EXPECT_EQ(out.lines[1], "Device2: Heartbeat=40, Steps=2000, Cal=1000");
  EXPECT_EQ(a.pending(), 0u);
}

TEST(IotLineAssembler, MergedAndSplitSegments) {
  LineAssembler a(1024);
  Out out;
  feed(a, "a: K=1\nb: K=2\nc: K", out);
  feed(a, "=3\n", out);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"a: K=1", "b: K=2", "c: K=3"}));
}

TEST(IotLineAssembler, CrLfAccepted) {
  LineAssembler a(1024);
  Out out;
  feed(a, "a: K=1\r", out);
  feed(a, "\nb: K=2\r\n", out);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"a: K=1", "b: K=2"}));
}

TEST(IotLineAssembler, OverLongLineIsReportedOnceAndSkippedToItsNewline) {
  LineAssembler a(16);
  Out out;
  feed(a, std::string(10, 'x'), out);
  feed(a, std::string(10, 'y'), out);  // now over the limit
  feed(a, std::string(5000, 'z'), out);
  feed(a, "tail\nnext: K=1\n", out);
  ASSERT_EQ(out.too_long.size(), 1u);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"next: K=1"}));  // the tail is not spliced on
}

TEST(IotLineAssembler, OverLongCompleteLine) {
  LineAssembler a(8);
  Out out;
  feed(a, "123456789\nok: K=1\n12345678\n", out);
  EXPECT_EQ(out.too_long.size(), 1u);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"ok: K=1", "12345678"}));
}

TEST(IotLineAssembler, ExactlyAtLimitWithCrLfIsAccepted) {
  LineAssembler a(8);
  Out out;
  feed(a, "12345678\r", out);
  feed(a, "\n", out);
  EXPECT_TRUE(out.too_long.empty());
  EXPECT_EQ(out.lines, (std::vector<std::string>{"12345678"}));
}

TEST(IotLineAssembler, ResetDropsPartialLine) {
  LineAssembler a(64);
  Out out;
  feed(a, "torn: K=", out);
  a.reset();
  feed(a, "whole: K=1\n", out);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"whole: K=1"}));
}

using S = RegisterMatcher::State;

TEST(IotRegister, WithAndWithoutNewline) {
  for (std::string_view msg : {"Register", "Register\n", "Register\r\n", "\nRegister", "Register more"}) {
    RegisterMatcher m;
    EXPECT_EQ(m.feed(msg), S::registered) << msg;
  }
}

TEST(IotRegister, ByteAtATime) {
  RegisterMatcher m;
  std::string_view msg = "Register";
  for (size_t i = 0; i + 1 < msg.size(); ++i) EXPECT_EQ(m.feed(msg.substr(i, 1)), S::waiting);
  EXPECT_EQ(m.feed("r"), S::registered);
}

TEST(IotRegister, AnythingElseIsRefused) {
  for (std::string_view msg : {"register", "Regi ster", "Registers", "GET / HTTP/1.1\r\n", "x"}) {
    RegisterMatcher m;
    EXPECT_EQ(m.feed(msg), S::refused) << msg;
  }
  RegisterMatcher m;
  EXPECT_EQ(m.feed("Reg"), S::waiting);
  EXPECT_EQ(m.feed("x"), S::refused);
}

}  // namespace
}  // namespace concur::iot
