#pragma once
// Prometheus text exposition format 0.0.4, the pieces (pure, unit-tested alone):
//
//   # HELP concur_chat_members Members in the chat room.
//   # TYPE concur_chat_members gauge
//   concur_chat_members{room="lobby"} 3
//
// Escaping, as the format defines it: in HELP text a backslash and a newline (\\ and \n); in a
// label value also the double quote (\"). Values: integers as integers, others in the shortest
// form that reads back exactly, +Inf / -Inf / NaN. A histogram is cumulative _bucket series with
// an `le` label (the last le="+Inf"), then _sum and _count, where _count equals the +Inf bucket.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/registry.hpp"

namespace concur::metrics {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string escape_help(std::string_view text);
std::string escape_label_value(std::string_view value);
std::string format_value(double v);

// "# HELP …\n# TYPE …\n".
void write_header(std::string& out, std::string_view name, std::string_view help, Type type);
// name{labels} value\n — `labels` may be empty (no braces then).
void write_sample(std::string& out, std::string_view name, const Labels& labels, std::string_view value);
// The _bucket/_sum/_count lines of one histogram series; `counts` per bucket (not cumulative),
// bounds.size() + 1 of them.
void write_histogram(std::string& out, std::string_view name, const Labels& labels, const std::vector<double>& bounds,
                     const std::vector<uint64_t>& counts, double sum);

// Checks against the format's grammar: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__".
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace concur::metrics
