#include "core/json_log.hpp"

#include <fmt/format.h>

#include <ctime>

namespace concur {

namespace {

// Length of the valid UTF-8 sequence at s[i] (1..4), or 0 when the byte starts none.
size_t utf8_len(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  auto c1 = static_cast<unsigned char>(s[i + 1]);
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xF0 && c1 < 0x90)) return 0;  // overlong
  if (c == 0xED && c1 >= 0xA0) return 0;                                // UTF-16 surrogates
  if (c == 0xF4 && c1 >= 0x90) return 0;                                // beyond U+10FFFF
  return n;
}

// RFC 3339 local time with milliseconds and the UTC offset: "2026-05-01T10:00:00.123+02:00".
std::string rfc3339(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  if (ms < 0) ms += 1000;
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::localtime_r(&tt, &tm);
  char date[32], zone[8];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  std::strftime(zone, sizeof zone, "%z", &tm);  // "+0200": RFC 3339 wants "+02:00"
  std::string z(zone);
  if (z.size() == 5) z.insert(3, ":");
  return fmt::format("{}.{:03}{}", date, ms, z);
}

// `listening on <address> (<transport>, model=<model>)` or `(http, web)`: those parts as fields.
std::string listening_fields(std::string_view m) {
  constexpr std::string_view head = "listening on ";
  if (m.substr(0, head.size()) != head || m.empty() || m.back() != ')') return {};
  size_t open = m.find(" (", head.size());
  if (open == std::string_view::npos) return {};
  std::string_view address = m.substr(head.size(), open - head.size());
  std::string_view inner = m.substr(open + 2, m.size() - open - 3);
  size_t comma = inner.find(", ");
  if (comma == std::string_view::npos) return {};
  std::string_view transport = inner.substr(0, comma), rest = inner.substr(comma + 2);
  std::string out = fmt::format(R"(,"event":"listening","address":{},"transport":{})", json_quote(address),
                                json_quote(transport));
  if (rest.substr(0, 6) == "model=") out += fmt::format(R"(,"model":{})", json_quote(rest.substr(6)));
  else out += fmt::format(R"(,"role":{})", json_quote(rest));
  return out;
}

int json_hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = utf8_len(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, n));
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
    i += n;
  }
  out.push_back('"');
  return out;
}

std::string json_log_line(std::string_view stream, std::string_view message, std::chrono::system_clock::time_point t) {
  return fmt::format(R"({{"time":"{}","stream":"{}","message":{}{}}})", rfc3339(t), stream, json_quote(message),
                     listening_fields(message));
}

std::optional<std::string> json_log_message(std::string_view line) {
  constexpr std::string_view key = R"("message":")";
  if (line.empty() || line.front() != '{') return std::nullopt;
  size_t at = line.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::string out;
  // Undoes json_quote: the escapes it writes (\" \\ \n \t \uXXXX below U+10000).
  for (size_t i = at + key.size(); i < line.size(); ++i) {
    char c = line[i];
    if (c == '"') return out;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= line.size()) return std::nullopt;
    switch (line[i]) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        if (i + 4 >= line.size()) return std::nullopt;
        unsigned cp = 0;
        for (size_t k = 1; k <= 4; ++k) {
          int h = json_hex_digit(line[i + k]);
          if (h < 0) return std::nullopt;
          cp = cp * 16 + static_cast<unsigned>(h);
        }
        append_utf8(out, cp);
        i += 4;
        break;
      }
      default: out.push_back(line[i]);  // \" \\ \/
    }
  }
  return std::nullopt;  // no closing quote
}

std::string log_message_of(std::string_view line) {
  if (auto m = json_log_message(line)) return *m;
  return std::string(line);
}

}  // namespace concur
