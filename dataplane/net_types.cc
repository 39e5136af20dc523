// SPDX-License-Identifier: Apache-2.0
#include "net_types.h"

#include <arpa/inet.h>

#include <cstdio>

namespace fulcrum {

std::string MacAddr::to_string() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return buf;
}

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  MacAddr mac;
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return std::nullopt;
    unsigned value = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c = text[i * 3 + j];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
    }
    mac.bytes[i] = static_cast<uint8_t>(value);
  }
  return mac;
}

std::optional<Ipv4Be> parse_ipv4(std::string_view text) {
  // inet_pton is strict: exactly four decimal octets, no leading/trailing junk.
  if (text.empty() || text.size() > 15) return std::nullopt;
  char buf[16];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr addr{};
  if (inet_pton(AF_INET, buf, &addr) != 1) return std::nullopt;
  return addr.s_addr;
}

std::string ipv4_to_string(Ipv4Be addr) {
  const auto* b = reinterpret_cast<const uint8_t*>(&addr);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
  return buf;
}

std::string FiveTuple::to_string() const {
  const char* p = proto == 6 ? "tcp" : proto == 17 ? "udp" : proto == 1 ? "icmp" : "ip";
  return std::string(p) + " " + ipv4_to_string(saddr) + ":" + std::to_string(be16_to_host(sport)) +
         " -> " + ipv4_to_string(daddr) + ":" + std::to_string(be16_to_host(dport));
}

}  // namespace fulcrum
