// SPDX-License-Identifier: Apache-2.0
// The EAL command line fulcrumd starts DPDK with, derived from the config: one lcore for the
// control plane plus one per worker, each [[port]]'s device (a --vdev spec or an allowed PCI
// address), and a net_tap per port for the exception path to the kernel. The operator's own
// `eal` list comes last and wins where it repeats an option. Pure, so it is unit-tested.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "config.h"

namespace fulcrum {

// The ethdev name DPDK gives a port: a vdev spec's name before its first comma
// ("net_af_xdp0,iface=lb0-0" -> "net_af_xdp0"), or the PCI address itself.
std::string port_device_name(const PortConfig& port);

// The vdev name of a port's exception-path tap ("net_tap_" + port name).
std::string tap_device_name(const PortConfig& port);

std::vector<std::string> build_eal_args(const Config& config, const std::string& program);

}  // namespace fulcrum
