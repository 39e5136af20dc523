// SPDX-License-Identifier: Apache-2.0
// Node: a running fulcrumd. Two control threads around the DPDK workers:
//  - the main lcore runs the exception path (kernel <-> port frames) as a tight poll loop;
//  - the control thread runs a Boost.Asio io_context: health checks, the runtime API, the
//    metrics endpoint, ARP resolution, table publishing, reloads and state persistence.
// Everything in ServiceState, the neighbour table and the publisher belongs to the control
// thread; the exception loop hands it what it learns with asio::post.
// Thread-safety: construct, start() and run() on the main thread; request_* from anywhere.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "announce_controller.h"
#include "api_server.h"
#include "config.h"
#include "daemon.h"
#include "dpdk_port.h"
#include "health_checker.h"
#include "lcore_worker.h"
#include "metrics_server.h"
#include "neighbor_table.h"
#include "pipeline.h"
#include "service_state.h"
#include "snapshot_publisher.h"
#include "vrrp_controller.h"

namespace fulcrum {

class Node {
 public:
  Node(Config config, const DaemonOptions& options);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  bool start();
  // Runs the exception path until a stop is requested; then stops the control thread.
  void run();

 private:
  // Control thread.
  void publish_tables(const char* why);
  void tick();
  void schedule_tick();
  void on_health(const CheckTargetKey& key, Health old_state, Health new_state,
                 const CheckResult& result);
  void reset_backend(const std::string& service, Ipv4Be addr, uint16_t port);
  void send_arp(Ipv4Be sender, Ipv4Be target, bool gratuitous);
  bool reload(std::string& message);
  void apply_services();
  void save_state();
  void load_state();
  uint16_t stat_id_for(const std::string& service, Ipv4Be addr, uint16_t port);
  void update_announcements();
  void check_rx_stall();
  void start_vrrp();
  void update_vrrp_tracking();
  void send_frame(const std::vector<uint8_t>& frame);
  void log_counters() const;

  // The API and metrics (node_api.cc).
  nlohmann::json handle_request(const nlohmann::json& request);
  nlohmann::json list_reply() const;
  nlohmann::json stats_reply() const;
  std::string metrics_text() const;

  // Main lcore.
  void exception_path();
  void withdraw_before_stop();
  void shutdown();

  Config config_;
  DaemonOptions options_;
  PortConfig port_cfg_;
  bool eal_up_ = false;
  rte_mempool* pool_ = nullptr;
  EthPortInfo port_;
  EthPortInfo tap_;
  bool port_up_ = false, tap_up_ = false;
  WorkerRings rings_;
  std::atomic<bool> running_{false};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<LcoreWorker>> lcores_;
  bool launched_ = false;
  std::unique_ptr<SnapshotPublisher> publisher_;

  boost::asio::io_context io_;
  std::thread control_;
  std::unique_ptr<boost::asio::steady_timer> tick_timer_;
  std::unique_ptr<HealthChecker> health_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<MetricsServer> metrics_;
  std::unique_ptr<VrrpController> vrrp_;
  // Set by the control thread while some [[vrrp]] instance runs: the exception path then takes
  // VRRP frames away from the kernel and hands them to vrrp_.
  std::atomic<bool> vrrp_active_{false};
  std::unique_ptr<AnnounceController> announcer_;  // while [announce] is (or was) configured
  bool dataplane_ready_ = false;                   // workers run: VIPs may be announced
  bool stopping_ = false;                          // a clean stop: withdraw everything
  ServiceState state_;
  NeighborTable neighbors_;
  uint64_t version_ = 0;
  bool last_link_up_ = false;
  uint64_t rx_missed_last_ = 0, rx_packets_last_ = 0;
  uint32_t garps_left_ = 3;
  std::map<std::tuple<std::string, Ipv4Be, uint16_t>, uint16_t> stat_ids_;
  uint16_t next_stat_id_ = 0;
  std::map<uint16_t, uint64_t> opened_at_last_rate_;  // per stat_id, for new-flow rates
  std::map<uint16_t, double> new_flow_rate_;
  std::vector<std::pair<uint64_t, uint64_t>> loops_at_last_rate_;  // per worker: loops, busy
  std::vector<double> busy_ratio_;                                 // per worker, last second
  uint64_t ticks_ = 0;
  std::string saved_state_;  // what the state file holds, to write only on change
};

}  // namespace fulcrum
