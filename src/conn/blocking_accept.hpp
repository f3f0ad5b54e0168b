#pragma once
// The accept loop of the models that have no poller (iterative, thread, process): wait for the
// listening socket or the stop request, accept, gate.
#include <functional>

#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "conn/accept_gate.hpp"
#include "core/stop.hpp"

namespace concur {

// Calls serve(client, peer, place) for every admitted client until stop; `tick` runs at least every
// 200 ms (reaping children, for example). Returns when stop is requested.
void accept_until_stop(int listen_fd, AcceptGate& gate, const StopSource& stop,
                       const ServeAdmitted& serve,
                       const std::function<void()>& tick = {});

}  // namespace concur
