// `concur demo` is the project's main job: it must run every section, exit 0 well within a
// minute, and leave data.txt with at least 5 readings from each device in its working directory.
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/text_file.hpp"

namespace concur::test {
namespace {

TEST(Demo, RunsEverySectionAndLeavesDataTxt) {
  TempDir dir;
  Process demo({concur_binary(), "demo"}, dir.path());
  std::string out = demo.read_all_stdout(Ms(60000));
  auto rc = demo.wait(Ms(5000));
  ASSERT_TRUE(rc) << "demo still running after a minute";
  EXPECT_EQ(*rc, 0) << out << demo.read_all_stderr(Ms(100));
  for (const char* section : {"  echo  ok", "  race  ok", "  chat  ok", "  iot   ok", "  rooms ok", "demo finished: everything worked."})
    EXPECT_NE(out.find(section), std::string::npos) << "missing: " << section << "\n" << out;
  int d1 = 0, d2 = 0;
  for (const auto& line : split_lines(slurp(dir.file("data.txt")))) {
    d1 += line.find(": Device1: Temp=") != std::string::npos;
    d2 += line.find(": Device2: Heartbeat=") != std::string::npos;
  }
  EXPECT_GE(d1, 5);
  EXPECT_GE(d2, 5);
}

}  // namespace
}  // namespace concur::test
