#pragma once
// What `GET /readyz` answers: the process serves only while every registered check holds —
// "listening" (the server's socket is open and served), and where used "redis" (the link is
// subscribed and answering), "mqtt" (the broker is connected), "sqlite" / the data file (the last
// write succeeded). A check that fails carries its reason, which /readyz returns as text.
//
// Thread contract: everything is safe from any thread. A subsystem owns its ReadyFlag (a member):
// it is registered when constructed and removed when destroyed, so a stopped subsystem never
// leaves a stale verdict behind.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace concur::metrics {

class ReadyFlag {
 public:
  // Registers a check named `name` that is not ready yet, for `why` ("not listening yet").
  ReadyFlag(std::string name, std::string why);
  ~ReadyFlag();
  ReadyFlag(const ReadyFlag&) = delete;
  ReadyFlag& operator=(const ReadyFlag&) = delete;

  void ready();
  void not_ready(std::string why);

 private:
  uint64_t id_;
};

struct ReadyVerdict {
  bool ready = true;
  std::vector<std::pair<std::string, std::string>> failing;  // name, why
};

// The checks right now; ready when none fails (also when there are none).
ReadyVerdict readiness();
// The /readyz body: "ready\n", or one "<name>: <why>" line per failing check.
std::string readiness_text(const ReadyVerdict& v);

}  // namespace concur::metrics
