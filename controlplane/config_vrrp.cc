// SPDX-License-Identifier: Apache-2.0
// The [[vrrp]] instances and the [announce] (BGP through BIRD) section of the config file.
#include <algorithm>
#include <string>

#include "config_reader.h"

namespace fulcrum::config_detail {

namespace {

bool is_service_vip(const Config& config, Ipv4Be addr) {
  for (const ServiceConfig& s : config.services) {
    if (s.vip == addr) return true;
  }
  return false;
}

// RFC 5798 carries the interval in centiseconds (12 bits); RFC 3768 in whole seconds (8 bits).
void check_advert_interval(const TableReader& r, const VrrpConfig& v) {
  const auto ms = v.advert_interval.count();
  if (v.version == 3 && (ms % 10 != 0 || ms < 10 || ms > 40950)) {
    r.error("advert_interval",
            "must be a multiple of 10ms between 10ms and 40950ms for VRRP version 3");
  } else if (v.version == 2 && (ms % 1000 != 0 || ms < 1000 || ms > 255000)) {
    r.error("advert_interval", "must be whole seconds between 1s and 255s for VRRP version 2");
  }
}

void read_vrrp_vips(const TableReader& r, const Config& config, VrrpConfig& v) {
  const toml::array* list = r.array("vips");
  if (list == nullptr) return;
  if (list->empty()) r.error("vips", "must list at least one VIP");
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::node& node = *list->get(i);
    const std::string where = r.where("vips") + "[" + std::to_string(i) + "]";
    const auto addr = read_ipv4(r.diag(), node, where);
    if (!addr) continue;
    const std::string text = ipv4_to_string(*addr);
    if (!is_service_vip(config, *addr)) {
      r.diag().error(node, where + ": " + text + " is not the vip of any [[service]]");
    }
    // One owner per VIP: two instances could both be master and answer ARP for it.
    for (const VrrpConfig& other : config.vrrp) {
      for (const Ipv4Be o : other.vips) {
        if (o == *addr) {
          r.diag().error(node, where + ": " + text + " is already held by vrrp '" + other.name +
                                   "' (" + at_line(other.line) + ")");
        }
      }
    }
    for (const Ipv4Be o : v.vips) {
      if (o == *addr) r.diag().error(node, where + ": " + text + " is listed twice");
    }
    v.vips.push_back(*addr);
  }
}

void read_vrrp_instance(TableReader& r, const Config& config, VrrpConfig& v) {
  v.line = r.line();
  if (r.require("name")) {
    if (const auto name = r.string("name")) {
      if (valid_object_name(*name)) {
        v.name = *name;
        r.set_prefix("vrrp '" + *name + "': ");
      } else {
        r.error("name",
                "\"" + *name + "\" must be 1-63 characters of A-Z, a-z, 0-9, '_', '.' or '-'");
      }
    }
  }
  // After the name, so that unknown keys are reported with it.
  r.check_keys({"name", "port", "vrid", "priority", "advert_interval", "version", "preempt",
                "preempt_delay", "unicast_peers", "vips", "track_services", "notify", "garp_count",
                "garp_interval", "garp_refresh", "track_priority_delta", "unicast"});
  const PortConfig* port = nullptr;
  if (r.require("port")) {
    if (const auto name = r.string("port")) {
      v.port = *name;
      port = config.find_port(*name);
      if (port == nullptr) r.error("port", "no [[port]] named '" + *name + "'");
    }
  }
  if (r.require("vrid")) {
    if (const auto vrid = r.integer("vrid", 1, 255)) v.vrid = static_cast<uint8_t>(*vrid);
  }
  if (const auto x = r.integer("priority", 1, 255)) v.priority = static_cast<uint8_t>(*x);
  if (const auto x = r.integer("version", 2, 3)) v.version = static_cast<uint8_t>(*x);
  if (const auto x = r.duration("advert_interval", Ms(1), Ms(255000))) {
    v.advert_interval = *x;
    check_advert_interval(r, v);
  }
  if (const auto x = r.boolean("preempt")) v.preempt = *x;
  if (const auto x = r.duration("preempt_delay", Ms(0), Ms(1000000))) v.preempt_delay = *x;
  v.unicast_peers = r.ipv4_array("unicast_peers");
  for (size_t i = 0; i < v.unicast_peers.size(); ++i) {
    const Ipv4Be peer = v.unicast_peers[i];
    const std::string text = ipv4_to_string(peer);
    if (port != nullptr && peer == port->address) {
      r.error("unicast_peers", text + " is this node's own address on port '" + port->name + "'");
    }
    for (size_t j = 0; j < i; ++j) {
      if (v.unicast_peers[j] == peer) r.error("unicast_peers", text + " is listed twice");
    }
  }
  // unicast = true asks for unicast explicitly: then an empty peer list is a mistake, not a
  // quiet fall-back to multicast.
  if (const auto unicast = r.boolean("unicast")) {
    if (*unicast && v.unicast_peers.empty()) {
      r.error("unicast", "is true but unicast_peers lists no peer");
    } else if (!*unicast && !v.unicast_peers.empty()) {
      r.error("unicast", "is false but unicast_peers lists peers (leave it out, or empty the list)");
    }
  }
  if (r.require("vips")) read_vrrp_vips(r, config, v);
  if (const toml::array* list = r.array("track_services")) {
    for (size_t i = 0; i < list->size(); ++i) {
      const toml::node& node = *list->get(i);
      const std::string where = r.where("track_services") + "[" + std::to_string(i) + "]";
      const auto name = read_string(r.diag(), node, where);
      if (!name) continue;
      if (config.find_service(*name) == nullptr) {
        r.diag().error(node, where + ": no [[service]] named '" + *name + "'");
      }
      v.track_services.push_back(*name);
    }
  }
  if (const auto x = r.string("notify")) {
    v.notify = *x;
    if (x->empty() || x->front() != '/')
      r.error("notify", "\"" + *x + "\" must be an absolute path");
  }
  if (const auto x = r.integer("garp_count", 1, 100)) v.garp_count = static_cast<uint32_t>(*x);
  if (const auto x = r.duration("garp_interval", Ms(0), Ms(10000))) v.garp_interval = *x;
  if (const auto x = r.duration("garp_refresh", Ms(0), Ms(86400000))) v.garp_refresh = *x;
  if (const auto x = r.integer("track_priority_delta", 0, 254)) {
    v.track_priority_delta = static_cast<uint8_t>(*x);
  }
}

}  // namespace

void read_vrrp(Diagnostics& diag, const toml::table& root, Config& config) {
  const auto tables = table_array(diag, root, "vrrp", "vrrp");
  for (size_t i = 0; i < tables.size(); ++i) {
    TableReader r(diag, *tables[i], "vrrp #" + std::to_string(i + 1) + ": ", "", "in [[vrrp]]");
    VrrpConfig v;
    read_vrrp_instance(r, config, v);
    for (const VrrpConfig& other : config.vrrp) {
      if (!v.name.empty() && other.name == v.name) {
        diag.error(*r.find("name"), "duplicate vrrp name '" + v.name + "' (first defined at " +
                                        at_line(other.line) + ")");
      }
      // The virtual router id names the group on the segment, so it is unique per port.
      if (v.vrid != 0 && other.vrid == v.vrid && !v.port.empty() && other.port == v.port) {
        r.error("vrid", "vrid " + std::to_string(v.vrid) + " is already used on port '" + v.port +
                            "' by vrrp '" + other.name + "' (" + at_line(other.line) + ")");
      }
    }
    config.vrrp.push_back(std::move(v));
  }
}

void read_announce(Diagnostics& diag, const toml::table& root, Config& config) {
  const toml::node* node = root.get("announce");
  if (node == nullptr) return;
  const toml::table* table = node->as_table();
  if (table == nullptr) {
    diag.error(*node, "announce: expected a table ([announce]), got " + describe(*node));
    return;
  }
  TableReader r(diag, *table, "", "announce.", "in [announce]");
  r.check_keys({"bird_socket", "reassert_interval", "stop_delay", "vip"});
  AnnounceConfig a;
  a.line = r.line();
  if (const auto socket = r.string("bird_socket")) {
    a.bird_socket = *socket;
    if (socket->empty() || socket->front() != '/') {
      r.error("bird_socket", "\"" + *socket + "\" must be an absolute path");
    } else if (socket->size() >= 108) {
      r.error("bird_socket", "\"" + *socket + "\" is too long for a UNIX socket (107 bytes)");
    }
  }
  if (const auto x = r.duration("reassert_interval", Ms(100), Ms(60000))) a.reassert_interval = *x;
  if (const auto x = r.duration("stop_delay", Ms(0), Ms(30000))) a.stop_delay = *x;
  const auto vips = table_array(diag, *table, "vip", "announce.vip");
  for (size_t i = 0; i < vips.size(); ++i) {
    TableReader vr(diag, *vips[i], "", "announce.vip[" + std::to_string(i) + "].",
                   "in [[announce.vip]]");
    vr.check_keys({"address", "bird_protocol"});
    AnnounceVipConfig v;
    v.line = vr.line();
    if (vr.require("address")) {
      if (const auto addr = vr.ipv4("address")) {
        v.address = *addr;
        if (!is_service_vip(config, *addr)) {
          vr.error("address", ipv4_to_string(*addr) + " is not the vip of any [[service]]");
        }
        for (const AnnounceVipConfig& other : a.vips) {
          if (other.address == *addr) {
            vr.error("address",
                     ipv4_to_string(*addr) + " is already announced (" + at_line(other.line) + ")");
          }
        }
        // One owner per VIP: VRRP moves it between two nodes on a segment, BGP announces it
        // from every node at once. Both at once would announce it from a VRRP backup.
        for (const VrrpConfig& inst : config.vrrp) {
          if (std::find(inst.vips.begin(), inst.vips.end(), *addr) != inst.vips.end()) {
            vr.error("address", ipv4_to_string(*addr) + " is held by vrrp '" + inst.name + "' (" +
                                    at_line(inst.line) +
                                    "); a VIP is either shared by VRRP or announced over BGP");
          }
        }
      }
    }
    if (vr.require("bird_protocol")) {
      if (const auto proto = vr.string("bird_protocol")) {
        v.bird_protocol = *proto;
        if (proto->empty() || proto->find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
                                  std::string::npos) {
          vr.error("bird_protocol", "\"" + *proto + "\" must be letters, digits and '_'");
        }
      }
    }
    a.vips.push_back(std::move(v));
  }
  config.announce = std::move(a);
}

}  // namespace fulcrum::config_detail
