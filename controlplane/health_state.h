// SPDX-License-Identifier: Apache-2.0
// Health-check decisions without sockets: the result of one check, and HealthTracker, which
// turns a stream of results into a backend's Up/Down state with rise/fall hysteresis.
// Thread-safety: pure values; a HealthTracker belongs to one thread (the io_context's).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace fulcrum {

enum class Health : uint8_t { kUnknown, kUp, kDown };

// "UNKNOWN" | "UP" | "DOWN" (what logs and fulcrumctl print).
const char* to_string(Health h);

// The outcome of one health check.
struct CheckResult {
  bool ok = false;
  std::string reason;  // why it failed, or what it saw when it passed ("HTTP 200")
  std::chrono::microseconds latency{0};
};

// keepalived/HAProxy semantics with a fast start: the first result decides at once (a node
// starts forwarding after one good check and never sends to a backend that is dead at start);
// after that `fall` consecutive failures take an Up backend Down and `rise` consecutive
// successes bring a Down one back. A success resets the failure count and vice versa.
class HealthTracker {
 public:
  using Clock = std::chrono::steady_clock;

  // rise and fall of 0 count as 1.
  HealthTracker(uint32_t rise, uint32_t fall);

  // Records one result. Returns true when the state changed (kUnknown to anything included).
  bool record(const CheckResult& result, Clock::time_point now);

  Health state() const { return state_; }
  uint32_t rise() const { return rise_; }
  uint32_t fall() const { return fall_; }
  // Consecutive successes / failures up to the last result (one of them is always 0).
  uint32_t successes() const { return successes_; }
  uint32_t failures() const { return failures_; }
  uint64_t checks() const { return checks_; }
  // The last result; meaningless (default) while checks() == 0.
  const CheckResult& last_result() const { return last_; }
  // When state() last changed; the epoch of Clock while checks() == 0.
  Clock::time_point last_change() const { return last_change_; }

 private:
  uint32_t rise_;
  uint32_t fall_;
  Health state_ = Health::kUnknown;
  uint32_t successes_ = 0;
  uint32_t failures_ = 0;
  uint64_t checks_ = 0;
  CheckResult last_;
  Clock::time_point last_change_{};
};

}  // namespace fulcrum
