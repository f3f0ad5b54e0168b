#pragma once
// Log lines for stdout and stderr. Each line is written whole and flushed at once (also into a
// pipe or a file) under one lock, so lines from many threads never interleave.
#include <fmt/format.h>

#include <chrono>
#include <string>
#include <string_view>

namespace concur {

// text: the lines of SPEC, byte for byte (the default). json: each line of out_line/err_line as
// one JSON object (core/json_log.hpp), for log collectors; prompts (out_raw) stay as they are.
enum class LogFormat { text, json };
void set_log_format(LogFormat f);  // at start-up (--log-format), before the server's threads
LogFormat log_format() noexcept;

void out_line(std::string_view line);  // stdout, flushed
void err_line(std::string_view line);  // stderr, flushed
// Writes `text`, whole lines each ending in '\n', to stdout in one write, flushed (the collector's
// batches); with --log-format json each of its lines becomes one object.
void out_lines(std::string_view text);
// Writes raw text to stdout without adding a newline (prompts), flushed.
void out_raw(std::string_view text);

template <typename... Args>
void outf(fmt::format_string<Args...> f, Args&&... args) {
  out_line(fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void errf(fmt::format_string<Args...> f, Args&&... args) {
  err_line(fmt::format(f, std::forward<Args>(args)...));
}

// Python's time.asctime() for the local time: "Mon Mar 28 10:50:11 2022".
std::string asctime_now();
std::string asctime_of(std::chrono::system_clock::time_point t);

// Shows control characters and escape sequences as text ("\x1b", "\r"), so that received bytes can
// never drive the terminal (RELIABILITY #6), and bidi controls, zero-width characters, U+2028/U+2029
// and the BOM as "\u202e", so that a message cannot reorder or hide text. Other valid UTF-8 text
// passes unchanged.
std::string escape_for_terminal(std::string_view bytes);

}  // namespace concur
