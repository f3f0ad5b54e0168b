// LineFramer: TCP is a byte stream. Lines split across reads are reassembled, lines merged in
// one read are separated, "\r\n" and "\n" both end a line, and an over-long line is reported
// once (without buffering unbounded garbage) — RELIABILITY cases 1, 2, 3, 4, 5.
#include "core/line_framer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace concur {
namespace {

struct Collect {
  std::vector<std::string> lines;
  std::function<void(std::string_view)> fn() {
    return [this](std::string_view l) { lines.emplace_back(l); };
  }
};

using V = std::vector<std::string>;

TEST(LineFramer, OneLineWithNewline) {
  LineFramer f;
  Collect c;
  EXPECT_EQ(f.feed("hello\n", c.fn()), LineFramer::Status::ok);
  EXPECT_EQ(c.lines, V{"hello"});
  EXPECT_EQ(f.pending(), "");
}

TEST(LineFramer, CrLfAndLfBothEndALine) {
  LineFramer f;
  Collect c;
  f.feed("a\r\nb\nc\r\n", c.fn());
  EXPECT_EQ(c.lines, (V{"a", "b", "c"}));
}

TEST(LineFramer, LoneCrInsideALineIsKept) {
  LineFramer f;
  Collect c;
  f.feed("a\rb\n\r\n", c.fn());
  EXPECT_EQ(c.lines, (V{"a\rb", ""}));
}

TEST(LineFramer, ByteAtATimeYieldsExactlyOneLine) {
  LineFramer f;
  Collect c;
  std::string msg = "hello\r\n";
  for (char ch : msg) EXPECT_EQ(f.feed(std::string_view(&ch, 1), c.fn()), LineFramer::Status::ok);
  EXPECT_EQ(c.lines, V{"hello"});
}

TEST(LineFramer, CrAndLfSplitAcrossReadsStillOneTerminator) {
  LineFramer f;
  Collect c;
  f.feed("abc\r", c.fn());
  EXPECT_TRUE(c.lines.empty());
  EXPECT_EQ(f.pending(), "abc\r");
  f.feed("\ndef", c.fn());
  EXPECT_EQ(c.lines, V{"abc"});
  EXPECT_EQ(f.pending(), "def");
}

TEST(LineFramer, HundredCoalescedLinesComeOutSeparateAndInOrder) {
  LineFramer f;
  Collect c;
  std::string all;
  V expect;
  for (int i = 0; i < 100; ++i) {
    expect.push_back("line " + std::to_string(i));
    all += expect.back() + "\n";
  }
  f.feed(all, c.fn());
  EXPECT_EQ(c.lines, expect);
}

TEST(LineFramer, EmptyLinesAreLines) {
  LineFramer f;
  Collect c;
  f.feed("\n\n\r\n", c.fn());
  EXPECT_EQ(c.lines, (V{"", "", ""}));
}

TEST(LineFramer, UnfinishedTailIsHeldAsPending) {
  LineFramer f;
  Collect c;
  f.feed("one\ntw", c.fn());
  EXPECT_EQ(c.lines, V{"one"});
  EXPECT_EQ(f.pending(), "tw");
  f.feed("o\n", c.fn());
  EXPECT_EQ(c.lines, (V{"one", "two"}));
  EXPECT_EQ(f.pending(), "");
}

TEST(LineFramer, NulBytesDoNotTruncateALine) {
  LineFramer f;
  Collect c;
  f.feed(std::string_view("a\0b\n", 4), c.fn());
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.lines[0], std::string("a\0b", 3));
}

TEST(LineFramer, LineOfExactlyMaxBytesIsAccepted) {
  LineFramer f(8);
  Collect c;
  EXPECT_EQ(f.feed("12345678\n", c.fn()), LineFramer::Status::ok);
  EXPECT_EQ(f.feed("abcdefgh\r\n", c.fn()), LineFramer::Status::ok);  // "\r" is not counted
  EXPECT_EQ(c.lines, (V{"12345678", "abcdefgh"}));
  EXPECT_FALSE(f.failed());
}

TEST(LineFramer, MaxBytesPlusCrArrivingInPiecesIsAccepted) {
  LineFramer f(8);
  Collect c;
  EXPECT_EQ(f.feed("12345678\r", c.fn()), LineFramer::Status::ok);
  EXPECT_EQ(f.feed("\n", c.fn()), LineFramer::Status::ok);
  EXPECT_EQ(c.lines, V{"12345678"});
}

TEST(LineFramer, LineOneByteOverMaxIsTooLong) {
  LineFramer f(8);
  Collect c;
  EXPECT_EQ(f.feed("123456789\n", c.fn()), LineFramer::Status::too_long);
  EXPECT_TRUE(c.lines.empty());
  EXPECT_TRUE(f.failed());
}

TEST(LineFramer, OverLongLineSplitAcrossReadsIsTooLong) {
  LineFramer f(8);
  Collect c;
  EXPECT_EQ(f.feed("12345", c.fn()), LineFramer::Status::ok);
  EXPECT_EQ(f.feed("6789\n", c.fn()), LineFramer::Status::too_long);
  EXPECT_TRUE(c.lines.empty());
}

TEST(LineFramer, EndlessGarbageWithoutNewlineFailsEarlyAndHoldsNothing) {
  // 64 KiB with no "\n" against a 4096-byte limit: reported at once, not buffered (case 3/4).
  LineFramer f(4096);
  Collect c;
  std::string chunk(1024, 'g');
  LineFramer::Status st = LineFramer::Status::ok;
  int fed = 0;
  while (st == LineFramer::Status::ok && fed < 64) {
    st = f.feed(chunk, c.fn());
    ++fed;
  }
  EXPECT_EQ(st, LineFramer::Status::too_long);
  EXPECT_LE(fed, 5);  // failed as soon as more than 4096 (+1 for a possible '\r') were held
  EXPECT_EQ(f.pending().size(), 0u);
  EXPECT_TRUE(c.lines.empty());
}

TEST(LineFramer, StaysFailedAfterTooLong) {
  LineFramer f(4);
  Collect c;
  EXPECT_EQ(f.feed("toolong\nok\n", c.fn()), LineFramer::Status::too_long);
  EXPECT_EQ(f.feed("ok\n", c.fn()), LineFramer::Status::too_long);
  EXPECT_TRUE(c.lines.empty());
}

TEST(LineFramer, LinesBeforeTheOverLongOneAreStillDelivered) {
  LineFramer f(4);
  Collect c;
  EXPECT_EQ(f.feed("ab\ncd\nTOOLONG\nef\n", c.fn()), LineFramer::Status::too_long);
  EXPECT_EQ(c.lines, (V{"ab", "cd"}));
}

TEST(LineFramer, DefaultLimitIsSpec4096) {
  LineFramer f;
  EXPECT_EQ(f.max_line(), 4096u);
  Collect c;
  EXPECT_EQ(f.feed(std::string(4096, 'x') + "\n", c.fn()), LineFramer::Status::ok);
  EXPECT_EQ(f.feed(std::string(4097, 'x') + "\n", c.fn()), LineFramer::Status::too_long);
  ASSERT_EQ(c.lines.size(), 1u);
}

TEST(LineFramer, AnySplitOfAStreamGivesTheSameLines) {
  // Feeding the same bytes in pieces of every size gives the same lines as one feed.
  std::string stream = "alpha\r\nbeta\n\ngamma\rdelta\r\n\r\nlast\n";
  V expect;
  {
    LineFramer f;
    Collect c;
    f.feed(stream, c.fn());
    expect = c.lines;
  }
  ASSERT_EQ(expect, (V{"alpha", "beta", "", "gamma\rdelta", "", "last"}));
  for (size_t piece = 1; piece <= stream.size(); ++piece) {
    LineFramer f;
    Collect c;
    for (size_t off = 0; off < stream.size(); off += piece) f.feed(std::string_view(stream).substr(off, piece), c.fn());
    EXPECT_EQ(c.lines, expect) << "piece size " << piece;
    EXPECT_EQ(f.pending(), "");
  }
}

}  // namespace
}  // namespace concur
