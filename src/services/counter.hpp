#pragma once
// counter-server: each connection adds 1 to one shared counter `increments` times, then sends the
// value it saw and closes (tcp_threaded_shared_number_server.py and its fixed twin).
// Also the race-demo core, so the lecture's race and its fixes share one implementation.
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "core/stop.hpp"

#include "services/service.hpp"

namespace concur {

enum class SyncMode { none, mutex, atomic };
bool parse_sync_mode(std::string_view text, SyncMode& out);

// A shared counter with the lecture's three disciplines. `none` loses updates the way Python <=3.9
// did, without undefined behaviour: a relaxed atomic load, then a separate store.
class SharedCounter {
 public:
  explicit SharedCounter(SyncMode mode) : mode_(mode) {}
  // Adds 1, n times; returns the value right after this caller's last add.
  uint64_t add_times(uint64_t n);
  // The same, asking keep_going() every kCheckEvery adds; nullopt when it said no (the adds made
  // so far stay made).
  std::optional<uint64_t> add_times(uint64_t n, const std::function<bool()>& keep_going);
  static constexpr uint64_t kCheckEvery = 1 << 16;  // ~0.1 ms of adding between checks
  uint64_t value() const { return value_.load(); }
  void reset() { value_.store(0); }

 private:
  SyncMode mode_;
  std::mutex mu_;
  std::atomic<uint64_t> value_{0};
};

// The counting runs inside on_open, on the connection's own thread. It is given up — nothing
// sent — when the client has left or the server is stopping (`stop`, may be null), checked every
// SharedCounter::kCheckEvery adds: nobody waits for work done for departed clients, and SIGTERM
// ends the server within milliseconds (issue 13).
class CounterService final : public StreamService {
 public:
  CounterService(SyncMode mode, uint64_t increments, bool quiet, const StopSource* stop = nullptr)
      : counter_(mode), increments_(increments), quiet_(quiet), stop_(stop) {}
  void on_open(Conn& c) override;
  void on_data(Conn&, std::string_view) override {}
  uint64_t abandoned() const { return abandoned_.load(); }

 private:
  SharedCounter counter_;
  uint64_t increments_;
  bool quiet_;
  const StopSource* stop_;
  std::atomic<uint64_t> abandoned_{0};
};

}  // namespace concur
