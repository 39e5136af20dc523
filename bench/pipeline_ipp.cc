// SPDX-License-Identifier: Apache-2.0
// fulcrum-ipp: a fixed pipeline workload for valgrind's callgrind, which counts instructions
// (repeatable on any machine, unlike time). Only the measured loop is collected:
//   valgrind --tool=callgrind --collect-atstart=no build/bench/fulcrum-ipp established fnat
// then instructions per packet = the total Ir callgrind prints / the packets this prints.
// Modes: established (every frame hits a flow), new (every frame is a new connection).
#include <valgrind/callgrind.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "packet_builder.h"
#include "pipeline.h"
#include "reference_scenario.h"

using namespace fulcrum;

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "established") != 0 && std::strcmp(argv[1], "new") != 0) ||
      (std::strcmp(argv[2], "fnat") != 0 && std::strcmp(argv[2], "dsr") != 0)) {
    std::fprintf(stderr, "usage: %s established|new fnat|dsr\n", argv[0]);
    return 2;
  }
  const bool established = std::strcmp(argv[1], "established") == 0;
  const auto sc = reference_scenario(std::strcmp(argv[2], "dsr") == 0 ? ForwardMode::kDsr
                                                                      : ForwardMode::kFnat);
  const auto snap = build_snapshot(sc.node, sc.services, 1);
  Worker worker(WorkerConfig{.worker_id = 0, .worker_count = 1, .flow_capacity = 1 << 16});

  constexpr uint32_t kFlows = 4096;
  constexpr uint32_t kBursts = 2048;  // x 32 = 65,536 packets measured
  constexpr uint16_t kBurst = 32;
  std::vector<std::vector<uint8_t>> syn, ack;
  testing::FrameSpec s;
  s.daddr = testing::ip("192.0.2.26");
  for (uint32_t i = 0; i < kFlows + kBursts * kBurst; ++i) {
    s.saddr = host_to_be32(0x0a000000 + i / 4096);
    s.sport = static_cast<uint16_t>(1024 + i % 4096 * 8 + i / (4096 * 16));
    s.tcp_flags = kTcpSyn;
    syn.push_back(testing::build_ipv4(s));
    s.tcp_flags = kTcpAck;
    ack.push_back(testing::build_ipv4(s));
  }
  auto run = [&](std::vector<std::vector<uint8_t>>& frames, uint32_t first, uint32_t now) {
    Packet pkts[kBurst];
    Action actions[kBurst];
    for (uint16_t i = 0; i < kBurst; ++i) {
      auto& f = frames[first + i];
      pkts[i] = Packet{f.data(), static_cast<uint16_t>(f.size())};
    }
    worker.process_burst(snap.get(), pkts, kBurst, now, actions);
  };
  // Warm-up (not collected): open the flows the established run will hit.
  for (uint32_t i = 0; i < kFlows; i += kBurst) run(syn, i, 0);
  // Fresh copies of the frames, since the pipeline rewrites them in place.
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t b = 0; b < kBursts; ++b) {
    for (uint16_t i = 0; i < kBurst; ++i) {
      frames.push_back(established ? ack[(b * kBurst + i) % kFlows] : syn[kFlows + b * kBurst + i]);
    }
  }
  const uint64_t forwarded_before = worker.counters().forwarded.load();
  CALLGRIND_TOGGLE_COLLECT;
  for (uint32_t b = 0; b < kBursts; ++b) run(frames, b * kBurst, 1);
  CALLGRIND_TOGGLE_COLLECT;
  const uint64_t forwarded = worker.counters().forwarded.load() - forwarded_before;
  std::printf("packets %u forwarded %llu\n", kBursts * kBurst,
              static_cast<unsigned long long>(forwarded));
  return forwarded == uint64_t{kBursts} * kBurst ? 0 : 1;
}
