#pragma once
// `--log-format json`: each log line as one JSON object on one line, for journald/Loki/jq:
//   {"time":"2026-05-01T10:00:00.123+02:00","stream":"stdout","message":"listening on ..."}
// plus the parts of a `listening on` line as fields ("event":"listening","address",...). The
// message is the text line, unchanged, so a JSON reader sees exactly what the text format prints.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace concur {

// `s` as a JSON string literal (quoted). Valid UTF-8 passes; control characters become \u00XX and
// each byte of invalid UTF-8 becomes U+FFFD, so the result is always valid JSON in valid UTF-8.
std::string json_quote(std::string_view s);

// One JSON log line (no newline) for `message` written to `stream` ("stdout" or "stderr") at `t`.
std::string json_log_line(std::string_view stream, std::string_view message, std::chrono::system_clock::time_point t);

// The message of a line that json_log_line wrote, or nullopt if `line` is not one (a text line).
// Readers of the `listening on` readiness line use it, so either format works for them.
std::optional<std::string> json_log_message(std::string_view line);

// The text line itself, or the message of a JSON log line.
std::string log_message_of(std::string_view line);

}  // namespace concur
