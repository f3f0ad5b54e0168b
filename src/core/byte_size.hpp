#pragma once
// Sizes on the command line: bytes, or with a binary unit ("64K", "100M", "2G"; "KiB", "MiB",
// "GiB" and a trailing "B" are accepted too), as `--out-max-size 100M`.
#include <cstdint>
#include <optional>
#include <string_view>

namespace concur {

// nullopt for anything else: a sign, a fraction, hex, an unknown unit, more than 2^62 bytes.
std::optional<uint64_t> parse_byte_size(std::string_view text);

}  // namespace concur
