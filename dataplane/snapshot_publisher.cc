// SPDX-License-Identifier: Apache-2.0
#include "snapshot_publisher.h"

namespace fulcrum {

SnapshotPublisher::~SnapshotPublisher() {
  Snapshot* last = rcu_xchg_pointer(&current_, nullptr);
  if (last != nullptr) {
    urcu_qsbr_synchronize_rcu();
    delete last;
  }
}

void SnapshotPublisher::publish(std::unique_ptr<Snapshot> next) {
  Snapshot* old = rcu_xchg_pointer(&current_, next.release());
  ++publish_count_;
  if (old != nullptr) {
    // After this returns no reader can still hold `old`.
    urcu_qsbr_synchronize_rcu();
    delete old;
  }
}

}  // namespace fulcrum
