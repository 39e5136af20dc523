// SPDX-License-Identifier: Apache-2.0
// The reference scenario of DESIGN.md as service specs: VIP 192.0.2.26 with nova-api (TCP 8774)
// and Galera (TCP 3306) on three controllers c0..c2 (192.0.2.10-12), this node at 192.0.2.2.
// Shared by the replay demo, the tests and the benchmarks so they all exercise the same set-up.
// Thread-safety: pure.
#pragma once

#include <string>
#include <vector>

#include "snapshot_builder.h"

namespace fulcrum {

struct ReferenceScenario {
  NodeSpec node;
  std::vector<ServiceSpec> services;
};

ReferenceScenario reference_scenario(ForwardMode forward = ForwardMode::kFnat,
                                     Scheduler scheduler = Scheduler::kMaglev);

// "c0", "c1", "c2" for the controllers' addresses, else the dotted address.
std::string controller_name(Ipv4Be addr);

}  // namespace fulcrum
