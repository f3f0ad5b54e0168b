#include "core/endpoint.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <functional>

#include "core/error.hpp"

namespace concur {

Endpoint Endpoint::parse(std::string_view host_in, uint16_t port) {
  std::string host(host_in);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost" || host.empty()) host = host.empty() ? "0.0.0.0" : "127.0.0.1";
  Endpoint e;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&e.ss_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.ss_);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    e.len_ = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    e.len_ = sizeof(sockaddr_in6);
  } else {
    throw UsageError("not a numeric IPv4/IPv6 address: '" + std::string(host_in) + "'");
  }
  return e;
}

std::optional<Endpoint> Endpoint::parse_host_port(std::string_view text) {
  std::string_view host, port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (host.empty() || port_text.empty() || port_text.size() > 5) return std::nullopt;
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
  try {
    return parse(host, static_cast<uint16_t>(port));
  } catch (const UsageError&) {
    return std::nullopt;
  }
}

Endpoint Endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) {
  Endpoint e;
  if (len > sizeof(e.ss_)) len = sizeof(e.ss_);
  std::memcpy(&e.ss_, sa, len);
  e.len_ = len;
  return e;
}

uint16_t Endpoint::port() const {
  if (ss_.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss_)->sin_port);
  if (ss_.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_port);
  return 0;
}

void Endpoint::set_port(uint16_t port) {
  if (ss_.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&ss_)->sin_port = htons(port);
  if (ss_.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&ss_)->sin6_port = htons(port);
}

std::string Endpoint::ip() const {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (ss_.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss_)->sin_addr, buf, sizeof buf);
  else if (ss_.ss_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss_)->sin6_addr, buf, sizeof buf);
  return buf;
}

std::string Endpoint::to_string() const {
  if (ss_.ss_family == AF_INET6) return "[" + ip() + "]:" + std::to_string(port());
  return ip() + ":" + std::to_string(port());
}

std::string Endpoint::seed_format() const { return "('" + ip() + "', " + std::to_string(port()) + ")"; }

bool Endpoint::operator==(const Endpoint& o) const {
  return len_ == o.len_ && std::memcmp(&ss_, &o.ss_, len_) == 0;
}

size_t EndpointHash::operator()(const Endpoint& e) const {
  std::string_view bytes(reinterpret_cast<const char*>(e.sa()), e.len());
  return std::hash<std::string_view>{}(bytes);
}

}  // namespace concur
