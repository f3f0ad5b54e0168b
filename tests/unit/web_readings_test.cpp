// collect --web's readings store and its JSON (src/web/readings_hub, dashboard_web).
#include <gtest/gtest.h>

#include "web/dashboard_web.hpp"
#include "web/http_request.hpp"
#include "web/readings_hub.hpp"

namespace concur::web {
namespace {

StoredReading at(double t, double v) { return {t, {{"Temp", v}, {"Humid", 50}}}; }

TEST(WebReadings, JsonHasTheMqttShapeAndEscapes) {
  EXPECT_EQ(reading_json("Device1", at(1700000000.25, 20)),
            R"({"time":1700000000.250,"device":"Device1","Temp":20,"Humid":50})");
  EXPECT_EQ(json_string("a\"b\\c\n\x01"), R"("a\"b\\c\u000a\u0001")");
}

TEST(WebReadings, KeepsTimeOrderAndABoundPerDevice) {
  ReadingsHub hub;
  hub.add("D", at(3, 3));
  hub.add("D", at(1, 1));  // from history: goes in its place
  hub.add("D", at(2, 2));
  EXPECT_EQ(hub.readings_json("D", 0),
            R"([{"time":1.000,"device":"D","Temp":1,"Humid":50},{"time":2.000,"device":"D","Temp":2,"Humid":50},)"
            R"({"time":3.000,"device":"D","Temp":3,"Humid":50}])");
  EXPECT_EQ(hub.readings_json("D", 2), R"([{"time":3.000,"device":"D","Temp":3,"Humid":50}])");
  EXPECT_EQ(hub.readings_json("nobody", 0), "[]");
  hub.add("F", at(7.1234, 1));  // stored as the JSON shows it: paging with that time skips it
  EXPECT_EQ(hub.readings_json("F", 7.123), "[]");
  for (int i = 0; i < 5000; ++i) hub.add("E", at(10 + i, i));
  EXPECT_EQ(hub.size("E"), ReadingsHub::kPerDevice);
  std::string all = hub.readings_json("E", 0);
  EXPECT_EQ(std::count(all.begin(), all.end(), '{'), static_cast<long>(ReadingsHub::kMaxAnswer));
  auto hist = hub.history_messages(2);
  ASSERT_EQ(hist.size(), 3u);  // D, E, F
  EXPECT_EQ(hist[0], R"({"type":"history","device":"D","readings":[{"time":2.000,"device":"D","Temp":2,"Humid":50},)"
                     R"({"time":3.000,"device":"D","Temp":3,"Humid":50}]})");
}

TEST(WebReadings, ReadingsJsonAnswers) {
  ReadingsHub hub;
  hub.add("Device 1", at(5, 1));
  auto req = [](std::string target) {
    return parse_request("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n").request;
  };
  Response ok = readings_response(hub, req("/readings.json?device=Device+1&since=4.5"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.content_type, "application/json");
  EXPECT_EQ(ok.body, R"([{"time":5.000,"device":"Device 1","Temp":1,"Humid":50}])");
  EXPECT_EQ(readings_response(hub, req("/readings.json")).status, 400);
  EXPECT_EQ(readings_response(hub, req("/readings.json?device=D&since=soon")).status, 400);
  EXPECT_EQ(readings_response(hub, req("/readings.json?device=D&since=nan")).status, 400);
}

TEST(WebReadings, TheSinkParsesBatchesAndNeverFails) {
  Dashboard d(15);
  WebSink sink(d);
  iot::Batch b;
  b.add("Fri Mar 18 22:55:13 2021", "Device1: Temp=20, Humid=50, lilum=100", 1000.5);
  b.add("Fri Mar 18 22:55:14 2021", "Device2: Heartbeat=70", 1001.5);
  EXPECT_EQ(sink.write_batch(b), 0);
  EXPECT_EQ(d.hub().readings_json("Device1", 0), R"([{"time":1000.500,"device":"Device1","Temp":20,"Humid":50,"lilum":100}])");
  EXPECT_EQ(sink.write_lines("Fri Mar 18 22:55:13 2021: Device2: Heartbeat=71\ngarbage\n"), 0);
  EXPECT_EQ(d.hub().size("Device2"), 2u);
}

}  // namespace
}  // namespace concur::web
