// SPDX-License-Identifier: Apache-2.0
// The packet pipeline: process_burst() classifies a burst of frames against a Snapshot and the
// worker's FlowTable, rewrites them in place and says what to do with each. It knows nothing
// of DPDK: the DPDK worker, the pcap replay driver, tests and benchmarks all call this same
// function.
//
// Thread-safety: a Worker is owned by one thread. The snapshot must stay valid for the call
// (the caller is an online QSBR reader, or owns the snapshot).
#pragma once

#include <array>
#include <cstdint>

#include "flow_table.h"
#include "packet_parser.h"
#include "snapshot.h"
#include "worker_counters.h"

namespace fulcrum {

inline constexpr uint16_t kMaxBurst = 64;
inline constexpr uint32_t kMaxServices = 4096;

enum class ActionKind : uint8_t {
  kForward,   // rewritten; send out the port it came in on
  kReply,     // turned into our own answer (ARP, ICMP echo, TCP RST); send out the same port
  kToKernel,  // not ours: hand to the exception path, unchanged
  kHandoff,   // FNAT reply owned by another worker: pass it, unchanged, to worker `arg`
  kDrop,      // `arg` is the DropReason, already counted
};

const char* to_string(ActionKind k);

struct Packet {
  uint8_t* data = nullptr;
  uint16_t len = 0;  // frame length; process_burst may shorten it (RST replies)
};

struct Action {
  ActionKind kind = ActionKind::kDrop;
  uint16_t arg = 0;
};

struct WorkerConfig {
  uint16_t worker_id = 0;
  uint16_t worker_count = 1;
  uint32_t flow_capacity = 1U << 20;
  FlowTimeouts timeouts;
};

// Per-worker state: flow table, counters, scheduler cursors, FNAT port cursor.
class Worker {
 public:
  explicit Worker(const WorkerConfig& config);

  // Processes `n` (<= kMaxBurst) frames. `snapshot` may be null before the first publish: then
  // everything not for the kernel is dropped as kNoSnapshot. `now_ms` is the worker's clock.
  void process_burst(const Snapshot* snapshot, Packet* pkts, uint16_t n, uint32_t now_ms,
                     Action* actions);

  // The worker that owns FNAT source port `port_host` under `snapshot`'s port range.
  static uint16_t owner_of_port(const Snapshot& snapshot, uint16_t worker_count,
                                uint16_t port_host);

  FlowTable& flows() { return flows_; }
  WorkerCounters& counters() { return counters_; }
  const WorkerCounters& counters() const { return counters_; }
  const WorkerConfig& config() const { return config_; }

 private:
  Action process_one(const Snapshot& snap, Packet& pkt, const ParsedPacket& parsed,
                     uint64_t hash, uint32_t now_ms);
  Action process_vip(const Snapshot& snap, Packet& pkt, const ParsedPacket& parsed,
                     uint64_t hash, uint32_t now_ms);
  Action process_reply(const Snapshot& snap, Packet& pkt, const ParsedPacket& parsed,
                       uint64_t hash, uint32_t now_ms);
  Action new_flow(const Snapshot& snap, int service_index, Packet& pkt,
                  const ParsedPacket& parsed, uint64_t hash, uint32_t now_ms);
  Action forward(const Snapshot& snap, FlowRef ref, Packet& pkt, const ParsedPacket& parsed,
                 uint32_t now_ms);
  int choose_backend(const ServiceEntry& svc, uint32_t service_index, const FiveTuple& t);
  bool revalidate(const Snapshot& snap, FlowEntry& e);
  Action drop(DropReason r);

  WorkerConfig config_;
  FlowTable flows_;
  WorkerCounters counters_;
  // Per-burst scratch, kept here so a burst does not construct 64 of each on the stack.
  ParsedPacket parsed_[kMaxBurst];
  ParseStatus status_[kMaxBurst];
  uint64_t hash_[kMaxBurst];
  std::array<uint32_t, kMaxServices> wrr_cursor_{};
  uint16_t next_port_offset_ = 0;
};

}  // namespace fulcrum
