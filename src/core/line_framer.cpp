#include "core/line_framer.hpp"

namespace concur {

LineFramer::Status LineFramer::feed(std::string_view bytes,
                                    const std::function<void(std::string_view)>& on_line) {
  if (failed_) return Status::too_long;
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      // Hold the tail, unless it already cannot fit (a trailing '\r' may still be the terminator).
      size_t limit = max_ + 1;
      if (pending_.size() + bytes.size() > limit) {
        failed_ = true;
        pending_.clear();
        return Status::too_long;
      }
      pending_.append(bytes);
      return Status::ok;
    }
    std::string_view piece = bytes.substr(0, nl);
    bytes.remove_prefix(nl + 1);
    std::string_view line;
    if (pending_.empty()) {
      line = piece;
    } else {
      pending_.append(piece);
      line = pending_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_) {
      failed_ = true;
      pending_.clear();
      return Status::too_long;
    }
    on_line(line);
    pending_.clear();
  }
  return Status::ok;
}

}  // namespace concur
