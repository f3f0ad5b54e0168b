#pragma once
// Where the collector stores its lines. The collector hands over whole lines only (each ends in
// "\n"), a batch per event-loop pass, each reading already parsed (Batch::for_each_reading); a
// sink must store a batch whole or not at all, so that the store never holds a torn or
// interleaved line. Other backends (SQLite: db_sink.hpp, MQTT: mqtt_sink.hpp) implement the same
// interface — one that must not block derives OffThreadSink (offthread_sink.hpp); the collector
// feeds every configured sink the same batches and keeps a separate backlog per sink, so a
// failing sink never stops the others. docs/design.md "How to add a sink" is the checklist.
//
// Thread contract: a sink is used by one thread (the collector's loop).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fd.hpp"
#include "iot/reading.hpp"

namespace concur::iot {

// One write pass: whole lines `<asctime>: <reading>\n`, per line the Unix time of receipt (the
// same instant as the line's asctime, with sub-second precision), and per line the reading as the
// collector parsed it — once, for every sink: a sink that needs the device and the fields (a
// database, a broker) reads them with for_each_reading() or next() instead of parsing again.
// The parse is kept as offsets into `text` (not views), so a Batch copies, appends and drops its
// oldest lines as plain data.
struct Batch {
  std::string text;
  std::vector<double> times;  // one per line

  // Whole lines received now (a sink's write_lines, used by tests and the dashboard's replay).
  static Batch stamped_now(std::string_view whole_lines);

  size_t lines() const { return times.size(); }
  bool empty() const { return times.empty(); }
  // A line of `reading` and its parse (whose views point into `reading`, as parse_reading's do).
  void add(std::string_view stamp, std::string_view reading, double unix_time, const ParsedReading& parsed);
  // A line whose reading is parsed here (tests; the collector has parsed it already).
  void add(std::string_view stamp, std::string_view reading, double unix_time);
  // A line kept as it is (without its '\n'), not a reading: next() skips it.
  void add_raw(std::string_view line, double unix_time);
  void append(const Batch& more);
  void clear();
  // Drops the oldest lines until the text holds at most `max_bytes`; returns how many.
  size_t drop_oldest(size_t max_bytes);
  // Calls f(reading, unix_time) for every line, `reading` without the stamp and the newline.
  template <typename F>
  void for_each(F&& f) const {
    size_t start = 0;
    for (double t : times) {
      size_t nl = text.find('\n', start);
      std::string_view line(text.data() + start, nl - start);
      size_t sep = line.find(": ");  // asctime has no ": "
      f(line.substr(sep + 2), t);
      start = nl + 1;
    }
  }

  // Where next() is; a default Cursor is the first line.
  struct Cursor {
    size_t line = 0, offset = 0, field = 0;
  };
  // The reading at `at` and its time, then `at` moves past it; false at the end. `r`'s views point
  // into text (valid while the batch is unchanged); reuse one `r` to keep its fields' storage.
  // A line that is not a valid reading (only text lines can hold one) is skipped.
  bool next(Cursor& at, ParsedReading& r, double& unix_time) const;
  // Calls f(const ParsedReading&, unix_time) for every valid reading.
  template <typename F>
  void for_each_reading(F&& f) const {
    Cursor at;
    ParsedReading r;
    double t = 0;
    while (next(at, r, t)) f(static_cast<const ParsedReading&>(r), t);
  }

 private:
  // Per line: where its reading starts in the line, its name's length, how many fields it has.
  struct LineAt {
    uint16_t reading, name_len, fields;  // readings are at most kMaxReading bytes
  };
  struct FieldAt {
    uint16_t key, key_len;  // from the reading's start
    int64_t value;
  };
  std::vector<LineAt> parsed_;   // one per line while indexed_
  std::vector<FieldAt> fields_;  // every line's fields, in order
  bool indexed_ = true;  // false: some line came without a parse; next() parses the text then
  void drop_index();
};

// Where a sink is in data.txt (its cursor, issue 21): `offset` is just past the last line it took
// (0: none yet), in the file whose first line gives `file_id` (log_cursor.hpp; empty while the
// file had no line).
struct LogPosition {
  std::string file_id;
  uint64_t offset = 0;
};

class ReadingSink {
 public:
  virtual ~ReadingSink() = default;
  // Stores a pass's batch whole or not at all; 0 or an errno value, as write_lines. Sinks that
  // need the readings themselves (a database) override it; text sinks take the lines.
  virtual int write_batch(const Batch& batch) { return write_lines(batch.text); }
  // Shortest time between two writes: the lines of the passes in between are gathered and written
  // as one batch (group commit). 0: every pass. A database or a broker pays a fixed cost per write
  // (a transaction, a wake-up) that would otherwise dominate at thousands of small passes a second.
  virtual std::chrono::milliseconds write_interval() const { return std::chrono::milliseconds(0); }
  // Says what an error returned by write_batch means ("disk I/O error" from SQLite...).
  virtual std::string describe(int err) const;
  // Stores `whole_lines` (one or more lines, each ending in '\n'). Returns 0 when stored, or an
  // errno value when nothing was stored (the caller keeps the lines and retries later).
  virtual int write_lines(std::string_view whole_lines) = 0;
  // Makes what was stored so far durable (the collector calls it about once a second).
  virtual void sync() {}
  // What the sink writes to, for messages ("data.txt").
  virtual const std::string& name() const = 0;
  // What kind of store it is, as a metric label ("file", "sqlite", "mqtt", "web"): a fixed word,
  // unlike name().
  virtual const char* kind() const { return "other"; }

  // ---- A sink that follows data.txt (issue 21; docs/design.md "How to add a sink") ----
  // Such a sink keeps a cursor, stored where it is atomic with its own data. The collector hands
  // it only lines data.txt holds, with their position (write_at), and when the sink falls behind
  // (fails, or is full) it drops them from memory: the sink catches up by the collector reading
  // data.txt from the cursor (log_cursor.hpp). Memory stays bounded; nothing is lost.
  virtual bool follows_log() const { return false; }
  // The cursor stored by an earlier run (called once, before the first write_at); nullopt: none.
  virtual std::optional<LogPosition> stored_position() { return std::nullopt; }
  // Stores `batch` — the lines of data.txt that end at `at.offset` — and the cursor `at` with it,
  // whole or not at all: 0, or an errno value as write_batch; EAGAIN: no room now (not an error:
  // the lines are offered again later, from data.txt).
  virtual int write_at(const Batch& batch, const LogPosition& at) {
    (void)at;
    return write_batch(batch);
  }
  // Whether write_at would take more now; false: the collector does not read data.txt for it
  // until a later pass (a queue in front of a broker that is down is full).
  virtual bool has_room() const { return true; }
  // For a sink whose write_at only queues (a broker's acknowledgement comes later): the cursor as
  // it was last made durable — what a restart after a kill -9 would resume from. A rotated part of
  // data.txt it names is not removed. nullopt: what write_at took is durable (SQLite); a position
  // with no file_id: nothing since it started is durable yet.
  virtual std::optional<LogPosition> durable_position() const { return std::nullopt; }
};

// Appends to a text file (O_APPEND), one write() per batch.
// - open: creates the file (0644); if its last byte is not '\n' (a crash or a full disk tore the
//   last line), cuts the file back to its last newline, so no malformed line stays (SPEC §3,
//   RELIABILITY #29; Redis's aof-load-truncated).
// - a short write is continued; if the rest fails (disk full, file too large), the partial batch
//   is undone with ftruncate to the size before it (tracked, not asked for with lseek on every
//   pass: the sink is the file's only writer), so a failed batch leaves no partial line behind.
// - with `fsync`, every batch is fsync()ed before write_lines returns; without it, sync() does it
//   (the collector calls that about once a second, redis's "everysec": a power cut loses at most
//   about a second of readings; a crash of the collector alone loses nothing written).
class FileSink final : public ReadingSink {
 public:
  // Throws SysError "cannot open <path>: <reason>".
  FileSink(std::string path, bool fsync);
  int write_lines(std::string_view whole_lines) override;
  const std::string& name() const override { return path_; }
  const char* kind() const override { return "file"; }
  void sync() override;
  // Bytes of a torn last line that open() cut off (0: the file ended with a newline).
  uint64_t dropped_on_open() const { return dropped_; }
  // The file's size as this sink knows it (0 for a pipe or a device).
  off_t size() const { return size_; }
  bool regular() const { return regular_; }  // a regular file (not a pipe or a device)
  // fsync() failures so far (the lines were written, their durability is not certain).
  unsigned long sync_errors() const { return sync_errors_; }
  // After a rotation renamed the file away (log_rotation.hpp): fsyncs the old file, then writes to
  // a new one at the same path. 0, or an errno value (the old descriptor stays in use then).
  int reopen();

 private:
  std::string path_;
  bool fsync_;
  bool regular_ = false;
  uint64_t dropped_ = 0;
  off_t size_ = 0;
  unsigned long sync_errors_ = 0;
  FileDesc fd_;
};

}  // namespace concur::iot
