// The pure pieces under chat-client and pair-chat (src/clients): received-text framing, input
// lines and ID rules. No sockets, no processes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "clients/chat_id.hpp"
#include "clients/input_reader.hpp"
#include "clients/received_text.hpp"
#include "core/fd.hpp"

namespace concur {
namespace {

using Lines = std::vector<std::string>;

struct Collect {
  Lines got;
  TextSink sink() {
    return [this](std::string_view s) { got.emplace_back(s); };
  }
};

TEST(ChatClientText, CompleteLinesAtOnceTailOnFlush) {
  StreamText t;
  Collect c;
  t.feed("one\ntwo\r\nthr", c.sink());
  EXPECT_EQ(c.got, (Lines{"one", "two"}));
  EXPECT_TRUE(t.has_pending());
  t.feed("ee\nfour", c.sink());
  EXPECT_EQ(c.got, (Lines{"one", "two", "three"}));
  t.flush(c.sink());
  EXPECT_EQ(c.got, (Lines{"one", "two", "three", "four"}));
  EXPECT_FALSE(t.has_pending());
  t.flush(c.sink());  // nothing pending: nothing emitted
  EXPECT_EQ(c.got.size(), 4u);
}

TEST(ChatClientText, ByteAtATimeIsOneLine) {
  StreamText t;
  Collect c;
  for (char ch : std::string("hello\n")) t.feed(std::string_view(&ch, 1), c.sink());
  EXPECT_EQ(c.got, (Lines{"hello"}));
}

TEST(ChatClientText, EmptyLinesAndLoneCrSurvive) {
  StreamText t;
  Collect c;
  t.feed("\n\r\na\rb\n", c.sink());
  EXPECT_EQ(c.got, (Lines{"", "", "a\rb"}));
}

TEST(ChatClientText, PendingTailIsBounded) {
  StreamText t(8);
  Collect c;
  t.feed(std::string(20, 'x'), c.sink());
  EXPECT_EQ(c.got, (Lines{"xxxxxxxx", "xxxxxxxx"}));
  t.flush(c.sink());
  EXPECT_EQ(c.got.back(), "xxxx");
}

TEST(ChatClientText, DatagramIsOneMessageNewlinesSplitIt) {
  Collect c;
  split_datagram("[bob]hi", c.sink());
  split_datagram("[bob]a\r\n[bob]b\n", c.sink());
  split_datagram("", c.sink());
  EXPECT_EQ(c.got, (Lines{"[bob]hi", "[bob]a", "[bob]b", ""}));
}

struct Pipe {
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    r.reset(fds[0]);
    w.reset(fds[1]);
  }
  void put(const std::string& s) { EXPECT_EQ(::write(w.get(), s.data(), s.size()), static_cast<ssize_t>(s.size())); }
  FileDesc r, w;
};

TEST(ChatClientText, InputLinesAndUnterminatedLastLine) {
  Pipe p;
  InputReader in(p.r.get());
  p.put("alice\r\nhello\nno newline");
  p.w.reset();
  auto l = in.read_line();
  ASSERT_TRUE(l);
  EXPECT_EQ(l->text, "alice");
  EXPECT_EQ(in.next_line()->text, "hello");
  EXPECT_FALSE(in.next_line());  // the tail waits for more input or its end
  EXPECT_FALSE(in.read_some());
  EXPECT_TRUE(in.eof());
  EXPECT_EQ(in.next_line()->text, "no newline");
  EXPECT_FALSE(in.next_line());
  EXPECT_FALSE(in.read_line());
}

TEST(ChatClientText, OverlongInputLineIsFlaggedAndItsRestDropped) {
  Pipe p;
  InputReader in(p.r.get(), 4);
  p.put("abcdefghij\nok\n");
  p.w.reset();
  auto l = in.read_line();
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->too_long);
  EXPECT_EQ(l->text, "abcd");
  l = in.read_line();
  ASSERT_TRUE(l);
  EXPECT_FALSE(l->too_long);
  EXPECT_EQ(l->text, "ok");
}

TEST(ChatClientText, ChatIdRules) {
  EXPECT_FALSE(chat_id_problem("alice"));
  EXPECT_FALSE(chat_id_problem("\xea\xb9\x80\xeb\x8c\x80\xed\x9d\xac"));  // Korean name
  EXPECT_FALSE(chat_id_problem("a b\\c"));
  EXPECT_FALSE(chat_id_problem(std::string(32, 'n')));
  EXPECT_TRUE(chat_id_problem(""));
  EXPECT_TRUE(chat_id_problem(std::string(33, 'n')));
  EXPECT_TRUE(chat_id_problem("a]b"));
  EXPECT_TRUE(chat_id_problem("[a"));
  EXPECT_TRUE(chat_id_problem("tab\there"));
  EXPECT_TRUE(chat_id_problem("esc\x1b"));
  EXPECT_TRUE(chat_id_problem("c1\xc2\x9b"));
  EXPECT_TRUE(chat_id_problem("bad\xff utf8"));
}

}  // namespace
}  // namespace concur
