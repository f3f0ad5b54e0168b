#pragma once
// echo-server: every byte back, byte for byte (RFC 862).
#include "services/service.hpp"

namespace concur {

class EchoService final : public StreamService {
 public:
  // idle_timeout > 0: a client that sends nothing for that long is closed (--idle-timeout; off by
  // default, as the seed). What a held connection costs per model: docs/design.md.
  explicit EchoService(bool quiet, Millis idle_timeout = Millis(0)) : quiet_(quiet), idle_(idle_timeout) {}
  void on_open(Conn& c) override;
  void on_data(Conn& c, std::string_view bytes) override;
  void on_timeout(Conn& c) override;

 private:
  bool quiet_;
  Millis idle_;
};

}  // namespace concur
