// --log-format json lines (core/json_log): always valid JSON, and the message comes back intact.
#include <gtest/gtest.h>

#include <regex>

#include "core/json_log.hpp"

namespace concur {
namespace {

using namespace std::chrono_literals;

TEST(JsonLog, QuoteEscapesControlsQuotesAndBackslashes) {
  EXPECT_EQ(json_quote("a\"b\\c\n\t\x01\x7f"), R"("a\"b\\c\n\t\u0001\u007f")");
}

TEST(JsonLog, QuoteKeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(json_quote("김대희"), "\"김대희\"");
  EXPECT_EQ(json_quote("a\xff" "b\xc3"), R"("a\ufffdb\ufffd")");  // stray byte, truncated sequence
  EXPECT_EQ(json_quote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // a UTF-16 surrogate is not UTF-8
}

TEST(JsonLog, LineHasTimeStreamMessage) {
  std::string line = json_log_line("stderr", "concur: cannot bind", std::chrono::system_clock::time_point(1500ms));
  static const std::regex re(
      R"(^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.500[+-]\d\d:\d\d","stream":"stderr","message":"concur: cannot bind"\}$)");
  EXPECT_TRUE(std::regex_match(line, re)) << line;
}

TEST(JsonLog, ListeningLineGetsItsPartsAsFields) {
  auto now = std::chrono::system_clock::now();
  std::string tcp = json_log_line("stdout", "listening on 0.0.0.0:2500 (tcp, model=epoll)", now);
  EXPECT_NE(tcp.find(R"(,"event":"listening","address":"0.0.0.0:2500","transport":"tcp","model":"epoll"})"),
            std::string::npos)
      << tcp;
  std::string web = json_log_line("stdout", "listening on [::1]:8080 (http, web)", now);
  EXPECT_NE(web.find(R"("address":"[::1]:8080","transport":"http","role":"web"})"), std::string::npos) << web;
  std::string other = json_log_line("stdout", "listening on nothing", now);
  EXPECT_EQ(other.find("\"event\""), std::string::npos) << other;
}

TEST(JsonLog, MessageRoundTrips) {
  for (std::string m : {"listening on 127.0.0.1:1 (tcp, model=thread)", "Received message: \"q\" \\ \x01\t end",
                        "김대희: {\"message\":\"not this\"}", ""}) {
    auto back = json_log_message(json_log_line("stdout", m, std::chrono::system_clock::now()));
    ASSERT_TRUE(back) << m;
    EXPECT_EQ(*back, m);
  }
}

TEST(JsonLog, TextLinesAreNotJsonLogLines) {
  EXPECT_FALSE(json_log_message("listening on 0.0.0.0:2500 (tcp, model=thread)"));
  EXPECT_FALSE(json_log_message("{\"message\":\"unterminated"));
  EXPECT_EQ(log_message_of("plain"), "plain");
}

}  // namespace
}  // namespace concur
