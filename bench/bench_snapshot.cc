// SPDX-License-Identifier: Apache-2.0
// The cost of one table update: build a Snapshot for a service with N backends (Maglev fill
// included) and publish it through RCU with one online reader thread polling, as the control
// plane does on every health change, drain, weight change or reload.
// No main here: bench_pipeline.cc holds BENCHMARK_MAIN() for the whole binary.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>
#include <vector>

#include "snapshot_builder.h"
#include "snapshot_publisher.h"

namespace fulcrum {
namespace {

ServiceSpec bench_service(int64_t backends) {
  ServiceSpec s;
  s.name = "bench";
  s.vip = host_to_be32(0xc612ff01);  // 198.18.255.1
  s.port = 8774;
  for (int64_t k = 0; k < backends; ++k) {
    BackendSpec b;
    b.addr = host_to_be32(0xc6120100u + static_cast<uint32_t>(k));
    b.port = 8774;
    b.mac = MacAddr{{0x02, 0xbe, 0, 0, static_cast<uint8_t>(k >> 8), static_cast<uint8_t>(k)}};
    b.stat_id = static_cast<uint16_t>(k);
    s.backends.push_back(b);
  }
  return s;
}

NodeSpec bench_node() {
  NodeSpec n;
  n.local_addr = host_to_be32(0xc6120001);  // 198.18.0.1
  n.local_mac = MacAddr{{0x02, 0, 0, 0, 0xaa, 0x01}};
  n.vips = {host_to_be32(0xc612ff01)};
  return n;
}

void BM_SnapshotBuild(benchmark::State& state) {
  const std::vector<ServiceSpec> services{bench_service(state.range(0))};
  const NodeSpec node = bench_node();
  uint64_t version = 1;
  for (auto _ : state) {
    auto snap = build_snapshot(node, services, version++);
    benchmark::DoNotOptimize(snap.get());
  }
}
BENCHMARK(BM_SnapshotBuild)->ArgName("backends")->Arg(3)->Arg(100)->Arg(1000)
    ->Unit(benchmark::kMicrosecond);

// Build and publish: the grace period waits for a reader that announces a quiescent state
// in a tight loop, like a busy worker lcore.
void BM_SnapshotBuildPublish(benchmark::State& state) {
  const std::vector<ServiceSpec> services{bench_service(state.range(0))};
  const NodeSpec node = bench_node();
  SnapshotPublisher publisher;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    RcuReader rcu;
    while (!stop.load(std::memory_order_relaxed)) {
      benchmark::DoNotOptimize(publisher.current());
      RcuReader::quiescent();
    }
  });
  uint64_t version = 1;
  for (auto _ : state) publisher.publish(build_snapshot(node, services, version++));
  stop = true;
  reader.join();
}
BENCHMARK(BM_SnapshotBuildPublish)->ArgName("backends")->Arg(3)->Arg(100)->Arg(1000)
    ->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace fulcrum
