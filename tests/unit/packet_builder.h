// SPDX-License-Identifier: Apache-2.0
// Test and benchmark fixture: builds frames byte by byte, with checksums computed by its own
// straightforward code (not the production checksum routines), so tests compare the pipeline
// against an independent reference.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net_types.h"

namespace fulcrum::testing {

inline constexpr MacAddr kClientMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
inline constexpr MacAddr kLbMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
inline constexpr MacAddr kBackendMac0{{0x02, 0x00, 0x00, 0x00, 0x00, 0x10}};
inline constexpr MacAddr kBackendMac1{{0x02, 0x00, 0x00, 0x00, 0x00, 0x11}};
inline constexpr MacAddr kBackendMac2{{0x02, 0x00, 0x00, 0x00, 0x00, 0x12}};

// Dotted quad to network order; aborts on a typo (fixtures only).
Ipv4Be ip(const char* dotted);

struct FrameSpec {
  MacAddr src_mac = kClientMac;
  MacAddr dst_mac = kLbMac;
  std::optional<uint16_t> vlan;
  Ipv4Be saddr = 0;
  Ipv4Be daddr = 0;
  uint8_t proto = 6;
  uint16_t sport = 40000;  // host order
  uint16_t dport = 8774;   // host order
  uint8_t tcp_flags = 0x02;
  uint32_t seq = 1000;
  uint32_t ack = 0;
  uint8_t ttl = 64;
  uint16_t ip_id = 1;
  uint16_t frag = 0;  // flags and offset, host order (0x2000 = MF)
  std::vector<uint8_t> ip_options;  // multiple of 4 bytes
  std::vector<uint8_t> payload;
  bool udp_checksum = true;
  uint8_t icmp_type = 8;
};

// Ethernet + IPv4 + TCP/UDP/ICMP(echo) per spec.proto.
std::vector<uint8_t> build_ipv4(const FrameSpec& spec);
// Ethernet + ARP request "who-has target tell sender".
std::vector<uint8_t> build_arp_request(const MacAddr& sender_mac, Ipv4Be sender, Ipv4Be target);

// Reference checksum (RFC 1071 by the book, 16-bit big-endian words), host order result.
uint16_t reference_checksum(const std::vector<uint8_t>& bytes);
// True when the IPv4 header checksum and the TCP/UDP/ICMP checksum of a frame are right,
// recomputed from scratch.
bool checksums_valid(const std::vector<uint8_t>& frame);

std::string hex(const std::vector<uint8_t>& bytes);

}  // namespace fulcrum::testing
