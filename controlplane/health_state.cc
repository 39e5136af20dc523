// SPDX-License-Identifier: Apache-2.0
#include "health_state.h"

#include <algorithm>

namespace fulcrum {

const char* to_string(Health h) {
  switch (h) {
    case Health::kUnknown:
      return "UNKNOWN";
    case Health::kUp:
      return "UP";
    case Health::kDown:
      return "DOWN";
  }
  return "?";
}

HealthTracker::HealthTracker(uint32_t rise, uint32_t fall)
    : rise_(std::max<uint32_t>(rise, 1)), fall_(std::max<uint32_t>(fall, 1)) {}

bool HealthTracker::record(const CheckResult& result, Clock::time_point now) {
  ++checks_;
  last_ = result;
  // Saturating counters: a backend down for years must not wrap around to "0 failures".
  if (result.ok) {
    failures_ = 0;
    if (successes_ < UINT32_MAX) ++successes_;
  } else {
    successes_ = 0;
    if (failures_ < UINT32_MAX) ++failures_;
  }

  Health next = state_;
  switch (state_) {
    case Health::kUnknown:
      next = result.ok ? Health::kUp : Health::kDown;
      break;
    case Health::kUp:
      if (failures_ >= fall_) next = Health::kDown;
      break;
    case Health::kDown:
      if (successes_ >= rise_) next = Health::kUp;
      break;
  }
  if (next == state_) return false;
  state_ = next;
  last_change_ = now;
  return true;
}

}  // namespace fulcrum
