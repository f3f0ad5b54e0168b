#pragma once
// Runs the real `concur` binary (or any program) as users and scripts do: argv, stdin, stdout and
// stderr pipes, signals, exit status. Every wait has a timeout; the destructor kills what is left.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace concur::test {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

class Process {
 public:
  // Starts argv[0] with the rest as arguments. stdin is a pipe (write with write_stdin, close with
  // close_stdin); stdout and stderr are pipes read with the methods below. `cwd` may be empty.
  explicit Process(std::vector<std::string> argv, std::string cwd = {});
  // As above; `child_setup` runs in the child between fork() and exec() (after the pipes are in
  // place), e.g. to lower RLIMIT_NOFILE or open extra descriptors. It must only make
  // async-signal-safe calls (setrlimit, open, dup2, close): the test process may have threads.
  Process(std::vector<std::string> argv, std::string cwd, const std::function<void()>& child_setup);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void write_stdin(const std::string& text);
  void close_stdin();
  // Closes our end of the child's stdout: its next writes fail with EPIPE (SIGPIPE if not ignored).
  void close_stdout();
  void signal(int sig);

  // Next stdout line (without '\n') within timeout, or nullopt (timeout or EOF).
  std::optional<std::string> read_line(Ms timeout = 5000ms);
  // A stdout line that the child has already written (it is in the pipe), without waiting at all;
  // nullopt if there is none. To check that something was written before an event we observed.
  std::optional<std::string> read_line_now();
  // Reads stdout lines until one contains `needle`; returns it, or nullopt on timeout/EOF.
  std::optional<std::string> wait_for_line(const std::string& needle, Ms timeout = 5000ms);
  // Everything on stdout seen so far plus what arrives until EOF or timeout.
  std::string read_all_stdout(Ms timeout = 5000ms);
  std::string read_all_stderr(Ms timeout = 5000ms);
  // Reads stderr until it contains `needle` (true) or timeout/EOF (false). What was read stays
  // available to read_all_stderr().
  bool wait_for_stderr(const std::string& needle, Ms timeout = 5000ms);
  // All stdout lines read so far (by read_line/wait_for_line/read_all_stdout).
  const std::vector<std::string>& lines() const { return lines_; }

  // Exit code (128+signal if killed by a signal), or nullopt if still running at timeout.
  std::optional<int> wait(Ms timeout = 5000ms);
  bool running();

 private:
  bool fill(int fd, std::string& buf, Ms timeout);

  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string out_buf_, err_buf_;
  std::vector<std::string> lines_;
  std::optional<int> status_;
};

// The path of the concur binary under test.
std::string concur_binary();
// `args` with the concur binary in front: the argv of a Process running concur.
std::vector<std::string> concur_args(std::vector<std::string> args);

// A concur server started with `args` (e.g. {"echo-server", "--port", "0"}); waits for its
// "listening on" line and parses the port.
struct Server {
  explicit Server(std::vector<std::string> args, Ms timeout = 10000ms);
  // The binary with `args`, with `child_setup` run before exec (see Process).
  Server(std::vector<std::string> args, const std::function<void()>& child_setup, Ms timeout = 10000ms);
  Process proc;
  int port = 0;
  std::string listening_line;
};

// Descriptors open in a process (counts /proc/PID/fd).
int count_fds(pid_t pid);
// Number of zombie (<defunct>) children of pid.
int count_zombie_children(pid_t pid);
// Highest open descriptor number of pid (-1 if none or unreadable).
int max_fd(pid_t pid);
// CPU time used by pid so far (utime + stime from /proc/PID/stat), in milliseconds.
long cpu_time_ms(pid_t pid);
// A size from /proc/PID/status in KiB, e.g. field "VmRSS" (resident) or "VmSize" (address
// space); -1 when the process or the field is not there.
long status_kib(pid_t pid, const std::string& field);
// Live (non-zombie) children of pid.
std::vector<pid_t> child_pids(pid_t pid);

// Polls `pred` every few milliseconds until it holds (true) or `timeout` passes (false). For
// conditions that have no readiness signal (a descriptor count, a reaped child).
bool wait_until(const std::function<bool()>& pred, Ms timeout = 5000ms);

}  // namespace concur::test
