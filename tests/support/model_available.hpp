#pragma once
// The one reason a test may skip a model: the registry says this machine cannot run it, and why
// (uring: no io_uring in the kernel or the build). Asked up front, before any server starts; a
// server that then dies or reports an error is a failure, with its stderr in the message.
#include <gtest/gtest.h>

#include <string>

namespace concur::test {

// "" when `model` runs here (or is no model at all: starting it then fails the test), else
// "<model> cannot run here: <the registry's reason>".
std::string why_model_cannot_run(const std::string& model);

}  // namespace concur::test

// In a test body or SetUp(): skips the test, with the registry's reason, when `model` cannot run here.
#define SKIP_IF_MODEL_UNAVAILABLE(model)                                                     \
  do {                                                                                       \
    if (std::string concur_why_ = ::concur::test::why_model_cannot_run(model); !concur_why_.empty()) \
      GTEST_SKIP() << concur_why_;                                                           \
  } while (0)
