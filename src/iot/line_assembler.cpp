#include "iot/line_assembler.hpp"

namespace concur::iot {

RegisterMatcher::State RegisterMatcher::feed(std::string_view bytes) {
  if (state_ != State::waiting) return state_;
  // Leading blank lines or spaces before the word are tolerated (a client that sends "\n" first).
  for (char c : bytes) {
    if (seen_.empty() && (c == '\n' || c == '\r' || c == ' ')) continue;
    seen_.push_back(c);
    if (seen_.size() > kRegister.size()) break;
  }
  size_t n = std::min(seen_.size(), kRegister.size());
  if (seen_.compare(0, n, kRegister.substr(0, n)) != 0) return state_ = State::refused;
  if (seen_.size() < kRegister.size()) return state_;
  if (seen_.size() == kRegister.size()) return state_ = State::registered;
  // "Register" followed by something: fine if it ends the word ("\r", "\n", " "), not "Registers".
  char next = seen_[kRegister.size()];
  return state_ = (next == '\n' || next == '\r' || next == ' ') ? State::registered : State::refused;
}

}  // namespace concur::iot
