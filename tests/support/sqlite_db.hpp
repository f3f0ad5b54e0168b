#pragma once
// A test's own connection to an SQLite database a command or sink wrote: rows as "a|b" strings,
// statements whose failure fails the test. Independent of the code under test (plain SQLite API).
#include <sqlite3.h>

#include <string>
#include <vector>

namespace concur::test {

class SqliteDb {
 public:
  // Opens an existing database read-write (never creates one); waits up to 2 s for a lock. When
  // it cannot be opened, rows() returns the error row and exec() fails.
  explicit SqliteDb(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Every row of `sql`, columns joined by '|', NULL as "NULL"; an error adds a row "error: <why>".
  std::vector<std::string> rows(const std::string& sql);
  // Runs `sql`; a failure is a test failure (EXPECT) with SQLite's message.
  void exec(const std::string& sql);

 private:
  sqlite3* db_ = nullptr;
  std::string open_error_;  // why the open failed; empty when it worked
};

// One query on its own connection: SqliteDb(path).rows(sql).
std::vector<std::string> sqlite_rows(const std::string& path, const std::string& sql);

}  // namespace concur::test
