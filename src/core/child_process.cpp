#include "core/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <thread>

#include "core/error.hpp"
#include "core/json_log.hpp"

namespace concur {

PipedChild spawn_piped(std::vector<std::string> argv, const std::string& cwd,
                       const std::function<void()>& child_setup) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) throw_errno("pipe");
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    // The mask survives exec: a child forked by a thread that had stop signals blocked (inside a
    // StopSignalsBlocked scope) would never see SIGINT/SIGTERM. It starts with none blocked, as
    // posix_spawn's SETSIGMASK gives.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (child_setup) child_setup();
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  return PipedChild{pid, in[1], out[0], err[0]};
}

bool read_more(int fd, std::string& buf, std::chrono::milliseconds timeout) {
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(std::max<long long>(timeout.count(), 0))) <= 0) return false;
  char tmp[65536];
  ssize_t n = ::read(fd, tmp, sizeof tmp);
  if (n <= 0) return false;
  buf.append(tmp, static_cast<size_t>(n));
  return true;
}

std::optional<std::string> take_line(std::string& buf) {
  auto nl = buf.find('\n');
  if (nl == std::string::npos) return std::nullopt;
  std::string line = buf.substr(0, nl);
  buf.erase(0, nl + 1);
  return line;
}

std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

ChildProcess::ChildProcess(std::vector<std::string> argv, const std::string& cwd) {
  PipedChild c = spawn_piped(std::move(argv), cwd);
  pid_ = c.pid;
  in_ = c.in;
  out_ = c.out;
  err_ = c.err;
  ::fcntl(err_, F_SETFL, O_NONBLOCK);
}

ChildProcess::~ChildProcess() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  for (int fd : {in_, out_, err_})
    if (fd >= 0) ::close(fd);
}

bool ChildProcess::write_stdin(const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(in_, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

void ChildProcess::close_stdin() {
  if (in_ >= 0) ::close(in_);
  in_ = -1;
}

void ChildProcess::signal(int sig) {
  if (!status_ && pid_ > 0) ::kill(pid_, sig);
}

std::optional<std::string> ChildProcess::read_line(Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto line = take_line(buf_)) return line;
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !read_more(out_, buf_, left)) return std::nullopt;
  }
}

std::optional<std::string> ChildProcess::wait_for_line(const std::string& needle, Ms timeout,
                                                       std::vector<std::string>* skipped) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    auto line = read_line(left.count() > 0 ? left : Ms(0));
    if (!line) return std::nullopt;
    if (line->find(needle) != std::string::npos) return line;
    if (skipped) skipped->push_back(*line);
  }
}

std::string ChildProcess::drain_stderr() {
  std::string all;
  char tmp[4096];
  ssize_t n;
  while ((n = ::read(err_, tmp, sizeof tmp)) > 0) all.append(tmp, static_cast<size_t>(n));
  return all;
}

std::optional<int> ChildProcess::wait(Ms timeout) {
  if (!status_) status_ = wait_exit(pid_, timeout);
  return status_;
}

std::string self_executable() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "concur";
  return std::string(buf, static_cast<size_t>(n));
}

int port_from_listening_line(const std::string& logged) {
  std::string line = log_message_of(logged);  // a --log-format json line carries it as "message"
  if (line.rfind("listening on ", 0) != 0) return 0;
  auto paren = line.find(" (");
  auto colon = line.rfind(':', paren);
  if (paren == std::string::npos || colon == std::string::npos) return 0;
  try {
    return std::stoi(line.substr(colon + 1, paren - colon - 1));
  } catch (...) {
    return 0;
  }
}

}  // namespace concur
