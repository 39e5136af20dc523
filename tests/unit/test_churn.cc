// SPDX-License-Identifier: Apache-2.0
// Churn in pure code (issue 8): 2,000 operator and health changes on one backend, each
// followed by a freshly built snapshot, while established flows to the two untouched backends
// keep flowing. Every packet of those flows must leave for the backend it started on, and no
// new flow may go to the churned backend while it must not take new flows. Runs in the
// sanitizer build too, where any use of a freed snapshot or flow entry would be reported.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

#include "config.h"
#include "neighbor_table.h"
#include "packet_builder.h"
#include "pipeline.h"
#include "service_specs.h"
#include "service_state.h"
#include "snapshot_builder.h"

namespace fulcrum {
namespace {

using testing::FrameSpec;
using testing::ip;

std::string config_text(int c2_weight) {
  return R"([[port]]
name = "lan"
device = "net_null0"
address = "192.0.2.2/24"

[[service]]
name = "nova-api"
vip = "192.0.2.26"
port = 8774
backends = [ { address = "192.0.2.10" }, { address = "192.0.2.11" },
             { address = "192.0.2.12", weight = )" +
         std::to_string(c2_weight) + " } ]\n";
}

class Churn {
 public:
  Churn() {
    load(1);
    neighbors_.want({ip("192.0.2.10"), ip("192.0.2.11"), ip("192.0.2.12")});
    neighbors_.learn(ip("192.0.2.10"), testing::kBackendMac0, 0);
    neighbors_.learn(ip("192.0.2.11"), testing::kBackendMac1, 0);
    neighbors_.learn(ip("192.0.2.12"), testing::kBackendMac2, 0);
    publish();
  }

  void load(int c2_weight) {
    const LoadResult r = load_config_string(config_text(c2_weight), "churn.toml");
    ASSERT_TRUE(r.config);
    config_ = *r.config;
    state_.apply(config_);
  }

  void publish() {
    std::vector<ServiceSpec> specs = state_.specs(config_.ports[0], neighbors_);
    snap_ =
        build_snapshot(node_spec(config_, config_.ports[0], testing::kLbMac), specs, ++version_);
  }

  // One frame through the worker; the backend it was sent to (0 when not forwarded).
  Ipv4Be send(uint16_t sport, uint8_t flags) {
    FrameSpec s;
    s.saddr = ip("192.0.2.100");
    s.daddr = ip("192.0.2.26");
    s.sport = sport;
    s.tcp_flags = flags;
    auto frame = testing::build_ipv4(s);
    Packet pkt{frame.data(), static_cast<uint16_t>(frame.size())};
    Action a;
    worker_.process_burst(snap_.get(), &pkt, 1, now_ms_, &a);
    if (a.kind != ActionKind::kForward) return 0;
    ParsedPacket p;
    EXPECT_EQ(parse_packet(frame.data(), pkt.len, p), ParseStatus::kOk);
    return p.tuple.daddr;
  }

  ServiceState& state() { return state_; }
  uint32_t& now_ms() { return now_ms_; }

 private:
  Config config_;
  ServiceState state_;
  NeighborTable neighbors_;
  std::unique_ptr<Snapshot> snap_;
  uint64_t version_ = 0;
  uint32_t now_ms_ = 1000;
  Worker worker_{WorkerConfig{.worker_id = 0, .worker_count = 1, .flow_capacity = 1 << 14}};
};

TEST(Churn, FlowsToUntouchedBackendsNeverMoveWhileOneBackendChurns) {
  Churn churn;
  const Ipv4Be c2 = ip("192.0.2.12");
  std::map<uint16_t, Ipv4Be> pinned;  // established flows on c0/c1: client port -> backend
  for (uint16_t port = 20000; port < 20300; ++port) {
    const Ipv4Be backend = churn.send(port, kTcpSyn);
    ASSERT_NE(backend, 0U);
    if (backend != c2) pinned[port] = backend;
    churn.send(port, kTcpAck);  // established
  }
  ASSERT_GT(pinned.size(), 150U);

  std::mt19937 rng(8774);
  const BackendRef c2_ref{"nova-api", c2, std::nullopt};
  bool c2_takes_new = true;
  uint16_t next_port = 30000;
  size_t moved = 0, to_c2_wrongly = 0, new_dropped = 0;
  for (int step = 0; step < 2000; ++step) {
    std::string message;
    switch (rng() % 6) {
      case 0:
        ASSERT_FALSE(churn.state().set_admin(c2_ref, AdminState::kDrain, message));
        break;
      case 1:
        ASSERT_FALSE(churn.state().set_admin(c2_ref, AdminState::kEnabled, message));
        break;
      case 2:
        ASSERT_FALSE(churn.state().set_admin(c2_ref, AdminState::kDisabled, message));
        break;
      case 3:
        ASSERT_FALSE(churn.state().set_weight(c2_ref, static_cast<uint16_t>(rng() % 4), message));
        break;
      case 4:
        churn.state().set_health("nova-api", c2, 8774,
                                 rng() % 2 ? BackendHealth::kUp : BackendHealth::kDown);
        break;
      case 5:
        churn.load(1 + static_cast<int>(rng() % 3));  // a reload with c2's weight changed
        break;
    }
    churn.publish();
    c2_takes_new = false;
    for (const ServiceStatus& svc : churn.state().services()) {
      for (const BackendStatus& b : svc.backends) {
        if (b.config.address == c2) c2_takes_new = b.serving;
      }
    }
    churn.now_ms() += 10;
    // Every pinned flow sends one packet: it must reach its own backend.
    for (const auto& [port, backend] : pinned) {
      if (churn.send(port, kTcpAck | kTcpPsh) != backend) ++moved;
    }
    // And one new connection per step.
    const Ipv4Be chosen = churn.send(next_port++, kTcpSyn);
    if (chosen == 0) ++new_dropped;
    if (chosen == c2 && !c2_takes_new) ++to_c2_wrongly;
    if (next_port == 65000) next_port = 30000;
  }
  EXPECT_EQ(moved, 0U);
  EXPECT_EQ(to_c2_wrongly, 0U);
  EXPECT_EQ(new_dropped, 0U);
}

}  // namespace
}  // namespace fulcrum
