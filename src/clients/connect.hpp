#pragma once
// Client-side connection set-up that a SIGINT/SIGTERM can interrupt.
#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "core/stop.hpp"

namespace concur {

// TCP connect (TCP_NODELAY) that waits for the handshake with poll(), so a stop request ends the
// wait. Returns an invalid FileDesc when stopped; throws SysError "cannot connect to HOST:PORT: …".
FileDesc tcp_connect_until(const Endpoint& to, const StopSource& stop);

}  // namespace concur
