#include "iot/db_sink.hpp"

#include <sqlite3.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>

#include "core/error.hpp"
#include "iot/reading.hpp"

namespace concur::iot {

DbSink::DbSink(std::string path, bool fsync) : path_(std::move(path)) {
  auto fail_open = [&](const std::string& why) {
    std::string msg = "cannot open database " + path_ + ": " + why;
    if (insert_) sqlite3_finalize(insert_);
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
  if (sqlite3_prepare_v3(db_, "INSERT INTO readings(time, device, metric, value) VALUES(?1, ?2, ?3, ?4)", -1,
                         SQLITE_PREPARE_PERSISTENT, &insert_, nullptr) != SQLITE_OK)
    fail_open(sqlite3_errmsg(db_));
}

DbSink::~DbSink() {
  sqlite3_finalize(insert_);
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
  if (!sqlite3_get_autocommit(db_)) exec("ROLLBACK");  // nothing of the batch stays
  switch (rc & 0xff) {
    case SQLITE_FULL: return ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return EBUSY;
    case SQLITE_READONLY: return EROFS;
    default: return EIO;
  }
}

int DbSink::write_batch(const Batch& batch) {
  if (batch.empty()) return 0;
  int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(rc);
  uint64_t added = 0;
  int err = 0;
  batch.for_each_reading([&](const ParsedReading& reading, double time) {  // parsed by the collector
    if (err) return;
    for (const Field& f : reading.fields) {
      sqlite3_bind_double(insert_, 1, time);
      sqlite3_bind_text(insert_, 2, reading.name.data(), static_cast<int>(reading.name.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert_, 3, f.key.data(), static_cast<int>(f.key.size()), SQLITE_STATIC);
      sqlite3_bind_double(insert_, 4, static_cast<double>(f.value));
      int step = sqlite3_step(insert_);
      sqlite3_reset(insert_);
      if (step != SQLITE_DONE) {
        err = fail(step);
        return;
      }
      ++added;
    }
  });
  if (err) return err;
  rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(rc);
  rows_ += added;
  return 0;
}

int DbSink::write_lines(std::string_view whole_lines) {
  return write_batch(Batch::stamped_now(whole_lines));
}

std::string DbSink::describe(int err) const { return last_error_.empty() ? ReadingSink::describe(err) : last_error_; }

}  // namespace concur::iot
