// SPDX-License-Identifier: Apache-2.0
// MaglevTable: Maglev consistent hashing (Eisenbud et al., NSDI 2016) with weights.
//
// The lookup table has a prime number of slots (65537 by default); each slot names a backend.
// A backend's permutation of slots comes from two hashes of its identity (address and port), and
// backends are ordered by identity before filling, so the table depends only on the set of
// (identity, weight) pairs: every LB node builds the same table from the same backends, in
// whatever order its config lists them. Removing one of N backends moves about 1/N of keys.
//
// Thread-safety: built by the control plane, then immutable and read by any number of workers.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fulcrum {

struct MaglevBackend {
  uint64_t identity = 0;  // stable name of the backend, e.g. (addr << 16) | port
  uint32_t weight = 1;    // relative share; 0 = no slots
};

class MaglevTable {
 public:
  static constexpr uint32_t kDefaultSize = 65537;
  static constexpr uint16_t kNoBackend = 0xffff;

  MaglevTable() = default;
  // Fills the table. Entries are indexes into `backends` as given. `size` must be prime and
  // larger than the number of backends (throws std::invalid_argument otherwise).
  explicit MaglevTable(std::span<const MaglevBackend> backends, uint32_t size = kDefaultSize);

  // Backend index for a flow hash, or kNoBackend when no backend has weight.
  uint16_t lookup(uint64_t hash) const {
    if (table_.empty()) return kNoBackend;
    // Multiply-shift maps the 64-bit hash onto [0, size) without a division.
    const auto slot = static_cast<uint32_t>((static_cast<Uint128>(hash) * table_.size()) >> 64);
    return table_[slot];
  }

  uint32_t size() const { return static_cast<uint32_t>(table_.size()); }
  bool empty() const { return table_.empty(); }
  const std::vector<uint16_t>& slots() const { return table_; }

 private:
  // __extension__ keeps -Wpedantic quiet about the GCC/Clang 128-bit type.
  __extension__ using Uint128 = unsigned __int128;

  std::vector<uint16_t> table_;
};

bool is_prime(uint32_t n);

}  // namespace fulcrum
