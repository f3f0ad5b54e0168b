// Fuzzes the CLI's endpoint parsing (--device HOST:PORT, --device-list lines): never crashes, and
// whatever it accepts formats back to text that parses to the same endpoint.
#include <cstdint>
#include <string>

#include "core/duration.hpp"
#include "core/endpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto e = concur::Endpoint::parse_host_port(in)) {
    auto again = concur::Endpoint::parse_host_port(e->to_string());
    if (!again || !(*again == *e)) __builtin_trap();
  }
  (void)concur::parse_duration(in);
  return 0;
}
