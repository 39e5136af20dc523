// SPDX-License-Identifier: Apache-2.0
// ServiceState: what the control plane knows about every service's backends at run time —
// health, the operator's admin state (enabled, drain, disabled), weight overrides, and the
// writer of each standby pool — and the forwarding view derived from it (ServiceSpecs).
//
// Standby pools serve one backend at a time: the first usable one in config order; when it
// fails the next usable one takes over; with failback = false a recovered backend does not
// take the traffic back. The choice depends only on config order, health history and the
// persisted writer, so two LB nodes with the same view choose the same writer; while a backend
// earlier in order has no check result yet, no later one is chosen (no race at start).
// Pure: no sockets, no clock.
// Thread-safety: one control-plane thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "neighbor_table.h"
#include "snapshot_builder.h"

namespace fulcrum {

enum class BackendHealth : uint8_t {
  kUnchecked,  // the service has no check: treated as up
  kUnknown,    // checked, no result yet: no new flows
  kUp,
  kDown,
};
enum class AdminState : uint8_t { kEnabled, kDrain, kDisabled };

const char* to_string(BackendHealth h);
const char* to_string(AdminState a);

struct BackendStatus {
  BackendConfig config;  // address, port, configured weight, line
  uint16_t weight = 1;   // effective weight (fulcrumctl weight overrides the configured one)
  BackendHealth health = BackendHealth::kUnchecked;
  AdminState admin = AdminState::kEnabled;
  bool serving = false;  // takes new flows now
};

struct ServiceStatus {
  ServiceConfig config;
  std::vector<BackendStatus> backends;
  int writer = -1;  // standby pools: index of the serving backend, -1 when none
};

// A backend named by the operator: address, and the port when the address alone is ambiguous.
struct BackendRef {
  std::string service;
  Ipv4Be addr = 0;
  std::optional<uint16_t> port;
};

class ServiceState {
 public:
  // Applies a (re)loaded config. Backends that stay (same service name, address and port)
  // keep their health and admin state, and their weight override unless the configured weight
  // changed; standby writers stay where they are while still usable.
  void apply(const Config& config);

  // Records a health change. Returns true when the forwarding view changed.
  bool set_health(const std::string& service, Ipv4Be addr, uint16_t port, BackendHealth health);

  // Operator commands. On success return nullopt and fill `message`; else the error.
  std::optional<std::string> set_admin(const BackendRef& ref, AdminState admin,
                                       std::string& message);
  std::optional<std::string> set_weight(const BackendRef& ref, uint16_t weight,
                                        std::string& message);

  // Standby writers, for the state file: service name -> (address, port).
  std::map<std::string, std::pair<Ipv4Be, uint16_t>> writers() const;
  // At start: the writers a previous run persisted become current where they still exist.
  void restore_writers(const std::map<std::string, std::pair<Ipv4Be, uint16_t>>& writers);

  std::vector<ServiceSpec> specs(const PortConfig& port, const NeighborTable& neighbors) const;

  // True when a service can take no new flow and none of its backends is still waiting for a
  // first check result: every backend is down, drained, disabled or weighted 0. What VRRP
  // tracking reacts to. False for a service that does not exist.
  bool out_of_service(const std::string& service) const;
  const std::vector<ServiceStatus>& services() const { return services_; }

 private:
  BackendStatus* find(const std::string& service, Ipv4Be addr, uint16_t port);
  // Resolves an operator's reference to one backend or explains why not.
  std::optional<std::string> resolve(const BackendRef& ref, ServiceStatus*& svc,
                                     BackendStatus*& backend);
  void refresh(ServiceStatus& svc);

  std::vector<ServiceStatus> services_;
};

// The state file: {"version": 1, "writers": {"galera": "192.0.2.10:3306"}}. Parsing ignores
// what it does not understand (a damaged file means no writer is restored, never a crash).
std::string format_writers(const std::map<std::string, std::pair<Ipv4Be, uint16_t>>& writers);
std::map<std::string, std::pair<Ipv4Be, uint16_t>> parse_writers(const std::string& text);

}  // namespace fulcrum
