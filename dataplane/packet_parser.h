// SPDX-License-Identifier: Apache-2.0
// Packet parsing: Ethernet (with at most one 802.1Q tag), ARP, IPv4 (options, fragments
// flagged), TCP, UDP and ICMP echo. Every length is checked against the buffer before it is
// read: a truncated or lying header yields a failure status, never a read past the end.
// IPv6 is recognised and rejected cleanly (ParseStatus::kIpv6).
// Thread-safety: pure function of the bytes.
#pragma once

#include <cstdint>

#include "net_types.h"

namespace fulcrum {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint16_t kEtherHeaderLen = 14;
inline constexpr uint16_t kVlanTagLen = 4;

enum class ParseStatus : uint8_t {
  kOk = 0,
  kTruncatedL2,       // shorter than an Ethernet (+ VLAN) header
  kOtherEtherType,    // not IPv4/ARP/IPv6: not ours, the kernel may want it (LLDP, ...)
  kIpv6,              // IPv6: not supported yet
  kTruncatedArp,
  kBadArp,            // not Ethernet/IPv4 ARP
  kTruncatedIp,       // buffer shorter than the IPv4 header
  kBadIpVersion,
  kBadIhl,            // IHL < 5 or beyond the buffer
  kBadIpLength,       // total length < IHL or beyond the buffer
  kBadIpChecksum,
  kTruncatedL4,       // TCP/UDP/ICMP header not all there (first fragment or whole packet)
  kBadTcpHeader,      // data offset < 5 or beyond the IP payload
  kBadUdpLength,      // UDP length disagrees with the IP payload
};

const char* to_string(ParseStatus s);

// What the pipeline needs from a frame. Offsets are from the start of the frame.
struct ParsedPacket {
  uint16_t ether_type = 0;  // after the VLAN tag, host order
  uint16_t vlan_tci = 0;    // host order; valid when has_vlan
  bool has_vlan = false;
  uint16_t l3_offset = 0;

  // ARP (valid when ether_type == ARP)
  uint16_t arp_op = 0;  // host order: 1 request, 2 reply
  MacAddr arp_sha;
  Ipv4Be arp_spa = 0;
  Ipv4Be arp_tpa = 0;

  // IPv4
  uint16_t ip_header_len = 0;
  uint16_t ip_total_len = 0;  // host order, as the header says (frame may carry padding)
  uint8_t ttl = 0;
  bool is_fragment = false;        // MF set or offset != 0
  bool is_first_fragment = false;  // offset == 0 (L4 header present)
  uint16_t l4_offset = 0;
  uint16_t l4_len = 0;  // IP payload length

  // L4: tuple ports are zero for ICMP and non-first fragments
  FiveTuple tuple;
  uint8_t tcp_flags = 0;
  uint16_t tcp_header_len = 0;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
};

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;

inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpEchoRequest = 8;

// Parses `len` bytes at `frame`. On any status but kOk, `out` holds what was parsed so far.
ParseStatus parse_packet(const uint8_t* frame, uint32_t len, ParsedPacket& out);

}  // namespace fulcrum
