// SPDX-License-Identifier: Apache-2.0
#include "daemon.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "arp_frames.h"
#include "dpdk_port.h"
#include "eal_args.h"
#include "kernel_interface.h"
#include "lcore_worker.h"
#include "neighbor_table.h"
#include "pipeline.h"
#include "service_specs.h"
#include "snapshot_builder.h"
#include "snapshot_publisher.h"

namespace fulcrum {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
std::atomic<bool> g_dump{false};
static_assert(std::atomic<bool>::is_always_lock_free);

constexpr uint16_t kBurst = 32;
constexpr unsigned kRingSize = 1024;
constexpr uint32_t kGarpRepeats = 3;
constexpr uint64_t kGarpSpacingMs = 100;
constexpr uint64_t kNeighborTickMs = 100;

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

class Node {
 public:
  Node(Config config, const DaemonOptions& options)
      : config_(std::move(config)), options_(options), port_cfg_(config_.ports.front()) {}
  ~Node() { shutdown(); }

  bool start();
  void control_loop();

 private:
  void shutdown();
  void publish_tables(const char* why);
  void exception_path();
  void neighbor_tick(uint64_t now);
  void send_arp(Ipv4Be sender, Ipv4Be target, bool gratuitous);
  void reload();
  void warn_unserved_features() const;
  void log_counters() const;

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
  NeighborTable neighbors_;
  uint64_t version_ = 0;
  bool last_link_up_ = false;
};

bool Node::start() {
  if (config_.ports.size() != 1) {
    FULCRUM_LOG(kError, "%s: this version drives exactly one [[port]] (%zu configured)",
                config_.where(config_.ports.size() > 1 ? config_.ports[1].line : 0).c_str(),
                config_.ports.size());
    return false;
  }
  warn_unserved_features();
  std::vector<std::string> eal = build_eal_args(config_, options_.program);
  if (options_.log_level < LogLevel::kDebug) eal.insert(eal.begin() + 1, "--log-level=4");
  std::string cmdline;
  for (const auto& a : eal) cmdline += " " + a;
  FULCRUM_LOG(kInfo, "starting EAL:%s", cmdline.c_str());
  std::string error;
  if (!eal_start(eal, error)) {
    FULCRUM_LOG(kError, "%s", error.c_str());
    return false;
  }
  eal_up_ = true;
  const uint16_t workers = static_cast<uint16_t>(config_.dataplane.workers);
  if (rte_lcore_count() < static_cast<unsigned>(workers) + 1) {
    FULCRUM_LOG(kError, "%s: dataplane.workers = %u needs %u lcores, EAL has %u",
                config_.where(config_.dataplane.line).c_str(), workers, workers + 1,
                rte_lcore_count());
    return false;
  }

  pool_ = create_mbuf_pool("fulcrum_mbufs", 8191U + 4096U * workers, error);
  if (pool_ == nullptr) {
    FULCRUM_LOG(kError, "%s", error.c_str());
    return false;
  }
  const std::string dev = port_device_name(port_cfg_);
  if (!eth_port_start(dev, workers, workers, pool_, port_, error)) {
    FULCRUM_LOG(kError, "%s: port '%s': %s", config_.where(port_cfg_.line).c_str(),
                port_cfg_.name.c_str(), error.c_str());
    return false;
  }
  port_up_ = true;
  if (port_.rx_queues < workers || port_.tx_queues < workers) {
    FULCRUM_LOG(kError,
                "%s: port '%s': device %s offers %u RX / %u TX queues, dataplane.workers = %u "
                "needs one each per worker (af_xdp: queue_count=N, af_packet: qpairs=N)",
                config_.where(port_cfg_.line).c_str(), port_cfg_.name.c_str(), dev.c_str(),
                port_.rx_queues, port_.tx_queues, workers);
    return false;
  }
  if (port_cfg_.mac) {
    rte_ether_addr mac;
    std::memcpy(mac.addr_bytes, port_cfg_.mac->bytes.data(), 6);
    if (int rc = rte_eth_dev_default_mac_addr_set(port_.id, &mac); rc != 0) {
      FULCRUM_LOG(kError, "%s: port '%s': device %s cannot take MAC %s (%s)",
                  config_.where(port_cfg_.line).c_str(), port_cfg_.name.c_str(), dev.c_str(),
                  port_cfg_.mac->to_string().c_str(), rte_strerror(-rc));
      return false;
    }
    port_.mac = *port_cfg_.mac;
  }
  FULCRUM_LOG(kInfo, "port %s: %s (%s), MAC %s, %u queue(s)%s", port_cfg_.name.c_str(),
              dev.c_str(), port_.driver.c_str(), port_.mac.to_string().c_str(), port_.rx_queues,
              port_.rss ? ", RSS" : "");

  // Exception path: a tap that speaks with the port's MAC and holds the node's address.
  if (!eth_port_start(tap_device_name(port_cfg_), 1, 1, pool_, tap_, error)) {
    FULCRUM_LOG(kError, "exception path for port '%s': %s", port_cfg_.name.c_str(),
                error.c_str());
    return false;
  }
  tap_up_ = true;
  rte_ether_addr mac;
  std::memcpy(mac.addr_bytes, port_.mac.bytes.data(), 6);
  if (int rc = rte_eth_dev_default_mac_addr_set(tap_.id, &mac); rc != 0) {
    FULCRUM_LOG(kError, "exception path %s: cannot set MAC: %s",
                port_cfg_.kernel_interface.c_str(), rte_strerror(-rc));
    return false;
  }
  if (!configure_kernel_interface(port_cfg_.kernel_interface, port_cfg_.address,
                                  port_cfg_.prefix_len, port_cfg_.gateway, error)) {
    FULCRUM_LOG(kError, "exception path: %s", error.c_str());
    return false;
  }
  FULCRUM_LOG(kInfo, "exception path: kernel interface %s holds %s/%u",
              port_cfg_.kernel_interface.c_str(), ipv4_to_string(port_cfg_.address).c_str(),
              port_cfg_.prefix_len);

  rings_.to_kernel = rte_ring_create("fulcrum_to_kernel", kRingSize, rte_socket_id(),
                                     RING_F_SC_DEQ);
  rings_.to_port = rte_ring_create("fulcrum_to_port", kRingSize, rte_socket_id(),
                                   RING_F_SP_ENQ | RING_F_SC_DEQ);
  for (uint16_t w = 0; w < workers; ++w) {
    rings_.handoff.push_back(rte_ring_create(("fulcrum_handoff" + std::to_string(w)).c_str(),
                                             kRingSize, rte_socket_id(), RING_F_SC_DEQ));
  }
  if (rings_.to_kernel == nullptr || rings_.to_port == nullptr ||
      std::find(rings_.handoff.begin(), rings_.handoff.end(), static_cast<rte_ring*>(nullptr)) != rings_.handoff.end()) {
    FULCRUM_LOG(kError, "cannot create rings: %s", rte_strerror(rte_errno));
    return false;
  }

  publisher_ = std::make_unique<SnapshotPublisher>();
  neighbors_.want(next_hops_needed(config_, port_cfg_));
  publish_tables("start");

  running_ = true;
  uint16_t w = 0;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (w == workers) break;
    workers_.push_back(std::make_unique<Worker>(WorkerConfig{
        .worker_id = w, .worker_count = workers, .flow_capacity = config_.dataplane.flows_per_worker}));
    lcores_.push_back(std::make_unique<LcoreWorker>(
        LcoreWorkerConfig{.port_id = port_.id,
                          .queue = w,
                          .adaptive = config_.dataplane.poll == PollMode::kAdaptive,
                          .sends_kernel_frames = w == 0},
        *workers_.back(), *publisher_, rings_, running_));
    if (rte_eal_remote_launch(LcoreWorker::launch, lcores_.back().get(), lcore) != 0) {
      FULCRUM_LOG(kError, "cannot launch worker %u on lcore %u", w, lcore);
      return false;
    }
    launched_ = true;
    FULCRUM_LOG(kInfo, "worker %u on lcore %u, RX/TX queue %u, %u flow entries (%zu MiB)", w,
                lcore, w, workers_.back()->flows().capacity(),
                workers_.back()->flows().memory_bytes() >> 20);
    ++w;
  }
  return true;
}

void Node::warn_unserved_features() const {
  for (const ServiceConfig& svc : config_.services) {
    if (svc.check) {
      FULCRUM_LOG(kWarning,
                  "%s: service '%s': health checks are not run by this version; its backends "
                  "are treated as up",
                  config_.where(svc.check->line).c_str(), svc.name.c_str());
    }
    if (svc.pool == PoolMode::kStandby) {
      FULCRUM_LOG(kWarning,
                  "%s: service '%s': pool = \"standby\" is not served by this version; all "
                  "backends share the load",
                  config_.where(svc.line).c_str(), svc.name.c_str());
    }
  }
  for (const VrrpConfig& v : config_.vrrp) {
    FULCRUM_LOG(kWarning,
                "%s: vrrp '%s': VRRP is not run by this version; this node answers for every "
                "service VIP",
                config_.where(v.line).c_str(), v.name.c_str());
  }
  if (config_.announce) {
    FULCRUM_LOG(kWarning, "%s: [announce] is not served by this version",
                config_.where(config_.announce->line).c_str());
  }
}

void Node::publish_tables(const char* why) {
  NodeSpec node = node_spec(config_, port_cfg_, port_.mac);
  std::unique_ptr<Snapshot> snap;
  try {
    snap = build_snapshot(node, service_specs(config_, port_cfg_, neighbors_), ++version_);
  } catch (const std::exception& e) {
    FULCRUM_LOG(kError, "cannot build forwarding tables (%s): %s", why, e.what());
    return;
  }
  publisher_->publish(std::move(snap));
  FULCRUM_LOG(kInfo, "forwarding tables v%llu published (%s)",
              static_cast<unsigned long long>(version_), why);
}

void Node::send_arp(Ipv4Be sender, Ipv4Be target, bool gratuitous) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return;
  // Ethernet's minimum frame is 60 bytes before the FCS: pad with zeros.
  auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 60));
  std::memset(frame, 0, 60);
  if (gratuitous) {
    build_gratuitous_arp(frame, port_.mac, target);
  } else {
    build_arp_request(frame, port_.mac, sender, target);
  }
  if (rte_ring_sp_enqueue(rings_.to_port, m) != 0) rte_pktmbuf_free(m);
}

void Node::exception_path() {
  rte_mbuf* mbufs[kBurst];
  // Kernel -> port: worker 0 sends them on its own TX queue.
  const uint16_t n = rte_eth_rx_burst(tap_.id, 0, mbufs, kBurst);
  if (n > 0) {
    const unsigned queued =
        rte_ring_sp_enqueue_burst(rings_.to_port, reinterpret_cast<void**>(mbufs), n, nullptr);
    for (unsigned i = queued; i < n; ++i) rte_pktmbuf_free(mbufs[i]);
  }
  // Port -> kernel, learning next hops from the ARP frames on the way.
  const unsigned k =
      rte_ring_sc_dequeue_burst(rings_.to_kernel, reinterpret_cast<void**>(mbufs), kBurst, nullptr);
  bool changed = false;
  for (unsigned i = 0; i < k; ++i) {
    if (const auto s = arp_sender(rte_pktmbuf_mtod(mbufs[i], uint8_t*),
                                  rte_pktmbuf_data_len(mbufs[i]))) {
      if (neighbors_.learn(s->addr, s->mac, now_ms())) {
        FULCRUM_LOG(kInfo, "neighbour %s is at %s", ipv4_to_string(s->addr).c_str(),
                    s->mac.to_string().c_str());
        changed = true;
      }
    }
  }
  if (k > 0) {
    const uint16_t sent = rte_eth_tx_burst(tap_.id, 0, mbufs, static_cast<uint16_t>(k));
    for (unsigned i = sent; i < k; ++i) rte_pktmbuf_free(mbufs[i]);
  }
  if (changed) publish_tables("neighbour resolved");
}

void Node::neighbor_tick(uint64_t now) {
  for (const Ipv4Be hop : neighbors_.due_requests(now)) send_arp(port_cfg_.address, hop, false);
  if (neighbors_.expire(now)) publish_tables("neighbour expired");
  const bool link = eth_link_up(port_.id);
  if (link != last_link_up_) {
    log(link ? LogLevel::kNotice : LogLevel::kWarning, "port %s: link %s",
                port_cfg_.name.c_str(), link ? "up" : "down");
    last_link_up_ = link;
  }
}

void Node::reload() {
  FULCRUM_LOG(kNotice, "reloading %s", options_.config_path.c_str());
  LoadResult r = load_config_file(options_.config_path);
  if (!r.config) {
    for (const ConfigError& e : r.errors) FULCRUM_LOG(kError, "%s", e.to_string().c_str());
    FULCRUM_LOG(kError, "reload aborted: %zu error(s); still running the previous config",
                r.errors.size());
    return;
  }
  Config next = std::move(*r.config);
  if (next.ports.size() != 1 || next.ports[0].device != port_cfg_.device ||
      next.ports[0].address != port_cfg_.address ||
      next.dataplane.workers != config_.dataplane.workers ||
      next.dataplane.eal != config_.dataplane.eal ||
      next.dataplane.fnat_port_lo != config_.dataplane.fnat_port_lo ||
      next.dataplane.fnat_port_hi != config_.dataplane.fnat_port_hi) {
    FULCRUM_LOG(kWarning,
                "reload: changes to [dataplane] and [[port]] take effect at the next restart; "
                "applying the services");
    next.dataplane = config_.dataplane;
    next.ports = config_.ports;
  }
  config_ = std::move(next);
  warn_unserved_features();
  neighbors_.want(next_hops_needed(config_, port_cfg_));
  publish_tables("reload");
}

void Node::control_loop() {
  uint64_t next_neighbor_tick = 0;
  uint64_t next_garp = now_ms();
  uint32_t garps_left = kGarpRepeats;
  uint32_t idle_us = 1;
  while (!g_stop.load()) {
    const uint64_t now = now_ms();
    const unsigned before = rte_ring_count(rings_.to_kernel);
    exception_path();
    if (now >= next_neighbor_tick) {
      neighbor_tick(now);
      next_neighbor_tick = now + kNeighborTickMs;
    }
    if (garps_left > 0 && now >= next_garp) {
      // Announce the VIPs and the node's own address, so switches and neighbours learn us.
      for (const Ipv4Be vip : service_vips(config_)) send_arp(vip, vip, true);
      send_arp(port_cfg_.address, port_cfg_.address, true);
      --garps_left;
      next_garp = now + kGarpSpacingMs;
    }
    if (g_reload.exchange(false)) reload();
    if (g_dump.exchange(false)) log_counters();
    // Idle: back off up to 1 ms; the exception path is not the fast path.
    if (before == 0 && rte_ring_count(rings_.to_kernel) == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(idle_us));
      idle_us = idle_us * 2 > 1000 ? 1000 : idle_us * 2;
    } else {
      idle_us = 1;
    }
  }
}

void Node::log_counters() const {
  for (size_t i = 0; i < workers_.size(); ++i) {
    const Worker& w = *workers_[i];
    const CounterTotals t = sum_counters({&w.counters(), 1});
    const LoopStats& loop = lcores_[i]->stats();
    const uint64_t loops = loop.loops.load();
    FULCRUM_LOG(kInfo,
                "worker %u: rx %llu, forwarded %llu, replied %llu, to kernel %llu, from kernel "
                "%llu, dropped %llu, new flows %llu, busy %.1f%% of %llu loops",
                w.config().worker_id, static_cast<unsigned long long>(t.rx_packets),
                static_cast<unsigned long long>(t.forwarded),
                static_cast<unsigned long long>(t.replied),
                static_cast<unsigned long long>(t.to_kernel),
                static_cast<unsigned long long>(loop.from_kernel.load()),
                static_cast<unsigned long long>(t.dropped),
                static_cast<unsigned long long>(t.new_flows),
                loops ? 100.0 * static_cast<double>(loop.busy_loops.load()) /
                            static_cast<double>(loops)
                      : 0.0,
                static_cast<unsigned long long>(loops));
  }
  CounterTotals total;
  for (const auto& w : workers_) {
    const CounterTotals t = sum_counters({&w->counters(), 1});
    for (size_t r = 0; r < t.drops.size(); ++r) total.drops[r] += t.drops[r];
  }
  for (size_t r = 0; r < total.drops.size(); ++r) {
    if (total.drops[r] != 0) {
      FULCRUM_LOG(kInfo, "drop %s: %llu", to_string(static_cast<DropReason>(r)),
                  static_cast<unsigned long long>(total.drops[r]));
    }
  }
}

void Node::shutdown() {
  if (launched_) {
    running_ = false;
    rte_eal_mp_wait_lcore();
    launched_ = false;
  }
  log_counters();
  lcores_.clear();
  workers_.clear();
  publisher_.reset();
  if (tap_up_) eth_port_stop(tap_.id);
  if (port_up_) eth_port_stop(port_.id);
  tap_up_ = port_up_ = false;
  for (rte_ring* r : rings_.handoff) rte_ring_free(r);
  rings_.handoff.clear();
  rte_ring_free(rings_.to_kernel);
  rte_ring_free(rings_.to_port);
  rings_.to_kernel = rings_.to_port = nullptr;
  if (pool_ != nullptr) rte_mempool_free(pool_);
  pool_ = nullptr;
  if (eal_up_) eal_stop();
  eal_up_ = false;
}

}  // namespace

void request_stop() { g_stop.store(true); }
void request_reload() { g_reload.store(true); }
void request_counters_dump() { g_dump.store(true); }

int run_daemon(Config config, const DaemonOptions& options) {
  set_log_level(options.log_level);
  Node node(std::move(config), options);
  if (!node.start()) return 1;
  FULCRUM_LOG(kNotice, "running");
  node.control_loop();
  FULCRUM_LOG(kNotice, "stopping");
  return 0;
}

}  // namespace fulcrum
