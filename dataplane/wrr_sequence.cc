// SPDX-License-Identifier: Apache-2.0
// Smooth weighted round robin, the nginx algorithm (ngx_http_upstream_get_peer): every step each
// backend adds its weight to `current`, the backend with the largest `current` (first one on a
// tie) is picked and has the total weight subtracted.
//
// Straight simulation costs O(backends) per step. Backends of equal weight, though, always have
// current = t * w - total * picks, so among them the one picked next is simply the next in index
// order (fewest picks, then lowest index): a group of equal weights behaves as a plain round
// robin. Simulating one candidate per distinct weight gives the same sequence at O(distinct
// weights) per step; with the length capped at 2^20 there are at most ~1450 distinct weights.
#include "wrr_sequence.h"

#include <map>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

namespace fulcrum {
namespace {

// Longest cycle we build: 2^20 entries (2 MiB of uint16_t) per snapshot.
constexpr uint64_t kMaxSequenceLength = uint64_t{1} << 20;
// Indexes are uint16_t; stay clear of 0xffff, which MaglevTable uses as "no backend".
constexpr size_t kMaxBackends = 65534;

// Backends sharing one reduced weight, served round robin in index order.
struct WeightGroup {
  int64_t weight = 0;
  std::vector<uint16_t> members;  // ascending input indexes
  size_t next = 0;                // member picked next; members before it have picks + 1
  int64_t picks = 0;              // picks of members[next] (and of every member after it)
};

}  // namespace

std::vector<uint16_t> build_wrr_sequence(std::span<const uint32_t> weights) {
  if (weights.size() > kMaxBackends) {
    throw std::invalid_argument("wrr: more than " + std::to_string(kMaxBackends) + " backends");
  }
  uint32_t g = 0;
  for (const uint32_t w : weights) g = std::gcd(g, w);
  if (g == 0) return {};  // empty or all weight 0

  uint64_t total = 0;
  std::map<uint32_t, WeightGroup> by_weight;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] == 0) continue;
    const uint32_t w = weights[i] / g;
    total += w;
    auto& group = by_weight[w];
    group.weight = w;
    group.members.push_back(static_cast<uint16_t>(i));
  }
  if (total > kMaxSequenceLength) {
    throw std::invalid_argument("wrr: cycle length " + std::to_string(total) +
                                " (sum of weights / gcd) exceeds " +
                                std::to_string(kMaxSequenceLength));
  }

  std::vector<WeightGroup> groups;
  groups.reserve(by_weight.size());
  for (auto& [w, group] : by_weight) groups.push_back(std::move(group));

  const auto total_i = static_cast<int64_t>(total);
  std::vector<uint16_t> sequence;
  sequence.reserve(total);
  for (int64_t step = 1; step <= total_i; ++step) {
    // `current` of each group's candidate after this step's additions; values stay below 2^41.
    // groups is non-empty here (g != 0 means some weight is non-zero).
    const auto current = [&](const WeightGroup& group) {
      return step * group.weight - total_i * group.picks;
    };
    size_t best = 0;
    int64_t best_current = current(groups[0]);
    for (size_t k = 1; k < groups.size(); ++k) {
      const int64_t c = current(groups[k]);
      if (c > best_current || (c == best_current && groups[k].members[groups[k].next] <
                                                        groups[best].members[groups[best].next])) {
        best = k;
        best_current = c;
      }
    }
    auto& chosen = groups[best];
    sequence.push_back(chosen.members[chosen.next]);
    if (++chosen.next == chosen.members.size()) {
      chosen.next = 0;
      ++chosen.picks;
    }
  }
  return sequence;
}

}  // namespace fulcrum
