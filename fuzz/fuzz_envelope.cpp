// Fuzzes what other processes can put on a room's Redis channel: any payload either decodes to an
// envelope whose re-encoding is the payload itself, or is refused; and SeenSeqs stays bounded
// whatever order of (instance, seq) pairs arrives.
#include <cstdint>
#include <string>

#include "redis/envelope.hpp"

using namespace concur::redis;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto e = decode_envelope(in)) {
    // The text is a view into the payload, and the payload is exactly its canonical encoding:
    // nothing after the text, no alternative spelling of the numbers slips through.
    if (e->text.data() < in.data() || e->text.data() + e->text.size() > in.data() + in.size()) __builtin_trap();
    if (encode_envelope(e->instance, e->seq, e->text) != in) __builtin_trap();
    static SeenSeqs seen(8);
    bool first = seen.fresh(e->instance, e->seq);
    if (first && seen.fresh(e->instance, e->seq)) __builtin_trap();  // the same pair twice is a duplicate
  }
  return 0;
}
