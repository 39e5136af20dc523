// SPDX-License-Identifier: Apache-2.0
// Maglev table population (Eisenbud et al., NSDI 2016, section 3.4, "Pseudocode 1") with
// Katran-style weights: in each round a backend takes weight / gcd turns instead of one.
#include "maglev_table.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace fulcrum {
namespace {

// Seeds of the two permutation hashes. Like the flow-hash seeds they are part of the contract
// between LB nodes (all nodes must build the same table from the same backends): never change
// them. The golden test in test_maglev.cc fails if they or the fill algorithm change.
constexpr uint64_t kOffsetSeed = 0x6d61676c65766f66ULL;  // "maglevof"
constexpr uint64_t kSkipSeed = 0x6d61676c65767370ULL;    // "maglevsp"

// Table entries are uint16_t and 0xffff is kNoBackend, so indexes 0..65533 are usable.
constexpr size_t kMaxBackends = 65534;

uint64_t hash_identity(uint64_t identity, uint64_t seed) {
  // Hash explicit little-endian bytes so the value does not depend on the host byte order.
  uint8_t bytes[sizeof identity];
  for (size_t i = 0; i < sizeof identity; ++i) {
    bytes[i] = static_cast<uint8_t>(identity >> (8 * i));
  }
  return XXH3_64bits_withSeed(bytes, sizeof bytes, seed);
}

// One backend's walk through its permutation. Only the next candidate slot is kept (the paper's
// next[i] with permutation[i][next[i]] computed on the fly), so memory is O(N), not O(N x M).
struct Cursor {
  uint64_t identity;
  uint32_t pos;    // next candidate slot: offset + j * skip (mod M)
  uint32_t skip;   // in [1, M-1]; M prime, so the walk visits every slot once per M steps
  uint32_t turns;  // slots claimed per round: weight / gcd of all non-zero weights
  uint16_t index;  // position in the caller's span; what the table stores
};

}  // namespace

bool is_prime(uint32_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  if (n % 3 == 0) return n == 3;
  // 6k +/- 1 trial division; 64-bit square so i * i cannot overflow near 2^32.
  for (uint64_t i = 5; i * i <= n; i += 6) {
    if (n % i == 0 || n % (i + 2) == 0) return false;
  }
  return true;
}

MaglevTable::MaglevTable(std::span<const MaglevBackend> backends, uint32_t size) {
  if (!is_prime(size)) {
    throw std::invalid_argument("maglev: table size " + std::to_string(size) + " is not prime");
  }
  if (size <= backends.size()) {
    throw std::invalid_argument("maglev: table size " + std::to_string(size) +
                                " must exceed the number of backends (" +
                                std::to_string(backends.size()) + ")");
  }
  if (backends.size() > kMaxBackends) {
    throw std::invalid_argument("maglev: more than " + std::to_string(kMaxBackends) + " backends");
  }

  uint32_t g = 0;
  for (const auto& b : backends) g = std::gcd(g, b.weight);
  if (g == 0) return;  // empty or all weight 0: no slots, lookup() gives kNoBackend

  std::vector<Cursor> cursors;
  cursors.reserve(backends.size());
  for (size_t i = 0; i < backends.size(); ++i) {
    const auto& b = backends[i];
    if (b.weight == 0) continue;
    cursors.push_back(Cursor{
        .identity = b.identity,
        .pos = static_cast<uint32_t>(hash_identity(b.identity, kOffsetSeed) % size),
        .skip = static_cast<uint32_t>(hash_identity(b.identity, kSkipSeed) % (size - 1) + 1),
        .turns = b.weight / g,
        .index = static_cast<uint16_t>(i),
    });
  }
  // Fill order by identity, so the table depends on the set of backends and not on the order
  // the config lists them. Equal identities (a config error) fall back to weight, then input
  // order; stable_sort keeps that last tie-break deterministic.
  std::stable_sort(cursors.begin(), cursors.end(), [](const Cursor& a, const Cursor& b) {
    if (a.identity != b.identity) return a.identity < b.identity;
    return a.turns < b.turns;
  });

  table_.assign(size, kNoBackend);
  uint32_t filled = 0;
  const auto advance = [size](uint32_t pos, uint32_t skip) {
    const uint64_t next = uint64_t{pos} + skip;  // 64-bit: pos + skip may pass 2^32
    return static_cast<uint32_t>(next >= size ? next - size : next);
  };
  // Each turn walks the backend's permutation to its next free slot. A cursor only moves
  // forward and covers the table in at most M steps, so the whole fill is O(N * M) worst case
  // and about M * ln(M) steps in practice.
  for (;;) {
    for (auto& c : cursors) {
      for (uint32_t t = 0; t < c.turns; ++t) {
        uint32_t slot = c.pos;
        while (table_[slot] != kNoBackend) slot = advance(slot, c.skip);
        table_[slot] = c.index;
        c.pos = advance(slot, c.skip);
        if (++filled == size) return;
      }
    }
  }
}

}  // namespace fulcrum
