// data.txt as the log (issue 21): `collect --db` keeps its cursor into data.txt in the database,
// in the same transaction as the rows, so the database holds every reading of data.txt exactly
// once — across kill -9 at any moment, a locked database, a restart. Real SQLite, real devices.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "support/device_fleet.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/sqlite_db.hpp"
#include "support/temp_dir.hpp"
#include "support/text_file.hpp"

namespace concur::test {
namespace {

// The database's cursor into data.txt (0 when it has none yet).
uint64_t cursor_offset(const std::string& db) {
  auto r = sqlite_rows(db, "SELECT offset FROM concur_cursor");
  if (r.empty()) return 0;
  EXPECT_EQ(r.size(), 1u);
  return std::stoull(r[0]);
}

size_t cursor_rows(const std::string& db) {
  auto r = sqlite_rows(db, "SELECT count(*) FROM readings");
  return r.size() == 1 && !r[0].empty() && r[0].find_first_not_of("0123456789") == std::string::npos ? std::stoul(r[0]) : 0;
}

TEST(CollectCursor, KillNineAtTenRandomMomentsLeavesEveryReadingInTheDatabaseExactlyOnce) {
  TempDir dir;
  std::string out = dir.file("data.txt"), db = dir.file("readings.db"), list = dir.file("devices.txt");
  auto fleet = start_device_fleet(200, "50ms", list);  // 4,000 readings/s
  ASSERT_TRUE(fleet);
  std::random_device rd;
  unsigned seed = rd();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> moment(150, 1100);  // ms after start: before, at, after commits
  int caught_up = 0;
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE(fmt::format("kill -9 number {}", round + 1));
    {
      Process c(concur_args({"collect", "--device-list", list, "--out", out, "--db", db, "--quiet"}));
      std::this_thread::sleep_for(Ms(moment(rng)));
      c.signal(SIGKILL);
      ASSERT_EQ(c.wait(2000ms), 128 + SIGKILL);
      if (c.read_all_stderr(200ms).find("catching up from byte") != std::string::npos) ++caught_up;
    }
    // Exactly the readings of data.txt before the cursor, each once.
    std::string text = slurp(out);
    uint64_t at = cursor_offset(db);
    ASSERT_LE(at, text.size());
    std::string taken = text.substr(0, at);
    ASSERT_TRUE(taken.empty() || taken.back() == '\n') << "the cursor is inside a line";
    EXPECT_EQ(db_readings_per_device(db), lines_per_device(taken));
  }
  EXPECT_GE(caught_up, 5) << "the restarts rarely resumed from a cursor behind the end";
  // A last run that ends on its own: the database then holds every reading of data.txt, once.
  Process c(concur_args({"collect", "--device-list", list, "--out", out, "--db", db, "--quiet", "--count", "2000"}));
  ASSERT_EQ(c.wait(8000ms), 0) << c.read_all_stderr(100ms);
  std::string text = slurp(out);
  EXPECT_EQ(cursor_offset(db), text.size());
  auto lines = lines_per_device(text);
  EXPECT_EQ(lines.size(), 200u);
  EXPECT_EQ(db_readings_per_device(db), lines);
  EXPECT_EQ(sqlite_rows(db, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST(CollectCursor, ALockedDatabaseCatchesUpFromDataTxtWhichIsNeverDelayed) {
  TempDir dir;
  std::string out = dir.file("data.txt"), db = dir.file("readings.db"), list = dir.file("devices.txt");
  // 800 readings/s: 30 s locked are 24,000 behind, which even a TSan build catches up within the
  // wait below (2,000/s put 60,000 behind, more than TSan read back in 20 s beside the live ones).
  auto fleet = start_device_fleet(20, "25ms", list);
  ASSERT_TRUE(fleet);
  Process c(concur_args({"collect", "--device-list", list, "--out", out, "--db", db, "--quiet"}));
  ASSERT_TRUE(wait_for_file_lines(out, 500, 4000ms));
  ASSERT_TRUE(wait_until([&] { return cursor_rows(db) > 0; }, 3000ms));
  {
    SqliteDb other(db);
    other.exec("BEGIN EXCLUSIVE");
    EXPECT_TRUE(c.wait_for_stderr("cannot write " + db + ": database is locked", 3000ms)) << c.read_all_stderr(100ms);
    size_t rows_locked = cursor_rows(db);
    // 30 seconds locked (issue 21): data.txt grows in every quarter of a second meanwhile.
    size_t before = line_count(out);
    for (int k = 0; k < 120; ++k) {
      std::this_thread::sleep_for(250ms);
      size_t now = line_count(out);
      EXPECT_GT(now, before + 40) << "data.txt stalled while the database was locked (quarter " << k << ")";
      before = now;
    }
    EXPECT_EQ(cursor_rows(db), rows_locked);
    other.exec("COMMIT");
  }
  EXPECT_TRUE(c.wait_for_stderr("writing to " + db + " works again", 3000ms)) << c.read_all_stderr(100ms);
  // About 24,000 readings behind: read back from data.txt in 256 KiB writes.
  EXPECT_TRUE(c.wait_for_stderr(db + ": caught up with " + out, 20000ms)) << c.read_all_stderr(100ms);
  c.signal(SIGTERM);
  ASSERT_EQ(c.wait(4000ms), 0) << c.read_all_stderr(100ms);
  std::string text = slurp(out);
  EXPECT_EQ(cursor_offset(db), text.size());
  EXPECT_EQ(db_readings_per_device(db), lines_per_device(text));
}

// A database new to a data.txt that has readings starts at its end, unless --backfill; a cursor
// from another file is not trusted; one past the end (the file lost its last lines) is clamped.
TEST(CollectCursor, NewDatabaseStartsAtTheEndBackfillTakesAllForeignCursorIsNotTrusted) {
  TempDir dir;
  std::string out = dir.file("data.txt"), a = dir.file("a.db"), b = dir.file("b.db");
  Server d1({"device", "--port", "0", "--interval", "0.005", "--quiet"});
  auto collect = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"collect", "--device", loopback(d1.port), "--out", out, "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = std::make_unique<Process>(concur_args(args));
    EXPECT_EQ(p->wait(5000ms), 0) << p->read_all_stderr(100ms);
    return p->read_all_stderr(500ms);
  };
  collect({"--count", "20"});
  std::string err = collect({"--count", "10", "--db", a});
  EXPECT_NE(err.find(a + ": new to " + out + "; starting at its end ("), std::string::npos) << err;
  EXPECT_EQ(cursor_rows(a), 30u);
  err = collect({"--count", "10", "--db", b, "--backfill"});
  EXPECT_NE(err.find(b + ": new to " + out + "; --backfill: taking its "), std::string::npos) << err;
  EXPECT_EQ(cursor_rows(b), 3u * 40);
  EXPECT_EQ(db_readings_per_device(b), lines_per_device(slurp(out)));

  // The file loses its last lines (a backup restored): the cursor is clamped to its end.
  std::string text = slurp(out);
  auto lines = split_lines(text);
  std::string first_five;
  for (size_t k = 0; k < 5; ++k) first_five += lines[k] + "\n";
  {
    std::ofstream f(out, std::ios::trunc);
    f << first_five;
  }
  err = collect({"--count", "3", "--db", b});
  EXPECT_NE(err.find(b + ": its cursor (byte " + std::to_string(text.size()) + ") is past the end of " + out), std::string::npos)
      << err;
  EXPECT_EQ(cursor_rows(b), 3u * 43);
  EXPECT_EQ(cursor_offset(b), slurp(out).size());

  // Another file under the same name: the cursor is not trusted.
  ASSERT_EQ(std::rename(out.c_str(), dir.file("old.txt").c_str()), 0);
  {
    std::ofstream f(out);
    f << "Fri Mar 18 22:55:13 2021: Other: Temp=1\n";
  }
  err = collect({"--count", "4", "--db", b});
  EXPECT_NE(err.find(b + ": its cursor (fnv1a64:"), std::string::npos) << err;
  EXPECT_NE(err.find("is from another file than " + out), std::string::npos) << err;
  EXPECT_EQ(cursor_rows(b), 3u * 47) << "the new file's first line was taken, or the next readings were not";
}

}  // namespace
}  // namespace concur::test
