// SPDX-License-Identifier: Apache-2.0
#include "packet_parser.h"

#include <gtest/gtest.h>

#include <random>

#include "packet_builder.h"

namespace fulcrum {
namespace {

using testing::build_ipv4;
using testing::FrameSpec;
using testing::ip;

std::vector<uint8_t> from_hex(const std::string& h) {
  std::vector<uint8_t> v;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    v.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  }
  return v;
}

// A TCP SYN built by scapy: 198.51.100.7:40000 -> 192.0.2.26:8774.
const char* kScapySyn =
    "0200000000020200000000010800450000280001000040068e7ac6336407c000021a9c402246000003e8000000"
    "005002ffff011f0000";

TEST(PacketParser, ParsesScapyTcpSyn) {
  const auto f = from_hex(kScapySyn);
  ParsedPacket p;
  ASSERT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p), ParseStatus::kOk);
  EXPECT_EQ(p.ether_type, kEtherTypeIpv4);
  EXPECT_FALSE(p.has_vlan);
  EXPECT_EQ(p.l3_offset, 14);
  EXPECT_EQ(p.l4_offset, 34);
  EXPECT_EQ(p.ip_total_len, 40);
  EXPECT_EQ(p.l4_len, 20);
  EXPECT_EQ(p.ttl, 64);
  EXPECT_EQ(p.tuple.to_string(), "tcp 198.51.100.7:40000 -> 192.0.2.26:8774");
  EXPECT_EQ(p.tcp_flags, kTcpSyn);
  EXPECT_EQ(p.tcp_header_len, 20);
  EXPECT_FALSE(p.is_fragment);
}

TEST(PacketParser, BuilderMatchesScapyByteForByte) {
  FrameSpec s;
  s.saddr = ip("198.51.100.7");
  s.daddr = ip("192.0.2.26");
  EXPECT_EQ(testing::hex(build_ipv4(s)), kScapySyn);
}

TEST(PacketParser, VlanTaggedUdp) {
  FrameSpec s;
  s.vlan = 0x0064;
  s.proto = 17;
  s.saddr = ip("198.51.100.7");
  s.daddr = ip("192.0.2.26");
  s.sport = 5353;
  s.dport = 53;
  s.payload = {'h', 'i'};
  const auto f = build_ipv4(s);
  ParsedPacket p;
  ASSERT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p), ParseStatus::kOk);
  EXPECT_TRUE(p.has_vlan);
  EXPECT_EQ(p.vlan_tci, 0x64);
  EXPECT_EQ(p.l3_offset, 18);
  EXPECT_EQ(p.tuple.to_string(), "udp 198.51.100.7:5353 -> 192.0.2.26:53");
}

TEST(PacketParser, IpOptionsMoveTheL4Header) {
  FrameSpec s;
  s.saddr = ip("10.0.0.1");
  s.daddr = ip("10.0.0.2");
  s.ip_options = {0x01, 0x01, 0x01, 0x00};  // NOP NOP NOP EOL
  const auto f = build_ipv4(s);
  ParsedPacket p;
  ASSERT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p), ParseStatus::kOk);
  EXPECT_EQ(p.ip_header_len, 24);
  EXPECT_EQ(p.l4_offset, 38);
  EXPECT_EQ(be16_to_host(p.tuple.dport), 8774);
}

TEST(PacketParser, FlagsFragments) {
  FrameSpec s;
  s.saddr = ip("10.0.0.1");
  s.daddr = ip("10.0.0.2");
  s.frag = 0x2000;  // MF, offset 0: first fragment has ports
  s.payload.assign(16, 0xaa);
  auto f = build_ipv4(s);
  ParsedPacket p;
  ASSERT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p), ParseStatus::kOk);
  EXPECT_TRUE(p.is_fragment);
  EXPECT_TRUE(p.is_first_fragment);
  EXPECT_EQ(be16_to_host(p.tuple.dport), 8774);

  s.frag = 0x0004;  // offset 32 bytes, last fragment: no L4 header
  f = build_ipv4(s);
  ASSERT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p), ParseStatus::kOk);
  EXPECT_TRUE(p.is_fragment);
  EXPECT_FALSE(p.is_first_fragment);
  EXPECT_EQ(p.tuple.dport, 0);
}

TEST(PacketParser, ArpRequest) {
  const auto f = testing::build_arp_request(testing::kClientMac, ip("192.0.2.100"),
                                            ip("192.0.2.26"));
  ParsedPacket p;
  ASSERT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p), ParseStatus::kOk);
  EXPECT_EQ(p.ether_type, kEtherTypeArp);
  EXPECT_EQ(p.arp_op, 1);
  EXPECT_EQ(p.arp_spa, ip("192.0.2.100"));
  EXPECT_EQ(p.arp_tpa, ip("192.0.2.26"));
  EXPECT_EQ(p.arp_sha, testing::kClientMac);
}

TEST(PacketParser, RejectsIpv6AndOtherEtherTypes) {
  std::vector<uint8_t> f(60, 0);
  f[12] = 0x86;
  f[13] = 0xdd;
  ParsedPacket p;
  EXPECT_EQ(parse_packet(f.data(), 60, p), ParseStatus::kIpv6);
  f[12] = 0x88;
  f[13] = 0xcc;  // LLDP
  EXPECT_EQ(parse_packet(f.data(), 60, p), ParseStatus::kOtherEtherType);
}

struct Corruption {
  const char* name;
  size_t offset;
  uint8_t value;
  ParseStatus expect;
};

TEST(PacketParser, LyingHeadersAreRejected) {
  FrameSpec s;
  s.saddr = ip("10.0.0.1");
  s.daddr = ip("10.0.0.2");
  const auto good = build_ipv4(s);
  const Corruption cases[] = {
      {"version 6 in an IPv4 frame", 14, 0x65, ParseStatus::kBadIpVersion},
      {"IHL 4", 14, 0x44, ParseStatus::kBadIhl},
      {"IHL 15 beyond the buffer", 14, 0x4f, ParseStatus::kBadIhl},
      {"total length beyond the buffer", 16, 0x05, ParseStatus::kBadIpLength},
      {"bad header checksum", 24, 0x00, ParseStatus::kBadIpChecksum},
  };
  for (const auto& c : cases) {
    auto f = good;
    f[c.offset] = c.value;
    ParsedPacket p;
    EXPECT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p), c.expect) << c.name;
  }
}

TEST(PacketParser, TcpDataOffsetBeyondPayloadIsRejected) {
  FrameSpec s;
  s.saddr = ip("10.0.0.1");
  s.daddr = ip("10.0.0.2");
  auto f = build_ipv4(s);
  f[34 + 12] = 0xf0;  // data offset 60 bytes, segment has 20
  ParsedPacket p;
  EXPECT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p), ParseStatus::kBadTcpHeader);
  f[34 + 12] = 0x40;  // data offset 16 < 20
  EXPECT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p), ParseStatus::kBadTcpHeader);
}

TEST(PacketParser, UdpLengthMustFit) {
  FrameSpec s;
  s.proto = 17;
  s.saddr = ip("10.0.0.1");
  s.daddr = ip("10.0.0.2");
  s.payload = {1, 2, 3, 4};
  auto f = build_ipv4(s);
  f[34 + 4] = 0x10;  // UDP says 4096 bytes
  ParsedPacket p;
  EXPECT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p), ParseStatus::kBadUdpLength);
}

// Every prefix of a valid frame must be rejected with a status (never read past the end).
// Run under AddressSanitizer, an overread would abort the test.
TEST(PacketParser, EveryTruncationIsAStatusNotAnOverread) {
  FrameSpec tcp;
  tcp.saddr = ip("10.0.0.1");
  tcp.daddr = ip("10.0.0.2");
  tcp.ip_options = {1, 1, 1, 0};
  FrameSpec udp = tcp;
  udp.proto = 17;
  udp.vlan = 7;
  FrameSpec icmp = tcp;
  icmp.proto = 1;
  const std::vector<std::vector<uint8_t>> frames = {
      build_ipv4(tcp), build_ipv4(udp), build_ipv4(icmp),
      testing::build_arp_request(testing::kClientMac, ip("10.0.0.1"), ip("10.0.0.2"))};
  for (const auto& full : frames) {
    for (size_t len = 0; len < full.size(); ++len) {
      // Copy into an exactly-sized heap buffer so ASan catches any overread.
      std::unique_ptr<uint8_t[]> buf(new uint8_t[len + 1]);
      std::memcpy(buf.get(), full.data(), len);
      ParsedPacket p;
      EXPECT_NE(parse_packet(buf.get(), static_cast<uint32_t>(len), p), ParseStatus::kOk)
          << "prefix of " << len << " bytes of a " << full.size() << "-byte frame";
    }
  }
}

TEST(PacketParser, RandomBytesNeverCrash) {
  std::mt19937 rng(1);
  int ok = 0;
  for (int i = 0; i < 20000; ++i) {
    const size_t len = rng() % 128;
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len + 1]);
    for (size_t j = 0; j < len; ++j) buf[j] = static_cast<uint8_t>(rng());
    if (len > 13 && i % 2) {  // half of them look like IPv4 to get past the Ethernet layer
      buf[12] = 0x08;
      buf[13] = 0x00;
    }
    ParsedPacket p;
    if (parse_packet(buf.get(), static_cast<uint32_t>(len), p) == ParseStatus::kOk) ++ok;
  }
  // A random IPv4 header passing version, IHL, length and checksum checks is rare.
  EXPECT_LT(ok, 200);
}

}  // namespace
}  // namespace fulcrum
