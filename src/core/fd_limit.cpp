#include "core/fd_limit.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace concur {

long raise_open_files_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur == RLIM_INFINITY ? -1 : static_cast<long>(rl.rlim_cur);
}

long open_files_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return -1;
  return static_cast<long>(rl.rlim_cur);
}

std::string errno_text(int err) {
  std::string text = std::strerror(err);
  if (err == EMFILE) {
    long limit = open_files_limit();
    if (limit >= 0) text += " (the open-files limit is " + std::to_string(limit) + "; raise it with ulimit -n)";
  }
  return text;
}

}  // namespace concur
