// SPDX-License-Identifier: Apache-2.0
#include "service_specs.h"

#include <algorithm>
#include <set>

namespace fulcrum {

std::optional<Ipv4Be> next_hop(const PortConfig& port, Ipv4Be dest) {
  if (port.in_subnet(dest)) return dest;
  return port.gateway;
}

std::vector<Ipv4Be> next_hops_needed(const Config& config, const PortConfig& port) {
  std::set<Ipv4Be> hops;
  for (const ServiceConfig& svc : config.services) {
    for (const BackendConfig& b : svc.backends) {
      if (const auto hop = next_hop(port, b.address)) hops.insert(*hop);
    }
  }
  // Unicast VRRP adverts go to each peer's MAC (or its gateway's).
  for (const VrrpConfig& v : config.vrrp) {
    if (v.port != port.name) continue;
    for (const Ipv4Be peer : v.unicast_peers) {
      if (const auto hop = next_hop(port, peer)) hops.insert(*hop);
    }
  }
  return {hops.begin(), hops.end()};
}

std::vector<Ipv4Be> service_vips(const Config& config) {
  std::vector<Ipv4Be> vips;
  for (const ServiceConfig& svc : config.services) {
    if (std::find(vips.begin(), vips.end(), svc.vip) == vips.end()) vips.push_back(svc.vip);
  }
  return vips;
}

NodeSpec node_spec(const Config& config, const PortConfig& port, const MacAddr& port_mac) {
  NodeSpec node;
  node.local_addr = port.address;
  node.local_mac = port_mac;
  node.fnat_port_lo = config.dataplane.fnat_port_lo;
  node.fnat_port_hi = config.dataplane.fnat_port_hi;
  node.vips = service_vips(config);
  return node;
}

}  // namespace fulcrum
