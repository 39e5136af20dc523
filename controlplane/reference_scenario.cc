// SPDX-License-Identifier: Apache-2.0
#include "reference_scenario.h"

namespace fulcrum {

namespace {

constexpr const char* kControllers[] = {"192.0.2.10", "192.0.2.11", "192.0.2.12"};

}  // namespace

ReferenceScenario reference_scenario(ForwardMode forward, Scheduler scheduler) {
  ReferenceScenario s;
  s.node.local_addr = *parse_ipv4("192.0.2.2");
  s.node.local_mac = *MacAddr::parse("02:00:00:00:00:02");
  s.node.vips = {*parse_ipv4("192.0.2.26")};
  for (const uint16_t port : {uint16_t{8774}, uint16_t{3306}}) {
    ServiceSpec svc;
    svc.name = port == 8774 ? "nova-api" : "galera";
    svc.vip = *parse_ipv4("192.0.2.26");
    svc.port = port;
    svc.scheduler = scheduler;
    svc.forward = forward;
    for (int i = 0; i < 3; ++i) {
      BackendSpec b;
      b.addr = *parse_ipv4(kControllers[i]);
      b.port = port;
      b.mac = MacAddr{{0x02, 0x00, 0x00, 0x00, 0x00, static_cast<uint8_t>(0x10 + i)}};
      b.stat_id = static_cast<uint16_t>(s.services.size() * 3 + static_cast<size_t>(i));
      svc.backends.push_back(b);
    }
    s.services.push_back(svc);
  }
  return s;
}

std::string controller_name(Ipv4Be addr) {
  for (int i = 0; i < 3; ++i) {
    if (addr == *parse_ipv4(kControllers[i])) return "c" + std::to_string(i);
  }
  return ipv4_to_string(addr);
}

}  // namespace fulcrum
