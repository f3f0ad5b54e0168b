// Batch: a pass's lines and, parsed once by the collector, their readings — kept in step with the
// text through append and drop_oldest, so no sink has to parse a line again.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "iot/reading.hpp"
#include "iot/reading_sink.hpp"

namespace concur::iot {
namespace {

constexpr std::string_view kStamp = "Thu Dec  3 06:24:37 2026";

// "name k=v k=v @t" per reading, as the sink sees them.
std::vector<std::string> seen(const Batch& b) {
  std::vector<std::string> out;
  b.for_each_reading([&](const ParsedReading& r, double t) {
    std::string s(r.name);
    for (const Field& f : r.fields) s += " " + std::string(f.key) + "=" + std::to_string(f.value);
    out.push_back(s + " @" + std::to_string(static_cast<int>(t)));
  });
  return out;
}

TEST(IotBatch, SinksGetTheCollectorsParseNotAParseOfTheirOwn) {
  Batch b;
  std::string line = "Device1: Temp=20, Humid=50, lilum=100";
  ParsedReading p = *parse_reading(line);
  p.fields[0].value = 99;  // differs from the text: only a sink that re-parsed would say 20
  b.add(kStamp, line, 7.0, p);
  EXPECT_EQ(seen(b), (std::vector<std::string>{"Device1 Temp=99 Humid=50 lilum=100 @7"}));
  EXPECT_EQ(b.text, std::string(kStamp) + ": " + line + "\n");
}

TEST(IotBatch, TheParseFollowsAppendAndDropOldest) {
  Batch a, c;
  a.add(kStamp, "A: X=1", 1.0);
  a.add(kStamp, "B: X=2, Y=3", 2.0);
  c.add(kStamp, "C: Z=4, Y=5, X=6", 3.0);
  a.append(c);
  EXPECT_EQ(seen(a), (std::vector<std::string>{"A X=1 @1", "B X=2 Y=3 @2", "C Z=4 Y=5 X=6 @3"}));
  // Keep only the last line: the first two lines' fields must go with them.
  size_t last = std::string(kStamp).size() + std::string(": C: Z=4, Y=5, X=6\n").size();
  EXPECT_EQ(a.drop_oldest(last), 2u);
  EXPECT_EQ(seen(a), (std::vector<std::string>{"C Z=4 Y=5 X=6 @3"}));
  a.clear();
  EXPECT_TRUE(seen(a).empty());
  a.add(kStamp, "D: W=7", 4.0);
  EXPECT_EQ(seen(a), (std::vector<std::string>{"D W=7 @4"}));
}

TEST(IotBatch, TextLinesAreParsedOnUseAndInvalidOnesSkipped) {
  Batch b = Batch::stamped_now(std::string(kStamp) + ": A: X=1\n" + std::string(kStamp) + ": B: X=2\n");
  EXPECT_EQ(b.lines(), 2u);
  std::vector<std::string> names;
  b.for_each_reading([&](const ParsedReading& r, double) { names.emplace_back(r.name); });
  EXPECT_EQ(names, (std::vector<std::string>{"A", "B"}));

  Batch bad;
  bad.add(kStamp, "A: X=1", 1.0);
  bad.add(kStamp, "not a reading", 2.0);  // only text lines can hold one (tests, write_lines)
  bad.add(kStamp, "C: Y=3", 3.0);
  Batch more = Batch::stamped_now("\n");
  bad.append(more);
  EXPECT_EQ(bad.lines(), 4u);
  EXPECT_EQ(seen(bad), (std::vector<std::string>{"A X=1 @1", "C Y=3 @3"}));
}

TEST(IotBatch, ACursorResumesWhereItStopped) {
  Batch b;
  for (int i = 0; i < 5; ++i) b.add(kStamp, "D" + std::to_string(i) + ": X=" + std::to_string(i), i);
  Batch::Cursor at;
  ParsedReading r;
  double t = 0;
  ASSERT_TRUE(b.next(at, r, t));
  ASSERT_TRUE(b.next(at, r, t));
  EXPECT_EQ(r.name, "D1");
  EXPECT_EQ(at.line, 2u);
  Batch::Cursor copy = at;  // the MQTT sink keeps one across loop passes
  ASSERT_TRUE(b.next(copy, r, t));
  EXPECT_EQ(r.name, "D2");
  EXPECT_EQ(r.fields.at(0).value, 2);
  EXPECT_EQ(t, 2.0);
  while (b.next(copy, r, t)) {
  }
  EXPECT_EQ(copy.line, 5u);
  EXPECT_EQ(r.name, "D4");
}

}  // namespace
}  // namespace concur::iot
