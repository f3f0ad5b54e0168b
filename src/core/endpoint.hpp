#pragma once
// An IPv4 or IPv6 socket address, with the parsing and the formats the CLI and the seed's logs use.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace concur {

class Endpoint {
 public:
  Endpoint() = default;
  // Parses a numeric IPv4/IPv6 address ("0.0.0.0", "::1", "[::1]") or "localhost".
  // Throws UsageError naming the text when it is not one.
  static Endpoint parse(std::string_view host, uint16_t port);
  // Parses "HOST:PORT" or "[V6]:PORT". Returns nullopt when malformed.
  static std::optional<Endpoint> parse_host_port(std::string_view text);
  static Endpoint from_sockaddr(const sockaddr* sa, socklen_t len);

  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss_); }
  sockaddr* sa() { return reinterpret_cast<sockaddr*>(&ss_); }
  socklen_t len() const { return len_; }
  socklen_t capacity() const { return sizeof(ss_); }
  void set_len(socklen_t l) { len_ = l; }
  int family() const { return ss_.ss_family; }
  uint16_t port() const;
  void set_port(uint16_t port);

  std::string ip() const;          // "127.0.0.1" or "::1"
  std::string to_string() const;   // "127.0.0.1:2500" or "[::1]:2500"
  std::string seed_format() const; // "('127.0.0.1', 2500)", as Python prints an address tuple

  bool operator==(const Endpoint& o) const;

 private:
  sockaddr_storage ss_{};
  socklen_t len_ = 0;
};

struct EndpointHash {
  size_t operator()(const Endpoint& e) const;
};

}  // namespace concur
