// SPDX-License-Identifier: Apache-2.0
// ARP frames the node originates: requests that resolve next hops (backends, gateway) and
// gratuitous ARP that announces an address (a VIP this node took, its own address at start).
// Thread-safety: pure functions over the caller's buffer.
#pragma once

#include <cstdint>
#include <optional>

#include "net_types.h"

namespace fulcrum {

inline constexpr uint16_t kArpFrameLen = 42;  // Ethernet + ARP, before padding to 60

// "who-has target tell sender", broadcast. Writes kArpFrameLen bytes.
void build_arp_request(uint8_t* frame, const MacAddr& sender_mac, Ipv4Be sender, Ipv4Be target);

// Gratuitous ARP: an ARP request for `addr` from `addr` itself, broadcast (RFC 5227's
// announcement, what keepalived and Linux send). Writes kArpFrameLen bytes.
void build_gratuitous_arp(uint8_t* frame, const MacAddr& mac, Ipv4Be addr);

// What an ARP frame teaches about its sender: (address, MAC), for requests, replies and
// announcements alike. nullopt for anything that is not Ethernet/IPv4 ARP or has a zero or
// broadcast sender.
struct ArpSender {
  Ipv4Be addr;
  MacAddr mac;
};
std::optional<ArpSender> arp_sender(const uint8_t* frame, uint32_t len);

}  // namespace fulcrum
