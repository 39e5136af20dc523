// SPDX-License-Identifier: Apache-2.0
// When a node announces a VIP: only with the data plane running, the link up, no stop under
// way, and every service on that VIP able to take new flows; each "no" says why.
#include "announce_policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fulcrum {
namespace {

constexpr Ipv4Be kVip = 0xc000021aU;    // 192.0.2.26 (only compared, byte order irrelevant)
constexpr Ipv4Be kOther = 0xc000021bU;  // 192.0.2.27

BackendStatus backend(BackendHealth health, bool serving) {
  BackendStatus b;
  b.health = health;
  b.serving = serving;
  return b;
}

ServiceStatus service(const std::string& name, Ipv4Be vip, std::vector<BackendStatus> backends) {
  ServiceStatus s;
  s.config.name = name;
  s.config.vip = vip;
  s.backends = std::move(backends);
  return s;
}

AnnounceConfig announce_one(Ipv4Be vip = kVip) {
  AnnounceConfig c;
  c.vips.push_back({.address = vip, .bird_protocol = "vip1"});
  return c;
}

const AnnounceInputs kReady{.dataplane_ready = true, .link_up = true, .stopping = false};

std::vector<ServiceStatus> healthy_pair() {
  return {service("nova-api", kVip, {backend(BackendHealth::kUp, true),
                                     backend(BackendHealth::kDown, false)}),
          service("galera", kVip, {backend(BackendHealth::kUp, true)})};
}

TEST(AnnouncePolicy, AnnouncesWhenEveryServiceOnTheVipServes) {
  const auto d = decide_announcements(announce_one(), healthy_pair(), kReady);
  ASSERT_EQ(d.size(), 1U);
  EXPECT_TRUE(d[0].announce);
  EXPECT_EQ(d[0].vip, kVip);
  EXPECT_EQ(d[0].protocol, "vip1");
  EXPECT_EQ(d[0].reason, "all 2 services are serving");
}

TEST(AnnouncePolicy, OneDeadServiceWithdrawsTheWholeVip) {
  auto services = healthy_pair();
  services[1].backends[0] = backend(BackendHealth::kDown, false);
  const auto d = decide_announcements(announce_one(), services, kReady);
  EXPECT_FALSE(d[0].announce);
  EXPECT_EQ(d[0].reason, "service galera has no serving backend");
}

TEST(AnnouncePolicy, EveryDeadServiceIsNamed) {
  std::vector<ServiceStatus> services = {
      service("nova-api", kVip, {backend(BackendHealth::kDown, false)}),
      service("galera", kVip, {backend(BackendHealth::kUnknown, false)})};
  const auto d = decide_announcements(announce_one(), services, kReady);
  EXPECT_FALSE(d[0].announce);
  EXPECT_EQ(d[0].reason,
            "service nova-api has no serving backend; service galera is waiting for its first "
            "check results");
}

TEST(AnnouncePolicy, NothingIsAnnouncedBeforeTheFirstCheckResults) {
  std::vector<ServiceStatus> services = {
      service("nova-api", kVip, {backend(BackendHealth::kUnknown, false)})};
  const auto d = decide_announcements(announce_one(), services, kReady);
  EXPECT_FALSE(d[0].announce);
  EXPECT_EQ(d[0].reason, "service nova-api is waiting for its first check results");
}

TEST(AnnouncePolicy, ADrainedPoolIsNotServing) {
  std::vector<ServiceStatus> services = {
      service("nova-api", kVip, {backend(BackendHealth::kUp, false)})};
  services[0].backends[0].admin = AdminState::kDrain;
  EXPECT_FALSE(decide_announcements(announce_one(), services, kReady)[0].announce);
}

TEST(AnnouncePolicy, ServicesOnOtherVipsDoNotCount) {
  auto services = healthy_pair();
  services.push_back(service("dns", kOther, {backend(BackendHealth::kDown, false)}));
  EXPECT_TRUE(decide_announcements(announce_one(), services, kReady)[0].announce);
  const auto d = decide_announcements(announce_one(kOther), services, kReady);
  EXPECT_FALSE(d[0].announce);
  EXPECT_EQ(d[0].reason, "service dns has no serving backend");
}

TEST(AnnouncePolicy, NodeConditionsComeFirst) {
  const auto reason = [](const AnnounceInputs& in) {
    const auto d = decide_announcements(announce_one(), healthy_pair(), in);
    EXPECT_FALSE(d[0].announce);
    return d[0].reason;
  };
  EXPECT_EQ(reason({.dataplane_ready = false, .link_up = true, .stopping = false}),
            "data plane not ready");
  EXPECT_EQ(reason({.dataplane_ready = true, .link_up = false, .stopping = false}),
            "port link down");
  EXPECT_EQ(reason({.dataplane_ready = true, .link_up = true, .stopping = true}), "stopping");
}

TEST(AnnouncePolicy, AVipWithoutServicesIsWithdrawn) {
  const auto d = decide_announcements(announce_one(kOther), healthy_pair(), kReady);
  EXPECT_FALSE(d[0].announce);
  EXPECT_EQ(d[0].reason, "no service on this VIP");
}

TEST(AnnouncePolicy, OneDecisionPerVipInConfigOrder) {
  AnnounceConfig c = announce_one();
  c.vips.push_back({.address = kOther, .bird_protocol = "vip2"});
  auto services = healthy_pair();
  services.push_back(service("dns", kOther, {backend(BackendHealth::kUnchecked, true)}));
  const auto d = decide_announcements(c, services, kReady);
  ASSERT_EQ(d.size(), 2U);
  EXPECT_EQ(d[1].protocol, "vip2");
  EXPECT_TRUE(d[1].announce);
  EXPECT_EQ(d[1].reason, "its service is serving");
}

}  // namespace
}  // namespace fulcrum
