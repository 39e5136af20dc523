// SPDX-License-Identifier: Apache-2.0
// The configuration file (TOML) of fulcrumd: loads it into a validated Config, or collects every
// problem as FILE:LINE: message (what `fulcrumd -c FILE --check` prints). Pure: no sockets, no EAL.
// Thread-safety: the loaders are pure functions; a Config is a plain value.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net_types.h"
#include "snapshot.h"

namespace fulcrum {

// One problem in a configuration file. line 0: the file as a whole (unreadable, no [[port]]).
struct ConfigError {
  std::string file;
  uint32_t line = 0;
  std::string message;

  // "FILE:LINE: message" ("FILE: message" when line is 0).
  std::string to_string() const;
};

enum class PollMode : uint8_t { kBusy, kAdaptive };
// kActive: every healthy backend takes new flows. kStandby: one at a time, in listed order.
enum class PoolMode : uint8_t { kActive, kStandby };
enum class CheckType : uint8_t { kTcp, kHttp, kMysql, kGalera };
// What happens to established flows of a backend that fails its health check.
enum class OnDown : uint8_t { kKeep, kReset };

const char* to_string(PollMode m);
const char* to_string(PoolMode m);
const char* to_string(CheckType t);
const char* to_string(OnDown d);

// Every struct below remembers the line where it starts in the file (its [[table]] header or
// its inline table), so later code can report FILE:LINE for runtime problems; 0 when absent.

struct DataplaneConfig {
  uint32_t workers = 1;
  PollMode poll = PollMode::kAdaptive;
  uint32_t flows_per_worker = 1048576;
  std::vector<std::string> eal;  // extra EAL arguments, passed as given
  uint16_t fnat_port_lo = 1024;  // FNAT source ports, inclusive, split between workers
  uint16_t fnat_port_hi = 32767;
  uint32_t line = 0;
};

struct PortConfig {
  std::string name;
  std::string device;  // DPDK vdev spec ("net_af_xdp0,iface=lb0-0") or PCI address
  Ipv4Be address = 0;  // this node's own address on the port
  uint8_t prefix_len = 0;
  std::optional<Ipv4Be> gateway;
  std::string kernel_interface;  // exception-path interface; default "fulcrum-" + name, cut to 15
  std::optional<MacAddr> mac;    // unset: the device's own MAC
  uint32_t line = 0;

  bool is_pci() const;
  // True when addr is inside this port's subnet (address/prefix_len).
  bool in_subnet(Ipv4Be addr) const;
};

struct ApiConfig {
  std::string socket = "/run/fulcrum/api.sock";
  // Runtime state kept across restarts (the standby pools' current writers).
  std::string state_file = "/var/lib/fulcrum/state.json";
  std::string metrics = "127.0.0.1:9108";  // as written
  std::string metrics_host = "127.0.0.1";  // IPv6 without its brackets
  uint16_t metrics_port = 9108;
  uint32_t line = 0;
};

struct CheckConfig {
  CheckType type = CheckType::kTcp;
  std::optional<uint16_t> port;  // unset: each backend's own port
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds timeout{1000};
  uint32_t rise = 2;
  uint32_t fall = 3;
  std::string path = "/";  // http
  uint16_t expect = 200;   // http
  std::string user;        // mysql (optional), galera (required)
  std::string password;
  std::optional<std::string> query;  // mysql, galera
  bool allow_donor = false;          // galera
  uint32_t line = 0;
};

struct BackendConfig {
  Ipv4Be address = 0;
  uint16_t port = 0;  // host order; default: the service's port
  uint16_t weight = 1;
  uint32_t line = 0;
};

struct ServiceConfig {
  std::string name;
  Ipv4Be vip = 0;
  uint16_t port = 0;  // host order
  IpProto protocol = IpProto::kTcp;
  Scheduler scheduler = Scheduler::kMaglev;
  ForwardMode forward = ForwardMode::kFnat;
  PoolMode pool = PoolMode::kActive;
  bool failback = true;  // default: true for active pools, false for standby pools
  OnDown on_down = OnDown::kKeep;
  GonePolicy on_gone = GonePolicy::kRechoose;
  std::optional<CheckConfig> check;  // unset: no health check, backends are always up
  std::vector<BackendConfig> backends;
  uint32_t line = 0;
};

struct VrrpConfig {
  std::string name;
  std::string port;  // a PortConfig name
  uint8_t vrid = 0;
  uint8_t priority = 100;
  std::chrono::milliseconds advert_interval{1000};
  uint8_t version = 3;
  bool preempt = false;
  std::chrono::milliseconds preempt_delay{0};
  std::vector<Ipv4Be> unicast_peers;  // empty: multicast 224.0.0.18
  std::vector<Ipv4Be> vips;
  std::vector<std::string> track_services;
  std::optional<std::string> notify;  // script run with: INSTANCE STATE
  uint32_t garp_count = 5;
  std::chrono::milliseconds garp_interval{10};
  std::chrono::milliseconds garp_refresh{0};  // while master, GARP again this often (0: never)
  // Priority drop while a tracked service has no usable backend; 0: enter Fault instead
  // (keepalived's weight 0).
  uint8_t track_priority_delta = 50;
  uint32_t line = 0;
};

struct AnnounceVipConfig {
  Ipv4Be address = 0;
  std::string bird_protocol;
  uint32_t line = 0;
};

struct AnnounceConfig {
  std::string bird_socket = "/run/bird/bird.ctl";
  // Every VIP's wanted state is sent to BIRD again this often, so a restarted BIRD (whose
  // protocols start "disabled yes") catches up without being told.
  std::chrono::milliseconds reassert_interval{2000};
  // On a clean stop: how long to keep forwarding after BIRD confirmed the withdrawal, so the
  // routers move the flows to the other nodes before this one stops.
  std::chrono::milliseconds stop_delay{1000};
  std::vector<AnnounceVipConfig> vips;
  uint32_t line = 0;
};

struct Config {
  std::string source;  // the file name errors and runtime messages refer to
  DataplaneConfig dataplane;
  std::vector<PortConfig> ports;
  ApiConfig api;
  std::vector<ServiceConfig> services;
  std::vector<VrrpConfig> vrrp;
  std::optional<AnnounceConfig> announce;

  const PortConfig* find_port(std::string_view name) const;
  const ServiceConfig* find_service(std::string_view name) const;
  // "FILE:LINE" for messages about something defined at that line.
  std::string where(uint32_t line) const;
};

struct LoadResult {
  std::optional<Config> config;     // set only when errors is empty
  std::vector<ConfigError> errors;  // every problem found, sorted by line
};

LoadResult load_config_file(const std::string& path);
LoadResult load_config_string(std::string_view text, const std::string& source_name);

}  // namespace fulcrum
