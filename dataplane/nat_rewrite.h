// SPDX-License-Identifier: Apache-2.0
// In-place packet rewrites for forwarding: FNAT address/port translation, DSR MAC rewrite,
// TTL decrement, and the replies the data plane answers itself (ARP, ICMP echo, TCP RST).
// Checksums are updated incrementally (RFC 1624); nothing changes the frame's length.
// Thread-safety: pure functions over the caller's buffer.
#pragma once

#include <cstdint>

#include "net_types.h"
#include "packet_parser.h"

namespace fulcrum {

// Writes `to` (addresses and ports) into a parsed IPv4 TCP/UDP packet and updates the IPv4 and
// L4 checksums incrementally. A UDP checksum of zero (none) stays zero. ICMP: addresses only.
void rewrite_tuple(uint8_t* frame, const ParsedPacket& pkt, const FiveTuple& to);

// Decrements TTL with an incremental header-checksum update. Caller has checked ttl > 1.
void decrement_ttl(uint8_t* frame, const ParsedPacket& pkt);

// Sets destination and source MAC addresses.
void set_ether_addresses(uint8_t* frame, const MacAddr& dst, const MacAddr& src);

// Turns an ARP request for `pkt.arp_tpa` into the reply "tpa is-at `mac`", in place.
void make_arp_reply(uint8_t* frame, const ParsedPacket& pkt, const MacAddr& mac);

// Turns an ICMP echo request into its echo reply, in place (addresses and MACs swapped).
void make_icmp_echo_reply(uint8_t* frame, const ParsedPacket& pkt);

// Turns a TCP segment into the RST its sender should get back (RFC 793 reset generation):
// addresses, ports and MACs swapped, payload dropped from the IP length. Returns the new frame
// length.
uint16_t make_tcp_reset_reply(uint8_t* frame, const ParsedPacket& pkt);

}  // namespace fulcrum
