// SPDX-License-Identifier: Apache-2.0
// The VRRP state machine against RFC 5798 section 6.4 (and RFC 3768 timers), driven with a fake
// clock; two instances are simulated by feeding each other's adverts.
#include "vrrp_instance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

namespace fulcrum {
namespace {

using std::chrono::milliseconds;
using TP = VrrpInstance::TimePoint;

constexpr Ipv4Be kA = host_to_be32(0xc0000201U);  // 192.0.2.1
constexpr Ipv4Be kB = host_to_be32(0xc0000202U);  // 192.0.2.2

const TP kT0 = TP{} + std::chrono::hours(1);

VrrpInstanceConfig cfg(uint8_t prio, Ipv4Be self, bool preempt = false,
                       milliseconds interval = milliseconds(100)) {
  VrrpInstanceConfig c;
  c.vrid = 51;
  c.priority = prio;
  c.advert_interval = interval;
  c.preempt = preempt;
  c.self_address = self;
  return c;
}

bool has(const VrrpActions& a, VrrpActionType t) {
  return std::any_of(a.begin(), a.end(), [t](const VrrpAction& x) { return x.type == t; });
}
std::optional<uint8_t> sent(const VrrpActions& a) {
  for (const auto& x : a) {
    if (x.type == VrrpActionType::kSendAdvert) return x.priority;
  }
  return std::nullopt;
}

vrrp::Advert adv(uint8_t prio, milliseconds interval = milliseconds(100), uint8_t version = 3) {
  return vrrp::Advert{version, 51, prio, interval, {host_to_be32(0xc000021aU)}};
}

// Two nodes on one segment with a shared fake clock: runs timers in deadline order and delivers
// each sent advert to the other node at once.
struct Pair {
  VrrpInstance a, b;
  TP now = kT0;
  bool a_up = true, b_up = true;

  void deliver(VrrpInstance& from, const VrrpActions& acts, VrrpInstance& to, bool to_up) {
    for (const auto& x : acts) {
      if (x.type != VrrpActionType::kSendAdvert || !to_up) continue;
      auto reply = to.receive(from.make_advert(x.priority, {}), from.config().self_address, now);
      deliver(to, reply, from, &from == &a ? a_up : b_up);
    }
  }
  void run_until(TP end) {
    for (;;) {
      std::optional<TP> da = a_up ? a.next_deadline() : std::nullopt;
      std::optional<TP> db = b_up ? b.next_deadline() : std::nullopt;
      TP next = end;
      if (da) next = std::min(next, *da);
      if (db) next = std::min(next, *db);
      if (next >= end) {
        now = end;
        return;
      }
      now = next;
      if (da && *da <= now) deliver(a, a.timer(now), b, b_up);
      if (db && *db <= now && b_up) deliver(b, b.timer(now), a, a_up);
    }
  }
};

TEST(VrrpInstance, BackupBecomesMasterAfterMasterDownInterval) {
  VrrpInstance v(cfg(100, kA, false, milliseconds(1000)));
  auto acts = v.start(kT0);
  EXPECT_EQ(v.state(), VrrpState::kBackup);
  EXPECT_TRUE(has(acts, VrrpActionType::kBecomeBackup));
  // Skew = (256 - 100) * 1 s / 256 = 609.375 ms; Master_Down = 3 s + skew.
  EXPECT_EQ(v.skew_time(), std::chrono::microseconds(609375));
  ASSERT_TRUE(v.next_deadline());
  EXPECT_EQ(*v.next_deadline(), kT0 + milliseconds(3000) + std::chrono::microseconds(609375));
  EXPECT_TRUE(v.timer(kT0 + milliseconds(3609)).empty());
  EXPECT_EQ(v.state(), VrrpState::kBackup);
  acts = v.timer(*v.next_deadline());
  EXPECT_EQ(v.state(), VrrpState::kMaster);
  EXPECT_EQ(sent(acts), 100);
  EXPECT_TRUE(has(acts, VrrpActionType::kBecomeMaster));
  EXPECT_EQ(v.master_address(), kA);
  // Master advertises every Advertisement_Interval.
  const TP t = *v.next_deadline();
  EXPECT_EQ(t, kT0 + milliseconds(3000) + std::chrono::microseconds(609375) + milliseconds(1000));
  EXPECT_EQ(sent(v.timer(t)), 100);
  EXPECT_EQ(v.counters().adverts_sent, 2u);
  EXPECT_EQ(v.counters().became_master, 1u);
}

TEST(VrrpInstance, OwnerBecomesMasterAtStart) {
  VrrpInstance v(cfg(255, kA));
  auto acts = v.start(kT0);
  EXPECT_EQ(v.state(), VrrpState::kMaster);
  EXPECT_EQ(sent(acts), 255);
  EXPECT_TRUE(has(acts, VrrpActionType::kBecomeMaster));
}

TEST(VrrpInstance, TwoInstancesConvergeToHigherPriority) {
  Pair p{VrrpInstance(cfg(100, kA)), VrrpInstance(cfg(200, kB))};
  p.a.start(p.now);
  p.b.start(p.now);
  p.run_until(kT0 + milliseconds(5000));
  EXPECT_EQ(p.b.state(), VrrpState::kMaster);
  EXPECT_EQ(p.a.state(), VrrpState::kBackup);
  EXPECT_EQ(p.a.master_address(), kB);
  EXPECT_GT(p.a.counters().adverts_received, 40u);
}

TEST(VrrpInstance, BothMasterSplitBrainResolvesToHigher) {
  VrrpInstance a(cfg(100, kA)), b(cfg(200, kB));
  a.start(kT0);
  b.start(kT0);
  a.timer(*a.next_deadline());
  b.timer(*b.next_deadline());
  ASSERT_EQ(a.state(), VrrpState::kMaster);
  ASSERT_EQ(b.state(), VrrpState::kMaster);
  // B hears A's lower advert: re-sends and re-announces at once.
  auto acts = b.receive(adv(100), kA, kT0 + milliseconds(4000));
  EXPECT_EQ(sent(acts), 200);
  EXPECT_TRUE(has(acts, VrrpActionType::kReannounce));
  acts = a.receive(adv(200), kB, kT0 + milliseconds(4000));
  EXPECT_EQ(a.state(), VrrpState::kBackup);
  EXPECT_TRUE(has(acts, VrrpActionType::kBecomeBackup));
}

TEST(VrrpInstance, NopreemptReturningHigherPriorityStaysBackup) {
  // A (100) is master alone; B (200, nopreempt) comes back.
  Pair p{VrrpInstance(cfg(100, kA)), VrrpInstance(cfg(200, kB))};
  p.b_up = false;
  p.a.start(p.now);
  p.run_until(kT0 + milliseconds(1000));
  ASSERT_EQ(p.a.state(), VrrpState::kMaster);
  p.b_up = true;
  p.b.start(p.now);
  p.run_until(kT0 + milliseconds(10000));
  EXPECT_EQ(p.a.state(), VrrpState::kMaster);
  EXPECT_EQ(p.b.state(), VrrpState::kBackup);
  // A dies: B takes over after its master-down interval.
  p.a_up = false;
  const TP died = p.now;
  p.run_until(died + milliseconds(400));
  EXPECT_EQ(p.b.state(), VrrpState::kMaster);
}

TEST(VrrpInstance, PreemptWithDelay) {
  auto cb = cfg(200, kB, /*preempt=*/true);
  cb.preempt_delay = milliseconds(2000);
  Pair p{VrrpInstance(cfg(100, kA)), VrrpInstance(cb)};
  p.b_up = false;
  p.a.start(p.now);
  p.run_until(kT0 + milliseconds(1000));
  ASSERT_EQ(p.a.state(), VrrpState::kMaster);
  p.b_up = true;
  p.b.start(p.now);
  const TP back = p.now;
  p.run_until(back + milliseconds(1900));
  EXPECT_EQ(p.b.state(), VrrpState::kBackup);  // holding off
  EXPECT_EQ(p.a.state(), VrrpState::kMaster);
  p.run_until(back + milliseconds(2200));
  EXPECT_EQ(p.b.state(), VrrpState::kMaster);
  EXPECT_EQ(p.a.state(), VrrpState::kBackup);
}

TEST(VrrpInstance, PreemptWithoutDelayTakesOverOnFirstLowerAdvert) {
  VrrpInstance b(cfg(200, kB, /*preempt=*/true));
  b.start(kT0);
  auto acts = b.receive(adv(100), kA, kT0 + milliseconds(10));
  EXPECT_EQ(b.state(), VrrpState::kMaster);
  EXPECT_EQ(sent(acts), 200);
  EXPECT_TRUE(has(acts, VrrpActionType::kBecomeMaster));
}

TEST(VrrpInstance, PriorityZeroFastFailover) {
  VrrpInstance a(cfg(100, kA)), b(cfg(100, kB));
  // B is master; A backup following it.
  b.start(kT0);
  b.timer(*b.next_deadline());
  a.start(kT0);
  TP t = kT0 + milliseconds(50);
  a.receive(adv(100), kB, t);
  auto acts = b.shutdown(t + milliseconds(10));
  EXPECT_EQ(sent(acts), 0);
  EXPECT_TRUE(has(acts, VrrpActionType::kBecomeBackup));
  EXPECT_EQ(b.state(), VrrpState::kInitialize);
  const TP gone = t + milliseconds(10);
  a.receive(adv(0), kB, gone);
  // Skew = 156 * 100 ms / 256 = 60.9375 ms, not 3 intervals.
  ASSERT_TRUE(a.next_deadline());
  EXPECT_EQ(*a.next_deadline() - gone,
            std::chrono::microseconds(60937) + std::chrono::nanoseconds(500));
  EXPECT_TRUE(a.timer(gone + milliseconds(60)).empty());
  acts = a.timer(gone + milliseconds(61));
  EXPECT_EQ(a.state(), VrrpState::kMaster);
  EXPECT_TRUE(has(acts, VrrpActionType::kBecomeMaster));
  EXPECT_EQ(a.counters().priority_zero_received, 1u);
}

TEST(VrrpInstance, MasterAnswersPriorityZeroWithAdvert) {
  VrrpInstance a(cfg(255, kA));
  a.start(kT0);
  auto acts = a.receive(adv(0), kB, kT0 + milliseconds(5));
  EXPECT_EQ(sent(acts), 255);
  EXPECT_EQ(a.state(), VrrpState::kMaster);
}

TEST(VrrpInstance, EqualPriorityTieBrokenByHigherAddress) {
  // Both time out together and both become master; the adverts they exchange settle it.
  VrrpInstance a(cfg(100, kA)), b(cfg(100, kB));
  a.start(kT0);
  b.start(kT0);
  const TP t = *a.next_deadline();
  auto from_a = a.timer(t);
  auto from_b = b.timer(t);
  ASSERT_EQ(a.state(), VrrpState::kMaster);
  ASSERT_EQ(b.state(), VrrpState::kMaster);
  auto b_reply = b.receive(a.make_advert(*sent(from_a), {}), kA, t);
  EXPECT_TRUE(has(b_reply, VrrpActionType::kReannounce));  // .2 > .1: B stays
  auto a_reply = a.receive(b.make_advert(*sent(from_b), {}), kB, t);
  EXPECT_TRUE(has(a_reply, VrrpActionType::kBecomeBackup));
  EXPECT_EQ(b.state(), VrrpState::kMaster);
  EXPECT_EQ(a.state(), VrrpState::kBackup);
  EXPECT_EQ(a.master_address(), kB);
}

TEST(VrrpInstance, FaultAndRecovery) {
  VrrpInstance a(cfg(100, kA));
  a.start(kT0);
  a.timer(*a.next_deadline());
  ASSERT_EQ(a.state(), VrrpState::kMaster);
  auto acts = a.set_fault(true, kT0 + milliseconds(1000));
  EXPECT_EQ(a.state(), VrrpState::kFault);
  EXPECT_EQ(sent(acts), 0);
  EXPECT_TRUE(has(acts, VrrpActionType::kBecomeFault));
  EXPECT_FALSE(a.next_deadline());
  EXPECT_TRUE(a.receive(adv(50), kB, kT0 + milliseconds(1100)).empty());
  EXPECT_EQ(a.state(), VrrpState::kFault);
  acts = a.set_fault(false, kT0 + milliseconds(2000));
  EXPECT_EQ(a.state(), VrrpState::kBackup);
  EXPECT_TRUE(has(acts, VrrpActionType::kBecomeBackup));
  a.timer(*a.next_deadline());
  EXPECT_EQ(a.state(), VrrpState::kMaster);
  EXPECT_EQ(a.counters().became_fault, 1u);
  // A fault set before start applies at start.
  VrrpInstance c(cfg(100, kB));
  c.set_fault(true, kT0);
  c.start(kT0);
  EXPECT_EQ(c.state(), VrrpState::kFault);
}

TEST(VrrpInstance, TrackingDeltaLetsPreemptingPeerTakeOver) {
  // A (150) master; B (120, preempt) backup. A's tracked service fails: -50 -> 100 < 120.
  Pair p{VrrpInstance(cfg(150, kA)), VrrpInstance(cfg(120, kB, /*preempt=*/true))};
  p.a.start(p.now);
  p.b.start(p.now);
  p.run_until(kT0 + milliseconds(3000));
  ASSERT_EQ(p.a.state(), VrrpState::kMaster);
  ASSERT_EQ(p.b.state(), VrrpState::kBackup);
  auto acts = p.a.set_priority_delta(50, p.now);
  EXPECT_EQ(p.a.effective_priority(), 100);
  EXPECT_EQ(sent(acts), 100);  // re-advertised at once
  p.deliver(p.a, acts, p.b, true);
  EXPECT_EQ(p.b.state(), VrrpState::kMaster);
  EXPECT_EQ(p.a.state(), VrrpState::kBackup);
  // Clamping.
  VrrpInstance c(cfg(100, kA));
  c.set_priority_delta(500, kT0);
  EXPECT_EQ(c.effective_priority(), 1);
  c.set_priority_delta(0, kT0);
  EXPECT_EQ(c.effective_priority(), 100);
}

TEST(VrrpInstance, V2IntervalInSeconds) {
  auto c = cfg(100, kA, false, milliseconds(1000));
  c.version = 2;
  VrrpInstance v(c);
  v.start(kT0);
  // v2: skew = (256 - 100) / 256 s, master down = 3 * 1 s + skew.
  EXPECT_EQ(v.skew_time(), std::chrono::microseconds(609375));
  EXPECT_EQ(*v.next_deadline(), kT0 + std::chrono::microseconds(3609375));
  // An advert with another interval is dropped (RFC 3768 7.1); the right one resets the timer.
  const TP t = kT0 + milliseconds(3000);
  v.receive(adv(150, milliseconds(2000), 2), kB, t);
  EXPECT_EQ(v.counters().adverts_ignored, 1u);
  EXPECT_EQ(*v.next_deadline(), kT0 + std::chrono::microseconds(3609375));
  v.receive(adv(150, milliseconds(1000), 2), kB, t);
  EXPECT_EQ(*v.next_deadline(), t + std::chrono::microseconds(3609375));
  // A v3 advert is ignored by a v2 instance.
  v.receive(adv(150), kB, t);
  EXPECT_EQ(v.counters().adverts_ignored, 2u);
  // Sending: the advert carries seconds.
  EXPECT_EQ(v.make_advert(100, {}).version, 2);
}

TEST(VrrpInstance, V3BackupFollowsMasterAdverInterval) {
  VrrpInstance v(cfg(100, kA, false, milliseconds(1000)));
  v.start(kT0);
  v.receive(adv(200, milliseconds(200)), kB, kT0);
  EXPECT_EQ(v.master_adver_interval(), milliseconds(200));
  // 3 * 200 ms + 156 * 200 ms / 256 = 600 + 121.875 ms.
  EXPECT_EQ(*v.next_deadline(), kT0 + std::chrono::microseconds(721875));
}

TEST(VrrpInstance, IgnoresOtherVridAndOwnAdverts) {
  VrrpInstance v(cfg(100, kA));
  v.start(kT0);
  auto other = adv(200);
  other.vrid = 52;
  v.receive(other, kB, kT0);
  v.receive(adv(200), kA, kT0);
  EXPECT_EQ(v.counters().adverts_ignored, 2u);
  EXPECT_EQ(v.counters().adverts_received, 0u);
}

}  // namespace
}  // namespace fulcrum
