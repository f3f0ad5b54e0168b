#include "clients/received_text.hpp"

namespace concur {

namespace {
std::string_view chomp_cr(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}
}  // namespace

void StreamText::feed(std::string_view bytes, const TextSink& emit) {
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      pending_.append(bytes);
      while (pending_.size() > max_) {
        emit(std::string_view(pending_).substr(0, max_));
        pending_.erase(0, max_);
      }
      return;
    }
    if (pending_.empty()) {
      emit(chomp_cr(bytes.substr(0, nl)));
    } else {
      pending_.append(bytes.substr(0, nl));
      emit(chomp_cr(pending_));
      pending_.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
}

void StreamText::flush(const TextSink& emit) {
  if (pending_.empty()) return;
  std::string tail = std::move(pending_);
  pending_.clear();
  emit(tail);
}

void split_datagram(std::string_view d, const TextSink& emit) {
  if (d.empty()) {
    emit(d);
    return;
  }
  while (!d.empty()) {
    size_t nl = d.find('\n');
    if (nl == std::string_view::npos) {
      emit(chomp_cr(d));
      return;
    }
    emit(chomp_cr(d.substr(0, nl)));
    d.remove_prefix(nl + 1);
  }
}

}  // namespace concur
