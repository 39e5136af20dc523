// SPDX-License-Identifier: Apache-2.0
#include "nat_rewrite.h"

#include <gtest/gtest.h>

#include <random>

#include "packet_builder.h"

namespace fulcrum {
namespace {

using testing::build_ipv4;
using testing::checksums_valid;
using testing::FrameSpec;
using testing::ip;

ParsedPacket parse(std::vector<uint8_t>& f) {
  ParsedPacket p;
  EXPECT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p), ParseStatus::kOk);
  return p;
}

FiveTuple tuple(const char* s, uint16_t sp, const char* d, uint16_t dp, uint8_t proto) {
  FiveTuple t;
  t.saddr = ip(s);
  t.daddr = ip(d);
  t.sport = host_to_be16(sp);
  t.dport = host_to_be16(dp);
  t.proto = proto;
  return t;
}

// The FNAT rewrite of a scapy-built SYN must give exactly the frame scapy builds for the
// rewritten tuple (TTL decremented, MACs changed): checksums included, byte for byte.
TEST(NatRewrite, FnatMatchesScapyGolden) {
  FrameSpec s;
  s.saddr = ip("198.51.100.7");
  s.daddr = ip("192.0.2.26");
  auto f = build_ipv4(s);
  const ParsedPacket p = parse(f);
  rewrite_tuple(f.data(), p, tuple("192.0.2.2", 1024, "192.0.2.10", 8774, 6));
  decrement_ttl(f.data(), p);
  set_ether_addresses(f.data(), testing::kBackendMac0, testing::kLbMac);
  EXPECT_EQ(testing::hex(f),
            "020000000010020000000002080045000028000100003f06f7c2c0000202c000020a04002246000003e8"
            "000000005002ffff01a80000");
}

TEST(NatRewrite, IncrementalEqualsFullRecomputationForTcpAndUdp) {
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    FrameSpec s;
    s.proto = i % 2 ? 6 : 17;
    s.saddr = static_cast<Ipv4Be>(rng());
    s.daddr = static_cast<Ipv4Be>(rng());
    s.sport = static_cast<uint16_t>(rng());
    s.dport = static_cast<uint16_t>(rng());
    s.tcp_flags = static_cast<uint8_t>(rng() & 0x3f);
    s.seq = static_cast<uint32_t>(rng());
    s.payload.resize(rng() % 200);
    for (auto& b : s.payload) b = static_cast<uint8_t>(rng());
    if (i % 7 == 0) s.ip_options = {1, 1, 1, 0};
    auto f = build_ipv4(s);
    ASSERT_TRUE(checksums_valid(f));
    const ParsedPacket p = parse(f);
    FiveTuple to;
    to.saddr = static_cast<Ipv4Be>(rng());
    to.daddr = i % 50 == 0 ? 0 : static_cast<Ipv4Be>(rng());
    to.sport = static_cast<uint16_t>(rng());
    to.dport = static_cast<uint16_t>(rng());
    rewrite_tuple(f.data(), p, to);
    decrement_ttl(f.data(), p);
    EXPECT_TRUE(checksums_valid(f)) << "case " << i << ": " << testing::hex(f);
    ParsedPacket q = parse(f);
    EXPECT_EQ(q.tuple.saddr, to.saddr);
    EXPECT_EQ(q.tuple.daddr, to.daddr);
    EXPECT_EQ(q.tuple.sport, to.sport);
    EXPECT_EQ(q.tuple.dport, to.dport);
    EXPECT_EQ(q.ttl, 63);
  }
}

TEST(NatRewrite, UdpWithoutChecksumStaysWithout) {
  FrameSpec s;
  s.proto = 17;
  s.udp_checksum = false;
  s.saddr = ip("198.51.100.7");
  s.daddr = ip("192.0.2.26");
  s.payload = {1, 2, 3};
  auto f = build_ipv4(s);
  const ParsedPacket p = parse(f);
  rewrite_tuple(f.data(), p, tuple("192.0.2.2", 2000, "192.0.2.10", 53, 17));
  EXPECT_EQ(f[34 + 6], 0);
  EXPECT_EQ(f[34 + 7], 0);
  EXPECT_TRUE(checksums_valid(f));
}

TEST(NatRewrite, ArpReplyAnswersForTarget) {
  auto f = testing::build_arp_request(testing::kClientMac, ip("192.0.2.100"), ip("192.0.2.26"));
  const ParsedPacket p = parse(f);
  make_arp_reply(f.data(), p, testing::kLbMac);
  ParsedPacket r = parse(f);
  EXPECT_EQ(r.arp_op, 2);
  EXPECT_EQ(r.arp_sha, testing::kLbMac);
  EXPECT_EQ(r.arp_spa, ip("192.0.2.26"));
  EXPECT_EQ(r.arp_tpa, ip("192.0.2.100"));
  EXPECT_EQ(0, std::memcmp(f.data(), testing::kClientMac.bytes.data(), 6));  // to the asker
  EXPECT_EQ(0, std::memcmp(f.data() + 6, testing::kLbMac.bytes.data(), 6));
  EXPECT_EQ(0, std::memcmp(f.data() + 32, testing::kClientMac.bytes.data(), 6));  // tha
}

TEST(NatRewrite, IcmpEchoReply) {
  FrameSpec s;
  s.proto = 1;
  s.saddr = ip("192.0.2.100");
  s.daddr = ip("192.0.2.26");
  s.ttl = 9;
  s.payload = {'p', 'i', 'n', 'g'};
  auto f = build_ipv4(s);
  const ParsedPacket p = parse(f);
  make_icmp_echo_reply(f.data(), p);
  ASSERT_TRUE(checksums_valid(f));
  const ParsedPacket r = parse(f);
  EXPECT_EQ(r.icmp_type, kIcmpEchoReply);
  EXPECT_EQ(r.tuple.saddr, ip("192.0.2.26"));
  EXPECT_EQ(r.tuple.daddr, ip("192.0.2.100"));
  EXPECT_EQ(r.ttl, 64);
  EXPECT_EQ(0, std::memcmp(f.data(), testing::kClientMac.bytes.data(), 6));
  EXPECT_EQ(f[f.size() - 1], 'g');  // payload echoed
}

TEST(NatRewrite, TcpResetForSegmentWithAck) {
  FrameSpec s;
  s.saddr = ip("198.51.100.7");
  s.daddr = ip("192.0.2.26");
  s.tcp_flags = kTcpAck | kTcpPsh;
  s.seq = 5000;
  s.ack = 777;
  s.payload.assign(100, 'x');
  auto f = build_ipv4(s);
  const ParsedPacket p = parse(f);
  f.resize(make_tcp_reset_reply(f.data(), p));
  ASSERT_EQ(f.size(), 54U);
  ASSERT_TRUE(checksums_valid(f));
  const ParsedPacket r = parse(f);
  EXPECT_EQ(r.tuple.to_string(), "tcp 192.0.2.26:8774 -> 198.51.100.7:40000");
  EXPECT_EQ(r.tcp_flags, kTcpRst);
  EXPECT_EQ(be32_to_host(load32(&f[38])), 777U);  // seq = the segment's ack
}

TEST(NatRewrite, TcpResetForSyn) {
  FrameSpec s;
  s.saddr = ip("198.51.100.7");
  s.daddr = ip("192.0.2.26");
  s.tcp_flags = kTcpSyn;
  s.seq = 0xffffffff;  // wraps
  auto f = build_ipv4(s);
  const ParsedPacket p = parse(f);
  f.resize(make_tcp_reset_reply(f.data(), p));
  ASSERT_TRUE(checksums_valid(f));
  const ParsedPacket r = parse(f);
  EXPECT_EQ(r.tcp_flags, kTcpRst | kTcpAck);
  EXPECT_EQ(be32_to_host(load32(&f[42])), 0U);  // ack = seq + 1 (SYN), wrapped
}

}  // namespace
}  // namespace fulcrum
