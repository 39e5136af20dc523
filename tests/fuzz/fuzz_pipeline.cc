// SPDX-License-Identifier: Apache-2.0
// Fuzz target: Worker::process_burst() on arbitrary frames, with the reference scenario's real
// snapshot (FNAT or DSR, Maglev or WRR). Input: byte 0 picks the snapshot, the worker and the
// clock step; then frames, each a 2-byte little-endian length and its bytes (at most a burst).
// Checks beyond "no crash, no sanitizer report": an action's frame length never grows, a
// hand-off names a valid worker, and the counters add up.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "pipeline.h"
#include "reference_scenario.h"
#include "snapshot_builder.h"
#include "worker_counters.h"

namespace {

using namespace fulcrum;

struct Fixture {
  std::unique_ptr<Snapshot> snaps[4];
  std::unique_ptr<Worker> workers[2];
  uint32_t now_ms = 1000;

  Fixture() {
    const ForwardMode modes[2] = {ForwardMode::kFnat, ForwardMode::kDsr};
    const Scheduler scheds[2] = {Scheduler::kMaglev, Scheduler::kWrr};
    for (int i = 0; i < 4; ++i) {
      const ReferenceScenario sc = reference_scenario(modes[i & 1], scheds[i >> 1]);
      snaps[i] = build_snapshot(sc.node, sc.services, static_cast<uint64_t>(i + 1));
    }
    // Small tables, so that eviction and full buckets are reached too.
    for (uint16_t w = 0; w < 2; ++w) {
      workers[w] = std::make_unique<Worker>(
          WorkerConfig{.worker_id = w, .worker_count = 2, .flow_capacity = 256});
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  if (size < 1) return 0;
  const uint8_t control = data[0];
  const Snapshot* snap = f.snaps[control & 3].get();
  Worker& worker = *f.workers[(control >> 2) & 1];
  f.now_ms += (control >> 3) * 1000U;  // sometimes far enough for flows to expire

  std::vector<std::vector<uint8_t>> frames;
  size_t pos = 1;
  while (pos + 2 <= size && frames.size() < kMaxBurst) {
    const size_t len = static_cast<size_t>(data[pos] | (data[pos + 1] << 8));
    pos += 2;
    const size_t take = len < size - pos ? len : size - pos;
    frames.emplace_back(data + pos, data + pos + take);  // exactly sized: ASan sees overruns
    pos += take;
  }
  if (frames.empty()) return 0;
  Packet pkts[kMaxBurst];
  Action actions[kMaxBurst];
  for (size_t i = 0; i < frames.size(); ++i) {
    pkts[i].data = frames[i].data();
    pkts[i].len = static_cast<uint16_t>(frames[i].size());
  }
  const uint64_t rx_before = worker.counters().rx_packets.load();
  worker.process_burst(snap, pkts, static_cast<uint16_t>(frames.size()), f.now_ms, actions);
  for (size_t i = 0; i < frames.size(); ++i) {
    if (pkts[i].len > frames[i].size()) __builtin_trap();
    if (actions[i].kind == ActionKind::kHandoff && actions[i].arg >= 2) __builtin_trap();
  }
  if (worker.counters().rx_packets.load() != rx_before + frames.size()) __builtin_trap();
  return 0;
}
