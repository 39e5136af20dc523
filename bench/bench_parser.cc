// SPDX-License-Identifier: Apache-2.0
#include <benchmark/benchmark.h>

#include "packet_builder.h"
#include "packet_parser.h"

namespace fulcrum {
namespace {

void BM_ParseTcp(benchmark::State& state) {
  testing::FrameSpec s;
  s.saddr = testing::ip("192.0.2.100");
  s.daddr = testing::ip("192.0.2.26");
  s.payload.assign(static_cast<size_t>(state.range(0)), 'x');
  const auto frame = testing::build_ipv4(s);
  ParsedPacket p;
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), p));
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseTcp)->Arg(0)->Arg(458);  // 54- and 512-byte frames

void BM_ParseArp(benchmark::State& state) {
  const auto frame = testing::build_arp_request(testing::kClientMac, testing::ip("192.0.2.100"),
                                                testing::ip("192.0.2.26"));
  ParsedPacket p;
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), p));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseArp);

}  // namespace
}  // namespace fulcrum
