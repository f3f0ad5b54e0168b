// `concur demo` is the project's main job: it must run every section, exit 0 well within a
// minute, and leave data.txt with at least 5 readings from each device in its working directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "support/process.hpp"

namespace concur::test {
namespace {

TEST(Demo, RunsEverySectionAndLeavesDataTxt) {
  char dir[] = "/tmp/concur-demo-XXXXXX";
  ASSERT_TRUE(::mkdtemp(dir));
  Process demo({concur_binary(), "demo"}, dir);
  std::string out = demo.read_all_stdout(Ms(60000));
  auto rc = demo.wait(Ms(5000));
  ASSERT_TRUE(rc) << "demo still running after a minute";
  EXPECT_EQ(*rc, 0) << out << demo.read_all_stderr(Ms(100));
  for (const char* section : {"  echo  ok", "  race  ok", "  chat  ok", "  iot   ok", "  rooms ok", "demo finished: everything worked."})
    EXPECT_NE(out.find(section), std::string::npos) << "missing: " << section << "\n" << out;
  std::ifstream data(std::string(dir) + "/data.txt");
  std::string line;
  int d1 = 0, d2 = 0;
  while (std::getline(data, line)) {
    d1 += line.find(": Device1: Temp=") != std::string::npos;
    d2 += line.find(": Device2: Heartbeat=") != std::string::npos;
  }
  EXPECT_GE(d1, 5);
  EXPECT_GE(d2, 5);
  std::remove((std::string(dir) + "/data.txt").c_str());
  ::rmdir(dir);
}

}  // namespace
}  // namespace concur::test
