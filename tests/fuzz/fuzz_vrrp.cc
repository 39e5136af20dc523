// SPDX-License-Identifier: Apache-2.0
// Fuzz target: VRRP on the wire — a received Ethernet frame through parse_frame() and
// decode_advert() (as v3 and as v2) and, when it decodes, into a running VrrpInstance; an
// advert that decodes must encode back to the same payload.
#include <chrono>
#include <cstdint>
#include <vector>

#include "vrrp_frame.h"
#include "vrrp_instance.h"
#include "vrrp_packet.h"

using namespace fulcrum;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> frame(data, data + size);  // exactly sized
  (void)vrrp::is_vrrp_frame(frame.data(), frame.size());
  const auto f = vrrp::parse_frame(frame.data(), frame.size());
  if (!f) return 0;
  if (f->payload < frame.data() || f->payload + f->payload_len > frame.data() + frame.size()) {
    __builtin_trap();
  }
  static const auto t0 = VrrpInstance::Clock::now();
  for (const uint8_t version : {uint8_t{3}, uint8_t{2}}) {
    const vrrp::DecodeResult d =
        vrrp::decode_advert(f->payload, f->payload_len, f->src, f->dst, f->ttl, version);
    if (!d.ok()) continue;
    // Round trip: decode refuses a length that does not match the address count, so the
    // advert encodes back to exactly as many bytes.
    const auto again = vrrp::encode_advert(*d.advert, f->src, f->dst);
    if (again.size() != f->payload_len) __builtin_trap();
    VrrpInstanceConfig c;
    c.vrid = d.advert->vrid;
    c.version = version;
    c.advert_interval = version == 3 ? std::chrono::milliseconds(100) : std::chrono::seconds(1);
    c.self_address = host_to_be32(0xc0000202U);
    VrrpInstance inst(c);
    auto now = t0;
    (void)inst.start(now);
    (void)inst.receive(*d.advert, f->src, now);
    now += std::chrono::seconds(5);
    (void)inst.timer(now);
    (void)inst.receive(*d.advert, f->src, now);
  }
  return 0;
}
