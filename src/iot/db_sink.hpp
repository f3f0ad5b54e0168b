#pragma once
// `collect --db FILE` (SPEC §4): every reading in SQLite, one row per field, in
//
//   readings(time REAL, device TEXT, metric TEXT, value REAL)   -- time: Unix seconds of receipt
//   index readings_device_time ON readings(device, time)        -- per-device time ranges
//
// One transaction per write pass (a batch), so a reading is stored with all its fields or not
// at all. The database's write passes are group commits: the collector gathers its loop passes
// for up to a second (write_interval) and hands them over as one batch. WAL journal: readers
// (sqlite3 shell, `collect --web`) never block the collector and a kill -9 never corrupts the
// file — it loses at most the pass that had not committed (the last second; data.txt has them).
// synchronous=NORMAL, as data.txt's once-a-second fsync: a power cut may lose the last commits,
// a crash of the collector alone loses nothing committed; with `fsync` (--fsync), FULL.
// All SQLite access of the collector is in this file; a reader opens the same file itself.
//
// Following data.txt (issue 21, with a `log`): the database also holds, per data.txt (its path),
// the cursor — the offset just past the last line of data.txt whose rows are in — in
//
//   concur_cursor(log TEXT PRIMARY KEY, file_id TEXT, offset INTEGER)
//
// updated in the same transaction as the rows: after a kill -9 at any moment the database holds
// exactly the readings before its cursor, each once, and the next start resumes from there by
// reading data.txt. The rows of a transaction go in through multi-row prepared INSERTs, ordered
// by device (a stable sort: per device in time order, a reading's fields in their order).
//
// Cost (issue 21, bench/results/db_cost.md): with thousands of devices a commit dirties about one
// (device, time) index leaf per device, and that, not the rows, is most of the price. So the rows
// go in by device (each leaf once per commit, in index order), the page cache holds the pages a
// commit touches (2 a device seen in a batch, at most 16,384: ~9 KiB of RSS a device) and the WAL
// is checkpointed every 16,384 pages instead of 1,000 (a checkpoint copied every commit again).
// Measured (fleet_bench.sh, median of 3 interleaved rounds, CPU ms per 10k readings; data.txt
// alone 45.0 / 32.9): 2,000 devices at 1 Hz 130.0 -> 100.0 (a second run: 130.0 -> 113.3),
// 4,000 devices at 2 Hz 135.5 -> 90.1; peak RSS 13.6 -> 22.6 / 17.4 -> 54.7 MiB. Still 2.2-2.8x
// data.txt alone (goal 1.5x): the rest is the per-device index leaf of every commit, and it grows
// as the file ages (db_cost.md: what would remove it).
//
// Thread contract: one thread (the collector's loop).
#include <string>
#include <vector>

#include "iot/reading_sink.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace concur::iot {

// The schema, for readers and tests.
inline constexpr const char* kReadingsSchema =
    "CREATE TABLE IF NOT EXISTS readings(time REAL NOT NULL, device TEXT NOT NULL, metric TEXT NOT NULL, "
    "value REAL NOT NULL);"
    "CREATE INDEX IF NOT EXISTS readings_device_time ON readings(device, time);";
inline constexpr const char* kCursorSchema =
    "CREATE TABLE IF NOT EXISTS concur_cursor(log TEXT PRIMARY KEY, file_id TEXT NOT NULL, offset INTEGER NOT NULL);";

class DbSink final : public ReadingSink {
 public:
  // Opens or creates the database and its table; a second run appends. Throws std::runtime_error
  // "cannot open database FILE: <SQLite's reason>" (not a database, no such directory, locked).
  // With `log` (the path of data.txt, as the key of its cursor), the sink follows that log.
  DbSink(std::string path, bool fsync, std::string log = {});
  ~DbSink() override;
  DbSink(const DbSink&) = delete;
  DbSink& operator=(const DbSink&) = delete;

  // Inserts every field of every reading in one transaction; on failure rolls back and returns
  // an errno value (ENOSPC for SQLITE_FULL, EBUSY for a lock held by another writer, EIO else),
  // describe() then gives SQLite's message.
  int write_batch(const Batch& batch) override;
  int write_lines(std::string_view whole_lines) override;  // lines without times: stamped now
  std::string describe(int err) const override;
  // A transaction at most once a second (data.txt's fsync rhythm): with thousands of devices,
  // each commit writes one index page per device to the WAL (their insertion points in the
  // (device, time) index are all different), so fewer, larger commits cost far less per reading.
  // Measured (bench/iot/fleet_bench.sh, 8,000 readings/s): 119 -> 93 CPU ms per 10k readings
  // going from 100 ms to 1 s.
  std::chrono::milliseconds write_interval() const override { return std::chrono::milliseconds(1000); }
  const std::string& name() const override { return path_; }
  const char* kind() const override { return "sqlite"; }
  uint64_t rows() const { return rows_; }  // rows inserted by this sink

  bool follows_log() const override { return !log_.empty(); }
  std::optional<LogPosition> stored_position() override;
  // The rows of `batch` and the cursor `at`, in one transaction.
  int write_at(const Batch& batch, const LogPosition& at) override;

 private:
  bool exec(const char* sql);
  int fail(int rc);
  // The rows of `batch`, inside a transaction already begun: 0 or fail()'s errno.
  int insert_rows(const Batch& batch, uint64_t& added);
  int flush_rows(uint64_t& added);
  void set_cache_pages(int pages);  // grows PRAGMA cache_size (in pages) up to a bound, never shrinks

  std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* insert_many_ = nullptr;  // kDbRowsPerInsert rows a step
  sqlite3_stmt* set_cursor_ = nullptr;
  std::string log_;
  struct Row {
    double time;
    std::string_view device, metric;
    int64_t value;
  };
  std::vector<Row> rows_buf_;
  std::string last_error_;
  uint64_t rows_ = 0;
  int cache_pages_ = 0;
};

}  // namespace concur::iot
