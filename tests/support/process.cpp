#include "support/process.hpp"

#include "core/child_process.hpp"
#include "core/json_log.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace concur::test {

std::string concur_binary() { return CONCUR_BINARY; }

std::vector<std::string> concur_args(std::vector<std::string> args) {
  args.insert(args.begin(), concur_binary());
  return args;
}

namespace {
// A child that exits before reading its stdin must not kill the test with SIGPIPE when the test
// writes to that stdin: the write fails with EPIPE instead (children get SIGPIPE back at exec).
const bool kSigpipeIgnored = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();
}  // namespace

Process::Process(std::vector<std::string> argv, std::string cwd) : Process(std::move(argv), std::move(cwd), {}) {}

Process::Process(std::vector<std::string> argv, std::string cwd, const std::function<void()>& child_setup) {
  concur::PipedChild c = concur::spawn_piped(std::move(argv), cwd, child_setup);
  pid_ = c.pid;
  in_ = c.in;
  out_ = c.out;
  err_ = c.err;
}

Process::~Process() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait(5000ms);
  }
  for (int fd : {in_, out_, err_})
    if (fd >= 0) ::close(fd);
}

void Process::write_stdin(const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(in_, text.data() + off, text.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

void Process::close_stdin() {
  if (in_ >= 0) ::close(in_);
  in_ = -1;
}

void Process::close_stdout() {
  if (out_ >= 0) ::close(out_);
  out_ = -1;
}

void Process::signal(int sig) {
  if (!status_ && pid_ > 0) ::kill(pid_, sig);
}

bool Process::fill(int fd, std::string& buf, Ms timeout) { return concur::read_more(fd, buf, timeout); }

std::optional<std::string> Process::read_line(Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto line = concur::take_line(out_buf_)) {
      lines_.push_back(*line);
      return line;
    }
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !fill(out_, out_buf_, left)) return std::nullopt;
  }
}

std::optional<std::string> Process::read_line_now() {
  for (;;) {
    if (auto line = concur::take_line(out_buf_)) {
      lines_.push_back(*line);
      return line;
    }
    if (!fill(out_, out_buf_, 0ms)) return std::nullopt;  // poll() with no timeout
  }
}

std::optional<std::string> Process::wait_for_line(const std::string& needle, Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto line = read_line(left);
    if (!line) return std::nullopt;
    if (line->find(needle) != std::string::npos) return line;
  }
}

std::string Process::read_all_stdout(Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !fill(out_, out_buf_, left)) break;
  }
  std::string rest = out_buf_;
  std::istringstream in(out_buf_);
  std::string line;
  while (std::getline(in, line)) lines_.push_back(line);
  out_buf_.clear();
  std::string all;
  for (auto& l : lines_) all += l + "\n";
  return all;
}

std::string Process::read_all_stderr(Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !fill(err_, err_buf_, left)) break;
  }
  return err_buf_;
}

bool Process::wait_for_stderr(const std::string& needle, Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (err_buf_.find(needle) != std::string::npos) return true;
    auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !fill(err_, err_buf_, left)) return err_buf_.find(needle) != std::string::npos;
  }
}

std::optional<int> Process::wait(Ms timeout) {
  if (!status_) status_ = concur::wait_exit(pid_, timeout);
  return status_;
}

bool Process::running() { return !wait(0ms).has_value(); }

namespace {

// Reads the "listening on" line and returns the port.
int read_listening_port(Process& proc, Ms timeout, std::string& line_out) {
  auto line = proc.read_line(timeout);
  if (!line) throw std::runtime_error("server printed no 'listening on' line; stderr: " + proc.read_all_stderr(200ms));
  line_out = *line;
  std::smatch m;
  static const std::regex re(R"(^listening on .*:(\d+) \((tcp|udp), model=[a-z]+\)$)");
  // With --log-format json the line is an object whose "message" is the text line.
  std::string message = log_message_of(line_out);
  if (!std::regex_search(message, m, re)) throw std::runtime_error("unexpected first line: " + line_out);
  return std::stoi(m[1]);
}
}  // namespace

Server::Server(std::vector<std::string> args, Ms timeout) : proc(concur_args(std::move(args))) {
  port = read_listening_port(proc, timeout, listening_line);
}

Server::Server(std::vector<std::string> args, const std::function<void()>& child_setup, Ms timeout)
    : proc(concur_args(std::move(args)), {}, child_setup) {
  port = read_listening_port(proc, timeout, listening_line);
}

long status_kib(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

int count_fds(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(path.c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

namespace {
// The contents of a small /proc file, or "" if it cannot be read. Plain read(): a process can
// exit while we read its stat, and std::ifstream then throws (ESRCH from underflow).
std::string read_proc_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return n < 0 ? std::string() : out;
}
}  // namespace

int count_zombie_children(pid_t pid) {
  int zombies = 0;
  DIR* d = ::opendir("/proc");
  if (!d) return -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string content = read_proc_file(std::string("/proc/") + e->d_name + "/stat");
    auto rp = content.rfind(')');
    if (rp == std::string::npos || rp + 2 > content.size()) continue;
    std::istringstream rest(content.substr(rp + 2));
    char state = '?';
    int ppid = -1;
    rest >> state >> ppid;
    if (ppid == pid && state == 'Z') ++zombies;
  }
  ::closedir(d);
  return zombies;
}

}  // namespace concur::test

namespace concur::test {

int max_fd(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(path.c_str());
  if (!d) return -1;
  int hi = -1;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') hi = std::max(hi, std::atoi(e->d_name));
  ::closedir(d);
  return hi;
}

namespace {
// Fields after the ")" that ends the command name of /proc/PID/stat, split on spaces.
std::vector<std::string> stat_fields(pid_t pid) {
  std::string content = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  std::vector<std::string> fields;
  auto rp = content.rfind(')');
  if (rp == std::string::npos || rp + 2 > content.size()) return fields;
  std::istringstream rest(content.substr(rp + 2));
  std::string f;
  while (rest >> f) fields.push_back(f);
  return fields;
}
}  // namespace

long cpu_time_ms(pid_t pid) {
  auto f = stat_fields(pid);  // f[0] is field 3 (state); utime is field 14, stime field 15
  if (f.size() < 13) return -1;
  long ticks = std::atol(f[11].c_str()) + std::atol(f[12].c_str());
  return ticks * 1000 / ::sysconf(_SC_CLK_TCK);
}

std::vector<pid_t> child_pids(pid_t pid) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    pid_t p = std::atoi(e->d_name);
    auto f = stat_fields(p);
    if (f.size() >= 2 && std::atoi(f[1].c_str()) == pid && f[0] != "Z") out.push_back(p);
  }
  ::closedir(d);
  return out;
}

bool wait_until(const std::function<bool()>& pred, Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

}  // namespace concur::test
