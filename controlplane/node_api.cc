// SPDX-License-Identifier: Apache-2.0
// The runtime API's commands and the metrics page of a running Node.
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include <map>

#include "api_requests.h"
#include "log.h"
#include "node.h"
#include "prometheus.h"

namespace fulcrum {

namespace {

using nlohmann::json;

json error(const std::string& message) { return json{{"ok", false}, {"error", message}}; }

}  // namespace

json Node::handle_request(const json& request) {
  const std::string cmd = request.value("cmd", "");
  if (cmd == "list") return list_reply();
  if (cmd == "stats") return stats_reply();
  if (cmd == "vrrp") {
    json reply = vrrp_ ? vrrp_->status() : json{{"instances", json::array()}};
    reply["ok"] = true;
    return reply;
  }
  if (cmd == "announce") {
    json reply = announcer_ ? announcer_->status()
                            : json{{"configured", false}, {"vips", json::array()}};
    if (announcer_) reply["configured"] = config_.announce.has_value();
    reply["ok"] = true;
    return reply;
  }
  if (cmd == "reload") {
    std::string message;
    if (!reload(message)) return error(message);
    return json{{"ok", true}, {"message", message}};
  }
  if (is_backend_command(cmd)) {
    const auto parsed = parse_backend_command(request);
    if (const auto* err = std::get_if<std::string>(&parsed)) return error(*err);
    std::string message;
    if (const auto failure = apply_backend_command(state_, std::get<BackendCommand>(parsed),
                                                   message)) {
      return error(*failure);
    }
    FULCRUM_LOG(kNotice, "%s (fulcrumctl %s)", message.c_str(), cmd.c_str());
    publish_tables(cmd.c_str());
    return json{{"ok", true}, {"message", message}};
  }
  return error("unknown command '" + cmd +
               "' (list, stats, vrrp, announce, drain, enable, disable, weight, reload)");
}

json Node::list_reply() const {
  std::map<CheckTargetKey, TargetStatus> checks;
  if (health_) {
    for (TargetStatus& t : health_->status()) checks.emplace(t.key, std::move(t));
  }
  json services = json::array();
  for (const ServiceStatus& svc : state_.services()) {
    json backends = json::array();
    for (const BackendStatus& b : svc.backends) {
      uint64_t opened = 0, closed = 0, packets = 0, bytes = 0;
      const auto id = stat_ids_.find({svc.config.name, b.config.address, b.config.port});
      if (id != stat_ids_.end()) {
        for (const auto& w : workers_) {
          const BackendCounters& c = w->backend_counters(id->second);
          opened += c.flows_opened.load();
          closed += c.flows_closed.load();
          packets += c.packets.load();
          bytes += c.bytes.load();
        }
      }
      json check = nullptr;
      const auto st = checks.find({svc.config.name, b.config.address, b.config.port});
      if (svc.config.check && st != checks.end() && st->second.checks > 0) {
        check = json{{"type", to_string(svc.config.check->type)},
                     {"ok", st->second.last.ok},
                     {"reason", st->second.last.reason},
                     {"latency_ms", static_cast<double>(st->second.last.latency.count()) / 1000.0}};
      } else if (svc.config.check) {
        check = json{{"type", to_string(svc.config.check->type)},
                     {"ok", false},
                     {"reason", "no result yet"},
                     {"latency_ms", 0.0}};
      }
      double rate = 0.0;
      if (id != stat_ids_.end()) {
        const auto r = new_flow_rate_.find(id->second);
        if (r != new_flow_rate_.end()) rate = r->second;
      }
      backends.push_back(json{{"address", ipv4_to_string(b.config.address)},
                              {"port", b.config.port},
                              {"weight", b.weight},
                              {"health", to_string(b.health)},
                              {"admin", to_string(b.admin)},
                              {"serving", b.serving},
                              {"flows", opened >= closed ? opened - closed : 0},
                              {"new_flows", opened},
                              {"new_flow_rate", rate},
                              {"packets", packets},
                              {"bytes", bytes},
                              {"check", check}});
    }
    services.push_back(json{{"name", svc.config.name},
                            {"vip", ipv4_to_string(svc.config.vip)},
                            {"port", svc.config.port},
                            {"protocol", svc.config.protocol == IpProto::kUdp ? "udp" : "tcp"},
                            {"scheduler", to_string(svc.config.scheduler)},
                            {"forward", to_string(svc.config.forward)},
                            {"pool", to_string(svc.config.pool)},
                            {"backends", backends}});
  }
  return json{{"ok", true}, {"services", services}};
}

json Node::stats_reply() const {
  rte_eth_stats es{};
  rte_eth_stats_get(port_.id, &es);
  json ports = json::array({json{{"name", port_cfg_.name},
                                 {"link", eth_link_up(port_.id) ? "up" : "down"},
                                 {"rx_packets", es.ipackets},
                                 {"tx_packets", es.opackets},
                                 {"rx_bytes", es.ibytes},
                                 {"tx_bytes", es.obytes},
                                 {"rx_missed", es.imissed},
                                 {"rx_errors", es.ierrors},
                                 {"tx_errors", es.oerrors}}});
  json workers = json::array();
  // Packet buffers: a pool that runs dry stops every receive queue (rx_missed grows).
  const json mbufs = {{"size", pool_ != nullptr ? pool_->size : 0},
                      {"free", pool_ != nullptr ? rte_mempool_avail_count(pool_) : 0}};
  json total_drops = json::object();
  for (size_t i = 0; i < workers_.size(); ++i) {
    const CounterTotals t = sum_counters({&workers_[i]->counters(), 1});
    json drops = json::object();
    for (size_t r = 0; r < t.drops.size(); ++r) {
      if (t.drops[r] == 0) continue;
      const char* reason = to_string(static_cast<DropReason>(r));
      drops[reason] = t.drops[r];
      total_drops[reason] = total_drops.value(reason, uint64_t{0}) + t.drops[r];
    }
    workers.push_back(json{{"id", i},
                           {"rx_packets", t.rx_packets},
                           {"rx_bytes", t.rx_bytes},
                           {"forwarded", t.forwarded},
                           {"tx_packets", lcores_[i]->stats().tx_packets.load() +
                                              lcores_[i]->stats().from_kernel.load()},
                           {"replied", t.replied},
                           {"to_kernel", t.to_kernel},
                           {"handed_off", t.handed_off},
                           {"new_flows", t.new_flows},
                           {"dropped", t.dropped},
                           {"busy_ratio", i < busy_ratio_.size() ? busy_ratio_[i] : 0.0},
                           // Cumulative, for rates between two reads: packets per busy loop
                           // near the burst size means the worker, not its input, is the limit.
                           {"loops", lcores_[i]->stats().loops.load()},
                           {"busy_loops", lcores_[i]->stats().busy_loops.load()},
                           {"drops", drops}});
  }
  return json{{"ok", true}, {"ports", ports}, {"mbufs", mbufs}, {"workers", workers},
              {"drops", total_drops}};
}

std::string Node::metrics_text() const {
  MetricsWriter w;
  const json list = list_reply();
  w.family("fulcrum_backend_up", "gauge", "1 when the backend passes its health check (or has none)");
  w.family("fulcrum_backend_serving", "gauge", "1 when the backend takes new flows");
  w.family("fulcrum_backend_weight", "gauge", "Effective weight of the backend");
  w.family("fulcrum_backend_flows", "gauge", "Flows open to the backend");
  w.family("fulcrum_backend_flows_total", "counter", "Flows opened to the backend");
  w.family("fulcrum_backend_packets_total", "counter", "Packets forwarded for the backend's flows, both directions");
  w.family("fulcrum_backend_bytes_total", "counter", "Bytes forwarded for the backend's flows, both directions");
  w.family("fulcrum_backend_check_latency_seconds", "gauge", "Duration of the last health check");
  for (const json& svc : list["services"]) {
    for (const json& b : svc["backends"]) {
      const MetricLabels labels{{"service", svc["name"].get<std::string>()},
                                {"backend", b["address"].get<std::string>() + ":" +
                                                std::to_string(b["port"].get<int>())}};
      const std::string health = b["health"].get<std::string>();
      w.sample("fulcrum_backend_up", labels, health == "up" || health == "unchecked" ? 1 : 0);
      w.sample("fulcrum_backend_serving", labels, b["serving"].get<bool>() ? 1 : 0);
      w.sample("fulcrum_backend_weight", labels, b["weight"].get<double>());
      w.sample("fulcrum_backend_flows", labels, b["flows"].get<double>());
      w.sample("fulcrum_backend_flows_total", labels, b["new_flows"].get<double>());
      w.sample("fulcrum_backend_packets_total", labels, b["packets"].get<double>());
      w.sample("fulcrum_backend_bytes_total", labels, b["bytes"].get<double>());
      if (!b["check"].is_null()) {
        w.sample("fulcrum_backend_check_latency_seconds", labels,
                 b["check"]["latency_ms"].get<double>() / 1000.0);
      }
    }
  }
  const json stats = stats_reply();
  w.family("fulcrum_port_link_up", "gauge", "1 when the port's link is up");
  w.family("fulcrum_port_rx_packets_total", "counter", "Packets received on the port");
  w.family("fulcrum_port_tx_packets_total", "counter", "Packets sent on the port");
  w.family("fulcrum_port_rx_missed_total", "counter", "Packets the port dropped for lack of buffers");
  for (const json& p : stats["ports"]) {
    const MetricLabels labels{{"port", p["name"].get<std::string>()}};
    w.sample("fulcrum_port_link_up", labels, p["link"] == "up" ? 1 : 0);
    w.sample("fulcrum_port_rx_packets_total", labels, p["rx_packets"].get<double>());
    w.sample("fulcrum_port_tx_packets_total", labels, p["tx_packets"].get<double>());
    w.sample("fulcrum_port_rx_missed_total", labels, p["rx_missed"].get<double>());
  }
  w.family("fulcrum_worker_rx_packets_total", "counter", "Packets a worker received");
  w.family("fulcrum_worker_forwarded_total", "counter", "Packets a worker forwarded");
  w.family("fulcrum_worker_replied_total", "counter", "Packets a worker answered itself");
  w.family("fulcrum_worker_to_kernel_total", "counter", "Packets a worker passed to the kernel");
  w.family("fulcrum_worker_new_flows_total", "counter", "Flows a worker opened");
  w.family("fulcrum_worker_drops_total", "counter", "Packets a worker dropped, by reason");
  w.family("fulcrum_worker_busy_ratio", "gauge", "Share of poll loops that moved packets, last second");
  for (const json& wk : stats["workers"]) {
    const MetricLabels labels{{"worker", std::to_string(wk["id"].get<int>())}};
    w.sample("fulcrum_worker_rx_packets_total", labels, wk["rx_packets"].get<double>());
    w.sample("fulcrum_worker_forwarded_total", labels, wk["forwarded"].get<double>());
    w.sample("fulcrum_worker_replied_total", labels, wk["replied"].get<double>());
    w.sample("fulcrum_worker_to_kernel_total", labels, wk["to_kernel"].get<double>());
    w.sample("fulcrum_worker_new_flows_total", labels, wk["new_flows"].get<double>());
    w.sample("fulcrum_worker_busy_ratio", labels, wk["busy_ratio"].get<double>());
    for (size_t r = 0; r < static_cast<size_t>(DropReason::kCount); ++r) {
      const char* reason = to_string(static_cast<DropReason>(r));
      MetricLabels l = labels;
      l.emplace_back("reason", reason);
      w.sample("fulcrum_worker_drops_total", l, wk["drops"].value(reason, 0.0));
    }
  }
  if (vrrp_) vrrp_->write_metrics(w);
  if (announcer_) announcer_->write_metrics(w);
  w.family("fulcrum_tables_version", "gauge", "Version of the forwarding tables in use");
  w.sample("fulcrum_tables_version", {}, static_cast<double>(version_));
  return w.str();
}

}  // namespace fulcrum
