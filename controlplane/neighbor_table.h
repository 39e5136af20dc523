// SPDX-License-Identifier: Apache-2.0
// NeighborTable: the MAC addresses of the next hops the data plane sends to (backends on the
// port's subnet, else the gateway), learned from ARP and refreshed by asking again.
//
// The control plane says which addresses it needs (want), feeds it every ARP frame it sees
// (learn), and sends the requests due_requests() lists. An entry keeps its last MAC while a
// refresh is under way, so a slow answer never blackholes established flows; changes() tells
// when a new snapshot is needed. Pure: time is passed in.
//
// Thread-safety: one control-plane thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "net_types.h"

namespace fulcrum {

struct NeighborTimers {
  uint32_t retry_ms = 1'000;     // unresolved: ask again this often
  uint32_t refresh_ms = 30'000;  // resolved: ask again this long after the last answer
  uint32_t stale_ms = 300'000;   // unanswered this long after the last answer: forget the MAC
};

class NeighborTable {
 public:
  explicit NeighborTable(const NeighborTimers& timers = {}) : timers_(timers) {}

  // Declares the set of addresses the data plane needs; others are dropped.
  void want(const std::vector<Ipv4Be>& addrs);

  // An ARP frame told us `addr` is at `mac`. Returns true when that changed a wanted entry.
  bool learn(Ipv4Be addr, const MacAddr& mac, uint64_t now_ms);

  // Addresses to send an ARP request for now; marks them asked.
  std::vector<Ipv4Be> due_requests(uint64_t now_ms);

  // Forgets MACs not confirmed for stale_ms. Returns true when any entry lost its MAC.
  bool expire(uint64_t now_ms);

  std::optional<MacAddr> lookup(Ipv4Be addr) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::optional<MacAddr> mac;
    uint64_t confirmed_ms = 0;  // last answer
    uint64_t asked_ms = 0;      // last request sent
    bool asked = false;
  };

  NeighborTimers timers_;
  std::map<Ipv4Be, Entry> entries_;
};

}  // namespace fulcrum
