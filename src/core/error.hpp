#pragma once
// Errors with context. A SysError reads like redis/anet: "cannot bind 0.0.0.0:2500: Address already
// in use". A UsageError is a bad command line (exit 2); everything else at run time exits 1.
#include <cerrno>
#include <stdexcept>
#include <string>

namespace concur {

class SysError : public std::runtime_error {
 public:
  SysError(const std::string& context, int err);
  int code() const noexcept { return err_; }

 private:
  int err_;
};

// Throws SysError(context, errno). Call right after the failing syscall.
[[noreturn]] void throw_errno(const std::string& context);

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace concur
