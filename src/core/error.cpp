#include "core/error.hpp"

#include <cstring>

namespace concur {

SysError::SysError(const std::string& context, int err)
    : std::runtime_error(context + ": " + std::strerror(err)), err_(err) {}

void throw_errno(const std::string& context) { throw SysError(context, errno); }

}  // namespace concur
