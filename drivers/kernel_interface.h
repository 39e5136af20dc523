// SPDX-License-Identifier: Apache-2.0
// Configures the kernel side of the exception path: the tap interface gets the port's address,
// comes up, and routes through the port's gateway, so the node's own traffic (ssh, health
// checks, VRRP) uses the port the data plane owns. Uses plain ioctls on an AF_INET socket.
// Thread-safety: control plane, at start-up.
#pragma once

#include <optional>
#include <string>

#include "net_types.h"

namespace fulcrum {

// Assigns address/prefix_len, sets the interface up, disables IPv6 on it (the data plane does
// not carry IPv6 yet, so router solicitations would only be dropped) and adds a default route
// via `gateway` when given. False with `error` naming the interface and step on failure.
bool configure_kernel_interface(const std::string& ifname, Ipv4Be address, uint8_t prefix_len,
                                std::optional<Ipv4Be> gateway, std::string& error);

}  // namespace fulcrum
