// Issue 24: what an idle client costs under `--model thread` is the pages its thread touches. Two
// regressions took it from 13.5 to 17.5 KiB (bench/results/hold.md) without touching thread.cpp:
// static TLS (a thread_local object anywhere in the binary is zeroed on every thread's stack when
// the thread starts) and a stack size that is not a whole number of pages (glibc then puts the
// thread descriptor across a page boundary). These tests pin both on the real binary.
#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <vector>

#include "support/net.hpp"
#include "support/process.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CONCUR_SANITIZED 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CONCUR_SANITIZED 1
#endif
#endif

namespace concur::test {
namespace {

// PT_TLS of an ELF64 file: the static TLS every thread of it carries (0 when it has none).
long static_tls_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!f.read(reinterpret_cast<char*>(&eh), sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64)
    return -1;
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    f.seekg(static_cast<std::streamoff>(eh.e_phoff + static_cast<uint64_t>(i) * eh.e_phentsize));
    if (!f.read(reinterpret_cast<char*>(&ph), sizeof ph)) return -1;
    if (ph.p_type == PT_TLS) return static_cast<long>(ph.p_memsz);
  }
  return 0;
}

// Resident KiB of every private anonymous read-write mapping of `pid`, by mapping size in KiB.
std::map<long, std::vector<long>> anonymous_rss_by_size(pid_t pid) {
  std::map<long, std::vector<long>> out;
  std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
  std::string line;
  long size = -1;  // of the current mapping when it is an anonymous rw-p one
  while (std::getline(smaps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, name;
    if (line.find('-') < line.find(' ') && (in >> range >> perms >> offset >> dev >> inode)) {
      in >> name;
      size = -1;
      if (perms == "rw-p" && inode == "0" && name.empty()) {
        auto dash = range.find('-');
        size = static_cast<long>((std::stoull(range.substr(dash + 1), nullptr, 16) -
                                  std::stoull(range.substr(0, dash), nullptr, 16)) / 1024);
      }
    } else if (size >= 0 && line.rfind("Rss:", 0) == 0) {
      out[size].push_back(std::stol(line.substr(4)));
    }
  }
  return out;
}

TEST(ThreadFootprint, TheBinaryCarriesAlmostNoStaticTls) {
  // glibc zeroes (or copies) all of it on each new thread's stack: 2.5 KiB of thread_local
  // std::mt19937_64 was one more resident page per held client. Keep thread_local to pointers.
  long tls = static_tls_bytes(concur_binary());
  ASSERT_GE(tls, 0) << "cannot read the program headers of " << concur_binary();
  EXPECT_LE(tls, 256) << "the concur binary has " << tls << " bytes of static TLS (thread_local objects)";
}

TEST(ThreadFootprint, AnIdleClientThreadTouchesTwoStackPages) {
#ifdef CONCUR_SANITIZED
  GTEST_SKIP() << "sanitized builds give connection threads a 1 MiB stack and keep state of their own on it";
#else
  constexpr int kClients = 64;
  Server server({"echo-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--model", "thread"});
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<TestClient>(server.port));
    clients.back()->send_all("ping\n");  // served: the read path has run on every thread's stack
    ASSERT_EQ(clients.back()->recv_exact(5), "ping\n");
  }
  // The connection stacks are the one mapping size that at least kClients mappings share.
  long stack_kib = -1;
  std::vector<long> rss;
  for (auto& [size, list] : anonymous_rss_by_size(server.proc.pid()))
    if (static_cast<int>(list.size()) >= kClients && (stack_kib < 0 || list.size() > rss.size())) {
      stack_kib = size;
      rss = list;
    }
  ASSERT_GT(stack_kib, 0) << "no group of " << kClients << " equal anonymous mappings (thread stacks) in the server";
  int over = 0;
  for (long r : rss) over += r > 8;
  // A few may be other threads' stacks of the same size, or a thread caught mid-call.
  EXPECT_LE(over, 2) << over << " of " << rss.size() << " stacks of " << stack_kib
                     << " KiB hold more than 2 resident pages (8 KiB)";
#endif
}

}  // namespace
}  // namespace concur::test
