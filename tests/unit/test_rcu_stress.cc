// SPDX-License-Identifier: Apache-2.0
// One writer publishes 10,000 snapshot versions while two reader threads run process_burst()
// continuously against whatever is current. Each reader checks every snapshot it sees against
// its checksum (a half-built or freed snapshot would not match) and that versions never go
// backwards. Under AddressSanitizer a reader touching a snapshot freed too early aborts.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "packet_builder.h"
#include "pipeline.h"
#include "reference_scenario.h"
#include "snapshot_builder.h"
#include "snapshot_publisher.h"

namespace fulcrum {
namespace {

constexpr uint64_t kVersions = 10'000;

struct ReaderResult {
  uint64_t bursts = 0;
  uint64_t snapshots_seen = 0;
  uint64_t checksum_failures = 0;
  uint64_t version_regressions = 0;
  uint64_t forwarded = 0;
  uint64_t unexpected_actions = 0;
};

void reader_loop(SnapshotPublisher& pub, std::atomic<bool>& stop, uint16_t id,
                 ReaderResult& out) {
  RcuReader rcu;
  Worker worker(WorkerConfig{.worker_id = 0, .worker_count = 1, .flow_capacity = 4096});
  // A burst of SYNs from ever-new client ports, so new flows go through the scheduler and old
  // ones are revalidated against each new snapshot.
  std::vector<std::vector<uint8_t>> frames(32);
  testing::FrameSpec spec;
  spec.saddr = testing::ip("192.0.2.100");
  spec.daddr = testing::ip("192.0.2.26");
  uint64_t last_version = 0;
  uint16_t sport = static_cast<uint16_t>(10000 + id * 20000);
  uint32_t now = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    const Snapshot* snap = pub.current();
    if (snap != nullptr) {
      if (snap->version != last_version) {
        ++out.snapshots_seen;
        if (!snap->verify()) ++out.checksum_failures;
        if (snap->version < last_version) ++out.version_regressions;
        last_version = snap->version;
      }
      Packet pkts[32];
      Action actions[32];
      for (size_t i = 0; i < frames.size(); ++i) {
        // SYN, then three ACKs of that same connection.
        if (i % 4 == 0) ++sport;
        spec.sport = sport;
        spec.tcp_flags = i % 4 == 0 ? kTcpSyn : kTcpAck;
        frames[i] = testing::build_ipv4(spec);
        pkts[i] = Packet{frames[i].data(), static_cast<uint16_t>(frames[i].size())};
      }
      worker.process_burst(snap, pkts, 32, now++, actions);
      for (const Action& a : actions) {
        if (a.kind == ActionKind::kForward) {
          ++out.forwarded;
        } else if (a.kind != ActionKind::kDrop ||
                   (a.arg != static_cast<uint16_t>(DropReason::kNoFlow) &&
                    a.arg != static_cast<uint16_t>(DropReason::kNoBackend))) {
          ++out.unexpected_actions;
        }
      }
      ++out.bursts;
    }
    RcuReader::quiescent();  // once per loop, as a worker does
  }
  RcuReader::offline();
}

TEST(RcuStress, TenThousandPublishesUnderTwoBusyReaders) {
  auto sc = reference_scenario();
  sc.node.maglev_size = 1021;  // keep each build cheap so the test is about publishing
  SnapshotPublisher pub;
  std::atomic<bool> stop{false};
  ReaderResult results[2];
  std::thread readers[2];
  for (uint16_t i = 0; i < 2; ++i) {
    readers[i] = std::thread(reader_loop, std::ref(pub), std::ref(stop), i, std::ref(results[i]));
  }

  for (uint64_t v = 1; v <= kVersions; ++v) {
    // Vary the backend set: drop one controller, change weights, so tables really differ.
    auto spec = sc;
    for (auto& svc : spec.services) {
      svc.backends[v % 3].state = v % 2 ? BackendState::kDisabled : BackendState::kUp;
      svc.backends[(v + 1) % 3].weight = static_cast<uint16_t>(1 + v % 5);
    }
    pub.publish(build_snapshot(spec.node, spec.services, v));
  }
  // Let the readers see the final version before stopping them.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  for (auto& t : readers) t.join();

  EXPECT_EQ(pub.publish_count(), kVersions);
  for (const ReaderResult& r : results) {
    std::cout << "reader: bursts=" << r.bursts << " snapshots_seen=" << r.snapshots_seen
              << " forwarded=" << r.forwarded << "\n";
    EXPECT_GT(r.bursts, 0U);
    EXPECT_GT(r.snapshots_seen, 1U);
    EXPECT_GT(r.forwarded, 0U);
    EXPECT_EQ(r.checksum_failures, 0U);
    EXPECT_EQ(r.version_regressions, 0U);
    EXPECT_EQ(r.unexpected_actions, 0U);
  }
}

}  // namespace
}  // namespace fulcrum
