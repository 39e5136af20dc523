// SPDX-License-Identifier: Apache-2.0
#include "announce_policy.h"

#include <algorithm>

namespace fulcrum {

namespace {

// Why a service cannot take new flows, or "" when it can.
std::string service_problem(const ServiceStatus& svc) {
  const auto& b = svc.backends;
  if (std::any_of(b.begin(), b.end(), [](const BackendStatus& s) { return s.serving; })) return {};
  const bool waiting = std::any_of(b.begin(), b.end(), [](const BackendStatus& s) {
    return s.health == BackendHealth::kUnknown && s.admin == AdminState::kEnabled && s.weight > 0;
  });
  return "service " + svc.config.name +
         (waiting ? " is waiting for its first check results" : " has no serving backend");
}

}  // namespace

std::vector<AnnounceDecision> decide_announcements(const AnnounceConfig& config,
                                                   const std::vector<ServiceStatus>& services,
                                                   const AnnounceInputs& inputs) {
  std::vector<AnnounceDecision> out;
  for (const AnnounceVipConfig& v : config.vips) {
    AnnounceDecision d{.vip = v.address, .protocol = v.bird_protocol};
    std::vector<std::string> problems;
    size_t on_vip = 0;
    for (const ServiceStatus& svc : services) {
      if (svc.config.vip != v.address) continue;
      ++on_vip;
      if (std::string p = service_problem(svc); !p.empty()) problems.push_back(std::move(p));
    }
    if (inputs.stopping) {
      d.reason = "stopping";
    } else if (!inputs.dataplane_ready) {
      d.reason = "data plane not ready";
    } else if (!inputs.link_up) {
      d.reason = "port link down";
    } else if (on_vip == 0) {
      d.reason = "no service on this VIP";  // the config loader refuses this; kept for reloads
    } else if (!problems.empty()) {
      d.reason = problems.front();
      for (size_t i = 1; i < problems.size(); ++i) d.reason += "; " + problems[i];
    } else {
      d.announce = true;
      d.reason = on_vip == 1 ? "its service is serving"
                             : "all " + std::to_string(on_vip) + " services are serving";
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace fulcrum
