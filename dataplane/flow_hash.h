// SPDX-License-Identifier: Apache-2.0
// Hashes used for flow lookup and backend choice. They are fixed functions of the bytes
// (XXH3, fixed seeds), so every process on every machine computes the same value: two LB
// nodes with the same backend set pick the same backend for the same flow.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "net_types.h"

namespace fulcrum {

// Seeds are part of the on-the-wire contract between LB nodes: never change them.
inline constexpr uint64_t kFlowHashSeed = 0x66756c6372756d31ULL;     // "fulcrum1"
inline constexpr uint64_t kBackendChoiceSeed = 0x6d61676c65763031ULL;  // "maglev01"

// Hash of a 5-tuple for the flow table.
inline uint64_t hash_tuple(const FiveTuple& t, uint64_t seed = kFlowHashSeed) {
  return XXH3_64bits_withSeed(&t, sizeof t, seed);
}

// Hash that picks a backend for a new flow (Maglev / WRR-free schedulers): same input,
// same answer everywhere.
inline uint64_t hash_for_backend_choice(const FiveTuple& t) {
  return hash_tuple(t, kBackendChoiceSeed);
}

// Source-hashing scheduler: only the client address matters.
inline uint64_t hash_source_address(Ipv4Be saddr) {
  return XXH3_64bits_withSeed(&saddr, sizeof saddr, kBackendChoiceSeed);
}

}  // namespace fulcrum
