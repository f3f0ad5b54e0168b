#include "support/mosquitto_broker.hpp"

#include <pwd.h>
#include <unistd.h>

#include <fstream>

namespace concur::test {

MosquittoBroker::MosquittoBroker(const TempDir& dir, int port, const std::string& extra) : port(port) {
  std::string conf = dir.file("mosquitto-" + std::to_string(port) + ".conf");
  {
    std::ofstream f(conf);
    // stderr: mosquitto's stdout is block-buffered into a pipe. `user`: run as root, it would
    // otherwise switch to user mosquitto and could not read files in the test's private dir.
    const passwd* pw = ::getpwuid(::getuid());
    f << "listener " << port << " 127.0.0.1\n" << extra;
    if (extra.find("allow_anonymous") == std::string::npos) f << "allow_anonymous true\n";
    if (extra.find("persistence ") == std::string::npos) f << "persistence false\n";
    f << "log_dest stderr\nuser " << (pw ? pw->pw_name : "root") << "\n";
  }
  proc = std::make_unique<Process>(std::vector<std::string>{kMosquitto, "-c", conf});
  ready = proc->wait_for_stderr(" running", Ms(5000));
}

}  // namespace concur::test
