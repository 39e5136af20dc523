// SPDX-License-Identifier: Apache-2.0
#include "worker_counters.h"

namespace fulcrum {

const char* to_string(DropReason r) {
  switch (r) {
    case DropReason::kTruncatedL2: return "truncated_l2";
    case DropReason::kTruncatedArp: return "truncated_arp";
    case DropReason::kBadArp: return "bad_arp";
    case DropReason::kArpNotForUs: return "arp_not_for_us";
    case DropReason::kTruncatedIp: return "truncated_ip";
    case DropReason::kBadIpVersion: return "bad_ip_version";
    case DropReason::kBadIhl: return "bad_ihl";
    case DropReason::kBadIpLength: return "bad_ip_length";
    case DropReason::kBadIpChecksum: return "bad_ip_checksum";
    case DropReason::kTruncatedL4: return "truncated_l4";
    case DropReason::kBadTcpHeader: return "bad_tcp_header";
    case DropReason::kBadUdpLength: return "bad_udp_length";
    case DropReason::kIpv6: return "ipv6";
    case DropReason::kFragment: return "fragment";
    case DropReason::kTtlExpired: return "ttl_expired";
    case DropReason::kIcmpNotEcho: return "icmp_not_echo";
    case DropReason::kNoService: return "no_service";
    case DropReason::kNoBackend: return "no_backend";
    case DropReason::kNoFlow: return "no_flow";
    case DropReason::kBackendGone: return "backend_gone";
    case DropReason::kNoNeighbor: return "no_neighbor";
    case DropReason::kNoLocalPort: return "no_local_port";
    case DropReason::kNoSnapshot: return "no_snapshot";
    case DropReason::kOtherHost: return "other_host";
    case DropReason::kExceptionFull: return "exception_full";
    case DropReason::kHandoffFull: return "handoff_full";
    case DropReason::kTxFull: return "tx_full";
    case DropReason::kCount: break;
  }
  return "unknown";
}

CounterTotals sum_counters(std::span<const WorkerCounters> workers) {
  CounterTotals t;
  for (const WorkerCounters& w : workers) {
    t.rx_packets += w.rx_packets.load();
    t.rx_bytes += w.rx_bytes.load();
    t.forwarded += w.forwarded.load();
    t.tx_bytes += w.tx_bytes.load();
    t.replied += w.replied.load();
    t.to_kernel += w.to_kernel.load();
    t.handed_off += w.handed_off.load();
    t.new_flows += w.new_flows.load();
    t.flows_rechosen += w.flows_rechosen.load();
    t.flows_reset += w.flows_reset.load();
    t.dropped += w.dropped.load();
    for (size_t i = 0; i < t.drops.size(); ++i) t.drops[i] += w.drops[i].load();
  }
  return t;
}

}  // namespace fulcrum
