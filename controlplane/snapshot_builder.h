// SPDX-License-Identifier: Apache-2.0
// Builds forwarding Snapshots from service definitions: resolves each backend's state into
// "takes new flows" / "keeps existing flows", fills the Maglev and WRR tables, and seals the
// result. Pure: no sockets, no EAL, so tests and tools build snapshots the way fulcrumd does.
// Thread-safety: pure function; call from the control-plane thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "snapshot.h"

namespace fulcrum {

// A backend's state as the control plane knows it.
enum class BackendState : uint8_t {
  kUp,        // healthy and enabled: new and existing flows
  kDraining,  // operator drain: existing flows only
  kDown,      // failed its health check: existing flows continue (on_down = "keep")
  kDisabled,  // operator disable or removed: no traffic at all
};

struct BackendSpec {
  Ipv4Be addr = 0;
  uint16_t port = 0;  // host order
  uint16_t weight = 1;
  MacAddr mac;        // next-hop MAC; zero while unresolved
  BackendState state = BackendState::kUp;
  uint16_t stat_id = 0;  // counters slot, stable for the backend's lifetime (< kMaxBackendStats)
};

struct ServiceSpec {
  std::string name;
  Ipv4Be vip = 0;
  uint16_t port = 0;  // host order
  IpProto proto = IpProto::kTcp;
  Scheduler scheduler = Scheduler::kMaglev;
  ForwardMode forward = ForwardMode::kFnat;
  GonePolicy on_gone = GonePolicy::kRechoose;
  std::vector<BackendSpec> backends;
};

struct NodeSpec {
  Ipv4Be local_addr = 0;
  MacAddr local_mac;
  uint16_t fnat_port_lo = 1024;
  uint16_t fnat_port_hi = 32767;
  std::vector<Ipv4Be> vips;  // VIPs owned now
  uint32_t maglev_size = MaglevTable::kDefaultSize;
};

// Throws std::invalid_argument on a duplicate (vip, port, proto), a duplicate backend within a
// service, a bad port range or a Maglev size that is not a prime.
std::unique_ptr<Snapshot> build_snapshot(const NodeSpec& node,
                                         std::span<const ServiceSpec> services, uint64_t version);

}  // namespace fulcrum
