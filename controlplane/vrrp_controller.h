// SPDX-License-Identifier: Apache-2.0
// VrrpController: runs a node's [[vrrp]] instances on the control thread's io_context. It turns
// frames from the port into events for each VrrpInstance (vrrp_instance.h), runs their timers,
// and carries out their actions through hooks the Node supplies: frames to send on the port,
// "the set of VIPs this node owns changed" (the Node publishes a new snapshot), gratuitous ARP,
// and the notify program (in order, on a NotifyRunner thread, never blocking a timer).
// Tracking (a tracked service without a usable backend, the port's link) lowers an instance's
// priority by track_priority_delta, or puts it in Fault when that delta is 0 or the link is down.
// Thread-safety: every call on the io_context's thread (the Node's control thread).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "notify_runner.h"
#include "prometheus.h"
#include "vrrp_instance.h"

namespace fulcrum {

struct VrrpHooks {
  // A whole Ethernet frame to send on the port.
  std::function<void(std::vector<uint8_t> frame)> send_frame;
  // owned_vips() changed; `why` names the instance and its new state.
  std::function<void(const std::string& why)> vips_changed;
  // One gratuitous ARP for `vip`.
  std::function<void(Ipv4Be vip)> send_garp;
  // The MAC to send a unicast advert to `peer` to (its own or its gateway's), if known.
  std::function<std::optional<MacAddr>(Ipv4Be peer)> peer_mac;
};

// Why a received VRRP frame changed nothing (besides the codec's vrrp::DropReason).
enum class VrrpFrameDrop : uint8_t {
  kMalformedIp,  // IPv4 header damaged or fragmented
  kUnknownVrid,  // no instance with that VRID on the port
  kNotPeer,      // unicast instance: the source is not one of unicast_peers
  kIgnored,      // the instance ignored it (own advert, v2 interval mismatch, not running)
};

class VrrpController {
 public:
  using Clock = std::chrono::steady_clock;

  // port: the [[port]] the instances run on (its address is the adverts' source).
  VrrpController(boost::asio::io_context& io, const PortConfig& port, const MacAddr& port_mac,
                 VrrpHooks hooks);
  ~VrrpController();
  VrrpController(const VrrpController&) = delete;
  VrrpController& operator=(const VrrpController&) = delete;

  // Creates the instances of `config` (not started). Once only.
  void configure(const Config& config);
  // A reload: notify, tracked services, GARP settings and track_priority_delta take effect at
  // once; an instance whose protocol settings (vrid, priority, interval, version, preempt,
  // peers, VIPs) changed is restarted through Initialize (a master leaves with priority 0 so a
  // peer takes over at once, then competes again). Instances gone are shut down, new ones start.
  // Returns a line for the reload message, empty when nothing was restarted.
  std::string reconfigure(const Config& config);

  void start();     // every instance: Initialize -> Backup (or Master as owner, or Fault)
  void shutdown();  // every instance leaves: a master sends priority 0 and drops its VIPs

  // A frame the exception path took away from the kernel because is_vrrp_frame() said so.
  void receive(const uint8_t* frame, size_t len);

  // Tracking inputs, evaluated now: `service_out(name)` is true when a service has no usable
  // backend; link_up is the port's link.
  void update_tracking(const std::function<bool(const std::string&)>& service_out, bool link_up);

  // VIPs of the instances that are Master now.
  std::vector<Ipv4Be> owned_vips() const;
  // True when `vip` belongs to some instance (its ownership follows VRRP).
  bool manages(Ipv4Be vip) const;
  bool empty() const { return instances_.empty(); }

  // {"instances": [...], "drops": {...}} for `fulcrumctl vrrp`.
  nlohmann::json status() const;
  void write_metrics(MetricsWriter& out) const;

 private:
  struct Instance;

  void run_actions(Instance& inst, const VrrpActions& actions, const char* cause);
  void send_advert(Instance& inst, uint8_t priority);
  void arm_timer(Instance& inst);
  void start_garp(Instance& inst);
  void garp_round(Instance& inst);
  void arm_refresh(Instance& inst);
  void notify(Instance& inst, VrrpState state);
  void apply_tracking(Instance& inst);
  std::shared_ptr<Instance> make_instance(const VrrpConfig& config);
  Instance* find_vrid(uint8_t vrid);

  boost::asio::io_context& io_;
  PortConfig port_;
  MacAddr port_mac_;
  VrrpHooks hooks_;
  std::vector<std::shared_ptr<Instance>> instances_;
  std::map<std::string, uint64_t> drops_;  // not attributable to an instance, by reason
  uint16_t ip_id_ = 0;
  bool link_up_ = true;
  std::function<bool(const std::string&)> service_out_;
  std::unique_ptr<NotifyRunner> notifier_;
};

std::string_view to_string(VrrpFrameDrop reason);

}  // namespace fulcrum
