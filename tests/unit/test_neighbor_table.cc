// SPDX-License-Identifier: Apache-2.0
#include "neighbor_table.h"

#include <gtest/gtest.h>

#include "arp_frames.h"
#include "packet_builder.h"
#include "packet_parser.h"

namespace fulcrum {
namespace {

using testing::ip;

const MacAddr kMacA{{0x02, 0, 0, 0, 0, 0x10}};
const MacAddr kMacB{{0x02, 0, 0, 0, 0, 0x20}};

TEST(NeighborTable, AsksForUnresolvedAddressesAndRetries) {
  NeighborTable t(NeighborTimers{.retry_ms = 1000, .refresh_ms = 30000, .stale_ms = 300000});
  t.want({ip("192.0.2.10"), ip("192.0.2.11")});
  EXPECT_EQ(t.due_requests(0).size(), 2U);
  EXPECT_TRUE(t.due_requests(999).empty());  // asked, not yet due again
  EXPECT_EQ(t.due_requests(1000).size(), 2U);
  EXPECT_TRUE(t.learn(ip("192.0.2.10"), kMacA, 1200));
  EXPECT_EQ(t.due_requests(2000), std::vector<Ipv4Be>{ip("192.0.2.11")});
  EXPECT_EQ(t.lookup(ip("192.0.2.10")), kMacA);
  EXPECT_FALSE(t.lookup(ip("192.0.2.11")).has_value());
}

TEST(NeighborTable, LearnsOnlyWantedAddressesAndReportsChanges) {
  NeighborTable t;
  t.want({ip("192.0.2.10")});
  EXPECT_FALSE(t.learn(ip("192.0.2.99"), kMacA, 0));  // not wanted: ignored
  EXPECT_FALSE(t.lookup(ip("192.0.2.99")).has_value());
  EXPECT_TRUE(t.learn(ip("192.0.2.10"), kMacA, 0));
  EXPECT_FALSE(t.learn(ip("192.0.2.10"), kMacA, 10));  // same MAC: no new snapshot needed
  EXPECT_TRUE(t.learn(ip("192.0.2.10"), kMacB, 20));   // moved (failover of a backend's NIC)
  EXPECT_EQ(t.lookup(ip("192.0.2.10")), kMacB);
}

TEST(NeighborTable, RefreshesKeepingTheMacThenForgetsWhenStale) {
  NeighborTable t(NeighborTimers{.retry_ms = 1000, .refresh_ms = 30000, .stale_ms = 300000});
  t.want({ip("192.0.2.10")});
  t.due_requests(0);
  t.learn(ip("192.0.2.10"), kMacA, 0);
  EXPECT_TRUE(t.due_requests(29999).empty());
  EXPECT_EQ(t.due_requests(30000).size(), 1U);  // refresh
  EXPECT_EQ(t.lookup(ip("192.0.2.10")), kMacA);  // still usable meanwhile
  EXPECT_TRUE(t.due_requests(30500).empty());
  EXPECT_EQ(t.due_requests(31000).size(), 1U);  // unanswered: retry pace
  EXPECT_FALSE(t.expire(299999));
  EXPECT_TRUE(t.expire(300000));
  EXPECT_FALSE(t.lookup(ip("192.0.2.10")).has_value());
}

TEST(NeighborTable, WantDropsAddressesNoLongerNeeded) {
  NeighborTable t;
  t.want({ip("192.0.2.10"), ip("192.0.2.11")});
  t.learn(ip("192.0.2.10"), kMacA, 0);
  t.want({ip("192.0.2.11")});
  EXPECT_EQ(t.size(), 1U);
  EXPECT_FALSE(t.lookup(ip("192.0.2.10")).has_value());
}

TEST(ArpFrames, RequestMatchesTheReferenceBuilder) {
  uint8_t frame[kArpFrameLen];
  build_arp_request(frame, testing::kLbMac, ip("192.0.2.2"), ip("192.0.2.10"));
  const auto ref = testing::build_arp_request(testing::kLbMac, ip("192.0.2.2"), ip("192.0.2.10"));
  ASSERT_EQ(ref.size(), size_t{kArpFrameLen});
  EXPECT_EQ(0, std::memcmp(frame, ref.data(), kArpFrameLen));
}

TEST(ArpFrames, GratuitousArpAnnouncesTheAddress) {
  uint8_t frame[kArpFrameLen];
  build_gratuitous_arp(frame, testing::kLbMac, ip("192.0.2.26"));
  ParsedPacket p;
  ASSERT_EQ(parse_packet(frame, kArpFrameLen, p), ParseStatus::kOk);
  EXPECT_EQ(p.arp_op, 1);
  EXPECT_EQ(p.arp_spa, ip("192.0.2.26"));
  EXPECT_EQ(p.arp_tpa, ip("192.0.2.26"));
  EXPECT_EQ(p.arp_sha, testing::kLbMac);
  EXPECT_EQ(0, std::memcmp(frame, MacAddr::broadcast().bytes.data(), 6));
  const auto s = arp_sender(frame, kArpFrameLen);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->addr, ip("192.0.2.26"));
  EXPECT_EQ(s->mac, testing::kLbMac);
}

TEST(ArpFrames, SenderOfNonArpOrEmptySenderIsNothing) {
  testing::FrameSpec s;
  s.saddr = ip("192.0.2.100");
  s.daddr = ip("192.0.2.26");
  const auto tcp = testing::build_ipv4(s);
  EXPECT_FALSE(arp_sender(tcp.data(), static_cast<uint32_t>(tcp.size())).has_value());
  uint8_t probe[kArpFrameLen];
  build_arp_request(probe, testing::kLbMac, 0, ip("192.0.2.26"));  // ARP probe: sender 0.0.0.0
  EXPECT_FALSE(arp_sender(probe, kArpFrameLen).has_value());
}

}  // namespace
}  // namespace fulcrum
