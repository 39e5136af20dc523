// SPDX-License-Identifier: Apache-2.0
#include "snapshot.h"

#include <algorithm>
#include <bit>
#include <numeric>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace fulcrum {

const char* to_string(Scheduler s) {
  switch (s) {
    case Scheduler::kMaglev: return "maglev";
    case Scheduler::kWrr: return "wrr";
    case Scheduler::kSourceHash: return "sh";
  }
  return "?";
}

const char* to_string(ForwardMode m) { return m == ForwardMode::kFnat ? "fnat" : "dsr"; }

int ServiceEntry::find_backend(Ipv4Be addr, PortBe p) const {
  BackendEntry probe;
  probe.addr = addr;
  probe.port = p;
  const uint64_t id = probe.identity();
  const auto it = std::lower_bound(identity_sorted.begin(), identity_sorted.end(), id);
  if (it == identity_sorted.end() || *it != id) return -1;
  return identity_index[static_cast<size_t>(it - identity_sorted.begin())];
}

uint32_t Snapshot::slot_for(Ipv4Be vip, PortBe port, uint8_t proto) const {
  // Fibonacci hashing: one multiply, high bits mixed down; plenty for a few thousand services.
  const uint64_t key = (static_cast<uint64_t>(vip) << 24) | (static_cast<uint64_t>(port) << 8) |
                       proto;
  return static_cast<uint32_t>((key * 0x9e3779b97f4a7c15ULL) >> 32) & slot_mask_;
}

void Snapshot::seal() {
  for (ServiceEntry& svc : services) {
    std::vector<uint16_t> order(svc.backends.size());
    std::iota(order.begin(), order.end(), uint16_t{0});
    std::sort(order.begin(), order.end(), [&](uint16_t a, uint16_t b) {
      return svc.backends[a].identity() < svc.backends[b].identity();
    });
    svc.identity_sorted.clear();
    svc.identity_index.clear();
    for (const uint16_t i : order) {
      svc.identity_sorted.push_back(svc.backends[i].identity());
      svc.identity_index.push_back(i);
    }
  }
  // Load factor <= 1/2 keeps probes short.
  const uint32_t slots = std::bit_ceil(static_cast<uint32_t>(services.size() * 2 + 1));
  slot_mask_ = slots - 1;
  service_slots_.assign(slots, 0);
  for (uint32_t i = 0; i < services.size(); ++i) {
    const ServiceEntry& svc = services[i];
    uint32_t s = slot_for(svc.vip, svc.port, svc.proto);
    while (service_slots_[s] != 0) s = (s + 1) & slot_mask_;
    service_slots_[s] = i + 1;
  }
  checksum_ = compute_checksum();
}

uint64_t Snapshot::compute_checksum() const {
  // Covers every field a worker reads, so a reader that sees a torn or half-built snapshot
  // gets a mismatch.
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  auto add = [&st](const void* p, size_t n) { XXH3_64bits_update(&st, p, n); };
  add(&version, sizeof version);
  add(&local_addr, sizeof local_addr);
  add(local_mac.bytes.data(), 6);
  add(&fnat_port_lo, sizeof fnat_port_lo);
  add(&fnat_port_hi, sizeof fnat_port_hi);
  for (const Ipv4Be v : vips) add(&v, sizeof v);
  for (const ServiceEntry& svc : services) {
    add(svc.name.data(), svc.name.size());
    add(&svc.vip, sizeof svc.vip);
    add(&svc.port, sizeof svc.port);
    add(&svc.proto, 1);
    add(&svc.scheduler, 1);
    add(&svc.forward, 1);
    add(&svc.on_gone, 1);
    for (const BackendEntry& b : svc.backends) {
      add(&b.addr, sizeof b.addr);
      add(&b.port, sizeof b.port);
      add(&b.weight, sizeof b.weight);
      add(b.mac.bytes.data(), 6);
      const uint8_t flags = static_cast<uint8_t>((b.accepts_new ? 1 : 0) | (b.keeps_existing ? 2 : 0));
      add(&flags, 1);
      add(&b.stat_id, sizeof b.stat_id);
    }
    add(svc.maglev.slots().data(), svc.maglev.slots().size() * sizeof(uint16_t));
    add(svc.wrr.data(), svc.wrr.size() * sizeof(uint16_t));
    add(svc.identity_sorted.data(), svc.identity_sorted.size() * sizeof(uint64_t));
    add(svc.identity_index.data(), svc.identity_index.size() * sizeof(uint16_t));
  }
  add(service_slots_.data(), service_slots_.size() * sizeof(uint32_t));
  return XXH3_64bits_digest(&st);
}

}  // namespace fulcrum
