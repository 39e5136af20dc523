// SPDX-License-Identifier: Apache-2.0
// HealthChecker against loopback servers: state changes honour rise and fall and are reported
// and logged with their reason; a reload keeps the state of unchanged targets; a hung backend
// never slows another's checks; stop() leaves no work behind.
#include "health_checker.h"

#include <gtest/gtest.h>

#include <cstdio>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "fake_servers.h"

namespace fulcrum {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const Ipv4Be kLoopback = *parse_ipv4("127.0.0.1");

CheckConfig check(CheckType type, std::chrono::milliseconds interval = 20ms, uint32_t rise = 2,
                  uint32_t fall = 3, std::chrono::milliseconds timeout = 200ms) {
  CheckConfig c;
  c.type = type;
  c.interval = interval;
  c.timeout = timeout;
  c.rise = rise;
  c.fall = fall;
  return c;
}

CheckTarget target(const std::string& service, uint16_t port, const CheckConfig& c) {
  return {CheckTargetKey{service, kLoopback, port}, c};
}

struct Change {
  CheckTargetKey key;
  Health from;
  Health to;
  CheckResult result;
  TargetStatus at_change;  // status() seen from inside the callback
};

class HealthCheckerTest : public testing::Test {
 protected:
  HealthCheckerTest()
      : checker_(ioc_,
                 [this](const CheckTargetKey& key, Health from, Health to, const CheckResult& r) {
                   TargetStatus s;
                   for (const TargetStatus& t : checker_.status()) {
                     if (t.key == key) s = t;
                   }
                   changes_.push_back({key, from, to, r, s});
                 }) {}

  // Runs the io_context until pred() holds or `limit` passes; returns pred().
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 2000ms) {
    const auto end = Clock::now() + limit;
    while (!pred() && Clock::now() < end) ioc_.run_one_for(5ms);
    return pred();
  }
  void run_for(std::chrono::milliseconds d) {
    const auto end = Clock::now() + d;
    while (Clock::now() < end) ioc_.run_one_for(5ms);
  }
  TargetStatus status_of(const std::string& service, uint16_t port) {
    for (const TargetStatus& t : checker_.status()) {
      if (t.key.service == service && t.key.port == port) return t;
    }
    ADD_FAILURE() << "no target " << service << ":" << port;
    return {};
  }

  asio::io_context ioc_;
  std::vector<Change> changes_;
  HealthChecker checker_;
};

TEST_F(HealthCheckerTest, ReportsUpThenDownAfterFallThenUpAfterRise) {
  fakes::HttpBackend backend;
  fakes::FakeServer server(backend.handler());
  CheckConfig c = check(CheckType::kHttp, 20ms, /*rise=*/2, /*fall=*/3);
  checker_.set_targets({target("web", server.port(), c)});
  EXPECT_EQ(status_of("web", server.port()).health, Health::kUnknown);

  ASSERT_TRUE(run_until([&] { return changes_.size() == 1; }));
  EXPECT_EQ(changes_[0].from, Health::kUnknown);
  EXPECT_EQ(changes_[0].to, Health::kUp);  // after one good check
  EXPECT_EQ(changes_[0].at_change.checks, 1U);

  testing::internal::CaptureStderr();
  backend.status = 503;
  ASSERT_TRUE(run_until([&] { return changes_.size() == 2; }));
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(changes_[1].from, Health::kUp);
  EXPECT_EQ(changes_[1].to, Health::kDown);
  EXPECT_EQ(changes_[1].result.reason, "HTTP 503, expected 200");
  EXPECT_EQ(changes_[1].at_change.failures, 3U);  // exactly `fall` failures
  EXPECT_NE(log.find("service web backend 127.0.0.1:" + std::to_string(server.port()) +
                     " DOWN: HTTP 503, expected 200 (3 failures)"),
            std::string::npos)
      << log;

  backend.status = 200;
  ASSERT_TRUE(run_until([&] { return changes_.size() == 3; }));
  EXPECT_EQ(changes_[2].to, Health::kUp);
  EXPECT_EQ(changes_[2].at_change.successes, 2U);  // exactly `rise` successes
  EXPECT_EQ(changes_[2].at_change.last_change, status_of("web", server.port()).last_change);
}

TEST_F(HealthCheckerTest, DeadBackendIsDownAfterItsFirstCheck) {
  fakes::ClosedPort closed;
  checker_.set_targets({target("db", closed.port(), check(CheckType::kTcp, 20ms, 2, 5))});
  ASSERT_TRUE(run_until([&] { return !changes_.empty(); }));
  EXPECT_EQ(changes_[0].to, Health::kDown);
  EXPECT_EQ(changes_[0].result.reason, "connect: Connection refused");
  run_for(100ms);
  EXPECT_EQ(changes_.size(), 1U);  // stays down, no repeated reports
  EXPECT_GE(status_of("db", closed.port()).failures, 3U);
}

TEST_F(HealthCheckerTest, ReloadKeepsStateOfUnchangedTargetsAndResetsChangedOnes) {
  fakes::Listener a, b, c;
  const CheckConfig tcp = check(CheckType::kTcp, 20ms, 2, 3);
  checker_.set_targets({target("svc", a.port(), tcp), target("svc", b.port(), tcp)});
  ASSERT_TRUE(run_until([&] { return changes_.size() == 2; }));
  const uint64_t checks_a = status_of("svc", a.port()).checks;

  CheckConfig moved = tcp;
  moved.line = 42;  // same check written on another line: no change
  CheckConfig stricter = tcp;
  stricter.rise = 5;  // a changed check starts over
  checker_.set_targets({target("svc", a.port(), moved), target("svc", b.port(), stricter),
                        target("svc", c.port(), tcp)});

  const TargetStatus sa = status_of("svc", a.port());
  EXPECT_EQ(sa.health, Health::kUp);
  EXPECT_GE(sa.checks, checks_a);
  EXPECT_EQ(status_of("svc", b.port()).health, Health::kUnknown);
  EXPECT_EQ(status_of("svc", c.port()).health, Health::kUnknown);

  ASSERT_TRUE(run_until([&] { return changes_.size() == 4; }));
  run_for(60ms);
  ASSERT_EQ(changes_.size(), 4U);  // a never changed: no report for it
  for (size_t i = 2; i < 4; ++i) {
    EXPECT_NE(changes_[i].key.port, a.port());
    EXPECT_EQ(changes_[i].from, Health::kUnknown);
    EXPECT_EQ(changes_[i].to, Health::kUp);
  }
}

TEST_F(HealthCheckerTest, RemovedTargetsStopBeingChecked) {
  fakes::HttpBackend backend;
  fakes::FakeServer server(backend.handler());
  fakes::Listener other;
  checker_.set_targets({target("web", server.port(), check(CheckType::kHttp)),
                        target("web", other.port(), check(CheckType::kTcp))});
  ASSERT_TRUE(run_until([&] { return changes_.size() == 2; }));
  checker_.set_targets({target("web", other.port(), check(CheckType::kTcp))});
  ASSERT_EQ(checker_.status().size(), 1U);
  run_for(30ms);  // a check already connected may still finish on the server's side
  const int accepted = server.accepted();
  run_for(100ms);
  EXPECT_EQ(server.accepted(), accepted);
  EXPECT_EQ(changes_.size(), 2U);
}

TEST_F(HealthCheckerTest, HungBackendDoesNotDelayTheOthers) {
  fakes::Listener hung;  // accepts in the kernel, never answers the HTTP request
  fakes::Listener healthy;
  checker_.set_targets({target("web", hung.port(), check(CheckType::kHttp, 20ms, 2, 1, 300ms)),
                        target("web", healthy.port(), check(CheckType::kTcp, 20ms))});
  run_for(700ms);
  const TargetStatus h = status_of("web", hung.port());
  const TargetStatus ok = status_of("web", healthy.port());
  EXPECT_LE(h.checks, 3U);
  EXPECT_EQ(h.health, Health::kDown);
  EXPECT_EQ(h.last.reason, "timeout after 300ms (waiting for the status line)");
  // 700ms at one check per ~20ms: far more than the hung target's pace would allow.
  EXPECT_GE(ok.checks, 12U) << "healthy target was held up";
  EXPECT_EQ(ok.health, Health::kUp);
}

// A backend that goes silent (accepts, never answers) runs every check into its timeout. The
// checks keep a fixed rate, so it leaves within fall x interval + timeout of going silent,
// not fall x (interval + timeout).
TEST_F(HealthCheckerTest, SilentBackendLeavesWithinFallTimesIntervalPlusTimeout) {
  std::atomic<bool> silent{false};
  fakes::HttpBackend answers;
  fakes::FakeServer server([&](int fd) { return silent ? false : answers.handler()(fd); });
  constexpr auto kInterval = 100ms, kTimeout = 90ms;
  constexpr uint32_t kFall = 3;
  checker_.set_targets({target("web", server.port(), check(CheckType::kHttp, kInterval, 2, kFall, kTimeout))});
  ASSERT_TRUE(run_until([&] { return changes_.size() == 1; }));
  ASSERT_EQ(changes_[0].to, Health::kUp);
  run_for(150ms);
  silent = true;
  const auto t0 = Clock::now();
  ASSERT_TRUE(run_until([&] { return changes_.size() == 2; }, 2000ms));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  std::printf("silent backend down after %lld ms (bound %lld ms)\n",
              static_cast<long long>(took.count()),
              static_cast<long long>((kFall * kInterval + kTimeout).count()));
  EXPECT_EQ(changes_[1].to, Health::kDown);
  // The bound, plus 60 ms for a shared machine's scheduling (the old pace took 640 ms here).
  EXPECT_LE(took, kFall * kInterval + kTimeout + 60ms);
}

TEST_F(HealthCheckerTest, FirstChecksAreSpreadOverTheInterval) {
  std::vector<fakes::Listener> servers(12);
  std::vector<CheckTarget> targets;
  for (const auto& s : servers)
    targets.push_back(target("many", s.port(), check(CheckType::kTcp, 300ms)));
  checker_.set_targets(targets);
  run_for(40ms);
  // Uniform over 300ms: all twelve within the first 40ms would be a (2/15)^12 fluke.
  EXPECT_LT(changes_.size(), servers.size());
  ASSERT_TRUE(run_until([&] { return changes_.size() == servers.size(); }, 1000ms));
}

TEST_F(HealthCheckerTest, StopCancelsChecksInFlight) {
  fakes::Listener hung;
  checker_.set_targets({target("web", hung.port(), check(CheckType::kHttp, 10ms, 2, 3, 5000ms))});
  run_for(50ms);  // first check connected and waiting on its 5s timeout
  checker_.stop();
  EXPECT_TRUE(checker_.status().empty());
  const auto t0 = Clock::now();
  ioc_.run_for(3s);  // returns as soon as no work is left
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_TRUE(changes_.empty());
}

TEST_F(HealthCheckerTest, CallbackMayReloadTheChecker) {
  fakes::Listener a, b;
  const CheckConfig tcp = check(CheckType::kTcp);
  bool reloaded = false;
  asio::io_context ioc;
  std::vector<Health> seen;
  HealthChecker checker(ioc, [&](const CheckTargetKey&, Health, Health to, const CheckResult&) {
    seen.push_back(to);
    if (!reloaded) {
      reloaded = true;
      checker.set_targets({target("x", b.port(), tcp)});  // drops the target reporting now
    }
  });
  checker.set_targets({target("x", a.port(), tcp)});
  const auto end = Clock::now() + 1s;
  while (seen.size() < 2 && Clock::now() < end) ioc.run_one_for(5ms);
  ASSERT_EQ(seen.size(), 2U);
  ASSERT_EQ(checker.status().size(), 1U);
  EXPECT_EQ(checker.status()[0].key.port, b.port());
}

TEST(CheckTargets, OnePerBackendOfEveryCheckedService) {
  ServiceConfig web;
  web.name = "web";
  web.check = CheckConfig{};
  web.backends = {{kLoopback, 80, 1, 0}, {kLoopback, 81, 1, 0}};
  ServiceConfig unchecked;
  unchecked.name = "dns";
  unchecked.backends = {{kLoopback, 53, 1, 0}};
  const auto targets = check_targets({web, unchecked});
  ASSERT_EQ(targets.size(), 2U);
  EXPECT_EQ(targets[1].key.to_string(), "service web backend 127.0.0.1:81");
}

TEST(SameCheck, IgnoresOnlyTheLine) {
  CheckConfig a, b;
  b.line = 7;
  EXPECT_TRUE(same_check(a, b));
  b.password = "changed";
  EXPECT_FALSE(same_check(a, b));
}

}  // namespace
}  // namespace fulcrum
