#include "services/echo.hpp"

#include "core/log.hpp"

namespace concur {

void EchoService::on_open(Conn& c) {
  if (!quiet_) outf("connected by {} {}", c.peer().ip(), c.peer().port());
}

void EchoService::on_data(Conn& c, std::string_view bytes) {
  if (!quiet_) {
    std::string_view text = bytes;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    outf("Received message: {}", escape_for_terminal(text));
  }
  // Over --max-queue (a client that sends but never reads) the model disconnects it.
  c.send(bytes);
}

}  // namespace concur
