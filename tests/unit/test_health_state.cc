// SPDX-License-Identifier: Apache-2.0
// HealthTracker: the first result decides at once, then `fall` consecutive failures take a
// backend down and `rise` consecutive successes bring it back; any other result resets the
// opposite count.
#include "health_state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fulcrum {
namespace {

using Clock = HealthTracker::Clock;
using std::chrono::milliseconds;

CheckResult good() {
  return {true, "HTTP 200", std::chrono::microseconds(150)};
}
CheckResult bad(std::string why = "connect: Connection refused") {
  return {false, why, {}};
}

const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);
Clock::time_point at(int ms) {
  return t0 + milliseconds(ms);
}

TEST(HealthTracker, StartsUnknownWithNothingRecorded) {
  HealthTracker t(2, 3);
  EXPECT_EQ(t.state(), Health::kUnknown);
  EXPECT_EQ(t.checks(), 0U);
  EXPECT_EQ(t.successes(), 0U);
  EXPECT_EQ(t.failures(), 0U);
  EXPECT_EQ(t.last_change(), Clock::time_point{});
}

TEST(HealthTracker, FirstSuccessIsUpAtOnceWhateverRise) {
  HealthTracker t(5, 3);
  EXPECT_TRUE(t.record(good(), at(10)));
  EXPECT_EQ(t.state(), Health::kUp);
  EXPECT_EQ(t.last_change(), at(10));
  EXPECT_EQ(t.successes(), 1U);
}

TEST(HealthTracker, FirstFailureIsDownAtOnceWhateverFall) {
  HealthTracker t(2, 5);
  EXPECT_TRUE(t.record(bad(), at(10)));
  EXPECT_EQ(t.state(), Health::kDown);
  EXPECT_EQ(t.failures(), 1U);
}

TEST(HealthTracker, UpGoesDownOnlyAfterFallConsecutiveFailures) {
  HealthTracker t(2, 3);
  t.record(good(), at(0));
  EXPECT_FALSE(t.record(bad(), at(1)));
  EXPECT_FALSE(t.record(bad(), at(2)));
  EXPECT_EQ(t.state(), Health::kUp);
  EXPECT_EQ(t.failures(), 2U);
  EXPECT_TRUE(t.record(bad("HTTP 503, expected 200"), at(3)));
  EXPECT_EQ(t.state(), Health::kDown);
  EXPECT_EQ(t.last_change(), at(3));
  EXPECT_EQ(t.last_result().reason, "HTTP 503, expected 200");
  EXPECT_FALSE(t.record(bad(), at(4)));  // already down: no change, count goes on
  EXPECT_EQ(t.failures(), 4U);
  EXPECT_EQ(t.last_change(), at(3));
}

TEST(HealthTracker, DownComesBackOnlyAfterRiseConsecutiveSuccesses) {
  HealthTracker t(3, 1);
  t.record(bad(), at(0));
  EXPECT_FALSE(t.record(good(), at(1)));
  EXPECT_FALSE(t.record(good(), at(2)));
  EXPECT_EQ(t.state(), Health::kDown);
  EXPECT_TRUE(t.record(good(), at(3)));
  EXPECT_EQ(t.state(), Health::kUp);
  EXPECT_EQ(t.successes(), 3U);
  EXPECT_EQ(t.failures(), 0U);
}

TEST(HealthTracker, ASuccessResetsTheFailureCount) {
  HealthTracker t(2, 3);
  t.record(good(), at(0));
  t.record(bad(), at(1));
  t.record(bad(), at(2));
  t.record(good(), at(3));  // flapping: two failures, then a success
  EXPECT_EQ(t.failures(), 0U);
  EXPECT_FALSE(t.record(bad(), at(4)));
  EXPECT_FALSE(t.record(bad(), at(5)));
  EXPECT_EQ(t.state(), Health::kUp);
  EXPECT_TRUE(t.record(bad(), at(6)));
}

TEST(HealthTracker, AFailureResetsTheSuccessCount) {
  HealthTracker t(2, 1);
  t.record(bad(), at(0));
  t.record(good(), at(1));
  t.record(bad(), at(2));
  EXPECT_EQ(t.successes(), 0U);
  EXPECT_FALSE(t.record(good(), at(3)));
  EXPECT_EQ(t.state(), Health::kDown);
  EXPECT_TRUE(t.record(good(), at(4)));
  EXPECT_EQ(t.state(), Health::kUp);
}

TEST(HealthTracker, RiseAndFallOfOneFollowEveryResult) {
  HealthTracker t(1, 1);
  const std::vector<bool> results{true, false, true, true, false, false, true};
  const std::vector<Health> expect{Health::kUp,   Health::kDown, Health::kUp, Health::kUp,
                                   Health::kDown, Health::kDown, Health::kUp};
  for (size_t i = 0; i < results.size(); ++i) {
    t.record(results[i] ? good() : bad(), at(static_cast<int>(i)));
    EXPECT_EQ(t.state(), expect[i]) << "after result " << i;
  }
}

TEST(HealthTracker, ZeroRiseOrFallCountsAsOne) {
  HealthTracker t(0, 0);
  EXPECT_EQ(t.rise(), 1U);
  EXPECT_EQ(t.fall(), 1U);
  t.record(good(), at(0));
  EXPECT_TRUE(t.record(bad(), at(1)));
  EXPECT_TRUE(t.record(good(), at(2)));
}

TEST(HealthTracker, KeepsLastResultAndCountsChecks) {
  HealthTracker t(2, 2);
  t.record(good(), at(0));
  t.record(bad("timeout after 500ms (connect)"), at(1));
  EXPECT_EQ(t.checks(), 2U);
  EXPECT_FALSE(t.last_result().ok);
  EXPECT_EQ(t.last_result().reason, "timeout after 500ms (connect)");
  t.record(good(), at(2));
  EXPECT_TRUE(t.last_result().ok);
  EXPECT_EQ(t.last_result().latency, std::chrono::microseconds(150));
}

TEST(HealthTracker, AFullCycleChangesStateOnlyAtTheThresholds) {
  // up, then a 3-check outage with fall 2, then recovery with rise 2.
  HealthTracker t(2, 2);
  int changes = 0;
  int i = 0;
  for (bool ok : {true, true, false, false, false, true, true, true, false, true}) {
    changes += t.record(ok ? good() : bad(), at(i++)) ? 1 : 0;
  }
  // Unknown->Up, Up->Down (2nd failure), Down->Up (2nd success); the lone failure at the end
  // does not reach fall.
  EXPECT_EQ(changes, 3);
  EXPECT_EQ(t.state(), Health::kUp);
}

TEST(HealthNames, PrintAsOperatorsSeeThem) {
  EXPECT_STREQ(to_string(Health::kUp), "UP");
  EXPECT_STREQ(to_string(Health::kDown), "DOWN");
  EXPECT_STREQ(to_string(Health::kUnknown), "UNKNOWN");
}

}  // namespace
}  // namespace fulcrum
