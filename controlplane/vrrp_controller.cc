// SPDX-License-Identifier: Apache-2.0
#include "vrrp_controller.h"

#include <algorithm>

#include "log.h"
#include "vrrp_frame.h"
#include "vrrp_packet.h"

namespace fulcrum {

struct VrrpController::Instance : std::enable_shared_from_this<Instance> {
  Instance(boost::asio::io_context& io, const VrrpConfig& cfg,
           const VrrpInstanceConfig& machine_cfg)
      : config(cfg), machine(machine_cfg), timer(io), garp_timer(io), refresh_timer(io) {}

  VrrpConfig config;
  VrrpInstance machine;
  boost::asio::steady_timer timer;          // the state machine's next deadline
  boost::asio::steady_timer garp_timer;     // the rounds of a gratuitous ARP burst
  boost::asio::steady_timer refresh_timer;  // garp_refresh while master
  uint32_t garp_rounds_left = 0;
  std::map<std::string, uint64_t> drops;  // frames with this VRID that changed nothing
  uint64_t adverts_unsent = 0;            // unicast: the peer's MAC was not known yet
  uint64_t garps_sent = 0;
  uint64_t notifies = 0;
  std::vector<std::string> tracked_out;  // tracked services without a usable backend
  bool vip_mismatch_logged = false;
};

namespace {

VrrpInstanceConfig machine_config(const VrrpConfig& v, Ipv4Be self) {
  return VrrpInstanceConfig{.vrid = v.vrid,
                            .priority = v.priority,
                            .advert_interval = v.advert_interval,
                            .preempt = v.preempt,
                            .preempt_delay = v.preempt_delay,
                            .version = v.version,
                            .self_address = self};
}

// Settings a running state machine cannot take over: changing them restarts the instance.
bool same_protocol(const VrrpConfig& a, const VrrpConfig& b) {
  return a.port == b.port && a.vrid == b.vrid && a.priority == b.priority &&
         a.advert_interval == b.advert_interval && a.version == b.version &&
         a.preempt == b.preempt && a.preempt_delay == b.preempt_delay &&
         a.unicast_peers == b.unicast_peers && a.vips == b.vips;
}

std::string join_addresses(const std::vector<Ipv4Be>& addrs) {
  std::string out;
  for (const Ipv4Be a : addrs) out += (out.empty() ? "" : " ") + ipv4_to_string(a);
  return out;
}

int state_number(VrrpState s) {
  switch (s) {
    case VrrpState::kInitialize:
      return 0;
    case VrrpState::kBackup:
      return 1;
    case VrrpState::kMaster:
      return 2;
    case VrrpState::kFault:
      return 3;
  }
  return 0;
}

}  // namespace

std::string_view to_string(VrrpFrameDrop reason) {
  switch (reason) {
    case VrrpFrameDrop::kMalformedIp:
      return "malformed_ip";
    case VrrpFrameDrop::kUnknownVrid:
      return "unknown_vrid";
    case VrrpFrameDrop::kNotPeer:
      return "not_peer";
    case VrrpFrameDrop::kIgnored:
      return "ignored";
  }
  return "unknown";
}

VrrpController::VrrpController(boost::asio::io_context& io, const PortConfig& port,
                               const MacAddr& port_mac, VrrpHooks hooks)
    : io_(io), port_(port), port_mac_(port_mac), hooks_(std::move(hooks)) {
  notifier_ = std::make_unique<NotifyRunner>(std::chrono::seconds(30), [](const NotifyResult& r) {
    std::string cmd;
    for (const std::string& a : r.argv) cmd += (cmd.empty() ? "" : " ") + a;
    if (!r.error.empty()) {
      FULCRUM_LOG(kError, "notify: cannot run %s: %s", cmd.c_str(), r.error.c_str());
    } else if (r.timed_out) {
      FULCRUM_LOG(kError, "notify: %s ran too long and was killed", cmd.c_str());
    } else if (r.signal != 0) {
      FULCRUM_LOG(kWarning, "notify: %s was killed by signal %d", cmd.c_str(), r.signal);
    } else if (r.exit_code != 0) {
      FULCRUM_LOG(kWarning, "notify: %s exited with status %d", cmd.c_str(), r.exit_code);
    } else {
      FULCRUM_LOG(kInfo, "notify: %s done", cmd.c_str());
    }
  });
}

VrrpController::~VrrpController() {
  // The notifier's destructor runs whatever is still queued (a BACKUP after shutdown matters:
  // it is how a singleton service is stopped on this node), each within its timeout.
  notifier_.reset();
}

std::shared_ptr<VrrpController::Instance> VrrpController::make_instance(const VrrpConfig& v) {
  return std::make_shared<Instance>(io_, v, machine_config(v, port_.address));
}

void VrrpController::configure(const Config& config) {
  for (const VrrpConfig& v : config.vrrp) {
    if (v.port == port_.name) instances_.push_back(make_instance(v));
  }
}

std::string VrrpController::reconfigure(const Config& config) {
  // Decide first, act after: the actions publish tables, which read instances_, so it must
  // never hold a half-updated list.
  std::vector<std::shared_ptr<Instance>> next, leaving, starting;
  std::string restarted;
  for (const VrrpConfig& v : config.vrrp) {
    if (v.port != port_.name) continue;
    const auto it = std::find_if(instances_.begin(), instances_.end(),
                                 [&](const auto& i) { return i->config.name == v.name; });
    if (it != instances_.end() && same_protocol((*it)->config, v)) {
      (*it)->config = v;  // notify, tracking and GARP settings
      next.push_back(*it);
      continue;
    }
    if (it != instances_.end()) {
      FULCRUM_LOG(kNotice, "(%s) protocol settings changed: restarting the instance",
                  v.name.c_str());
      leaving.push_back(*it);
      restarted += (restarted.empty() ? "" : ", ") + v.name;
    }
    next.push_back(make_instance(v));
    starting.push_back(next.back());
  }
  for (const auto& old : instances_) {
    if (std::find(next.begin(), next.end(), old) != next.end() ||
        std::find(leaving.begin(), leaving.end(), old) != leaving.end()) {
      continue;
    }
    FULCRUM_LOG(kNotice, "(%s) removed from the config: leaving", old->config.name.c_str());
    leaving.push_back(old);
  }
  const auto now = Clock::now();
  // Leave while still listed: a master sends priority 0 and its VIPs drop out at once.
  for (const auto& old : leaving) {
    run_actions(*old, old->machine.shutdown(now), "reload");
    old->timer.cancel();
    old->garp_timer.cancel();
    old->refresh_timer.cancel();
  }
  instances_ = std::move(next);
  for (const auto& fresh : starting) {
    if (service_out_) apply_tracking(*fresh);
    run_actions(*fresh, fresh->machine.start(now), "start");
  }
  return restarted.empty() ? "" : "VRRP instance(s) restarted: " + restarted;
}

void VrrpController::start() {
  const auto now = Clock::now();
  for (auto& inst : instances_) {
    FULCRUM_LOG(kInfo,
                "(%s) starting: VRID %u, VRRPv%u, priority %u, advert every %lld ms, %s, %s, "
                "VIPs %s",
                inst->config.name.c_str(), inst->config.vrid, inst->config.version,
                inst->config.priority, static_cast<long long>(inst->config.advert_interval.count()),
                inst->config.preempt ? "preempt" : "nopreempt",
                inst->config.unicast_peers.empty()
                    ? "multicast 224.0.0.18"
                    : ("unicast to " + join_addresses(inst->config.unicast_peers)).c_str(),
                join_addresses(inst->config.vips).c_str());
    run_actions(*inst, inst->machine.start(now), "start");
  }
}

void VrrpController::shutdown() {
  const auto now = Clock::now();
  for (auto& inst : instances_) {
    run_actions(*inst, inst->machine.shutdown(now), "shutdown");
    inst->timer.cancel();
    inst->garp_timer.cancel();
    inst->refresh_timer.cancel();
  }
}

VrrpController::Instance* VrrpController::find_vrid(uint8_t vrid) {
  for (auto& inst : instances_) {
    if (inst->config.vrid == vrid) return inst.get();
  }
  return nullptr;
}

void VrrpController::receive(const uint8_t* frame, size_t len) {
  const auto f = vrrp::parse_frame(frame, len);
  if (!f) {
    ++drops_[std::string(to_string(VrrpFrameDrop::kMalformedIp))];
    return;
  }
  if (f->payload_len < 2) {
    ++drops_[std::string(to_string(vrrp::DropReason::kTruncated))];
    return;
  }
  Instance* inst = find_vrid(f->payload[1]);
  if (inst == nullptr) {
    ++drops_[std::string(to_string(VrrpFrameDrop::kUnknownVrid))];
    return;
  }
  const auto& peers = inst->config.unicast_peers;
  if (!peers.empty() && std::find(peers.begin(), peers.end(), f->src) == peers.end()) {
    ++inst->drops[std::string(to_string(VrrpFrameDrop::kNotPeer))];
    return;
  }
  const vrrp::DecodeResult d =
      vrrp::decode_advert(f->payload, f->payload_len, f->src, f->dst, f->ttl, inst->config.version);
  if (!d.ok()) {
    ++inst->drops[std::string(to_string(d.reason))];
    return;
  }
  if (!inst->vip_mismatch_logged) {
    std::vector<Ipv4Be> theirs = d.advert->addresses, ours = inst->config.vips;
    std::sort(theirs.begin(), theirs.end());
    std::sort(ours.begin(), ours.end());
    if (theirs != ours) {
      // RFC 5798 6.4.2 lets a backup go on; keepalived logs it the same way. Once per instance.
      FULCRUM_LOG(kWarning, "(%s) advert from %s lists VIPs %s, ours are %s",
                  inst->config.name.c_str(), ipv4_to_string(f->src).c_str(),
                  join_addresses(d.advert->addresses).c_str(),
                  join_addresses(inst->config.vips).c_str());
      inst->vip_mismatch_logged = true;
    }
  }
  const uint64_t ignored = inst->machine.counters().adverts_ignored;
  const VrrpActions actions = inst->machine.receive(*d.advert, f->src, Clock::now());
  if (inst->machine.counters().adverts_ignored != ignored) {
    ++inst->drops[std::string(to_string(VrrpFrameDrop::kIgnored))];
  }
  run_actions(*inst, actions, "advert");
}

void VrrpController::update_tracking(const std::function<bool(const std::string&)>& service_out,
                                     bool link_up) {
  service_out_ = service_out;
  if (link_up != link_up_) {
    log(link_up ? LogLevel::kNotice : LogLevel::kWarning, "VRRP: port %s link %s",
        port_.name.c_str(), link_up ? "up: leaving fault" : "down: entering fault");
    link_up_ = link_up;
  }
  for (auto& inst : instances_) apply_tracking(*inst);
}

void VrrpController::apply_tracking(Instance& inst) {
  std::vector<std::string> out;
  for (const std::string& name : inst.config.track_services) {
    if (service_out_ && service_out_(name)) out.push_back(name);
  }
  if (out != inst.tracked_out) {
    if (out.empty()) {
      FULCRUM_LOG(kNotice, "(%s) tracked services have usable backends again",
                  inst.config.name.c_str());
    } else {
      std::string names;
      for (const auto& n : out) names += (names.empty() ? "" : ", ") + n;
      if (inst.config.track_priority_delta == 0) {
        FULCRUM_LOG(kWarning, "(%s) no usable backend in %s: entering fault",
                    inst.config.name.c_str(), names.c_str());
      } else {
        FULCRUM_LOG(kWarning, "(%s) no usable backend in %s: priority lowered by %u",
                    inst.config.name.c_str(), names.c_str(), inst.config.track_priority_delta);
      }
    }
    inst.tracked_out = out;
  }
  const auto now = Clock::now();
  const bool any_out = !out.empty();
  const int delta = any_out ? inst.config.track_priority_delta : 0;
  run_actions(inst, inst.machine.set_priority_delta(delta, now), "tracking");
  const bool fault = !link_up_ || (any_out && inst.config.track_priority_delta == 0);
  run_actions(inst, inst.machine.set_fault(fault, now), "tracking");
}

void VrrpController::run_actions(Instance& inst, const VrrpActions& actions, const char* cause) {
  for (const VrrpAction& a : actions) {
    switch (a.type) {
      case VrrpActionType::kSendAdvert:
        send_advert(inst, a.priority);
        break;
      case VrrpActionType::kBecomeMaster:
      case VrrpActionType::kBecomeBackup:
      case VrrpActionType::kBecomeFault: {
        const VrrpState state = a.type == VrrpActionType::kBecomeMaster   ? VrrpState::kMaster
                                : a.type == VrrpActionType::kBecomeBackup ? VrrpState::kBackup
                                                                          : VrrpState::kFault;
        // keepalived's words, so that operators' log searches keep working.
        FULCRUM_LOG(kNotice, "(%s) Entering %s STATE (%s; priority %u)", inst.config.name.c_str(),
                    std::string(to_string(state)).c_str(), cause,
                    inst.machine.effective_priority());
        if (hooks_.vips_changed) {
          hooks_.vips_changed("vrrp " + inst.config.name + " " + std::string(to_string(state)));
        }
        if (state == VrrpState::kMaster) {
          start_garp(inst);
          arm_refresh(inst);
        } else {
          inst.garp_rounds_left = 0;
          inst.garp_timer.cancel();
          inst.refresh_timer.cancel();
        }
        notify(inst, state);
        break;
      }
      case VrrpActionType::kReannounce:
        FULCRUM_LOG(kNotice, "(%s) a lower-priority master is on the segment: re-announcing",
                    inst.config.name.c_str());
        start_garp(inst);
        break;
    }
  }
  arm_timer(inst);
}

void VrrpController::send_advert(Instance& inst, uint8_t priority) {
  const vrrp::Advert advert = inst.machine.make_advert(priority, inst.config.vips);
  if (!hooks_.send_frame) return;
  if (inst.config.unicast_peers.empty()) {
    const auto payload = vrrp::encode_advert(advert, port_.address, vrrp::kMulticastGroup);
    hooks_.send_frame(vrrp::build_frame(port_mac_, vrrp::kMulticastMac, port_.address,
                                        vrrp::kMulticastGroup, ++ip_id_, payload));
    return;
  }
  for (const Ipv4Be peer : inst.config.unicast_peers) {
    const auto mac = hooks_.peer_mac ? hooks_.peer_mac(peer) : std::nullopt;
    if (!mac) {
      ++inst.adverts_unsent;
      continue;
    }
    const auto payload = vrrp::encode_advert(advert, port_.address, peer);
    hooks_.send_frame(vrrp::build_frame(port_mac_, *mac, port_.address, peer, ++ip_id_, payload));
  }
}

void VrrpController::arm_timer(Instance& inst) {
  const auto deadline = inst.machine.next_deadline();
  if (!deadline) {
    inst.timer.cancel();
    return;
  }
  inst.timer.expires_at(*deadline);
  inst.timer.async_wait([this, w = inst.weak_from_this()](const boost::system::error_code& ec) {
    const auto p = w.lock();
    if (ec || !p) return;
    run_actions(*p, p->machine.timer(Clock::now()), "timer");
  });
}

void VrrpController::start_garp(Instance& inst) {
  inst.garp_rounds_left = inst.config.garp_count;
  inst.garp_timer.cancel();
  garp_round(inst);
}

void VrrpController::garp_round(Instance& inst) {
  while (inst.garp_rounds_left > 0) {
    for (const Ipv4Be vip : inst.config.vips) {
      if (hooks_.send_garp) hooks_.send_garp(vip);
      ++inst.garps_sent;
    }
    --inst.garp_rounds_left;
    if (inst.garp_rounds_left > 0 && inst.config.garp_interval.count() > 0) {
      inst.garp_timer.expires_after(inst.config.garp_interval);
      inst.garp_timer.async_wait(
          [this, w = inst.weak_from_this()](const boost::system::error_code& ec) {
            const auto p = w.lock();
            if (ec || !p || p->machine.state() != VrrpState::kMaster) return;
            garp_round(*p);
          });
      return;
    }
  }
}

void VrrpController::arm_refresh(Instance& inst) {
  if (inst.config.garp_refresh.count() <= 0) return;
  inst.refresh_timer.expires_after(inst.config.garp_refresh);
  inst.refresh_timer.async_wait(
      [this, w = inst.weak_from_this()](const boost::system::error_code& ec) {
        const auto p = w.lock();
        if (ec || !p || p->machine.state() != VrrpState::kMaster) return;
        for (const Ipv4Be vip : p->config.vips) {
          if (hooks_.send_garp) hooks_.send_garp(vip);
          ++p->garps_sent;
        }
        arm_refresh(*p);
      });
}

void VrrpController::notify(Instance& inst, VrrpState state) {
  if (!inst.config.notify) return;
  ++inst.notifies;
  notifier_->enqueue(
      notify_argv(*inst.config.notify, {inst.config.name, std::string(to_string(state))}));
}

std::vector<Ipv4Be> VrrpController::owned_vips() const {
  std::vector<Ipv4Be> out;
  for (const auto& inst : instances_) {
    if (inst->machine.state() != VrrpState::kMaster) continue;
    out.insert(out.end(), inst->config.vips.begin(), inst->config.vips.end());
  }
  return out;
}

bool VrrpController::manages(Ipv4Be vip) const {
  for (const auto& inst : instances_) {
    const auto& v = inst->config.vips;
    if (std::find(v.begin(), v.end(), vip) != v.end()) return true;
  }
  return false;
}

nlohmann::json VrrpController::status() const {
  using nlohmann::json;
  json list = json::array();
  for (const auto& inst : instances_) {
    const VrrpInstance& m = inst->machine;
    const VrrpCounters& c = m.counters();
    json vips = json::array(), peers = json::array();
    for (const Ipv4Be v : inst->config.vips) vips.push_back(ipv4_to_string(v));
    for (const Ipv4Be p : inst->config.unicast_peers) peers.push_back(ipv4_to_string(p));
    json drops = json::object();
    for (const auto& [reason, n] : inst->drops) drops[reason] = n;
    list.push_back(json{
        {"name", inst->config.name},
        {"state", std::string(to_string(m.state()))},
        {"priority", inst->config.priority},
        {"effective_priority", m.effective_priority()},
        {"vrid", inst->config.vrid},
        {"version", inst->config.version},
        {"advert_interval_ms", inst->config.advert_interval.count()},
        {"preempt", inst->config.preempt},
        {"master", m.master_address() != 0 ? json(ipv4_to_string(m.master_address())) : json()},
        {"vips", vips},
        {"unicast_peers", peers},
        {"tracked_out", inst->tracked_out},
        {"fault", m.fault()},
        {"transitions", c.transitions},
        {"adverts_sent", c.adverts_sent},
        {"adverts_received", c.adverts_received},
        {"adverts_unsent", inst->adverts_unsent},
        {"priority_zero_sent", c.priority_zero_sent},
        {"priority_zero_received", c.priority_zero_received},
        {"garps_sent", inst->garps_sent},
        {"notifies", inst->notifies},
        {"drops", drops}});
  }
  json drops = json::object();
  for (const auto& [reason, n] : drops_) drops[reason] = n;
  return json{{"instances", list}, {"drops", drops}, {"link", link_up_ ? "up" : "down"}};
}

void VrrpController::write_metrics(MetricsWriter& out) const {
  out.family("fulcrum_vrrp_state", "gauge",
             "VRRP instance state: 0 initialize, 1 backup, 2 master, 3 fault");
  out.family("fulcrum_vrrp_priority", "gauge", "Configured VRRP priority");
  out.family("fulcrum_vrrp_effective_priority", "gauge",
             "VRRP priority advertised now (after tracking)");
  out.family("fulcrum_vrrp_transitions_total", "counter", "VRRP state changes");
  out.family("fulcrum_vrrp_adverts_sent_total", "counter", "VRRP advertisements sent");
  out.family("fulcrum_vrrp_adverts_received_total", "counter",
             "VRRP advertisements accepted by the state machine");
  out.family("fulcrum_vrrp_adverts_dropped_total", "counter",
             "VRRP frames that changed nothing, by reason (instance empty: no instance matched)");
  for (const auto& inst : instances_) {
    const MetricLabels l{{"instance", inst->config.name}};
    const VrrpInstance& m = inst->machine;
    out.sample("fulcrum_vrrp_state", l, state_number(m.state()));
    out.sample("fulcrum_vrrp_priority", l, inst->config.priority);
    out.sample("fulcrum_vrrp_effective_priority", l, m.effective_priority());
    out.sample("fulcrum_vrrp_transitions_total", l, m.counters().transitions);
    out.sample("fulcrum_vrrp_adverts_sent_total", l, m.counters().adverts_sent);
    out.sample("fulcrum_vrrp_adverts_received_total", l, m.counters().adverts_received);
    for (const auto& [reason, n] : inst->drops) {
      out.sample("fulcrum_vrrp_adverts_dropped_total",
                 {{"instance", inst->config.name}, {"reason", reason}}, n);
    }
  }
  for (const auto& [reason, n] : drops_) {
    out.sample("fulcrum_vrrp_adverts_dropped_total", {{"instance", ""}, {"reason", reason}}, n);
  }
}

}  // namespace fulcrum
