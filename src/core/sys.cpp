#include "core/sys.hpp"

#include <unistd.h>

namespace concur::sys {

Calls calls{::recv, ::send, ::write, ::writev};

}  // namespace concur::sys
