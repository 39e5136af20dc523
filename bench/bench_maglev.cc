// SPDX-License-Identifier: Apache-2.0
// Maglev micro-benchmarks: the per-packet lookup and the control-plane rebuild.
// No main here: bench_pipeline.cc holds BENCHMARK_MAIN() for the whole binary.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "flow_hash.h"
#include "maglev_table.h"
#include "net_types.h"

namespace fulcrum {
namespace {

std::vector<MaglevBackend> bench_backends(int64_t n) {
  std::vector<MaglevBackend> b;
  for (int64_t k = 0; k < n; ++k) {
    b.push_back({(static_cast<uint64_t>(0x0a010000 + k) << 16) | 8080u, 1});
  }
  return b;
}

// Real flow hashes of distinct 5-tuples; 64K of them (512 KiB) so the table, not the hash
// array, decides cache behaviour.
std::vector<uint64_t> bench_hashes() {
  std::vector<uint64_t> h(1u << 16);
  for (uint32_t i = 0; i < h.size(); ++i) {
    FiveTuple t;
    t.saddr = host_to_be32(0xc6120000u + i);
    t.daddr = host_to_be32(0xcb007101u);
    t.sport = host_to_be16(static_cast<uint16_t>(1024 + i % 60000));
    t.dport = host_to_be16(80);
    t.proto = static_cast<uint8_t>(IpProto::kTcp);
    h[i] = hash_for_backend_choice(t);
  }
  return h;
}

void BM_MaglevLookup(benchmark::State& state) {
  const auto backends = bench_backends(state.range(0));
  const MaglevTable table(backends);
  const auto hashes = bench_hashes();
  const size_t mask = hashes.size() - 1;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table.lookup(hashes[i++ & mask]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MaglevLookup)->Arg(3)->Arg(100)->Arg(1000);

void BM_MaglevBuild(benchmark::State& state) {
  const auto backends = bench_backends(state.range(0));
  for (auto _ : state) {
    MaglevTable table(backends);
    benchmark::DoNotOptimize(table.slots().data());
  }
  state.SetItemsProcessed(state.iterations() * MaglevTable::kDefaultSize);  // slots filled
  state.SetLabel("65537 slots");
}
BENCHMARK(BM_MaglevBuild)->Arg(3)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace fulcrum
