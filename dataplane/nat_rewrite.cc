// SPDX-License-Identifier: Apache-2.0
#include "nat_rewrite.h"

#include <utility>

#include "checksum.h"

namespace fulcrum {

namespace {

constexpr uint16_t kIpCheckOffset = 10;
constexpr uint16_t kIpSrcOffset = 12;
constexpr uint16_t kIpDstOffset = 16;

void swap_ether(uint8_t* frame) {
  uint8_t tmp[6];
  std::memcpy(tmp, frame, 6);
  std::memcpy(frame, frame + 6, 6);
  std::memcpy(frame + 6, tmp, 6);
}

// Swaps IPv4 source and destination; the header checksum does not change (same words).
void swap_ip(uint8_t* ip) {
  const uint32_t s = load32(ip + kIpSrcOffset);
  store32(ip + kIpSrcOffset, load32(ip + kIpDstOffset));
  store32(ip + kIpDstOffset, s);
}

}  // namespace

namespace {

// One's-complement sum of what changes when 32-bit `from` becomes `to` (RFC 1624: ~m + m').
inline uint32_t delta32(uint32_t from, uint32_t to) {
  return (~from & 0xffffU) + (~from >> 16) + (to & 0xffffU) + (to >> 16);
}
inline uint32_t delta16(uint16_t from, uint16_t to) {
  return static_cast<uint32_t>(static_cast<uint16_t>(~from)) + to;
}
// Applies a summed delta to a stored checksum (RFC 1624 eqn. 3: HC' = ~(~HC + delta)).
inline uint16_t apply_delta(uint16_t check, uint32_t delta) {
  uint32_t sum = static_cast<uint16_t>(~check) + delta;
  sum = (sum & 0xffffU) + (sum >> 16);
  sum = (sum & 0xffffU) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffffU);
}

}  // namespace

void rewrite_tuple(uint8_t* frame, const ParsedPacket& pkt, const FiveTuple& to) {
  uint8_t* ip = frame + pkt.l3_offset;
  uint8_t* l4 = frame + pkt.l4_offset;
  const uint32_t old_s = load32(ip + kIpSrcOffset);
  const uint32_t old_d = load32(ip + kIpDstOffset);
  // The addresses are in both the IPv4 header and the L4 pseudo-header: one delta for both.
  const uint32_t addr_delta = delta32(old_s, to.saddr) + delta32(old_d, to.daddr);
  store16(ip + kIpCheckOffset, apply_delta(load16(ip + kIpCheckOffset), addr_delta));
  store32(ip + kIpSrcOffset, to.saddr);
  store32(ip + kIpDstOffset, to.daddr);

  // Only a first fragment (or a whole packet) carries the L4 header.
  if (!pkt.is_first_fragment) return;
  uint16_t check_offset;
  if (pkt.tuple.proto == static_cast<uint8_t>(IpProto::kTcp)) {
    check_offset = 16;
  } else if (pkt.tuple.proto == static_cast<uint8_t>(IpProto::kUdp)) {
    check_offset = 6;
  } else {
    return;  // ICMP's checksum covers no pseudo-header
  }
  const uint16_t old_sport = load16(l4);
  const uint16_t old_dport = load16(l4 + 2);
  store16(l4, to.sport);
  store16(l4 + 2, to.dport);
  uint16_t check = load16(l4 + check_offset);
  const bool udp = check_offset == 6;
  if (udp && check == 0) return;  // UDP sent without a checksum stays without one
  check = apply_delta(check, addr_delta + delta16(old_sport, to.sport) +
                                 delta16(old_dport, to.dport));
  if (udp && check == 0) check = 0xffff;  // RFC 768: a computed zero is sent as all ones
  store16(l4 + check_offset, check);
}

void decrement_ttl(uint8_t* frame, const ParsedPacket& pkt) {
  uint8_t* ip = frame + pkt.l3_offset;
  // TTL shares a 16-bit word with the protocol field.
  const uint16_t old_word = load16(ip + 8);
  ip[8] = static_cast<uint8_t>(ip[8] - 1);
  const uint16_t new_word = load16(ip + 8);
  store16(ip + kIpCheckOffset, checksum_update16(load16(ip + kIpCheckOffset), old_word, new_word));
}

void set_ether_addresses(uint8_t* frame, const MacAddr& dst, const MacAddr& src) {
  std::memcpy(frame, dst.bytes.data(), 6);
  std::memcpy(frame + 6, src.bytes.data(), 6);
}

void make_arp_reply(uint8_t* frame, const ParsedPacket& pkt, const MacAddr& mac) {
  uint8_t* arp = frame + pkt.l3_offset;
  set_ether_addresses(frame, pkt.arp_sha, mac);
  store16(arp + 6, host_to_be16(2));
  // target <- the asker; sender <- us
  std::memcpy(arp + 18, pkt.arp_sha.bytes.data(), 6);
  store32(arp + 24, pkt.arp_spa);
  std::memcpy(arp + 8, mac.bytes.data(), 6);
  store32(arp + 14, pkt.arp_tpa);
}

void make_icmp_echo_reply(uint8_t* frame, const ParsedPacket& pkt) {
  uint8_t* ip = frame + pkt.l3_offset;
  uint8_t* icmp = frame + pkt.l4_offset;
  swap_ether(frame);
  swap_ip(ip);
  // Fresh TTL for our own reply; update the header checksum for it.
  const uint16_t old_word = load16(ip + 8);
  ip[8] = 64;
  store16(ip + kIpCheckOffset,
          checksum_update16(load16(ip + kIpCheckOffset), old_word, load16(ip + 8)));
  // Type 8 -> 0 changes the first 16-bit word of the ICMP header.
  const uint16_t old_type = load16(icmp);
  icmp[0] = kIcmpEchoReply;
  store16(icmp + 2, checksum_update16(load16(icmp + 2), old_type, load16(icmp)));
}

uint16_t make_tcp_reset_reply(uint8_t* frame, const ParsedPacket& pkt) {
  uint8_t* ip = frame + pkt.l3_offset;
  uint8_t* tcp = frame + pkt.l4_offset;
  const uint32_t seq = be32_to_host(load32(tcp + 4));
  const uint32_t ack = be32_to_host(load32(tcp + 8));
  const uint16_t payload = static_cast<uint16_t>(pkt.l4_len - pkt.tcp_header_len);
  const uint8_t flags = pkt.tcp_flags;

  swap_ether(frame);
  swap_ip(ip);
  const uint16_t sport = load16(tcp);
  store16(tcp, load16(tcp + 2));
  store16(tcp + 2, sport);
  // RFC 793: if the segment has ACK, RST takes seq = its ack; otherwise RST|ACK with
  // ack = seq + length (SYN and FIN count one each).
  if (flags & kTcpAck) {
    store32(tcp + 4, host_to_be32(ack));
    store32(tcp + 8, 0);
    tcp[13] = kTcpRst;
  } else {
    uint32_t len = payload;
    if (flags & kTcpSyn) ++len;
    if (flags & kTcpFin) ++len;
    store32(tcp + 4, 0);
    store32(tcp + 8, host_to_be32(seq + len));
    tcp[13] = kTcpRst | kTcpAck;
  }
  tcp[12] = 5 << 4;  // no options
  store16(tcp + 14, 0);  // window
  store16(tcp + 18, 0);  // urgent pointer
  const uint16_t ip_len = static_cast<uint16_t>(pkt.ip_header_len + 20);
  store16(ip + 2, host_to_be16(ip_len));
  ip[8] = 64;
  store16(ip + 6, 0);  // no fragmentation flags on our own segment
  store16(ip + kIpCheckOffset, 0);
  store16(ip + kIpCheckOffset, ipv4_header_checksum(ip, pkt.ip_header_len));
  store16(tcp + 16, 0);
  store16(tcp + 16, l4_checksum_ipv4(load32(ip + kIpSrcOffset), load32(ip + kIpDstOffset),
                                     static_cast<uint8_t>(IpProto::kTcp), tcp, 20));
  return static_cast<uint16_t>(pkt.l3_offset + ip_len);
}

}  // namespace fulcrum
