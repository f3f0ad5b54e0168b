#include "web/history_db.hpp"

#include <sqlite3.h>

#include <memory>
#include <stdexcept>

namespace concur::web {

size_t load_history(const std::string& db_path, ReadingsHub& hub, double since) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  auto fail = [&](const char* what) {
    return std::runtime_error("cannot read history from " + db_path + ": " + what);
  };
  if (rc != SQLITE_OK) throw fail(raw ? sqlite3_errmsg(raw) : "out of memory");
  sqlite3_busy_timeout(db.get(), 2000);
  sqlite3_stmt* st = nullptr;
  // Newest first, so that a bounded read keeps what the charts show; the hub reorders by time.
  const char* sql =
      "SELECT time, device, metric, value FROM readings WHERE time > ?1 ORDER BY time DESC, device, rowid LIMIT 2000000";
  if (sqlite3_prepare_v2(db.get(), sql, -1, &st, nullptr) != SQLITE_OK) throw fail(sqlite3_errmsg(db.get()));
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(st, &sqlite3_finalize);
  sqlite3_bind_double(st, 1, since);
  size_t added = 0;
  std::string device;
  StoredReading cur;
  bool have = false;
  auto flush = [&] {
    if (have && hub.add(device, std::move(cur))) ++added;
    cur = {};
    have = false;
  };
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    double t = sqlite3_column_double(st, 0);
    auto text = [&](int col) {
      const unsigned char* p = sqlite3_column_text(st, col);
      return std::string(p ? reinterpret_cast<const char*>(p) : "", static_cast<size_t>(sqlite3_column_bytes(st, col)));
    };
    std::string dev = text(1);
    if (!have || dev != device || t != cur.time) {
      flush();
      device = std::move(dev);
      cur.time = t;
      have = true;
    }
    cur.fields.emplace_back(text(2), sqlite3_column_double(st, 3));
  }
  flush();
  if (rc != SQLITE_DONE) throw fail(sqlite3_errmsg(db.get()));
  return added;
}

}  // namespace concur::web
