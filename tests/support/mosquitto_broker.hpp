#pragma once
// A real mosquitto broker for a test, on 127.0.0.1:port, configured by a file in the test's
// directory; ready once it logs that it is running. Stopped by its PID (the Process destructor).
// (collect_mqtt_e2e_test.cpp keeps its own copy, with options this one does not need.)
#include <memory>
#include <string>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace concur::test {

inline constexpr const char* kMosquitto = "/usr/sbin/mosquitto";

struct MosquittoBroker {
  MosquittoBroker(const TempDir& dir, int port);
  int port;
  std::unique_ptr<Process> proc;
  bool ready = false;
};

}  // namespace concur::test
