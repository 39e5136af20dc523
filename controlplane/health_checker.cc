// SPDX-License-Identifier: Apache-2.0
#include "health_checker.h"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <utility>

#include "log.h"

namespace fulcrum {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The first checks of new targets are spread over this much at most, so a restart is not a
// burst of 3 backends x N services, yet health is known within a second.
constexpr milliseconds kMaxFirstSpread{1000};

struct HealthChecker::Target {
  Target(asio::io_context& ioc, CheckTarget target)
      : key(std::move(target.key)),
        check(std::move(target.check)),
        tracker(check.rise, check.fall),
        timer(ioc) {}

  CheckTargetKey key;
  CheckConfig check;
  HealthTracker tracker;
  asio::steady_timer timer;
  CheckHandle inflight;
  Clock::time_point started{};  // when the check in flight (or the last one) began
  bool active = true;  // false once removed: pending handlers return without touching anything
};

std::string CheckTargetKey::to_string() const {
  return "service " + service + " backend " + ipv4_to_string(address) + ":" + std::to_string(port);
}

bool same_check(const CheckConfig& a, const CheckConfig& b) {
  return a.type == b.type && a.port == b.port && a.interval == b.interval &&
         a.timeout == b.timeout && a.rise == b.rise && a.fall == b.fall && a.path == b.path &&
         a.expect == b.expect && a.user == b.user && a.password == b.password &&
         a.query == b.query && a.allow_donor == b.allow_donor;
}

std::vector<CheckTarget> check_targets(const std::vector<ServiceConfig>& services) {
  std::vector<CheckTarget> out;
  for (const ServiceConfig& s : services) {
    if (!s.check) continue;
    for (const BackendConfig& b : s.backends) {
      out.push_back({CheckTargetKey{s.name, b.address, b.port}, *s.check});
    }
  }
  return out;
}

HealthChecker::HealthChecker(asio::io_context& ioc, StateCallback on_change)
    : ioc_(ioc), on_change_(std::move(on_change)), rng_(std::random_device{}()) {}

HealthChecker::~HealthChecker() {
  stop();
}

void HealthChecker::set_targets(std::vector<CheckTarget> targets) {
  std::map<CheckTargetKey, TargetPtr> next;
  std::vector<TargetPtr> fresh;
  for (CheckTarget& ct : targets) {
    if (next.count(ct.key) != 0) continue;  // listed twice: the first wins
    if (auto it = targets_.find(ct.key);
        it != targets_.end() && same_check(it->second->check, ct.check)) {
      it->second->check.line = ct.check.line;
      next.emplace(ct.key, std::move(it->second));
      targets_.erase(it);
      continue;
    }
    CheckTargetKey key = ct.key;
    auto t = std::make_shared<Target>(ioc_, std::move(ct));
    fresh.push_back(t);
    next.emplace(std::move(key), std::move(t));
  }
  for (auto& [key, t] : targets_) retire(t);  // removed, or their check changed
  targets_ = std::move(next);
  for (const TargetPtr& t : fresh) {
    const auto spread = std::min(t->check.interval, kMaxFirstSpread).count();
    std::uniform_int_distribution<milliseconds::rep> pick(
        0, std::max<milliseconds::rep>(spread - 1, 0));
    schedule(t, milliseconds(pick(rng_)));
  }
}

std::vector<TargetStatus> HealthChecker::status() const {
  std::vector<TargetStatus> out;
  out.reserve(targets_.size());
  for (const auto& [key, t] : targets_) {
    const HealthTracker& tr = t->tracker;
    out.push_back(TargetStatus{key, tr.state(), tr.last_result(), tr.successes(), tr.failures(),
                               tr.checks(), tr.last_change()});
  }
  return out;
}

void HealthChecker::stop() {
  for (auto& [key, t] : targets_) retire(t);
  targets_.clear();
}

void HealthChecker::retire(const TargetPtr& t) {
  t->active = false;
  t->timer.cancel();
  if (t->inflight) std::exchange(t->inflight, nullptr)->cancel();
}

void HealthChecker::schedule(const TargetPtr& t, milliseconds delay) {
  t->timer.expires_after(delay);
  // Handlers hold the target, not the checker: a retired target's handler returns before it
  // could touch a HealthChecker that may be gone.
  t->timer.async_wait([this, t](const boost::system::error_code& ec) {
    if (ec || !t->active) return;
    run(t);
  });
}

void HealthChecker::run(const TargetPtr& t) {
  t->started = Clock::now();
  t->inflight = run_check(ioc_.get_executor(), t->key.address, t->key.port, t->check,
                          [this, t](CheckResult result) {
                            if (!t->active) return;
                            on_result(t, std::move(result));
                          });
}

void HealthChecker::on_result(const TargetPtr& t, CheckResult result) {
  t->inflight = nullptr;
  const Health old_state = t->tracker.state();
  if (t->tracker.record(result, Clock::now())) {
    const Health new_state = t->tracker.state();
    std::string why;
    if (old_state == Health::kUnknown) {
      why = "first check";
    } else if (new_state == Health::kDown) {
      const uint32_t n = t->tracker.failures();
      why = std::to_string(n) + (n == 1 ? " failure" : " failures");
    } else {
      const uint32_t n = t->tracker.successes();
      why = std::to_string(n) + (n == 1 ? " success" : " successes");
    }
    const std::string line =
        t->key.to_string() + " " + to_string(new_state) + ": " + result.reason + " (" + why + ")";
    if (new_state == Health::kUp) {
      FULCRUM_LOG(kNotice, "%s", line.c_str());
    } else {
      FULCRUM_LOG(kWarning, "%s", line.c_str());
    }
    // May call set_targets or stop: t is held here, and its `active` says what is left to do.
    if (on_change_) on_change_(t->key, old_state, new_state, result);
  }
  // Fixed rate: the next check starts one interval after this one started (at once if this
  // one took longer), so a silent backend, whose checks each run into their timeout, still
  // leaves the pool within fall x interval + timeout, not fall x (interval + timeout).
  if (t->active) {
    const auto next = t->started + t->check.interval;
    const auto now = Clock::now();
    schedule(t, next > now ? std::chrono::duration_cast<milliseconds>(next - now) : milliseconds(0));
  }
}

}  // namespace fulcrum
