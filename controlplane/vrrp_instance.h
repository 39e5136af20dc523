// SPDX-License-Identifier: Apache-2.0
// One VRRP virtual router as a pure state machine (RFC 5798 section 6.4; RFC 3768 timers when
// version 2): every event is a call that takes the current time and returns the actions the
// caller must carry out (send an advertisement, take or drop the VIPs, re-announce them).
// No sockets and no clock: the caller owns the socket, sends/receives packets (vrrp_packet.h),
// and calls timer() at next_deadline().
//
// Beyond the RFC:
//  - preempt = false is the default (keepalived's nopreempt): a backup never takes over from a
//    master that keeps advertising, whatever its priority; it takes over only when the
//    master-down timer fires or the master sends priority 0.
//  - preempt = true takes over from a lower-priority master as soon as one of its adverts
//    is seen, or preempt_delay after the first such advert (hold-off), rather than waiting for
//    the master-down timer as the RFC's backup does.
//  - A master that hears a lower-priority (or equal-priority, lower-address) master answers at
//    once with its own advert and a kReannounce (gratuitous ARP again), to end a split brain.
//  - Fault (port down, tracked thing failed with fault semantics) leaves the VIPs; a master
//    going to fault first sends priority 0 so a backup takes over after Skew_Time.
//  - set_priority_delta() lowers the effective priority (tracking); a master re-advertises
//    right away so a preempting peer sees it.
//  - Adverts for another VRID or version, from our own address, or (v2) with an interval other
//    than ours are ignored and counted.
//
// Thread-safety: none; one VrrpInstance belongs to one thread (the control-plane loop).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "net_types.h"
#include "vrrp_packet.h"

namespace fulcrum {

struct VrrpInstanceConfig {
  uint8_t vrid = 1;
  uint8_t priority = 100;  // 1..254; 255: address owner (master at start); 0 is taken as 1
  std::chrono::milliseconds advert_interval{1000};
  bool preempt = false;
  std::chrono::milliseconds preempt_delay{0};
  uint8_t version = 3;      // 3 or 2
  Ipv4Be self_address = 0;  // our primary address on the segment (ties, own adverts)
};

enum class VrrpState : uint8_t { kInitialize, kBackup, kMaster, kFault };
std::string_view to_string(VrrpState state);  // "INIT", "BACKUP", "MASTER", "FAULT"

enum class VrrpActionType : uint8_t {
  kSendAdvert,    // send an advertisement with `priority` (0: we are leaving as master)
  kBecomeMaster,  // take the VIPs and send gratuitous ARP
  kBecomeBackup,  // drop the VIPs (also emitted when a master shuts down; see state())
  kBecomeFault,   // drop the VIPs; we are in fault
  kReannounce,    // still master: send gratuitous ARP for the VIPs again
};
std::string_view to_string(VrrpActionType type);

struct VrrpAction {
  VrrpActionType type = VrrpActionType::kSendAdvert;
  uint8_t priority = 0;  // kSendAdvert only

  bool operator==(const VrrpAction&) const = default;
};
using VrrpActions = std::vector<VrrpAction>;

struct VrrpCounters {
  uint64_t adverts_received = 0;  // accepted into the state machine
  uint64_t adverts_ignored = 0;   // wrong VRID / version / interval (v2), own, or not running
  uint64_t adverts_sent = 0;      // kSendAdvert actions issued
  uint64_t priority_zero_received = 0;
  uint64_t priority_zero_sent = 0;
  uint64_t transitions = 0;  // any change of state
  uint64_t became_master = 0;
  uint64_t became_backup = 0;
  uint64_t became_fault = 0;
};

class VrrpInstance {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  explicit VrrpInstance(const VrrpInstanceConfig& config);

  // Startup event: Initialize -> Master (effective priority 255) or Backup (or Fault if a fault
  // is set). Ignored when already started.
  VrrpActions start(TimePoint now);
  // Shutdown event: back to Initialize; a master sends priority 0 and drops its VIPs.
  VrrpActions shutdown(TimePoint now);
  // An advertisement decoded by vrrp::decode_advert, from IPv4 source `src` (network order).
  VrrpActions receive(const vrrp::Advert& advert, Ipv4Be src, TimePoint now);
  // Runs whatever timers are due at `now`; call it at next_deadline() (early calls are harmless).
  VrrpActions timer(TimePoint now);
  // Enters (true) or leaves (false) fault. Leaving goes to Backup (or Master when owner).
  VrrpActions set_fault(bool fault, TimePoint now);
  // Effective priority = configured priority - delta, kept in 1..254 (255 only with delta 0 for an
  // owner). A negative delta is taken as 0.
  VrrpActions set_priority_delta(int delta, TimePoint now);

  // When timer() must next be called; nullopt when no timer runs (Initialize, Fault).
  std::optional<TimePoint> next_deadline() const;

  VrrpState state() const { return state_; }
  uint8_t effective_priority() const { return effective_priority_; }
  // Source address of the master last accepted (self_address while we are master; 0 if none).
  Ipv4Be master_address() const { return master_address_; }
  const VrrpCounters& counters() const { return counters_; }
  const VrrpInstanceConfig& config() const { return config_; }
  bool fault() const { return fault_; }

  // RFC timers for the current effective priority and Master_Adver_Interval.
  Clock::duration skew_time() const;
  Clock::duration master_down_interval() const;
  std::chrono::milliseconds master_adver_interval() const { return master_adver_interval_; }

  // An advert ready for vrrp::encode_advert, for a kSendAdvert action.
  vrrp::Advert make_advert(uint8_t priority, const std::vector<Ipv4Be>& vips) const;

 private:
  void enter_master(TimePoint now, VrrpActions& out);
  void enter_backup(TimePoint now, VrrpActions& out, bool announce);
  void send_advert(uint8_t priority, TimePoint now, VrrpActions& out);
  void set_state(VrrpState next);
  bool higher_than_us(const vrrp::Advert& advert, Ipv4Be src) const;

  VrrpInstanceConfig config_;
  VrrpState state_ = VrrpState::kInitialize;
  bool fault_ = false;
  uint8_t effective_priority_;
  std::chrono::milliseconds master_adver_interval_;
  std::optional<TimePoint> master_down_at_;  // Backup
  std::optional<TimePoint> adver_at_;        // Master
  std::optional<TimePoint> preempt_at_;      // Backup with preempt: hold-off ends
  Ipv4Be master_address_ = 0;
  VrrpCounters counters_;
};

}  // namespace fulcrum
