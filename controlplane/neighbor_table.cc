// SPDX-License-Identifier: Apache-2.0
#include "neighbor_table.h"

#include <set>

namespace fulcrum {

void NeighborTable::want(const std::vector<Ipv4Be>& addrs) {
  const std::set<Ipv4Be> wanted(addrs.begin(), addrs.end());
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = wanted.count(it->first) ? std::next(it) : entries_.erase(it);
  }
  for (const Ipv4Be a : wanted) entries_.try_emplace(a);
}

bool NeighborTable::learn(Ipv4Be addr, const MacAddr& mac, uint64_t now_ms) {
  const auto it = entries_.find(addr);
  if (it == entries_.end()) return false;
  Entry& e = it->second;
  const bool changed = !e.mac || *e.mac != mac;
  e.mac = mac;
  e.confirmed_ms = now_ms;
  e.asked = false;
  return changed;
}

std::vector<Ipv4Be> NeighborTable::due_requests(uint64_t now_ms) {
  std::vector<Ipv4Be> due;
  for (auto& [addr, e] : entries_) {
    bool ask;
    if (!e.mac) {
      ask = !e.asked || now_ms - e.asked_ms >= timers_.retry_ms;
    } else if (now_ms - e.confirmed_ms >= timers_.refresh_ms) {
      // Refreshing: ask, then keep asking at the retry pace until answered.
      ask = !e.asked || now_ms - e.asked_ms >= timers_.retry_ms;
    } else {
      ask = false;
    }
    if (ask) {
      e.asked = true;
      e.asked_ms = now_ms;
      due.push_back(addr);
    }
  }
  return due;
}

bool NeighborTable::expire(uint64_t now_ms) {
  bool changed = false;
  for (auto& [addr, e] : entries_) {
    if (e.mac && now_ms - e.confirmed_ms >= timers_.stale_ms) {
      e.mac.reset();
      changed = true;
    }
  }
  return changed;
}

std::optional<MacAddr> NeighborTable::lookup(Ipv4Be addr) const {
  const auto it = entries_.find(addr);
  if (it == entries_.end()) return std::nullopt;
  return it->second.mac;
}

}  // namespace fulcrum
