#include "iot/collector.hpp"

#include <sys/socket.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <thread>

#include "core/error.hpp"
#include "core/fd.hpp"
#include "core/fd_limit.hpp"
#include "core/log.hpp"
#include "core/log_limiter.hpp"
#include "core/socket.hpp"
#include "core/sys.hpp"
#include "iot/backoff.hpp"
#include "iot/collector_metrics.hpp"
#include "iot/line_assembler.hpp"
#include "iot/log_cursor.hpp"
#include "iot/log_rotation.hpp"
#include "iot/reading.hpp"
#include "loop/event_loop.hpp"

namespace concur::iot {

namespace {

using Clock = EventLoop::Clock;
constexpr Millis kBatchGap{10};
constexpr Millis kExitDrain{2000};  // how long the last backlogs are retried at the end
constexpr size_t kCatchUpChunk = 256u << 10;  // bytes of data.txt a lagging sink takes per write
constexpr Millis kCatchUpBudget{20};          // per loop pass: the devices and data.txt come first
constexpr Millis kLagReportEvery{60000};
constexpr Millis kRotateRetry{60000};  // after a rotation failed (a read-only directory)


}  // namespace

struct Collector::Impl {
  struct Target {
    Target(Impl* o, int i, const Endpoint& e, Backoff b)
        : owner(o), index(i), ep(e), label(e.to_string()), backoff(std::move(b)) {}
    Impl* owner;  // the watch's context is the target: these lead back to the collector
    int index;
    Endpoint ep;
    std::string label;  // "127.0.0.1:7001"
    FileDesc fd;
    enum class State { idle, connecting, connected } state = State::idle;
    LineAssembler lines{kMaxReading};
    Backoff backoff;
    Clock::time_point last_rx{};
    // The one pending timer of this device: connect timeout, reconnect delay or offline check.
    EventLoop::TimerId timer = TimerQueue::kNoTimer;
    uint64_t stored = 0;  // readings accepted from this device
    bool down = false;    // a failure was logged and no reading came since
    Clock::time_point last_reading{};  // for the gap reported when readings resume
    bool ever_registered = false;
    std::string name;  // the device name of this connection's first reading (issue 13 item 5)
    // Reports a device can trigger at will are rate-limited (issue 13 item 3); the limiters are
    // made at the device's first report (most devices never need them).
    struct Reports {
      LogLimiter malformed, misnamed;
    };
    std::unique_ptr<Reports> reports;
    bool noisy = false;  // in Impl::noisy: a limiter holds suppressed reports
  };

  // A sink and what the collector keeps for it while it fails: each sink has its own backlog and
  // retry time, so a failing sink never holds up the others.
  struct Slot {
    ReadingSink* sink;
    Batch backlog;  // whole lines the sink refused so far
    Clock::time_point retry_at{};
    int error = 0;
    bool unsynced = false;  // lines stored since the last sync()
    SinkStats* stats;
    std::shared_ptr<SinkSeries> metrics;  // set in Impl's constructor
    // A sink that follows data.txt: `backlog` holds the lines [taken, taken + its size) while
    // the sink keeps up; from_file: it fell behind and reads data.txt from `taken`.
    // `gen`: the part of data.txt `taken` is in (gen_now: data.txt itself; lower: a rotated part).
    bool follows = false;
    int64_t gen = 0;
    int64_t resume_gen = 0;  // where it started this run
    uint64_t taken = 0;
    bool from_file = false;
    uint64_t lag_lines = 0;
    bool said_catching_up = false;
  };

  Impl(CollectOptions o, std::vector<ReadingSink*> s, const StopSource& st, std::function<double()> u01,
       CollectStats& stats)
      : opts(std::move(o)), stop(st), stats(stats) {
    stats.sinks.resize(s.size());
    for (size_t k = 0; k < s.size(); ++k) {
      stats.sinks[k].sink = s[k];
      stats.sinks[k].name = s[k]->name();
      slots.push_back(Slot{s[k], {}, {}, 0, false, &stats.sinks[k], nullptr, false, 0, 0, 0, false, 0, false});
      slots.back().metrics = std::make_shared<SinkSeries>(sink_series(*s[k]));
    }
    collector_series().devices.set(static_cast<int64_t>(opts.devices.size()));
    if (!u01) u01 = Backoff::seeded_uniform01();
    targets.reserve(opts.devices.size());  // never grows again: watches point at the targets
    for (const Endpoint& ep : opts.devices) {
      targets.emplace_back(this, static_cast<int>(targets.size()), ep,
                           Backoff(opts.backoff_initial, opts.backoff_cap, 0.2, u01));
    }
  }

  CollectOptions opts;
  std::vector<Slot> slots;
  const StopSource& stop;
  CollectStats& stats;
  // Made in run(), so that the thread running the collector is the loop's thread.
  std::unique_ptr<EventLoop> loop;
  std::vector<Target> targets;
  Clock::time_point now = Clock::now();  // of this loop pass

  // A pass is one loop iteration's callbacks: the first one starts it (the time, the stamp) and
  // queues end_pass(), which the loop runs after the callbacks, before it waits again.
  bool in_pass = false;
  Batch batch;  // whole lines gathered in this loop pass
  Clock::time_point next_sync{};
  // Wakes the loop when nothing else would: a failing sink's retry, a sink's write interval, the
  // once-a-second sync and summaries (the old loop's 1 s wait cap, now only while needed).
  EventLoop::TimerId tick = TimerQueue::kNoTimer;
  Clock::time_point tick_due{};

  uint64_t accepted = 0;  // readings accepted (for --count)
  size_t targets_done = 0;
  bool done = false;

  // data.txt as the log of the sinks that follow it: the first sink, when a regular file.
  FileSink* log_sink = nullptr;
  std::unique_ptr<LogReader> reader;
  std::string log_id;    // its first line's id (empty while it has none)
  uint64_t log_end = 0;  // its size after the last write
  Clock::time_point next_lag_report{};
  Clock::time_point next_lag_gauges{};
  // Rotation (--out-max-size): data.txt is generation gen_now; data.txt.k is generation
  // gen_now - k. `parts`: the rotated parts a following sink has not finished, oldest first, each
  // read through a descriptor opened before it was renamed (or found by its id at start).
  struct Part {
    int64_t gen;
    std::string id;
    uint64_t size;
    std::unique_ptr<LogReader> reader;
  };
  std::deque<Part> parts;
  int64_t gen_now = 0;
  Clock::time_point rotate_retry{};
  bool names_known = true;  // false after a rotation failed half-way: no part is removed by name
  Clock::time_point next_holding_report{};  // "keeping data.txt.N …": at most once a minute
  bool holding = false;                     // parts past --out-keep are kept for a sink
  Clock::time_point next_prune{};           // while holding: looked at again once a second

  std::vector<int> noisy;  // targets whose suppressed reports are still to be summarised
  Clock::time_point next_summary{};

  std::time_t stamp_second = -1;
  std::string stamp;  // asctime of this loop pass, cached per second
  double unix_now = 0;  // the same instant as Unix seconds, for sinks that store time as a number
  double stamp_unix = 0;

  void refresh_stamp() {
    auto wall = std::chrono::system_clock::now();
    std::time_t sec = std::chrono::system_clock::to_time_t(wall);
    if (sec != stamp_second) {
      stamp_second = sec;
      stamp = asctime_of(wall);
      // The second of the stamp, as a line read back from data.txt gets it (log_cursor.hpp): a
      // sink sees the same time for a reading whether it came from memory or from the file.
      stamp_unix = stamp_seconds(stamp);
      if (stamp_unix < 0) stamp_unix = static_cast<double>(sec);
    }
    unix_now = stamp_unix;
  }

  void start_connect(int i) {
    Target& t = targets[static_cast<size_t>(i)];
    try {
      t.fd = tcp_connect_start(t.ep);
    } catch (const SysError& e) {
      return fail(i, errno_text(e.code()));  // names the open-files limit on EMFILE
    }
    std::string why;
    if (!loop->watch(t.fd.get(), false, true, &ready_fn, &t, &why)) return fail(i, why);
    t.state = Target::State::connecting;
    arm(t, now + opts.offline_after);  // connect timeout
  }

  static void ready_fn(void* ctx, const Ready& r) {
    auto* t = static_cast<Target*>(ctx);
    t->owner->on_ready(t->index, r);
  }

  void on_ready(int i, const Ready& r) {
    if (done) return;  // the limit was reached in this pass: leave the rest unread
    begin_pass();
    Target& t = targets[static_cast<size_t>(i)];
    if (t.state == Target::State::connecting) {
      if (r.out || r.err) on_connected(i);
    } else if (t.state == Target::State::connected && (r.in || r.err)) {
      on_readable(i);
    }
  }

  // The device's one timer, replacing whatever it had pending.
  void arm(Target& t, Clock::time_point due) {
    if (t.timer != TimerQueue::kNoTimer) loop->cancel_timer(t.timer);
    t.timer = loop->run_at(due, [this, i = t.index] { on_timer(i); });
  }

  void close_target(Target& t) {
    if (t.state == Target::State::connected) collector_series().online.sub();
    if (t.fd) {
      loop->unwatch(t.fd.get());
      t.fd.reset();
    }
    if (t.timer != TimerQueue::kNoTimer) loop->cancel_timer(t.timer);
    t.timer = TimerQueue::kNoTimer;
    t.state = Target::State::idle;
    t.lines.reset();
    t.name.clear();  // a new connection may be a different device
  }

  void fail(int i, const std::string& reason) {
    Target& t = targets[static_cast<size_t>(i)];
    close_target(t);
    Millis delay = t.backoff.next();
    if (!t.down) errf("concur: {}: {}; retrying in {:.1f} s (backoff up to {:.0f} s)", t.label, reason, seconds_of(delay),
                      seconds_of(opts.backoff_cap));
    t.down = true;
    ++stats.reconnects;
    collector_series().reconnects.add();
    arm(t, now + delay);
  }

  void on_connected(int i) {
    Target& t = targets[static_cast<size_t>(i)];
    if (int err = socket_error(t.fd.get())) return fail(i, std::strerror(err));
    ssize_t n = sys::send(t.fd.get(), kRegister.data(), kRegister.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n != static_cast<ssize_t>(kRegister.size()))
      return fail(i, n < 0 ? std::string("cannot send Register: ") + std::strerror(errno) : "cannot send Register");
    loop->modify(t.fd.get(), true, false);
    t.state = Target::State::connected;
    collector_series().online.add();
    t.last_rx = now;
    arm(t, now + opts.offline_after);
    errf("concur: registered with {}{}", t.label, t.ever_registered ? " again" : "");
    t.ever_registered = true;
  }

  void on_readable(int i) {
    Target& t = targets[static_cast<size_t>(i)];
    char buf[65536];
    for (int round = 0; round < 4; ++round) {
      ssize_t n = sys::recv(t.fd.get(), buf, sizeof buf, 0);
      if (n > 0) {
        t.last_rx = now;
        t.lines.feed(
            std::string_view(buf, static_cast<size_t>(n)), [&](std::string_view line) { on_line(i, line); },
            [&](size_t) {
              ++stats.malformed;
              collector_series().malformed.add();
              if (admit(i, &Target::Reports::malformed, "malformed lines"))
                errf("concur: {}: reading longer than {} bytes not stored", t.label, kMaxReading);
            });
        if (static_cast<size_t>(n) < sizeof buf) return;
        continue;
      }
      if (n == 0) return fail(i, "closed the connection");
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return fail(i, std::strerror(errno));
    }
  }

  // Whether to log one report in full; first says what an ended window suppressed.
  bool admit(int i, LogLimiter Target::Reports::*which, std::string_view what) {
    Target& t = targets[static_cast<size_t>(i)];
    if (!t.reports) t.reports = std::make_unique<Target::Reports>();
    LogLimiter::Verdict v = (*t.reports.*which).admit(now);
    if (v.suppressed) summarise(t, what, v.suppressed, v.window_s);
    if (!v.log && !t.noisy) {
      t.noisy = true;
      noisy.push_back(i);
    }
    return v.log;
  }

  void summarise(const Target& t, std::string_view what, uint64_t n, double window_s) {
    errf("concur: {}: {} {} suppressed in the last {:.{}f} s", t.label, thousands(n), what, window_s,
         window_s < 9.95 ? 1 : 0);
  }

  // About once a second, and at exit: one summary line per window that suppressed reports.
  void summarise_noisy(bool force) {
    if (noisy.empty() || (!force && now < next_summary)) return;
    next_summary = now + Millis(1000);
    size_t keep = 0;
    for (int i : noisy) {
      Target& t = targets[static_cast<size_t>(i)];
      double window_s = 0;
      Target::Reports& r = *t.reports;  // a noisy device has them
      if (uint64_t n = r.malformed.take_suppressed(now, force, &window_s)) summarise(t, "malformed lines", n, window_s);
      if (uint64_t n = r.misnamed.take_suppressed(now, force, &window_s))
        summarise(t, "readings under another device's name", n, window_s);
      t.noisy = r.malformed.has_suppressed() || r.misnamed.has_suppressed();
      if (t.noisy) noisy[keep++] = i;
    }
    noisy.resize(keep);
  }

  void on_line(int i, std::string_view line) {
    Target& t = targets[static_cast<size_t>(i)];
    std::string why;
    auto reading = parse_reading(line, &why);
    if (!reading) {
      ++stats.malformed;
      collector_series().malformed.add();
      if (admit(i, &Target::Reports::malformed, "malformed lines"))
        errf("concur: {}: malformed reading not stored ({}): {}", t.label, why, log_excerpt(line));
      return;
    }
    // A connection speaks for one device: the name of its first reading. A line under another
    // name (a device, or whatever sits at its address, writing for someone else) is not stored.
    if (t.name.empty()) {
      t.name.assign(reading->name);
    } else if (reading->name != t.name) {
      ++stats.misnamed;
      collector_series().misnamed.add();
      if (admit(i, &Target::Reports::misnamed, "readings under another device's name"))
        errf("concur: {}: reading under another device's name not stored (this connection is {}): {}", t.label,
             t.name, log_excerpt(line));
      return;
    }
    if (t.down) {
      t.down = false;
      if (t.last_reading != Clock::time_point{})
        errf("concur: {}: collecting again (no reading for {:.1f} s)", t.label,
             seconds_of(std::chrono::duration_cast<Millis>(now - t.last_reading)));
      else
        errf("concur: {}: collecting", t.label);
    }
    t.last_reading = now;
    t.backoff.reset();
    if (opts.count && accepted >= opts.count) return;
    batch.add(stamp, line, unix_now, *reading);  // the parse goes with it: no sink parses again
    ++accepted;
    collector_series().readings.add();
    ++t.stored;
    if (opts.per_device && t.stored == opts.per_device) ++targets_done;
    if (opts.count && accepted >= opts.count) done = true;
    if (opts.per_device && targets_done == targets.size()) done = true;
    if (batch.text.size() >= (1u << 20)) commit(false);  // keep a pass's batch bounded
  }

  void on_timer(int i) {
    Target& t = targets[static_cast<size_t>(i)];
    t.timer = TimerQueue::kNoTimer;
    now = Clock::now();  // timers fire after the pass's descriptors: a little later than `now`
    switch (t.state) {
      case Target::State::idle: return start_connect(i);
      case Target::State::connecting: return fail(i, "connect timed out");
      case Target::State::connected:
        if (now - t.last_rx >= opts.offline_after) {
          errf("concur: {}: offline (no reading for {:.1f} s); replacing the connection", t.label,
               seconds_of(std::chrono::duration_cast<Millis>(now - t.last_rx)));
          t.down = true;  // fail() then stays quiet; "collecting again" ends it
          return fail(i, "offline");
        }
        arm(t, t.last_rx + opts.offline_after);
        return;
    }
  }

  // Hands the pass's lines to every sink (one write each), or keeps them for a sink that fails.
  void commit(bool force) {
    if (!batch.empty() && !opts.quiet) out_lines(batch.text);
    for (Slot& slot : slots) {
      if (slot.follows) commit_follower(slot, force, force ? kExitDrain : kCatchUpBudget);
      else commit_to(slot, force);
    }
    batch.clear();
  }

  // `retry_at` is when the sink may be written next: after a failure (retry_every), or for a sink
  // with a write interval (a database, a broker) after each write — its lines gather meanwhile.
  void commit_to(Slot& slot, bool force) {
    bool due = force || now >= slot.retry_at;
    if (!slot.backlog.empty() || !due) {
      slot.backlog.append(batch);
      if (!due) return trim_backlog(slot);
    }
    const Batch& data = slot.backlog.empty() ? batch : slot.backlog;
    if (data.empty()) return;
    auto started = Clock::now();
    int err = slot.sink->write_batch(data);
    SinkSeries& m = *slot.metrics;
    m.write_seconds.observe(std::chrono::duration<double>(Clock::now() - started).count());
    if (err == 0) {
      if (reader && &slot == &slots.front()) feed_followers(data);
      slot.stats->stored += data.lines();
      m.written.add(data.lines());
      if (m.ready) m.ready->ready();
      slot.unsynced = true;
      slot.backlog.clear();
      if (slot.error) errf("concur: writing to {} works again", slot.sink->name());
      slot.error = 0;
      if (slot.sink->write_interval().count() > 0) slot.retry_at = now + slot.sink->write_interval();
      return;
    }
    if (slot.error != err)
      errf("concur: cannot write {}: {}; readings are kept in memory and the write is retried", slot.sink->name(),
           slot.sink->describe(err));
    slot.error = err;
    m.errors.add();
    if (m.ready) m.ready->not_ready("cannot write: " + slot.sink->describe(err));
    slot.retry_at = now + opts.retry_every;
    if (&data == &batch) slot.backlog = batch;
    trim_backlog(slot);
  }

  // ---- sinks that follow data.txt ----

  // At start: data.txt as the log when some sink follows it or it rotates; each following sink
  // resumes from its stored cursor, checked against data.txt or the rotated part it names.
  void setup_log() {
    bool any = false;
    for (size_t k = 1; k < slots.size(); ++k) any = any || slots[k].sink->follows_log();
    if (!any && opts.out_max_size == 0) return;
    auto* file = dynamic_cast<FileSink*>(slots.front().sink);
    if (!file || !file->regular()) {
      if (any)
        errf("concur: {} is not a regular file: the other sinks get the readings from memory only, without a cursor",
             slots.front().sink->name());
      if (opts.out_max_size)
        errf("concur: {} is not a regular file: --out-max-size does not rotate it", slots.front().sink->name());
      return;
    }
    log_sink = file;
    log_end = static_cast<uint64_t>(file->size());
    if (any) setup_followers();
    prune();
  }

  void setup_followers() {
    reader = std::make_unique<LogReader>(log_sink->name());  // throws "cannot open data.txt: ..."
    log_id = reader->file_id();
    unsigned oldest = 0;  // the highest k of a data.txt.k some sink resumes in
    for (size_t k = 1; k < slots.size(); ++k) {
      Slot& slot = slots[k];
      if (!slot.sink->follows_log()) continue;
      std::optional<LogPosition> stored = slot.sink->stored_position();
      unsigned in_part = 0;
      Resume r;
      if (stored && stored->offset != 0 && stored->file_id != log_id) in_part = find_part(stored->file_id);
      if (in_part) {  // its cursor is in data.txt.k: it reads the rest of that part, then the newer ones
        LogReader part(rotated_path(log_sink->name(), in_part));
        r = resume_from(stored, part, static_cast<uint64_t>(std::max<off_t>(part.size(), 0)), stored->file_id, false,
                        slot.sink->name());
        oldest = std::max(oldest, in_part);
      } else {
        r = resume_from(stored, *reader, log_end, log_id, opts.backfill, slot.sink->name());
      }
      if (!r.note.empty()) errf("{}", r.note);
      slot.follows = true;
      slot.stats->follows = true;
      slot.gen = slot.resume_gen = gen_now - in_part;
      slot.taken = r.offset;
    }
    // The rotated parts some sink still has to read, oldest first.
    std::vector<unsigned> have = rotated_indexes(log_sink->name());
    for (auto k = have.rbegin(); k != have.rend(); ++k) {
      if (*k > oldest) continue;
      auto part = std::make_unique<LogReader>(rotated_path(log_sink->name(), *k));
      uint64_t size = static_cast<uint64_t>(std::max<off_t>(part->size(), 0));
      std::string id = part->file_id();
      parts.push_back(Part{gen_now - static_cast<int64_t>(*k), std::move(id), size, std::move(part)});
    }
    for (Slot& slot : slots) {
      if (!slot.follows) continue;
      slot.lag_lines = 0;
      for (const Part& p : parts)
        if (p.gen >= slot.gen) slot.lag_lines += p.reader->count_lines(p.gen == slot.gen ? slot.taken : 0, p.size);
      slot.lag_lines += reader->count_lines(slot.gen == gen_now ? slot.taken : 0, log_end);
      slot.from_file = behind(slot);
      if (slot.from_file) {
        std::string where = slot.gen == gen_now ? log_sink->name() : rotated_path(log_sink->name(), static_cast<unsigned>(gen_now - slot.gen));
        errf("concur: {}: catching up from byte {} of {} ({} readings, {} bytes behind)", slot.sink->name(), slot.taken,
             where, thousands(slot.lag_lines), thousands(lag_bytes(slot)));
        slot.said_catching_up = true;
      }
    }
  }

  // The k of the rotated part data.txt.k whose first line gives `id`; 0 when none does.
  unsigned find_part(const std::string& id) const {
    for (unsigned k : rotated_indexes(log_sink->name())) {
      try {
        if (LogReader(rotated_path(log_sink->name(), k)).file_id() == id) return k;
      } catch (const SysError&) {
        // unreadable: not the part
      }
    }
    return 0;
  }

  // The part's reader, opened again if it was closed: by its name when the numbers still say the
  // generations, else (or when that file is another) by its first-line id; nullptr when gone.
  LogReader* open_part(Part& p) {
    if (p.reader) return p.reader.get();
    auto try_open = [&](unsigned k) -> std::unique_ptr<LogReader> {
      try {
        auto r = std::make_unique<LogReader>(rotated_path(log_sink->name(), k));
        if (r->file_id() == p.id) return r;
      } catch (const SysError&) {
        // not there: looked for by id below
      }
      return nullptr;
    };
    if (names_known) p.reader = try_open(static_cast<unsigned>(gen_now - p.gen));
    if (!p.reader)
      if (unsigned k = find_part(p.id)) p.reader = try_open(k);
    return p.reader.get();
  }

  // A part keeps a descriptor open only while some sink reads it: a sink down for long behind a
  // small --out-max-size holds many parts on disk, not as many descriptors.
  void close_idle_parts() {
    for (Part& p : parts) {
      bool read = false;
      for (const Slot& f : slots) read = read || (f.follows && f.gen == p.gen);
      if (!read) p.reader.reset();
    }
  }

  Part* part_of(int64_t gen) {
    for (Part& p : parts)
      if (p.gen == gen) return &p;
    return nullptr;
  }

  // The generation of the part a following sink's durable cursor is in (durable_position: for
  // MQTT, what the broker acknowledged); its `gen` when that is what it took, or unknown.
  int64_t durable_gen(const Slot& slot) const {
    std::optional<LogPosition> at = slot.sink->durable_position();
    if (!at) return slot.gen;
    if (at->file_id.empty()) return slot.resume_gen;  // nothing durable since it started
    if (at->file_id == log_id) return gen_now;
    for (const Part& p : parts)
      if (p.id == at->file_id) return p.gen;
    return slot.resume_gen;  // not a part this run knows: keep all since it started
  }

  // Whether a following sink has not taken all of data.txt (and its rotated parts).
  bool behind(const Slot& slot) const { return slot.gen < gen_now || slot.taken < log_end; }

  uint64_t lag_bytes(const Slot& slot) const {
    if (slot.gen == gen_now) return log_end - std::min(log_end, slot.taken);
    uint64_t bytes = log_end;
    for (const Part& p : parts)
      if (p.gen >= slot.gen) bytes += p.size - (p.gen == slot.gen ? std::min(p.size, slot.taken) : 0);
    return bytes;
  }

  // data.txt took `data` (its last bytes now): the following sinks have it in memory while they
  // keep up and that stays bounded; else they read it from the file later.
  void feed_followers(const Batch& data) {
    log_end = static_cast<uint64_t>(log_sink->size());
    if (log_id.empty()) log_id = reader->file_id();
    uint64_t begin = log_end - data.text.size();
    for (Slot& f : slots) {
      if (!f.follows) continue;
      f.lag_lines += data.lines();
      if (!f.from_file && f.gen == gen_now && f.taken + f.backlog.text.size() == begin &&
          f.backlog.text.size() + data.text.size() <= opts.max_backlog) {
        f.backlog.append(data);
      } else {
        f.backlog.clear();
        f.from_file = true;
      }
    }
  }

  void commit_follower(Slot& slot, bool force, Clock::duration budget) {
    if (!force && now < slot.retry_at) return;
    if (slot.from_file) return catch_up(slot, budget);
    if (slot.backlog.empty()) return;
    int err = write_follower(slot, slot.backlog, log_id, slot.taken + slot.backlog.text.size());
    if (err == 0) return slot.backlog.clear();
    // It fails, or has no room (EAGAIN: a queue in front of a broker that is down): it catches up
    // from data.txt later, nothing waits in memory meanwhile.
    slot.backlog.clear();
    slot.from_file = true;
  }

  // Reads data.txt (first what it has not taken of the rotated parts) from the sink's cursor, a
  // chunk a write, for about `budget`.
  void catch_up(Slot& slot, Clock::duration budget) {
    auto until = Clock::now() + budget;
    Batch chunk;
    while (behind(slot)) {
      if (!slot.sink->has_room()) {  // full (a broker that is down): not read now, asked again soon
        slot.retry_at = now + std::max<Clock::duration>(slot.sink->write_interval(), Millis(50));
        return;
      }
      Part* part = slot.gen < gen_now ? part_of(slot.gen) : nullptr;
      if (slot.gen < gen_now && (!part || slot.taken >= part->size)) {
        next_part(slot);  // that part is done: the next newer one from its beginning
        continue;
      }
      LogReader* from = part ? open_part(*part) : reader.get();
      if (!from) {  // removed or replaced behind our back: nothing to read it from
        errf("concur: {}: the rotated part {} is gone: its {} bytes not yet taken are lost", slot.sink->name(), part->id,
             thousands(part->size - std::min(part->size, slot.taken)));
        next_part(slot);
        continue;
      }
      chunk.clear();
      uint64_t end = from->read(slot.taken, part ? part->size : log_end, kCatchUpChunk, chunk);
      if (end == slot.taken) break;  // a read error: tried again at the next retry
      if (write_follower(slot, chunk, part ? part->id : log_id, end) != 0) return;
      slot.retry_at = now;  // more at the next pass
      if (Clock::now() >= until) break;
    }
    if (behind(slot)) return;
    slot.from_file = false;
    slot.backlog.clear();
    if (slot.sink->write_interval().count() > 0) slot.retry_at = now + slot.sink->write_interval();
    if (slot.said_catching_up) errf("concur: {}: caught up with {}", slot.sink->name(), log_sink->name());
    slot.said_catching_up = false;
  }

  // A sink finished a rotated part: it goes on at the beginning of the next one, and a part no
  // sink reads any more is closed (and removed, past --out-keep).
  void next_part(Slot& slot) {
    ++slot.gen;
    while (slot.gen < gen_now && !part_of(slot.gen)) ++slot.gen;
    slot.taken = 0;
    prune();
  }

  // One write of lines of the part `id` of data.txt that end at `end`; 0 or the sink's errno.
  int write_follower(Slot& slot, const Batch& data, const std::string& id, uint64_t end) {
    auto started = Clock::now();
    int err = slot.sink->write_at(data, LogPosition{id, end});
    SinkSeries& m = *slot.metrics;
    m.write_seconds.observe(std::chrono::duration<double>(Clock::now() - started).count());
    if (err == 0) {
      slot.stats->stored += data.lines();
      m.written.add(data.lines());
      if (m.ready) m.ready->ready();
      slot.unsynced = true;
      slot.taken = end;
      slot.lag_lines -= std::min<uint64_t>(slot.lag_lines, data.lines());
      if (slot.error) errf("concur: writing to {} works again", slot.sink->name());
      slot.error = 0;
      if (slot.sink->write_interval().count() > 0) slot.retry_at = now + slot.sink->write_interval();
      return 0;
    }
    if (err == EAGAIN) {  // no room now (a queue in front of a broker that is down): not an error
      slot.retry_at = now + std::max<Clock::duration>(slot.sink->write_interval(), Millis(50));
      return err;
    }
    if (slot.error != err) {
      errf("concur: cannot write {}: {}; the write is retried and catches up from {}", slot.sink->name(),
           slot.sink->describe(err), log_sink->name());
      slot.said_catching_up = true;
    }
    slot.error = err;
    m.errors.add();
    if (m.ready) m.ready->not_ready("cannot write: " + slot.sink->describe(err));
    slot.retry_at = now + opts.retry_every;
    return err;
  }

  // The lag of each following sink as metrics; in the log once a minute while it is behind (it
  // fell back to reading data.txt, or it fails), not while it only waits for its write interval.
  void report_lag() {
    bool report = now >= next_lag_report;
    // The gauges once a second: lag_bytes walks the parts a sink is behind by.
    if (!report && now < next_lag_gauges) return;
    next_lag_gauges = now + Millis(1000);
    bool said = false;
    for (Slot& slot : slots) {
      if (!slot.follows) continue;
      uint64_t bytes = lag_bytes(slot);
      slot.metrics->lag_readings.set(static_cast<int64_t>(slot.lag_lines));
      slot.metrics->lag_bytes.set(static_cast<int64_t>(bytes));
      if (report && bytes && (slot.from_file || slot.error)) {
        errf("concur: {} is {} readings ({} bytes) behind {}", slot.sink->name(), thousands(slot.lag_lines),
             thousands(bytes), log_sink->name());
        said = true;
      }
    }
    if (report) next_lag_report = now + (said ? kLagReportEvery : Millis(1000));
  }

  // ---- rotation (--out-max-size, log_rotation.hpp) ----

  // After a pass: data.txt past --out-max-size becomes data.txt.1 and a new data.txt is begun, at
  // once (data.txt is never held up). A sink that had not taken all of it reads the rest from the
  // part, through the descriptor opened before the rename.
  void maybe_rotate() {
    if (!opts.out_max_size || !log_sink || now < rotate_retry) return;
    uint64_t size = static_cast<uint64_t>(log_sink->size());
    if (size < opts.out_max_size) return;
    const std::string& path = log_sink->name();
    if (int err = rotate_files(path)) {
      // Some parts may have been renamed: their numbers no longer say their generation.
      names_known = false;
      errf("concur: cannot rotate {} ({} bytes, --out-max-size {}): {}; it keeps growing, tried again in a minute{}", path,
           thousands(size), thousands(opts.out_max_size), std::strerror(err),
           "; rotated parts are not removed until the next start");
      rotate_retry = now + kRotateRetry;
      return;
    }
    if (int err = log_sink->reopen()) {
      std::rename(rotated_path(path, 1).c_str(), path.c_str());  // data.txt stays the file written
      names_known = false;
      errf("concur: cannot begin a new {} after rotating it: {}; it keeps growing, tried again in a minute", path,
           std::strerror(err));
      rotate_retry = now + kRotateRetry;
      return;
    }
    int64_t old = gen_now++;
    if (reader) {
      parts.push_back(Part{old, log_id, size, std::move(reader)});
      reader = std::make_unique<LogReader>(path);
      log_id.clear();
      log_end = 0;
      for (Slot& f : slots) {
        if (!f.follows || f.gen != old) continue;
        if (!f.from_file && f.backlog.empty() && f.taken == size) {  // it had all of it: on to the new file
          f.gen = gen_now;
          f.taken = 0;
        } else if (!f.from_file) {  // what it held in memory is read from data.txt.1 instead
          f.backlog.clear();
          f.from_file = true;
        }
      }
    }
    collector_series().rotations.add();
    errf("concur: rotated {} ({} bytes) to {}", path, thousands(size), rotated_path(path, 1));
    prune();
  }

  // Closes the rotated parts no sink reads any more and removes those past --out-keep that no
  // sink still needs; one that a sink needs is kept, and the log says which sink holds it.
  void prune() {
    next_prune = now + Millis(1000);
    int64_t oldest_needed = gen_now;
    const Slot* holder = nullptr;
    for (const Slot& f : slots) {
      if (!f.follows) continue;
      int64_t needs = std::min(f.gen, durable_gen(f));
      if (needs < oldest_needed) {
        oldest_needed = needs;
        holder = &f;
      }
    }
    while (!parts.empty() && parts.front().gen < oldest_needed) parts.pop_front();
    close_idle_parts();
    if (!opts.out_max_size || !log_sink || !names_known) return;
    const std::string& path = log_sink->name();
    std::vector<std::string> held;
    for (unsigned k : rotated_indexes(path)) {
      if (k <= opts.out_keep) continue;
      std::string name = rotated_path(path, k);
      if (gen_now - static_cast<int64_t>(k) >= oldest_needed) {
        held.push_back(name);
        continue;
      }
      if (::unlink(name.c_str()) == 0) errf("concur: removed {} (--out-keep {})", name, opts.out_keep);
      else errf("concur: cannot remove {}: {}", name, std::strerror(errno));
    }
    // Once a minute at most: a sink that commits once a second behind a small --out-max-size
    // holds a part back for a moment at every rotation.
    holding = !held.empty();
    if (held.empty() || !holder || now < next_holding_report) return;
    errf("concur: keeping {} past --out-keep {}: {} has not taken {} yet ({} readings, {} bytes behind)",
         held.size() == 1 ? held.front() : fmt::format("{} rotated parts", held.size()), opts.out_keep, holder->sink->name(),
         held.size() == 1 ? "it" : "them", thousands(holder->lag_lines), thousands(lag_bytes(*holder)));
    next_holding_report = now + kLagReportEvery;
  }

  void trim_backlog(Slot& slot) {
    size_t dropped = slot.backlog.drop_oldest(opts.max_backlog);
    if (!dropped) return;
    slot.stats->lost += dropped;
    slot.metrics->lost.add(dropped);
    errf("concur: backlog for {} is full: {} oldest readings dropped", slot.sink->name(), dropped);
  }

  void sync_due() {
    if (now < next_sync) return;
    bool any = false;
    for (Slot& slot : slots)
      if (slot.unsynced) {
        slot.sink->sync();
        slot.unsynced = false;
        any = true;
      }
    if (any) next_sync = now + Millis(1000);
  }

  void begin_pass() {
    if (in_pass) return;
    in_pass = true;
    now = Clock::now();
    refresh_stamp();
    loop->queue_in_loop([this] { end_pass(); });  // from the loop's own callback: no wake-up
  }

  // After the pass's callbacks: its lines to the sinks (one write each), then what is due.
  void end_pass() {
    in_pass = false;
    commit(false);
    maybe_rotate();
    if (holding && now >= next_prune) prune();  // a broker's acknowledgements free parts too
    if (reader) report_lag();
    summarise_noisy(false);
    sync_due();
    if (done) return loop->quit();
    arm_tick();
  }

  void arm_tick() {
    Clock::time_point due = Clock::time_point::max();
    if (!noisy.empty()) due = std::min(due, next_summary);
    for (const Slot& slot : slots) {
      if (!slot.backlog.empty() || slot.from_file) due = std::min(due, slot.retry_at);
      if (slot.unsynced) due = std::min(due, next_sync);
    }
    if (due == Clock::time_point::max()) return;
    if (tick != TimerQueue::kNoTimer) {
      if (tick_due <= due) return;  // an earlier tick is pending: it re-arms after itself
      loop->cancel_timer(tick);
    }
    tick_due = due;
    tick = loop->run_at(due, [this] {
      tick = TimerQueue::kNoTimer;
      begin_pass();
    });
  }

  // At the end (a limit reached, or a stop asked for), a sink that refused the last writes gets a
  // few more tries, every retry_every, for at most kExitDrain: a disk that was briefly full or a
  // database that was locked loses nothing. What is still unwritten then is counted as lost.
  void drain_backlogs() {
    auto until = Clock::now() + kExitDrain;
    auto waits = [&](const Slot& slot) { return slot.follows ? behind(slot) : !slot.backlog.empty(); };
    auto pending = [&] {
      for (const Slot& slot : slots)
        if (waits(slot)) return true;
      return false;
    };
    while (pending() && Clock::now() < until) {
      std::this_thread::sleep_for(std::min<Clock::duration>(opts.retry_every, until - Clock::now()));
      now = Clock::now();
      for (Slot& slot : slots) {
        if (!waits(slot)) continue;
        if (slot.follows) commit_follower(slot, true, until - Clock::now());
        else commit_to(slot, true);
      }
    }
  }

  int run() {
    loop = std::make_unique<EventLoop>(EventLoop::Backend::epoll);
    // Readings trickle in from thousands of devices: without batching each one costs a wait, a
    // wake-up and a write of its own (~3 syscalls and a context switch per reading). Gathering
    // what arrives within 10 ms costs them once per pass; a reading waits at most 10 ms.
    loop->set_batching(kBatchGap);
    setup_log();
    now = Clock::now();
    if (opts.duration.count() > 0) loop->run_at(now + opts.duration, [this] { loop->quit(); });
    for (size_t i = 0; i < targets.size(); ++i) start_connect(static_cast<int>(i));
    if (!done) loop->run(stop);
    now = Clock::now();
    commit(true);
    drain_backlogs();
    summarise_noisy(true);
    for (Slot& slot : slots)
      if (slot.unsynced) slot.sink->sync();
    for (Target& t : targets) close_target(t);
    for (Slot& slot : slots) {
      if (slot.follows) {  // nothing is lost: data.txt has it, and the next start resumes there
        slot.stats->position = slot.taken;
        slot.stats->lag_lines = slot.lag_lines;
        slot.stats->lag_bytes = lag_bytes(slot);
        if (slot.stats->lag_bytes)
          errf("concur: {} is {} readings ({} bytes) behind {}: the next start takes them from there", slot.sink->name(),
               thousands(slot.lag_lines), thousands(slot.stats->lag_bytes), log_sink->name());
        continue;
      }
      if (!slot.backlog.empty()) {
        slot.stats->lost += slot.backlog.lines();
        errf("concur: {} readings could not be written to {}: {}", slot.backlog.lines(), slot.sink->name(),
             slot.sink->describe(slot.error));
      }
      stats.lost += slot.stats->lost;
    }
    if (!slots.empty()) stats.stored = slots.front().stats->stored;
    return stats.lost ? 1 : 0;
  }
};

Collector::Collector(CollectOptions opts, ReadingSink& sink, const StopSource& stop, std::function<double()> uniform01)
    : Collector(std::move(opts), std::vector<ReadingSink*>{&sink}, stop, std::move(uniform01)) {}

Collector::Collector(CollectOptions opts, std::vector<ReadingSink*> sinks, const StopSource& stop,
                     std::function<double()> uniform01)
    : impl_(std::make_unique<Impl>(std::move(opts), std::move(sinks), stop, std::move(uniform01), stats_)) {}

Collector::~Collector() = default;

int Collector::run() { return impl_->run(); }

}  // namespace concur::iot
