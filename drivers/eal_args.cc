// SPDX-License-Identifier: Apache-2.0
#include "eal_args.h"

#include <algorithm>

namespace fulcrum {

std::string port_device_name(const PortConfig& port) {
  if (port.is_pci()) return port.device;
  return port.device.substr(0, port.device.find(','));
}

std::string tap_device_name(const PortConfig& port) { return "net_tap_" + port.name; }

namespace {

bool has_option(const std::vector<std::string>& eal, std::initializer_list<const char*> names) {
  return std::any_of(eal.begin(), eal.end(), [&](const std::string& arg) {
    for (const char* n : names) {
      const std::string name(n);
      if (arg == name || arg.rfind(name + "=", 0) == 0) return true;
    }
    return false;
  });
}

}  // namespace

std::vector<std::string> build_eal_args(const Config& config, const std::string& program) {
  const std::vector<std::string>& extra = config.dataplane.eal;
  std::vector<std::string> args{program};
  // Main lcore runs the control plane; workers get the next ones.
  if (!has_option(extra, {"-l", "-c", "--lcores"})) {
    args.push_back("-l");
    args.push_back("0-" + std::to_string(config.dataplane.workers));
  }
  bool any_pci = false;
  for (const PortConfig& port : config.ports) {
    if (port.is_pci()) {
      any_pci = true;
      args.push_back("-a");
      args.push_back(port.device);
    } else {
      args.push_back("--vdev=" + port.device);
    }
    // The tap takes the port's MAC once the port is up (the kernel then speaks as the port).
    args.push_back("--vdev=" + tap_device_name(port) + ",iface=" + port.kernel_interface);
  }
  // Without a PCI port, scanning the bus only finds devices that are not ours.
  if (!any_pci && !has_option(extra, {"-a", "--allow", "-b", "--block", "--no-pci"})) {
    args.push_back("--no-pci");
  }
  // One fulcrumd per node; no files for secondary processes or DPDK's telemetry socket
  // unless the operator asks (fulcrumctl and /metrics are the interfaces).
  if (!has_option(extra, {"--file-prefix", "--no-shconf", "--proc-type"})) {
    args.push_back("--no-shconf");
  }
  if (!has_option(extra, {"--no-telemetry", "--telemetry"})) args.push_back("--no-telemetry");
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace fulcrum
