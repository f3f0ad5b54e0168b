// The metrics registry and the Prometheus text it renders (issue 22): escaping, histogram lines,
// HELP/TYPE, label sets fixed at registration, probes, and counting from many threads.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "metrics/exposition.hpp"
#include "metrics/readiness.hpp"
#include "metrics/registry.hpp"

namespace concur::metrics {
namespace {

struct MetricsEnabled : ::testing::Test {
  void SetUp() override { enable(); }
};

TEST(MetricsExposition, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(escape_label_value(R"(a\b"c)" "\n" "d"), R"(a\\b\"c\nd)");
  EXPECT_EQ(escape_label_value("plain µ text"), "plain µ text");
}

TEST(MetricsExposition, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(escape_help("say \"hi\"\\\nnow"), "say \"hi\"\\\\\\nnow");
}

TEST(MetricsExposition, ValuesAreIntegersShortestFloatsOrSpecials) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(-2), "-2");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(MetricsExposition, HeaderAndSampleLines) {
  std::string out;
  write_header(out, "concur_x_total", "Things.\nMore", Type::counter);
  write_sample(out, "concur_x_total", {{"reason", "a\"b"}, {"k", "v"}}, "7");
  write_sample(out, "concur_y", {}, "1");
  EXPECT_EQ(out,
            "# HELP concur_x_total Things.\\nMore\n"
            "# TYPE concur_x_total counter\n"
            "concur_x_total{reason=\"a\\\"b\",k=\"v\"} 7\n"
            "concur_y 1\n");
}

TEST(MetricsExposition, HistogramBucketsAreCumulativeAndEndInInf) {
  std::string out;
  write_histogram(out, "concur_h_seconds", {{"sink", "file"}}, {0.1, 1}, {2, 3, 1}, 4.5);
  EXPECT_EQ(out,
            "concur_h_seconds_bucket{sink=\"file\",le=\"0.1\"} 2\n"
            "concur_h_seconds_bucket{sink=\"file\",le=\"1\"} 5\n"
            "concur_h_seconds_bucket{sink=\"file\",le=\"+Inf\"} 6\n"
            "concur_h_seconds_sum{sink=\"file\"} 4.5\n"
            "concur_h_seconds_count{sink=\"file\"} 6\n");
}

TEST(MetricsExposition, NamesFollowTheGrammar) {
  EXPECT_TRUE(valid_metric_name("concur_a:b_1"));
  EXPECT_FALSE(valid_metric_name("1abc"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_TRUE(valid_label_name("reason"));
  EXPECT_FALSE(valid_label_name("__reserved"));
  EXPECT_FALSE(valid_label_name("a:b"));
}

TEST_F(MetricsEnabled, RegistryRendersFamiliesInOrderWithHelpAndType) {
  Registry r;
  r.counter("t_refused_total", "Refused.", {{"reason", "max_clients"}}).add(2);
  r.counter("t_refused_total", "Refused.", {{"reason", "fd_limit"}}).add();
  r.gauge("t_open", "Open.").set(5);
  Histogram& h = r.histogram("t_write_seconds", "Writes.", {0.01, 0.1});
  h.observe(0.005);
  h.observe(0.05);
  h.observe(3);
  EXPECT_EQ(r.render(),
            "# HELP t_refused_total Refused.\n# TYPE t_refused_total counter\n"
            "t_refused_total{reason=\"max_clients\"} 2\nt_refused_total{reason=\"fd_limit\"} 1\n"
            "# HELP t_open Open.\n# TYPE t_open gauge\nt_open 5\n"
            "# HELP t_write_seconds Writes.\n# TYPE t_write_seconds histogram\n"
            "t_write_seconds_bucket{le=\"0.01\"} 1\nt_write_seconds_bucket{le=\"0.1\"} 2\n"
            "t_write_seconds_bucket{le=\"+Inf\"} 3\nt_write_seconds_sum 3.055\nt_write_seconds_count 3\n");
}

TEST_F(MetricsEnabled, RegisteringTheSameSeriesAgainReturnsTheSameCounter) {
  Registry r;
  Counter& a = r.counter("t_total", "T.", {{"k", "v"}});
  Counter& b = r.counter("t_total", "T.", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &r.counter("t_total", "T.", {{"k", "w"}}));
}

TEST(MetricsRegistry, ConflictingOrInvalidRegistrationsAreProgrammingErrors) {
  Registry r;
  r.counter("t_total", "T.", {{"k", "v"}});
  EXPECT_THROW(r.gauge("t_total", "T."), std::logic_error);                  // another type
  EXPECT_THROW(r.counter("t_total", "T.", {{"other", "v"}}), std::logic_error);  // other label names
  EXPECT_THROW(r.counter("bad-name", "T."), std::logic_error);
  EXPECT_THROW(r.counter("t2_total", ""), std::logic_error);                 // no help
  EXPECT_THROW(r.histogram("t_h", "H.", {1, 1}), std::logic_error);           // bounds not increasing
  EXPECT_THROW(r.histogram("t_h2", "H.", {1}, {{"le", "x"}}), std::logic_error);
}

TEST_F(MetricsEnabled, ProbesAreReadAtScrapeTimeAndVanishWhenDestroyed) {
  Registry r;
  int members = 3;
  {
    Probe p = r.probe(Type::gauge, "t_members", "Members.", {{"room", "lobby"}}, [&] { return double(members); });
    EXPECT_NE(r.render().find("t_members{room=\"lobby\"} 3\n"), std::string::npos);
    members = 4;
    EXPECT_NE(r.render().find("t_members{room=\"lobby\"} 4\n"), std::string::npos);
  }
  EXPECT_EQ(r.render(), "");  // a family without series is not rendered
}

TEST(MetricsRegistry, NothingIsCountedBeforeEnable) {
  // The process-wide flag: other tests of this binary may have enabled it; turn it off for this
  // one (single-threaded here) and restore it.
  bool was = enabled();
  g_enabled.store(false, std::memory_order_relaxed);
  Registry r;
  Counter& c = r.counter("t_total", "T.");
  c.add(5);
  EXPECT_EQ(c.value(), 0u);
  enable();
  c.add(2);
  EXPECT_EQ(c.value(), 2u) << "counted from enable() on";
  g_enabled.store(was, std::memory_order_relaxed);
}

TEST_F(MetricsEnabled, CountsFromManyThreadsAddUpExactly) {
  Registry r;
  Counter& c = r.counter("t_total", "T.");
  Gauge& g = r.gauge("t_g", "G.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        c.add();
        g.add();
        g.sub();
      }
    });
  // Scrape while they count: never torn, never more than the total.
  for (int i = 0; i < 20; ++i) EXPECT_LE(c.value(), 800000u);
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 800000u);
  EXPECT_EQ(g.value(), 0);
}

TEST(MetricsReadiness, FailingChecksGiveTheirReasonsAndVanishWithTheirOwner) {
  auto mine = [](const ReadyVerdict& v) {
    for (const auto& [name, why] : v.failing)
      if (name == "t-redis") return why;
    return std::string();
  };
  {
    ReadyFlag f("t-redis", "not connected yet");
    EXPECT_FALSE(readiness().ready);
    EXPECT_EQ(mine(readiness()), "not connected yet");
    f.ready();
    EXPECT_EQ(mine(readiness()), "");
    f.not_ready("no reply for 1500 ms");
    EXPECT_NE(readiness_text(readiness()).find("t-redis: no reply for 1500 ms\n"), std::string::npos);
  }
  EXPECT_EQ(mine(readiness()), "");
}

}  // namespace
}  // namespace concur::metrics
