// SPDX-License-Identifier: Apache-2.0
#include "pipeline.h"

#include <cassert>

#include "checksum.h"
#include "flow_hash.h"
#include "nat_rewrite.h"

namespace fulcrum {

const char* to_string(ActionKind k) {
  switch (k) {
    case ActionKind::kForward: return "forward";
    case ActionKind::kReply: return "reply";
    case ActionKind::kToKernel: return "kernel";
    case ActionKind::kHandoff: return "handoff";
    case ActionKind::kDrop: return "drop";
  }
  return "?";
}

namespace {

DropReason drop_reason_for(ParseStatus s) {
  switch (s) {
    case ParseStatus::kTruncatedL2: return DropReason::kTruncatedL2;
    case ParseStatus::kIpv6: return DropReason::kIpv6;
    case ParseStatus::kTruncatedArp: return DropReason::kTruncatedArp;
    case ParseStatus::kBadArp: return DropReason::kBadArp;
    case ParseStatus::kTruncatedIp: return DropReason::kTruncatedIp;
    case ParseStatus::kBadIpVersion: return DropReason::kBadIpVersion;
    case ParseStatus::kBadIhl: return DropReason::kBadIhl;
    case ParseStatus::kBadIpLength: return DropReason::kBadIpLength;
    case ParseStatus::kBadIpChecksum: return DropReason::kBadIpChecksum;
    case ParseStatus::kTruncatedL4: return DropReason::kTruncatedL4;
    case ParseStatus::kBadTcpHeader: return DropReason::kBadTcpHeader;
    case ParseStatus::kBadUdpLength: return DropReason::kBadUdpLength;
    case ParseStatus::kOk:
    case ParseStatus::kOtherEtherType: break;
  }
  return DropReason::kTruncatedL2;
}

bool is_l4_flow(const ParsedPacket& p) {
  return p.ether_type == kEtherTypeIpv4 && p.is_first_fragment &&
         (p.tuple.proto == static_cast<uint8_t>(IpProto::kTcp) ||
          p.tuple.proto == static_cast<uint8_t>(IpProto::kUdp));
}

bool is_tcp(const ParsedPacket& p) { return p.tuple.proto == static_cast<uint8_t>(IpProto::kTcp); }

bool is_bare_syn(const ParsedPacket& p) {
  return (p.tcp_flags & (kTcpSyn | kTcpAck | kTcpRst)) == kTcpSyn;
}

// The state a packet moves its flow to, given the state it was in.
FlowState next_state(const ParsedPacket& p, FlowState current, bool reply_direction) {
  if (!is_tcp(p)) return FlowState::kUdp;
  if (p.tcp_flags & (kTcpFin | kTcpRst)) return FlowState::kTcpClosing;
  if (current == FlowState::kTcpSyn && !reply_direction && (p.tcp_flags & kTcpAck) &&
      !(p.tcp_flags & kTcpSyn)) {
    return FlowState::kTcpEstablished;  // the client's ACK completes the handshake
  }
  return current;
}

uint16_t ports_per_worker(const Snapshot& snap, uint16_t worker_count) {
  const uint32_t span = static_cast<uint32_t>(snap.fnat_port_hi) - snap.fnat_port_lo + 1;
  return static_cast<uint16_t>(span / worker_count);
}

}  // namespace

Worker::Worker(const WorkerConfig& config)
    : config_(config),
      flows_(config.flow_capacity, config.timeouts),
      next_port_offset_(config.fnat_port_start) {
  assert(config.worker_count > 0 && config.worker_id < config.worker_count);
  flows_.set_remove_hook(&Worker::on_flow_removed, this);
}

void Worker::on_flow_removed(void* self, const FlowEntry& e) {
  // A connection is its forward entry; the reply entry goes with it.
  if (e.flags & kFlowReply) return;
  static_cast<Worker*>(self)->backend_counters_[e.stat_id % kMaxBackendStats].flows_closed.add();
}

uint16_t build_tcp_reset(uint8_t* frame, const MacAddr& dst_mac, const MacAddr& src_mac,
                         const FiveTuple& tuple, uint32_t seq) {
  std::memset(frame, 0, 54);
  set_ether_addresses(frame, dst_mac, src_mac);
  store16(frame + 12, host_to_be16(kEtherTypeIpv4));
  uint8_t* ip = frame + kEtherHeaderLen;
  ip[0] = 0x45;
  store16(ip + 2, host_to_be16(40));
  ip[8] = 64;
  ip[9] = static_cast<uint8_t>(IpProto::kTcp);
  store32(ip + 12, tuple.saddr);
  store32(ip + 16, tuple.daddr);
  store16(ip + 10, ipv4_header_checksum(ip, 20));
  uint8_t* tcp = ip + 20;
  store16(tcp, tuple.sport);
  store16(tcp + 2, tuple.dport);
  store32(tcp + 4, host_to_be32(seq));
  tcp[12] = 5 << 4;
  tcp[13] = kTcpRst;
  store16(tcp + 16, l4_checksum_ipv4(tuple.saddr, tuple.daddr, 6, tcp, 20));
  return 54;
}

uint16_t Worker::owner_of_port(const Snapshot& snap, uint16_t worker_count, uint16_t port_host) {
  const uint16_t per = ports_per_worker(snap, worker_count);
  if (per == 0) return 0;
  const uint32_t owner = static_cast<uint32_t>(port_host - snap.fnat_port_lo) / per;
  return static_cast<uint16_t>(owner < worker_count ? owner : worker_count - 1);
}

Action Worker::drop(DropReason r) {
  counters_.drop(r);
  return Action{ActionKind::kDrop, static_cast<uint16_t>(r)};
}

void Worker::process_burst(const Snapshot* snap, Packet* pkts, uint16_t n, uint32_t now_ms,
                           Action* actions) {
  assert(n <= kMaxBurst);
  ParsedPacket* parsed = parsed_;
  ParseStatus* status = status_;
  uint64_t* hash = hash_;

  // Pass 1: parse everything and prefetch the flow buckets, so that pass 2's lookups find
  // their cache lines already on the way.
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    bytes += pkts[i].len;
    status[i] = parse_packet(pkts[i].data, pkts[i].len, parsed[i]);
    hash[i] = 0;
    if (status[i] == ParseStatus::kOk && is_l4_flow(parsed[i])) {
      hash[i] = hash_tuple(parsed[i].tuple);
      flows_.prefetch(hash[i]);
    }
  }
  counters_.rx_packets.add(n);
  counters_.rx_bytes.add(bytes);

  // Pass 1b: the bucket headers have had a burst's time to arrive; fetch the entry lines whose
  // signatures match.
  for (uint16_t i = 0; i < n; ++i) {
    if (hash[i] != 0) flows_.prefetch_entries(hash[i]);
  }

  // Pass 2: decide and rewrite.
  for (uint16_t i = 0; i < n; ++i) {
    if (status[i] == ParseStatus::kOtherEtherType) {
      counters_.to_kernel.add();
      actions[i] = Action{ActionKind::kToKernel, 0};
    } else if (status[i] != ParseStatus::kOk) {
      actions[i] = drop(drop_reason_for(status[i]));
    } else if (snap == nullptr) {
      actions[i] = drop(DropReason::kNoSnapshot);
    } else {
      actions[i] = process_one(*snap, pkts[i], parsed[i], hash[i], now_ms);
    }
  }
}

Action Worker::process_one(const Snapshot& snap, Packet& pkt, const ParsedPacket& p,
                           uint64_t hash, uint32_t now_ms) {
  // Unicast to another station (a flooded frame on a bridge): not ours to forward, or two
  // nodes on the segment would both act on it.
  if ((pkt.data[0] & 1) == 0 && std::memcmp(pkt.data, snap.local_mac.bytes.data(), 6) != 0) {
    return drop(DropReason::kOtherHost);
  }
  if (p.ether_type == kEtherTypeArp) {
    const bool ours = p.arp_tpa == snap.local_addr || snap.owns_vip(p.arp_tpa);
    if (p.arp_op == 1 && ours) {
      make_arp_reply(pkt.data, p, snap.local_mac);
      counters_.replied.add();
      return Action{ActionKind::kReply, 0};
    }
    // Requests for other hosts are not ours to answer; replies and gratuitous announcements
    // feed the kernel's neighbour table on the exception path.
    if (p.arp_op == 1 && p.arp_spa != p.arp_tpa) return drop(DropReason::kArpNotForUs);
    counters_.to_kernel.add();
    return Action{ActionKind::kToKernel, 0};
  }

  // IPv4.
  if (snap.owns_vip(p.tuple.daddr)) return process_vip(snap, pkt, p, hash, now_ms);
  if (p.tuple.daddr == snap.local_addr && is_l4_flow(p)) {
    const uint16_t dport = be16_to_host(p.tuple.dport);
    if (dport >= snap.fnat_port_lo && dport <= snap.fnat_port_hi) {
      return process_reply(snap, pkt, p, hash, now_ms);
    }
  }
  counters_.to_kernel.add();
  return Action{ActionKind::kToKernel, 0};
}

Action Worker::process_vip(const Snapshot& snap, Packet& pkt, const ParsedPacket& p,
                           uint64_t hash, uint32_t now_ms) {
  if (p.tuple.proto == static_cast<uint8_t>(IpProto::kIcmp)) {
    if (p.is_fragment) return drop(DropReason::kFragment);
    if (p.icmp_type != kIcmpEchoRequest) return drop(DropReason::kIcmpNotEcho);
    make_icmp_echo_reply(pkt.data, p);
    counters_.replied.add();
    return Action{ActionKind::kReply, 0};
  }
  if (p.is_fragment) return drop(DropReason::kFragment);
  if (!is_l4_flow(p)) return drop(DropReason::kNoService);
  if (p.ttl <= 1) return drop(DropReason::kTtlExpired);

  // Established flows first: a flow checked against this snapshot needs no service lookup.
  bool backend_left = false;
  FlowRef ref = flows_.lookup(p.tuple, hash, now_ms);
  if (ref.valid() && is_tcp(p) && is_bare_syn(p) &&
      flows_.state(ref) == FlowState::kTcpClosing) {
    // A new connection reusing the tuple of one that is closing: start afresh.
    flows_.erase(ref);
    ref = FlowRef{};
  }
  if (ref.valid()) {
    FlowEntry& e = flows_.entry(ref);
    if (e.snapshot_version == static_cast<uint32_t>(snap.version) || revalidate(snap, e)) {
      return forward(snap, ref, pkt, p, now_ms);
    }
    backend_left = true;  // its backend (or its whole service) has left
    flows_.erase(ref);
  }

  const int si = snap.find_service(p.tuple.daddr, p.tuple.dport, p.tuple.proto);
  if (si < 0) return drop(DropReason::kNoService);
  const ServiceEntry& svc = snap.services[static_cast<size_t>(si)];
  if (backend_left) {
    if (svc.on_gone == GonePolicy::kReset && is_tcp(p)) {
      if (p.tcp_flags & kTcpRst) return drop(DropReason::kBackendGone);  // never answer a RST
      counters_.flows_reset.add();
      counters_.replied.add();
      pkt.len = make_tcp_reset_reply(pkt.data, p);
      return Action{ActionKind::kReply, 0};
    }
    counters_.flows_rechosen.add();
  }
  // FNAT needs the handshake: the backend has never heard of a flow that starts mid-stream.
  // DSR may pick it up, since Maglev gives every node the same backend for it.
  if (is_tcp(p) && !is_bare_syn(p) && !backend_left && svc.forward == ForwardMode::kFnat) {
    return drop(DropReason::kNoFlow);
  }
  return new_flow(snap, si, pkt, p, hash, now_ms);
}

Action Worker::process_reply(const Snapshot& snap, Packet& pkt, const ParsedPacket& p,
                             uint64_t hash, uint32_t now_ms) {
  const uint16_t owner = owner_of_port(snap, config_.worker_count, be16_to_host(p.tuple.dport));
  if (owner != config_.worker_id) {
    counters_.handed_off.add();
    return Action{ActionKind::kHandoff, owner};
  }
  const FlowRef ref = flows_.lookup(p.tuple, hash, now_ms);
  if (!ref.valid() || !(flows_.entry(ref).flags & kFlowReply)) {
    counters_.to_kernel.add();  // not a flow of ours: maybe a socket of the node itself
    return Action{ActionKind::kToKernel, 0};
  }
  FlowEntry& e = flows_.entry(ref);
  if (e.snapshot_version != static_cast<uint32_t>(snap.version) && !revalidate(snap, e)) {
    flows_.erase(ref);
    return drop(DropReason::kBackendGone);
  }
  if (p.ttl <= 1) return drop(DropReason::kTtlExpired);
  return forward(snap, ref, pkt, p, now_ms);
}

int Worker::choose_backend(const ServiceEntry& svc, uint32_t service_index, const FiveTuple& t) {
  uint16_t b = MaglevTable::kNoBackend;
  switch (svc.scheduler) {
    case Scheduler::kMaglev: b = svc.maglev.lookup(hash_for_backend_choice(t)); break;
    case Scheduler::kSourceHash: b = svc.maglev.lookup(hash_source_address(t.saddr)); break;
    case Scheduler::kWrr: {
      if (svc.wrr.empty()) break;
      uint32_t& cursor = wrr_cursor_[service_index % kMaxServices];
      b = svc.wrr[cursor % svc.wrr.size()];
      cursor = static_cast<uint32_t>((cursor + 1) % svc.wrr.size());
      break;
    }
  }
  return b == MaglevTable::kNoBackend ? -1 : b;
}

Action Worker::new_flow(const Snapshot& snap, int si, Packet& pkt, const ParsedPacket& p,
                        uint64_t hash, uint32_t now_ms) {
  const ServiceEntry& svc = snap.services[static_cast<size_t>(si)];
  const int bi = choose_backend(svc, static_cast<uint32_t>(si), p.tuple);
  if (bi < 0) return drop(DropReason::kNoBackend);
  const BackendEntry& be = svc.backends[static_cast<size_t>(bi)];
  const FlowState state = !is_tcp(p)          ? FlowState::kUdp
                          : is_bare_syn(p)    ? FlowState::kTcpSyn
                          : (p.tcp_flags & (kTcpFin | kTcpRst)) ? FlowState::kTcpClosing
                                                                : FlowState::kTcpEstablished;
  auto fill = [&](FlowEntry& e) {
    e.snapshot_version = static_cast<uint32_t>(snap.version);
    e.backend_addr = be.addr;
    e.backend_port = be.port;
    e.service_index = static_cast<uint16_t>(si);
    e.backend_index = static_cast<uint16_t>(bi);
    e.stat_id = be.stat_id;
  };

  FlowRef fwd;
  if (svc.forward == ForwardMode::kDsr) {
    fwd = flows_.insert(p.tuple, hash, now_ms, state);
    FlowEntry& e = flows_.entry(fwd);
    fill(e);
    e.flags = kFlowDsr;
  } else {
    // FNAT: find a source port of this worker's range that is free toward this backend.
    const uint16_t per = ports_per_worker(snap, config_.worker_count);
    if (per == 0) return drop(DropReason::kNoLocalPort);
    const uint16_t base = static_cast<uint16_t>(snap.fnat_port_lo + config_.worker_id * per);
    FiveTuple reply_key;
    reply_key.saddr = be.addr;
    reply_key.daddr = snap.local_addr;
    reply_key.sport = be.port;
    reply_key.proto = p.tuple.proto;
    uint64_t reply_hash = 0;
    bool found = false;
    constexpr int kPortTries = 16;
    for (int attempt = 0; attempt < kPortTries && !found; ++attempt) {
      const uint16_t port = static_cast<uint16_t>(base + next_port_offset_ % per);
      next_port_offset_ = static_cast<uint16_t>((next_port_offset_ + 1) % per);
      reply_key.dport = host_to_be16(port);
      reply_hash = hash_tuple(reply_key);
      found = !flows_.lookup(reply_key, reply_hash, now_ms).valid();
    }
    if (!found) return drop(DropReason::kNoLocalPort);
    const FlowTable::Pair pair =
        flows_.insert_pair(p.tuple, hash, reply_key, reply_hash, now_ms, state);
    fwd = pair.forward;
    FlowEntry& f = flows_.entry(pair.forward);
    fill(f);
    f.flags = 0;
    f.rewrite = FiveTuple{};
    f.rewrite.saddr = snap.local_addr;
    f.rewrite.daddr = be.addr;
    f.rewrite.sport = reply_key.dport;
    f.rewrite.dport = be.port;
    f.rewrite.proto = p.tuple.proto;
    FlowEntry& r = flows_.entry(pair.reply);
    fill(r);
    r.flags = kFlowReply;
    r.rewrite = p.tuple.reversed();
    std::memcpy(r.out_mac.bytes.data(), pkt.data + 6, 6);  // back to where the client came from
  }
  counters_.new_flows.add();
  backend_counters_[be.stat_id % kMaxBackendStats].flows_opened.add();
  return forward(snap, fwd, pkt, p, now_ms);
}

Action Worker::forward(const Snapshot& snap, FlowRef ref, Packet& pkt, const ParsedPacket& p,
                       uint32_t now_ms) {
  FlowEntry& e = flows_.entry(ref);
  const bool reply = (e.flags & kFlowReply) != 0;
  flows_.touch(ref, now_ms, next_state(p, flows_.state(ref), reply));
  MacAddr dst;
  if (reply) {
    dst = e.out_mac;
  } else {
    dst = snap.services[e.service_index].backends[e.backend_index].mac;
  }
  if (dst.is_zero()) return drop(DropReason::kNoNeighbor);
  if (!reply && is_tcp(p)) {
    // Where each end's sequence space stands, so a reset (on_down = "reset") is accepted.
    const uint8_t* tcp = pkt.data + p.l4_offset;
    uint32_t next = be32_to_host(load32(tcp + 4)) + (p.l4_len - p.tcp_header_len);
    if (p.tcp_flags & (kTcpSyn | kTcpFin)) ++next;
    e.seq.client_next_seq = next;
    if (p.tcp_flags & kTcpAck) e.seq.client_ack = be32_to_host(load32(tcp + 8));
  }
  BackendCounters& bc = backend_counters_[e.stat_id % kMaxBackendStats];
  bc.packets.add();
  bc.bytes.add(pkt.len);
  if (!(e.flags & kFlowDsr)) rewrite_tuple(pkt.data, p, e.rewrite);
  decrement_ttl(pkt.data, p);
  set_ether_addresses(pkt.data, dst, snap.local_mac);
  counters_.forwarded.add();
  counters_.tx_bytes.add(pkt.len);
  return Action{ActionKind::kForward, 0};
}

bool Worker::revalidate(const Snapshot& snap, FlowEntry& e) {
  const bool reply = (e.flags & kFlowReply) != 0;
  // The service is named by the VIP side of the flow: the destination of the client's packets,
  // the source that a reply is rewritten to.
  const Ipv4Be vip = reply ? e.rewrite.saddr : e.key.daddr;
  const PortBe vport = reply ? e.rewrite.sport : e.key.dport;
  const int si = snap.find_service(vip, vport, e.key.proto);
  if (si < 0) return false;
  const ServiceEntry& svc = snap.services[static_cast<size_t>(si)];
  const int bi = svc.find_backend(e.backend_addr, e.backend_port);
  if (bi < 0 || !svc.backends[static_cast<size_t>(bi)].keeps_existing) return false;
  e.service_index = static_cast<uint16_t>(si);
  e.backend_index = static_cast<uint16_t>(bi);
  e.snapshot_version = static_cast<uint32_t>(snap.version);
  return true;
}

}  // namespace fulcrum
