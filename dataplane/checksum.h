// SPDX-License-Identifier: Apache-2.0
// Internet checksums: full computation (RFC 1071) and incremental update (RFC 1624, eqn. 3),
// so a rewrite touches only the words it changes instead of re-reading the payload.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fulcrum {

// One's-complement sum of `len` bytes, added to `sum` (not folded, not inverted).
uint32_t checksum_partial(const uint8_t* data, size_t len, uint32_t sum = 0);

// Folds a 32-bit partial sum to 16 bits and inverts it: the value that goes into a header.
inline uint16_t checksum_finish(uint32_t sum) {
  sum = (sum & 0xffffU) + (sum >> 16);
  sum = (sum & 0xffffU) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffffU);
}

// IPv4 header checksum over `ihl_bytes` bytes, with the checksum field taken as zero.
// Returned in the byte order the header stores it.
uint16_t ipv4_header_checksum(const uint8_t* ip, size_t ihl_bytes);

// True when the header's stored checksum is right.
bool ipv4_header_checksum_ok(const uint8_t* ip, size_t ihl_bytes);

// TCP/UDP checksum over the pseudo-header and `l4_len` bytes of segment, with the checksum
// field taken as zero (caller zeroes it or accepts its inclusion). Stored byte order.
uint16_t l4_checksum_ipv4(uint32_t saddr_be, uint32_t daddr_be, uint8_t proto, const uint8_t* l4,
                          size_t l4_len);

// RFC 1624: new checksum after a 16-bit field changes from `old_be` to `new_be`. All values in
// the byte order they are stored in the packet (the sum is byte-order independent).
inline uint16_t checksum_update16(uint16_t check, uint16_t old_v, uint16_t new_v) {
  uint32_t sum = static_cast<uint16_t>(~check);
  sum += static_cast<uint16_t>(~old_v);
  sum += new_v;
  sum = (sum & 0xffffU) + (sum >> 16);
  sum = (sum & 0xffffU) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffffU);
}

// RFC 1624 for a 32-bit field (an IPv4 address).
inline uint16_t checksum_update32(uint16_t check, uint32_t old_v, uint32_t new_v) {
  uint32_t sum = static_cast<uint16_t>(~check);
  sum += static_cast<uint16_t>(~old_v & 0xffffU);
  sum += static_cast<uint16_t>(~(old_v >> 16) & 0xffffU);
  sum += new_v & 0xffffU;
  sum += new_v >> 16;
  sum = (sum & 0xffffU) + (sum >> 16);
  sum = (sum & 0xffffU) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffffU);
}

}  // namespace fulcrum
