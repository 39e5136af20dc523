// SPDX-License-Identifier: Apache-2.0
#include "worker_counters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

namespace fulcrum {
namespace {

TEST(WorkerCounters, EachWorkerOnItsOwnCacheLines) {
  EXPECT_EQ(alignof(WorkerCounters), 64U);
  EXPECT_EQ(sizeof(WorkerCounters) % 64, 0U);
  std::vector<WorkerCounters> workers(3);
  const auto a = reinterpret_cast<uintptr_t>(&workers[0]);
  const auto b = reinterpret_cast<uintptr_t>(&workers[1]);
  EXPECT_EQ(a % 64, 0U);
  EXPECT_GE(b - a, sizeof(WorkerCounters));
}

TEST(WorkerCounters, SumAcrossWorkers) {
  std::vector<WorkerCounters> workers(3);
  for (size_t i = 0; i < workers.size(); ++i) {
    workers[i].rx_packets.add(10 * (i + 1));
    workers[i].rx_bytes.add(1000);
    workers[i].new_flows.add(i);
    workers[i].drop(DropReason::kNoService);
  }
  workers[2].drop(DropReason::kTtlExpired);
  const CounterTotals t = sum_counters(workers);
  EXPECT_EQ(t.rx_packets, 60U);
  EXPECT_EQ(t.rx_bytes, 3000U);
  EXPECT_EQ(t.new_flows, 3U);
  EXPECT_EQ(t.dropped, 4U);
  EXPECT_EQ(t.drops[static_cast<size_t>(DropReason::kNoService)], 3U);
  EXPECT_EQ(t.drops[static_cast<size_t>(DropReason::kTtlExpired)], 1U);
  EXPECT_EQ(t.drops[static_cast<size_t>(DropReason::kIpv6)], 0U);
}

TEST(WorkerCounters, EveryDropReasonHasAName) {
  for (size_t i = 0; i < static_cast<size_t>(DropReason::kCount); ++i) {
    EXPECT_STRNE(to_string(static_cast<DropReason>(i)), "unknown") << i;
  }
}

// A reader summing while workers count sees monotonic totals and, at the end, the exact sum.
TEST(WorkerCounters, ConcurrentReaderSeesMonotonicTotals) {
  std::vector<WorkerCounters> workers(2);
  constexpr uint64_t kPerWorker = 2'000'000;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (size_t w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (uint64_t i = 0; i < kPerWorker; ++i) workers[w].rx_packets.add();
      done.fetch_add(1);
    });
  }
  uint64_t last = 0;
  bool monotonic = true;
  while (done.load() < 2) {
    const uint64_t now = sum_counters(workers).rx_packets;
    if (now < last) monotonic = false;
    last = now;
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(sum_counters(workers).rx_packets, 2 * kPerWorker);
}

}  // namespace
}  // namespace fulcrum
