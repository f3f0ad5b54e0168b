// Fuzzes the device reading grammar: a line the parser accepts is at most kMaxReading bytes, has
// a name and at least one field; a generated reading always parses back.
#include <cstdint>
#include <random>
#include <string>

#include "iot/reading.hpp"

using namespace concur::iot;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string why;
  auto r = parse_reading(in, &why);
  if (r) {
    if (in.size() > kMaxReading || r->name.empty() || r->fields.empty()) __builtin_trap();
  } else if (why.empty()) {
    __builtin_trap();  // a refusal must say why
  }
  std::mt19937_64 rng(size);
  for (auto kind : {DeviceKind::env, DeviceKind::health}) {
    const KindSpec& spec = kind_spec(kind);
    std::string line = make_reading(spec.default_name, spec, rng);
    auto back = parse_reading(line);
    if (!back || back->fields.size() != spec.fields.size()) __builtin_trap();
  }
  return 0;
}
