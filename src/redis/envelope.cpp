#include "redis/envelope.hpp"

#include <fmt/format.h>

#include <charconv>
#include <random>

#include "services/chat_protocol.hpp"

namespace concur::redis {

namespace {
constexpr std::string_view kMagic = "concur1 ";
constexpr std::string_view kLiveMagic = "concur2 ";
constexpr size_t kHexDigits = 16;

// The next space-terminated field of `s`, consumed; nullopt without a space.
std::optional<std::string_view> field(std::string_view& s) {
  size_t sp = s.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  std::string_view f = s.substr(0, sp);
  s.remove_prefix(sp + 1);
  return f;
}

std::optional<uint64_t> parse_number(std::string_view f, int base) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v, base);
  if (ec != std::errc() || end != f.data() + f.size()) return std::nullopt;
  return v;
}

bool is_lower_hex(std::string_view f) {
  for (char c : f)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The same rules a local member's relayed message meets: "[valid ID]" then valid text.
bool relayable(std::string_view text) {
  if (text.empty() || text.size() > chat::kMaxMessage) return false;
  auto p = chat::split_prefix(text);
  if (!p || chat::check_id(p->id) != chat::IdError::none) return false;
  return chat::check_text(text) == chat::TextError::none;
}
}  // namespace

std::string instance_hex(uint64_t instance) { return fmt::format("{:016x}", instance); }

std::string encode_envelope(uint64_t instance, uint64_t seq, std::string_view text) {
  return fmt::format("{}{:016x} {} {}", kMagic, instance, seq, text);
}

std::optional<Envelope> decode_envelope(std::string_view payload) {
  if (!payload.starts_with(kMagic)) return std::nullopt;
  payload.remove_prefix(kMagic.size());
  auto inst = field(payload);
  if (!inst || inst->size() != kHexDigits || !is_lower_hex(*inst)) return std::nullopt;
  auto seq_text = field(payload);
  if (!seq_text || seq_text->empty() || seq_text->size() > 20 || (*seq_text)[0] == '0') return std::nullopt;
  auto instance = parse_number(*inst, 16);
  auto seq = parse_number(*seq_text, 10);
  if (!instance || *instance == 0 || !seq) return std::nullopt;
  if (!relayable(payload)) return std::nullopt;
  return Envelope{*instance, *seq, payload};
}

bool valid_epoch(std::string_view epoch) { return epoch.size() == kHexDigits && is_lower_hex(epoch); }

bool valid_entry_id(std::string_view id) {
  size_t dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == id.size() || id.size() > 41) return false;
  auto digits = [](std::string_view f) {
    for (char c : f)
      if (c < '0' || c > '9') return false;
    return true;
  };
  return digits(id.substr(0, dash)) && digits(id.substr(dash + 1));
}

std::optional<uint64_t> parse_offset(std::string_view text) {
  if (text.empty() || text.size() > 20 || text[0] == '0') return std::nullopt;
  return parse_number(text, 10);
}

std::string encode_live(std::string_view epoch, uint64_t offset, std::string_view entry_id, std::string_view envelope) {
  return fmt::format("{}{} {} {} {}", kLiveMagic, epoch, offset, entry_id, envelope);
}

std::optional<LiveMessage> decode_live(std::string_view payload) {
  LiveMessage m;
  if (payload.starts_with(kLiveMagic)) {
    payload.remove_prefix(kLiveMagic.size());
    auto epoch = field(payload);
    auto offset_text = field(payload);
    auto id = field(payload);
    if (!epoch || !valid_epoch(*epoch) || !offset_text || !id || !valid_entry_id(*id)) return std::nullopt;
    auto offset = parse_offset(*offset_text);
    if (!offset) return std::nullopt;
    m.sequenced = true;
    m.epoch = *epoch;
    m.offset = *offset;
    m.entry_id = *id;
  }
  auto env = decode_envelope(payload);
  if (!env) return std::nullopt;
  m.env = *env;
  return m;
}

uint64_t random_instance_id() {
  std::random_device rd;
  uint64_t v = 0;
  while (v == 0) v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return v;
}

bool SeenSeqs::fresh(uint64_t instance, uint64_t seq) {
  auto it = last_.find(instance);
  if (it == last_.end()) {
    if (last_.size() >= max_) last_.clear();
    last_.emplace(instance, seq);
    return true;
  }
  if (seq <= it->second) return false;
  it->second = seq;
  return true;
}

}  // namespace concur::redis
