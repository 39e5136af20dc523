// SPDX-License-Identifier: Apache-2.0
#include "packet_builder.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>

namespace fulcrum::testing {

namespace {

void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x & 0xff));
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
  put16(v, static_cast<uint16_t>(x >> 16));
  put16(v, static_cast<uint16_t>(x & 0xffff));
}
void put_addr(std::vector<uint8_t>& v, Ipv4Be a) {
  const auto* b = reinterpret_cast<const uint8_t*>(&a);
  v.insert(v.end(), b, b + 4);
}
void set16(std::vector<uint8_t>& v, size_t at, uint16_t x) {
  v[at] = static_cast<uint8_t>(x >> 8);
  v[at + 1] = static_cast<uint8_t>(x & 0xff);
}

std::vector<uint8_t> slice(const std::vector<uint8_t>& v, size_t from, size_t len) {
  return {v.begin() + static_cast<long>(from), v.begin() + static_cast<long>(from + len)};
}

}  // namespace

Ipv4Be ip(const char* dotted) {
  in_addr a{};
  if (inet_pton(AF_INET, dotted, &a) != 1) std::abort();
  return a.s_addr;
}

uint16_t reference_checksum(const std::vector<uint8_t>& bytes) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
    sum += static_cast<uint32_t>(bytes[i] << 8 | bytes[i + 1]);
  }
  if (bytes.size() % 2) sum += static_cast<uint32_t>(bytes.back() << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

namespace {

std::vector<uint8_t> pseudo_header(const std::vector<uint8_t>& frame, size_t l3, uint8_t proto,
                                   size_t l4_len) {
  std::vector<uint8_t> ph;
  ph.insert(ph.end(), frame.begin() + static_cast<long>(l3 + 12),
            frame.begin() + static_cast<long>(l3 + 20));
  ph.push_back(0);
  ph.push_back(proto);
  put16(ph, static_cast<uint16_t>(l4_len));
  return ph;
}

}  // namespace

std::vector<uint8_t> build_ipv4(const FrameSpec& s) {
  std::vector<uint8_t> f;
  f.insert(f.end(), s.dst_mac.bytes.begin(), s.dst_mac.bytes.end());
  f.insert(f.end(), s.src_mac.bytes.begin(), s.src_mac.bytes.end());
  if (s.vlan) {
    put16(f, 0x8100);
    put16(f, *s.vlan);
  }
  put16(f, 0x0800);
  const size_t l3 = f.size();

  std::vector<uint8_t> l4;
  const bool first_fragment = (s.frag & 0x1fff) == 0;
  if (s.proto == 6) {
    put16(l4, s.sport);
    put16(l4, s.dport);
    put32(l4, s.seq);
    put32(l4, s.ack);
    l4.push_back(5 << 4);
    l4.push_back(s.tcp_flags);
    put16(l4, 65535);  // window
    put16(l4, 0);      // checksum
    put16(l4, 0);      // urgent
  } else if (s.proto == 17) {
    put16(l4, s.sport);
    put16(l4, s.dport);
    put16(l4, static_cast<uint16_t>(8 + s.payload.size()));
    put16(l4, 0);
  } else if (s.proto == 1) {
    l4.push_back(s.icmp_type);
    l4.push_back(0);
    put16(l4, 0);
    put16(l4, 0x1234);  // identifier
    put16(l4, 1);       // sequence
  }
  if (!first_fragment) l4.clear();  // later fragments carry only payload
  l4.insert(l4.end(), s.payload.begin(), s.payload.end());

  const size_t ihl = 20 + s.ip_options.size();
  f.push_back(static_cast<uint8_t>(0x40 | (ihl / 4)));
  f.push_back(0);
  put16(f, static_cast<uint16_t>(ihl + l4.size()));
  put16(f, s.ip_id);
  put16(f, s.frag);
  f.push_back(s.ttl);
  f.push_back(s.proto);
  put16(f, 0);
  put_addr(f, s.saddr);
  put_addr(f, s.daddr);
  f.insert(f.end(), s.ip_options.begin(), s.ip_options.end());
  set16(f, l3 + 10, reference_checksum(slice(f, l3, ihl)));

  const size_t l4_off = f.size();
  f.insert(f.end(), l4.begin(), l4.end());
  if (first_fragment && !l4.empty()) {
    if (s.proto == 6 || (s.proto == 17 && s.udp_checksum)) {
      std::vector<uint8_t> sum = pseudo_header(f, l3, s.proto, l4.size());
      sum.insert(sum.end(), l4.begin(), l4.end());
      uint16_t c = reference_checksum(sum);
      if (s.proto == 17 && c == 0) c = 0xffff;
      set16(f, l4_off + (s.proto == 6 ? 16 : 6), c);
    } else if (s.proto == 1) {
      set16(f, l4_off + 2, reference_checksum(l4));
    }
  }
  return f;
}

std::vector<uint8_t> build_arp_request(const MacAddr& sender_mac, Ipv4Be sender, Ipv4Be target) {
  std::vector<uint8_t> f;
  const MacAddr bcast = MacAddr::broadcast();
  f.insert(f.end(), bcast.bytes.begin(), bcast.bytes.end());
  f.insert(f.end(), sender_mac.bytes.begin(), sender_mac.bytes.end());
  put16(f, 0x0806);
  put16(f, 1);       // Ethernet
  put16(f, 0x0800);  // IPv4
  f.push_back(6);
  f.push_back(4);
  put16(f, 1);  // request
  f.insert(f.end(), sender_mac.bytes.begin(), sender_mac.bytes.end());
  put_addr(f, sender);
  for (int i = 0; i < 6; ++i) f.push_back(0);
  put_addr(f, target);
  return f;
}

bool checksums_valid(const std::vector<uint8_t>& frame) {
  size_t l3 = 14;
  if (frame.size() >= 14 && frame[12] == 0x81 && frame[13] == 0x00) l3 = 18;
  if (frame.size() < l3 + 20) return false;
  const size_t ihl = (frame[l3] & 0x0f) * 4U;
  if (reference_checksum(slice(frame, l3, ihl)) != 0) return false;
  const size_t total = static_cast<size_t>(frame[l3 + 2] << 8 | frame[l3 + 3]);
  const uint8_t proto = frame[l3 + 9];
  const size_t l4_len = total - ihl;
  const std::vector<uint8_t> l4 = slice(frame, l3 + ihl, l4_len);
  const bool first_fragment = ((frame[l3 + 6] & 0x1f) | frame[l3 + 7]) == 0;
  if (!first_fragment) return true;
  if (proto == 6 || proto == 17) {
    if (proto == 17 && l4[6] == 0 && l4[7] == 0) return true;  // no UDP checksum
    std::vector<uint8_t> sum = pseudo_header(frame, l3, proto, l4_len);
    sum.insert(sum.end(), l4.begin(), l4.end());
    return reference_checksum(sum) == 0;
  }
  if (proto == 1) return reference_checksum(l4) == 0;
  return true;
}

std::string hex(const std::vector<uint8_t>& bytes) {
  std::string out;
  char buf[4];
  for (const uint8_t b : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

}  // namespace fulcrum::testing
