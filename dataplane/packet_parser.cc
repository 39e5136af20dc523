// SPDX-License-Identifier: Apache-2.0
#include "packet_parser.h"

#include "checksum.h"

namespace fulcrum {

const char* to_string(ParseStatus s) {
  switch (s) {
    case ParseStatus::kOk: return "ok";
    case ParseStatus::kTruncatedL2: return "truncated_l2";
    case ParseStatus::kOtherEtherType: return "other_ethertype";
    case ParseStatus::kIpv6: return "ipv6";
    case ParseStatus::kTruncatedArp: return "truncated_arp";
    case ParseStatus::kBadArp: return "bad_arp";
    case ParseStatus::kTruncatedIp: return "truncated_ip";
    case ParseStatus::kBadIpVersion: return "bad_ip_version";
    case ParseStatus::kBadIhl: return "bad_ihl";
    case ParseStatus::kBadIpLength: return "bad_ip_length";
    case ParseStatus::kBadIpChecksum: return "bad_ip_checksum";
    case ParseStatus::kTruncatedL4: return "truncated_l4";
    case ParseStatus::kBadTcpHeader: return "bad_tcp_header";
    case ParseStatus::kBadUdpLength: return "bad_udp_length";
  }
  return "unknown";
}

namespace {

ParseStatus parse_arp(const uint8_t* p, uint32_t avail, ParsedPacket& out) {
  constexpr uint32_t kArpLen = 28;
  if (avail < kArpLen) return ParseStatus::kTruncatedArp;
  // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4.
  if (be16_to_host(load16(p)) != 1 || be16_to_host(load16(p + 2)) != kEtherTypeIpv4 ||
      p[4] != 6 || p[5] != 4) {
    return ParseStatus::kBadArp;
  }
  out.arp_op = be16_to_host(load16(p + 6));
  std::memcpy(out.arp_sha.bytes.data(), p + 8, 6);
  out.arp_spa = load32(p + 14);
  out.arp_tpa = load32(p + 24);
  return ParseStatus::kOk;
}

ParseStatus parse_l4(const uint8_t* l4, ParsedPacket& out) {
  const uint16_t len = out.l4_len;
  switch (out.tuple.proto) {
    case static_cast<uint8_t>(IpProto::kTcp): {
      if (len < 20) return ParseStatus::kTruncatedL4;
      const uint16_t doff = static_cast<uint16_t>((l4[12] >> 4) * 4);
      if (doff < 20 || doff > len) return ParseStatus::kBadTcpHeader;
      out.tuple.sport = load16(l4);
      out.tuple.dport = load16(l4 + 2);
      out.tcp_flags = l4[13];
      out.tcp_header_len = doff;
      return ParseStatus::kOk;
    }
    case static_cast<uint8_t>(IpProto::kUdp): {
      if (len < 8) return ParseStatus::kTruncatedL4;
      const uint16_t ulen = be16_to_host(load16(l4 + 4));
      if (ulen < 8 || ulen > len) return ParseStatus::kBadUdpLength;
      out.tuple.sport = load16(l4);
      out.tuple.dport = load16(l4 + 2);
      return ParseStatus::kOk;
    }
    case static_cast<uint8_t>(IpProto::kIcmp): {
      if (len < 8) return ParseStatus::kTruncatedL4;
      out.icmp_type = l4[0];
      out.icmp_code = l4[1];
      return ParseStatus::kOk;
    }
    default:
      return ParseStatus::kOk;  // other protocols: the pipeline decides (usually the kernel)
  }
}

ParseStatus parse_ipv4(const uint8_t* ip, uint32_t avail, ParsedPacket& out) {
  if (avail < 20) return ParseStatus::kTruncatedIp;
  if ((ip[0] >> 4) != 4) return ParseStatus::kBadIpVersion;
  const uint16_t ihl = static_cast<uint16_t>((ip[0] & 0x0f) * 4);
  if (ihl < 20 || ihl > avail) return ParseStatus::kBadIhl;
  const uint16_t total = be16_to_host(load16(ip + 2));
  // The frame may be padded beyond total (Ethernet minimum), never shorter.
  if (total < ihl || total > avail) return ParseStatus::kBadIpLength;
  if (!ipv4_header_checksum_ok(ip, ihl)) return ParseStatus::kBadIpChecksum;

  out.ip_header_len = ihl;
  out.ip_total_len = total;
  out.ttl = ip[8];
  out.tuple.proto = ip[9];
  out.tuple.saddr = load32(ip + 12);
  out.tuple.daddr = load32(ip + 16);
  const uint16_t frag = be16_to_host(load16(ip + 6));
  const bool more_fragments = (frag & 0x2000) != 0;
  const uint16_t offset = frag & 0x1fff;
  out.is_fragment = more_fragments || offset != 0;
  out.is_first_fragment = offset == 0;
  out.l4_offset = static_cast<uint16_t>(out.l3_offset + ihl);
  out.l4_len = static_cast<uint16_t>(total - ihl);
  if (!out.is_first_fragment) return ParseStatus::kOk;  // no L4 header in this fragment
  return parse_l4(ip + ihl, out);
}

}  // namespace

ParseStatus parse_packet(const uint8_t* frame, uint32_t len, ParsedPacket& out) {
  out = ParsedPacket{};
  if (len < kEtherHeaderLen) return ParseStatus::kTruncatedL2;
  uint16_t offset = 12;
  uint16_t type = be16_to_host(load16(frame + offset));
  offset += 2;
  if (type == kEtherTypeVlan) {
    if (len < kEtherHeaderLen + kVlanTagLen) return ParseStatus::kTruncatedL2;
    out.has_vlan = true;
    out.vlan_tci = be16_to_host(load16(frame + offset));
    type = be16_to_host(load16(frame + offset + 2));
    offset += kVlanTagLen;
  }
  out.ether_type = type;
  out.l3_offset = offset;
  const uint32_t avail = len - offset;
  switch (type) {
    case kEtherTypeIpv4: return parse_ipv4(frame + offset, avail, out);
    case kEtherTypeArp: return parse_arp(frame + offset, avail, out);
    case kEtherTypeIpv6: return ParseStatus::kIpv6;
    default: return ParseStatus::kOtherEtherType;
  }
}

}  // namespace fulcrum
