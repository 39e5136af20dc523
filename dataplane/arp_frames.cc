// SPDX-License-Identifier: Apache-2.0
#include "arp_frames.h"

#include "packet_parser.h"

namespace fulcrum {

namespace {

void build_arp(uint8_t* f, const MacAddr& eth_dst, const MacAddr& sender_mac, Ipv4Be sender,
               const MacAddr& target_mac, Ipv4Be target, uint16_t op) {
  std::memcpy(f, eth_dst.bytes.data(), 6);
  std::memcpy(f + 6, sender_mac.bytes.data(), 6);
  store16(f + 12, host_to_be16(kEtherTypeArp));
  uint8_t* a = f + kEtherHeaderLen;
  store16(a, host_to_be16(1));  // Ethernet
  store16(a + 2, host_to_be16(kEtherTypeIpv4));
  a[4] = 6;
  a[5] = 4;
  store16(a + 6, host_to_be16(op));
  std::memcpy(a + 8, sender_mac.bytes.data(), 6);
  store32(a + 14, sender);
  std::memcpy(a + 18, target_mac.bytes.data(), 6);
  store32(a + 24, target);
}

}  // namespace

void build_arp_request(uint8_t* frame, const MacAddr& sender_mac, Ipv4Be sender, Ipv4Be target) {
  build_arp(frame, MacAddr::broadcast(), sender_mac, sender, MacAddr{}, target, 1);
}

void build_gratuitous_arp(uint8_t* frame, const MacAddr& mac, Ipv4Be addr) {
  build_arp(frame, MacAddr::broadcast(), mac, addr, MacAddr{}, addr, 1);
}

std::optional<ArpSender> arp_sender(const uint8_t* frame, uint32_t len) {
  ParsedPacket p;
  if (parse_packet(frame, len, p) != ParseStatus::kOk || p.ether_type != kEtherTypeArp) {
    return std::nullopt;
  }
  if (p.arp_spa == 0 || p.arp_sha.is_zero() || p.arp_sha == MacAddr::broadcast()) {
    return std::nullopt;
  }
  return ArpSender{p.arp_spa, p.arp_sha};
}

}  // namespace fulcrum
