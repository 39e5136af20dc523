// SPDX-License-Identifier: Apache-2.0
// Weighted round robin as a precomputed sequence of backend indexes (smooth WRR, as nginx
// does it: heavy backends are interleaved with light ones rather than served in runs).
// A worker walks the sequence with its own cursor; the sequence lives in the snapshot.
// Thread-safety: built by the control plane, then immutable.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fulcrum {

// One full cycle: backend i appears weights[i] / g times, g = gcd of the non-zero weights.
// Backends with weight 0 never appear; all zero gives an empty sequence.
std::vector<uint16_t> build_wrr_sequence(std::span<const uint32_t> weights);

}  // namespace fulcrum
