// RoomCursor (issue 20): where an instance stands in its room's log, fed positions, live messages
// and log pages as Redis would give them.
#include "redis/room_cursor.hpp"

#include <gtest/gtest.h>

#include "redis/envelope.hpp"
#include "redis/room_script.hpp"

namespace concur::redis {
namespace {

const std::string kE1 = "00000000000000e1", kE2 = "00000000000000e2";
using Live = RoomCursor::Live;

std::string id(uint64_t offset) { return std::to_string(1000 + offset) + "-0"; }

RoomCursor started_at(uint64_t offset, const std::string& epoch = kE1) {
  RoomCursor c;
  auto v = c.on_position({epoch, offset, offset ? id(offset) : ""});
  EXPECT_FALSE(v.read || v.epoch_changed);
  return c;
}

TEST(RoomCursor, TheFirstPositionPlacesItAndLiveMessagesFollowInOrder) {
  RoomCursor c = started_at(10);
  EXPECT_EQ(c.delivered(), 10u);
  EXPECT_EQ(c.on_live(kE1, 11, id(11)), Live::deliver);
  EXPECT_EQ(c.on_live(kE1, 11, id(11)), Live::duplicate);
  EXPECT_EQ(c.on_live(kE1, 5, id(5)), Live::duplicate);
  EXPECT_EQ(c.on_live(kE1, 12, id(12)), Live::deliver);
  EXPECT_EQ(c.delivered(), 12u);
  EXPECT_EQ(c.read_after(), "(" + id(12));
}

TEST(RoomCursor, BeforeItsFirstPositionLiveMessagesAreIgnored) {
  RoomCursor c;
  EXPECT_EQ(c.on_live(kE1, 1, id(1)), Live::ignored);
}

TEST(RoomCursor, AGapInLiveTrafficReadsTheLogAndLiveWaitsForIt) {
  RoomCursor c = started_at(10);
  EXPECT_EQ(c.on_live(kE1, 13, id(13)), Live::read);
  EXPECT_TRUE(c.reading());
  EXPECT_EQ(c.read_after(), "(" + id(10));
  EXPECT_EQ(c.on_live(kE1, 14, id(14)), Live::behind);  // read, not delivered live
  for (uint64_t o = 11; o <= 14; ++o) {
    auto e = c.on_entry(o, id(o));
    EXPECT_TRUE(e.deliver);
    EXPECT_EQ(e.gap_before, 0u);
  }
  auto end = c.on_page_end(4, 256);
  EXPECT_FALSE(end.more);
  EXPECT_EQ(end.lost, 0u);
  EXPECT_FALSE(c.reading());
  EXPECT_EQ(c.on_live(kE1, 14, id(14)), Live::duplicate);
  EXPECT_EQ(c.on_live(kE1, 15, id(15)), Live::deliver);
}

TEST(RoomCursor, AReconnectCatchesUpPageByPage) {
  RoomCursor c = started_at(0);
  auto v = c.on_position({kE1, 600, id(600)});
  EXPECT_TRUE(v.read);
  EXPECT_FALSE(v.epoch_changed);
  EXPECT_EQ(c.read_after(), "-");
  for (uint64_t o = 1; o <= 256; ++o) EXPECT_TRUE(c.on_entry(o, id(o)).deliver);
  EXPECT_TRUE(c.on_page_end(256, 256).more);
  EXPECT_EQ(c.read_after(), "(" + id(256));
  for (uint64_t o = 257; o <= 512; ++o) c.on_entry(o, id(o));
  EXPECT_TRUE(c.on_page_end(256, 256).more);
  for (uint64_t o = 513; o <= 600; ++o) c.on_entry(o, id(o));
  EXPECT_FALSE(c.on_page_end(88, 256).more);
  EXPECT_EQ(c.delivered(), 600u);
}

TEST(RoomCursor, TrimmedEntriesAreAGapBeforeTheFirstOneLeft) {
  RoomCursor c = started_at(10);
  c.on_position({kE1, 500, id(500)});
  auto e = c.on_entry(451, id(451));
  EXPECT_TRUE(e.deliver);
  EXPECT_EQ(e.gap_before, 440u);  // 11..450 trimmed
  for (uint64_t o = 452; o <= 500; ++o) EXPECT_EQ(c.on_entry(o, id(o)).gap_before, 0u);
  EXPECT_FALSE(c.on_page_end(50, 256).more);
}

TEST(RoomCursor, ALogThatEndsBeforeTheTargetCountsTheRestLost) {
  RoomCursor c = started_at(10);
  c.on_position({kE1, 20, id(20)});
  c.on_page_sent();
  c.on_entry(11, id(11));
  auto end = c.on_page_end(1, 256);
  EXPECT_EQ(end.lost, 9u);
  EXPECT_EQ(c.delivered(), 20u);
  EXPECT_EQ(c.on_live(kE1, 21, id(21)), Live::deliver);
}

TEST(RoomCursor, WhatLiveTrafficAnnouncedWhileAPageWasOnItsWayIsReadNotLost) {
  RoomCursor c = started_at(10);
  c.on_position({kE1, 12, id(12)});
  c.on_page_sent();
  EXPECT_EQ(c.on_live(kE1, 13, id(13)), Live::behind);  // published after the page was read
  c.on_entry(11, id(11));
  c.on_entry(12, id(12));
  auto end = c.on_page_end(2, 256);
  EXPECT_TRUE(end.more);
  EXPECT_EQ(end.lost, 0u);
  c.on_page_sent();
  EXPECT_TRUE(c.on_entry(13, id(13)).deliver);
  end = c.on_page_end(1, 256);
  EXPECT_FALSE(end.more);
  EXPECT_FALSE(c.reading());
}

TEST(RoomCursor, JunkAndOldEntriesAreSkippedButMoveTheReadOn) {
  RoomCursor c = started_at(10);
  c.on_position({kE1, 11, id(11)});
  c.on_junk("1999-0");
  EXPECT_EQ(c.read_after(), "(1999-0");
  EXPECT_FALSE(c.on_entry(9, id(9)).deliver);
  EXPECT_TRUE(c.on_entry(11, id(11)).deliver);
}

TEST(RoomCursor, AnotherEpochLiveIsNotBelievedUntilAPositionSaysSo) {
  RoomCursor c = started_at(10);
  EXPECT_EQ(c.on_live(kE2, 1, id(1)), Live::foreign);
  EXPECT_EQ(c.epoch(), kE1);
  c.on_live(kE1, 11, id(11));
  c.on_position({kE1, 15, id(15)});  // 12..15 exist, not delivered: then Redis lost it
  c.abandon_read();
  auto v = c.on_check({kE2, 3, id(3)}, c.asked());
  EXPECT_TRUE(v.epoch_changed);
  EXPECT_EQ(v.lost, 4u);
  EXPECT_TRUE(v.read);
  EXPECT_EQ(c.read_after(), "-");
  EXPECT_EQ(c.epoch(), kE2);
  EXPECT_EQ(c.delivered(), 0u);
}

TEST(RoomCursor, ARoomRedisForgotIsToldOnceAndItsNextEpochIsAdopted) {
  RoomCursor c = started_at(10);
  auto v = c.on_position({"", 0, ""});
  EXPECT_TRUE(v.epoch_changed);
  EXPECT_EQ(v.lost, 0u);
  EXPECT_FALSE(v.read);
  EXPECT_EQ(c.on_live(kE2, 1, id(1)), Live::deliver);  // the new epoch's first message
  EXPECT_EQ(c.epoch(), kE2);
  EXPECT_FALSE(c.on_position({kE2, 1, id(1)}).epoch_changed);
}

TEST(RoomCursor, RedisBehindWhatWasDeliveredIsARewindNotADuplicate) {
  RoomCursor c = started_at(10);
  auto v = c.on_position({kE1, 8, id(8)});  // a failover lost offsets 9 and 10
  EXPECT_TRUE(v.rewound);
  EXPECT_FALSE(v.epoch_changed);
  EXPECT_TRUE(c.on_check({kE1, 9, id(9)}, c.asked()).rewound);
  // The room moved to a new epoch: told once, its log read from the start, its trimmed head no gap.
  v = c.on_check({kE2, 9, id(9)}, c.asked());
  EXPECT_TRUE(v.epoch_changed);
  EXPECT_TRUE(v.read);
  EXPECT_EQ(c.on_entry(5, id(5)).gap_before, 0u);
  EXPECT_EQ(c.on_entry(7, id(7)).gap_before, 1u);
}

TEST(RoomCursor, AnEmptyRoomAtStartIsNotAGap) {
  RoomCursor c = started_at(0, "");
  EXPECT_EQ(c.on_live(kE1, 1, id(1)), Live::deliver);
  RoomCursor d = started_at(0, "");
  EXPECT_EQ(d.on_live(kE1, 3, id(3)), Live::read);  // 1 and 2 were published before it subscribed
  EXPECT_EQ(d.read_after(), "-");
}

TEST(RoomCursor, ThePeriodicCheckReadsOnlyWhenLiveDeliveryStalled) {
  RoomCursor c = started_at(10);
  EXPECT_FALSE(c.on_check({kE1, 12, id(12)}, c.asked()).read);  // a little behind: live will bring it
  c.on_live(kE1, 11, id(11));
  c.on_live(kE1, 12, id(12));
  EXPECT_FALSE(c.on_check({kE1, 14, id(14)}, c.asked()).read);  // it reached what the last check saw
  EXPECT_TRUE(c.on_check({kE1, 16, id(16)}, c.asked()).read);   // it did not: the subscription is wedged
}

TEST(RoomCursor, APositionThatRacedLiveMessagesIsNotBelieved) {
  RoomCursor c = started_at(0, "");
  auto asked = c.asked();                              // the room was empty then
  EXPECT_EQ(c.on_live(kE1, 1, id(1)), Live::deliver);  // its first message, live, before the answer
  auto v = c.on_check({"", 0, ""}, asked);
  EXPECT_FALSE(v.epoch_changed) << "an answer older than the epoch is no epoch change";
  asked = c.asked();
  c.on_live(kE1, 2, id(2));
  v = c.on_check({kE1, 1, id(1)}, asked);  // older than live delivery: not a rewind
  EXPECT_FALSE(v.rewound);
  EXPECT_FALSE(v.read);
  EXPECT_TRUE(c.on_check({kE1, 1, id(1)}, c.asked()).rewound);  // asked after 2 was delivered: it is
}

TEST(RoomCursor, APageOfAnEpochLeftBehindIsIgnored) {
  RoomCursor c = started_at(10);
  c.on_position({kE1, 20, id(20)});
  uint64_t g = c.read_generation();
  c.on_check({kE2, 2, id(2)}, c.asked());
  EXPECT_NE(c.read_generation(), g);
}

TEST(LiveMessage, SequencedAndBareEnvelopesDecode) {
  std::string env = encode_envelope(0xab, 7, "[alice]hi");
  auto bare = decode_live(env);
  ASSERT_TRUE(bare);
  EXPECT_FALSE(bare->sequenced);
  EXPECT_EQ(bare->env.text, "[alice]hi");
  std::string live = encode_live(kE1, 42, "1700000000000-3", env);
  auto m = decode_live(live);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->sequenced);
  EXPECT_EQ(m->epoch, kE1);
  EXPECT_EQ(m->offset, 42u);
  EXPECT_EQ(m->entry_id, "1700000000000-3");
  EXPECT_EQ(m->env.seq, 7u);
  EXPECT_EQ(envelope_seq(env), 7u);
  for (std::string bad : {"concur2 " + kE1 + " 0 1-0 " + env, "concur2 " + kE1 + " 01 1-0 " + env,
                          "concur2 xyz 1 1-0 " + env, "concur2 " + kE1 + " 1 1- " + env,
                          "concur2 " + kE1 + " 1 1-0 [alice]hi", "concur2 " + kE1 + " 1 1-0",
                          std::string("concur2 ")})
    EXPECT_FALSE(decode_live(bad)) << bad;
}

TEST(RoomScript, ItsShaIsFortyHexDigits) {
  EXPECT_EQ(publish_script_sha().size(), 40u);
  EXPECT_EQ(epoch_candidate().size(), 16u);
  EXPECT_TRUE(valid_epoch(epoch_candidate()));
}

}  // namespace
}  // namespace concur::redis
