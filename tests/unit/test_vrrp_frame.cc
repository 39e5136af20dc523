// SPDX-License-Identifier: Apache-2.0
// VRRP framing: what build_frame() writes parse_frame() reads back, and damaged IPv4 headers,
// fragments and other protocols are refused.
#include "vrrp_frame.h"

#include <gtest/gtest.h>

#include "checksum.h"
#include "vrrp_packet.h"

namespace fulcrum::vrrp {
namespace {

constexpr Ipv4Be kSrc = host_to_be32(0xc0000202U);  // 192.0.2.2
constexpr MacAddr kMac{{0x02, 0, 0, 0, 0x02, 0x02}};

std::vector<uint8_t> advert_frame() {
  const Advert a{3, 51, 150, std::chrono::milliseconds(100), {host_to_be32(0xc000021aU)}};
  return build_frame(kMac, kMulticastMac, kSrc, kMulticastGroup, 7,
                     encode_advert(a, kSrc, kMulticastGroup));
}

TEST(VrrpFrame, BuildThenParseRoundTrips) {
  const auto frame = advert_frame();
  ASSERT_EQ(frame.size(), 60U);  // 14 + 20 + 12 bytes, padded to Ethernet's minimum
  EXPECT_TRUE(is_vrrp_frame(frame.data(), frame.size()));
  const auto f = parse_frame(frame.data(), frame.size());
  ASSERT_TRUE(f);
  EXPECT_EQ(f->src, kSrc);
  EXPECT_EQ(f->dst, kMulticastGroup);
  EXPECT_EQ(f->ttl, 255);
  EXPECT_EQ(f->src_mac, kMac);
  EXPECT_EQ(f->payload_len, 12U);  // the padding is not part of the payload
  const DecodeResult d = decode_advert(f->payload, f->payload_len, f->src, f->dst, f->ttl, 3);
  ASSERT_TRUE(d.ok()) << to_string(d.reason);
  EXPECT_EQ(d.advert->priority, 150);
  // The multicast MAC of 224.0.0.18, the network-control TOS keepalived uses, a valid header.
  EXPECT_EQ(std::vector<uint8_t>(frame.begin(), frame.begin() + 6),
            (std::vector<uint8_t>{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12}));
  EXPECT_EQ(frame[15], 0xc0);
  EXPECT_TRUE(ipv4_header_checksum_ok(frame.data() + 14, 20));
}

TEST(VrrpFrame, VlanTaggedFrameIsRead) {
  auto frame = advert_frame();
  const uint8_t tag[] = {0x81, 0x00, 0x00, 0x0a};
  frame.insert(frame.begin() + 12, tag, tag + 4);
  EXPECT_TRUE(is_vrrp_frame(frame.data(), frame.size()));
  const auto f = parse_frame(frame.data(), frame.size());
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload_len, 12U);
}

TEST(VrrpFrame, DamagedHeadersAreRefused) {
  auto bad_sum = advert_frame();
  bad_sum[14 + 10] ^= 0xff;
  EXPECT_FALSE(parse_frame(bad_sum.data(), bad_sum.size()));

  auto fragment = advert_frame();
  fragment[14 + 6] = 0x20;  // more fragments
  EXPECT_FALSE(parse_frame(fragment.data(), fragment.size()));

  auto too_long = advert_frame();
  too_long[14 + 2] = 0x10;  // total length 4096: beyond the frame
  EXPECT_FALSE(parse_frame(too_long.data(), too_long.size()));

  auto tcp = advert_frame();
  tcp[14 + 9] = 6;
  EXPECT_FALSE(is_vrrp_frame(tcp.data(), tcp.size()));
  EXPECT_FALSE(parse_frame(tcp.data(), tcp.size()));

  const auto frame = advert_frame();
  for (size_t len = 0; len < 34; ++len) {
    EXPECT_FALSE(parse_frame(frame.data(), len)) << len;
  }
}

}  // namespace
}  // namespace fulcrum::vrrp
