// DbSink against a real SQLite file: rows per field, a batch whole or not at all, appends,
// clear errors, a busy database is a retryable failure.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "iot/db_sink.hpp"
#include "support/sqlite_db.hpp"
#include "support/temp_dir.hpp"

namespace concur::iot {
namespace {

class IotDbSink : public ::testing::Test {
 protected:
  static Batch batch(std::initializer_list<std::pair<const char*, double>> readings) {
    Batch b;
    for (auto& [r, t] : readings) b.add("Fri Mar 18 22:55:13 2021", r, t);
    return b;
  }
  test::TempDir dir_;
  std::string path_ = dir_.file("readings.db");
};

TEST_F(IotDbSink, OneRowPerFieldWithTheTimeOfReceipt) {
  {
    DbSink sink(path_, false);
    ASSERT_EQ(sink.write_batch(batch({{"Device1: Temp=20, Humid=50, lilum=100", 1700000000.25},
                                      {"Device2: Heartbeat=-3", 1700000001.5}})),
              0);
    EXPECT_EQ(sink.rows(), 4u);
  }
  test::SqliteDb db(path_);
  EXPECT_EQ(db.rows("SELECT time, device, metric, value FROM readings ORDER BY rowid"),
            (std::vector<std::string>{"1700000000.25|Device1|Temp|20.0", "1700000000.25|Device1|Humid|50.0",
                                      "1700000000.25|Device1|lilum|100.0", "1700000001.5|Device2|Heartbeat|-3.0"}));
  EXPECT_EQ(db.rows("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  EXPECT_EQ(db.rows("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='readings'"),
            std::vector<std::string>{"readings_device_time"});
}

TEST_F(IotDbSink, ASecondRunAppends) {
  {
    DbSink sink(path_, false);
    ASSERT_EQ(sink.write_batch(batch({{"D: A=1", 1.0}})), 0);
  }
  {
    DbSink sink(path_, true);
    ASSERT_EQ(sink.write_batch(batch({{"D: A=2", 2.0}})), 0);
  }
  test::SqliteDb db(path_);
  EXPECT_EQ(db.rows("SELECT value FROM readings ORDER BY time"), (std::vector<std::string>{"1.0", "2.0"}));
}

TEST_F(IotDbSink, AFailedBatchLeavesNothingBehind) {
  DbSink sink(path_, false);
  ASSERT_EQ(sink.write_batch(batch({{"D: A=1", 1.0}})), 0);
  {
    // A real failure in the middle of a batch: the third row of the second reading is refused.
    test::SqliteDb db(path_);
    db.exec("CREATE TRIGGER refuse BEFORE INSERT ON readings WHEN NEW.metric = 'Boom' BEGIN SELECT RAISE(ABORT, 'boom'); END");
  }
  EXPECT_EQ(sink.write_batch(batch({{"D: A=2, B=2", 2.0}, {"D: A=3, B=3, Boom=3", 3.0}})), EIO);
  EXPECT_NE(sink.describe(EIO).find("boom"), std::string::npos) << sink.describe(EIO);
  test::SqliteDb db(path_);
  EXPECT_EQ(db.rows("SELECT count(*) FROM readings"), std::vector<std::string>{"1"}) << "part of a failed batch stayed";
  db.exec("DROP TRIGGER refuse");
  EXPECT_EQ(sink.write_batch(batch({{"D: A=2, B=2", 2.0}})), 0) << "the sink works again after a failure";
  EXPECT_EQ(db.rows("SELECT count(*) FROM readings"), std::vector<std::string>{"3"});
}

TEST_F(IotDbSink, ADatabaseLockedByAnotherWriterIsBusyThenWorks) {
  DbSink sink(path_, false);
  test::SqliteDb other(path_);
  other.exec("BEGIN IMMEDIATE");
  EXPECT_EQ(sink.write_batch(batch({{"D: A=1", 1.0}})), EBUSY);
  other.exec("COMMIT");
  EXPECT_EQ(sink.write_batch(batch({{"D: A=1", 1.0}})), 0);
  EXPECT_EQ(other.rows("SELECT count(*) FROM readings"), std::vector<std::string>{"1"});
}

TEST_F(IotDbSink, NotADatabaseIsAClearError) {
  {
    std::ofstream f(path_);
    f << "these are not the pages of a database, just some text long enough to have a header";
  }
  try {
    DbSink sink(path_, false);
    FAIL() << "opened";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot open database " + path_ + ": file is not a database");
  }
  try {
    DbSink sink(dir_.file("no/such/dir.db"), false);
    FAIL() << "opened";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot open database " + dir_.file("no/such/dir.db") + ": unable to open database file");
  }
}

// A batch goes in ordered by device (index locality): every reading still whole, and within a
// device the readings in time order and each reading's fields in their order (rowid order, as
// the dashboard's history query reads them). More rows than the sink sorts at once (65,536),
// from many devices interleaved as a fleet sends them.
TEST_F(IotDbSink, AFleetsInterleavedBatchIsStoredWholePerDeviceInTimeAndFieldOrder) {
  constexpr int kDevices = 6000, kPerDevice = 4;
  std::vector<std::string> lines;
  std::vector<double> times;
  for (int r = 0; r < kPerDevice; ++r)
    for (int d = kDevices - 1; d >= 0; --d) {  // names not in sorted order
      int v = r * 10000 + d;
      lines.push_back("Dev" + std::to_string(d) + ": Temp=" + std::to_string(v) + ", Humid=" + std::to_string(v + 1) +
                      ", lilum=" + std::to_string(v + 2));
      times.push_back(1700000000.0 + r + d * 1e-4);
    }
  Batch b;
  for (size_t i = 0; i < lines.size(); ++i) b.add("Fri Mar 18 22:55:13 2021", lines[i], times[i]);
  {
    DbSink sink(path_, false);
    ASSERT_EQ(sink.write_batch(b), 0);
    EXPECT_EQ(sink.rows(), 3u * kDevices * kPerDevice);
  }
  test::SqliteDb db(path_);
  EXPECT_EQ(db.rows("SELECT count(*) FROM readings"), std::vector<std::string>{std::to_string(3 * kDevices * kPerDevice)});
  EXPECT_EQ(db.rows("SELECT count(*) FROM (SELECT device FROM readings GROUP BY device HAVING count(*) != " +
                    std::to_string(3 * kPerDevice) + ")"),
            std::vector<std::string>{"0"});
  // Each device's rows in rowid order: readings by time, fields Temp, Humid, lilum, values exact.
  EXPECT_EQ(db.rows("SELECT count(*) FROM readings a JOIN readings b ON b.rowid = (SELECT min(rowid) FROM readings "
                    "WHERE device = a.device AND rowid > a.rowid) WHERE b.time < a.time OR (b.time = a.time AND "
                    "b.value != a.value + 1)"),
            std::vector<std::string>{"0"});
  EXPECT_EQ(db.rows("SELECT group_concat(metric || '=' || CAST(value AS INT), ',') FROM (SELECT metric, value FROM "
                    "readings WHERE device = 'Dev7' ORDER BY rowid)"),
            std::vector<std::string>{"Temp=7,Humid=8,lilum=9,Temp=10007,Humid=10008,lilum=10009,Temp=20007,Humid=20008,"
                                     "lilum=20009,Temp=30007,Humid=30008,lilum=30009"});
  EXPECT_EQ(db.rows("SELECT metric, CAST(value AS INT) FROM readings WHERE time > 1700000003.1 ORDER BY time DESC, "
                    "device, rowid LIMIT 3"),
            (std::vector<std::string>{"Temp|35999", "Humid|36000", "lilum|36001"}));
}

TEST(IotBatch, DropOldestKeepsLinesAndTimesTogether) {
  Batch b;
  b.add("S", "D: A=1", 1);
  b.add("S", "D: A=2", 2);
  b.add("S", "D: A=3", 3);
  EXPECT_EQ(b.drop_oldest(b.text.size() - 1), 1u);
  std::vector<std::string> seen;
  b.for_each([&](std::string_view r, double t) { seen.push_back(std::string(r) + "@" + std::to_string(int(t))); });
  EXPECT_EQ(seen, (std::vector<std::string>{"D: A=2@2", "D: A=3@3"}));
}

}  // namespace
}  // namespace concur::iot
