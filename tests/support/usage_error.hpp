#pragma once
// SPEC §1: bad usage is exit status 2 with exactly one line on stderr, "concur: …", that names
// what is wrong. One check for every command's tests.
#include <gtest/gtest.h>

#include <string>

#include "support/process.hpp"

namespace concur::test {

// For EXPECT_TRUE: `p`, a concur command given bad usage, exits 2 within `timeout` with exactly
// one stderr line that starts "concur: " and contains `must_name` (the option at fault; "" for
// any). Reads p's stderr.
::testing::AssertionResult is_usage_error(Process& p, const std::string& must_name, Ms timeout = Ms(5000));

}  // namespace concur::test
