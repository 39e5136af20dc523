// SPDX-License-Identifier: Apache-2.0
#include "vrrp_instance.h"

#include <algorithm>

namespace fulcrum {
namespace {

uint8_t clamp_priority(int base, int delta) {
  if (delta <= 0) return static_cast<uint8_t>(std::clamp(base, 1, 255));
  return static_cast<uint8_t>(std::clamp(base - delta, 1, 254));
}

}  // namespace

std::string_view to_string(VrrpState state) {
  switch (state) {
    case VrrpState::kInitialize:
      return "INIT";
    case VrrpState::kBackup:
      return "BACKUP";
    case VrrpState::kMaster:
      return "MASTER";
    case VrrpState::kFault:
      return "FAULT";
  }
  return "UNKNOWN";
}

std::string_view to_string(VrrpActionType type) {
  switch (type) {
    case VrrpActionType::kSendAdvert:
      return "send-advert";
    case VrrpActionType::kBecomeMaster:
      return "become-master";
    case VrrpActionType::kBecomeBackup:
      return "become-backup";
    case VrrpActionType::kBecomeFault:
      return "become-fault";
    case VrrpActionType::kReannounce:
      return "reannounce";
  }
  return "unknown";
}

VrrpInstance::VrrpInstance(const VrrpInstanceConfig& config)
    : config_(config),
      effective_priority_(clamp_priority(config.priority, 0)),
      master_adver_interval_(config.advert_interval) {}

VrrpInstance::Clock::duration VrrpInstance::skew_time() const {
  const int64_t weight = 256 - effective_priority_;
  if (config_.version == 2) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(weight)) / 256;
  }
  return std::chrono::duration_cast<Clock::duration>(master_adver_interval_) * weight / 256;
}

VrrpInstance::Clock::duration VrrpInstance::master_down_interval() const {
  const auto interval = config_.version == 2 ? config_.advert_interval : master_adver_interval_;
  return 3 * std::chrono::duration_cast<Clock::duration>(interval) + skew_time();
}

std::optional<VrrpInstance::TimePoint> VrrpInstance::next_deadline() const {
  switch (state_) {
    case VrrpState::kMaster:
      return adver_at_;
    case VrrpState::kBackup:
      if (preempt_at_ && master_down_at_) return std::min(*preempt_at_, *master_down_at_);
      return master_down_at_ ? master_down_at_ : preempt_at_;
    case VrrpState::kInitialize:
    case VrrpState::kFault:
      return std::nullopt;
  }
  return std::nullopt;
}

vrrp::Advert VrrpInstance::make_advert(uint8_t priority, const std::vector<Ipv4Be>& vips) const {
  vrrp::Advert advert;
  advert.version = config_.version;
  advert.vrid = config_.vrid;
  advert.priority = priority;
  advert.interval = config_.advert_interval;
  advert.addresses = vips;
  return advert;
}

void VrrpInstance::set_state(VrrpState next) {
  if (next == state_) return;
  state_ = next;
  ++counters_.transitions;
  switch (next) {
    case VrrpState::kMaster:
      ++counters_.became_master;
      break;
    case VrrpState::kBackup:
      ++counters_.became_backup;
      break;
    case VrrpState::kFault:
      ++counters_.became_fault;
      break;
    case VrrpState::kInitialize:
      break;
  }
}

void VrrpInstance::send_advert(uint8_t priority, TimePoint now, VrrpActions& out) {
  out.push_back({VrrpActionType::kSendAdvert, priority});
  ++counters_.adverts_sent;
  if (priority == 0) ++counters_.priority_zero_sent;
  if (priority != 0) adver_at_ = now + config_.advert_interval;
}

void VrrpInstance::enter_master(TimePoint now, VrrpActions& out) {
  master_down_at_.reset();
  preempt_at_.reset();
  send_advert(effective_priority_, now, out);
  out.push_back({VrrpActionType::kBecomeMaster, 0});
  master_address_ = config_.self_address;
  set_state(VrrpState::kMaster);
}

void VrrpInstance::enter_backup(TimePoint now, VrrpActions& out, bool announce) {
  adver_at_.reset();
  preempt_at_.reset();
  master_down_at_ = now + master_down_interval();
  if (announce) out.push_back({VrrpActionType::kBecomeBackup, 0});
  set_state(VrrpState::kBackup);
}

bool VrrpInstance::higher_than_us(const vrrp::Advert& advert, Ipv4Be src) const {
  if (advert.priority != effective_priority_) return advert.priority > effective_priority_;
  return be32_to_host(src) > be32_to_host(config_.self_address);
}

VrrpActions VrrpInstance::start(TimePoint now) {
  VrrpActions out;
  if (state_ != VrrpState::kInitialize) return out;
  master_adver_interval_ = config_.advert_interval;
  if (fault_) {
    set_state(VrrpState::kFault);
    out.push_back({VrrpActionType::kBecomeFault, 0});
  } else if (effective_priority_ == 255) {
    enter_master(now, out);
  } else {
    enter_backup(now, out, /*announce=*/true);
  }
  return out;
}

VrrpActions VrrpInstance::shutdown(TimePoint now) {
  VrrpActions out;
  if (state_ == VrrpState::kMaster) {
    send_advert(0, now, out);
    out.push_back({VrrpActionType::kBecomeBackup, 0});
  }
  adver_at_.reset();
  master_down_at_.reset();
  preempt_at_.reset();
  master_address_ = 0;
  set_state(VrrpState::kInitialize);
  return out;
}

VrrpActions VrrpInstance::receive(const vrrp::Advert& advert, Ipv4Be src, TimePoint now) {
  VrrpActions out;
  const bool wrong_interval =
      config_.version == 2 &&
      std::chrono::duration_cast<std::chrono::seconds>(advert.interval) !=
          std::chrono::duration_cast<std::chrono::seconds>(config_.advert_interval);
  if (advert.vrid != config_.vrid || advert.version != config_.version || wrong_interval ||
      src == config_.self_address ||
      (state_ != VrrpState::kBackup && state_ != VrrpState::kMaster)) {
    ++counters_.adverts_ignored;
    return out;
  }
  ++counters_.adverts_received;
  if (advert.priority == 0) ++counters_.priority_zero_received;

  if (state_ == VrrpState::kBackup) {
    if (advert.priority == 0) {
      // The master is leaving: take over after Skew_Time instead of Master_Down_Interval.
      master_down_at_ = now + skew_time();
      return out;
    }
    if (!config_.preempt || advert.priority >= effective_priority_) {
      if (config_.version == 3) master_adver_interval_ = advert.interval;
      master_down_at_ = now + master_down_interval();
      master_address_ = src;
      preempt_at_.reset();
      return out;
    }
    // Preempt: a lower-priority master. Take over now, or once the hold-off has passed.
    if (!preempt_at_) preempt_at_ = now + config_.preempt_delay;
    if (now >= *preempt_at_) {
      enter_master(now, out);
      return out;
    }
    // Holding off: keep following the current master meanwhile.
    if (config_.version == 3) master_adver_interval_ = advert.interval;
    master_down_at_ = now + master_down_interval();
    master_address_ = src;
    return out;
  }

  // Master.
  if (advert.priority == 0) {
    send_advert(effective_priority_, now, out);
    return out;
  }
  if (higher_than_us(advert, src)) {
    if (config_.version == 3) master_adver_interval_ = advert.interval;
    master_address_ = src;
    enter_backup(now, out, /*announce=*/true);
    return out;
  }
  // A lower master: split brain. Assert ourselves at once.
  send_advert(effective_priority_, now, out);
  out.push_back({VrrpActionType::kReannounce, 0});
  return out;
}

VrrpActions VrrpInstance::timer(TimePoint now) {
  VrrpActions out;
  if (state_ == VrrpState::kMaster) {
    if (adver_at_ && now >= *adver_at_) send_advert(effective_priority_, now, out);
  } else if (state_ == VrrpState::kBackup) {
    if ((master_down_at_ && now >= *master_down_at_) || (preempt_at_ && now >= *preempt_at_)) {
      enter_master(now, out);
    }
  }
  return out;
}

VrrpActions VrrpInstance::set_fault(bool fault, TimePoint now) {
  VrrpActions out;
  if (fault == fault_) return out;
  fault_ = fault;
  if (state_ == VrrpState::kInitialize) return out;  // applied at start()
  if (fault) {
    if (state_ == VrrpState::kMaster) send_advert(0, now, out);
    adver_at_.reset();
    master_down_at_.reset();
    preempt_at_.reset();
    master_address_ = 0;
    set_state(VrrpState::kFault);
    out.push_back({VrrpActionType::kBecomeFault, 0});
    return out;
  }
  master_adver_interval_ = config_.advert_interval;
  if (effective_priority_ == 255) {
    enter_master(now, out);
  } else {
    enter_backup(now, out, /*announce=*/true);
  }
  return out;
}

VrrpActions VrrpInstance::set_priority_delta(int delta, TimePoint now) {
  VrrpActions out;
  const uint8_t next = clamp_priority(config_.priority, delta);
  if (next == effective_priority_) return out;
  effective_priority_ = next;
  if (state_ == VrrpState::kMaster) {
    send_advert(effective_priority_, now, out);  // let a preempting peer see it now
  }
  // A backup's Master_Down_Interval changes with its skew; the running timer keeps its deadline
  // and the next advert from the master uses the new value.
  return out;
}

}  // namespace fulcrum
