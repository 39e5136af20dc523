// SPDX-License-Identifier: Apache-2.0
#include "service_state.h"

#include <nlohmann/json.hpp>

#include "service_specs.h"

namespace fulcrum {

const char* to_string(BackendHealth h) {
  switch (h) {
    case BackendHealth::kUnchecked: return "unchecked";
    case BackendHealth::kUnknown: return "unknown";
    case BackendHealth::kUp: return "up";
    case BackendHealth::kDown: return "down";
  }
  return "?";
}

const char* to_string(AdminState a) {
  switch (a) {
    case AdminState::kEnabled: return "enabled";
    case AdminState::kDrain: return "drain";
    case AdminState::kDisabled: return "disabled";
  }
  return "?";
}

namespace {

std::string name_of(const BackendStatus& b) {
  return ipv4_to_string(b.config.address) + ":" + std::to_string(b.config.port);
}

bool healthy(const BackendStatus& b) {
  return b.health == BackendHealth::kUp || b.health == BackendHealth::kUnchecked;
}

bool usable(const BackendStatus& b) {
  return healthy(b) && b.admin == AdminState::kEnabled && b.weight > 0;
}

// What the data plane is told about a backend.
BackendState forwarding_state(const BackendStatus& b) {
  if (b.admin == AdminState::kDisabled) return BackendState::kDisabled;
  if (!healthy(b)) return BackendState::kDown;  // existing flows continue (on_down = "keep")
  if (!b.serving) return BackendState::kDraining;  // drained, weight 0, a standby non-writer
  return BackendState::kUp;
}

std::vector<BackendState> forwarding_states(const ServiceStatus& svc) {
  std::vector<BackendState> out;
  for (const BackendStatus& b : svc.backends) out.push_back(forwarding_state(b));
  return out;
}

}  // namespace

void ServiceState::apply(const Config& config) {
  std::vector<ServiceStatus> next;
  for (const ServiceConfig& sc : config.services) {
    ServiceStatus svc;
    svc.config = sc;
    const ServiceStatus* old = nullptr;
    for (const ServiceStatus& o : services_) {
      if (o.config.name == sc.name) old = &o;
    }
    for (const BackendConfig& bc : sc.backends) {
      BackendStatus b;
      b.config = bc;
      b.weight = bc.weight;
      b.health = sc.check ? BackendHealth::kUnknown : BackendHealth::kUnchecked;
      if (old != nullptr) {
        for (size_t i = 0; i < old->backends.size(); ++i) {
          const BackendStatus& ob = old->backends[i];
          if (ob.config.address != bc.address || ob.config.port != bc.port) continue;
          b.admin = ob.admin;
          if (ob.config.weight == bc.weight) b.weight = ob.weight;
          // Health carries over while the service is still checked the same way.
          const bool was_checked = old->config.check.has_value();
          if (was_checked == sc.check.has_value()) b.health = ob.health;
          if (old->writer == static_cast<int>(i)) svc.writer = static_cast<int>(svc.backends.size());
        }
      }
      svc.backends.push_back(b);
    }
    refresh(svc);
    next.push_back(std::move(svc));
  }
  services_ = std::move(next);
}

void ServiceState::refresh(ServiceStatus& svc) {
  if (svc.config.pool == PoolMode::kStandby) {
    const int current = svc.writer;
    int chosen = -1;
    const BackendStatus* cur =
        current >= 0 ? &svc.backends[static_cast<size_t>(current)] : nullptr;
    if (cur != nullptr && cur->health == BackendHealth::kUnknown &&
        cur->admin == AdminState::kEnabled) {
      chosen = current;  // a restored writer awaiting its first check result keeps its place
    } else if (cur != nullptr && usable(*cur) && !svc.config.failback) {
      chosen = current;  // no fail-back: the writer stays while it is usable
    } else {
      for (size_t i = 0; i < svc.backends.size(); ++i) {
        const BackendStatus& b = svc.backends[i];
        if (static_cast<int>(i) == current && usable(b)) {
          chosen = current;  // fail-back: nothing earlier was usable, keep it
          break;
        }
        // An earlier backend with no check result yet might be the rightful writer: wait.
        if (b.health == BackendHealth::kUnknown && b.admin == AdminState::kEnabled) break;
        if (usable(b)) {
          chosen = static_cast<int>(i);
          break;
        }
      }
      // Still waiting on an unknown backend, but the current writer is usable: keep it.
      if (chosen < 0 && current >= 0 && usable(svc.backends[static_cast<size_t>(current)])) {
        chosen = current;
      }
    }
    svc.writer = chosen;
  }
  for (size_t i = 0; i < svc.backends.size(); ++i) {
    BackendStatus& b = svc.backends[i];
    b.serving = usable(b) &&
                (svc.config.pool == PoolMode::kActive || svc.writer == static_cast<int>(i));
  }
}

BackendStatus* ServiceState::find(const std::string& service, Ipv4Be addr, uint16_t port) {
  for (ServiceStatus& svc : services_) {
    if (svc.config.name != service) continue;
    for (BackendStatus& b : svc.backends) {
      if (b.config.address == addr && b.config.port == port) return &b;
    }
  }
  return nullptr;
}

bool ServiceState::set_health(const std::string& service, Ipv4Be addr, uint16_t port,
                              BackendHealth health) {
  for (ServiceStatus& svc : services_) {
    if (svc.config.name != service) continue;
    for (BackendStatus& b : svc.backends) {
      if (b.config.address != addr || b.config.port != port) continue;
      const std::vector<BackendState> before = forwarding_states(svc);
      b.health = health;
      refresh(svc);
      return forwarding_states(svc) != before;
    }
  }
  return false;
}

std::optional<std::string> ServiceState::resolve(const BackendRef& ref, ServiceStatus*& svc,
                                                 BackendStatus*& backend) {
  svc = nullptr;
  backend = nullptr;
  for (ServiceStatus& s : services_) {
    if (s.config.name == ref.service) svc = &s;
  }
  if (svc == nullptr) return "no service named '" + ref.service + "'";
  std::vector<BackendStatus*> matches;
  for (BackendStatus& b : svc->backends) {
    if (b.config.address == ref.addr && (!ref.port || b.config.port == *ref.port)) {
      matches.push_back(&b);
    }
  }
  const std::string what =
      ipv4_to_string(ref.addr) + (ref.port ? ":" + std::to_string(*ref.port) : "");
  if (matches.empty()) return "service '" + ref.service + "' has no backend " + what;
  if (matches.size() > 1) {
    return "service '" + ref.service + "' has " + std::to_string(matches.size()) +
           " backends at " + what + ": give the port (ADDRESS:PORT)";
  }
  backend = matches.front();
  return std::nullopt;
}

std::optional<std::string> ServiceState::set_admin(const BackendRef& ref, AdminState admin,
                                                   std::string& message) {
  ServiceStatus* svc;
  BackendStatus* b;
  if (auto err = resolve(ref, svc, b)) return err;
  const AdminState before = b->admin;
  b->admin = admin;
  refresh(*svc);
  message = "service " + svc->config.name + " backend " + name_of(*b) + ": " +
            (before == admin ? "already " : "") + to_string(admin);
  return std::nullopt;
}

std::optional<std::string> ServiceState::set_weight(const BackendRef& ref, uint16_t weight,
                                                    std::string& message) {
  ServiceStatus* svc;
  BackendStatus* b;
  if (auto err = resolve(ref, svc, b)) return err;
  b->weight = weight;
  refresh(*svc);
  message = "service " + svc->config.name + " backend " + name_of(*b) + ": weight " +
            std::to_string(weight);
  return std::nullopt;
}

std::map<std::string, std::pair<Ipv4Be, uint16_t>> ServiceState::writers() const {
  std::map<std::string, std::pair<Ipv4Be, uint16_t>> out;
  for (const ServiceStatus& svc : services_) {
    if (svc.config.pool != PoolMode::kStandby || svc.writer < 0) continue;
    const BackendStatus& b = svc.backends[static_cast<size_t>(svc.writer)];
    out[svc.config.name] = {b.config.address, b.config.port};
  }
  return out;
}

void ServiceState::restore_writers(
    const std::map<std::string, std::pair<Ipv4Be, uint16_t>>& writers) {
  for (ServiceStatus& svc : services_) {
    const auto it = writers.find(svc.config.name);
    if (svc.config.pool != PoolMode::kStandby || it == writers.end()) continue;
    for (size_t i = 0; i < svc.backends.size(); ++i) {
      const BackendStatus& b = svc.backends[i];
      if (b.config.address == it->second.first && b.config.port == it->second.second) {
        svc.writer = static_cast<int>(i);
      }
    }
    refresh(svc);
  }
}

bool ServiceState::out_of_service(const std::string& service) const {
  for (const ServiceStatus& svc : services_) {
    if (svc.config.name != service) continue;
    for (const BackendStatus& b : svc.backends) {
      if (usable(b)) return false;
      if (b.health == BackendHealth::kUnknown && b.admin == AdminState::kEnabled && b.weight > 0) {
        return false;  // no verdict yet: at start, do not give the VIPs away before checking
      }
    }
    return true;
  }
  return false;
}

std::vector<ServiceSpec> ServiceState::specs(const PortConfig& port,
                                             const NeighborTable& neighbors) const {
  std::vector<ServiceSpec> out;
  for (const ServiceStatus& svc : services_) {
    ServiceSpec spec;
    spec.name = svc.config.name;
    spec.vip = svc.config.vip;
    spec.port = svc.config.port;
    spec.proto = svc.config.protocol;
    spec.scheduler = svc.config.scheduler;
    spec.forward = svc.config.forward;
    spec.on_gone = svc.config.on_gone;
    for (const BackendStatus& b : svc.backends) {
      BackendSpec bs;
      bs.addr = b.config.address;
      bs.port = b.config.port;
      bs.weight = b.weight;
      bs.state = forwarding_state(b);
      if (const auto hop = next_hop(port, b.config.address)) {
        bs.mac = neighbors.lookup(*hop).value_or(MacAddr{});
      }
      spec.backends.push_back(bs);
    }
    out.push_back(std::move(spec));
  }
  return out;
}

std::string format_writers(const std::map<std::string, std::pair<Ipv4Be, uint16_t>>& writers) {
  nlohmann::json j;
  j["version"] = 1;
  j["writers"] = nlohmann::json::object();
  for (const auto& [service, backend] : writers) {
    j["writers"][service] = ipv4_to_string(backend.first) + ":" + std::to_string(backend.second);
  }
  return j.dump(2) + "\n";
}

std::map<std::string, std::pair<Ipv4Be, uint16_t>> parse_writers(const std::string& text) {
  std::map<std::string, std::pair<Ipv4Be, uint16_t>> out;
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("writers") || !j["writers"].is_object()) return out;
  for (const auto& [service, value] : j["writers"].items()) {
    if (!value.is_string()) continue;
    const std::string s = value.get<std::string>();
    const auto colon = s.rfind(':');
    if (colon == std::string::npos) continue;
    const auto addr = parse_ipv4(s.substr(0, colon));
    unsigned long port = 0;
    try {
      port = std::stoul(s.substr(colon + 1));
    } catch (const std::exception&) {
      continue;
    }
    if (!addr || port == 0 || port > 65535) continue;
    out[service] = {*addr, static_cast<uint16_t>(port)};
  }
  return out;
}

}  // namespace fulcrum
