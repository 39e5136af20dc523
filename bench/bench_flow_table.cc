// SPDX-License-Identifier: Apache-2.0
// Flow table micro-benchmarks at 1M entries: lookups of a shuffled key stream, as a worker sees
// them, with the bucket prefetched a few keys ahead (Arg: how far; 0 = no prefetch).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "flow_hash.h"
#include "flow_table.h"
#include "net_types.h"

namespace fulcrum {
namespace {

constexpr uint32_t kBenchEntries = 1U << 20;
constexpr uint32_t kFillEntries = kBenchEntries / 4 * 3;  // ~75% full
constexpr uint32_t kNowMs = 1000;

struct HashedKey {
  FiveTuple tuple;
  uint64_t hash;
};

HashedKey RandomKey(std::mt19937_64& rng) {
  const uint64_t r = rng();
  FiveTuple t;
  t.saddr = static_cast<uint32_t>(r);
  t.daddr = host_to_be32(0xc0a80001U);
  t.sport = static_cast<uint16_t>(r >> 32);
  t.dport = host_to_be16(443);
  t.proto = static_cast<uint8_t>(IpProto::kTcp);
  return HashedKey{t, hash_tuple(t)};
}

// Built once and shared by the lookup benchmarks (a 1M table takes a while to fill).
struct FilledTable {
  FlowTable table{kBenchEntries, FlowTimeouts{}};
  std::vector<HashedKey> hits;    // present in the table, shuffled
  std::vector<HashedKey> misses;  // absent

  FilledTable() {
    std::mt19937_64 rng(42);
    std::vector<HashedKey> inserted;
    inserted.reserve(kFillEntries);
    for (uint32_t i = 0; i < kFillEntries; ++i) {
      inserted.push_back(RandomKey(rng));
      table.insert(inserted.back().tuple, inserted.back().hash, kNowMs, FlowState::kTcpEstablished);
    }
    // A few keys went to overfull buckets' evictions; keep only those still present.
    for (const HashedKey& k : inserted) {
      if (table.lookup(k.tuple, k.hash, kNowMs).valid()) hits.push_back(k);
    }
    std::shuffle(hits.begin(), hits.end(), rng);
    while (misses.size() < hits.size()) {
      const HashedKey k = RandomKey(rng);
      if (!table.lookup(k.tuple, k.hash, kNowMs).valid()) misses.push_back(k);
    }
  }
};

FilledTable& Filled() {
  static FilledTable filled;
  return filled;
}

void RunLookups(benchmark::State& state, const std::vector<HashedKey>& keys) {
  FlowTable& table = Filled().table;
  const size_t n = keys.size();
  const auto ahead = static_cast<size_t>(state.range(0));
  size_t i = 0;
  size_t next = ahead % n;
  for (size_t j = 0; j < ahead; ++j) table.prefetch(keys[j].hash);
  for (auto _ : state) {
    if (ahead != 0) {
      table.prefetch(keys[next].hash);
      if (++next == n) next = 0;
    }
    const HashedKey& k = keys[i];
    FlowRef ref = table.lookup(k.tuple, k.hash, kNowMs);
    benchmark::DoNotOptimize(ref);
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["entries"] = static_cast<double>(table.size());
}

// Two-stage prefetch: the bucket header 2*ahead keys ahead, the matching entry lines ahead.
void RunLookupsTwoStage(benchmark::State& state, const std::vector<HashedKey>& keys) {
  FlowTable& table = Filled().table;
  const size_t n = keys.size();
  const auto ahead = static_cast<size_t>(state.range(0));
  size_t i = 0;
  for (size_t j = 0; j < 2 * ahead; ++j) table.prefetch(keys[j].hash);
  for (size_t j = 0; j < ahead; ++j) table.prefetch_entries(keys[j].hash);
  for (auto _ : state) {
    table.prefetch(keys[(i + 2 * ahead) % n].hash);
    table.prefetch_entries(keys[(i + ahead) % n].hash);
    const HashedKey& k = keys[i];
    FlowRef ref = table.lookup(k.tuple, k.hash, kNowMs);
    benchmark::DoNotOptimize(ref);
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_FlowLookupHitTwoStage(benchmark::State& state) {
  RunLookupsTwoStage(state, Filled().hits);
}
void BM_FlowLookupHit(benchmark::State& state) {
  RunLookups(state, Filled().hits);
}
void BM_FlowLookupMiss(benchmark::State& state) {
  RunLookups(state, Filled().misses);
}

// Inserts into a 1M table kept ~full, so most inserts pick a victim in a full bucket.
void BM_FlowInsert(benchmark::State& state) {
  static FlowTable table(kBenchEntries, FlowTimeouts{});
  static const std::vector<HashedKey> keys = [] {
    std::mt19937_64 rng(7);
    std::vector<HashedKey> v(4 * kBenchEntries);
    for (HashedKey& k : v) k = RandomKey(rng);
    return v;
  }();
  static size_t i = 0;
  static uint32_t now = kNowMs;
  for (auto _ : state) {
    const HashedKey& k = keys[i];
    table.prefetch(keys[(i + 8) % keys.size()].hash);
    FlowRef ref = table.insert(k.tuple, k.hash, now, FlowState::kTcpSyn);
    benchmark::DoNotOptimize(ref);
    if (++i == keys.size()) i = 0;
    if ((i & 1023) == 0) ++now;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["entries"] = static_cast<double>(table.size());
  state.counters["evicted"] = static_cast<double>(table.stats().evicted);
}

BENCHMARK(BM_FlowLookupHit)->ArgName("ahead")->Arg(8)->Arg(0);
BENCHMARK(BM_FlowLookupHitTwoStage)->ArgName("ahead")->Arg(4)->Arg(8);
BENCHMARK(BM_FlowLookupMiss)->ArgName("ahead")->Arg(8)->Arg(0);
BENCHMARK(BM_FlowInsert);

}  // namespace
}  // namespace fulcrum
