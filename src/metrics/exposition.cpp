#include "metrics/exposition.hpp"

#include <fmt/format.h>

#include <cmath>

namespace concur::metrics {

namespace {
std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote && c == '"') out += "\\\"";
    else out += c;
  }
  return out;
}

void write_labels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  auto one = [&](std::string_view n, std::string_view v) {
    if (!first) out += ',';
    first = false;
    out += n;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  };
  for (const auto& [n, v] : labels) one(n, v);
  if (!extra_name.empty()) one(extra_name, extra_value);
  out += '}';
}
}  // namespace

std::string escape_help(std::string_view text) { return escape(text, false); }
std::string escape_label_value(std::string_view value) { return escape(value, true); }

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Integral values below 2^53 are exact as integers: "3", not "3.0" or "3e+00".
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);  // shortest round-trip form
}

void write_header(std::string& out, std::string_view name, std::string_view help, Type type) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type_name(type));
}

void write_sample(std::string& out, std::string_view name, const Labels& labels, std::string_view value) {
  out += name;
  write_labels(out, labels);
  out += ' ';
  out += value;
  out += '\n';
}

void write_histogram(std::string& out, std::string_view name, const Labels& labels, const std::vector<double>& bounds,
                     const std::vector<uint64_t>& counts, double sum) {
  uint64_t cumulative = 0;
  std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += i < counts.size() ? counts[i] : 0;
    out += bucket;
    write_labels(out, labels, "le", i < bounds.size() ? format_value(bounds[i]) : "+Inf");
    out += fmt::format(" {}\n", cumulative);
  }
  write_sample(out, std::string(name) + "_sum", labels, format_value(sum));
  write_sample(out, std::string(name) + "_count", labels, std::to_string(cumulative));
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

}  // namespace concur::metrics
