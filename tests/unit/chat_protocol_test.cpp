// The chat's wire rules, without sockets (services/chat_protocol, services/chat_flood).
#include <gtest/gtest.h>

#include <set>

#include "services/chat_flood.hpp"
#include "services/chat_protocol.hpp"

namespace concur::chat {
namespace {

using St = JoinDecoder::State;
using Kind = Classified::Kind;

TEST(ChatProtocol, IdRulesEachHaveTheirOwnError) {
  EXPECT_EQ(check_id("alice"), IdError::none);
  EXPECT_EQ(check_id("전창완"), IdError::none);
  EXPECT_EQ(check_id("kim dae"), IdError::none);
  EXPECT_EQ(check_id(std::string(32, 'a')), IdError::none);
  EXPECT_EQ(check_id(""), IdError::empty);
  EXPECT_EQ(check_id(std::string(33, 'a')), IdError::too_long);
  EXPECT_EQ(check_id("a[b"), IdError::bracket);
  EXPECT_EQ(check_id("a]b"), IdError::bracket);
  EXPECT_EQ(check_id("a\tb"), IdError::control);
  EXPECT_EQ(check_id("a\x1b[2J"), IdError::control);
  EXPECT_EQ(check_id("a\xc2\x9b"), IdError::control);  // C1 CSI
  EXPECT_EQ(check_id("a\xff"), IdError::bad_utf8);
  EXPECT_EQ(check_id("\xc0\xaf"), IdError::bad_utf8);  // overlong '/'
  EXPECT_EQ(check_id(" bob"), IdError::edge_space);
  EXPECT_EQ(check_id("bob "), IdError::edge_space);
  EXPECT_EQ(check_id("bob\u200b"), IdError::invisible);  // zero-width space
  EXPECT_EQ(check_id("\u202eboj"), IdError::invisible);  // right-to-left override
  // Every refusal reads differently.
  std::set<std::string> texts;
  for (auto e : {IdError::empty, IdError::too_long, IdError::bracket, IdError::control, IdError::bad_utf8,
                 IdError::edge_space, IdError::invisible})
    texts.insert(id_error_text(e, "x"));
  EXPECT_EQ(texts.size(), 7u);
}

TEST(ChatProtocol, IdsDifferingOnlyInAsciiCaseCollide) {
  EXPECT_EQ(fold_id("Bob"), fold_id("bob"));
  EXPECT_NE(fold_id("bob"), fold_id("bob2"));
  EXPECT_EQ(fold_id("전창완"), "전창완");
  EXPECT_NE(taken_error_text("Bob", "bob"), taken_error_text("bob", "bob"));
}

TEST(ChatProtocol, TextMustBeUtf8WithoutControls) {
  EXPECT_EQ(check_text("hello\tworld 점심"), TextError::none);
  EXPECT_EQ(check_text(std::string("a\0b", 3)), TextError::control);
  EXPECT_EQ(check_text("\x1b]52;c;aGk=\x07"), TextError::control);
  EXPECT_EQ(check_text("a\rb"), TextError::control);
  EXPECT_EQ(check_text("\xed\xa0\x80"), TextError::bad_utf8);  // surrogate
  EXPECT_EQ(check_text("\xe2\x82"), TextError::bad_utf8);      // truncated
}

TEST(ChatProtocol, MessageKeepsOwnPrefixOrGetsIt) {
  auto a = classify("[alice]hi", "alice");
  EXPECT_EQ(a.kind, Kind::relay);
  EXPECT_EQ(a.text, "[alice]hi");
  auto b = classify("hi there", "alice");
  EXPECT_EQ(b.kind, Kind::relay);
  EXPECT_EQ(b.text, "[alice]hi there");
  auto c = classify("[Alice] hi", "alice");  // own ID in another case: normalized
  EXPECT_EQ(c.text, "[alice] hi");
  auto d = classify("[] hi", "alice");  // not an ID: text
  EXPECT_EQ(d.text, "[alice][] hi");
  auto e = classify("[alice][bob]x", "alice");
  EXPECT_EQ(e.text, "[alice][bob]x");
}

TEST(ChatProtocol, ClaimingAnotherIdIsImpersonation) {
  auto c = classify("[bob]I am bob", "alice");
  EXPECT_EQ(c.kind, Kind::impersonation);
  EXPECT_EQ(c.claimed, "bob");
  EXPECT_NE(impersonation_error_text("alice", "bob").find("bob"), std::string::npos);
}

TEST(ChatProtocol, OnlyTheExactQuitQuits) {
  EXPECT_EQ(classify("[alice]quit", "alice").kind, Kind::quit);
  EXPECT_EQ(classify("quit", "alice").kind, Kind::quit);
  EXPECT_EQ(classify("[alice]quit now", "alice").kind, Kind::relay);
  EXPECT_EQ(classify("[alice] quit", "alice").kind, Kind::relay);
  EXPECT_EQ(classify("[alice]I quit", "alice").kind, Kind::relay);
  EXPECT_EQ(classify("[alice]QUIT", "alice").kind, Kind::relay);
  EXPECT_EQ(classify("[bob]quit", "alice").kind, Kind::impersonation);
  EXPECT_EQ(classify("[alice]", "alice").kind, Kind::empty);
  EXPECT_EQ(classify("", "alice").kind, Kind::empty);
  EXPECT_EQ(classify("[alice]\x1b[2J", "alice").kind, Kind::bad_text);
}

TEST(ChatProtocol, LineJoin) {
  JoinDecoder d;
  EXPECT_EQ(d.feed("[alice]\nhello\n"), St::line);
  EXPECT_EQ(d.id(), "alice");
  EXPECT_EQ(d.take_rest(), "hello\n");
  JoinDecoder crlf;
  EXPECT_EQ(crlf.feed("[bob]\r\n"), St::line);
  EXPECT_EQ(crlf.take_rest(), "");
}

TEST(ChatProtocol, JoinSentByteByByteIsStillALineJoin) {
  JoinDecoder d;
  std::string join = "[bob]\r\n";
  St s = St::need_more;
  for (size_t i = 0; i < join.size(); ++i) {
    s = d.feed(join.substr(i, 1));
    if (i < 4) {
      EXPECT_EQ(s, St::need_more) << i;
    } else if (i < join.size() - 1) {
      EXPECT_EQ(s, St::undecided) << i;
    }
  }
  EXPECT_EQ(s, St::line);
}

TEST(ChatProtocol, RawJoinByFollowingBytesOrSilence) {
  JoinDecoder direct;
  EXPECT_EQ(direct.feed("[kim][kim]hi"), St::raw);
  EXPECT_EQ(direct.take_rest(), "[kim]hi");
  JoinDecoder silent;
  EXPECT_EQ(silent.feed("[kim]"), St::undecided);
  EXPECT_EQ(silent.timeout(), St::raw);
  EXPECT_EQ(silent.id(), "kim");
  EXPECT_EQ(silent.take_rest(), "");
  EXPECT_EQ(silent.feed("\n"), St::raw);  // decided for good
}

TEST(ChatProtocol, InvalidJoins) {
  for (std::string_view bad : {"hello\n", "x", "[]\n", "[ bob]\n", "[a\nb]"}) {
    JoinDecoder d;
    EXPECT_EQ(d.feed(bad), St::invalid) << bad;
    EXPECT_FALSE(d.error().empty());
  }
  JoinDecoder endless;
  EXPECT_EQ(endless.feed("[" + std::string(40, 'a')), St::invalid);  // no ']' in sight
  JoinDecoder incomplete;
  EXPECT_EQ(incomplete.feed("[" + std::string(32, 'a')), St::need_more);
}

TEST(ChatProtocol, HttpIsRecognisedEvenInPieces) {
  for (std::string_view req : {"GET / HTTP/1.1\r\n", "POST /x HTTP/1.0\r\n", "Host: example\r\n"}) {
    JoinDecoder d;
    St s = St::need_more;
    for (char ch : req) {
      s = d.feed(std::string_view(&ch, 1));
      if (s != St::need_more) break;
    }
    EXPECT_EQ(s, St::http) << req;
  }
  EXPECT_TRUE(looks_like_http("GET /"));
  EXPECT_FALSE(looks_like_http("GETTY"));
  EXPECT_TRUE(may_become_http("PO"));
  EXPECT_FALSE(may_become_http("PX"));
}

TEST(ChatProtocol, RawChunksSplitAtNewlinesAndRepeatedPrefix) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(split_raw_chunk("[kim]hi", "kim"), (V{"[kim]hi"}));
  EXPECT_EQ(split_raw_chunk("[kim]hi[kim]there", "kim"), (V{"[kim]hi", "[kim]there"}));
  EXPECT_EQ(split_raw_chunk("[kim]a\r\n\n[kim]b\n", "kim"), (V{"[kim]a", "[kim]b"}));
  EXPECT_EQ(split_raw_chunk("one\n[lee]two", "kim"), (V{"one", "[lee]two"}));
  EXPECT_EQ(split_raw_chunk("\r\n", "kim"), V{});
}

TEST(ChatFlood, BurstPassesThenSlowDownThenDisconnect) {
  using C = FloodGuard::Clock;
  using V = FloodGuard::Verdict;
  FloodGuard g(10, 5);
  C::time_point t{};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(g.on_message(t), V::pass);
  EXPECT_EQ(g.on_message(t), V::warn);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(g.on_message(t), V::drop);
  // 100 ms later one token is back.
  t += std::chrono::milliseconds(100);
  EXPECT_EQ(g.on_message(t), V::pass);
  EXPECT_EQ(g.on_message(t), V::drop);        // same episode: no second warning
  EXPECT_EQ(g.on_message(t), V::disconnect);  // 6 drops > burst 5
}

TEST(ChatFlood, QuietSpellEndsTheEpisode) {
  using C = FloodGuard::Clock;
  using V = FloodGuard::Verdict;
  FloodGuard g(10, 2);
  C::time_point t{};
  EXPECT_EQ(g.on_message(t), V::pass);
  EXPECT_EQ(g.on_message(t), V::pass);
  EXPECT_EQ(g.on_message(t), V::warn);
  t += std::chrono::seconds(1);  // bucket full again
  EXPECT_EQ(g.on_message(t), V::pass);
  EXPECT_EQ(g.on_message(t), V::pass);
  EXPECT_EQ(g.on_message(t), V::warn);  // a new episode warns again
}

TEST(ChatFlood, PersonTypingIsNeverPunishedByDefaults) {
  FloodGuard g(100, 500);  // the CLI defaults
  auto t = FloodGuard::Clock::time_point{};
  for (int i = 0; i < 300; ++i) EXPECT_EQ(g.on_message(t), FloodGuard::Verdict::pass);  // a paste
  for (int i = 0; i < 1000; ++i) {
    t += std::chrono::milliseconds(100);  // 10 lines a second, for 100 s
    ASSERT_EQ(g.on_message(t), FloodGuard::Verdict::pass);
  }
}

TEST(ChatFlood, ZeroRateMeansNoLimit) {
  FloodGuard g(0, 1);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(g.on_message({}), FloodGuard::Verdict::pass);
}

}  // namespace
}  // namespace concur::chat
