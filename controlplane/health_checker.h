// SPDX-License-Identifier: Apache-2.0
// HealthChecker: runs the health check of every (service, backend) on its own timer, turns the
// results into Up/Down with rise/fall (HealthTracker), logs each change with its reason and
// reports it through a callback. A reload (set_targets) keeps the state of unchanged targets.
// Thread-safety: everything, the callback included, runs on the io_context's thread; call the
// methods from that thread (or before it runs).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "config.h"
#include "health_checks.h"
#include "health_state.h"
#include "net_types.h"

namespace fulcrum {

// What is checked: a backend of a service (the same backend in two services is two targets).
struct CheckTargetKey {
  std::string service;
  Ipv4Be address = 0;
  uint16_t port = 0;  // host order; the backend's port (CheckConfig::port may check another)

  auto operator<=>(const CheckTargetKey&) const = default;
  bool operator==(const CheckTargetKey&) const = default;
  // "service galera backend 192.0.2.11:3306"
  std::string to_string() const;
};

struct CheckTarget {
  CheckTargetKey key;
  CheckConfig check;
};

struct TargetStatus {
  CheckTargetKey key;
  Health health = Health::kUnknown;
  CheckResult last;        // the last result; empty while checks == 0
  uint32_t successes = 0;  // consecutive, up to the last result
  uint32_t failures = 0;
  uint64_t checks = 0;
  std::chrono::steady_clock::time_point last_change{};  // epoch while checks == 0
};

// Equal checks, ignoring where they were written (a line moved by an edit is no change).
bool same_check(const CheckConfig& a, const CheckConfig& b);

// One target per backend of every service that has a check.
std::vector<CheckTarget> check_targets(const std::vector<ServiceConfig>& services);

class HealthChecker {
 public:
  using StateCallback = std::function<void(const CheckTargetKey& key, Health old_state,
                                           Health new_state, const CheckResult& result)>;

  HealthChecker(boost::asio::io_context& ioc, StateCallback on_change);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // The targets to check from now on. New ones start kUnknown and get their first check
  // within min(interval, 1s) (spread at random, so that many backends are not checked all at
  // once); gone ones stop (no callback); ones whose key and check are unchanged keep their
  // state, counters and schedule. A changed check starts over as a new target.
  void set_targets(std::vector<CheckTarget> targets);

  // Every target, ordered by key.
  std::vector<TargetStatus> status() const;

  // Cancels every timer and check in flight; no callback after this. set_targets restarts.
  void stop();

 private:
  struct Target;
  using TargetPtr = std::shared_ptr<Target>;

  void schedule(const TargetPtr& t, std::chrono::milliseconds delay);
  void run(const TargetPtr& t);
  void on_result(const TargetPtr& t, CheckResult result);
  static void retire(const TargetPtr& t);

  boost::asio::io_context& ioc_;
  StateCallback on_change_;
  std::map<CheckTargetKey, TargetPtr> targets_;
  std::minstd_rand rng_;
};

}  // namespace fulcrum
