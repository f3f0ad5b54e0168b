#include "iot/db_sink.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <stdexcept>

#include "core/error.hpp"
#include "iot/reading.hpp"

namespace concur::iot {

namespace {
constexpr int kDbRowsPerInsert = 64;  // one step of the multi-row INSERT (4 parameters a row)
// The WAL is copied into the database once it holds this many pages (SQLite's default: 1,000).
// A commit dirties about one index leaf per device, so with thousands of devices every commit
// passed the default and each was followed by a checkpoint copying all of its pages again;
// 16,384 pages (64 MiB of WAL at 4 KiB pages) copies each leaf once per several commits.
constexpr int kWalCheckpointPages = 16384;
// Page cache: room for the pages a commit touches (about one index leaf per device, its
// neighbours when it splits, the interior pages, the table's tail), grown to what the batches
// show (kCachePagesPerDevice a device) and at most kMaxCachePages; SQLite's default (2 MiB) holds
// ~500 pages, too few for a fleet, and every commit read its leaves back from the WAL.
constexpr int kCachePagesPerDevice = 2;
constexpr int kMinCachePages = 1024;
constexpr int kMaxCachePages = 16384;
// Rows sorted and inserted together: a whole batch of a second (24,000 rows for 8,000 readings/s),
// at most this many (3 MiB of Row), so that a backlog handed over at once stays bounded in memory.
constexpr size_t kMaxSortedRows = 65536;
}  // namespace

DbSink::DbSink(std::string path, bool fsync, std::string log) : path_(std::move(path)), log_(std::move(log)) {
  auto fail_open = [&](const std::string& why) {
    std::string msg = "cannot open database " + path_ + ": " + why;
    if (insert_) sqlite3_finalize(insert_);
    if (insert_many_) sqlite3_finalize(insert_many_);
    if (set_cursor_) sqlite3_finalize(set_cursor_);
    insert_many_ = set_cursor_ = nullptr;
    sqlite3_close(db_);  // also when open failed: SQLite still allocated a handle
    db_ = nullptr;
    insert_ = nullptr;
    throw std::runtime_error(msg);  // exit 1 with this line
  };
  if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK)
    fail_open(db_ ? sqlite3_errmsg(db_) : "out of memory");
  // Another writer (a second collector on the same file) holds the lock briefly at most; waiting
  // longer would stall the collector's loop, so a busy database is a failed pass, retried later.
  sqlite3_busy_timeout(db_, 100);
  // The first statement reads the file: "file is not a database" shows up here, not at open.
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &st, nullptr) != SQLITE_OK) fail_open(sqlite3_errmsg(db_));
  int rc = sqlite3_step(st);
  std::string got = rc == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : "";
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) fail_open(sqlite3_errmsg(db_));
  if (got != "wal") fail_open("cannot switch to WAL journal mode (journal_mode is " + got + ")");
  if (!exec(fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL") || !exec(kReadingsSchema))
    fail_open(last_error_);
  sqlite3_wal_autocheckpoint(db_, kWalCheckpointPages);
  set_cache_pages(kMinCachePages);
  if (sqlite3_prepare_v3(db_, "INSERT INTO readings(time, device, metric, value) VALUES(?1, ?2, ?3, ?4)", -1,
                         SQLITE_PREPARE_PERSISTENT, &insert_, nullptr) != SQLITE_OK)
    fail_open(sqlite3_errmsg(db_));
  std::string many = "INSERT INTO readings(time, device, metric, value) VALUES(?, ?, ?, ?)";
  for (int k = 1; k < kDbRowsPerInsert; ++k) many += ", (?, ?, ?, ?)";
  if (sqlite3_prepare_v3(db_, many.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &insert_many_, nullptr) != SQLITE_OK)
    fail_open(sqlite3_errmsg(db_));
  if (!log_.empty()) {
    if (!exec(kCursorSchema)) fail_open(last_error_);
    if (sqlite3_prepare_v3(db_,
                           "INSERT INTO concur_cursor(log, file_id, offset) VALUES(?1, ?2, ?3) "
                           "ON CONFLICT(log) DO UPDATE SET file_id = excluded.file_id, offset = excluded.offset",
                           -1, SQLITE_PREPARE_PERSISTENT, &set_cursor_, nullptr) != SQLITE_OK)
      fail_open(sqlite3_errmsg(db_));
  }
}

DbSink::~DbSink() {
  sqlite3_finalize(insert_);
  sqlite3_finalize(insert_many_);
  sqlite3_finalize(set_cursor_);
  sqlite3_close(db_);  // checkpoints the WAL when this is the last connection
}

bool DbSink::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) == SQLITE_OK) return true;
  last_error_ = err ? err : sqlite3_errmsg(db_);
  sqlite3_free(err);
  return false;
}

int DbSink::fail(int rc) {
  last_error_ = sqlite3_errmsg(db_);
  sqlite3_reset(insert_);
  sqlite3_reset(insert_many_);
  if (set_cursor_) sqlite3_reset(set_cursor_);
  rows_buf_.clear();
  if (!sqlite3_get_autocommit(db_)) exec("ROLLBACK");  // nothing of the batch stays
  switch (rc & 0xff) {
    case SQLITE_FULL: return ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return EBUSY;
    case SQLITE_READONLY: return EROFS;
    default: return EIO;
  }
}

void DbSink::set_cache_pages(int pages) {
  pages = std::min(pages, kMaxCachePages);
  if (pages <= cache_pages_) return;
  if (exec(("PRAGMA cache_size=" + std::to_string(pages)).c_str())) cache_pages_ = pages;
}

// Rows gathered by insert_rows go in kDbRowsPerInsert at a time (one step of insert_many_), the
// rest one by one: one VDBE run per 64 rows instead of one per row. They go in ordered by device
// (stable: within a device in arrival order, which is time order, the fields of a reading in
// their order), so the index inserts of one device follow each other on the same leaf instead
// of jumping across the whole (device, time) index for every row.
int DbSink::flush_rows(uint64_t& added) {
  std::stable_sort(rows_buf_.begin(), rows_buf_.end(), [](const Row& a, const Row& b) { return a.device < b.device; });
  size_t devices = 0;
  for (size_t i = 0; i < rows_buf_.size(); ++i) devices += i == 0 || rows_buf_[i].device != rows_buf_[i - 1].device;
  if (devices > 0)
    set_cache_pages(static_cast<int>(std::min<size_t>(devices, kMaxCachePages)) * kCachePagesPerDevice + kMinCachePages);
  size_t k = 0;
  auto text = [](sqlite3_stmt* st, int i, std::string_view v) {
    sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  };
  for (; k + kDbRowsPerInsert <= rows_buf_.size(); k += kDbRowsPerInsert) {
    for (int j = 0; j < kDbRowsPerInsert; ++j) {
      const Row& r = rows_buf_[k + static_cast<size_t>(j)];
      sqlite3_bind_double(insert_many_, 4 * j + 1, r.time);
      text(insert_many_, 4 * j + 2, r.device);
      text(insert_many_, 4 * j + 3, r.metric);
      sqlite3_bind_double(insert_many_, 4 * j + 4, static_cast<double>(r.value));
    }
    int step = sqlite3_step(insert_many_);
    sqlite3_reset(insert_many_);
    if (step != SQLITE_DONE) return fail(step);
    added += kDbRowsPerInsert;
  }
  for (; k < rows_buf_.size(); ++k) {
    const Row& r = rows_buf_[k];
    sqlite3_bind_double(insert_, 1, r.time);
    text(insert_, 2, r.device);
    text(insert_, 3, r.metric);
    sqlite3_bind_double(insert_, 4, static_cast<double>(r.value));
    int step = sqlite3_step(insert_);
    sqlite3_reset(insert_);
    if (step != SQLITE_DONE) return fail(step);
    ++added;
  }
  rows_buf_.clear();
  return 0;
}

int DbSink::insert_rows(const Batch& batch, uint64_t& added) {
  rows_buf_.clear();
  int err = 0;
  batch.for_each_reading([&](const ParsedReading& reading, double time) {  // parsed by the collector
    if (err) return;
    for (const Field& f : reading.fields) rows_buf_.push_back({time, reading.name, f.key, f.value});
    if (rows_buf_.size() >= kMaxSortedRows) err = flush_rows(added);  // views into `batch`: valid throughout
  });
  if (err) return err;
  return flush_rows(added);
}

int DbSink::write_batch(const Batch& batch) {
  if (batch.empty()) return 0;
  int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(rc);
  uint64_t added = 0;
  if (int err = insert_rows(batch, added)) return err;
  rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(rc);
  rows_ += added;
  return 0;
}

int DbSink::write_at(const Batch& batch, const LogPosition& at) {
  if (!set_cursor_) return write_batch(batch);
  int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(rc);
  uint64_t added = 0;
  if (int err = insert_rows(batch, added)) return err;
  sqlite3_bind_text(set_cursor_, 1, log_.data(), static_cast<int>(log_.size()), SQLITE_STATIC);
  sqlite3_bind_text(set_cursor_, 2, at.file_id.data(), static_cast<int>(at.file_id.size()), SQLITE_STATIC);
  sqlite3_bind_int64(set_cursor_, 3, static_cast<sqlite3_int64>(at.offset));
  int step = sqlite3_step(set_cursor_);
  sqlite3_reset(set_cursor_);
  if (step != SQLITE_DONE) return fail(step);
  rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(rc);
  rows_ += added;
  return 0;
}

std::optional<LogPosition> DbSink::stored_position() {
  if (log_.empty()) return std::nullopt;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT file_id, offset FROM concur_cursor WHERE log = ?1", -1, &st, nullptr) != SQLITE_OK)
    return std::nullopt;
  sqlite3_bind_text(st, 1, log_.data(), static_cast<int>(log_.size()), SQLITE_STATIC);
  std::optional<LogPosition> pos;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char* id = sqlite3_column_text(st, 0);
    sqlite3_int64 off = sqlite3_column_int64(st, 1);
    pos = LogPosition{id ? reinterpret_cast<const char*>(id) : "", off > 0 ? static_cast<uint64_t>(off) : 0};
  }
  sqlite3_finalize(st);
  return pos;
}

int DbSink::write_lines(std::string_view whole_lines) {
  return write_batch(Batch::stamped_now(whole_lines));
}

std::string DbSink::describe(int err) const { return last_error_.empty() ? ReadingSink::describe(err) : last_error_; }

}  // namespace concur::iot
