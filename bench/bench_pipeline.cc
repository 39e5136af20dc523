// SPDX-License-Identifier: Apache-2.0
// process_burst() over bursts of 32 frames of the reference scenario: established flows (every
// frame hits the flow table) and new flows (every frame is a SYN of a new connection: Maglev
// choice, FNAT port allocation, two inserts).
#include <benchmark/benchmark.h>

#include <vector>

#include "packet_builder.h"
#include "pipeline.h"
#include "reference_scenario.h"

namespace fulcrum {
namespace {

constexpr uint16_t kBurst = 32;

struct Traffic {
  std::vector<std::vector<uint8_t>> templates;  // pristine frames
  std::vector<std::vector<uint8_t>> work;       // rewritten in place each round
};

Traffic make_traffic(uint32_t flows, uint8_t flags) {
  Traffic t;
  testing::FrameSpec s;
  s.daddr = testing::ip("192.0.2.26");
  s.tcp_flags = flags;
  for (uint32_t i = 0; i < flows; ++i) {
    s.saddr = host_to_be32(0x0a000000 + (i >> 14));  // 10.x.y.z clients
    s.sport = static_cast<uint16_t>(1024 + (i & 0x3fff));
    t.templates.push_back(testing::build_ipv4(s));
  }
  t.work = t.templates;
  return t;
}

// Runs frames [first, first + kBurst) of the traffic through the worker.
void run_burst(Worker& w, const Snapshot& snap, Traffic& t, size_t first, uint32_t now) {
  Packet pkts[kBurst];
  Action actions[kBurst];
  for (uint16_t i = 0; i < kBurst; ++i) {
    auto& f = t.work[(first + i) % t.work.size()];
    std::memcpy(f.data(), t.templates[(first + i) % t.templates.size()].data(), f.size());
    pkts[i] = Packet{f.data(), static_cast<uint16_t>(f.size())};
  }
  w.process_burst(&snap, pkts, kBurst, now, actions);
  benchmark::DoNotOptimize(actions);
}

void BM_PipelineEstablished(benchmark::State& state) {
  const auto flows = static_cast<uint32_t>(state.range(0));
  const auto sc = reference_scenario();
  const auto snap = build_snapshot(sc.node, sc.services, 1);
  Worker w(WorkerConfig{.worker_id = 0, .worker_count = 1, .flow_capacity = 4 * flows});
  Traffic syn = make_traffic(flows, kTcpSyn);
  for (size_t i = 0; i < flows; i += kBurst) run_burst(w, *snap, syn, i, 0);
  Traffic ack = make_traffic(flows, kTcpAck);
  size_t next = 0;
  for (auto _ : state) {
    run_burst(w, *snap, ack, next, 1);
    next = (next + kBurst) % flows;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
  state.counters["forwarded_per_rx"] =
      static_cast<double>(w.counters().forwarded.load()) / static_cast<double>(w.counters().rx_packets.load());
}
BENCHMARK(BM_PipelineEstablished)->Arg(1024)->Arg(1 << 20);

void BM_PipelineNewFlows(benchmark::State& state) {
  const auto sc = reference_scenario();
  const auto snap = build_snapshot(sc.node, sc.services, 1);
  Worker w(WorkerConfig{.worker_id = 0, .worker_count = 1, .flow_capacity = 1 << 20});
  constexpr uint32_t kFlows = 1 << 18;
  Traffic syn = make_traffic(kFlows, kTcpSyn);
  size_t next = 0;
  uint32_t now = 0;
  for (auto _ : state) {
    run_burst(w, *snap, syn, next, now);
    next += kBurst;
    if (next >= kFlows) {
      next = 0;
      now += 10'000;  // earlier SYN entries have expired: each round is all-new flows again
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}
BENCHMARK(BM_PipelineNewFlows);

}  // namespace
}  // namespace fulcrum

BENCHMARK_MAIN();
