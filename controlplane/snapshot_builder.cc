// SPDX-License-Identifier: Apache-2.0
#include "snapshot_builder.h"

#include <set>
#include <stdexcept>
#include <tuple>

#include "wrr_sequence.h"

namespace fulcrum {

std::unique_ptr<Snapshot> build_snapshot(const NodeSpec& node,
                                         std::span<const ServiceSpec> services, uint64_t version) {
  if (node.fnat_port_lo == 0 || node.fnat_port_lo > node.fnat_port_hi) {
    throw std::invalid_argument("FNAT port range is empty");
  }
  auto snap = std::make_unique<Snapshot>();
  snap->version = version;
  snap->local_addr = node.local_addr;
  snap->local_mac = node.local_mac;
  snap->fnat_port_lo = node.fnat_port_lo;
  snap->fnat_port_hi = node.fnat_port_hi;
  snap->vips = node.vips;

  std::set<std::tuple<Ipv4Be, uint16_t, IpProto>> seen;
  snap->services.reserve(services.size());
  for (const ServiceSpec& spec : services) {
    if (!seen.emplace(spec.vip, spec.port, spec.proto).second) {
      throw std::invalid_argument("service " + spec.name + ": another service has the same " +
                                  "VIP, port and protocol");
    }
    ServiceEntry svc;
    svc.name = spec.name;
    svc.vip = spec.vip;
    svc.port = host_to_be16(spec.port);
    svc.proto = static_cast<uint8_t>(spec.proto);
    svc.scheduler = spec.scheduler;
    svc.forward = spec.forward;
    svc.on_gone = spec.on_gone;

    std::set<uint64_t> ids;
    std::vector<MaglevBackend> maglev;
    std::vector<uint32_t> weights;
    for (const BackendSpec& b : spec.backends) {
      BackendEntry e;
      e.addr = b.addr;
      e.port = host_to_be16(b.port);
      e.weight = b.weight;
      e.mac = b.mac;
      e.stat_id = b.stat_id;
      e.accepts_new = b.state == BackendState::kUp && b.weight > 0;
      e.keeps_existing = b.state != BackendState::kDisabled;
      if (!ids.insert(e.identity()).second) {
        throw std::invalid_argument("service " + spec.name + ": backend " + ipv4_to_string(b.addr) +
                                    ":" + std::to_string(b.port) + " listed twice");
      }
      // Backends that take no new flows stay in the table with weight 0, so indexes match.
      maglev.push_back(MaglevBackend{e.identity(), e.accepts_new ? e.weight : 0U});
      weights.push_back(e.accepts_new ? e.weight : 0U);
      svc.backends.push_back(e);
    }
    if (spec.scheduler == Scheduler::kWrr) {
      svc.wrr = build_wrr_sequence(weights);
    } else {
      svc.maglev = MaglevTable(maglev, node.maglev_size);
    }
    snap->services.push_back(std::move(svc));
  }
  snap->seal();
  return snap;
}

}  // namespace fulcrum
