// SPDX-License-Identifier: Apache-2.0
#include "announce_controller.h"

#include <algorithm>
#include <memory>

#include "bird_client.h"
#include "log.h"

namespace fulcrum {

namespace {

double seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

}  // namespace

AnnounceController::AnnounceController(const AnnounceConfig& config,
                                       std::chrono::milliseconds command_timeout)
    : command_timeout_(command_timeout),
      socket_path_(config.bird_socket),
      reassert_interval_(config.reassert_interval),
      stop_delay_(config.stop_delay) {
  for (const AnnounceVipConfig& v : config.vips) {
    vips_.push_back(VipState{.wanted = {.vip = v.address, .protocol = v.bird_protocol}});
  }
}

AnnounceController::~AnnounceController() { stop(); }

void AnnounceController::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void AnnounceController::stop() {
  {
    const std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

AnnounceController::VipState* AnnounceController::find(Ipv4Be vip) {
  for (VipState& v : vips_) {
    if (v.wanted.vip == vip && !v.retired) return &v;
  }
  return nullptr;
}

void AnnounceController::set_decisions(const std::vector<AnnounceDecision>& decisions) {
  bool wake = false;
  {
    const std::lock_guard lk(mu_);
    for (const AnnounceDecision& d : decisions) {
      VipState* v = find(d.vip);
      if (v == nullptr || d.protocol != v->wanted.protocol) continue;
      const bool changed = !v->decided || v->wanted.announce != d.announce;
      v->wanted.reason = d.reason;
      if (!changed) continue;
      log(LogLevel::kNotice, "announce: %s (BIRD protocol %s): %s: %s",
          ipv4_to_string(d.vip).c_str(), d.protocol.c_str(),
          d.announce ? "announcing" : "withdrawing", d.reason.c_str());
      if (v->decided) ++v->changes;
      v->decided = true;
      v->wanted.announce = d.announce;
      v->since = Clock::now();
      v->dirty = true;
      wake = true;
    }
  }
  if (wake) cv_.notify_all();
}

void AnnounceController::reconfigure(const std::optional<AnnounceConfig>& config) {
  {
    const std::lock_guard lk(mu_);
    std::vector<AnnounceVipConfig> wanted = config ? config->vips : std::vector<AnnounceVipConfig>{};
    for (VipState& v : vips_) {
      const bool stays = std::any_of(wanted.begin(), wanted.end(), [&](const AnnounceVipConfig& c) {
        return c.address == v.wanted.vip && c.bird_protocol == v.wanted.protocol;
      });
      if (stays || v.retired) continue;
      // Withdraw what this node may have announced, then forget it.
      v.retired = true;
      v.decided = true;
      v.dirty = true;
      v.wanted.announce = false;
      v.wanted.reason = "no longer in the config";
      v.since = Clock::now();
    }
    for (const AnnounceVipConfig& c : wanted) {
      if (find(c.address) == nullptr) {
        vips_.push_back(VipState{.wanted = {.vip = c.address, .protocol = c.bird_protocol}});
      }
    }
    if (config) {
      reassert_interval_ = config->reassert_interval;
      stop_delay_ = config->stop_delay;
      // Retired VIPs would then be withdrawn from the new BIRD, not the old one: a socket
      // change is a move to another BIRD, whose protocols start disabled anyway.
      if (config->bird_socket != socket_path_) {
        socket_path_ = config->bird_socket;
        socket_changed_ = true;
      }
    }
  }
  cv_.notify_all();
}

bool AnnounceController::all_withdrawn_locked() const {
  return std::all_of(vips_.begin(), vips_.end(), [](const VipState& v) {
    return !v.wanted.announce && v.bird_enabled == std::optional<bool>(false);
  });
}

std::chrono::milliseconds AnnounceController::stop_delay() const {
  const std::lock_guard lk(mu_);
  return stop_delay_;
}

bool AnnounceController::withdrawn() const {
  const std::lock_guard lk(mu_);
  return all_withdrawn_locked();
}

bool AnnounceController::wait_withdrawn(std::chrono::milliseconds limit) {
  std::unique_lock lk(mu_);
  return progress_.wait_for(lk, limit, [&] { return all_withdrawn_locked(); });
}

void AnnounceController::run() {
  std::unique_ptr<BirdClient> client;
  auto next_round = Clock::now();
  std::unique_lock lk(mu_);
  while (!stop_) {
    cv_.wait_until(lk, next_round, [&] {
      return stop_ || std::any_of(vips_.begin(), vips_.end(), [](const VipState& v) {
               return v.dirty;
             });
    });
    if (stop_) break;
    const bool periodic = Clock::now() >= next_round;
    if (periodic) next_round = Clock::now() + reassert_interval_;
    if (!client || socket_changed_) {
      client = std::make_unique<BirdClient>(socket_path_, command_timeout_);
      socket_changed_ = false;
    }
    std::vector<Work> work;
    for (VipState& v : vips_) {
      if (!v.decided || !(v.dirty || periodic)) continue;
      work.push_back(Work{v.wanted.vip, v.wanted.protocol, v.wanted.announce});
      v.dirty = false;
    }
    if (work.empty()) continue;
    const std::string path = socket_path_;
    const bool was_connected = connected_;
    lk.unlock();

    // Outside the lock: BIRD may take up to the command timeout per command.
    std::vector<Result> results;
    std::string connect_error;
    std::string io_error;  // the last command that failed on the connection, if any
    bool connected_now = false;
    uint64_t sent = 0, failed = 0;
    for (const Work& w : work) {
      Result r{.vip = w.vip, .protocol = w.protocol, .announce = w.announce};
      if (!connect_error.empty()) {  // BIRD is not there: do not knock again for each VIP
        r.error = connect_error;
        ++failed;
        results.push_back(std::move(r));
        continue;
      }
      // One retry on a fresh connection: the first command after BIRD restarted finds the old
      // connection closed.
      for (int attempt = 0; attempt < 2; ++attempt) {
        if (!client->connected()) connected_now = true;
        const BirdToggleOutcome o = bird_toggle(*client, w.protocol, w.announce);
        if (!o.connect_failed) ++sent;
        r.enabled = o.enabled;
        r.changed = o.changed;
        r.error = o.error;
        if (o.connect_failed) connect_error = o.error;
        if (!o.io_failed) break;
        io_error = o.error;
      }
      if (!r.error.empty()) ++failed;
      // BIRD's view of the protocol (up, down, start...) for fulcrumctl: after every command
      // that went through, so a change shows at once.
      if (r.enabled && client->connected()) {
        std::string error;
        if (const auto reply = client->command(bird_show_protocol_command(w.protocol), error)) {
          r.state = parse_protocol_state(*reply, w.protocol);
        } else {
          io_error = error;
        }
      }
      results.push_back(std::move(r));
    }

    lk.lock();
    commands_sent_ += sent;
    command_failures_ += failed;
    if (client->connected()) {
      if (!was_connected || connected_now) {
        log(LogLevel::kNotice, "announce: connected to BIRD at %s (%s)", path.c_str(),
            client->greeting().c_str());
      }
      connected_ = true;
      greeting_ = client->greeting();
      last_error_.clear();
    } else {
      const std::string error = !connect_error.empty() ? connect_error : io_error;
      if (was_connected || error != last_error_) {
        log(LogLevel::kWarning, "announce: BIRD at %s: %s; trying again every %.1f s",
            path.c_str(), error.c_str(), seconds(reassert_interval_));
      }
      connected_ = false;
      last_error_ = error;
    }
    apply(results);
    progress_.notify_all();
  }
}

void AnnounceController::apply(const std::vector<Result>& results) {
  for (const Result& r : results) {
    VipState* v = nullptr;
    for (VipState& s : vips_) {
      if (s.wanted.vip == r.vip && s.wanted.protocol == r.protocol) v = &s;
    }
    if (v == nullptr) continue;  // reconfigured away meanwhile
    if (!r.error.empty() && r.error != v->error) {
      log(LogLevel::kError, "announce: %s (BIRD protocol %s): cannot %s: %s",
          ipv4_to_string(r.vip).c_str(), r.protocol.c_str(), r.announce ? "announce" : "withdraw",
          r.error.c_str());
    }
    v->error = r.error;
    v->bird_state = r.state.value_or("");
    if (!r.enabled) continue;
    if (r.changed) {
      log(LogLevel::kNotice, "announce: %s: BIRD protocol %s %s", ipv4_to_string(r.vip).c_str(),
          r.protocol.c_str(), *r.enabled ? "enabled: announced" : "disabled: withdrawn");
    }
    v->bird_enabled = r.enabled;
  }
  std::erase_if(vips_, [](const VipState& v) {
    return v.retired && v.bird_enabled == std::optional<bool>(false);
  });
}

nlohmann::json AnnounceController::status() const {
  const std::lock_guard lk(mu_);
  const auto now = Clock::now();
  nlohmann::json vips = nlohmann::json::array();
  for (const VipState& v : vips_) {
    vips.push_back({
        {"vip", ipv4_to_string(v.wanted.vip)},
        {"protocol", v.wanted.protocol},
        {"wanted", !v.decided ? "undecided" : v.wanted.announce ? "announce" : "withdraw"},
        {"reason", v.decided ? v.wanted.reason : "data plane not ready"},
        {"bird", !v.bird_enabled ? "unknown" : *v.bird_enabled ? "enabled" : "disabled"},
        {"bird_state", v.bird_state},
        {"since_s", v.decided ? std::chrono::duration<double>(now - v.since).count() : 0.0},
        {"changes", v.changes},
        {"error", v.error},
    });
  }
  return {{"bird_socket", socket_path_},
          {"bird_connected", connected_},
          {"bird_greeting", greeting_},
          {"last_error", last_error_},
          {"reassert_interval_s", seconds(reassert_interval_)},
          {"vips", std::move(vips)}};
}

void AnnounceController::write_metrics(MetricsWriter& out) const {
  const std::lock_guard lk(mu_);
  out.family("fulcrum_announce_wanted", "gauge",
             "1 while this node wants the VIP announced (its services can serve)");
  out.family("fulcrum_announce_enabled", "gauge",
             "1 when BIRD confirmed the VIP's static protocol enabled (the route announced)");
  out.family("fulcrum_announce_changes_total", "counter",
             "Times the wanted announcement changed");
  out.family("fulcrum_announce_bird_connected", "gauge",
             "1 while fulcrumd is connected to BIRD's control socket");
  out.family("fulcrum_announce_bird_commands_total", "counter", "Commands sent to BIRD");
  out.family("fulcrum_announce_bird_command_failures_total", "counter",
             "Commands to BIRD that failed (no connection, timeout, BIRD error)");
  for (const VipState& v : vips_) {
    const MetricLabels l{{"vip", ipv4_to_string(v.wanted.vip)}, {"protocol", v.wanted.protocol}};
    out.sample("fulcrum_announce_wanted", l, v.decided && v.wanted.announce ? 1 : 0);
    out.sample("fulcrum_announce_enabled", l, v.bird_enabled.value_or(false) ? 1 : 0);
    out.sample("fulcrum_announce_changes_total", l, v.changes);
  }
  out.sample("fulcrum_announce_bird_connected", {}, connected_ ? 1 : 0);
  out.sample("fulcrum_announce_bird_commands_total", {}, commands_sent_);
  out.sample("fulcrum_announce_bird_command_failures_total", {}, command_failures_);
}


bool withdraw_all(const AnnounceConfig& config, std::chrono::milliseconds timeout,
                  std::vector<std::string>& report) {
  BirdClient client(config.bird_socket, timeout);
  std::string error;
  if (!client.connect(error)) {
    report.push_back("cannot reach BIRD: " + error);
    return false;
  }
  bool ok = true;
  for (const AnnounceVipConfig& v : config.vips) {
    const std::string what = ipv4_to_string(v.address) + " (BIRD protocol " + v.bird_protocol + ")";
    const BirdToggleOutcome o = bird_toggle(client, v.bird_protocol, false);
    if (o.connect_failed) {
      report.push_back("cannot reach BIRD: " + o.error);
      return false;
    }
    if (o.error.empty()) {
      report.push_back(what + (o.changed ? ": withdrawn" : ": was not announced"));
      continue;
    }
    ok = false;
    report.push_back(what + ": cannot withdraw: " + o.error);
  }
  return ok;
}

}  // namespace fulcrum
