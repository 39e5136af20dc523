// SPDX-License-Identifier: Apache-2.0
// The worker lcore loop (after DPDK's examples/l3fwd): rx burst -> process_burst() -> tx
// burst on the worker's own queues, run to completion. Frames for the kernel go to the
// exception ring, FNAT replies another worker owns go to that worker's hand-off ring, and
// worker 0 also sends what the kernel sends (the control thread's ring) on its TX queue, so
// every TX queue has exactly one writer. Nothing here allocates, locks, logs or makes a
// syscall while there is traffic; an idle adaptive worker goes RCU-offline and sleeps.
// Thread-safety: one LcoreWorker per worker lcore; the stats are read by the control plane.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "pipeline.h"
#include "snapshot_publisher.h"
#include "worker_counters.h"

namespace fulcrum {

struct WorkerRings {
  rte_ring* to_kernel = nullptr;      // workers -> control thread (multi-producer)
  rte_ring* to_port = nullptr;        // control plane -> worker 0 (multi-producer)
  std::vector<rte_ring*> handoff;     // per worker: other workers -> this one
  std::vector<rte_ring*> commands;    // per worker: control plane -> this one
};

// Commands the control plane sends a worker through its ring, as one pointer-sized word.
enum class WorkerCommand : uint32_t {
  kResetBackendFlows = 1,  // arg: the backend's stat_id (on_down = "reset")
};
inline void* encode_command(WorkerCommand c, uint32_t arg) {
  return reinterpret_cast<void*>((static_cast<uintptr_t>(c) << 32) | arg);
}

struct alignas(64) LoopStats {
  Counter loops;
  Counter busy_loops;  // loops that moved at least one packet
  Counter sleeps;
  Counter tx_packets;
  Counter from_kernel;  // frames the kernel sent out through this worker
  Counter resets_sent;  // RSTs made for on_down = "reset"
};

struct LcoreWorkerConfig {
  uint16_t port_id = 0;
  uint16_t queue = 0;
  bool adaptive = true;
  bool sends_kernel_frames = false;  // worker 0: drains WorkerRings::to_port
  rte_mempool* pool = nullptr;       // for frames the worker makes itself (resets)
};

class LcoreWorker {
 public:
  LcoreWorker(const LcoreWorkerConfig& config, Worker& worker, const SnapshotPublisher& tables,
              const WorkerRings& rings, const std::atomic<bool>& running);

  // Entry point for rte_eal_remote_launch(); `arg` is the LcoreWorker.
  static int launch(void* arg);

  const LoopStats& stats() const { return stats_; }

 private:
  void run();
  void handle(rte_mbuf** mbufs, uint16_t n, uint32_t now_ms);
  void run_command(void* command);

  LcoreWorkerConfig config_;
  Worker& worker_;
  const SnapshotPublisher& tables_;
  const WorkerRings& rings_;
  const std::atomic<bool>& running_;
  LoopStats stats_;
};

}  // namespace fulcrum
