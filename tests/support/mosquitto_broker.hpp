#pragma once
// A real mosquitto broker for a test, on 127.0.0.1:port, configured by a file in the test's
// directory; ready once it logs that it is running. Stopped by its PID (the Process destructor).
// `extra` config lines go right after the listener line (TLS options apply to it); they may set
// allow_anonymous and persistence, which otherwise default to true and false.
// (collect_mqtt_e2e_test.cpp keeps its own copy, with options this one does not need.)
#include <memory>
#include <string>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace concur::test {

inline constexpr const char* kMosquitto = "/usr/sbin/mosquitto";

struct MosquittoBroker {
  MosquittoBroker(const TempDir& dir, int port, const std::string& extra = {});
  int port;
  std::unique_ptr<Process> proc;
  bool ready = false;
};

}  // namespace concur::test
