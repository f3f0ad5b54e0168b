#include "core/error.hpp"

#include <cstring>

#include "core/fd_limit.hpp"

namespace concur {

SysError::SysError(const std::string& context, int err)
    : std::runtime_error(context + ": " + errno_text(err)), err_(err) {}

void throw_errno(const std::string& context) { throw SysError(context, errno); }

}  // namespace concur
