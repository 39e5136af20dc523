// SPDX-License-Identifier: Apache-2.0
// From the configuration to what the snapshot builder takes about the node: each backend's
// next hop on the port (itself when on the port's subnet, else the gateway), the VIPs this
// node answers for, the node's own address and MAC. (The services come from ServiceState.)
// Thread-safety: pure functions; control-plane thread.
#pragma once

#include <optional>
#include <vector>

#include "config.h"
#include "snapshot_builder.h"

namespace fulcrum {

// The address whose MAC a frame toward `dest` on `port` needs: `dest` itself when on-link,
// else the port's gateway; nullopt when off-link with no gateway.
std::optional<Ipv4Be> next_hop(const PortConfig& port, Ipv4Be dest);

// Every next hop the services' backends and the port's unicast VRRP peers need (deduplicated,
// sorted).
std::vector<Ipv4Be> next_hops_needed(const Config& config, const PortConfig& port);

// Every VIP of the config's services, deduplicated, in order of appearance.
std::vector<Ipv4Be> service_vips(const Config& config);

NodeSpec node_spec(const Config& config, const PortConfig& port, const MacAddr& port_mac);

}  // namespace fulcrum
