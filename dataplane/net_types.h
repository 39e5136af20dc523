// SPDX-License-Identifier: Apache-2.0
// Plain network value types shared by the whole pipeline. Addresses and ports are kept in
// network byte order everywhere on the hot path, exactly as they sit in the packet, so that
// nothing is converted per packet and hashes are the same on every machine.
// Thread-safety: value types only.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace fulcrum {

// Byte-order helpers (constexpr, so tables and tests can use them at compile time).
constexpr uint16_t bswap16(uint16_t v) { return static_cast<uint16_t>((v << 8) | (v >> 8)); }
constexpr uint32_t bswap32(uint32_t v) {
  return ((v & 0xffU) << 24) | ((v & 0xff00U) << 8) | ((v >> 8) & 0xff00U) | (v >> 24);
}
constexpr uint16_t host_to_be16(uint16_t v) { return bswap16(v); }
constexpr uint16_t be16_to_host(uint16_t v) { return bswap16(v); }
constexpr uint32_t host_to_be32(uint32_t v) { return bswap32(v); }
constexpr uint32_t be32_to_host(uint32_t v) { return bswap32(v); }

// Unaligned loads and stores of raw packet bytes (packets carry no alignment promise).
inline uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }
inline void store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, sizeof v); }

struct MacAddr {
  std::array<uint8_t, 6> bytes{};

  bool operator==(const MacAddr&) const = default;
  bool is_zero() const { return bytes == std::array<uint8_t, 6>{}; }
  static constexpr MacAddr broadcast() { return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  std::string to_string() const;
  static std::optional<MacAddr> parse(std::string_view text);
};

enum class IpProto : uint8_t { kIcmp = 1, kTcp = 6, kUdp = 17 };

// An IPv4 address in network byte order.
using Ipv4Be = uint32_t;
// A TCP/UDP port in network byte order.
using PortBe = uint16_t;

// Parses dotted-quad IPv4 text into network byte order; nullopt on anything else.
std::optional<Ipv4Be> parse_ipv4(std::string_view text);
std::string ipv4_to_string(Ipv4Be addr);

// The 5-tuple that names a flow, 16 bytes, padding zeroed so it can be hashed as bytes.
struct FiveTuple {
  Ipv4Be saddr = 0;
  Ipv4Be daddr = 0;
  PortBe sport = 0;
  PortBe dport = 0;
  uint8_t proto = 0;
  uint8_t pad[3] = {0, 0, 0};

  bool operator==(const FiveTuple& o) const {
    return saddr == o.saddr && daddr == o.daddr && sport == o.sport && dport == o.dport &&
           proto == o.proto;
  }
  // The same flow seen from the other side.
  FiveTuple reversed() const {
    FiveTuple r;
    r.saddr = daddr;
    r.daddr = saddr;
    r.sport = dport;
    r.dport = sport;
    r.proto = proto;
    return r;
  }
  std::string to_string() const;
};
static_assert(sizeof(FiveTuple) == 16);

}  // namespace fulcrum
