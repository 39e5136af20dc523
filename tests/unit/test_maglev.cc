// SPDX-License-Identifier: Apache-2.0
#include "maglev_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "flow_hash.h"
#include "net_types.h"

namespace fulcrum {
namespace {

constexpr uint32_t kM = MaglevTable::kDefaultSize;
constexpr size_t kKeys = 1'000'000;

// Flow hashes of 1M distinct client 5-tuples (1000 addresses x 1000 ports) to one VIP, hashed
// the way the pipeline picks a backend. Computed once and shared by the tests.
const std::vector<uint64_t>& key_hashes() {
  static const std::vector<uint64_t> hashes = [] {
    std::vector<uint64_t> h;
    h.reserve(kKeys);
    for (uint32_t i = 0; i < kKeys; ++i) {
      FiveTuple t;
      t.saddr = host_to_be32(0xc6120000u + i / 1000);  // 198.18.x.y
      t.daddr = host_to_be32(0xcb007101u);             // 203.0.113.1
      t.sport = host_to_be16(static_cast<uint16_t>(20000 + i % 1000));
      t.dport = host_to_be16(80);
      t.proto = static_cast<uint8_t>(IpProto::kTcp);
      h.push_back(hash_for_backend_choice(t));
    }
    return h;
  }();
  return hashes;
}

// Backend k is 10.1.x.y:8080, identity (addr << 16) | port as the header suggests.
uint64_t identity_of(uint32_t k) {
  return (uint64_t{0x0a010000u + k} << 16) | 8080u;
}

std::vector<MaglevBackend> equal_backends(uint32_t n) {
  std::vector<MaglevBackend> b;
  for (uint32_t k = 0; k < n; ++k) b.push_back({identity_of(k), 1});
  return b;
}

// Backend identity each key maps to (0 for kNoBackend), so tables built from different lists
// can be compared.
std::vector<uint64_t> assign(const MaglevTable& table, const std::vector<MaglevBackend>& b) {
  std::vector<uint64_t> out;
  out.reserve(kKeys);
  for (const uint64_t h : key_hashes()) {
    const uint16_t i = table.lookup(h);
    out.push_back(i == MaglevTable::kNoBackend ? 0 : b.at(i).identity);
  }
  return out;
}

std::vector<uint64_t> slot_identities(const MaglevTable& table,
                                      const std::vector<MaglevBackend>& b) {
  std::vector<uint64_t> out;
  for (const uint16_t i : table.slots()) out.push_back(b.at(i).identity);
  return out;
}

std::vector<size_t> slot_counts(const MaglevTable& table, size_t n) {
  std::vector<size_t> c(n, 0);
  for (const uint16_t i : table.slots()) ++c.at(i);
  return c;
}

TEST(MaglevTable, IsPrime) {
  for (const uint32_t p : {2u, 3u, 5u, 7u, 13u, 251u, 65521u, 65537u, 1000003u, 4294967291u}) {
    EXPECT_TRUE(is_prime(p)) << p;
  }
  // 561 is a Carmichael number; 4293001441 = 65521^2 exercises the loop bound near 2^32.
  for (const uint32_t n :
       {0u, 1u, 4u, 9u, 15u, 25u, 49u, 561u, 65535u, 65536u, 1000001u, 4293001441u, 4294967295u}) {
    EXPECT_FALSE(is_prime(n)) << n;
  }
}

TEST(MaglevTable, RejectsBadSizes) {
  const auto three = equal_backends(3);
  EXPECT_THROW(MaglevTable(three, 65536), std::invalid_argument);
  EXPECT_THROW(MaglevTable(three, 1), std::invalid_argument);
  EXPECT_THROW(MaglevTable(three, 0), std::invalid_argument);
  EXPECT_THROW(MaglevTable(three, 3), std::invalid_argument);  // prime but not > 3 backends
  EXPECT_THROW(MaglevTable(three, 2), std::invalid_argument);
  EXPECT_NO_THROW(MaglevTable(three, 5));
  EXPECT_THROW(MaglevTable({}, 4), std::invalid_argument);  // checked even with no backends

  const MaglevTable small(three, 7);
  EXPECT_EQ(small.size(), 7u);
  for (const uint16_t i : small.slots()) EXPECT_LT(i, 3);
}

TEST(MaglevTable, BackendLimit) {
  EXPECT_THROW(MaglevTable(equal_backends(65535), kM), std::invalid_argument);
  const auto most = equal_backends(65534);
  const MaglevTable t(most, kM);
  ASSERT_EQ(t.size(), kM);
  // Every backend gets at least its first-round slot.
  const auto c = slot_counts(t, most.size());
  EXPECT_EQ(*std::min_element(c.begin(), c.end()), 1u);
  EXPECT_EQ(*std::max_element(c.begin(), c.end()), 2u);
}

TEST(MaglevTable, EqualSpreadOfKeys) {
  const auto b = equal_backends(3);
  const MaglevTable t(b);
  std::vector<size_t> hits(3, 0);
  for (const uint64_t h : key_hashes()) ++hits.at(t.lookup(h));
  for (size_t i = 0; i < 3; ++i) {
    const double share = static_cast<double>(hits[i]) / kKeys;
    std::cout << "  backend " << i << ": " << hits[i] << " keys, " << std::fixed
              << std::setprecision(3) << share * 100 << "%\n";
    EXPECT_NEAR(share, 1.0 / 3, 0.01);
  }
}

TEST(MaglevTable, EqualSlotCounts) {
  for (const uint32_t n : {1u, 2u, 3u, 10u, 100u, 1000u}) {
    const auto b = equal_backends(n);
    const MaglevTable t(b);
    ASSERT_EQ(t.size(), kM);
    const auto c = slot_counts(t, n);
    const auto [lo, hi] = std::minmax_element(c.begin(), c.end());
    std::cout << "  N=" << n << ": slots per backend " << *lo << ".." << *hi << "\n";
    // One turn per backend per round, so counts are exactly floor or ceil of M / N.
    for (size_t i = 0; i < n; ++i) {
      EXPECT_GE(c[i], kM / n) << "N=" << n << " backend " << i;
      EXPECT_LE(c[i], (kM + n - 1) / n) << "N=" << n << " backend " << i;
      EXPECT_NEAR(static_cast<double>(c[i]), static_cast<double>(kM) / n, 0.01 * kM / n);
    }
  }
}

TEST(MaglevTable, WeightedSlotCounts) {
  std::vector<MaglevBackend> b{{identity_of(0), 1}, {identity_of(1), 2}, {identity_of(2), 3}};
  const MaglevTable t(b);
  const auto c = slot_counts(t, 3);
  for (size_t i = 0; i < 3; ++i) {
    const double share = static_cast<double>(c[i]) / kM;
    const double expected = static_cast<double>(i + 1) / 6.0;
    std::cout << "  weight " << i + 1 << ": " << c[i] << " slots, " << std::fixed
              << std::setprecision(3) << share * 100 << "% (ideal " << expected * 100 << "%)\n";
    EXPECT_NEAR(share / expected, 1.0, 0.01);
  }
  // Weights are reduced by their gcd: 10:20:30 builds the very same table as 1:2:3.
  std::vector<MaglevBackend> scaled{
      {identity_of(0), 10}, {identity_of(1), 20}, {identity_of(2), 30}};
  EXPECT_EQ(MaglevTable(scaled).slots(), t.slots());
}

struct Disruption {
  double moved = 0;          // keys whose backend changed
  double moved_between = 0;  // of those, keys moved from one backend in both sets to another
};

// `common` lists the backends present both before and after the change. Keys that leave a
// removed backend or go to an added one have to move; keys moved between common backends are
// Maglev's extra disruption.
Disruption compare(const std::vector<uint64_t>& before, const std::vector<uint64_t>& after,
                   const std::vector<MaglevBackend>& common) {
  std::vector<uint64_t> ids;
  for (const auto& b : common) ids.push_back(b.identity);
  std::sort(ids.begin(), ids.end());
  const auto in_common = [&ids](uint64_t id) {
    return std::binary_search(ids.begin(), ids.end(), id);
  };
  size_t moved = 0, moved_between = 0;
  for (size_t k = 0; k < before.size(); ++k) {
    if (before[k] == after[k]) continue;
    ++moved;
    if (in_common(before[k]) && in_common(after[k])) ++moved_between;
  }
  const auto total = static_cast<double>(before.size());
  return {static_cast<double>(moved) / total, static_cast<double>(moved_between) / total};
}

// Maglev trades a little stability for an even spread: when a backend comes or goes, the other
// backends' permutation walks collide differently and some of their slots change hands. With
// M = 65537 and 1M keys, removing each backend in turn (not just the one the test removes)
// measured 0.007-0.011% (N=3), 0.17-0.26% (N=10) and 0.48-0.62% (N=100) of keys moved between
// survivors; adding one gives similar figures. The paper shows the same growth with N / M.
// Bounds: 2% for N <= 10 and 1% for N = 100, so that a change that makes it clearly worse fails.
//
// That extra movement also explains the additive 0.005 in the total-moved bound: for N = 100 the
// total is the removed backend's 1% plus ~0.55%, between 1.47% and 1.64% depending on which
// backend goes (1.58% for the one removed here; all inputs are fixed, so this is deterministic).
double between_bound(uint32_t n) {
  return n <= 10 ? 0.02 : 0.01;
}

TEST(MaglevTable, DisruptionOnRemoval) {
  for (const uint32_t n : {3u, 10u, 100u}) {
    const auto full = equal_backends(n);
    auto less = full;
    less.erase(less.begin() + n / 2);
    const auto d = compare(assign(MaglevTable(full), full), assign(MaglevTable(less), less), less);
    const double ideal = 1.0 / n;
    std::cout << "  remove 1 of " << n << ": moved " << std::fixed << std::setprecision(4)
              << d.moved * 100 << "% (ideal " << ideal * 100 << "%), moved between survivors "
              << d.moved_between * 100 << "%\n";
    EXPECT_LE(d.moved, ideal * 1.10 + 0.005);
    EXPECT_GE(d.moved, ideal * 0.9);
    EXPECT_LE(d.moved_between, between_bound(n));
  }
}

TEST(MaglevTable, DisruptionOnAddition) {
  for (const uint32_t n : {3u, 10u, 100u}) {
    const auto before = equal_backends(n);
    const auto after = equal_backends(n + 1);  // adds identity_of(n)
    const auto d =
        compare(assign(MaglevTable(before), before), assign(MaglevTable(after), after), before);
    const double ideal = 1.0 / (n + 1);
    std::cout << "  add 1 to " << n << ": moved " << std::fixed << std::setprecision(4)
              << d.moved * 100 << "% (ideal " << ideal * 100 << "%), moved between old backends "
              << d.moved_between * 100 << "%\n";
    EXPECT_LE(d.moved, ideal * 1.10 + 0.005);
    EXPECT_GE(d.moved, ideal * 0.9);
    EXPECT_LE(d.moved_between, between_bound(n));
  }
}

TEST(MaglevTable, IndependentOfInputOrder) {
  std::vector<MaglevBackend> b;
  for (uint32_t k = 0; k < 50; ++k) b.push_back({identity_of(k * 7919 % 1000), 1 + k % 4});
  const auto reference = slot_identities(MaglevTable(b), b);
  std::mt19937 rng(2016);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(b.begin(), b.end(), rng);
    EXPECT_EQ(slot_identities(MaglevTable(b), b), reference) << "shuffle " << round;
  }
}

TEST(MaglevTable, GoldenTable) {
  // Every LB node must build the same table from the same backends, across builds, versions
  // and machines. This pins the table for a fixed set; if the permutation hashes, seeds or fill
  // order change, this fails, and the change breaks agreement with running nodes.
  const std::vector<MaglevBackend> b{{identity_of(1), 1}, {identity_of(2), 1}, {identity_of(3), 2}};
  const MaglevTable t(b);
  ASSERT_EQ(t.size(), kM);
  std::vector<uint8_t> bytes;  // explicit little-endian, so the check is host-independent
  for (const uint16_t s : t.slots()) {
    bytes.push_back(static_cast<uint8_t>(s));
    bytes.push_back(static_cast<uint8_t>(s >> 8));
  }
  const uint64_t digest = XXH64(bytes.data(), bytes.size(), 0);
  std::cout << "  golden digest 0x" << std::hex << digest << std::dec << "\n";
  EXPECT_EQ(digest, 0x6ceff771c2b22c56ULL);
  EXPECT_EQ(t.slots()[0], 2);
  EXPECT_EQ(t.slots()[1], 0);
  EXPECT_EQ(t.slots()[2], 0);
  EXPECT_EQ(t.slots()[kM - 1], 2);
}

// The paper's Pseudocode 1, transcribed literally with a stored M x N permutation matrix, plus
// Katran-style weight turns. The hash definition is copied on purpose (same seeds, identity as 8
// little-endian bytes): it is part of the cross-node contract, so the test spells it out.
std::vector<uint16_t> reference_maglev(const std::vector<MaglevBackend>& b, uint32_t m) {
  const auto h = [](uint64_t identity, uint64_t seed) {
    uint8_t bytes[8];
    for (size_t i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(identity >> (8 * i));
    return XXH3_64bits_withSeed(bytes, sizeof bytes, seed);
  };
  uint32_t g = 0;
  std::vector<size_t> order;
  for (size_t i = 0; i < b.size(); ++i) {
    g = std::gcd(g, b[i].weight);
    if (b[i].weight != 0) order.push_back(i);
  }
  if (g == 0) return {};
  std::sort(order.begin(), order.end(),
            [&b](size_t x, size_t y) { return b[x].identity < b[y].identity; });
  std::vector<std::vector<uint32_t>> permutation(b.size());
  for (const size_t i : order) {
    const uint64_t offset = h(b[i].identity, 0x6d61676c65766f66ULL) % m;
    const uint64_t skip = h(b[i].identity, 0x6d61676c65767370ULL) % (m - 1) + 1;
    for (uint64_t j = 0; j < m; ++j) {
      permutation[i].push_back(static_cast<uint32_t>((offset + j * skip) % m));
    }
  }
  std::vector<size_t> next(b.size(), 0);
  std::vector<int> entry(m, -1);
  uint32_t n = 0;
  for (;;) {
    for (const size_t i : order) {
      for (uint32_t t = 0; t < b[i].weight / g; ++t) {
        uint32_t c = permutation[i][next[i]];
        while (entry[c] >= 0) c = permutation[i][++next[i]];
        entry[c] = static_cast<int>(i);
        ++next[i];
        if (++n == m) {
          return std::vector<uint16_t>(entry.begin(), entry.end());
        }
      }
    }
  }
}

TEST(MaglevTable, MatchesPaperPseudocode) {
  std::mt19937 rng(42);
  for (int round = 0; round < 60; ++round) {
    const uint32_t m = std::vector<uint32_t>{13, 101, 251, 1009, 65537}[round % 5];
    const uint32_t n = 1 + static_cast<uint32_t>(rng() % std::min<uint32_t>(m - 1, 40));
    std::vector<MaglevBackend> b;
    for (uint32_t k = 0; k < n; ++k) {
      b.push_back({identity_of(static_cast<uint32_t>(rng() % 5000)) + k * 0x100000000ULL,
                   static_cast<uint32_t>(rng() % 5)});
    }
    const MaglevTable t(b, m);
    ASSERT_EQ(t.slots(), reference_maglev(b, m)) << "round " << round << " m " << m << " n " << n;
  }
}

TEST(MaglevTable, EmptyAndAllZero) {
  const MaglevTable def;
  EXPECT_TRUE(def.empty());
  EXPECT_EQ(def.lookup(0x1234), MaglevTable::kNoBackend);

  const MaglevTable none(std::vector<MaglevBackend>{});
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(none.lookup(0), MaglevTable::kNoBackend);
  EXPECT_EQ(none.lookup(~uint64_t{0}), MaglevTable::kNoBackend);

  const std::vector<MaglevBackend> zero{{identity_of(0), 0}, {identity_of(1), 0}};
  const MaglevTable z(zero);
  EXPECT_TRUE(z.empty());
  for (size_t k = 0; k < 1000; ++k) {
    EXPECT_EQ(z.lookup(key_hashes()[k]), MaglevTable::kNoBackend);
  }
}

TEST(MaglevTable, ZeroWeightGetsNothing) {
  const std::vector<MaglevBackend> b{{identity_of(0), 1}, {identity_of(1), 0}, {identity_of(2), 1}};
  const MaglevTable t(b);
  EXPECT_EQ(slot_counts(t, 3)[1], 0u);
  size_t hits = 0;
  for (const uint64_t h : key_hashes()) hits += t.lookup(h) == 1;
  EXPECT_EQ(hits, 0u);
  // A weight-0 backend is the same as an absent one: draining it moves nobody else.
  const std::vector<MaglevBackend> without{{identity_of(0), 1}, {identity_of(2), 1}};
  EXPECT_EQ(slot_identities(t, b), slot_identities(MaglevTable(without), without));
}

TEST(MaglevTable, ExtremeHashesStayInRange) {
  const auto b = equal_backends(3);
  const MaglevTable t(b, 7);
  for (const uint64_t h : {uint64_t{0}, uint64_t{1}, ~uint64_t{0}, uint64_t{1} << 63}) {
    EXPECT_LT(t.lookup(h), 3);
  }
  EXPECT_EQ(t.lookup(0), t.slots()[0]);
  EXPECT_EQ(t.lookup(~uint64_t{0}), t.slots()[6]);
}

TEST(MaglevTable, BuildTime) {
  // Not a benchmark (see bench_maglev.cc); a guard that 1000 backends stay far from a second.
  const auto b = equal_backends(1000);
  const auto start = std::chrono::steady_clock::now();
  const MaglevTable t(b);
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cout << "  1000 backends x " << kM << " slots built in " << ms << " ms\n";
  EXPECT_EQ(t.size(), kM);
}

}  // namespace
}  // namespace fulcrum
