#include "core/log.hpp"

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <atomic>
#include <mutex>

#include "core/json_log.hpp"

namespace concur {

namespace {
std::mutex& out_mutex() {
  static std::mutex m;
  return m;
}

std::atomic<LogFormat> g_format{LogFormat::text};

// One whole line to `f`, flushed, under the lock.
void write_line(FILE* f, std::string_view line) {
  std::lock_guard lock(out_mutex());
  std::fwrite(line.data(), 1, line.size(), f);
  std::fputc('\n', f);
  std::fflush(f);
}
}  // namespace

void set_log_format(LogFormat f) { g_format.store(f, std::memory_order_relaxed); }
LogFormat log_format() noexcept { return g_format.load(std::memory_order_relaxed); }

void out_line(std::string_view line) {
  if (log_format() == LogFormat::json)
    write_line(stdout, json_log_line("stdout", line, std::chrono::system_clock::now()));
  else
    write_line(stdout, line);
}

void out_lines(std::string_view text) {
  if (log_format() != LogFormat::json) return out_raw(text);
  auto now = std::chrono::system_clock::now();
  std::string json;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    json += json_log_line("stdout", text.substr(at, nl - at), now);
    json += '\n';
    at = nl + 1;
  }
  out_raw(json);
}

void out_raw(std::string_view text) {
  std::lock_guard lock(out_mutex());
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void err_line(std::string_view line) {
  if (log_format() == LogFormat::json)
    write_line(stderr, json_log_line("stderr", line, std::chrono::system_clock::now()));
  else
    write_line(stderr, line);
}

std::string asctime_of(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::localtime_r(&tt, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  return std::string(buf, n);
}

std::string asctime_now() { return asctime_of(std::chrono::system_clock::now()); }

namespace {
// Length of a valid UTF-8 sequence starting at s[i] (2..4), or 0 if invalid.
size_t utf8_seq_len(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (c >= 0xF5) n = 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
  if (c == 0xED && c1 >= 0xA0) return 0; // surrogates
  if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
  if (c == 0xF4 && c1 >= 0x90) return 0; // > U+10FFFF
  if (c == 0xC2 && c1 < 0xA0) return 0;  // C1 controls U+0080..U+009F (e.g. CSI 0x9b)
  return n;
}
// The code point of the valid n-byte UTF-8 sequence at s[i].
char32_t utf8_code_point(std::string_view s, size_t i, size_t n) {
  auto c = static_cast<unsigned char>(s[i]);
  char32_t cp = c & (0xFFu >> (n + 1));
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  return cp;
}

// Characters that are valid and "printable" yet change how the rest of the line is shown or are not
// seen at all, so a received message could reorder its own line or look like another: bidi
// embeddings, overrides, isolates and marks (Trojan Source, CVE-2021-42574), zero-width characters,
// the line/paragraph separators (a terminal may break the line there) and the BOM.
bool is_invisible_or_bidi(char32_t cp) {
  return cp == 0x061C                        // ARABIC LETTER MARK
         || cp == 0x180E                     // MONGOLIAN VOWEL SEPARATOR (zero width)
         || (cp >= 0x200B && cp <= 0x200F)   // ZWSP, ZWNJ, ZWJ, LRM, RLM
         || (cp >= 0x2028 && cp <= 0x202E)   // LINE/PARAGRAPH SEPARATOR, LRE RLE PDF LRO RLO
         || (cp >= 0x2060 && cp <= 0x206F)   // WORD JOINER, invisible operators, LRI RLI FSI PDI, ...
         || cp == 0xFEFF                     // BOM / ZERO WIDTH NO-BREAK SPACE
         || (cp >= 0xFFF9 && cp <= 0xFFFB);  // interlinear annotation controls
}
}  // namespace

std::string escape_for_terminal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '\\') out += "\\\\";
      else out += static_cast<char>(c);
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c >= 0x80) {
      size_t n = utf8_seq_len(s, i);
      if (n && is_invisible_or_bidi(utf8_code_point(s, i, n))) {
        out += fmt::format("\\u{:04x}", static_cast<uint32_t>(utf8_code_point(s, i, n)));
        i += n;
      } else if (n) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out += fmt::format("\\x{:02x}", c);
        ++i;
      }
    } else {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case 0x1b: out += "\\x1b"; break;
        default: out += fmt::format("\\x{:02x}", c);
      }
      ++i;
    }
  }
  return out;
}

}  // namespace concur
