#include "iot/log_rotation.hpp"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <fmt/format.h>

namespace concur::iot {

std::string rotated_path(const std::string& path, unsigned index) { return fmt::format("{}.{}", path, index); }

std::vector<unsigned> rotated_indexes(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string prefix = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".";
  std::vector<unsigned> found;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return found;
  while (dirent* e = ::readdir(d)) {
    std::string_view name(e->d_name);
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) continue;
    std::string_view num = name.substr(prefix.size());
    if (num.size() > 9 || num[0] == '0') continue;  // "data.txt.01" is not a part
    unsigned k = 0;
    bool digits = true;
    for (char c : num) {
      if (c < '0' || c > '9') digits = false;
      k = k * 10 + static_cast<unsigned>(c - '0');
    }
    if (digits) found.push_back(k);
  }
  ::closedir(d);
  std::sort(found.begin(), found.end());
  return found;
}

int rotate_files(const std::string& path) {
  std::vector<unsigned> parts = rotated_indexes(path);
  for (auto k = parts.rbegin(); k != parts.rend(); ++k)
    if (std::rename(rotated_path(path, *k).c_str(), rotated_path(path, *k + 1).c_str()) != 0) return errno;
  if (std::rename(path.c_str(), rotated_path(path, 1).c_str()) != 0) return errno;
  return 0;
}

}  // namespace concur::iot
