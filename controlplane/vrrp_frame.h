// SPDX-License-Identifier: Apache-2.0
// VRRP advertisements as Ethernet frames: the IPv4 (protocol 112) and Ethernet framing around
// the payload vrrp_packet.h encodes and decodes. fulcrumd speaks VRRP straight through its
// port (frames go out through the to-port ring and come in on the exception path), so it
// frames packets itself instead of asking the kernel for a raw socket.
// Pure: no sockets, no clock. Thread-safety: pure functions over caller-owned buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "net_types.h"

namespace fulcrum::vrrp {

// 01:00:5e:00:00:12, the Ethernet group of 224.0.0.18.
inline constexpr MacAddr kMulticastMac{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12}};

// What the receive path needs from a frame that carries VRRP.
struct ReceivedFrame {
  MacAddr src_mac;
  Ipv4Be src = 0;  // network order
  Ipv4Be dst = 0;
  uint8_t ttl = 0;
  const uint8_t* payload = nullptr;  // the VRRP message, inside the caller's frame
  size_t payload_len = 0;
};

// True when the frame is IPv4 (untagged or one 802.1Q tag) with protocol 112. Cheap: for the
// exception path, which takes such frames away from the kernel.
bool is_vrrp_frame(const uint8_t* frame, size_t len);

// The VRRP message in a frame and its IPv4 addresses and TTL; nullopt when the frame is not
// IPv4 protocol 112, or its IPv4 header is damaged (bad version, length or header checksum) or
// a fragment. The payload ends where the IPv4 total length says (Ethernet padding is cut off).
std::optional<ReceivedFrame> parse_frame(const uint8_t* frame, size_t len);

// An untagged Ethernet frame carrying `payload` in IPv4 from src to dst (network order), with
// TTL 255, TOS 0xc0 (network control, as keepalived sends) and identification ip_id; padded to
// Ethernet's 60-byte minimum.
std::vector<uint8_t> build_frame(const MacAddr& src_mac, const MacAddr& dst_mac, Ipv4Be src,
                                 Ipv4Be dst, uint16_t ip_id, const std::vector<uint8_t>& payload);

}  // namespace fulcrum::vrrp
