#pragma once
// The accept step of every event-driven listener: take what the backlog holds (a bounded number
// per pass, so accepting cannot starve established clients), admit each client through the one
// AcceptGate, and hand it on with its place. The event models (select, poll, epoll, coro), uring
// when it is short of descriptors, the web port and the device simulator all accept here; only
// the blocking models, which sleep in accept(), keep their own loops (blocking_accept.hpp,
// worker_accept.hpp), and those go through the same Acceptor and AcceptGate.
#include <utility>

#include "conn/accept_gate.hpp"
#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "core/socket.hpp"

namespace concur {

class Listener {
 public:
  // `listen_fd` is a non-blocking listening socket owned by the caller.
  Listener(int listen_fd, AcceptGate& gate) : acceptor_(listen_fd), gate_(gate) {}
  // The same with a reserve descriptor shared among listeners on one thread (Acceptor).
  Listener(int listen_fd, AcceptGate& gate, FileDesc& reserve) : acceptor_(listen_fd, reserve), gate_(gate) {}

  enum class Pass {
    drained,             // the backlog is empty
    more,                // the budget ran out first: come back on the next readiness
    out_of_descriptors,  // a client was refused for want of a descriptor (reported, rate-limited)
    failed,              // accept() failed otherwise (reported): back off before watching again
  };

  // Accepts up to `budget` clients; serve(FileDesc, const Endpoint&, Admission) gets each one the
  // gate admits (the others were told `server full` and closed).
  template <class Serve>
  Pass accept_pending(Serve&& serve, int budget = 64) {
    for (int i = 0; i < budget; ++i) {
      FileDesc client;
      Endpoint peer;
      Acceptor::Result r = acceptor_.accept(client, peer);
      if (r == Acceptor::Result::again) return Pass::drained;
      if (r != Acceptor::Result::accepted) {
        gate_.report(r);
        return r == Acceptor::Result::refused_emfile ? Pass::out_of_descriptors : Pass::failed;
      }
      if (Admission place = gate_.admit(client, peer)) serve(std::move(client), peer, std::move(place));
    }
    return Pass::more;
  }

  int fd() const { return acceptor_.listen_fd(); }
  AcceptGate& gate() { return gate_; }

 private:
  Acceptor acceptor_;
  AcceptGate& gate_;
};

}  // namespace concur
