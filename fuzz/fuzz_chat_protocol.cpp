// Fuzzes the chat wire rules: the join decoder, IDs, classification of messages and raw chunks.
// Invariants: an accepted ID is valid by the rules; relayed text always carries the sender's own
// prefix and valid text; raw-chunk pieces are never empty.
#include <cstdint>
#include <string>

#include "services/chat_protocol.hpp"

using namespace concur::chat;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Join decoding, fed in two pieces.
  JoinDecoder d;
  size_t cut = size ? data[0] % (size + 1) : 0;
  auto st = d.feed(in.substr(0, cut));
  if (st == JoinDecoder::State::need_more || st == JoinDecoder::State::undecided) st = d.feed(in.substr(cut));
  if (st == JoinDecoder::State::undecided) st = d.timeout();
  if ((st == JoinDecoder::State::line || st == JoinDecoder::State::raw) && check_id(d.id()) != IdError::none)
    __builtin_trap();
  // Classify the rest against a fixed member and against the decoded ID.
  for (std::string_view own : {std::string_view("alice"), std::string_view(d.id())}) {
    if (check_id(own) != IdError::none) continue;
    Classified c = classify(in, own);
    if (c.kind == Classified::Kind::relay) {
      std::string prefix = "[" + std::string(own) + "]";
      auto p = split_prefix(c.text);
      if (!p || fold_id(p->id) != fold_id(own)) __builtin_trap();
      if (check_text(c.text) != TextError::none) __builtin_trap();
    }
    for (std::string_view piece : split_raw_chunk(in, own))
      if (piece.empty()) __builtin_trap();
  }
  (void)looks_like_http(in);
  (void)may_become_http(in);
  (void)fold_id(in);
  return 0;
}
