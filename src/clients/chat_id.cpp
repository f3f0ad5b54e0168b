#include "clients/chat_id.hpp"

#include <fmt/format.h>

#include "core/log.hpp"

namespace concur {

std::optional<std::string> chat_id_problem(std::string_view id) {
  if (id.empty()) return "an ID cannot be empty";
  if (id.size() > kMaxChatId) return fmt::format("an ID has at most {} bytes (this one has {})", kMaxChatId, id.size());
  if (id.find_first_of("[]") != std::string_view::npos) return "an ID cannot contain '[' or ']'";
  // escape_for_terminal leaves printable UTF-8 unchanged (it only doubles backslashes).
  std::string plain;
  for (char c : id)
    if (c != '\\') plain += c;
  if (escape_for_terminal(plain) != plain)
    return "an ID must be printable UTF-8 text (no control, invisible or direction-changing characters)";
  return std::nullopt;
}

}  // namespace concur
