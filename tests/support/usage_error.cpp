#include "support/usage_error.hpp"

#include <algorithm>

namespace concur::test {

::testing::AssertionResult is_usage_error(Process& p, const std::string& must_name, Ms timeout) {
  std::optional<int> status = p.wait(timeout);
  std::string err = p.read_all_stderr(Ms(500));
  auto fail = [&](const std::string& what) {
    return ::testing::AssertionFailure() << what << "; status "
                                         << (status ? std::to_string(*status) : std::string("none (still running)"))
                                         << ", stderr: " << err;
  };
  if (status != 2) return fail("not exit status 2");
  if (std::count(err.begin(), err.end(), '\n') != 1) return fail("not exactly one line on stderr");
  if (err.rfind("concur: ", 0) != 0) return fail("stderr does not start with 'concur: '");
  if (err.find(must_name) == std::string::npos) return fail("stderr does not name '" + must_name + "'");
  return ::testing::AssertionSuccess();
}

}  // namespace concur::test
