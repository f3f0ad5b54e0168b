#pragma once
// hello-server (lecture slide 1): greet each client with its own address, then close.
#include "services/service.hpp"

namespace concur {

class HelloService final : public StreamService {
 public:
  // idle_timeout > 0 (--idle-timeout): a connection still open that long after its greeting is
  // closed. The greeting normally leaves at once and the connection with it; the timer only
  // matters for a peer that never lets it go.
  explicit HelloService(bool quiet, Millis idle_timeout = Millis(0)) : quiet_(quiet), idle_(idle_timeout) {}
  void on_open(Conn& c) override;
  void on_data(Conn&, std::string_view) override {}
  void on_timeout(Conn& c) override { c.close(); }

 private:
  bool quiet_;
  Millis idle_;
};

}  // namespace concur
