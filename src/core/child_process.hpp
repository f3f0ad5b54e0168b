#pragma once
// A child process with piped stdin/stdout/stderr and bounded waits; used by `concur demo` and
// `concur bench` to run other concur commands the way a user would.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace concur {

// The parts every child runner needs (ChildProcess here, the tests' Process): fork + exec with
// stdin/stdout/stderr on pipes, reading lines with a deadline, waiting for the exit status.
struct PipedChild {
  pid_t pid = -1;
  int in = -1, out = -1, err = -1;  // our ends: write to `in`, read `out` and `err`
};
// Starts argv[0] (execvp). `child_setup` runs in the child just before exec (e.g. setrlimit).
// The child gets SIGPIPE, SIGINT and SIGTERM back at their defaults.
PipedChild spawn_piped(std::vector<std::string> argv, const std::string& cwd = {},
                       const std::function<void()>& child_setup = {});
// Waits up to `timeout` for fd to be readable and appends what one read() returns to buf.
// False on timeout or EOF.
bool read_more(int fd, std::string& buf, std::chrono::milliseconds timeout);
// Removes and returns the first complete line (without '\n') from buf, if there is one.
std::optional<std::string> take_line(std::string& buf);
// Exit code (128+signal when killed) once pid has exited; nullopt if still running at timeout.
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout);

class ChildProcess {
 public:
  using Ms = std::chrono::milliseconds;
  // argv[0] is run via execvp; the child gets its own process group-less default signals.
  explicit ChildProcess(std::vector<std::string> argv, const std::string& cwd = {});
  ~ChildProcess();  // SIGKILLs and reaps a child still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool write_stdin(const std::string& text);
  void close_stdin();
  void signal(int sig);
  // Next stdout line within timeout; nullopt on timeout or EOF.
  std::optional<std::string> read_line(Ms timeout);
  // Next stdout line containing needle (earlier lines are returned through `skipped`).
  std::optional<std::string> wait_for_line(const std::string& needle, Ms timeout,
                                           std::vector<std::string>* skipped = nullptr);
  std::string drain_stderr();
  // Exit code, 128+signal when killed; nullopt if still running at timeout.
  std::optional<int> wait(Ms timeout);

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string buf_;
  std::optional<int> status_;
};

// Path of the running executable (/proc/self/exe), to run sibling commands.
std::string self_executable();
// Parses the port from a "listening on <ip>:<port> (...)" line, as text or as the message of a
// --log-format json line; 0 if it is not one.
int port_from_listening_line(const std::string& line);

}  // namespace concur
