#pragma once
// The chat identity rules of SPEC §3 (chat-server "Identity"), checked on the client side so a
// user learns at once why an ID would be refused.
#include <optional>
#include <string>
#include <string_view>

namespace concur {

inline constexpr size_t kMaxChatId = 32;
inline constexpr size_t kMaxChatMessage = 4096;  // one TCP line or one UDP datagram, "[ID]" included

// Why `id` is not a valid chat ID, or nullopt when it is: 1–32 bytes of printable UTF-8
// without '[' or ']'.
std::optional<std::string> chat_id_problem(std::string_view id);

}  // namespace concur
