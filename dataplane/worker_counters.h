// SPDX-License-Identifier: Apache-2.0
// WorkerCounters: per-worker packet counters on the worker's own cache lines.
//
// Each counter is written by its one worker and read by the control plane. They are plain
// 64-bit integers in effect: relaxed atomic load + store compile to ordinary moves (no locked
// instruction), and make the concurrent read well-defined. The reader sums across workers.
//
// Thread-safety: add() only from the owning worker; load() and sum_counters() from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>

namespace fulcrum {

enum class DropReason : uint8_t {
  kTruncatedL2 = 0,
  kTruncatedArp,
  kBadArp,
  kArpNotForUs,
  kTruncatedIp,
  kBadIpVersion,
  kBadIhl,
  kBadIpLength,
  kBadIpChecksum,
  kTruncatedL4,
  kBadTcpHeader,
  kBadUdpLength,
  kIpv6,
  kFragment,
  kTtlExpired,
  kIcmpNotEcho,
  kNoService,
  kNoBackend,
  kNoFlow,          // mid-connection packet of an FNAT flow this node does not know
  kBackendGone,     // reply from a backend that has left
  kNoNeighbor,      // next-hop MAC of the backend not resolved yet
  kNoLocalPort,     // FNAT source ports of this worker all in use toward that backend
  kNoSnapshot,      // no forwarding table published yet
  kOtherHost,       // unicast to another station's MAC
  kExceptionFull,   // the exception path to the kernel is backed up
  kHandoffFull,     // the ring to the worker that owns the flow is full
  kTxFull,          // the port's TX queue took no more
  kCount,
};

const char* to_string(DropReason r);

class Counter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t load() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

struct alignas(64) WorkerCounters {
  Counter rx_packets;
  Counter rx_bytes;
  Counter forwarded;     // sent on toward a backend or client
  Counter tx_bytes;
  Counter replied;       // answered by the data plane itself (ARP, ICMP echo, RST)
  Counter to_kernel;     // handed to the exception path
  Counter handed_off;    // passed to the worker that owns the flow
  Counter new_flows;
  Counter flows_rechosen;  // flows moved off a backend that left
  Counter flows_reset;     // flows answered with a reset because their backend left
  Counter dropped;
  std::array<Counter, static_cast<size_t>(DropReason::kCount)> drops;

  void drop(DropReason r) {
    dropped.add();
    drops[static_cast<size_t>(r)].add();
  }
};

// Per-backend counters, indexed by BackendEntry::stat_id. Flows open now = opened - closed.
inline constexpr uint32_t kMaxBackendStats = 4096;

struct BackendCounters {
  Counter packets;  // both directions
  Counter bytes;
  Counter flows_opened;
  Counter flows_closed;  // expired, evicted, reset or moved away
};

// A plain-value copy of the counters, for summing and printing.
struct CounterTotals {
  uint64_t rx_packets = 0, rx_bytes = 0, forwarded = 0, tx_bytes = 0, replied = 0, to_kernel = 0,
           handed_off = 0, new_flows = 0, flows_rechosen = 0, flows_reset = 0, dropped = 0;
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> drops{};
};

CounterTotals sum_counters(std::span<const WorkerCounters> workers);

}  // namespace fulcrum
