// SPDX-License-Identifier: Apache-2.0
// VRRP advertisement encoding/decoding against golden bytes built by hand (RFC 5798 / RFC 3768
// layouts), plus every single-byte corruption of a valid advert (run under ASan/UBSan).
#include "vrrp_packet.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace fulcrum::vrrp {
namespace {

constexpr Ipv4Be kSrc = host_to_be32(0xc0000201U);   // 192.0.2.1
constexpr Ipv4Be kVip = host_to_be32(0xc000021aU);   // 192.0.2.26
constexpr Ipv4Be kVip2 = host_to_be32(0xc000021bU);  // 192.0.2.27

// Straightforward big-endian one's-complement sum, independent of checksum.cc.
uint16_t reference_checksum(const std::vector<uint8_t>& bytes) {
  uint32_t sum = 0;
  for (size_t i = 0; i < bytes.size(); i += 2) {
    const uint32_t hi = bytes[i];
    const uint32_t lo = i + 1 < bytes.size() ? bytes[i + 1] : 0;
    sum += (hi << 8) | lo;
  }
  while (sum >> 16) sum = (sum & 0xffffU) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffffU);
}

// v3: vrid 51, priority 100, 100 ms (10 cs), one address 192.0.2.26, to 224.0.0.18.
std::vector<uint8_t> golden_v3() {
  std::vector<uint8_t> msg = {0x31, 51, 100, 1, 0x00, 0x0a, 0, 0, 192, 0, 2, 26};
  std::vector<uint8_t> with_pseudo = {192, 0, 2, 1, 224, 0, 0, 18, 0, 112, 0, 12};
  with_pseudo.insert(with_pseudo.end(), msg.begin(), msg.end());
  const uint16_t ck = reference_checksum(with_pseudo);
  msg[6] = static_cast<uint8_t>(ck >> 8);
  msg[7] = static_cast<uint8_t>(ck & 0xff);
  return msg;
}

// v2: vrid 51, priority 100, 1 s, auth type 0, addresses 192.0.2.26 and .27, zero auth data.
std::vector<uint8_t> golden_v2() {
  std::vector<uint8_t> msg = {0x21, 51, 100, 2,  0, 1, 0, 0, 192, 0, 2, 26,
                              192,  0,  2,   27, 0, 0, 0, 0, 0,   0, 0, 0};
  const uint16_t ck = reference_checksum(msg);
  msg[6] = static_cast<uint8_t>(ck >> 8);
  msg[7] = static_cast<uint8_t>(ck & 0xff);
  return msg;
}

Advert advert_v3() {
  return Advert{3, 51, 100, std::chrono::milliseconds(100), {kVip}};
}
Advert advert_v2() {
  return Advert{2, 51, 100, std::chrono::milliseconds(1000), {kVip, kVip2}};
}

TEST(VrrpPacket, V3EncodeMatchesGolden) {
  EXPECT_EQ(encode_advert(advert_v3(), kSrc, kMulticastGroup), golden_v3());
}

TEST(VrrpPacket, V3GoldenDecodes) {
  const auto golden = golden_v3();
  const auto r = decode_advert(golden.data(), golden.size(), kSrc, kMulticastGroup, 255, 3);
  ASSERT_TRUE(r.ok()) << to_string(r.reason);
  EXPECT_EQ(*r.advert, advert_v3());
}

TEST(VrrpPacket, V3ChecksumCoversPseudoHeader) {
  const auto golden = golden_v3();
  const Ipv4Be other_src = host_to_be32(0xc0000202U);
  const auto r = decode_advert(golden.data(), golden.size(), other_src, kMulticastGroup, 255, 3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.reason, DropReason::kChecksum);
}

TEST(VrrpPacket, V2EncodeMatchesGolden) {
  EXPECT_EQ(encode_advert(advert_v2(), kSrc, kMulticastGroup), golden_v2());
}

TEST(VrrpPacket, V2GoldenDecodesAndIgnoresAddresses) {
  const auto golden = golden_v2();
  // v2's checksum has no pseudo-header: any src/dst decodes.
  const auto r = decode_advert(golden.data(), golden.size(), 0, 0, 255, 2);
  ASSERT_TRUE(r.ok()) << to_string(r.reason);
  EXPECT_EQ(*r.advert, advert_v2());
}

TEST(VrrpPacket, IntervalEncodingLimits) {
  Advert a = advert_v3();
  a.interval = std::chrono::milliseconds(50000);  // above 4095 cs: capped
  auto bytes = encode_advert(a, kSrc, kMulticastGroup);
  auto r = decode_advert(bytes.data(), bytes.size(), kSrc, kMulticastGroup, 255, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.advert->interval, kMaxIntervalV3);
  a.interval = std::chrono::milliseconds(3);  // below 1 cs: 1 cs
  bytes = encode_advert(a, kSrc, kMulticastGroup);
  r = decode_advert(bytes.data(), bytes.size(), kSrc, kMulticastGroup, 255, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.advert->interval, std::chrono::milliseconds(10));
  Advert b = advert_v2();
  b.interval = std::chrono::milliseconds(2500);  // whole seconds, rounded down
  bytes = encode_advert(b, kSrc, kMulticastGroup);
  r = decode_advert(bytes.data(), bytes.size(), kSrc, kMulticastGroup, 255, 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.advert->interval, std::chrono::seconds(2));
}

TEST(VrrpPacket, DropReasons) {
  auto g3 = golden_v3();
  auto d3 = [&](const std::vector<uint8_t>& m, uint8_t ttl = 255, uint8_t ver = 3) {
    return decode_advert(m.data(), m.size(), kSrc, kMulticastGroup, ttl, ver).reason;
  };
  EXPECT_EQ(d3(g3, 254), DropReason::kTtl);
  EXPECT_EQ(d3(g3, 255, 2), DropReason::kVersion);
  EXPECT_EQ(d3(std::vector<uint8_t>(g3.begin(), g3.begin() + 7)), DropReason::kTruncated);
  EXPECT_EQ(d3(std::vector<uint8_t>(g3.begin(), g3.end() - 1)), DropReason::kAddressCount);
  auto bad_type = g3;
  bad_type[0] = 0x32;
  EXPECT_EQ(d3(bad_type), DropReason::kType);
  auto zero_count = g3;
  zero_count[3] = 0;
  EXPECT_EQ(d3(std::vector<uint8_t>(zero_count.begin(), zero_count.begin() + 8)),
            DropReason::kAddressCount);
  auto bad_ck = g3;
  bad_ck[7] ^= 0x01;
  EXPECT_EQ(d3(bad_ck), DropReason::kChecksum);
  EXPECT_EQ(decode_advert(nullptr, 0, 0, 0, 255, 3).reason, DropReason::kTruncated);

  // v2 with a non-zero auth type and a right checksum: kAuth.
  Advert a = advert_v2();
  auto g2 = encode_advert(a, 0, 0);
  g2[4] = 1;
  g2[6] = g2[7] = 0;
  const uint16_t ck = reference_checksum(g2);
  g2[6] = static_cast<uint8_t>(ck >> 8);
  g2[7] = static_cast<uint8_t>(ck & 0xff);
  EXPECT_EQ(decode_advert(g2.data(), g2.size(), 0, 0, 255, 2).reason, DropReason::kAuth);
  // v2 truncated inside the auth trailer.
  EXPECT_EQ(decode_advert(g2.data(), 12, 0, 0, 255, 2).reason, DropReason::kTruncated);
  EXPECT_EQ(to_string(DropReason::kChecksum), "checksum");
}

// Every single-byte change of a valid advert (every byte, every other value) is dropped.
void every_single_byte_corruption(const std::vector<uint8_t>& golden, uint8_t version) {
  for (size_t i = 0; i < golden.size(); ++i) {
    for (int v = 0; v < 256; ++v) {
      if (v == golden[i]) continue;
      std::vector<uint8_t> m = golden;
      m[i] = static_cast<uint8_t>(v);
      // Exact-size heap copy so ASan catches any read past the end.
      const auto r = decode_advert(m.data(), m.size(), kSrc, kMulticastGroup, 255, version);
      EXPECT_FALSE(r.ok()) << "byte " << i << " = " << v << " decoded";
    }
  }
  // Every truncation too.
  for (size_t len = 0; len < golden.size(); ++len) {
    std::vector<uint8_t> m(golden.begin(), golden.begin() + static_cast<std::ptrdiff_t>(len));
    EXPECT_FALSE(decode_advert(m.data(), m.size(), kSrc, kMulticastGroup, 255, version).ok());
  }
}

TEST(VrrpPacket, EverySingleByteCorruptionV3IsDropped) {
  every_single_byte_corruption(golden_v3(), 3);
}

TEST(VrrpPacket, EverySingleByteCorruptionV2IsDropped) {
  every_single_byte_corruption(encode_advert(advert_v2(), kSrc, kMulticastGroup), 2);
}

}  // namespace
}  // namespace fulcrum::vrrp
