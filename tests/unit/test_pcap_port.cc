// SPDX-License-Identifier: Apache-2.0
// The demo capture (tests/fixtures/demo.pcap, made by scripts/make-demo-pcap.py with scapy)
// through the pipeline: the same outcome the README's demo prints.
#include "pcap_port.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "pipeline.h"
#include "reference_scenario.h"

namespace fulcrum {
namespace {

std::string fixture(const char* name) {
  const char* dir = std::getenv("FULCRUM_FIXTURES");
  return std::string(dir ? dir : "tests/fixtures") + "/" + name;
}

TEST(PcapPort, DemoCaptureThroughThePipeline) {
  const auto sc = reference_scenario();
  const auto snap = build_snapshot(sc.node, sc.services, 1);
  Worker worker(WorkerConfig{.worker_id = 0, .worker_count = 1, .flow_capacity = 4096});
  PcapReader reader(fixture("demo.pcap"));
  const std::string out_path =
      (std::filesystem::temp_directory_path() / ("fulcrum-test-" + std::to_string(getpid()) + ".pcap"))
          .string();
  std::map<ActionKind, int> kinds;
  std::map<DropReason, int> drops;
  int written = 0;
  {
    PcapWriter writer(out_path);
    std::vector<uint8_t> frame;
    uint32_t now = 0;
    while (reader.next(frame)) {
      Packet pkt{frame.data(), static_cast<uint16_t>(frame.size())};
      Action a;
      worker.process_burst(snap.get(), &pkt, 1, now++, &a);
      ++kinds[a.kind];
      if (a.kind == ActionKind::kDrop) ++drops[static_cast<DropReason>(a.arg)];
      if (a.kind == ActionKind::kForward) {
        writer.write(pkt.data, pkt.len, now);
        ++written;
      }
    }
  }
  // 9 connections x 4 client frames forwarded; ARP and ping answered; SSH to the node's own
  // address goes to the kernel; UDP to a port with no service, IPv6, TTL 1, a bad IP checksum
  // and a truncated frame are drops.
  EXPECT_EQ(kinds[ActionKind::kForward], 36);
  EXPECT_EQ(kinds[ActionKind::kReply], 2);
  EXPECT_EQ(kinds[ActionKind::kToKernel], 1);
  EXPECT_EQ(kinds[ActionKind::kDrop], 5);
  EXPECT_EQ(drops[DropReason::kNoService], 1);
  EXPECT_EQ(drops[DropReason::kIpv6], 1);
  EXPECT_EQ(drops[DropReason::kTtlExpired], 1);
  EXPECT_EQ(drops[DropReason::kBadIpChecksum], 1);
  EXPECT_EQ(drops[DropReason::kTruncatedIp], 1);
  EXPECT_EQ(worker.counters().new_flows.load(), 9U);

  // What was written reads back, every frame addressed from the LB to a controller.
  PcapReader back(out_path);
  std::vector<uint8_t> frame;
  int read = 0;
  while (back.next(frame)) {
    ParsedPacket p;
    ASSERT_EQ(parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), p), ParseStatus::kOk);
    EXPECT_EQ(p.tuple.saddr, sc.node.local_addr);
    EXPECT_EQ(controller_name(p.tuple.daddr).substr(0, 1), "c");
    ++read;
  }
  EXPECT_EQ(read, written);
  std::filesystem::remove(out_path);
}

TEST(PcapPort, MissingFileIsAnErrorNamingIt) {
  try {
    PcapReader r("/nonexistent/capture.pcap");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/capture.pcap"), std::string::npos);
  }
}

}  // namespace
}  // namespace fulcrum
