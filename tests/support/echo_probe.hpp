#pragma once
// Is an echo server serving? One fresh client sends a message and must get it back.
#include <gtest/gtest.h>

#include <string>

#include "support/process.hpp"

namespace concur::test {

// True when a new client on 127.0.0.1:port gets `msg` echoed within `timeout`; a refused or
// reset connection is false.
bool echoes(int port, const std::string& msg, Ms timeout = Ms(3000));

// For ASSERT_TRUE: `server` (an echo server) echoes a probe. When it does not, the message says
// whether it is still running and carries its stderr: a server that died is a failure to read.
::testing::AssertionResult serves_echo(Server& server);

}  // namespace concur::test
