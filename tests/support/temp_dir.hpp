#pragma once
// A fresh directory for one test's files, removed with its content when the test is done.
#include <string>
#include <string_view>

namespace concur::test {

// A new directory under $TMPDIR (or /tmp); the destructor removes it and everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path()/name (nothing is created).
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to path()/name; returns the full path. Throws when it cannot.
  std::string write(const std::string& name, std::string_view content) const;

 private:
  std::string path_;
};

}  // namespace concur::test
