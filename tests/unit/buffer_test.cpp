// Buffer: the readable/writable regions, space reclamation, and flush_to() through the sys seam
// (EINTR retried, EAGAIN stops, short writes resume, EPIPE/ECONNRESET reported).
#include "core/buffer.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <string>

#include "core/fd.hpp"
#include "core/sys.hpp"

namespace concur {
namespace {

// Replaces sys::calls.send for one test with a scripted sequence, and restores it.
struct ScriptedSend {
  struct Step {
    ssize_t max_bytes;  // >0: accept up to this many bytes; <=0: fail with errno `err`
    int err = 0;
  };
  static inline std::deque<Step> script;
  static inline std::string written;
  static inline int calls = 0;
  static inline int flags_seen = 0;

  static ssize_t fake(int, const void* b, size_t n, int flags) {
    ++calls;
    flags_seen |= flags;
    if (script.empty()) {
      errno = EAGAIN;
      return -1;
    }
    Step s = script.front();
    script.pop_front();
    if (s.max_bytes <= 0) {
      errno = s.err;
      return -1;
    }
    size_t take = std::min(n, static_cast<size_t>(s.max_bytes));
    written.append(static_cast<const char*>(b), take);
    return static_cast<ssize_t>(take);
  }

  explicit ScriptedSend(std::deque<Step> steps) : saved_(sys::calls) {
    script = std::move(steps);
    written.clear();
    calls = 0;
    flags_seen = 0;
    sys::calls.send = &fake;
  }
  ~ScriptedSend() { sys::calls = saved_; }
  sys::Calls saved_;
};

TEST(Buffer, StartsEmpty) {
  Buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.view(), "");
}

TEST(Buffer, AppendThenConsumeKeepsOrder) {
  Buffer b;
  b.append("hello ");
  b.append("world");
  EXPECT_EQ(b.view(), "hello world");
  b.consume(6);
  EXPECT_EQ(b.view(), "world");
  EXPECT_EQ(b.size(), 5u);
}

TEST(Buffer, ConsumeMoreThanSizeEmptiesWithoutUnderflow) {
  Buffer b;
  b.append("abc");
  b.consume(100);
  EXPECT_TRUE(b.empty());
  b.append("xyz");
  EXPECT_EQ(b.view(), "xyz");
}

TEST(Buffer, AppendEmptyIsHarmless) {
  Buffer b;
  b.append("");
  EXPECT_TRUE(b.empty());
  b.append("a");
  b.append("");
  EXPECT_EQ(b.view(), "a");
}

TEST(Buffer, BinaryBytesIncludingNulSurvive) {
  Buffer b;
  std::string bin("\0\x01\xff\n\0z", 6);
  b.append(bin);
  EXPECT_EQ(b.view(), bin);
}

TEST(Buffer, StreamThroughDrainedBufferKeepsExactBytes) {
  // Append/consume in lockstep exercises the reclaim path (live bytes moved to the front).
  Buffer b;
  std::string expect;
  size_t next = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string chunk;
    for (int k = 0; k < 1 + i % 700; ++k) chunk += static_cast<char>('A' + (next++ % 53));
    b.append(chunk);
    expect += chunk;
    size_t eat = std::min<size_t>(b.size(), 1 + (i * 7) % 900);
    ASSERT_EQ(b.view().substr(0, eat), std::string_view(expect).substr(0, eat));
    b.consume(eat);
    expect.erase(0, eat);
  }
  EXPECT_EQ(b.view(), expect);
}

TEST(Buffer, PartialConsumeThenLargeAppendKeepsLiveBytes) {
  Buffer b;
  for (int i = 0; i < 100; ++i) b.append(std::string(1, static_cast<char>('a' + i % 26)));
  b.consume(37);
  std::string big(100000, 'Q');
  b.append(big);
  std::string expect;
  for (int i = 37; i < 100; ++i) expect += static_cast<char>('a' + i % 26);
  expect += big;
  EXPECT_EQ(b.view(), expect);
}

TEST(Buffer, PrepareCommitAppendsWhatWasWritten) {
  Buffer b;
  b.append("ab");
  char* p = b.prepare(3);
  p[0] = 'c';
  p[1] = 'd';
  b.commit(2);
  EXPECT_EQ(b.view(), "abcd");
}

TEST(Buffer, ClearEmpties) {
  Buffer b;
  b.append("abc");
  b.clear();
  EXPECT_TRUE(b.empty());
  b.append("d");
  EXPECT_EQ(b.view(), "d");
}

TEST(Buffer, FlushRetriesEintrAndResumesAfterShortWrites) {
  ScriptedSend s({{3}, {-1, EINTR}, {2}, {100}});
  Buffer b;
  b.append("0123456789");
  long n = b.flush_to(42);
  EXPECT_EQ(n, 10);
  EXPECT_EQ(ScriptedSend::written, "0123456789");
  EXPECT_TRUE(b.empty());
  // Never raises SIGPIPE and never blocks.
  EXPECT_TRUE(ScriptedSend::flags_seen & MSG_NOSIGNAL);
  EXPECT_TRUE(ScriptedSend::flags_seen & MSG_DONTWAIT);
}

TEST(Buffer, FlushStopsAtEagainAndKeepsTheRest) {
  ScriptedSend s({{4}, {-1, EAGAIN}});
  Buffer b;
  b.append("abcdefgh");
  EXPECT_EQ(b.flush_to(42), 4);
  EXPECT_EQ(b.view(), "efgh");
  // The next flush continues where the last one stopped: nothing lost, nothing repeated.
  ScriptedSend::script = {{100}};
  EXPECT_EQ(b.flush_to(42), 4);
  EXPECT_EQ(ScriptedSend::written, "abcdefgh");
  EXPECT_TRUE(b.empty());
}

TEST(Buffer, FlushReportsPeerResetAsNegativeErrno) {
  ScriptedSend s({{2}, {-1, ECONNRESET}});
  Buffer b;
  b.append("abcdef");
  EXPECT_EQ(b.flush_to(42), -ECONNRESET);
  EXPECT_EQ(b.view(), "cdef");  // what the peer did not take is still there (the caller drops it)
}

TEST(Buffer, FlushReportsEpipe) {
  ScriptedSend s({{-1, EPIPE}});
  Buffer b;
  b.append("x");
  EXPECT_EQ(b.flush_to(42), -EPIPE);
}

TEST(Buffer, FlushOfEmptyBufferMakesNoSyscall) {
  ScriptedSend s({});
  Buffer b;
  EXPECT_EQ(b.flush_to(42), 0);
  EXPECT_EQ(ScriptedSend::calls, 0);
}

TEST(Buffer, FlushToRealSocketPairDeliversBytesInOrder) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  FileDesc a(sv[0]), z(sv[1]);
  Buffer b;
  std::string payload;
  for (int i = 0; i < 5000; ++i) payload += std::to_string(i) + ",";
  b.append(payload);
  std::string got;
  char tmp[4096];
  while (!b.empty() || got.size() < payload.size()) {
    ASSERT_GE(b.flush_to(a.get()), 0);
    ssize_t r = ::recv(z.get(), tmp, sizeof tmp, MSG_DONTWAIT);
    if (r > 0) got.append(tmp, static_cast<size_t>(r));
  }
  EXPECT_EQ(got, payload);
}

TEST(Buffer, FlushToClosedPeerIsAnErrorNotASignal) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  FileDesc a(sv[0]);
  ::close(sv[1]);
  Buffer b;
  b.append("data");
  long n = b.flush_to(a.get());  // SIGPIPE here would kill the test binary
  EXPECT_LT(n, 0);
  EXPECT_EQ(n, -EPIPE);
}

}  // namespace
}  // namespace concur
