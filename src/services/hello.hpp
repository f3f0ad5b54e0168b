#pragma once
// hello-server (lecture slide 1): greet each client with its own address, then close.
#include "services/service.hpp"

namespace concur {

class HelloService final : public StreamService {
 public:
  explicit HelloService(bool quiet) : quiet_(quiet) {}
  void on_open(Conn& c) override;
  void on_data(Conn&, std::string_view) override {}

 private:
  bool quiet_;
};

}  // namespace concur
