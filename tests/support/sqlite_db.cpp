#include "support/sqlite_db.hpp"

#include <gtest/gtest.h>

namespace concur::test {

SqliteDb::SqliteDb(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    open_error_ = "cannot open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
    return;
  }
  sqlite3_busy_timeout(db_, 2000);
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

std::vector<std::string> SqliteDb::rows(const std::string& sql) {
  if (!open_error_.empty()) return {"error: " + open_error_};
  std::vector<std::string> out;
  char* err = nullptr;
  sqlite3_exec(
      db_, sql.c_str(),
      [](void* p, int n, char** v, char**) {
        std::string row;
        for (int i = 0; i < n; ++i) row += (i ? "|" : "") + std::string(v[i] ? v[i] : "NULL");
        static_cast<std::vector<std::string>*>(p)->push_back(row);
        return 0;
      },
      &out, &err);
  if (err) out.push_back(std::string("error: ") + err);
  sqlite3_free(err);
  return out;
}

void SqliteDb::exec(const std::string& sql) {
  if (!open_error_.empty()) {
    ADD_FAILURE() << sql << ": " << open_error_;
    return;
  }
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << sql << ": " << (err ? err : "");
  sqlite3_free(err);
}

std::vector<std::string> sqlite_rows(const std::string& path, const std::string& sql) { return SqliteDb(path).rows(sql); }

}  // namespace concur::test
