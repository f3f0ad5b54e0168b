#pragma once
// echo-server: every byte back, byte for byte (RFC 862).
#include "services/service.hpp"

namespace concur {

class EchoService final : public StreamService {
 public:
  explicit EchoService(bool quiet) : quiet_(quiet) {}
  void on_open(Conn& c) override;
  void on_data(Conn& c, std::string_view bytes) override;

 private:
  bool quiet_;
};

}  // namespace concur
