#include "services/echo.hpp"

#include "core/log.hpp"

namespace concur {

void EchoService::on_open(Conn& c) {
  if (!quiet_) outf("connected by {} {}", c.peer().ip(), c.peer().port());
  if (idle_.count() > 0) c.set_timer(idle_);
}

void EchoService::on_timeout(Conn& c) {
  if (!quiet_) outf("{} {} idle for {:g} s: closed", c.peer().ip(), c.peer().port(), static_cast<double>(idle_.count()) / 1000.0);
  c.close();
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
  if (idle_.count() > 0) c.set_timer(idle_);  // it spoke: the idle clock starts again
}

}  // namespace concur
