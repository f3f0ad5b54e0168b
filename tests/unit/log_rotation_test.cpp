#include "iot/log_rotation.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.hpp"
#include "support/text_file.hpp"

namespace concur::iot {
namespace {

using test::TempDir;

TEST(LogRotation, OnlyNumberedPartsAreParts) {
  TempDir dir;
  for (const char* name : {"data.txt", "data.txt.1", "data.txt.3", "data.txt.10", "data.txt.01", "data.txt.1.bak",
                           "data.txt.", "data.txtx.2", "other.txt.4", "data.txt.mqtt.cursor"})
    dir.write(name, "x\n");
  EXPECT_EQ(rotated_indexes(dir.file("data.txt")), (std::vector<unsigned>{1, 3, 10}));
  EXPECT_EQ(rotated_path("a/data.txt", 7), "a/data.txt.7");
}

TEST(LogRotation, ARotationShiftsEveryPartOneUpAndTheFileBecomesPartOne) {
  TempDir dir;
  std::string path = dir.file("data.txt");
  dir.write("data.txt", "now\n");
  dir.write("data.txt.1", "one\n");
  dir.write("data.txt.3", "three\n");  // a gap stays a gap
  ASSERT_EQ(rotate_files(path), 0);
  EXPECT_EQ(rotated_indexes(path), (std::vector<unsigned>{1, 2, 4}));
  EXPECT_EQ(test::slurp(path + ".1"), "now\n");
  EXPECT_EQ(test::slurp(path + ".2"), "one\n");
  EXPECT_EQ(test::slurp(path + ".4"), "three\n");
  EXPECT_FALSE(std::ifstream(path).good());
}

TEST(LogRotation, AFileThatIsNotThereIsTheRenamesErrno) {
  TempDir dir;
  EXPECT_EQ(rotate_files(dir.file("missing.txt")), ENOENT);
}

}  // namespace
}  // namespace concur::iot
