// SPDX-License-Identifier: Apache-2.0
#include "node.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "arp_frames.h"
#include "eal_args.h"
#include "kernel_interface.h"
#include "log.h"
#include "service_specs.h"
#include "snapshot_builder.h"
#include "vrrp_frame.h"

namespace fulcrum {

namespace {

constexpr uint16_t kBurst = 32;
constexpr unsigned kRingSize = 1024;
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr uint64_t kTicksPerSecond = 10;

uint32_t port_seed() {
  static std::random_device device;
  return device();
}

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

BackendHealth to_backend_health(Health h) {
  switch (h) {
    case Health::kUp: return BackendHealth::kUp;
    case Health::kDown: return BackendHealth::kDown;
    case Health::kUnknown: break;
  }
  return BackendHealth::kUnknown;
}

}  // namespace

Node::Node(Config config, const DaemonOptions& options)
    : config_(std::move(config)), options_(options), port_cfg_(config_.ports.front()) {}

Node::~Node() { shutdown(); }

bool Node::start() {
  if (config_.ports.size() != 1) {
    FULCRUM_LOG(kError, "%s: this version drives exactly one [[port]] (%zu configured)",
                config_.where(config_.ports.size() > 1 ? config_.ports[1].line : 0).c_str(),
                config_.ports.size());
    return false;
  }
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

  const std::string dev = port_device_name(port_cfg_);
  const bool af_xdp = dev.rfind("net_af_xdp", 0) == 0;
  pool_ = create_mbuf_pool("fulcrum_mbufs", 8191U + 4096U * workers, af_xdp, error);
  if (pool_ == nullptr) {
    FULCRUM_LOG(kError, "%s", error.c_str());
    return false;
  }
  if (const uint32_t outside = af_xdp ? mbufs_outside_af_xdp_umem(pool_) : 0; outside != 0) {
    // The pool came in several memory chunks: net_af_xdp could not use some of its buffers,
    // and each one it posted would cost the receive queue a slot for good.
    FULCRUM_LOG(kError,
                "%s: port '%s': %u of %u packet buffers lie outside the AF_XDP UMEM (the pool "
                "is not one contiguous chunk); give EAL more contiguous memory (-m, hugepages)",
                config_.where(port_cfg_.line).c_str(), port_cfg_.name.c_str(), outside,
                pool_->populated_size);
    return false;
  }
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

  rings_.to_kernel =
      rte_ring_create("fulcrum_to_kernel", kRingSize, rte_socket_id(), RING_F_SC_DEQ);
  // Two producers: the exception loop (kernel frames) and the control thread (ARP).
  rings_.to_port = rte_ring_create("fulcrum_to_port", kRingSize, rte_socket_id(), RING_F_SC_DEQ);
  for (uint16_t w = 0; w < workers; ++w) {
    rings_.handoff.push_back(rte_ring_create(("fulcrum_handoff" + std::to_string(w)).c_str(),
                                             kRingSize, rte_socket_id(), RING_F_SC_DEQ));
    rings_.commands.push_back(rte_ring_create(("fulcrum_cmd" + std::to_string(w)).c_str(), 64,
                                              rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ));
  }
  const auto null_ring = static_cast<rte_ring*>(nullptr);
  if (rings_.to_kernel == nullptr || rings_.to_port == nullptr ||
      std::count(rings_.handoff.begin(), rings_.handoff.end(), null_ring) != 0 ||
      std::count(rings_.commands.begin(), rings_.commands.end(), null_ring) != 0) {
    FULCRUM_LOG(kError, "cannot create rings: %s", rte_strerror(rte_errno));
    return false;
  }

  // Control state before the first table: persisted writers, health checks, the API.
  state_.apply(config_);
  load_state();
  publisher_ = std::make_unique<SnapshotPublisher>();
  neighbors_.want(next_hops_needed(config_, port_cfg_));
  // Before the first table: VIPs that VRRP manages are not this node's until it is master.
  vrrp_ = std::make_unique<VrrpController>(
      io_, port_cfg_, port_.mac,
      VrrpHooks{.send_frame = [this](std::vector<uint8_t> frame) { send_frame(frame); },
                .vips_changed = [this](const std::string& why) { publish_tables(why.c_str()); },
                .send_garp = [this](Ipv4Be vip) { send_arp(vip, vip, true); },
                .peer_mac = [this](Ipv4Be peer) -> std::optional<MacAddr> {
                  const auto hop = next_hop(port_cfg_, peer);
                  return hop ? neighbors_.lookup(*hop) : std::nullopt;
                }});
  vrrp_->configure(config_);
  publish_tables("start");
  health_ = std::make_unique<HealthChecker>(
      io_, [this](const CheckTargetKey& key, Health old_state, Health new_state,
                  const CheckResult& result) { on_health(key, old_state, new_state, result); });
  health_->set_targets(check_targets(config_.services));
  try {
    api_ = std::make_unique<ApiServer>(
        io_, config_.api.socket,
        [this](const nlohmann::json& request) { return handle_request(request); });
    api_->start();
    FULCRUM_LOG(kInfo, "runtime API on %s", config_.api.socket.c_str());
  } catch (const std::exception& e) {
    FULCRUM_LOG(kError, "%s: api.socket: %s", config_.where(config_.api.line).c_str(), e.what());
    return false;
  }
  try {
    metrics_ = std::make_unique<MetricsServer>(io_, config_.api.metrics_host,
                                               config_.api.metrics_port,
                                               [this] { return metrics_text(); });
    metrics_->start();
    FULCRUM_LOG(kInfo, "metrics on http://%s/metrics", config_.api.metrics.c_str());
  } catch (const std::exception& e) {
    FULCRUM_LOG(kError, "%s: api.metrics: %s", config_.where(config_.api.line).c_str(),
                e.what());
    return false;
  }

  running_ = true;
  uint16_t w = 0;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (w == workers) break;
    workers_.push_back(std::make_unique<Worker>(WorkerConfig{
        .worker_id = w,
        .worker_count = workers,
        .flow_capacity = config_.dataplane.flows_per_worker,
        .fnat_port_start = static_cast<uint16_t>(port_seed())}));
    lcores_.push_back(std::make_unique<LcoreWorker>(
        LcoreWorkerConfig{.port_id = port_.id,
                          .queue = w,
                          .adaptive = config_.dataplane.poll == PollMode::kAdaptive,
                          .sends_kernel_frames = w == 0,
                          .pool = pool_},
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

  start_vrrp();
  // Only now may BGP draw traffic here: the workers forward with the first tables.
  dataplane_ready_ = true;
  if (config_.announce) {
    announcer_ = std::make_unique<AnnounceController>(*config_.announce);
    announcer_->start();
    update_announcements();
  }
  schedule_tick();
  control_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      FULCRUM_LOG(kError, "control thread: %s", e.what());
      request_stop();
    }
  });
  return true;
}

void Node::start_vrrp() {
  // The workers run: adverts sent from here on leave through worker 0's TX queue.
  last_link_up_ = eth_link_up(port_.id);
  log(last_link_up_ ? LogLevel::kNotice : LogLevel::kWarning, "port %s: link %s",
      port_cfg_.name.c_str(), last_link_up_ ? "up" : "down");
  update_vrrp_tracking();
  vrrp_->start();
  vrrp_active_ = !vrrp_->empty();
}

void Node::update_vrrp_tracking() {
  if (!vrrp_ || vrrp_->empty()) return;
  vrrp_->update_tracking([this](const std::string& name) { return state_.out_of_service(name); },
                         last_link_up_);
}

void Node::send_frame(const std::vector<uint8_t>& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return;
  auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())));
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    return;
  }
  std::memcpy(data, frame.data(), frame.size());
  if (rte_ring_mp_enqueue(rings_.to_port, m) != 0) rte_pktmbuf_free(m);
}

void Node::update_announcements() {
  if (!announcer_) return;
  announcer_->set_decisions(decide_announcements(
      config_.announce.value_or(AnnounceConfig{}), state_.services(),
      AnnounceInputs{
          .dataplane_ready = dataplane_ready_, .link_up = last_link_up_, .stopping = stopping_}));
}

uint16_t Node::stat_id_for(const std::string& service, Ipv4Be addr, uint16_t port) {
  const auto key = std::make_tuple(service, addr, port);
  const auto it = stat_ids_.find(key);
  if (it != stat_ids_.end()) return it->second;
  // Ids are never reused while the process lives (their counters would carry over), until
  // kMaxBackendStats backends have come and gone.
  const uint16_t id = next_stat_id_;
  next_stat_id_ = static_cast<uint16_t>((next_stat_id_ + 1) % kMaxBackendStats);
  stat_ids_[key] = id;
  return id;
}

void Node::publish_tables(const char* why) {
  NodeSpec node = node_spec(config_, port_cfg_, port_.mac);
  if (vrrp_) {
    const std::vector<Ipv4Be> owned = vrrp_->owned_vips();
    std::erase_if(node.vips, [&](Ipv4Be vip) {
      return vrrp_->manages(vip) && std::find(owned.begin(), owned.end(), vip) == owned.end();
    });
  }
  std::vector<ServiceSpec> specs = state_.specs(port_cfg_, neighbors_);
  for (ServiceSpec& svc : specs) {
    for (BackendSpec& b : svc.backends) b.stat_id = stat_id_for(svc.name, b.addr, b.port);
  }
  std::unique_ptr<Snapshot> snap;
  try {
    snap = build_snapshot(node, specs, ++version_);
  } catch (const std::exception& e) {
    FULCRUM_LOG(kError, "cannot build forwarding tables (%s): %s", why, e.what());
    return;
  }
  publisher_->publish(std::move(snap));
  FULCRUM_LOG(kInfo, "forwarding tables v%llu published (%s)",
              static_cast<unsigned long long>(version_), why);
  save_state();
  update_announcements();
}

void Node::on_health(const CheckTargetKey& key, Health, Health new_state,
                     const CheckResult& result) {
  (void)result;  // HealthChecker has logged the change with its reason
  if (!state_.set_health(key.service, key.address, key.port, to_backend_health(new_state))) {
    return;
  }
  publish_tables("health");
  update_vrrp_tracking();
  const ServiceConfig* svc = config_.find_service(key.service);
  if (new_state == Health::kDown && svc != nullptr && svc->on_down == OnDown::kReset) {
    reset_backend(key.service, key.address, key.port);
  }
}

void Node::reset_backend(const std::string& service, Ipv4Be addr, uint16_t port) {
  const uint16_t id = stat_id_for(service, addr, port);
  for (rte_ring* ring : rings_.commands) {
    if (rte_ring_sp_enqueue(ring, encode_command(WorkerCommand::kResetBackendFlows, id)) != 0) {
      FULCRUM_LOG(kWarning, "a worker's command ring is full: flows of %s:%u not reset",
                  ipv4_to_string(addr).c_str(), port);
    }
  }
  FULCRUM_LOG(kNotice, "service %s backend %s:%u: resetting its connections (on_down = reset)",
              service.c_str(), ipv4_to_string(addr).c_str(), port);
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
  if (rte_ring_mp_enqueue(rings_.to_port, m) != 0) rte_pktmbuf_free(m);
}

void Node::schedule_tick() {
  if (!tick_timer_) tick_timer_ = std::make_unique<boost::asio::steady_timer>(io_);
  tick_timer_->expires_after(kTick);
  tick_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    tick();
    schedule_tick();
  });
}

void Node::tick() {
  const uint64_t now = now_ms();
  ++ticks_;
  for (const Ipv4Be hop : neighbors_.due_requests(now)) send_arp(port_cfg_.address, hop, false);
  if (neighbors_.expire(now)) publish_tables("neighbour expired");
  if (garps_left_ > 0) {
    // Announce the VIPs and the node's own address, so switches and neighbours learn us. VRRP
    // announces its VIPs itself, when it becomes master.
    for (const Ipv4Be vip : service_vips(config_)) {
      if (!vrrp_->manages(vip)) send_arp(vip, vip, true);
    }
    send_arp(port_cfg_.address, port_cfg_.address, true);
    --garps_left_;
  }
  const bool link = eth_link_up(port_.id);
  if (link != last_link_up_) {
    log(link ? LogLevel::kNotice : LogLevel::kWarning, "port %s: link %s",
        port_cfg_.name.c_str(), link ? "up" : "down");
    last_link_up_ = link;
  }
  update_vrrp_tracking();
  update_announcements();
  if (ticks_ % kTicksPerSecond == 0) {
    check_rx_stall();
    // New flows per second per backend, for fulcrumctl list and the metrics.
    for (const auto& [key, id] : stat_ids_) {
      uint64_t opened = 0;
      for (const auto& w : workers_) opened += w->backend_counters(id).flows_opened.load();
      const auto last = opened_at_last_rate_.find(id);
      new_flow_rate_[id] = last == opened_at_last_rate_.end()
                               ? 0.0
                               : static_cast<double>(opened - last->second);
      opened_at_last_rate_[id] = opened;
    }
    loops_at_last_rate_.resize(lcores_.size());
    busy_ratio_.resize(lcores_.size());
    for (size_t i = 0; i < lcores_.size(); ++i) {
      const uint64_t loops = lcores_[i]->stats().loops.load();
      const uint64_t busy = lcores_[i]->stats().busy_loops.load();
      const auto [last_loops, last_busy] = loops_at_last_rate_[i];
      busy_ratio_[i] = loops > last_loops ? static_cast<double>(busy - last_busy) /
                                                static_cast<double>(loops - last_loops)
                                          : 0.0;
      loops_at_last_rate_[i] = {loops, busy};
    }
  }
  if (g_reload_requested().exchange(false)) {
    std::string message;
    reload(message);
  }
  if (g_dump_requested().exchange(false)) log_counters();
}

void Node::check_rx_stall() {
  // A receive path that drops everything it is offered while handing nothing to the workers
  // (net_af_xdp did, for good, when its pool did not fit the UMEM: create_mbuf_pool): say so
  // once a second while it lasts, since nothing else would tell the operator why the node went
  // deaf.
  rte_eth_stats es{};
  if (rte_eth_stats_get(port_.id, &es) != 0) return;
  const uint64_t missed = es.imissed - rx_missed_last_;
  const uint64_t received = es.ipackets - rx_packets_last_;
  rx_missed_last_ = es.imissed;
  rx_packets_last_ = es.ipackets;
  if (missed >= 100 && received * 10 < missed) {
    FULCRUM_LOG(kError,
                "port %s: receive overrun or stalled: %llu frames missed and %llu received in "
                "the last second (%u of %u packet buffers free)",
                port_cfg_.name.c_str(), static_cast<unsigned long long>(missed),
                static_cast<unsigned long long>(received), rte_mempool_avail_count(pool_),
                pool_->size);
  }
}

void Node::apply_services() {
  state_.apply(config_);
  neighbors_.want(next_hops_needed(config_, port_cfg_));
  health_->set_targets(check_targets(config_.services));
}

bool Node::reload(std::string& message) {
  FULCRUM_LOG(kNotice, "reloading %s", options_.config_path.c_str());
  LoadResult r = load_config_file(options_.config_path);
  if (!r.config) {
    for (const ConfigError& e : r.errors) FULCRUM_LOG(kError, "%s", e.to_string().c_str());
    message = "reload aborted: " + std::to_string(r.errors.size()) +
              " error(s) in " + options_.config_path + "; still running the previous config";
    if (!r.errors.empty()) message += " (first: " + r.errors.front().to_string() + ")";
    FULCRUM_LOG(kError, "%s", message.c_str());
    return false;
  }
  Config next = std::move(*r.config);
  std::string note;
  if (next.ports.size() != 1 || next.ports[0].device != port_cfg_.device ||
      next.ports[0].address != port_cfg_.address ||
      next.dataplane.workers != config_.dataplane.workers ||
      next.dataplane.eal != config_.dataplane.eal ||
      next.dataplane.fnat_port_lo != config_.dataplane.fnat_port_lo ||
      next.dataplane.fnat_port_hi != config_.dataplane.fnat_port_hi ||
      next.api.socket != config_.api.socket || next.api.metrics != config_.api.metrics) {
    note = "; changes to [dataplane], [[port]] and [api] take effect at the next restart";
    FULCRUM_LOG(kWarning, "reload%s", note.c_str());
    next.dataplane = config_.dataplane;
    next.ports = config_.ports;
    next.api = config_.api;
  }
  config_ = std::move(next);
  apply_services();
  update_vrrp_tracking();
  if (const std::string restarted = vrrp_->reconfigure(config_); !restarted.empty()) {
    note += "; " + restarted;
  }
  vrrp_active_ = !vrrp_->empty();
  if (config_.announce && !announcer_) {
    announcer_ = std::make_unique<AnnounceController>(*config_.announce);
    announcer_->start();
  } else if (announcer_) {
    announcer_->reconfigure(config_.announce);
  }
  publish_tables("reload");
  message = "reloaded " + options_.config_path + ": " + std::to_string(config_.services.size()) +
            " service(s)" + note;
  return true;
}

void Node::load_state() {
  std::ifstream in(config_.api.state_file);
  if (!in) return;  // first start, or no state kept: writers are chosen afresh
  std::stringstream text;
  text << in.rdbuf();
  saved_state_ = text.str();
  const auto writers = parse_writers(saved_state_);
  state_.restore_writers(writers);
  for (const auto& [service, backend] : writers) {
    FULCRUM_LOG(kInfo, "service %s: writer %s:%u restored from %s", service.c_str(),
                ipv4_to_string(backend.first).c_str(), backend.second,
                config_.api.state_file.c_str());
  }
}

void Node::save_state() {
  const std::string text = format_writers(state_.writers());
  if (text == saved_state_) return;
  // Write then rename: a crash mid-write never leaves a half file.
  const std::filesystem::path path(config_.api.state_file);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  const std::string tmp = config_.api.state_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) {
      FULCRUM_LOG(kWarning, "cannot write %s", tmp.c_str());
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    FULCRUM_LOG(kWarning, "cannot write %s: %s", config_.api.state_file.c_str(),
                ec.message().c_str());
    return;
  }
  saved_state_ = text;
}

void Node::exception_path() {
  rte_mbuf* mbufs[kBurst];
  // Kernel -> port: worker 0 sends them on its own TX queue.
  const uint16_t n = rte_eth_rx_burst(tap_.id, 0, mbufs, kBurst);
  if (n > 0) {
    const unsigned queued =
        rte_ring_mp_enqueue_burst(rings_.to_port, reinterpret_cast<void**>(mbufs), n, nullptr);
    for (unsigned i = queued; i < n; ++i) rte_pktmbuf_free(mbufs[i]);
  }
  // Port -> kernel; the ARP frames on the way tell the control thread where next hops are, and
  // VRRP frames go to the control thread instead of the kernel.
  const unsigned got =
      rte_ring_sc_dequeue_burst(rings_.to_kernel, reinterpret_cast<void**>(mbufs), kBurst, nullptr);
  const bool vrrp = vrrp_active_.load(std::memory_order_relaxed);
  unsigned k = 0;
  for (unsigned i = 0; i < got; ++i) {
    const uint8_t* data = rte_pktmbuf_mtod(mbufs[i], const uint8_t*);
    const uint16_t len = rte_pktmbuf_data_len(mbufs[i]);
    if (vrrp && vrrp::is_vrrp_frame(data, len)) {
      boost::asio::post(io_, [this, frame = std::vector<uint8_t>(data, data + len)] {
        vrrp_->receive(frame.data(), frame.size());
      });
      rte_pktmbuf_free(mbufs[i]);
      continue;
    }
    mbufs[k++] = mbufs[i];
  }
  for (unsigned i = 0; i < k; ++i) {
    if (const auto s = arp_sender(rte_pktmbuf_mtod(mbufs[i], uint8_t*),
                                  rte_pktmbuf_data_len(mbufs[i]))) {
      boost::asio::post(io_, [this, sender = *s] {
        if (neighbors_.learn(sender.addr, sender.mac, now_ms())) {
          FULCRUM_LOG(kInfo, "neighbour %s is at %s", ipv4_to_string(sender.addr).c_str(),
                      sender.mac.to_string().c_str());
          publish_tables("neighbour resolved");
        }
      });
    }
  }
  if (k > 0) {
    const uint16_t sent = rte_eth_tx_burst(tap_.id, 0, mbufs, static_cast<uint16_t>(k));
    for (unsigned i = sent; i < k; ++i) rte_pktmbuf_free(mbufs[i]);
  }
}

void Node::run() {
  uint32_t idle_us = 1;
  while (!g_stop_requested().load()) {
    const unsigned before = rte_ring_count(rings_.to_kernel);
    exception_path();
    // Idle: back off up to 1 ms; the exception path is not the fast path.
    if (before == 0 && rte_ring_count(rings_.to_kernel) == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(idle_us));
      idle_us = idle_us * 2 > 1000 ? 1000 : idle_us * 2;
    } else {
      idle_us = 1;
    }
  }
  if (announcer_) withdraw_before_stop();
}

void Node::withdraw_before_stop() {
  // The routers must stop sending here before the data plane stops: withdraw, wait for BIRD to
  // confirm, then keep forwarding for stop_delay while the BGP withdrawal (which leaves through
  // the exception path, served by this loop) propagates.
  FULCRUM_LOG(kNotice, "stopping: withdrawing the announced VIPs first");
  boost::asio::post(io_, [this] {
    stopping_ = true;
    update_announcements();
  });
  const auto delay = announcer_->stop_delay();  // not config_: the control thread owns it
  const auto start = std::chrono::steady_clock::now();
  const auto confirm_by = start + std::chrono::seconds(3);
  std::optional<std::chrono::steady_clock::time_point> until;
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (!until && announcer_->withdrawn()) {
      until = now + delay;
      FULCRUM_LOG(kNotice, "stopping: BIRD withdrew the VIPs after %lld ms; forwarding %.1f s more",
                  static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             now - start).count()),
                  static_cast<double>(delay.count()) / 1000.0);
    }
    if (!until && now >= confirm_by) {
      FULCRUM_LOG(kWarning, "stopping: BIRD did not confirm the withdrawal within 3 s (see "
                  "fulcrumctl announce); stopping anyway");
      return;
    }
    if (until && now >= *until) return;
    exception_path();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void Node::shutdown() {
  // The control thread first: it publishes tables and sends commands to the workers. Once it
  // has returned, its objects are stopped from here (nothing else runs the io_context).
  if (control_.joinable()) {
    io_.stop();
    control_.join();
  }
  if (vrrp_ && launched_) {
    // A master leaves with priority 0, so its peer takes over after the skew time instead of
    // the master-down interval; the workers are still running to send that advert.
    vrrp_active_ = false;
    vrrp_->shutdown();
    for (int i = 0; i < 50 && rte_ring_count(rings_.to_port) != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  if (health_) health_->stop();
  if (api_) api_->stop();
  if (metrics_) metrics_->stop();
  if (tick_timer_) tick_timer_->cancel();
  if (launched_) {
    running_ = false;
    rte_eal_mp_wait_lcore();
    launched_ = false;
  }
  if (!workers_.empty()) log_counters();
  if (announcer_) announcer_->stop();
  announcer_.reset();
  health_.reset();
  vrrp_.reset();
  api_.reset();
  metrics_.reset();
  lcores_.clear();
  workers_.clear();
  publisher_.reset();
  if (tap_up_) eth_port_stop(tap_.id);
  if (port_up_) eth_port_stop(port_.id);
  tap_up_ = port_up_ = false;
  for (rte_ring* r : rings_.handoff) rte_ring_free(r);
  for (rte_ring* r : rings_.commands) rte_ring_free(r);
  rings_.handoff.clear();
  rings_.commands.clear();
  rte_ring_free(rings_.to_kernel);
  rte_ring_free(rings_.to_port);
  rings_.to_kernel = rings_.to_port = nullptr;
  if (pool_ != nullptr) rte_mempool_free(pool_);
  pool_ = nullptr;
  if (eal_up_) eal_stop();
  eal_up_ = false;
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

}  // namespace fulcrum
