// MqttSink's pure parts (topic, JSON payload) and its memory bound while no broker answers.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace concur::iot
