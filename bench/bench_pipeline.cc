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

void report(benchmark::State& state, const Worker& w) {
  const auto rx = static_cast<double>(w.counters().rx_packets.load());
  state.counters["forwarded/rx"] = static_cast<double>(w.counters().forwarded.load()) / rx;
  state.counters["new_flows/rx"] = static_cast<double>(w.counters().new_flows.load()) / rx;
  for (size_t i = 0; i < w.counters().drops.size(); ++i) {
    if (w.counters().drops[i].load() != 0) {
      state.counters[std::string("drop_") + to_string(static_cast<DropReason>(i))] =
          static_cast<double>(w.counters().drops[i].load()) / rx;
    }
  }
}

// Args: flows, forwarding mode. FNAT gives each backend at most one source port per flow from
// one local address (31,744 ports), so the large flow counts run in DSR.
void BM_PipelineEstablished(benchmark::State& state) {
  const auto flows = static_cast<uint32_t>(state.range(0));
  const auto sc = reference_scenario(state.range(1) ? ForwardMode::kDsr : ForwardMode::kFnat);
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
  report(state, w);
}
BENCHMARK(BM_PipelineEstablished)
    ->ArgNames({"flows", "dsr"})
    ->Args({1024, 0})
    ->Args({30000, 0})
    ->Args({1024, 1})
    ->Args({1 << 20, 1});

// Every frame a SYN of a new connection. 60,000 connections over 3 backends stay within the
// FNAT source ports; each pass over them starts 10 s later, when the previous SYN entries have
// expired.
void BM_PipelineNewFlows(benchmark::State& state) {
  const auto sc = reference_scenario(state.range(0) ? ForwardMode::kDsr : ForwardMode::kFnat);
  const auto snap = build_snapshot(sc.node, sc.services, 1);
  Worker w(WorkerConfig{.worker_id = 0, .worker_count = 1, .flow_capacity = 1 << 20});
  constexpr uint32_t kFlows = 60000;
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
  report(state, w);
}
BENCHMARK(BM_PipelineNewFlows)->ArgName("dsr")->Arg(0)->Arg(1);

}  // namespace
}  // namespace fulcrum

BENCHMARK_MAIN();
