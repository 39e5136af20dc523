// SPDX-License-Identifier: Apache-2.0
#include "net_types.h"

#include <gtest/gtest.h>

namespace fulcrum {
namespace {

TEST(NetTypes, ParsesDottedQuadIntoNetworkOrder) {
  const auto a = parse_ipv4("192.0.2.26");
  ASSERT_TRUE(a.has_value());
  const auto* b = reinterpret_cast<const uint8_t*>(&*a);
  EXPECT_EQ(b[0], 192);
  EXPECT_EQ(b[1], 0);
  EXPECT_EQ(b[2], 2);
  EXPECT_EQ(b[3], 26);
  EXPECT_EQ(ipv4_to_string(*a), "192.0.2.26");
}

TEST(NetTypes, RejectsMalformedAddresses) {
  for (const char* bad : {"", "192.0.2", "192.0.2.256", "192.0.2.1 ", "a.b.c.d", "1.2.3.4.5",
                          "1111111111111111"}) {
    EXPECT_FALSE(parse_ipv4(bad).has_value()) << bad;
  }
}

TEST(NetTypes, MacRoundTrip) {
  const auto mac = MacAddr::parse("02:aB:00:ff:10:01");
  ASSERT_TRUE(mac.has_value());
  EXPECT_EQ(mac->to_string(), "02:ab:00:ff:10:01");
  EXPECT_FALSE(MacAddr::parse("02:ab:00:ff:10").has_value());
  EXPECT_FALSE(MacAddr::parse("02-ab-00-ff-10-01").has_value());
  EXPECT_FALSE(MacAddr::parse("02:ab:00:ff:10:0g").has_value());
}

TEST(NetTypes, FiveTupleReverseAndPrint) {
  FiveTuple t;
  t.saddr = *parse_ipv4("198.51.100.7");
  t.daddr = *parse_ipv4("192.0.2.26");
  t.sport = host_to_be16(40000);
  t.dport = host_to_be16(8774);
  t.proto = 6;
  EXPECT_EQ(t.to_string(), "tcp 198.51.100.7:40000 -> 192.0.2.26:8774");
  EXPECT_EQ(t.reversed().to_string(), "tcp 192.0.2.26:8774 -> 198.51.100.7:40000");
  EXPECT_EQ(t.reversed().reversed(), t);
}

}  // namespace
}  // namespace fulcrum
