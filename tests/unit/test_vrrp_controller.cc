// SPDX-License-Identifier: Apache-2.0
// VrrpController: two nodes' controllers on one io_context, their frames carried between them
// by a fake segment (which can cut a node off, like a SIGKILL). Real timers, 50 ms adverts.
#include "vrrp_controller.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "checksum.h"
#include "vrrp_frame.h"
#include "vrrp_packet.h"

namespace fulcrum {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const Ipv4Be kVip = *parse_ipv4("192.0.2.26");
const Ipv4Be kAddrA = *parse_ipv4("192.0.2.2");
const Ipv4Be kAddrB = *parse_ipv4("192.0.2.3");

PortConfig port(Ipv4Be addr) {
  PortConfig p;
  p.name = "lan";
  p.address = addr;
  p.prefix_len = 24;
  return p;
}

VrrpConfig instance(uint8_t priority, bool preempt = false) {
  VrrpConfig v;
  v.name = "VI_1";
  v.port = "lan";
  v.vrid = 51;
  v.priority = priority;
  v.advert_interval = milliseconds(50);
  v.preempt = preempt;
  v.vips = {kVip};
  v.garp_count = 2;
  v.garp_interval = milliseconds(0);
  return v;
}

// One node: its controller plus what its hooks saw.
struct FakeNode {
  std::string name;
  bool connected = true;  // frames to and from it travel
  std::vector<std::string> published;
  int garps = 0;
  std::vector<std::vector<uint8_t>> sent;
  std::unique_ptr<VrrpController> vrrp;
};

struct Segment {
  boost::asio::io_context io;
  FakeNode a{"a"}, b{"b"};

  void make(FakeNode& n, Ipv4Be addr, const VrrpConfig& v, FakeNode& peer) {
    MacAddr mac{{0x02, 0, 0, 0, 0, static_cast<uint8_t>(addr >> 24)}};
    n.vrrp = std::make_unique<VrrpController>(
        io, port(addr), mac,
        VrrpHooks{.send_frame =
                      [this, &n, &peer](std::vector<uint8_t> frame) {
                        n.sent.push_back(frame);
                        if (!n.connected || !peer.connected) return;
                        boost::asio::post(io, [&peer, frame] {
                          if (peer.vrrp) peer.vrrp->receive(frame.data(), frame.size());
                        });
                      },
                  .vips_changed =
                      [&n](const std::string& why) {
                        // As the Node does: a publish reads the controller's state right away.
                        if (n.vrrp) {
                          for (const Ipv4Be vip : n.vrrp->owned_vips()) {
                            EXPECT_TRUE(n.vrrp->manages(vip));
                          }
                          (void)n.vrrp->status();
                        }
                        n.published.push_back(why);
                      },
                  .send_garp = [&n](Ipv4Be) { ++n.garps; },
                  .peer_mac = [](Ipv4Be) { return std::optional<MacAddr>(); }});
    Config c;
    c.vrrp.push_back(v);
    n.vrrp->configure(c);
  }

  // Runs the io_context until pred() holds or `limit` passes; the time it took.
  template <typename Pred>
  std::optional<milliseconds> run_until(Pred pred, milliseconds limit) {
    const auto t0 = Clock::now();
    while (!pred()) {
      if (Clock::now() - t0 > limit) return std::nullopt;
      io.run_for(milliseconds(2));
    }
    return std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  }
};

bool owns(const FakeNode& n) {
  return n.vrrp->owned_vips() == std::vector<Ipv4Be>{kVip};
}

std::string state_of(const FakeNode& n) {
  return n.vrrp->status()["instances"][0]["state"].get<std::string>();
}

TEST(VrrpController, HigherPriorityBecomesMasterAndOwnsTheVip) {
  Segment s;
  s.make(s.a, kAddrA, instance(150), s.b);
  s.make(s.b, kAddrB, instance(100), s.a);
  s.a.vrrp->start();
  s.b.vrrp->start();
  ASSERT_TRUE(s.run_until([&] { return owns(s.a); }, milliseconds(2000)));
  s.run_until([] { return false; }, milliseconds(300));  // several advert rounds
  EXPECT_TRUE(owns(s.a));
  EXPECT_TRUE(s.b.vrrp->owned_vips().empty());
  EXPECT_EQ(state_of(s.b), "BACKUP");
  EXPECT_EQ(s.b.vrrp->status()["instances"][0]["master"], "192.0.2.2");
  EXPECT_EQ(s.a.garps, 2);  // garp_count rounds, one VIP
  EXPECT_EQ(s.a.published.back(), "vrrp VI_1 MASTER");
  EXPECT_TRUE(s.b.vrrp->manages(kVip));
  // Every frame a master sends is a valid multicast VRRPv3 advert with its priority.
  const auto f = vrrp::parse_frame(s.a.sent.back().data(), s.a.sent.back().size());
  ASSERT_TRUE(f);
  EXPECT_EQ(f->dst, vrrp::kMulticastGroup);
  const auto d = vrrp::decode_advert(f->payload, f->payload_len, f->src, f->dst, f->ttl, 3);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.advert->priority, 150);
  EXPECT_EQ(d.advert->addresses, std::vector<Ipv4Be>{kVip});
}

TEST(VrrpController, BackupTakesOverWhenTheMasterFallsSilent) {
  Segment s;
  s.make(s.a, kAddrA, instance(150), s.b);
  s.make(s.b, kAddrB, instance(100), s.a);
  s.a.vrrp->start();
  s.b.vrrp->start();
  ASSERT_TRUE(
      s.run_until([&] { return owns(s.a) && state_of(s.b) == "BACKUP"; }, milliseconds(2000)));
  s.run_until([] { return false; }, milliseconds(200));
  s.a.connected = false;  // SIGKILL: nothing more from a
  const auto took = s.run_until([&] { return owns(s.b); }, milliseconds(2000));
  ASSERT_TRUE(took);
  // Master_Down_Interval = 3 x 50 ms + (256 - 100) / 256 x 50 ms = 180 ms.
  EXPECT_GE(took->count(), 120);
  EXPECT_LE(took->count(), 600);
}

TEST(VrrpController, ShutdownHandsOverAfterTheSkewTime) {
  Segment s;
  VrrpConfig a = instance(150), b = instance(100);
  a.advert_interval = b.advert_interval = milliseconds(100);
  s.make(s.a, kAddrA, a, s.b);
  s.make(s.b, kAddrB, b, s.a);
  s.a.vrrp->start();
  s.b.vrrp->start();
  ASSERT_TRUE(
      s.run_until([&] { return owns(s.a) && state_of(s.b) == "BACKUP"; }, milliseconds(2000)));
  s.a.vrrp->shutdown();  // sends priority 0
  EXPECT_TRUE(s.a.vrrp->owned_vips().empty());
  const auto took = s.run_until([&] { return owns(s.b); }, milliseconds(2000));
  ASSERT_TRUE(took);
  // Skew_Time = 156/256 x 100 ms = 61 ms, not Master_Down_Interval = 361 ms.
  EXPECT_LE(took->count(), 250);
  EXPECT_EQ(s.b.vrrp->status()["instances"][0]["priority_zero_received"], 1);
}

TEST(VrrpController, TrackingLowersPriorityAndAPreemptingPeerTakesOver) {
  Segment s;
  VrrpConfig a = instance(150);
  a.track_services = {"nova-api"};
  a.track_priority_delta = 60;
  s.make(s.a, kAddrA, a, s.b);
  s.make(s.b, kAddrB, instance(100, /*preempt=*/true), s.a);
  bool nova_out = false;
  const auto out = [&](const std::string& name) { return name == "nova-api" && nova_out; };
  s.a.vrrp->update_tracking(out, true);
  s.a.vrrp->start();
  s.b.vrrp->start();
  ASSERT_TRUE(
      s.run_until([&] { return owns(s.a) && state_of(s.b) == "BACKUP"; }, milliseconds(2000)));
  nova_out = true;
  s.a.vrrp->update_tracking(out, true);
  EXPECT_EQ(s.a.vrrp->status()["instances"][0]["effective_priority"], 90);
  EXPECT_EQ(s.a.vrrp->status()["instances"][0]["tracked_out"], nlohmann::json::array({"nova-api"}));
  ASSERT_TRUE(
      s.run_until([&] { return owns(s.b) && state_of(s.a) == "BACKUP"; }, milliseconds(1000)));
  nova_out = false;
  s.a.vrrp->update_tracking(out, true);
  EXPECT_EQ(s.a.vrrp->status()["instances"][0]["effective_priority"], 150);
}

TEST(VrrpController, LinkDownAndZeroDeltaTrackingMeanFault) {
  Segment s;
  VrrpConfig a = instance(150);
  a.track_services = {"galera"};
  a.track_priority_delta = 0;
  s.make(s.a, kAddrA, a, s.b);
  s.make(s.b, kAddrB, instance(100), s.a);
  s.a.vrrp->start();
  s.b.vrrp->start();
  ASSERT_TRUE(s.run_until([&] { return owns(s.a); }, milliseconds(2000)));
  s.a.vrrp->update_tracking([](const std::string& n) { return n == "galera"; }, true);
  EXPECT_EQ(state_of(s.a), "FAULT");
  EXPECT_TRUE(s.a.vrrp->owned_vips().empty());
  ASSERT_TRUE(s.run_until([&] { return owns(s.b); }, milliseconds(500)));
  s.a.vrrp->update_tracking([](const std::string&) { return false; }, true);
  EXPECT_EQ(state_of(s.a), "BACKUP");  // nopreempt: b keeps the VIP
  s.b.vrrp->update_tracking([](const std::string&) { return false; }, false);
  EXPECT_EQ(state_of(s.b), "FAULT");
  EXPECT_TRUE(s.run_until([&] { return owns(s.a); }, milliseconds(500)));
}

TEST(VrrpController, MalformedAndForeignFramesAreCountedAndChangeNothing) {
  Segment s;
  s.make(s.a, kAddrA, instance(100), s.b);
  s.a.vrrp->start();
  const auto send = [&](const vrrp::Advert& adv, uint8_t ttl, Ipv4Be src, bool break_sum) {
    auto payload = vrrp::encode_advert(adv, src, vrrp::kMulticastGroup);
    if (break_sum) payload[6] ^= 0x55;
    auto frame = vrrp::build_frame(MacAddr{{2, 0, 0, 0, 0, 9}}, vrrp::kMulticastMac, src,
                                   vrrp::kMulticastGroup, 1, payload);
    frame[14 + 8] = ttl;
    const uint16_t zero = 0;
    std::memcpy(frame.data() + 14 + 10, &zero, 2);
    const uint16_t sum = ipv4_header_checksum(frame.data() + 14, 20);
    std::memcpy(frame.data() + 14 + 10, &sum, 2);
    s.a.vrrp->receive(frame.data(), frame.size());
  };
  const Ipv4Be other = *parse_ipv4("192.0.2.9");
  vrrp::Advert good{3, 51, 200, milliseconds(50), {kVip}};
  send(good, 64, other, false);  // TTL
  send(good, 255, other, true);  // checksum
  vrrp::Advert v2 = good;
  v2.version = 2;
  send(v2, 255, other, false);  // version
  vrrp::Advert vrid = good;
  vrid.vrid = 52;
  send(vrid, 255, other, false);  // no such instance
  const auto whole = vrrp::build_frame(MacAddr{{2, 0, 0, 0, 0, 9}}, vrrp::kMulticastMac, other,
                                       vrrp::kMulticastGroup, 1,
                                       vrrp::encode_advert(good, other, vrrp::kMulticastGroup));
  s.a.vrrp->receive(whole.data(), 20);  // cut inside the IPv4 header
  const auto st = s.a.vrrp->status();
  const auto& drops = st["instances"][0]["drops"];
  EXPECT_EQ(drops["ttl"], 1);
  EXPECT_EQ(drops["checksum"], 1);
  EXPECT_EQ(drops["version"], 1);
  EXPECT_EQ(st["drops"]["unknown_vrid"], 1);
  EXPECT_EQ(st["drops"]["malformed_ip"], 1);
  EXPECT_EQ(st["instances"][0]["adverts_received"], 0);
  EXPECT_EQ(st["instances"][0]["state"], "BACKUP");
  // The same advert, well formed, is taken (a priority-200 master: stay backup, follow it).
  send(good, 255, other, false);
  EXPECT_EQ(s.a.vrrp->status()["instances"][0]["adverts_received"], 1);
  EXPECT_EQ(s.a.vrrp->status()["instances"][0]["master"], "192.0.2.9");
  MetricsWriter w;
  s.a.vrrp->write_metrics(w);
  EXPECT_NE(w.str().find("fulcrum_vrrp_adverts_dropped_total{instance=\"VI_1\",reason=\"ttl\"} 1"),
            std::string::npos)
      << w.str();
  EXPECT_NE(w.str().find("fulcrum_vrrp_state{instance=\"VI_1\"} 1"), std::string::npos);
}

TEST(VrrpController, NotifyRunsOnEveryTransitionInOrder) {
  char tmpl[] = "/tmp/fulcrum-vrrp-XXXXXX";
  const std::filesystem::path dir = mkdtemp(tmpl);
  const auto log = dir / "log";
  const auto script = dir / "notify.sh";
  std::ofstream(script) << "#!/bin/sh\necho \"$1 $2\" >> " << log.string() << "\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  {
    Segment s;
    VrrpConfig b = instance(100);
    b.notify = script.string();
    s.make(s.a, kAddrA, instance(150, /*preempt=*/true), s.b);
    s.make(s.b, kAddrB, b, s.a);
    s.b.vrrp->start();  // alone: BACKUP, then MASTER
    ASSERT_TRUE(s.run_until([&] { return owns(s.b); }, milliseconds(2000)));
    s.a.vrrp->start();  // preempts: b hears a higher master and yields
    ASSERT_TRUE(s.run_until([&] { return state_of(s.b) == "BACKUP"; }, milliseconds(2000)));
    s.b.vrrp->update_tracking([](const std::string&) { return false; }, false);  // FAULT
  }  // the controllers' notifiers run what is queued before they go
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "VI_1 BACKUP\nVI_1 MASTER\nVI_1 BACKUP\nVI_1 FAULT\n");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fulcrum

namespace fulcrum {
namespace {

TEST(VrrpController, ReloadKeepsStateUnlessProtocolSettingsChange) {
  Segment s;
  s.make(s.a, kAddrA, instance(150), s.b);
  s.a.vrrp->start();
  ASSERT_TRUE(s.run_until([&] { return owns(s.a); }, milliseconds(2000)));
  const auto transitions = s.a.vrrp->status()["instances"][0]["transitions"];

  Config same;
  VrrpConfig v = instance(150);
  v.garp_count = 7;  // not a protocol setting
  same.vrrp.push_back(v);
  EXPECT_EQ(s.a.vrrp->reconfigure(same), "");
  EXPECT_TRUE(owns(s.a));
  EXPECT_EQ(s.a.vrrp->status()["instances"][0]["transitions"], transitions);

  Config changed;
  changed.vrrp.push_back(instance(120));
  EXPECT_EQ(s.a.vrrp->reconfigure(changed), "VRRP instance(s) restarted: VI_1");
  EXPECT_EQ(state_of(s.a), "BACKUP");  // restarted through Initialize
  EXPECT_EQ(s.a.vrrp->status()["instances"][0]["priority"], 120);
  ASSERT_TRUE(s.run_until([&] { return owns(s.a); }, milliseconds(2000)));

  EXPECT_EQ(s.a.vrrp->reconfigure(Config{}), "");  // removed: it leaves
  EXPECT_TRUE(s.a.vrrp->empty());
  EXPECT_TRUE(s.a.vrrp->owned_vips().empty());
  EXPECT_FALSE(s.a.vrrp->manages(kVip));
}

}  // namespace
}  // namespace fulcrum

namespace fulcrum {
namespace {

TEST(VrrpController, MasterHearingALowerMasterReannouncesAndTheLowerYields) {
  Segment s;
  s.make(s.a, kAddrA, instance(150), s.b);
  s.make(s.b, kAddrB, instance(100), s.a);
  s.a.connected = s.b.connected = false;  // a partition: both become master
  s.a.vrrp->start();
  s.b.vrrp->start();
  ASSERT_TRUE(s.run_until([&] { return owns(s.a) && owns(s.b); }, milliseconds(2000)));
  ASSERT_FALSE(s.b.sent.empty());
  const int garps_before = s.a.garps;
  // The partition heals and b's advert reaches a first: a asserts itself and re-announces.
  s.a.vrrp->receive(s.b.sent.back().data(), s.b.sent.back().size());
  EXPECT_EQ(s.a.garps, garps_before + 2);  // garp_count rounds for its one VIP
  EXPECT_TRUE(owns(s.a));
  s.a.connected = s.b.connected = true;
  ASSERT_TRUE(s.run_until([&] { return state_of(s.b) == "BACKUP"; }, milliseconds(1000)));
  EXPECT_TRUE(s.b.vrrp->owned_vips().empty());
  EXPECT_TRUE(owns(s.a));
}

TEST(VrrpController, GarpRefreshRepeatsWhileMaster) {
  Segment s;
  VrrpConfig v = instance(150);
  v.garp_refresh = milliseconds(40);
  s.make(s.a, kAddrA, v, s.b);
  s.a.vrrp->start();
  ASSERT_TRUE(s.run_until([&] { return owns(s.a); }, milliseconds(2000)));
  const int after_burst = s.a.garps;
  EXPECT_EQ(after_burst, 2);
  s.run_until([] { return false; }, milliseconds(400));
  EXPECT_GE(s.a.garps, after_burst + 3);  // about one every 40 ms (fewer on a loaded machine)
  EXPECT_LE(s.a.garps, after_burst + 11);
  s.a.vrrp->shutdown();
  const int at_stop = s.a.garps;
  s.run_until([] { return false; }, milliseconds(100));
  EXPECT_EQ(s.a.garps, at_stop);  // no refresh once it is no longer master
}

}  // namespace
}  // namespace fulcrum
