// The pure pieces of the Redis bridge: the envelope, the duplicate filter, the bounded publish
// queue and --redis parsing (redis/envelope, redis/publish_queue, redis/redis_bridge).
#include <gtest/gtest.h>

#include "redis/envelope.hpp"
#include "redis/publish_queue.hpp"
#include "redis/redis_bridge.hpp"

namespace concur::redis {
namespace {

TEST(RedisEnvelope, RoundTrip) {
  std::string p = encode_envelope(0xabcdef0123456789ULL, 42, "[bob]점심 뭐 드실까요?");
  EXPECT_EQ(p, "concur1 abcdef0123456789 42 [bob]점심 뭐 드실까요?");
  auto e = decode_envelope(p);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->instance, 0xabcdef0123456789ULL);
  EXPECT_EQ(e->seq, 42u);
  EXPECT_EQ(e->text, "[bob]점심 뭐 드실까요?");
}

TEST(RedisEnvelope, JoinMessageIsRelayable) {
  std::string p = encode_envelope(1, 1, "[bob]");  // kept: the envelope's text is a view into it
  auto e = decode_envelope(p);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->text, "[bob]");
}

TEST(RedisEnvelope, GarbageIsRefused) {
  for (std::string bad : {
           std::string(""), std::string("hello"), std::string("[bob]hi"),          // not an envelope
           std::string("concur1 abc 1 [bob]hi"),                                    // short instance
           std::string("concur1 ABCDEF0123456789 1 [bob]hi"),                       // upper-case hex
           std::string("concur1 0000000000000000 1 [bob]hi"),                       // instance 0
           std::string("concur1 abcdef0123456789 0 [bob]hi"),                       // seq 0
           std::string("concur1 abcdef0123456789 01 [bob]hi"),                      // leading zero
           std::string("concur1 abcdef0123456789 x [bob]hi"),                       // seq not a number
           std::string("concur1 abcdef0123456789 99999999999999999999 [bob]hi"),    // overflow
           std::string("concur1 abcdef0123456789 1 hi"),                            // no [ID]
           std::string("concur1 abcdef0123456789 1 []hi"),                           // empty ID
           std::string("concur1 abcdef0123456789 1 [bob]\x1b[2Jhi"),                // control chars
           std::string("concur1 abcdef0123456789 1 [bob]line\nbreak"),              // newline
           std::string("concur1 abcdef0123456789 1 [bob]\xff\xfe"),                 // not UTF-8
           std::string("concur1 abcdef0123456789 1 [bob]") + std::string(5000, 'x'),  // too long
       })
    EXPECT_FALSE(decode_envelope(bad)) << bad;
}

TEST(RedisEnvelope, InstanceIdsDiffer) {
  uint64_t a = random_instance_id(), b = random_instance_id();
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, b);
  EXPECT_EQ(instance_hex(0x1f), "000000000000001f");
}

TEST(RedisSeenSeqs, DropsRepeatsAndOldOnes) {
  SeenSeqs seen;
  EXPECT_TRUE(seen.fresh(7, 1));
  EXPECT_TRUE(seen.fresh(7, 2));
  EXPECT_FALSE(seen.fresh(7, 2));  // sent again after a reconnect
  EXPECT_FALSE(seen.fresh(7, 1));
  EXPECT_TRUE(seen.fresh(8, 1));  // another instance counts on its own
  EXPECT_TRUE(seen.fresh(7, 5));  // a gap (lost in an outage) is fine
  EXPECT_FALSE(seen.fresh(7, 4));
}

TEST(RedisSeenSeqs, Bounded) {
  SeenSeqs seen(3);
  for (uint64_t i = 1; i <= 10; ++i) EXPECT_TRUE(seen.fresh(i, 1));
  EXPECT_TRUE(seen.fresh(11, 1));
}

using Clock = PublishQueue::Clock;

TEST(RedisPublishQueue, BoundedByBytes) {
  PublishQueue q(10, Millis(30000));
  auto now = Clock::now();
  EXPECT_TRUE(q.push("12345", now));
  EXPECT_TRUE(q.push("67890", now));
  EXPECT_FALSE(q.push("x", now));
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_EQ(q.bytes(), 10u);
  ASSERT_TRUE(q.next_to_send(now));
  q.confirm();
  EXPECT_TRUE(q.push("abcde", now));
}

TEST(RedisPublishQueue, InFlightIsSentAgainAfterRequeue) {
  PublishQueue q(100, Millis(30000));
  auto now = Clock::now();
  q.push("a", now);
  q.push("b", now);
  q.push("c", now);
  EXPECT_EQ(*q.next_to_send(now), "a");
  EXPECT_EQ(*q.next_to_send(now), "b");
  q.confirm();  // "a" arrived
  q.requeue();  // the link dropped with "b" unconfirmed
  EXPECT_EQ(*q.next_to_send(now), "b");
  EXPECT_EQ(*q.next_to_send(now), "c");
  EXPECT_EQ(q.next_to_send(now), nullptr);
  q.confirm();
  q.confirm();
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(RedisPublishQueue, StaleEntriesAreNotSentAfterAnOutage) {
  PublishQueue q(100, Millis(1000));
  auto t0 = Clock::now();
  q.push("old", t0);
  q.push("new", t0 + Millis(1500));
  EXPECT_EQ(*q.next_to_send(t0 + Millis(2000)), "new");
  EXPECT_EQ(q.expired(), 1u);
}

TEST(RedisHostPort, Parses) {
  EXPECT_EQ(parse_host_port("127.0.0.1:6379"), std::make_pair(std::string("127.0.0.1"), 6379));
  EXPECT_EQ(parse_host_port("localhost:1"), std::make_pair(std::string("localhost"), 1));
  EXPECT_EQ(parse_host_port("[::1]:6380"), std::make_pair(std::string("::1"), 6380));
  for (const char* bad : {"", "6379", "127.0.0.1", "127.0.0.1:", ":6379", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:63x", "::1:6379", "[::1:6379", "a b:1"})
    EXPECT_FALSE(parse_host_port(bad)) << bad;
}

}  // namespace
}  // namespace concur::redis
