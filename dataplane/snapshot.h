// SPDX-License-Identifier: Apache-2.0
// Snapshot: the immutable forwarding state a worker reads — services, backends, their Maglev
// and WRR tables, the VIPs this node owns, this node's own address and MAC.
//
// The control plane builds a Snapshot (controlplane/snapshot_builder.h), seals it with a
// checksum and publishes it through SnapshotPublisher. Once published nothing in it changes,
// so workers read it without locks; a change is a new Snapshot with a higher version.
//
// Thread-safety: immutable after seal(); any thread may read a published snapshot inside an
// RCU read-side section (for QSBR: between quiescent states).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "maglev_table.h"
#include "net_types.h"

namespace fulcrum {

enum class Scheduler : uint8_t { kMaglev, kWrr, kSourceHash };
enum class ForwardMode : uint8_t { kFnat, kDsr };
// What happens to a flow whose backend has left (removed, disabled): pick another backend for
// it, or answer its next packet with a TCP reset.
enum class GonePolicy : uint8_t { kRechoose, kReset };

const char* to_string(Scheduler s);
const char* to_string(ForwardMode m);

struct BackendEntry {
  Ipv4Be addr = 0;
  PortBe port = 0;
  uint16_t weight = 1;
  MacAddr mac;                 // next hop toward the backend (itself, or the gateway)
  bool accepts_new = true;     // in the scheduler's tables: healthy, enabled, weight > 0
  bool keeps_existing = true;  // established flows continue (drained, or down with on_down=keep)
  uint16_t stat_id = 0;        // index of the backend's counters in every worker (stable)

  // Stable name across snapshots: what Maglev hashes and flow entries remember.
  uint64_t identity() const { return (static_cast<uint64_t>(addr) << 16) | port; }
};

struct ServiceEntry {
  std::string name;
  Ipv4Be vip = 0;
  PortBe port = 0;
  uint8_t proto = static_cast<uint8_t>(IpProto::kTcp);
  Scheduler scheduler = Scheduler::kMaglev;
  ForwardMode forward = ForwardMode::kFnat;
  GonePolicy on_gone = GonePolicy::kRechoose;
  std::vector<BackendEntry> backends;
  MaglevTable maglev;              // kMaglev (5-tuple hash) and kSourceHash (source hash)
  std::vector<uint16_t> wrr;       // kWrr: one cycle of backend indexes
  std::vector<uint64_t> identity_sorted;  // identities, sorted, with...
  std::vector<uint16_t> identity_index;   // ...the backend index of each

  // Backend index with this address and port, or -1.
  int find_backend(Ipv4Be addr, PortBe port) const;
};

class Snapshot {
 public:
  uint64_t version = 0;
  Ipv4Be local_addr = 0;  // this node's own address on the port (FNAT source address)
  MacAddr local_mac;      // the port's MAC
  uint16_t fnat_port_lo = 1024;   // FNAT source ports, host order, split between workers
  uint16_t fnat_port_hi = 32767;  // inclusive; keep clear of the kernel's ephemeral range
  std::vector<ServiceEntry> services;
  std::vector<Ipv4Be> vips;  // VIPs this node owns now (answers ARP/ICMP, forwards)

  // Builds the lookup indexes and computes the checksum; call once, after filling the fields.
  void seal();

  // Index of the service for (vip, port, proto), or -1. Hot path: one small hashed probe.
  int find_service(Ipv4Be vip, PortBe port, uint8_t proto) const {
    if (service_slots_.empty()) return -1;
    uint32_t i = slot_for(vip, port, proto);
    for (;;) {
      const uint32_t s = service_slots_[i];
      if (s == 0) return -1;
      const ServiceEntry& svc = services[s - 1];
      if (svc.vip == vip && svc.port == port && svc.proto == proto) return static_cast<int>(s - 1);
      i = (i + 1) & slot_mask_;
    }
  }
  bool owns_vip(Ipv4Be addr) const {
    for (const Ipv4Be v : vips) {
      if (v == addr) return true;
    }
    return false;
  }

  uint64_t checksum() const { return checksum_; }
  // Recomputes the checksum from the contents; readers in tests compare it with checksum().
  uint64_t compute_checksum() const;
  bool verify() const { return compute_checksum() == checksum_; }

 private:
  uint32_t slot_for(Ipv4Be vip, PortBe port, uint8_t proto) const;

  std::vector<uint32_t> service_slots_;  // open addressing: service index + 1, 0 = empty
  uint32_t slot_mask_ = 0;
  uint64_t checksum_ = 0;
};

}  // namespace fulcrum
