// SPDX-License-Identifier: Apache-2.0
// AnnounceController: carries the announcement policy's decisions (announce_policy.h) to a
// local BIRD 2 by enabling or disabling one static protocol per VIP through BIRD's control
// socket. A change goes out at once; every VIP's wanted state is re-asserted each
// reassert_interval, so a BIRD that restarted (its protocols back at "disabled yes") or lost
// a command catches up. The BIRD I/O runs on the controller's own thread, so a hung or absent
// BIRD never delays health checks or the API: each command has a deadline.
// Thread-safety: every public member may be called from any thread (one mutex, never held
// during I/O).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "announce_policy.h"
#include "config.h"
#include "prometheus.h"

namespace fulcrum {

class AnnounceController {
 public:
  using Clock = std::chrono::steady_clock;

  explicit AnnounceController(const AnnounceConfig& config,
                              std::chrono::milliseconds command_timeout = std::chrono::seconds(1));
  ~AnnounceController();  // stops the thread; announces nothing more, withdraws nothing
  AnnounceController(const AnnounceController&) = delete;
  AnnounceController& operator=(const AnnounceController&) = delete;

  void start();
  void stop();

  // The wanted state, one decision per configured VIP (matched by address). Announces nothing
  // before the first call.
  void set_decisions(const std::vector<AnnounceDecision>& decisions);
  // A reload: VIPs that stay keep their state; a VIP no longer configured (or every VIP, for
  // nullopt: [announce] removed) is withdrawn and forgotten once BIRD confirms.
  void reconfigure(const std::optional<AnnounceConfig>& config);
  // [announce] stop_delay of the config in force.
  std::chrono::milliseconds stop_delay() const;
  // True once BIRD has confirmed every VIP withdrawn (and none is wanted).
  bool withdrawn() const;
  // Blocks until withdrawn(), or `limit` passes. True if confirmed.
  bool wait_withdrawn(std::chrono::milliseconds limit);

  // fulcrumctl announce / the API: {"bird_socket", "bird_connected", "bird_greeting",
  // "last_error", "vips": [{"vip", "protocol", "wanted", "reason", "bird", "bird_state",
  // "since_s", "changes", "error"}]}.
  nlohmann::json status() const;
  void write_metrics(MetricsWriter& out) const;

 private:
  struct VipState {
    AnnounceDecision wanted;
    bool decided = false;              // a decision has arrived
    bool dirty = false;                // to be sent before the next re-assertion
    bool retired = false;              // no longer configured: withdraw, then forget
    std::optional<bool> bird_enabled;  // the protocol's state as BIRD last confirmed it
    std::string bird_state;            // `show protocols`: up, down, start...
    std::string error;                 // the last command's failure for this VIP, or ""
    Clock::time_point since{};         // when `wanted` last changed
    uint64_t changes = 0;              // times `wanted` changed
  };
  struct Work {
    Ipv4Be vip;
    std::string protocol;
    bool announce;
  };
  struct Result {
    Ipv4Be vip;
    std::string protocol;
    bool announce;
    std::optional<bool> enabled;  // nullopt: the command failed
    bool changed = false;
    std::optional<std::string> state;
    std::string error;
  };

  void run();
  bool all_withdrawn_locked() const;
  void apply(const std::vector<Result>& results);
  VipState* find(Ipv4Be vip);

  const std::chrono::milliseconds command_timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;        // work for the thread, or stop
  std::condition_variable progress_;  // results applied (wait_withdrawn)
  std::string socket_path_;
  bool socket_changed_ = false;
  std::chrono::milliseconds reassert_interval_;
  std::chrono::milliseconds stop_delay_;
  std::vector<VipState> vips_;
  bool stop_ = false;
  bool connected_ = false;
  std::string greeting_;
  std::string last_error_;
  uint64_t commands_sent_ = 0;
  uint64_t command_failures_ = 0;
  std::thread thread_;
};

// `fulcrumd --withdraw` (systemd's ExecStopPost after a crash): disables every VIP's protocol
// in BIRD at once, so a node whose fulcrumd died does not keep, or on restart regain, routes it
// cannot serve. One line per VIP (or per failure) in `report`; true when every VIP is withdrawn.
bool withdraw_all(const AnnounceConfig& config, std::chrono::milliseconds timeout,
                  std::vector<std::string>& report);

}  // namespace fulcrum
