#pragma once
// SIGHUP re-reads a server's certificate and key (what nginx, mosquitto and ergo do): new
// connections get the new pair, connections already made keep theirs, nobody is dropped. A pair
// that does not load is logged and the one in force stays.
//
// The signal handler only writes an eventfd; a thread of the reloader (no signals of its own)
// does the reading, so no model's loop ever waits on a file. One reloader per process.
#include <memory>
#include <thread>

#include "core/fd.hpp"
#include "tls/tls_context.hpp"

namespace concur::tls {

class ReloadOnHangup {
 public:
  explicit ReloadOnHangup(std::shared_ptr<ServerContext> ctx);  // nullptr: does nothing
  ~ReloadOnHangup();                                              // SIGHUP back to its default
  ReloadOnHangup(const ReloadOnHangup&) = delete;
  ReloadOnHangup& operator=(const ReloadOnHangup&) = delete;

 private:
  void run();
  std::shared_ptr<ServerContext> ctx_;
  FileDesc quit_;
  std::thread thread_;
};

}  // namespace concur::tls
