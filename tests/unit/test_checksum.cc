// SPDX-License-Identifier: Apache-2.0
#include "checksum.h"

#include <gtest/gtest.h>

#include <random>

#include "packet_builder.h"

namespace fulcrum {
namespace {

using testing::reference_checksum;

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3's worked example: sum 0x00 01 f2 03 f4 f5 f6 f7 = 0xddf2 (before ~).
  const uint8_t bytes[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(be16_to_host(checksum_finish(checksum_partial(bytes, sizeof bytes))),
            static_cast<uint16_t>(~0xddf2 & 0xffff));
}

TEST(Checksum, KnownIpv4Header) {
  // Header of a golden frame built with scapy (checksum 0x8e7a).
  const uint8_t hdr[] = {0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06,
                         0x8e, 0x7a, 0xc6, 0x33, 0x64, 0x07, 0xc0, 0x00, 0x02, 0x1a};
  EXPECT_EQ(be16_to_host(ipv4_header_checksum(hdr, 20)), 0x8e7a);
  EXPECT_TRUE(ipv4_header_checksum_ok(hdr, 20));
  uint8_t broken[20];
  std::memcpy(broken, hdr, 20);
  broken[15] ^= 1;
  EXPECT_FALSE(ipv4_header_checksum_ok(broken, 20));
}

TEST(Checksum, OddLengthMatchesReference) {
  std::mt19937 rng(7);
  for (size_t len = 1; len < 64; ++len) {
    std::vector<uint8_t> v(len);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    EXPECT_EQ(be16_to_host(checksum_finish(checksum_partial(v.data(), v.size()))),
              reference_checksum(v))
        << "len " << len;
  }
}

// RFC 1624: the incremental update must equal a full recomputation, for random data and
// random field changes, including the corner cases where the sum is 0x0000 / 0xffff.
TEST(Checksum, IncrementalUpdateEqualsRecomputation) {
  std::mt19937 rng(42);
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> v(20);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    v[10] = v[11] = 0;
    const uint16_t before = checksum_finish(checksum_partial(v.data(), v.size()));
    const size_t at = (rng() % 4) * 4;  // a 32-bit field, not the checksum word
    if (at == 8) continue;
    const uint32_t old_v = load32(&v[at]);
    const uint32_t new_v = round % 100 == 0 ? 0 : static_cast<uint32_t>(rng());
    store32(&v[at], new_v);
    const uint16_t full = checksum_finish(checksum_partial(v.data(), v.size()));
    EXPECT_EQ(checksum_update32(before, old_v, new_v), full) << "round " << round;
    const uint16_t old16 = load16(&v[at]);
    const uint16_t new16 = static_cast<uint16_t>(rng());
    store16(&v[at], new16);
    EXPECT_EQ(checksum_update16(full, old16, new16),
              checksum_finish(checksum_partial(v.data(), v.size())));
  }
}

TEST(Checksum, L4ChecksumOfGoldenSegment) {
  testing::FrameSpec s;
  s.saddr = testing::ip("198.51.100.7");
  s.daddr = testing::ip("192.0.2.26");
  const auto f = testing::build_ipv4(s);
  std::vector<uint8_t> seg(f.begin() + 34, f.end());
  const uint16_t stored = load16(&seg[16]);
  seg[16] = seg[17] = 0;
  EXPECT_EQ(l4_checksum_ipv4(s.saddr, s.daddr, 6, seg.data(), seg.size()), stored);
  EXPECT_EQ(be16_to_host(stored), 0x011f);  // as scapy computes it for this segment
}

}  // namespace
}  // namespace fulcrum
