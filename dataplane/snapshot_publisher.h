// SPDX-License-Identifier: Apache-2.0
// SnapshotPublisher: hands the current Snapshot to the workers through liburcu's QSBR flavour.
//
// The control plane calls publish(): the new snapshot is swapped in with rcu_xchg_pointer and
// the old one is freed after a grace period (synchronize_rcu), i.e. once every registered
// worker has passed a quiescent state and so can no longer hold it. Workers read current()
// between quiescent states; reading costs one load.
//
// Thread-safety: publish() from one control-plane thread at a time, which must not be an
// online QSBR reader. current() from RcuReader threads that are online.
#pragma once

#include <cstdint>
#include <memory>

#include <urcu/urcu-qsbr.h>

#include "snapshot.h"

namespace fulcrum {

class SnapshotPublisher {
 public:
  SnapshotPublisher() = default;
  ~SnapshotPublisher();
  SnapshotPublisher(const SnapshotPublisher&) = delete;
  SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;

  // Publishes a sealed snapshot and frees the previous one after a grace period. Blocks for
  // that grace period (microseconds while workers poll; workers that sleep are offline).
  void publish(std::unique_ptr<Snapshot> next);

  // The snapshot workers should use now (nullptr before the first publish).
  const Snapshot* current() const { return rcu_dereference(current_); }

  uint64_t publish_count() const { return publish_count_; }

 private:
  Snapshot* current_ = nullptr;
  uint64_t publish_count_ = 0;
};

// RAII registration of a reader thread (a worker) with QSBR. Call quiescent() once per poll
// loop; go offline() before sleeping or blocking, online() after.
class RcuReader {
 public:
  RcuReader() { urcu_qsbr_register_thread(); }
  ~RcuReader() { urcu_qsbr_unregister_thread(); }
  RcuReader(const RcuReader&) = delete;
  RcuReader& operator=(const RcuReader&) = delete;

  static void quiescent() { urcu_qsbr_quiescent_state(); }
  static void offline() { urcu_qsbr_thread_offline(); }
  static void online() { urcu_qsbr_thread_online(); }
};

}  // namespace fulcrum
