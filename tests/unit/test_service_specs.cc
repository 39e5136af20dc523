// SPDX-License-Identifier: Apache-2.0
#include "service_specs.h"
#include "service_state.h"

#include <gtest/gtest.h>

#include "packet_builder.h"

namespace fulcrum {
namespace {

using testing::ip;

const char* kConfig = R"(
[[port]]
name = "lan"
device = "net_af_packet0,iface=lb0-0"
address = "192.0.2.2/24"
gateway = "192.0.2.1"

[[service]]
name = "nova-api"
vip = "192.0.2.26"
port = 8774
backends = [ { address = "192.0.2.10" }, { address = "192.0.2.11", weight = 3 },
             { address = "198.51.100.5", port = 8775 } ]

[[service]]
name = "galera"
vip = "192.0.2.26"
port = 3306
forward = "dsr"
backends = [ { address = "192.0.2.10" } ]

[[service]]
name = "dns"
vip = "192.0.2.27"
port = 53
protocol = "udp"
backends = [ { address = "192.0.2.12" } ]
)";

Config load() {
  LoadResult r = load_config_string(kConfig, "test.toml");
  for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
  return *r.config;
}

TEST(ServiceSpecs, NextHopIsTheBackendOnLinkElseTheGateway) {
  const Config c = load();
  EXPECT_EQ(next_hop(c.ports[0], ip("192.0.2.10")), ip("192.0.2.10"));
  EXPECT_EQ(next_hop(c.ports[0], ip("198.51.100.5")), ip("192.0.2.1"));
  PortConfig no_gw = c.ports[0];
  no_gw.gateway.reset();
  EXPECT_FALSE(next_hop(no_gw, ip("198.51.100.5")).has_value());
  EXPECT_EQ(next_hops_needed(c, c.ports[0]),
            (std::vector<Ipv4Be>{ip("192.0.2.1"), ip("192.0.2.10"), ip("192.0.2.11"),
                                 ip("192.0.2.12")}));
}

TEST(ServiceSpecs, NodeOwnsEveryServiceVipOnce) {
  const Config c = load();
  const NodeSpec node = node_spec(c, c.ports[0], testing::kLbMac);
  EXPECT_EQ(node.local_addr, ip("192.0.2.2"));
  EXPECT_EQ(node.local_mac, testing::kLbMac);
  EXPECT_EQ(node.vips, (std::vector<Ipv4Be>{ip("192.0.2.26"), ip("192.0.2.27")}));
  EXPECT_EQ(node.fnat_port_lo, 1024);
  // And with the services' specs it builds into a snapshot.
  ServiceState state;
  state.apply(c);
  NeighborTable n;
  n.want(next_hops_needed(c, c.ports[0]));
  n.learn(ip("192.0.2.10"), testing::kBackendMac0, 0);
  n.learn(ip("192.0.2.1"), testing::kBackendMac2, 0);
  const auto specs = state.specs(c.ports[0], n);
  ASSERT_EQ(specs.size(), 3U);
  EXPECT_EQ(specs[0].backends[0].mac, testing::kBackendMac0);
  EXPECT_TRUE(specs[0].backends[1].mac.is_zero());             // unresolved yet
  EXPECT_EQ(specs[0].backends[2].mac, testing::kBackendMac2);  // off-link: via the gateway
  EXPECT_EQ(specs[0].backends[2].port, 8775);
  EXPECT_EQ(specs[0].backends[1].weight, 3);
  const auto snap = build_snapshot(node, specs, 1);
  EXPECT_EQ(snap->services.size(), 3U);
}

}  // namespace
}  // namespace fulcrum
