// SPDX-License-Identifier: Apache-2.0
// Announcement policy: whether this node should announce each [[announce.vip]] over BGP now.
// A VIP is announced only while the node can serve it: the data plane runs with its first
// tables, the port's link is up, the node is not stopping, and every service on that VIP has
// a backend that takes new flows. A VIP with one dead service is withdrawn as a whole (the
// router cannot send 8774 here and 3306 elsewhere), so the other nodes serve both.
// Pure: a function of its inputs. Thread-safety: none needed.
#pragma once

#include <string>
#include <vector>

#include "config.h"
#include "service_state.h"

namespace fulcrum {

struct AnnounceInputs {
  bool dataplane_ready = false;  // workers launched and the first tables published
  bool link_up = false;
  bool stopping = false;         // a clean stop: withdraw before forwarding ends
};

struct AnnounceDecision {
  Ipv4Be vip = 0;
  std::string protocol;  // BIRD's static protocol for it
  bool announce = false;
  std::string reason;    // for the log and fulcrumctl: why announce or withdraw
};

// One decision per [[announce.vip]], in config order.
std::vector<AnnounceDecision> decide_announcements(const AnnounceConfig& config,
                                                   const std::vector<ServiceStatus>& services,
                                                   const AnnounceInputs& inputs);

}  // namespace fulcrum
