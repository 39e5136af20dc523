// SPDX-License-Identifier: Apache-2.0
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

[[service]]
name = "nova-api"
vip = "192.0.2.26"
port = 8774
check = { type = "http" }
backends = [ { address = "192.0.2.10" }, { address = "192.0.2.11" }, { address = "192.0.2.12" } ]

[[service]]
name = "galera"
vip = "192.0.2.26"
port = 3306
pool = "standby"
check = { type = "tcp" }
backends = [ { address = "192.0.2.10" }, { address = "192.0.2.11" }, { address = "192.0.2.12" } ]

[[service]]
name = "plain"
vip = "192.0.2.27"
port = 80
backends = [ { address = "192.0.2.10" }, { address = "192.0.2.10", port = 8080 } ]
)";

Config load(const std::string& text = kConfig) {
  LoadResult r = load_config_string(text, "t.toml");
  for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
  return *r.config;
}

std::vector<BackendState> states(const ServiceState& st, const Config& c, size_t service) {
  NeighborTable n;
  const std::vector<ServiceSpec> specs = st.specs(c.ports[0], n);
  std::vector<BackendState> out;
  for (const auto& b : specs[service].backends) out.push_back(b.state);
  return out;
}

constexpr auto kUp = BackendState::kUp;
constexpr auto kDown = BackendState::kDown;
constexpr auto kDraining = BackendState::kDraining;
constexpr auto kDisabled = BackendState::kDisabled;

TEST(ServiceState, CheckedBackendsTakeNoFlowsUntilTheirFirstResult) {
  const Config c = load();
  ServiceState st;
  st.apply(c);
  EXPECT_EQ(states(st, c, 0), (std::vector<BackendState>{kDown, kDown, kDown}));
  EXPECT_EQ(states(st, c, 2), (std::vector<BackendState>{kUp, kUp}));  // no check: up
  EXPECT_TRUE(st.set_health("nova-api", ip("192.0.2.11"), 8774, BackendHealth::kUp));
  EXPECT_EQ(states(st, c, 0), (std::vector<BackendState>{kDown, kUp, kDown}));
  EXPECT_FALSE(st.set_health("nova-api", ip("192.0.2.11"), 8774, BackendHealth::kUp));
}

TEST(ServiceState, StandbyWaitsForEarlierBackendsThenPicksTheFirstHealthy) {
  const Config c = load();
  ServiceState st;
  st.apply(c);
  // c1 answers first, but c0 (earlier) has no result yet: nobody serves.
  st.set_health("galera", ip("192.0.2.11"), 3306, BackendHealth::kUp);
  EXPECT_EQ(st.services()[1].writer, -1);
  st.set_health("galera", ip("192.0.2.10"), 3306, BackendHealth::kUp);
  EXPECT_EQ(st.services()[1].writer, 0);
  EXPECT_EQ(states(st, c, 1), (std::vector<BackendState>{kUp, kDraining, kDown}));
}

TEST(ServiceState, StandbyFailsOverAndDoesNotFailBack) {
  const Config c = load();
  ServiceState st;
  st.apply(c);
  for (const char* a : {"192.0.2.10", "192.0.2.11", "192.0.2.12"}) {
    st.set_health("galera", ip(a), 3306, BackendHealth::kUp);
  }
  ASSERT_EQ(st.services()[1].writer, 0);
  EXPECT_TRUE(st.set_health("galera", ip("192.0.2.10"), 3306, BackendHealth::kDown));
  EXPECT_EQ(st.services()[1].writer, 1);
  EXPECT_EQ(states(st, c, 1), (std::vector<BackendState>{kDown, kUp, kDraining}));
  // c0 recovers: failback = false (the standby default) keeps c1.
  st.set_health("galera", ip("192.0.2.10"), 3306, BackendHealth::kUp);
  EXPECT_EQ(st.services()[1].writer, 1);
  // A reload of the same config keeps the writer and the health.
  st.apply(c);
  EXPECT_EQ(st.services()[1].writer, 1);
  EXPECT_EQ(st.services()[1].backends[0].health, BackendHealth::kUp);
}

TEST(ServiceState, StandbyWithFailbackReturnsToTheFirst) {
  std::string text = kConfig;
  text.replace(text.find("pool = \"standby\""), 16, "pool = \"standby\"\nfailback = true");
  const Config c = load(text);
  ServiceState st;
  st.apply(c);
  for (const char* a : {"192.0.2.10", "192.0.2.11", "192.0.2.12"}) {
    st.set_health("galera", ip(a), 3306, BackendHealth::kUp);
  }
  st.set_health("galera", ip("192.0.2.10"), 3306, BackendHealth::kDown);
  EXPECT_EQ(st.services()[1].writer, 1);
  st.set_health("galera", ip("192.0.2.10"), 3306, BackendHealth::kUp);
  EXPECT_EQ(st.services()[1].writer, 0);
}

TEST(ServiceState, PersistedWriterIsRestoredAtStart) {
  const Config c = load();
  ServiceState first;
  first.apply(c);
  for (const char* a : {"192.0.2.10", "192.0.2.11", "192.0.2.12"}) {
    first.set_health("galera", ip(a), 3306, BackendHealth::kUp);
  }
  first.set_health("galera", ip("192.0.2.10"), 3306, BackendHealth::kDown);
  first.set_health("galera", ip("192.0.2.10"), 3306, BackendHealth::kUp);
  const std::string file = format_writers(first.writers());
  EXPECT_NE(file.find("\"galera\": \"192.0.2.11:3306\""), std::string::npos) << file;

  // A restart: health unknown again, but the writer before the restart keeps the traffic as
  // soon as it is healthy, even before c0 has answered.
  ServiceState second;
  second.apply(c);
  second.restore_writers(parse_writers(file));
  second.set_health("galera", ip("192.0.2.11"), 3306, BackendHealth::kUp);
  EXPECT_EQ(second.services()[1].writer, 1);
  second.set_health("galera", ip("192.0.2.10"), 3306, BackendHealth::kUp);
  EXPECT_EQ(second.services()[1].writer, 1);
}

TEST(ServiceState, DamagedStateFileRestoresNothing) {
  EXPECT_TRUE(parse_writers("").empty());
  EXPECT_TRUE(parse_writers("{not json").empty());
  EXPECT_TRUE(parse_writers(R"({"writers": {"galera": "nonsense"}})").empty());
  EXPECT_TRUE(parse_writers(R"({"writers": {"galera": "192.0.2.10:99999"}})").empty());
  EXPECT_EQ(parse_writers(R"({"writers": {"galera": "192.0.2.10:3306"}})").size(), 1U);
}

TEST(ServiceState, DrainDisableWeight) {
  const Config c = load();
  ServiceState st;
  st.apply(c);
  std::string msg;
  EXPECT_FALSE(st.set_admin({"plain", ip("192.0.2.10"), 80}, AdminState::kDrain, msg));
  EXPECT_EQ(msg, "service plain backend 192.0.2.10:80: drain");
  EXPECT_EQ(states(st, c, 2), (std::vector<BackendState>{kDraining, kUp}));
  EXPECT_FALSE(st.set_admin({"plain", ip("192.0.2.10"), 8080}, AdminState::kDisabled, msg));
  EXPECT_EQ(states(st, c, 2), (std::vector<BackendState>{kDraining, kDisabled}));
  EXPECT_FALSE(st.set_admin({"plain", ip("192.0.2.10"), 80}, AdminState::kEnabled, msg));
  EXPECT_FALSE(st.set_weight({"plain", ip("192.0.2.10"), 80}, 0, msg));
  EXPECT_EQ(states(st, c, 2), (std::vector<BackendState>{kDraining, kDisabled}));  // weight 0
  EXPECT_FALSE(st.set_weight({"plain", ip("192.0.2.10"), 80}, 5, msg));
  NeighborTable n;
  EXPECT_EQ(st.specs(c.ports[0], n)[2].backends[0].weight, 5);
  // Admin state and weight override survive a reload.
  st.apply(c);
  EXPECT_EQ(st.specs(c.ports[0], n)[2].backends[0].weight, 5);
  EXPECT_EQ(states(st, c, 2), (std::vector<BackendState>{kUp, kDisabled}));
}

TEST(ServiceState, OperatorReferencesAreCheckedAndExplained) {
  const Config c = load();
  ServiceState st;
  st.apply(c);
  std::string msg;
  EXPECT_EQ(st.set_admin({"nope", ip("192.0.2.10"), std::nullopt}, AdminState::kDrain, msg),
            "no service named 'nope'");
  EXPECT_EQ(st.set_admin({"plain", ip("192.0.2.99"), std::nullopt}, AdminState::kDrain, msg),
            "service 'plain' has no backend 192.0.2.99");
  EXPECT_EQ(st.set_admin({"plain", ip("192.0.2.10"), std::nullopt}, AdminState::kDrain, msg),
            "service 'plain' has 2 backends at 192.0.2.10: give the port (ADDRESS:PORT)");
  EXPECT_FALSE(st.set_admin({"nova-api", ip("192.0.2.10"), std::nullopt}, AdminState::kDrain, msg));
}

TEST(ServiceState, ReloadAddsAndRemovesBackendsKeepingTheRest) {
  const Config c = load();
  ServiceState st;
  st.apply(c);
  st.set_health("nova-api", ip("192.0.2.10"), 8774, BackendHealth::kUp);
  std::string text = kConfig;
  text.replace(text.find("{ address = \"192.0.2.12\" } ]"), 28,
               "{ address = \"192.0.2.13\" } ]");
  const Config c2 = load(text);
  st.apply(c2);
  const auto& b = st.services()[0].backends;
  ASSERT_EQ(b.size(), 3U);
  EXPECT_EQ(b[0].health, BackendHealth::kUp);       // kept
  EXPECT_EQ(b[2].health, BackendHealth::kUnknown);  // new: waits for its check
  EXPECT_EQ(b[2].config.address, ip("192.0.2.13"));
}

}  // namespace
}  // namespace fulcrum
