// SPDX-License-Identifier: Apache-2.0
// VRRP advertisements on the wire: encoding and validating decoding of version 3 (RFC 5798,
// IPv4 only) and version 2 (RFC 3768, authentication type 0 only) messages. Only the VRRP
// payload is handled here; the caller builds and strips the IPv4 header (protocol 112, TTL 255,
// destination 224.0.0.18 or a unicast peer) and passes in its addresses and TTL, which the v3
// checksum covers through the pseudo-header. Pure: no sockets, no clock.
// Thread-safety: pure functions over caller-owned buffers; Advert is a plain value.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "net_types.h"

namespace fulcrum::vrrp {

inline constexpr uint8_t kIpProtoVrrp = 112;
inline constexpr uint8_t kRequiredTtl = 255;
inline constexpr uint8_t kTypeAdvertisement = 1;
inline constexpr size_t kHeaderBytes = 8;  // fixed part of v2 and v3 messages
inline constexpr size_t kV2AuthBytes = 8;  // v2 trailer: authentication data (zero, type 0)
inline constexpr Ipv4Be kMulticastGroup = host_to_be32(0xe0000012U);  // 224.0.0.18
// Largest interval each version can carry: 12 bits of centiseconds (v3), 8 bits of seconds (v2).
inline constexpr std::chrono::milliseconds kMaxIntervalV3{4095 * 10};
inline constexpr std::chrono::milliseconds kMaxIntervalV2{255 * 1000};

// One advertisement, decoded or to encode.
struct Advert {
  uint8_t version = 3;  // 3 (RFC 5798) or 2 (RFC 3768)
  uint8_t vrid = 0;
  uint8_t priority = 0;  // 0: the master is leaving; 255: the address owner
  // Encoded as centiseconds (v3, rounded down, at least 1) or whole seconds (v2, rounded down, at
  // least 1), capped at kMaxIntervalV3 / kMaxIntervalV2.
  std::chrono::milliseconds interval{1000};
  std::vector<Ipv4Be> addresses;  // the virtual addresses, network byte order

  bool operator==(const Advert&) const = default;
};

// Why a received message was dropped (RFC 5798 section 7.1, RFC 3768 section 7.1).
enum class DropReason : uint8_t {
  kTtl,           // IP TTL is not 255
  kVersion,       // not the version this instance speaks
  kType,          // not an advertisement (type 1)
  kTruncated,     // shorter than the fixed header (and, for v2, the auth trailer)
  kAddressCount,  // count is 0 or the length does not match count addresses
  kChecksum,      // checksum wrong (v3: with the IPv4 pseudo-header)
  kAuth,          // v2 authentication type other than 0 (auth data itself is ignored)
};

std::string_view to_string(DropReason reason);

// Either an advert or the reason it was dropped.
struct DecodeResult {
  std::optional<Advert> advert;
  DropReason reason = DropReason::kTruncated;  // meaningful only when !advert

  bool ok() const { return advert.has_value(); }
};

// The VRRP payload of `advert` (header, addresses, and for v2 the zero auth trailer) with its
// checksum filled in. src/dst are the IPv4 addresses of the packet that will carry it, network
// order (used by the v3 pseudo-header; ignored by v2). An advert with a version other than 2 is
// encoded as v3. At most 255 addresses are encoded; extra ones are left out.
std::vector<uint8_t> encode_advert(const Advert& advert, uint32_t src_ip_be, uint32_t dst_ip_be);

// Validates and decodes `len` bytes of VRRP payload received from src_ip_be to dst_ip_be with
// IP TTL ip_ttl. Checks, in order: TTL, minimum length, version, type, address count against the
// length, checksum, and (v2) authentication. Never reads outside [vrrp, vrrp + len).
DecodeResult decode_advert(const uint8_t* vrrp, size_t len, uint32_t src_ip_be, uint32_t dst_ip_be,
                           uint8_t ip_ttl, uint8_t expected_version);

}  // namespace fulcrum::vrrp
