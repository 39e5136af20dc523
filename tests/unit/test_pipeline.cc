// SPDX-License-Identifier: Apache-2.0
// process_burst() end to end on golden frames: classification, FNAT both ways, DSR, ARP/ICMP
// answers, the kernel path, hand-off between workers, and what happens to flows when
// backends change.
#include "pipeline.h"

#include <gtest/gtest.h>

#include <map>

#include "packet_builder.h"
#include "reference_scenario.h"
#include "snapshot_builder.h"

namespace fulcrum {
namespace {

using testing::build_ipv4;
using testing::checksums_valid;
using testing::FrameSpec;
using testing::ip;

const Ipv4Be kVip = ip("192.0.2.26");
const Ipv4Be kLocal = ip("192.0.2.2");
const Ipv4Be kClient = ip("192.0.2.100");

class PipelineTest : public ::testing::Test {
 protected:
  void use(ForwardMode mode, Scheduler sched = Scheduler::kMaglev) {
    scenario_ = reference_scenario(mode, sched);
    republish();
  }
  void republish() { snap_ = build_snapshot(scenario_.node, scenario_.services, ++version_); }

  // Runs one frame through the worker; returns the action and leaves the result in `frame`.
  Action run(std::vector<uint8_t>& frame, Worker* w = nullptr) {
    Packet pkt{frame.data(), static_cast<uint16_t>(frame.size())};
    Action a;
    (w ? *w : worker_).process_burst(snap_.get(), &pkt, 1, now_, &a);
    frame.resize(pkt.len);
    return a;
  }

  FrameSpec client(uint16_t sport, uint16_t dport = 8774, uint8_t flags = kTcpSyn) const {
    FrameSpec s;
    s.saddr = kClient;
    s.daddr = kVip;
    s.sport = sport;
    s.dport = dport;
    s.tcp_flags = flags;
    return s;
  }

  static ParsedPacket parse(const std::vector<uint8_t>& f) {
    ParsedPacket p;
    EXPECT_EQ(parse_packet(f.data(), static_cast<uint32_t>(f.size()), p), ParseStatus::kOk);
    return p;
  }

  // The backend's answer to a frame forwarded to it (FNAT): mirrored tuple.
  static std::vector<uint8_t> answer_from_backend(const std::vector<uint8_t>& forwarded,
                                                  uint8_t flags) {
    const ParsedPacket p = parse(forwarded);
    FrameSpec s;
    s.src_mac = MacAddr{{forwarded[0], forwarded[1], forwarded[2], forwarded[3], forwarded[4],
                         forwarded[5]}};
    s.dst_mac = testing::kLbMac;
    s.saddr = p.tuple.daddr;
    s.daddr = p.tuple.saddr;
    s.sport = be16_to_host(p.tuple.dport);
    s.dport = be16_to_host(p.tuple.sport);
    s.tcp_flags = flags;
    return build_ipv4(s);
  }

  uint64_t drops(DropReason r) const {
    return worker_.counters().drops[static_cast<size_t>(r)].load();
  }

  ReferenceScenario scenario_;
  std::unique_ptr<Snapshot> snap_;
  uint64_t version_ = 0;
  uint32_t now_ = 1000;
  Worker worker_{WorkerConfig{.worker_id = 0, .worker_count = 1, .flow_capacity = 1 << 16}};
};

TEST_F(PipelineTest, FnatRewritesBothDirections) {
  use(ForwardMode::kFnat);
  auto syn = build_ipv4(client(41000));
  Action a = run(syn);
  ASSERT_EQ(a.kind, ActionKind::kForward);
  ASSERT_TRUE(checksums_valid(syn));
  const ParsedPacket out = parse(syn);
  EXPECT_EQ(out.tuple.saddr, kLocal);
  EXPECT_EQ(controller_name(out.tuple.daddr).substr(0, 1), "c");
  EXPECT_EQ(be16_to_host(out.tuple.dport), 8774);
  const uint16_t lport = be16_to_host(out.tuple.sport);
  EXPECT_GE(lport, snap_->fnat_port_lo);
  EXPECT_LE(lport, snap_->fnat_port_hi);
  EXPECT_EQ(out.ttl, 63);
  EXPECT_EQ(0, std::memcmp(syn.data() + 6, testing::kLbMac.bytes.data(), 6));
  const int bi = snap_->services[0].find_backend(out.tuple.daddr, out.tuple.dport);
  ASSERT_GE(bi, 0);
  EXPECT_EQ(0, std::memcmp(syn.data(), snap_->services[0].backends[bi].mac.bytes.data(), 6));
  EXPECT_EQ(worker_.flows().size(), 2U);  // forward + reply entries

  // The backend's SYN-ACK comes back to LB:lport and leaves as VIP:8774 -> client.
  auto synack = answer_from_backend(syn, kTcpSyn | kTcpAck);
  a = run(synack);
  ASSERT_EQ(a.kind, ActionKind::kForward);
  ASSERT_TRUE(checksums_valid(synack));
  EXPECT_EQ(parse(synack).tuple.to_string(), "tcp 192.0.2.26:8774 -> 192.0.2.100:41000");
  EXPECT_EQ(0, std::memcmp(synack.data(), testing::kClientMac.bytes.data(), 6));

  // The client's ACK takes the same backend and source port.
  auto ack = build_ipv4(client(41000, 8774, kTcpAck));
  ASSERT_EQ(run(ack).kind, ActionKind::kForward);
  EXPECT_EQ(parse(ack).tuple, out.tuple);
  EXPECT_EQ(worker_.counters().new_flows.load(), 1U);
}

TEST_F(PipelineTest, FnatDropsMidStreamPacketOfUnknownFlow) {
  use(ForwardMode::kFnat);
  auto ack = build_ipv4(client(41001, 8774, kTcpAck));
  const Action a = run(ack);
  EXPECT_EQ(a.kind, ActionKind::kDrop);
  EXPECT_EQ(a.arg, static_cast<uint16_t>(DropReason::kNoFlow));
}

TEST_F(PipelineTest, DsrChangesOnlyTheMacAndTtl) {
  use(ForwardMode::kDsr);
  auto syn = build_ipv4(client(41002));
  const auto before = parse(syn);
  ASSERT_EQ(run(syn).kind, ActionKind::kForward);
  ASSERT_TRUE(checksums_valid(syn));
  const auto after = parse(syn);
  EXPECT_EQ(after.tuple, before.tuple);
  EXPECT_EQ(after.ttl, 63);
  const auto& backends = snap_->services[0].backends;
  bool to_a_backend = false;
  for (const auto& b : backends) to_a_backend |= std::memcmp(syn.data(), b.mac.bytes.data(), 6) == 0;
  EXPECT_TRUE(to_a_backend);
  EXPECT_EQ(worker_.flows().size(), 1U);
}

TEST_F(PipelineTest, DsrPicksUpMidStreamFlowsOnTheSameBackendAsAnotherNode) {
  // Two nodes with the same snapshot: node B never saw the SYN (it took over the VIP), yet
  // sends the flow's next packet to the same backend.
  use(ForwardMode::kDsr);
  Worker node_b(WorkerConfig{.worker_id = 0, .worker_count = 1, .flow_capacity = 1024});
  for (uint16_t port = 30000; port < 30200; ++port) {
    auto syn = build_ipv4(client(port));
    auto mid = build_ipv4(client(port, 8774, kTcpAck | kTcpPsh));
    ASSERT_EQ(run(syn).kind, ActionKind::kForward);
    ASSERT_EQ(run(mid, &node_b).kind, ActionKind::kForward);
    EXPECT_EQ(0, std::memcmp(syn.data(), mid.data(), 6)) << "port " << port;
  }
}

TEST_F(PipelineTest, MaglevSpreadsNewFlowsEvenly) {
  use(ForwardMode::kFnat);
  std::map<std::string, int> per_backend;
  for (uint16_t port = 1; port <= 3000; ++port) {
    auto syn = build_ipv4(client(static_cast<uint16_t>(20000 + port)));
    ASSERT_EQ(run(syn).kind, ActionKind::kForward);
    ++per_backend[controller_name(parse(syn).tuple.daddr)];
  }
  ASSERT_EQ(per_backend.size(), 3U);
  for (const auto& [name, n] : per_backend) {
    EXPECT_NEAR(n, 1000, 150) << name;
  }
}

TEST_F(PipelineTest, WeightedRoundRobinFollowsTheSequence) {
  use(ForwardMode::kFnat, Scheduler::kWrr);
  scenario_.services[0].backends[0].weight = 2;
  republish();
  std::map<std::string, int> per_backend;
  for (uint16_t port = 1; port <= 400; ++port) {
    auto syn = build_ipv4(client(static_cast<uint16_t>(20000 + port)));
    ASSERT_EQ(run(syn).kind, ActionKind::kForward);
    ++per_backend[controller_name(parse(syn).tuple.daddr)];
  }
  EXPECT_EQ(per_backend["c0"], 200);
  EXPECT_EQ(per_backend["c1"], 100);
  EXPECT_EQ(per_backend["c2"], 100);
}

TEST_F(PipelineTest, SourceHashingKeepsAClientOnOneBackend) {
  use(ForwardMode::kFnat, Scheduler::kSourceHash);
  std::map<Ipv4Be, Ipv4Be> backend_of;
  std::map<Ipv4Be, int> clients_per_backend;
  for (uint32_t c = 1; c <= 60; ++c) {
    for (uint16_t port = 0; port < 5; ++port) {
      FrameSpec s = client(static_cast<uint16_t>(50000 + port));
      s.saddr = host_to_be32(0xc6336400 + c);  // 198.51.100.c
      auto syn = build_ipv4(s);
      ASSERT_EQ(run(syn).kind, ActionKind::kForward);
      const Ipv4Be b = parse(syn).tuple.daddr;
      if (port == 0) {
        backend_of[s.saddr] = b;
        ++clients_per_backend[b];
      }
      EXPECT_EQ(backend_of[s.saddr], b);
    }
  }
  EXPECT_EQ(clients_per_backend.size(), 3U);
}

TEST_F(PipelineTest, AnswersArpForVipAndOwnAddressOnly) {
  use(ForwardMode::kFnat);
  auto for_vip = testing::build_arp_request(testing::kClientMac, kClient, kVip);
  EXPECT_EQ(run(for_vip).kind, ActionKind::kReply);
  EXPECT_EQ(parse(for_vip).arp_op, 2);
  EXPECT_EQ(parse(for_vip).arp_sha, testing::kLbMac);
  auto for_me = testing::build_arp_request(testing::kClientMac, kClient, kLocal);
  EXPECT_EQ(run(for_me).kind, ActionKind::kReply);
  auto for_other = testing::build_arp_request(testing::kClientMac, kClient, ip("192.0.2.99"));
  const Action a = run(for_other);
  EXPECT_EQ(a.kind, ActionKind::kDrop);
  EXPECT_EQ(a.arg, static_cast<uint16_t>(DropReason::kArpNotForUs));
  auto gratuitous = testing::build_arp_request(testing::kClientMac, kClient, kClient);
  EXPECT_EQ(run(gratuitous).kind, ActionKind::kToKernel);
}

TEST_F(PipelineTest, AnswersPingToVip) {
  use(ForwardMode::kFnat);
  FrameSpec s = client(0);
  s.proto = 1;
  auto ping = build_ipv4(s);
  ASSERT_EQ(run(ping).kind, ActionKind::kReply);
  EXPECT_TRUE(checksums_valid(ping));
  EXPECT_EQ(parse(ping).icmp_type, kIcmpEchoReply);
  s.icmp_type = 13;  // timestamp request: not answered
  auto ts = build_ipv4(s);
  EXPECT_EQ(run(ts).arg, static_cast<uint16_t>(DropReason::kIcmpNotEcho));
}

TEST_F(PipelineTest, KernelGetsWhatIsNotForTheDataPlane) {
  use(ForwardMode::kFnat);
  FrameSpec ssh = client(50000, 22);
  ssh.daddr = kLocal;
  auto f = build_ipv4(ssh);
  EXPECT_EQ(run(f).kind, ActionKind::kToKernel);
  // A reply-range port with no flow: maybe the node's own socket.
  FrameSpec stray = client(8774, 2000, kTcpAck);
  stray.saddr = ip("192.0.2.10");
  stray.daddr = kLocal;
  f = build_ipv4(stray);
  EXPECT_EQ(run(f).kind, ActionKind::kToKernel);
  // VRRP multicast, LLDP.
  FrameSpec vrrp = client(0);
  vrrp.proto = 112;
  vrrp.daddr = ip("224.0.0.18");
  f = build_ipv4(vrrp);
  EXPECT_EQ(run(f).kind, ActionKind::kToKernel);
  std::vector<uint8_t> lldp(60, 0);
  lldp[12] = 0x88;
  lldp[13] = 0xcc;
  EXPECT_EQ(run(lldp).kind, ActionKind::kToKernel);
}

TEST_F(PipelineTest, HostileFramesAreCountedDrops) {
  use(ForwardMode::kFnat);
  FrameSpec ttl1 = client(1);
  ttl1.ttl = 1;
  auto f = build_ipv4(ttl1);
  EXPECT_EQ(run(f).arg, static_cast<uint16_t>(DropReason::kTtlExpired));
  FrameSpec frag = client(2);
  frag.frag = 0x2000;
  f = build_ipv4(frag);
  EXPECT_EQ(run(f).arg, static_cast<uint16_t>(DropReason::kFragment));
  f = build_ipv4(client(3, 9999));
  EXPECT_EQ(run(f).arg, static_cast<uint16_t>(DropReason::kNoService));
  std::vector<uint8_t> v6(60, 0);
  v6[12] = 0x86;
  v6[13] = 0xdd;
  EXPECT_EQ(run(v6).arg, static_cast<uint16_t>(DropReason::kIpv6));
  f = build_ipv4(client(4));
  f[24] ^= 0xff;  // IP checksum
  EXPECT_EQ(run(f).arg, static_cast<uint16_t>(DropReason::kBadIpChecksum));
  f = build_ipv4(client(5));
  f.resize(20);
  EXPECT_EQ(run(f).arg, static_cast<uint16_t>(DropReason::kTruncatedIp));
  const CounterTotals t = sum_counters({&worker_.counters(), 1});
  EXPECT_EQ(t.dropped, 6U);
  EXPECT_EQ(t.rx_packets, 6U);
  EXPECT_EQ(t.forwarded, 0U);
}

TEST_F(PipelineTest, NoSnapshotDropsEverything) {
  auto syn = build_ipv4(client(1));
  Packet pkt{syn.data(), static_cast<uint16_t>(syn.size())};
  Action a;
  worker_.process_burst(nullptr, &pkt, 1, now_, &a);
  EXPECT_EQ(a.arg, static_cast<uint16_t>(DropReason::kNoSnapshot));
}

TEST_F(PipelineTest, UnresolvedNextHopIsADrop) {
  scenario_ = reference_scenario(ForwardMode::kFnat);
  for (auto& b : scenario_.services[0].backends) b.mac = MacAddr{};
  republish();
  auto syn = build_ipv4(client(1));
  EXPECT_EQ(run(syn).arg, static_cast<uint16_t>(DropReason::kNoNeighbor));
}

TEST_F(PipelineTest, FnatPortCursorStartsWhereConfigured) {
  use(ForwardMode::kFnat);
  Worker w(WorkerConfig{.worker_id = 0, .worker_count = 1, .flow_capacity = 1024,
                        .fnat_port_start = 500});
  auto first = build_ipv4(client(41000));
  ASSERT_EQ(run(first, &w).kind, ActionKind::kForward);
  EXPECT_EQ(be16_to_host(parse(first).tuple.sport), snap_->fnat_port_lo + 500);
  auto second = build_ipv4(client(41001));
  ASSERT_EQ(run(second, &w).kind, ActionKind::kForward);
  EXPECT_EQ(be16_to_host(parse(second).tuple.sport), snap_->fnat_port_lo + 501);
  // Taken modulo the slice: any 16-bit value is a valid start.
  Worker wrap(WorkerConfig{.worker_id = 0, .worker_count = 1, .flow_capacity = 1024,
                           .fnat_port_start = 65535});
  auto third = build_ipv4(client(41002));
  ASSERT_EQ(run(third, &wrap).kind, ActionKind::kForward);
  const uint16_t span = static_cast<uint16_t>(snap_->fnat_port_hi - snap_->fnat_port_lo + 1);
  EXPECT_EQ(be16_to_host(parse(third).tuple.sport), snap_->fnat_port_lo + 65535 % span);
}

TEST_F(PipelineTest, RepliesOwnedByAnotherWorkerAreHandedOff) {
  use(ForwardMode::kFnat);
  Worker w0(WorkerConfig{.worker_id = 0, .worker_count = 2, .flow_capacity = 1024});
  Worker w1(WorkerConfig{.worker_id = 1, .worker_count = 2, .flow_capacity = 1024});
  auto syn = build_ipv4(client(45000));
  ASSERT_EQ(run(syn, &w1).kind, ActionKind::kForward);
  const uint16_t lport = be16_to_host(parse(syn).tuple.sport);
  EXPECT_EQ(Worker::owner_of_port(*snap_, 2, lport), 1);
  auto synack = answer_from_backend(syn, kTcpSyn | kTcpAck);
  auto copy = synack;
  const Action a = run(synack, &w0);
  EXPECT_EQ(a.kind, ActionKind::kHandoff);
  EXPECT_EQ(a.arg, 1);
  EXPECT_EQ(synack, copy);  // untouched, for the owner to process
  EXPECT_EQ(run(synack, &w1).kind, ActionKind::kForward);
}

// A backend leaves: flows to the survivors stay exactly where they were; flows to the one that
// left are re-chosen onto a survivor.
TEST_F(PipelineTest, BackendRemovalMovesOnlyItsFlows) {
  use(ForwardMode::kFnat);
  std::map<uint16_t, FiveTuple> before;
  for (uint16_t port = 10000; port < 10300; ++port) {
    auto syn = build_ipv4(client(port));
    ASSERT_EQ(run(syn).kind, ActionKind::kForward);
    before[port] = parse(syn).tuple;
  }
  const Ipv4Be c1 = ip("192.0.2.11");
  scenario_.services[0].backends.erase(scenario_.services[0].backends.begin() + 1);
  republish();
  int moved = 0, stayed = 0;
  for (auto& [port, old] : before) {
    auto ack = build_ipv4(client(port, 8774, kTcpAck));
    ASSERT_EQ(run(ack).kind, ActionKind::kForward);
    const FiveTuple now = parse(ack).tuple;
    if (old.daddr == c1) {
      EXPECT_NE(now.daddr, c1);
      ++moved;
    } else {
      EXPECT_EQ(now, old) << "a flow on a surviving backend moved";
      ++stayed;
    }
  }
  EXPECT_GT(moved, 50);
  EXPECT_GT(stayed, 150);
  EXPECT_EQ(worker_.counters().flows_rechosen.load(), static_cast<uint64_t>(moved));
}

TEST_F(PipelineTest, BackendRemovalWithResetPolicyAnswersRst) {
  use(ForwardMode::kFnat);
  scenario_.services[0].on_gone = GonePolicy::kReset;
  republish();
  uint16_t port = 11000;
  std::vector<uint8_t> syn;
  for (;; ++port) {  // find a flow that lands on c1
    syn = build_ipv4(client(port));
    ASSERT_EQ(run(syn).kind, ActionKind::kForward);
    if (parse(syn).tuple.daddr == ip("192.0.2.11")) break;
  }
  scenario_.services[0].backends[1].state = BackendState::kDisabled;
  republish();
  auto ack = build_ipv4(client(port, 8774, kTcpAck));
  ASSERT_EQ(run(ack).kind, ActionKind::kReply);
  ASSERT_TRUE(checksums_valid(ack));
  EXPECT_EQ(parse(ack).tcp_flags, kTcpRst);
  EXPECT_EQ(parse(ack).tuple.daddr, kClient);
  EXPECT_EQ(worker_.counters().flows_reset.load(), 1U);
}

TEST_F(PipelineTest, DrainedAndDownBackendsKeepTheirFlowsButGetNoNewOnes) {
  use(ForwardMode::kFnat);
  std::map<uint16_t, FiveTuple> before;
  for (uint16_t port = 12000; port < 12150; ++port) {
    auto syn = build_ipv4(client(port));
    ASSERT_EQ(run(syn).kind, ActionKind::kForward);
    before[port] = parse(syn).tuple;
  }
  scenario_.services[0].backends[0].state = BackendState::kDraining;
  scenario_.services[0].backends[1].state = BackendState::kDown;
  republish();
  for (auto& [port, old] : before) {
    auto ack = build_ipv4(client(port, 8774, kTcpAck));
    ASSERT_EQ(run(ack).kind, ActionKind::kForward);
    EXPECT_EQ(parse(ack).tuple, old);
  }
  for (uint16_t port = 13000; port < 13100; ++port) {
    auto syn = build_ipv4(client(port));
    ASSERT_EQ(run(syn).kind, ActionKind::kForward);
    EXPECT_EQ(parse(syn).tuple.daddr, ip("192.0.2.12"));
  }
}

TEST_F(PipelineTest, NoHealthyBackendIsADrop) {
  use(ForwardMode::kFnat);
  for (auto& b : scenario_.services[0].backends) b.state = BackendState::kDown;
  republish();
  auto syn = build_ipv4(client(1));
  EXPECT_EQ(run(syn).arg, static_cast<uint16_t>(DropReason::kNoBackend));
}

TEST_F(PipelineTest, SynOnClosingFlowStartsANewOne) {
  use(ForwardMode::kFnat);
  auto syn = build_ipv4(client(14000));
  ASSERT_EQ(run(syn).kind, ActionKind::kForward);
  auto fin = build_ipv4(client(14000, 8774, kTcpFin | kTcpAck));
  ASSERT_EQ(run(fin).kind, ActionKind::kForward);
  auto again = build_ipv4(client(14000));
  ASSERT_EQ(run(again).kind, ActionKind::kForward);
  EXPECT_EQ(worker_.counters().new_flows.load(), 2U);
  EXPECT_EQ(worker_.flows().size(), 2U);  // the old pair was replaced, not leaked
}

TEST_F(PipelineTest, IdleFlowsExpire) {
  use(ForwardMode::kFnat);
  auto syn = build_ipv4(client(15000));
  ASSERT_EQ(run(syn).kind, ActionKind::kForward);
  now_ += worker_.flows().timeouts().tcp_syn_ms + 1;
  auto ack = build_ipv4(client(15000, 8774, kTcpAck));
  EXPECT_EQ(run(ack).arg, static_cast<uint16_t>(DropReason::kNoFlow));
}

TEST_F(PipelineTest, UdpFlowsUseFnatToo) {
  use(ForwardMode::kFnat);
  scenario_.services[0].proto = IpProto::kUdp;
  republish();
  FrameSpec s = client(5000);
  s.proto = 17;
  s.payload = {1, 2, 3};
  auto dgram = build_ipv4(s);
  ASSERT_EQ(run(dgram).kind, ActionKind::kForward);
  EXPECT_TRUE(checksums_valid(dgram));
  EXPECT_EQ(parse(dgram).tuple.saddr, kLocal);
}

TEST_F(PipelineTest, BurstOfMixedFramesGetsOneActionEach) {
  use(ForwardMode::kFnat);
  std::vector<std::vector<uint8_t>> frames;
  for (uint16_t i = 0; i < kMaxBurst; ++i) {
    frames.push_back(i % 3 == 0 ? testing::build_arp_request(testing::kClientMac, kClient, kVip)
                                : build_ipv4(client(static_cast<uint16_t>(16000 + i))));
  }
  Packet pkts[kMaxBurst];
  Action actions[kMaxBurst];
  for (uint16_t i = 0; i < kMaxBurst; ++i) {
    pkts[i] = Packet{frames[i].data(), static_cast<uint16_t>(frames[i].size())};
  }
  worker_.process_burst(snap_.get(), pkts, kMaxBurst, now_, actions);
  for (uint16_t i = 0; i < kMaxBurst; ++i) {
    EXPECT_EQ(actions[i].kind, i % 3 == 0 ? ActionKind::kReply : ActionKind::kForward) << i;
  }
  EXPECT_EQ(worker_.counters().rx_packets.load(), kMaxBurst);
}

}  // namespace
}  // namespace fulcrum

namespace fulcrum {
namespace {

TEST_F(PipelineTest, UnicastToAnotherStationIsNotOurs) {
  use(ForwardMode::kFnat);
  FrameSpec s = client(17000);
  s.dst_mac = testing::kBackendMac1;  // flooded by a bridge that has not learned it yet
  auto f = build_ipv4(s);
  EXPECT_EQ(run(f).arg, static_cast<uint16_t>(DropReason::kOtherHost));
  EXPECT_EQ(worker_.flows().size(), 0U);
}

}  // namespace
}  // namespace fulcrum

namespace fulcrum {
namespace {

TEST_F(PipelineTest, BackendCountersFollowFlowsAndPackets) {
  use(ForwardMode::kFnat);
  uint64_t opened = 0, packets = 0;
  for (uint16_t port = 18000; port < 18030; ++port) {
    auto syn = build_ipv4(client(port));
    ASSERT_EQ(run(syn).kind, ActionKind::kForward);
    auto ack = build_ipv4(client(port, 8774, kTcpAck));
    ASSERT_EQ(run(ack).kind, ActionKind::kForward);
  }
  for (const auto& b : snap_->services[0].backends) {
    opened += worker_.backend_counters(b.stat_id).flows_opened.load();
    packets += worker_.backend_counters(b.stat_id).packets.load();
    EXPECT_EQ(worker_.backend_counters(b.stat_id).flows_closed.load(), 0U);
  }
  EXPECT_EQ(opened, 30U);
  EXPECT_EQ(packets, 60U);
  // Idle past the established timeout: the next lookup of each expires it.
  now_ += worker_.flows().timeouts().tcp_established_ms + 1;
  for (uint16_t port = 18000; port < 18030; ++port) {
    auto ack = build_ipv4(client(port, 8774, kTcpAck));
    run(ack);
  }
  uint64_t closed = 0;
  for (const auto& b : snap_->services[0].backends) {
    closed += worker_.backend_counters(b.stat_id).flows_closed.load();
  }
  EXPECT_EQ(closed, 30U);
}

TEST_F(PipelineTest, ResetBackendFlowsSendsAcceptableRstsToBothEnds) {
  use(ForwardMode::kFnat);
  uint16_t port = 19000;
  std::vector<uint8_t> syn;
  for (;; ++port) {  // a flow on c1
    syn = build_ipv4(client(port));
    ASSERT_EQ(run(syn).kind, ActionKind::kForward);
    if (parse(syn).tuple.daddr == ip("192.0.2.11")) break;
  }
  const FiveTuple to_backend = parse(syn).tuple;
  FrameSpec s = client(port, 8774, kTcpAck | kTcpPsh);
  s.seq = 1001;
  s.ack = 777000;
  s.payload.assign(10, 'q');
  auto data = build_ipv4(s);
  ASSERT_EQ(run(data).kind, ActionKind::kForward);
  const size_t flows_before = worker_.flows().size();

  const uint16_t c1 = snap_->services[0].backends[1].stat_id;
  std::vector<std::vector<uint8_t>> sent;
  std::vector<uint8_t> buf(Worker::kResetFrameSize * 4);
  size_t used = 0;
  const uint32_t n = worker_.reset_backend_flows(
      *snap_, c1,
      [&]() -> uint8_t* {
        if (used == 4) return nullptr;
        return buf.data() + Worker::kResetFrameSize * used++;
      },
      [&](uint8_t* f, uint16_t len) { sent.emplace_back(f, f + len); });
  EXPECT_EQ(n, 1U);
  ASSERT_EQ(sent.size(), 2U);
  for (const auto& f : sent) EXPECT_TRUE(checksums_valid(f));
  const ParsedPacket to_b = parse(sent[0]);
  EXPECT_EQ(to_b.tuple, to_backend);  // LB:lport -> c1:8774, as the backend knows it
  EXPECT_EQ(to_b.tcp_flags, kTcpRst);
  EXPECT_EQ(be32_to_host(load32(sent[0].data() + 38)), 1011U);  // the client's next seq
  EXPECT_EQ(0, std::memcmp(sent[0].data(), testing::kBackendMac1.bytes.data(), 6));
  const ParsedPacket to_c = parse(sent[1]);
  EXPECT_EQ(to_c.tuple.to_string(), "tcp 192.0.2.26:8774 -> 192.0.2.100:" + std::to_string(port));
  EXPECT_EQ(be32_to_host(load32(sent[1].data() + 38)), 777000U);  // the client's RCV.NXT
  EXPECT_EQ(0, std::memcmp(sent[1].data(), testing::kClientMac.bytes.data(), 6));
  EXPECT_EQ(worker_.flows().size(), flows_before - 2);
  EXPECT_EQ(worker_.counters().flows_reset.load(), 1U);
  EXPECT_EQ(worker_.backend_counters(c1).flows_closed.load(), 1U);
}

}  // namespace
}  // namespace fulcrum
