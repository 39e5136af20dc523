// SPDX-License-Identifier: Apache-2.0
#include "vrrp_packet.h"

#include <algorithm>

#include "checksum.h"

namespace fulcrum::vrrp {
namespace {

// Sum of the IPv4 pseudo-header RFC 5798 section 5.2.8 puts under the v3 checksum.
uint32_t pseudo_header_sum(uint32_t src_ip_be, uint32_t dst_ip_be, size_t vrrp_len) {
  uint8_t pseudo[12];
  store32(pseudo, src_ip_be);
  store32(pseudo + 4, dst_ip_be);
  pseudo[8] = 0;
  pseudo[9] = kIpProtoVrrp;
  store16(pseudo + 10, host_to_be16(static_cast<uint16_t>(vrrp_len)));
  return checksum_partial(pseudo, sizeof pseudo);
}

uint16_t message_checksum(const uint8_t* msg, size_t len, uint8_t version, uint32_t src_ip_be,
                          uint32_t dst_ip_be) {
  const uint32_t seed = version == 2 ? 0 : pseudo_header_sum(src_ip_be, dst_ip_be, len);
  return checksum_finish(checksum_partial(msg, len, seed));
}

}  // namespace

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::kTtl:
      return "ttl";
    case DropReason::kVersion:
      return "version";
    case DropReason::kType:
      return "type";
    case DropReason::kTruncated:
      return "truncated";
    case DropReason::kAddressCount:
      return "address_count";
    case DropReason::kChecksum:
      return "checksum";
    case DropReason::kAuth:
      return "auth";
  }
  return "unknown";
}

std::vector<uint8_t> encode_advert(const Advert& advert, uint32_t src_ip_be, uint32_t dst_ip_be) {
  const uint8_t version = advert.version == 2 ? 2 : 3;
  const size_t count = std::min<size_t>(advert.addresses.size(), 255);
  const size_t len = kHeaderBytes + 4 * count + (version == 2 ? kV2AuthBytes : 0);
  std::vector<uint8_t> out(len, 0);
  out[0] = static_cast<uint8_t>((version << 4) | kTypeAdvertisement);
  out[1] = advert.vrid;
  out[2] = advert.priority;
  out[3] = static_cast<uint8_t>(count);
  const int64_t ms = advert.interval.count();
  if (version == 3) {
    const int64_t cs = std::clamp<int64_t>(ms / 10, 1, 4095);
    store16(&out[4], host_to_be16(static_cast<uint16_t>(cs)));  // top 4 bits reserved (0)
  } else {
    out[4] = 0;  // auth type 0: no authentication
    out[5] = static_cast<uint8_t>(std::clamp<int64_t>(ms / 1000, 1, 255));
  }
  for (size_t i = 0; i < count; ++i) store32(&out[kHeaderBytes + 4 * i], advert.addresses[i]);
  store16(&out[6], message_checksum(out.data(), len, version, src_ip_be, dst_ip_be));
  return out;
}

DecodeResult decode_advert(const uint8_t* vrrp, size_t len, uint32_t src_ip_be, uint32_t dst_ip_be,
                           uint8_t ip_ttl, uint8_t expected_version) {
  DecodeResult result;
  auto drop = [&result](DropReason reason) {
    result.reason = reason;
    return result;
  };
  if (ip_ttl != kRequiredTtl) return drop(DropReason::kTtl);
  if (vrrp == nullptr || len < kHeaderBytes) return drop(DropReason::kTruncated);
  const uint8_t version = static_cast<uint8_t>(vrrp[0] >> 4);
  if (version != expected_version || (version != 2 && version != 3)) {
    return drop(DropReason::kVersion);
  }
  if ((vrrp[0] & 0x0f) != kTypeAdvertisement) return drop(DropReason::kType);
  const size_t trailer = version == 2 ? kV2AuthBytes : 0;
  if (len < kHeaderBytes + trailer) return drop(DropReason::kTruncated);
  const size_t count = vrrp[3];
  if (count == 0 || len != kHeaderBytes + 4 * count + trailer) {
    return drop(DropReason::kAddressCount);
  }
  // Summing a message that includes a right checksum gives 0xffff, which finishes to 0.
  if (message_checksum(vrrp, len, version, src_ip_be, dst_ip_be) != 0) {
    return drop(DropReason::kChecksum);
  }
  Advert advert;
  advert.version = version;
  advert.vrid = vrrp[1];
  advert.priority = vrrp[2];
  if (version == 3) {
    const uint16_t cs = be16_to_host(load16(vrrp + 4)) & 0x0fffU;
    advert.interval = std::chrono::milliseconds(int64_t{cs} * 10);
  } else {
    // Auth type 0 only; its data is sent as zero and, per RFC 3768 section 5.3.6.3, ignored.
    if (vrrp[4] != 0) return drop(DropReason::kAuth);
    advert.interval = std::chrono::seconds(vrrp[5]);
  }
  advert.addresses.reserve(count);
  for (size_t i = 0; i < count; ++i)
    advert.addresses.push_back(load32(vrrp + kHeaderBytes + 4 * i));
  result.advert = std::move(advert);
  return result;
}

}  // namespace fulcrum::vrrp
