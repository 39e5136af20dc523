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
  // Where the FNAT source-port cursor starts in this worker's slice (taken modulo its size).
  // fulcrumd picks it at random: a restarted node then does not hand out first the ports whose
  // connections the backends still hold in TIME_WAIT (a SYN that hits one can be answered with
  // a challenge ACK and cost the client a 1 s retransmission).
  uint16_t fnat_port_start = 0;
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

  // Resets every TCP flow on the backend with `stat_id` (on_down = "reset"): for each, writes
  // a RST toward the backend and, for FNAT, one toward the client into frames from
  // `next_frame()` (each kResetFrameSize bytes; nullptr stops early) and hands each to
  // `emit(frame, length)`, then removes the flow. Returns the flows reset. Control-path work,
  // run by the owning worker thread between bursts.
  static constexpr uint16_t kResetFrameSize = 64;
  template <typename NextFrame, typename Emit>
  uint32_t reset_backend_flows(const Snapshot& snap, uint16_t stat_id, NextFrame&& next_frame,
                               Emit&& emit);

  FlowTable& flows() { return flows_; }
  WorkerCounters& counters() { return counters_; }
  const WorkerCounters& counters() const { return counters_; }
  const BackendCounters& backend_counters(uint16_t stat_id) const {
    return backend_counters_[stat_id % kMaxBackendStats];
  }
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

  static void on_flow_removed(void* self, const FlowEntry& e);
  // The RSTs for one forward entry; false when a frame was not available.
  template <typename NextFrame, typename Emit>
  bool reset_one(const Snapshot& snap, const FlowEntry& e, NextFrame& next_frame, Emit& emit);

  WorkerConfig config_;
  FlowTable flows_;
  WorkerCounters counters_;
  std::array<BackendCounters, kMaxBackendStats> backend_counters_;
  // Per-burst scratch, kept here so a burst does not construct 64 of each on the stack.
  ParsedPacket parsed_[kMaxBurst];
  ParseStatus status_[kMaxBurst];
  uint64_t hash_[kMaxBurst];
  std::array<uint32_t, kMaxServices> wrr_cursor_{};
  uint16_t next_port_offset_ = 0;
};

// Builds a TCP RST of `tuple` with sequence number `seq` (host order) from src_mac to dst_mac
// into `frame` (at least 54 bytes). Returns the frame length.
uint16_t build_tcp_reset(uint8_t* frame, const MacAddr& dst_mac, const MacAddr& src_mac,
                         const FiveTuple& tuple, uint32_t seq);

template <typename NextFrame, typename Emit>
bool Worker::reset_one(const Snapshot& snap, const FlowEntry& e, NextFrame& next_frame,
                       Emit& emit) {
  const bool dsr = (e.flags & kFlowDsr) != 0;
  MacAddr backend_mac;
  if (e.service_index < snap.services.size()) {
    const ServiceEntry& svc = snap.services[e.service_index];
    const int bi = svc.find_backend(e.backend_addr, e.backend_port);
    if (bi >= 0) backend_mac = svc.backends[static_cast<size_t>(bi)].mac;
  }
  // Toward the backend: the connection as the backend knows it (FNAT: from our source port;
  // DSR: from the client to the VIP), at the sequence number it expects next.
  if (!backend_mac.is_zero()) {
    uint8_t* f = next_frame();
    if (f == nullptr) return false;
    emit(f, build_tcp_reset(f, backend_mac, snap.local_mac, dsr ? e.key : e.rewrite,
                            e.seq.client_next_seq));
  }
  // Toward the client (FNAT: its peer entry knows where the client is).
  if (!dsr && e.peer_bucket != FlowRef::kNone) {
    const FlowEntry& r = flows_.entry(FlowRef{e.peer_bucket, e.peer_way});
    uint8_t* f = next_frame();
    if (f == nullptr) return false;
    emit(f, build_tcp_reset(f, r.out_mac, snap.local_mac, r.rewrite, e.seq.client_ack));
  }
  return true;
}

template <typename NextFrame, typename Emit>
uint32_t Worker::reset_backend_flows(const Snapshot& snap, uint16_t stat_id,
                                     NextFrame&& next_frame, Emit&& emit) {
  std::array<FlowRef, 64> victims;
  uint32_t total = 0;
  bool more = true;
  // Collect a batch, reset it, repeat: erasing while iterating would skip entries.
  while (more) {
    size_t n = 0;
    more = false;
    flows_.for_each([&](FlowRef ref, FlowEntry& e) {
      if (n == victims.size()) {
        more = true;
        return;
      }
      if (e.stat_id == stat_id && !(e.flags & kFlowReply) &&
          e.key.proto == static_cast<uint8_t>(IpProto::kTcp)) {
        victims[n++] = ref;
      }
    });
    for (size_t i = 0; i < n; ++i) {
      if (!reset_one(snap, flows_.entry(victims[i]), next_frame, emit)) return total;
      flows_.erase(victims[i]);
      counters_.flows_reset.add();
      ++total;
    }
  }
  return total;
}

}  // namespace fulcrum
