// escape_for_terminal: received bytes never drive the terminal (RELIABILITY case 6). Control
// characters, escape sequences, C1 controls and invalid UTF-8 are shown as text; valid printable
// UTF-8 (the seed's Korean messages) passes unchanged.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/log.hpp"

namespace concur {
namespace {

// True if the text contains a byte a terminal would act on: C0 controls, DEL, or a C1 control
// (raw 0x80..0x9F or its UTF-8 form U+0080..U+009F).
bool has_terminal_control(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return true;
    if (c == 0xC2 && i + 1 < s.size()) {
      auto d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0x9f) return true;
    }
  }
  return false;
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

TEST(Escape, PrintableAsciiUnchanged) {
  EXPECT_EQ(escape_for_terminal("Hello, world! [id]text ~"), "Hello, world! [id]text ~");
}

TEST(Escape, KoreanAndEmojiUtf8Unchanged) {
  std::string ko = "숙제가 너무 많아";
  EXPECT_EQ(escape_for_terminal(ko), ko);
  std::string emoji = "ok \xF0\x9F\x98\x80 \xC3\xA9";
  EXPECT_EQ(escape_for_terminal(emoji), emoji);
}

TEST(Escape, EscapeSequencesShownAsText) {
  EXPECT_EQ(escape_for_terminal("\x1b[2J"), "\\x1b[2J");                      // clear screen
  EXPECT_EQ(escape_for_terminal("\x1b]0;title\x07"), "\\x1b]0;title\\x07");   // window title (OSC)
  EXPECT_EQ(escape_for_terminal("\x1b]52;c;ZXZpbA==\x07"), "\\x1b]52;c;ZXZpbA==\\x07");  // clipboard
}

TEST(Escape, ControlCharactersNamed) {
  EXPECT_EQ(escape_for_terminal("a\rb"), "a\\rb");
  EXPECT_EQ(escape_for_terminal("a\nb"), "a\\nb");
  EXPECT_EQ(escape_for_terminal("a\tb"), "a\\tb");
  EXPECT_EQ(escape_for_terminal("abc\b\b\bxyz"), "abc\\x08\\x08\\x08xyz");
  EXPECT_EQ(escape_for_terminal(std::string_view("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(escape_for_terminal("\x7f"), "\\x7f");
}

TEST(Escape, C1ControlsEscapedRawAndAsUtf8) {
  EXPECT_EQ(escape_for_terminal("\x9b" "2J"), "\\x9b2J");
  EXPECT_EQ(escape_for_terminal("\xC2\x9B" "2J"), "\\xc2\\x9b2J");
  EXPECT_FALSE(has_terminal_control(escape_for_terminal("\xC2\x85")));
}

TEST(Escape, InvalidUtf8Escaped) {
  EXPECT_EQ(escape_for_terminal("\xC0\xAF"), "\\xc0\\xaf");              // overlong '/'
  EXPECT_EQ(escape_for_terminal("\xED\xA0\x80"), "\\xed\\xa0\\x80");     // surrogate
  EXPECT_EQ(escape_for_terminal("\xE3\x81"), "\\xe3\\x81");              // truncated
  EXPECT_EQ(escape_for_terminal("\xF4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
  EXPECT_EQ(escape_for_terminal("\xFF"), "\\xff");
}

// Issue 13 item 4: valid UTF-8 that reorders or hides text is shown as \uXXXX.
TEST(Escape, BidiControlsAreShownEscaped) {
  EXPECT_EQ(escape_for_terminal("abc\u202Edcba"), "abc\\u202edcba");  // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(escape_for_terminal("\u202A\u202B\u202C\u202D"), "\\u202a\\u202b\\u202c\\u202d");
  EXPECT_EQ(escape_for_terminal("\u2066\u2067\u2068\u2069"), "\\u2066\\u2067\\u2068\\u2069");  // isolates
  EXPECT_EQ(escape_for_terminal("\u200E\u200F\u061C"), "\\u200e\\u200f\\u061c");  // LRM, RLM, ALM
}

TEST(Escape, ZeroWidthCharactersAreShownEscaped) {
  EXPECT_EQ(escape_for_terminal("bob\u200B"), "bob\\u200b");
  EXPECT_EQ(escape_for_terminal("\u200C\u200D\u2060\u2063"), "\\u200c\\u200d\\u2060\\u2063");
  EXPECT_EQ(escape_for_terminal("\u180E"), "\\u180e");
}

TEST(Escape, LineSeparatorsAndBomAreShownEscaped) {
  EXPECT_EQ(escape_for_terminal("a\u2028b\u2029c"), "a\\u2028b\\u2029c");
  EXPECT_EQ(escape_for_terminal("\uFEFFhello"), "\\ufeffhello");
}

TEST(Escape, VisibleNeighboursOfTheEscapedRangesPassUnchanged) {
  // En dash, ellipsis, per-mille sign and a full-width letter are ordinary text.
  for (const char* t : {"\u2013", "\u2026", "\u2030", "\u2070", "\uFF21", "\u200A"})
    EXPECT_EQ(escape_for_terminal(t), t) << t;
}

TEST(Escape, BackslashIsEscapedSoOutputIsUnambiguous) {
  // The literal text "\x1b" and a real ESC must not print the same.
  EXPECT_EQ(escape_for_terminal("\\"), "\\\\");
  EXPECT_NE(escape_for_terminal("\\x1b"), escape_for_terminal("\x1b"));
}

TEST(Escape, RandomBytesNeverLeakAControlAndStayValidUtf8) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 2000; ++round) {
    std::string s(1 + rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xff);
    std::string out = escape_for_terminal(s);
    ASSERT_FALSE(has_terminal_control(out)) << "round " << round;
    ASSERT_TRUE(is_valid_utf8(out)) << "round " << round;
  }
}

}  // namespace
}  // namespace concur
