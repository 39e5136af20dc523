// SPDX-License-Identifier: Apache-2.0
#include "vrrp_frame.h"

#include <algorithm>
#include <cstring>

#include "checksum.h"
#include "vrrp_packet.h"

namespace fulcrum::vrrp {
namespace {

constexpr size_t kEthHeader = 14;
constexpr size_t kVlanTag = 4;
constexpr size_t kIpv4MinHeader = 20;
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr size_t kMinFrame = 60;

uint16_t read_be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

// Offset of the IPv4 header, or 0 when the frame is not IPv4.
size_t ipv4_offset(const uint8_t* frame, size_t len) {
  if (len < kEthHeader) return 0;
  uint16_t type = read_be16(frame + 12);
  size_t off = kEthHeader;
  if (type == kEtherTypeVlan) {
    if (len < kEthHeader + kVlanTag) return 0;
    type = read_be16(frame + 16);
    off += kVlanTag;
  }
  return type == kEtherTypeIpv4 ? off : 0;
}

}  // namespace

bool is_vrrp_frame(const uint8_t* frame, size_t len) {
  const size_t off = ipv4_offset(frame, len);
  return off != 0 && len >= off + kIpv4MinHeader && frame[off + 9] == kIpProtoVrrp;
}

std::optional<ReceivedFrame> parse_frame(const uint8_t* frame, size_t len) {
  const size_t off = ipv4_offset(frame, len);
  if (off == 0 || len < off + kIpv4MinHeader) return std::nullopt;
  const uint8_t* ip = frame + off;
  const size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
  const size_t total = read_be16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < kIpv4MinHeader || total < ihl || off + total > len) {
    return std::nullopt;
  }
  if (ip[9] != kIpProtoVrrp || !ipv4_header_checksum_ok(ip, ihl)) return std::nullopt;
  // More-fragments set or a fragment offset: adverts are never fragmented.
  if ((read_be16(ip + 6) & 0x3fff) != 0) return std::nullopt;
  ReceivedFrame r;
  std::memcpy(r.src_mac.bytes.data(), frame + 6, 6);
  std::memcpy(&r.src, ip + 12, 4);
  std::memcpy(&r.dst, ip + 16, 4);
  r.ttl = ip[8];
  r.payload = ip + ihl;
  r.payload_len = total - ihl;
  return r;
}

std::vector<uint8_t> build_frame(const MacAddr& src_mac, const MacAddr& dst_mac, Ipv4Be src,
                                 Ipv4Be dst, uint16_t ip_id, const std::vector<uint8_t>& payload) {
  const size_t total = kIpv4MinHeader + payload.size();
  std::vector<uint8_t> frame(std::max(kMinFrame, kEthHeader + total), 0);
  std::memcpy(frame.data(), dst_mac.bytes.data(), 6);
  std::memcpy(frame.data() + 6, src_mac.bytes.data(), 6);
  frame[12] = kEtherTypeIpv4 >> 8;
  frame[13] = kEtherTypeIpv4 & 0xff;
  uint8_t* ip = frame.data() + kEthHeader;
  ip[0] = 0x45;
  ip[1] = 0xc0;
  ip[2] = static_cast<uint8_t>(total >> 8);
  ip[3] = static_cast<uint8_t>(total & 0xff);
  ip[4] = static_cast<uint8_t>(ip_id >> 8);
  ip[5] = static_cast<uint8_t>(ip_id & 0xff);
  ip[8] = kRequiredTtl;
  ip[9] = kIpProtoVrrp;
  std::memcpy(ip + 12, &src, 4);
  std::memcpy(ip + 16, &dst, 4);
  const uint16_t check = ipv4_header_checksum(ip, kIpv4MinHeader);
  std::memcpy(ip + 10, &check, 2);
  if (!payload.empty()) std::memcpy(ip + kIpv4MinHeader, payload.data(), payload.size());
  return frame;
}

}  // namespace fulcrum::vrrp
