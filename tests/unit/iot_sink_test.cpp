// FileSink: appends whole lines, cuts a torn tail off on open, undoes a short write, reports errors.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.hpp"
#include "core/sys.hpp"
#include "iot/reading_sink.hpp"
#include "support/temp_dir.hpp"
#include "support/text_file.hpp"

namespace concur::iot {
namespace {

class IotFileSink : public ::testing::Test {
 protected:
  std::string read() const { return test::slurp(path_); }
  void write_raw(const std::string& s) const { dir_.write("data.txt", s); }
  test::TempDir dir_;
  std::string path_ = dir_.file("data.txt");
};

TEST_F(IotFileSink, CreatesAndAppends) {
  {
    FileSink sink(path_, false);
    EXPECT_EQ(sink.dropped_on_open(), 0u);
    EXPECT_EQ(sink.write_lines("a\nb\n"), 0);
    EXPECT_EQ(sink.size(), 4);
  }
  {
    FileSink sink(path_, true);
    EXPECT_EQ(sink.write_lines("c\n"), 0);
    EXPECT_EQ(sink.sync_errors(), 0u);
  }
  EXPECT_EQ(read(), "a\nb\nc\n");
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0644u & ~mask);
}

// SPEC §3: a torn last line (kill -9 between the pages of a write) is cut off, not sealed, so
// no malformed line ever stays in the file.
TEST_F(IotFileSink, CutsATornTailBackToTheLastNewlineOnOpen) {
  write_raw("whole line\ntorn li");
  FileSink sink(path_, false);
  EXPECT_EQ(sink.dropped_on_open(), 7u);
  EXPECT_EQ(sink.size(), 11);
  EXPECT_EQ(read(), "whole line\n");
  EXPECT_EQ(sink.write_lines("next\n"), 0);
  EXPECT_EQ(read(), "whole line\nnext\n");
}

TEST_F(IotFileSink, ATornTailLongerThanOneReadBlockIsCutToo) {
  std::string body = "first\n" + std::string(200000, 'x');  // the newline is several 64 KiB blocks back
  write_raw(body);
  FileSink sink(path_, false);
  EXPECT_EQ(sink.dropped_on_open(), 200000u);
  EXPECT_EQ(read(), "first\n");
}

TEST_F(IotFileSink, AFileWithNoNewlineAtAllIsEmptied) {
  write_raw("no newline here");
  FileSink sink(path_, false);
  EXPECT_EQ(sink.dropped_on_open(), 15u);
  EXPECT_EQ(read(), "");
}

TEST_F(IotFileSink, LeavesAWholeFileAlone) {
  write_raw("whole line\n");
  FileSink sink(path_, false);
  EXPECT_EQ(sink.dropped_on_open(), 0u);
  EXPECT_EQ(sink.size(), 11);
  write_raw("");
  FileSink empty(path_, false);
  EXPECT_EQ(empty.dropped_on_open(), 0u);
}

TEST_F(IotFileSink, UnwritablePathIsAClearError) {
  try {
    FileSink sink(dir_.file("no/such/dir/data.txt"), false);
    FAIL() << "opened";
  } catch (const SysError& e) {
    EXPECT_EQ(e.code(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("cannot open " + dir_.file("no/such/dir/data.txt") + ": "), std::string::npos);
  }
}

// A short write (disk full in the middle of a batch) must not leave part of a line behind.
// The first call takes half the batch, the next one fails: the disk filled up mid-batch.
int g_short_calls = 0;
ssize_t short_write(int fd, const void* b, size_t n) {
  if (g_short_calls++ == 0) return ::write(fd, b, n / 2);
  errno = ENOSPC;
  return -1;
}
// Every call takes at most 3 bytes: a batch still goes in whole.
ssize_t trickle_write(int fd, const void* b, size_t n) { return ::write(fd, b, n < 3 ? n : 3); }
ssize_t enospc_write(int, const void*, size_t) {
  errno = ENOSPC;
  return -1;
}

struct ScopedWrite {
  explicit ScopedWrite(ssize_t (*w)(int, const void*, size_t)) : saved(sys::calls.write) { sys::calls.write = w; }
  ~ScopedWrite() { sys::calls.write = saved; }
  ssize_t (*saved)(int, const void*, size_t);
};

TEST_F(IotFileSink, ShortWriteIsUndone) {
  FileSink sink(path_, false);
  ASSERT_EQ(sink.write_lines("first\n"), 0);
  {
    g_short_calls = 0;
    ScopedWrite w(short_write);
    EXPECT_EQ(sink.write_lines("second line\nthird line\n"), ENOSPC);
  }
  EXPECT_EQ(read(), "first\n");
  EXPECT_EQ(sink.size(), 6);
  EXPECT_EQ(sink.write_lines("second line\nthird line\n"), 0);
  EXPECT_EQ(read(), "first\nsecond line\nthird line\n");
  EXPECT_EQ(sink.size(), 29);
}

TEST_F(IotFileSink, ShortWritesThatSucceedAreContinued) {
  FileSink sink(path_, false);
  {
    ScopedWrite w(trickle_write);
    EXPECT_EQ(sink.write_lines("a line\nanother\n"), 0);
  }
  EXPECT_EQ(read(), "a line\nanother\n");
}

TEST_F(IotFileSink, WriteErrorIsReturned) {
  FileSink sink(path_, false);
  ScopedWrite w(enospc_write);
  EXPECT_EQ(sink.write_lines("x\n"), ENOSPC);
}

TEST(IotFileSinkDevice, DevFullReportsNoSpace) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  FileSink sink("/dev/full", false);
  EXPECT_EQ(sink.dropped_on_open(), 0u);
  EXPECT_EQ(sink.write_lines("x\n"), ENOSPC);
}

}  // namespace
}  // namespace concur::iot
