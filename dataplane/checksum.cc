// SPDX-License-Identifier: Apache-2.0
#include "checksum.h"

#include <cstring>

namespace fulcrum {

uint32_t checksum_partial(const uint8_t* data, size_t len, uint32_t sum) {
  // Sum 16-bit words as they lie in memory; the one's-complement sum is byte-order neutral,
  // so the result is already in packet byte order.
  uint64_t acc = sum;
  while (len >= 2) {
    uint16_t word;
    std::memcpy(&word, data, 2);
    acc += word;
    data += 2;
    len -= 2;
  }
  if (len == 1) {
    uint16_t word = 0;
    std::memcpy(&word, data, 1);  // odd byte padded with zero on the right
    acc += word;
  }
  while (acc >> 32) acc = (acc & 0xffffffffU) + (acc >> 32);
  acc = (acc & 0xffffU) + (acc >> 16);
  acc = (acc & 0xffffU) + (acc >> 16);
  return static_cast<uint32_t>(acc);
}

uint16_t ipv4_header_checksum(const uint8_t* ip, size_t ihl_bytes) {
  uint32_t sum = checksum_partial(ip, 10);
  sum = checksum_partial(ip + 12, ihl_bytes - 12, sum);
  return checksum_finish(sum);
}

bool ipv4_header_checksum_ok(const uint8_t* ip, size_t ihl_bytes) {
  // Summing the header including its checksum gives 0xffff when it is right. The common
  // 20-byte header is five 32-bit words: add them in 64 bits and fold once.
  if (ihl_bytes == 20) {
    uint32_t w[5];
    std::memcpy(w, ip, sizeof w);
    uint64_t sum = uint64_t{w[0]} + w[1] + w[2] + w[3] + w[4];
    sum = (sum & 0xffffffffU) + (sum >> 32);
    sum = (sum & 0xffffU) + (sum >> 16);
    sum = (sum & 0xffffU) + (sum >> 16);
    sum = (sum & 0xffffU) + (sum >> 16);
    return sum == 0xffff;
  }
  return checksum_finish(checksum_partial(ip, ihl_bytes)) == 0;
}

uint16_t l4_checksum_ipv4(uint32_t saddr_be, uint32_t daddr_be, uint8_t proto, const uint8_t* l4,
                          size_t l4_len) {
  uint8_t pseudo[12];
  std::memcpy(pseudo, &saddr_be, 4);
  std::memcpy(pseudo + 4, &daddr_be, 4);
  pseudo[8] = 0;
  pseudo[9] = proto;
  pseudo[10] = static_cast<uint8_t>(l4_len >> 8);
  pseudo[11] = static_cast<uint8_t>(l4_len & 0xff);
  const uint32_t sum = checksum_partial(pseudo, sizeof pseudo);
  return checksum_finish(checksum_partial(l4, l4_len, sum));
}

}  // namespace fulcrum
