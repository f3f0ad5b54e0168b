// Names in received chat lines get a colour per ID (issue 12): the same ID always the same
// colour, only the "[ID]" part coloured, anything else unchanged.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "clients/name_colour.hpp"

namespace concur {
namespace {

TEST(NameColour, SameIdSameColourAcrossCalls) {
  EXPECT_EQ(name_colour("bob"), name_colour("bob"));
  EXPECT_EQ(name_colour("김대희"), name_colour("김대희"));
  // Pinned values: a change of hash or palette would recolour everybody between versions.
  EXPECT_EQ(name_colour("bob"), "93");
  EXPECT_EQ(name_colour("alice"), name_colour("alice"));
}

TEST(NameColour, DifferentIdsSpreadOverThePalette) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) seen.insert(std::string(name_colour("user" + std::to_string(i))));
  EXPECT_GE(seen.size(), 10u);
  for (const auto& c : seen) EXPECT_TRUE(c.size() == 2 && (c[0] == '3' || c[0] == '9')) << c;
}

TEST(NameColour, OnlyTheBracketedNameIsColoured) {
  std::string want = "\x1b[" + std::string(name_colour("bob")) + "m[bob]\x1b[0mhello [x]";
  EXPECT_EQ(colour_chat_line("[bob]hello [x]"), want);
  EXPECT_EQ(colour_chat_line("[bob]"), "\x1b[" + std::string(name_colour("bob")) + "m[bob]\x1b[0m");
}

TEST(NameColour, LinesWithoutANameAreUnchanged) {
  for (const char* line : {"", "error: ID taken", "server closed the connection", "[]x", "[no end", " [bob]x"})
    EXPECT_EQ(colour_chat_line(line), line) << line;
  std::string long_tag = "[" + std::string(300, 'a') + "]x";
  EXPECT_EQ(colour_chat_line(long_tag), long_tag);
}

}  // namespace
}  // namespace concur
