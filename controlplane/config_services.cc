// SPDX-License-Identifier: Apache-2.0
// The [[service]] sections of the config file: services, their health check and backends.
#include <string>

#include "config_reader.h"

namespace fulcrum::config_detail {

namespace {

void read_check(const TableReader& service, const toml::table& table, ServiceConfig& svc) {
  TableReader r(service.diag(), table, service.prefix(), "check.", "in check");
  r.check_keys({"type", "port", "interval", "timeout", "rise", "fall", "path", "expect", "user",
                "password", "query", "allow_donor"});
  CheckConfig c;
  c.line = r.line();
  std::optional<CheckType> type;
  if (r.require("type")) {
    type = r.choice<CheckType>("type", {{"tcp", CheckType::kTcp},
                                        {"http", CheckType::kHttp},
                                        {"mysql", CheckType::kMysql},
                                        {"galera", CheckType::kGalera}});
  }
  if (type) {
    c.type = *type;
    // Keys that belong to other check types: a likely mix-up, so an error rather than ignored.
    const bool http = *type == CheckType::kHttp;
    const bool sql = *type == CheckType::kMysql || *type == CheckType::kGalera;
    const std::pair<std::string_view, bool> specific[] = {
        {"path", http},    {"expect", http}, {"user", sql},
        {"password", sql}, {"query", sql},   {"allow_donor", *type == CheckType::kGalera}};
    for (const auto& [key, allowed] : specific) {
      if (!allowed && r.find(key) != nullptr) {
        r.error(key, std::string("not valid for a \"") + to_string(*type) + "\" check");
      }
    }
    if (*type == CheckType::kGalera && r.find("user") == nullptr) {
      r.error("user", "required for a galera check");
    }
  }
  if (const auto v = r.port_number("port")) c.port = *v;
  if (const auto v = r.duration("interval", Ms(10), Ms(3600000))) c.interval = *v;
  if (const auto v = r.duration("timeout", Ms(1), Ms(3600000))) c.timeout = *v;
  if (const auto v = r.integer("rise", 1, 100)) c.rise = static_cast<uint32_t>(*v);
  if (const auto v = r.integer("fall", 1, 100)) c.fall = static_cast<uint32_t>(*v);
  if (const auto v = r.string("path")) {
    c.path = *v;
    if (v->empty() || v->front() != '/' || v->find_first_of(" \t\r\n") != std::string::npos) {
      r.error("path", "\"" + *v + "\" must start with '/' and hold no spaces");
    }
  }
  if (const auto v = r.integer("expect", 100, 599)) c.expect = static_cast<uint16_t>(*v);
  if (const auto v = r.string("user")) {
    c.user = *v;
    if (v->empty()) r.error("user", "must not be empty");
  }
  if (const auto v = r.string("password")) c.password = *v;
  if (const auto v = r.string("query")) {
    c.query = *v;
    if (v->empty()) r.error("query", "must not be empty");
  }
  if (const auto v = r.boolean("allow_donor")) c.allow_donor = *v;
  svc.check = std::move(c);
}

void read_backends(const TableReader& service, const toml::array& list, const Config& config,
                   ServiceConfig& svc) {
  Diagnostics& diag = service.diag();
  if (list.empty()) service.error("backends", "must list at least one backend");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string label = "backends[" + std::to_string(i) + "]";
    const toml::node& node = *list.get(i);
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      diag.error(node, service.prefix() + label + ": expected a table ({ address = ... }), got " +
                           describe(node));
      continue;
    }
    TableReader r(diag, *table, service.prefix(), label + ".", "in " + label);
    r.check_keys({"address", "port", "weight"});
    BackendConfig b;
    b.line = r.line();
    b.port = svc.port;
    std::optional<Ipv4Be> addr;
    if (r.require("address")) addr = r.ipv4("address");
    if (addr && (!is_unicast(*addr) || *addr == svc.vip)) {
      r.error("address",
              ipv4_to_string(*addr) + (*addr == svc.vip ? " is the service's own VIP"
                                                        : " is not a unicast host address"));
    }
    if (const auto port = r.port_number("port")) b.port = *port;
    if (const auto weight = r.integer("weight", 0, 65535))
      b.weight = static_cast<uint16_t>(*weight);
    if (!addr) continue;
    b.address = *addr;
    // DSR rewrites only the destination MAC: same port, and the backend on our segment.
    if (svc.forward == ForwardMode::kDsr) {
      if (b.port != svc.port && svc.port != 0) {
        r.error("port", std::to_string(b.port) + " differs from the service port " +
                            std::to_string(svc.port) + "; forward = \"dsr\" cannot change ports");
      }
      bool on_segment = false;
      for (const PortConfig& p : config.ports)
        on_segment |= p.prefix_len != 0 && p.in_subnet(b.address);
      if (!on_segment && !config.ports.empty()) {
        r.error("address", ipv4_to_string(b.address) +
                               " is on no [[port]]'s subnet; forward = \"dsr\" needs backends on "
                               "the same segment");
      }
    }
    bool duplicate = false;
    for (size_t j = 0; j < svc.backends.size() && !duplicate; ++j) {
      const BackendConfig& other = svc.backends[j];
      if (other.address == b.address && other.port == b.port && b.port != 0) {
        diag.error(*table, service.prefix() + label + ": " + ipv4_to_string(b.address) + ":" +
                               std::to_string(b.port) + " is listed twice (first at " +
                               at_line(other.line) + ")");
        duplicate = true;
      }
    }
    if (!duplicate) svc.backends.push_back(b);
  }
}

void read_service(TableReader& r, const Config& config, ServiceConfig& svc) {
  svc.line = r.line();
  if (r.require("name")) {
    if (const auto name = r.string("name")) {
      if (valid_object_name(*name)) {
        svc.name = *name;
        r.set_prefix("service '" + *name + "': ");
      } else {
        r.error("name",
                "\"" + *name + "\" must be 1-63 characters of A-Z, a-z, 0-9, '_', '.' or '-'");
      }
    }
  }
  // After the name, so that unknown keys are reported with it.
  r.check_keys({"name", "vip", "port", "protocol", "scheduler", "forward", "pool", "failback",
                "on_down", "on_gone", "check", "backends"});
  if (r.require("vip")) {
    if (const auto vip = r.ipv4("vip")) {
      svc.vip = *vip;
      if (!is_unicast(*vip)) r.error("vip", ipv4_to_string(*vip) + " is not a unicast address");
      for (const PortConfig& p : config.ports) {
        if (p.address == *vip) {
          r.error("vip", ipv4_to_string(*vip) + " is the address of port '" + p.name +
                             "'; a VIP needs an address of its own");
        }
      }
    }
  }
  if (r.require("port")) {
    if (const auto port = r.port_number("port")) svc.port = *port;
  }
  if (const auto v =
          r.choice<IpProto>("protocol", {{"tcp", IpProto::kTcp}, {"udp", IpProto::kUdp}})) {
    svc.protocol = *v;
  }
  if (const auto v = r.choice<Scheduler>("scheduler", {{"maglev", Scheduler::kMaglev},
                                                       {"wrr", Scheduler::kWrr},
                                                       {"sh", Scheduler::kSourceHash}})) {
    svc.scheduler = *v;
  }
  if (const auto v = r.choice<ForwardMode>(
          "forward", {{"fnat", ForwardMode::kFnat}, {"dsr", ForwardMode::kDsr}})) {
    svc.forward = *v;
  }
  if (const auto v = r.choice<PoolMode>(
          "pool", {{"active", PoolMode::kActive}, {"standby", PoolMode::kStandby}})) {
    svc.pool = *v;
  }
  svc.failback = svc.pool == PoolMode::kActive;
  if (const auto v = r.boolean("failback")) {
    svc.failback = *v;
    if (!*v && svc.pool == PoolMode::kActive) {
      r.error("failback",
              "false needs pool = \"standby\" (an active pool has no single backend "
              "to stick to)");
    }
  }
  if (const auto v =
          r.choice<OnDown>("on_down", {{"keep", OnDown::kKeep}, {"reset", OnDown::kReset}})) {
    svc.on_down = *v;
  }
  if (const auto v = r.choice<GonePolicy>(
          "on_gone", {{"rechoose", GonePolicy::kRechoose}, {"reset", GonePolicy::kReset}})) {
    svc.on_gone = *v;
  }
  if (const toml::node* check = r.find("check")) {
    if (const toml::table* table = check->as_table()) {
      read_check(r, *table, svc);
    } else {
      r.error("check", "expected a table (check = { type = \"tcp\" }), got " + describe(*check));
    }
  }
  if (r.require("backends")) {
    if (const toml::array* list = r.array("backends")) read_backends(r, *list, config, svc);
  }
}

}  // namespace

void read_services(Diagnostics& diag, const toml::table& root, Config& config) {
  const auto tables = table_array(diag, root, "service", "service");
  for (size_t i = 0; i < tables.size(); ++i) {
    TableReader r(diag, *tables[i], "service #" + std::to_string(i + 1) + ": ", "",
                  "in [[service]]");
    ServiceConfig svc;
    read_service(r, config, svc);
    for (const ServiceConfig& other : config.services) {
      if (!svc.name.empty() && other.name == svc.name) {
        diag.error(*r.find("name"), "duplicate service name '" + svc.name + "' (first defined at " +
                                        at_line(other.line) + ")");
      }
      if (svc.vip != 0 && svc.port != 0 && other.vip == svc.vip && other.port == svc.port &&
          other.protocol == svc.protocol) {
        diag.error(svc.line, r.prefix() + ipv4_to_string(svc.vip) + ":" + std::to_string(svc.port) +
                                 "/" + (svc.protocol == IpProto::kTcp ? "tcp" : "udp") +
                                 " is already used by service '" + other.name + "' (" +
                                 at_line(other.line) + ")");
      }
    }
    config.services.push_back(std::move(svc));
  }
}

}  // namespace fulcrum::config_detail
