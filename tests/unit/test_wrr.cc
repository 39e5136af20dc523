// SPDX-License-Identifier: Apache-2.0
#include "wrr_sequence.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

namespace fulcrum {
namespace {

std::vector<size_t> counts(const std::vector<uint16_t>& seq, size_t n) {
  std::vector<size_t> c(n, 0);
  for (const uint16_t i : seq) {
    EXPECT_LT(i, n);
    if (i < n) ++c[i];
  }
  return c;
}

// Direct transcription of nginx's smooth WRR, O(backends) per step, as the reference for the
// grouped implementation.
std::vector<uint16_t> reference_wrr(const std::vector<uint32_t>& weights) {
  uint32_t g = 0;
  for (const uint32_t w : weights) g = std::gcd(g, w);
  if (g == 0) return {};
  std::vector<int64_t> current(weights.size(), 0);
  int64_t total = 0;
  for (const uint32_t w : weights) total += w / g;
  std::vector<uint16_t> seq;
  for (int64_t step = 0; step < total; ++step) {
    size_t best = weights.size();
    for (size_t i = 0; i < weights.size(); ++i) {
      if (weights[i] == 0) continue;
      current[i] += weights[i] / g;
      if (best == weights.size() || current[i] > current[best]) best = i;
    }
    current[best] -= total;
    seq.push_back(static_cast<uint16_t>(best));
  }
  return seq;
}

TEST(Wrr, EqualWeights) {
  const std::vector<uint32_t> w{1, 1, 1};
  const auto seq = build_wrr_sequence(w);
  EXPECT_EQ(seq, (std::vector<uint16_t>{0, 1, 2}));
}

TEST(Wrr, EqualWeightsReducedByGcd) {
  const std::vector<uint32_t> w{7, 7, 7};
  EXPECT_EQ(build_wrr_sequence(w), (std::vector<uint16_t>{0, 1, 2}));
}

TEST(Wrr, FiveOneOne) {
  const std::vector<uint32_t> w{5, 1, 1};
  const auto seq = build_wrr_sequence(w);
  ASSERT_EQ(seq.size(), 7u);
  EXPECT_EQ(counts(seq, 3), (std::vector<size_t>{5, 1, 1}));
  // The nginx order for a=5, b=1, c=1: a a b a c a a. The light backends are interleaved
  // with the heavy one rather than served as a run.
  EXPECT_EQ(seq, (std::vector<uint16_t>{0, 0, 1, 0, 2, 0, 0}));
}

TEST(Wrr, ZeroWeightNeverAppears) {
  const std::vector<uint32_t> w{2, 0, 4};
  const auto seq = build_wrr_sequence(w);
  // gcd 2: one cycle is 1 + 2 = 3 entries.
  ASSERT_EQ(seq.size(), 3u);
  EXPECT_EQ(counts(seq, 3), (std::vector<size_t>{1, 0, 2}));
  EXPECT_EQ(seq, (std::vector<uint16_t>{2, 0, 2}));
}

TEST(Wrr, AllZeroOrEmpty) {
  EXPECT_TRUE(build_wrr_sequence(std::vector<uint32_t>{0, 0, 0}).empty());
  EXPECT_TRUE(build_wrr_sequence(std::vector<uint32_t>{}).empty());
}

TEST(Wrr, OverCapThrows) {
  // Exactly at the cap (2^20) is allowed; one more is not.
  const std::vector<uint32_t> at_cap{1u << 19, (1u << 19) - 1, 1};
  EXPECT_EQ(build_wrr_sequence(at_cap).size(), size_t{1} << 20);
  const std::vector<uint32_t> over{1u << 20, 1};
  EXPECT_THROW(build_wrr_sequence(over), std::invalid_argument);
  // The sum of reduced weights would overflow 32 bits: still a clean throw.
  const std::vector<uint32_t> huge{0xffffffffu, 0xfffffffeu, 3};
  EXPECT_THROW(build_wrr_sequence(huge), std::invalid_argument);
  // A large gcd brings a big sum back under the cap.
  const std::vector<uint32_t> reducible{3000000, 1000000};
  EXPECT_EQ(build_wrr_sequence(reducible), (std::vector<uint16_t>{0, 0, 1, 0}));
}

TEST(Wrr, MatchesNginxReference) {
  // Fixed seed: the comparison is reproducible. Small weights force many equal-weight groups,
  // which is where the grouped implementation could diverge from the reference.
  std::mt19937 rng(12345);
  const auto draw = [&rng](uint32_t bound) { return static_cast<uint32_t>(rng() % bound); };
  for (int round = 0; round < 300; ++round) {
    const size_t n = 1 + draw(40);
    const uint32_t max_weight = 1 + draw(round % 3 == 0 ? 4 : 100);
    std::vector<uint32_t> w(n);
    for (auto& x : w) x = draw(max_weight + 1);
    const auto seq = build_wrr_sequence(w);
    ASSERT_EQ(seq, reference_wrr(w)) << "round " << round;
    uint32_t g = 0;
    for (const uint32_t x : w) g = std::gcd(g, x);
    const auto c = counts(seq, n);
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(c[i], g == 0 ? 0 : w[i] / g);
  }
}

TEST(Wrr, Smoothness) {
  // Smooth WRR spreads each backend evenly: in any window of the cycle, a backend's count is
  // within one of its proportional share (checked at every prefix).
  const std::vector<uint32_t> w{5, 3, 2, 1, 1};
  const auto seq = build_wrr_sequence(w);
  const double total = 12.0;
  std::vector<double> seen(w.size(), 0.0);
  for (size_t k = 0; k < seq.size(); ++k) {
    seen[seq[k]] += 1.0;
    for (size_t i = 0; i < w.size(); ++i) {
      const double expected = static_cast<double>(k + 1) * w[i] / total;
      EXPECT_LT(std::abs(seen[i] - expected), 1.0) << "prefix " << k + 1 << " backend " << i;
    }
  }
}

TEST(Wrr, TooManyBackendsThrows) {
  const std::vector<uint32_t> w(65535, 1);
  EXPECT_THROW(build_wrr_sequence(w), std::invalid_argument);
  const std::vector<uint32_t> ok(65534, 1);
  EXPECT_EQ(build_wrr_sequence(ok).size(), 65534u);
}

}  // namespace
}  // namespace fulcrum
