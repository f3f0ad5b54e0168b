#include "services/chat_protocol.hpp"

#include <fmt/format.h>

#include <array>

namespace concur::chat {

namespace {

// Length of the UTF-8 sequence at s[i] and its code point; 0 when invalid (overlong, surrogate,
// beyond U+10FFFF, truncated).
size_t utf8_at(std::string_view s, size_t i, char32_t& cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  cp = c & (0xFF >> (n + 1));
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return n;
}

bool is_control(char32_t cp) { return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F); }

bool is_invisible(char32_t cp) {
  return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2069) ||
         cp == 0xFEFF;
}

constexpr std::array<std::string_view, 11> kHttpTokens = {"GET ",     "POST ",  "HEAD ",  "PUT ",
                                                          "DELETE ",  "OPTIONS ", "CONNECT ", "PATCH ",
                                                          "TRACE ",   "Host:",  "host:"};

}  // namespace

IdError check_id(std::string_view id) {
  if (id.empty()) return IdError::empty;
  if (id.size() > kMaxId) return IdError::too_long;
  for (size_t i = 0; i < id.size();) {
    char32_t cp;
    size_t n = utf8_at(id, i, cp);
    if (n == 0) return IdError::bad_utf8;
    if (cp == '[' || cp == ']') return IdError::bracket;
    if (is_control(cp)) return IdError::control;
    if (is_invisible(cp)) return IdError::invisible;
    i += n;
  }
  if (id.front() == ' ' || id.back() == ' ') return IdError::edge_space;
  return IdError::none;
}

std::string id_error_text(IdError e, std::string_view id) {
  switch (e) {
    case IdError::none: return {};
    case IdError::empty: return "empty ID: join with [ID], 1-32 bytes";
    case IdError::too_long: return fmt::format("ID too long (max {} bytes)", kMaxId);
    case IdError::bracket: return "ID must not contain '[' or ']'";
    case IdError::control: return "ID must not contain control characters";
    case IdError::bad_utf8: return "ID is not valid UTF-8";
    case IdError::edge_space: return "ID must not start or end with a space";
    case IdError::invisible: return "ID must not contain invisible or direction-changing characters";
  }
  return "invalid ID";
}

std::string fold_id(std::string_view id) {
  std::string out(id);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

TextError check_text(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    char32_t cp;
    size_t n = utf8_at(text, i, cp);
    if (n == 0) return TextError::bad_utf8;
    if (is_control(cp) && cp != '\t') return TextError::control;
    i += n;
  }
  return TextError::none;
}

std::optional<Prefix> split_prefix(std::string_view text) {
  if (text.empty() || text.front() != '[') return std::nullopt;
  size_t close = text.find(']');
  if (close == std::string_view::npos) return std::nullopt;
  return Prefix{text.substr(1, close - 1), text.substr(close + 1)};
}

Classified classify(std::string_view message, std::string_view own_id) {
  Classified out{Classified::Kind::relay, {}, {}};
  std::string_view body = message;
  if (auto p = split_prefix(message); p && check_id(p->id) == IdError::none) {
    if (fold_id(p->id) != fold_id(own_id)) {
      out.kind = Classified::Kind::impersonation;
      out.claimed = p->id;
      return out;
    }
    body = p->rest;
  }
  if (body.empty()) {
    out.kind = Classified::Kind::empty;
    return out;
  }
  if (body == "quit") {
    out.kind = Classified::Kind::quit;
    return out;
  }
  if (auto e = check_text(body); e != TextError::none) {
    out.kind = Classified::Kind::bad_text;
    out.text_error = e;
    return out;
  }
  out.text.reserve(own_id.size() + 2 + body.size());
  out.text.append("[").append(own_id).append("]").append(body);
  return out;
}

bool looks_like_http(std::string_view first) {
  for (auto t : kHttpTokens)
    if (first.starts_with(t)) return true;
  return false;
}

bool may_become_http(std::string_view first) {
  for (auto t : kHttpTokens)
    if (first.size() < t.size() && t.starts_with(first)) return true;
  return false;
}

JoinDecoder::State JoinDecoder::feed(std::string_view bytes) {
  if (state_ != State::need_more && state_ != State::undecided) return state_;
  buf_.append(bytes);
  state_ = decide();
  return state_;
}

JoinDecoder::State JoinDecoder::timeout() {
  if (state_ == State::undecided) {
    rest_ = buf_.substr(buf_.find(']') + 1);  // nothing, or a lone "\r"
    state_ = State::raw;
    buf_.clear();
  }
  return state_;
}

JoinDecoder::State JoinDecoder::decide() {
  std::string_view b = buf_;
  if (b.empty()) return State::need_more;
  if (b.front() != '[') {
    if (looks_like_http(b)) return State::http;
    if (may_become_http(b)) return State::need_more;
    error_ = kErrNotJoined;
    return State::invalid;
  }
  size_t close = b.find(']');
  if (close == std::string_view::npos) {
    if (b.size() > kMaxId + 1) {
      // Too long to become an ID; say what is wrong with what we have (a newline, bad UTF-8, …).
      IdError e = check_id(b.substr(1, kMaxId));
      error_ = id_error_text(e == IdError::none ? IdError::too_long : e, {});
      return State::invalid;
    }
    if (b.find('\n') != std::string_view::npos) {
      error_ = kErrNotJoined;
      return State::invalid;
    }
    return State::need_more;
  }
  std::string_view id = b.substr(1, close - 1);
  if (IdError e = check_id(id); e != IdError::none) {
    error_ = id_error_text(e, id);
    return State::invalid;
  }
  id_ = std::string(id);
  std::string_view after = b.substr(close + 1);
  if (after.empty() || after == "\r") return State::undecided;
  State s = State::raw;
  if (after.front() == '\n') {
    after.remove_prefix(1);
    s = State::line;
  } else if (after.starts_with("\r\n")) {
    after.remove_prefix(2);
    s = State::line;
  }
  rest_ = std::string(after);
  buf_.clear();
  return s;
}

std::vector<std::string_view> split_raw_chunk(std::string_view chunk, std::string_view own_id) {
  std::string marker;
  marker.reserve(own_id.size() + 2);
  marker.append("[").append(own_id).append("]");
  std::vector<std::string_view> out;
  auto push = [&](std::string_view piece) {
    if (!piece.empty()) out.push_back(piece);
  };
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    std::string_view line = chunk.substr(0, nl);
    chunk.remove_prefix(nl == std::string_view::npos ? chunk.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t start = 0;
    for (size_t at = line.find(marker, 1); at != std::string_view::npos; at = line.find(marker, at + 1)) {
      push(line.substr(start, at - start));
      start = at;
    }
    push(line.substr(start));
  }
  return out;
}

std::string taken_error_text(std::string_view id, std::string_view holder) {
  if (id == holder) return fmt::format("ID '{}' is taken", id);
  return fmt::format("ID '{}' is taken (as '{}'; IDs differing only in case are the same)", id, holder);
}

std::string impersonation_error_text(std::string_view own, std::string_view claimed) {
  return fmt::format("you are '{}': a message may not claim the ID '{}' (not relayed)", own, claimed);
}

std::string text_error_text(TextError e) {
  return e == TextError::bad_utf8 ? "message is not valid UTF-8 (not relayed)"
                                  : "message contains control characters (not relayed)";
}

}  // namespace concur::chat
