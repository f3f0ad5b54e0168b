// MqttSink's pure parts (topic, JSON payload, cursor file) and its memory bound while no broker
// answers, with and without a cursor.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cerrno>

#include "core/endpoint.hpp"
#include "core/socket.hpp"
#include "iot/mqtt_sink.hpp"

namespace concur::iot {
namespace {

TEST(IotMqtt, PayloadIsTheSpecsJson) {
  EXPECT_EQ(mqtt_payload("Device1: Temp=20, Humid=50, lilum=100", 1700000000.25),
            R"({"time": 1700000000.250, "device": "Device1", "Temp": 20, "Humid": 50, "lilum": 100})");
  EXPECT_EQ(mqtt_payload("we\"ird\\: X=-3", 1.0), R"({"time": 1.000, "device": "we\"ird\\", "X": -3})");
  EXPECT_EQ(mqtt_payload("not a reading", 1.0), "");
}

// The payload's time is printed without fmt's {:.3f} for whole milliseconds: the same text as
// {:.3f} for every time, those and the others.
TEST(IotMqtt, PayloadTimeIsTheSameAsFixedThreeDecimals) {
  ParsedReading r;
  r.name = "D";
  r.fields = {{"T", -7}, {"H", 9223372036854775807}};
  const double times[] = {0.0, 0.001, 0.999, 1.0, 59.5, 1700000000.0, 1700000000.25, 1700000000.0004, 1700000000.0005,
                          1700000000.123456, 4102444800.0, 8999999999999.999, 9e12, 1e300, -1.5, -0.0};
  for (double t : times) {
    std::string want = fmt::format(R"({{"time": {:.3f}, "device": "D", "T": -7, "H": 9223372036854775807}})", t);
    EXPECT_EQ(mqtt_payload(r, t), want) << fmt::format("{:.17g}", t);
    std::string appended = "x";
    append_mqtt_payload(appended, r, t);
    EXPECT_EQ(appended, "x" + want);
  }
  for (uint64_t s = 1600000000; s < 1600000000 + 100000; s += 7) {
    double t = static_cast<double>(s) + static_cast<double>(s % 1000) / 1000.0;
    ASSERT_EQ(mqtt_payload(r, t), fmt::format(R"({{"time": {:.3f}, "device": "D", "T": -7, "H": 9223372036854775807}})", t)) << s;
  }
}

TEST(IotMqtt, TopicIsPrefixSlashDeviceWithoutWildcards) {
  EXPECT_EQ(mqtt_topic("concur", "Device1"), "concur/Device1");
  EXPECT_EQ(mqtt_topic("home/sensors", "a+b#c/d"), "home/sensors/a_b_c_d");
}

// No broker: readings wait in a bounded queue; past it the oldest are dropped and counted.
TEST(IotMqtt, QueueIsBoundedWhileTheBrokerIsUnreachable) {
  int port;
  {
    FileDesc l = tcp_listen(Endpoint::parse("127.0.0.1", 0));
    port = local_endpoint(l.get()).port();
  }  // closed: connects are refused
  MqttOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.max_queue = 100;
  MqttSink sink(o);
  for (int i = 0; i < 10; ++i) {
    Batch b;
    for (int k = 0; k < 100; ++k) b.add("Fri Mar 18 22:55:13 2021", "D: A=" + std::to_string(i * 100 + k), i);
    EXPECT_EQ(sink.write_batch(b), 0) << "a broker that is down must not fail the collector's pass";
  }
  auto st = sink.stats();
  EXPECT_EQ(st.queued, 1000u);
  EXPECT_EQ(st.dropped, 900u);
  sink.close(std::chrono::milliseconds(0));
  st = sink.stats();
  EXPECT_EQ(st.published, 0u);
  EXPECT_EQ(st.unsent, 100u);
}

TEST(IotMqtt, CursorFileRoundTripsAndGarbageIsNamed) {
  LogPosition at{"fnv1a64:0123456789abcdef", 4242};
  std::string text = mqtt_cursor_text(at, "/var/lib/concur/data.txt");
  std::string why;
  auto back = parse_mqtt_cursor(text, &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->file_id, at.file_id);
  EXPECT_EQ(back->offset, 4242u);
  struct Bad {
    std::string text, why;
  };
  for (const auto& b : std::vector<Bad>{{"", "it has no file_id and no offset"},
                                        {"garbage\n", "it has a line 'garbage'"},
                                        {"file_id fnv1a64:0123456789abcdef\n", "it has no offset"},
                                        {"offset 12\n", "it has no file_id"},
                                        {"file_id fnv1a64:0123456789abcdef\noffset -1\n", "its offset is not a number"},
                                        {"file_id fnv1a64:0123456789abcdef\noffset 99999999999999999999\n", "its offset is not a number"},
                                        {"file_id inode:12\noffset 1\n", "its file_id is not fnv1a64:<16 hex digits>"},
                                        {"file_id fnv1a64:0123456789abcdef\noffset 1", "its last line is not whole"}}) {
    why.clear();
    EXPECT_FALSE(parse_mqtt_cursor(b.text, &why)) << b.text;
    EXPECT_EQ(why, b.why) << b.text;
  }
}

// With a cursor: nothing is dropped; past follow_queue readings write_at says EAGAIN (the
// collector reads data.txt later) and has_room() says no.
TEST(IotMqtt, WithACursorAFullQueueRefusesInsteadOfDropping) {
  int port;
  {
    FileDesc l = tcp_listen(Endpoint::parse("127.0.0.1", 0));
    port = local_endpoint(l.get()).port();
  }
  MqttOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.cursor_path = "/nonexistent/dir/c.cursor";  // never written: nothing is acknowledged
  o.follow_queue = 250;
  MqttSink sink(o);
  EXPECT_TRUE(sink.follows_log());
  EXPECT_FALSE(sink.stored_position());
  uint64_t end = 0;
  int taken = 0, refused = 0;
  for (int i = 0; i < 10; ++i) {
    Batch b;
    for (int k = 0; k < 100; ++k) b.add("Fri Mar 18 22:55:13 2021", "D: A=" + std::to_string(i * 100 + k), i);
    end += b.text.size();
    int rc = sink.write_at(b, LogPosition{"fnv1a64:0123456789abcdef", end});
    if (rc == 0) ++taken;
    else {
      EXPECT_EQ(rc, EAGAIN);
      ++refused;
      EXPECT_FALSE(sink.has_room());
    }
  }
  EXPECT_EQ(taken, 3);  // taken while fewer than 250 wait: the bound is 250 plus one batch
  EXPECT_EQ(refused, 7);
  auto st = sink.stats();
  EXPECT_EQ(st.queued, 300u);
  EXPECT_EQ(st.dropped, 0u);
  sink.close(std::chrono::milliseconds(0));
  st = sink.stats();
  EXPECT_EQ(st.unsent, 300u);
  EXPECT_EQ(st.cursor, 0u);
}

}  // namespace
}  // namespace concur::iot
