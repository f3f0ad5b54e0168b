#include "services/hello.hpp"

#include "core/log.hpp"

namespace concur {

void HelloService::on_open(Conn& c) {
  if (!quiet_) outf("Connection from {}", c.peer().to_string());
  c.send("Hello " + c.peer().ip());  // no newline, as the seed
  if (idle_.count() > 0) c.set_timer(idle_);
  c.close();
}

}  // namespace concur
