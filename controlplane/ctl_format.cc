// SPDX-License-Identifier: Apache-2.0
#include "ctl_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

namespace fulcrum {
namespace {

using nlohmann::json;

// The member key of j, or null when j is not an object or has no such member: replies come
// from another program, and a missing field must print "-" rather than abort the table.
const json& member(const json& j, std::string_view key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

const json& array_member(const json& j, std::string_view key) {
  static const json kEmpty = json::array();
  const json& v = member(j, key);
  return v.is_array() ? v : kEmpty;
}

std::string text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string fixed1(double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.1f", value);
  return buf;
}

std::string decimal1(const json& v) {
  return v.is_number() ? fixed1(v.get<double>()) : "-";
}

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

std::string endpoint(const json& address, const json& port) {
  std::string host = text(address);
  if (host.find(':') != std::string::npos) host = "[" + host + "]";  // IPv6
  return port.is_null() ? host : host + ":" + text(port);
}

// "ok: HTTP 200 (1.3 ms)", "fail: connection refused", "pending", "-" (no check).
std::string check_text(const json& check) {
  if (!check.is_object()) return "-";
  const json& ok = member(check, "ok");
  std::string out = ok.is_boolean() ? (ok.get<bool>() ? "ok" : "fail") : "pending";
  const json& reason = member(check, "reason");
  if (reason.is_string() && !reason.get<std::string>().empty()) {
    out += ": " + reason.get<std::string>();
  }
  const json& latency = member(check, "latency_ms");
  if (latency.is_number()) out += " (" + fixed1(latency.get<double>()) + " ms)";
  return out;
}

std::string rtrim(std::string s) {
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

}  // namespace

TextTable::TextTable(std::vector<Align> align, size_t gap) : align_(std::move(align)), gap_(gap) {}

void TextTable::add_row(std::vector<std::string> cells) {
  rows_.push_back(std::move(cells));
}

void TextTable::set_min_widths(std::vector<size_t> min_widths) {
  min_widths_ = std::move(min_widths);
}

std::vector<size_t> TextTable::widths() const {
  std::vector<size_t> widths = min_widths_;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  return widths;
}

std::string TextTable::row(size_t index) const {
  const std::vector<size_t> widths = this->widths();
  const auto& cells = rows_.at(index);
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out.append(gap_, ' ');
    const size_t pad = widths[i] - cells[i].size();
    const bool right = i < align_.size() && align_[i] == Align::kRight;
    if (right) out.append(pad, ' ');
    out += cells[i];
    if (!right) out.append(pad, ' ');
  }
  return rtrim(std::move(out));
}

std::string TextTable::str() const {
  std::string out;
  for (size_t i = 0; i < rows_.size(); ++i) out += row(i) + "\n";
  return out;
}

std::string format_list(const json& reply) {
  // Two tables share the first column (the VIP:Port or Backend:Port after a 5-character
  // prefix) so that backends line up under their service, as in `ipvsadm -Ln`; the other
  // columns of each kind align among their own rows. The minimum widths keep the columns
  // where they were across runs.
  TextTable services({}, 1);
  TextTable backends({}, 1);
  services.set_min_widths({21, 9, 7});
  backends.set_min_widths({21, 6, 7, 8, 6, 11});
  services.add_row({"VIP:Port", "Scheduler", "Forward", "Pool"});
  backends.add_row({"Backend:Port", "Weight", "Health", "Admin", "Flows", "NewFlows/s", "Check"});
  // (prefix, which table, row index) in print order.
  struct Line {
    std::string prefix;
    bool backend;
    size_t row;
  };
  std::vector<Line> lines = {{"Prot ", false, 0}, {"  -> ", true, 0}};
  bool marked = false;
  for (const json& service : array_member(reply, "services")) {
    const bool standby = text(member(service, "pool")) == "standby";
    std::string protocol = upper(text(member(service, "protocol")));
    protocol.resize(std::max<size_t>(protocol.size(), 4), ' ');
    lines.push_back({protocol + " ", false, services.rows()});
    services.add_row({endpoint(member(service, "vip"), member(service, "port")),
                      text(member(service, "scheduler")), text(member(service, "forward")),
                      text(member(service, "pool"))});
    for (const json& backend : array_member(service, "backends")) {
      const json& serving = member(backend, "serving");
      const bool mark = standby && serving.is_boolean() && serving.get<bool>();
      marked = marked || mark;
      lines.push_back({mark ? " *-> " : "  -> ", true, backends.rows()});
      backends.add_row({endpoint(member(backend, "address"), member(backend, "port")),
                        text(member(backend, "weight")), text(member(backend, "health")),
                        text(member(backend, "admin")), text(member(backend, "flows")),
                        decimal1(member(backend, "new_flow_rate")),
                        check_text(member(backend, "check"))});
    }
  }
  std::string out;
  for (const Line& line : lines) {
    out += rtrim(line.prefix + (line.backend ? backends : services).row(line.row)) + "\n";
  }
  if (marked) out += "(*: the backend a standby pool sends new flows to)\n";
  return out;
}

std::string format_stats(const json& reply) {
  using A = TextTable::Align;
  std::string out;
  TextTable ports({A::kLeft, A::kLeft, A::kRight, A::kRight, A::kRight, A::kRight, A::kRight,
                   A::kRight, A::kRight});
  ports.add_row({"Port", "Link", "RX packets", "TX packets", "RX bytes", "TX bytes", "RX missed",
                 "RX errors", "TX errors"});
  for (const json& port : array_member(reply, "ports")) {
    std::vector<std::string> row = {text(member(port, "name")), text(member(port, "link"))};
    for (const char* key : {"rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_missed",
                            "rx_errors", "tx_errors"}) {
      row.push_back(text(member(port, key)));
    }
    ports.add_row(std::move(row));
  }
  out += ports.str();

  TextTable workers({A::kLeft, A::kRight, A::kRight, A::kRight, A::kRight, A::kRight, A::kRight,
                     A::kRight, A::kRight, A::kRight});
  workers.add_row({"Worker", "RX packets", "RX bytes", "Forwarded", "Replied", "To kernel",
                   "Handed off", "New flows", "Dropped", "Busy"});
  std::map<std::string, double> summed;  // when the reply has no total
  for (const json& worker : array_member(reply, "workers")) {
    std::vector<std::string> row = {text(member(worker, "id"))};
    for (const char* key : {"rx_packets", "rx_bytes", "forwarded", "replied", "to_kernel",
                            "handed_off", "new_flows", "dropped"}) {
      row.push_back(text(member(worker, key)));
    }
    const json& busy = member(worker, "busy_ratio");
    row.push_back(busy.is_number() ? fixed1(busy.get<double>() * 100.0) + "%" : "-");
    workers.add_row(std::move(row));
    const json& drops = member(worker, "drops");
    if (drops.is_object()) {
      for (const auto& [reason, count] : drops.items()) {
        if (count.is_number()) summed[reason] += count.get<double>();
      }
    }
  }
  out += "\n" + workers.str();

  // Most frequent first: the reason worth looking at heads the list.
  std::vector<std::pair<std::string, json>> drops;
  const json& total = member(reply, "drops");
  if (total.is_object()) {
    for (const auto& [reason, count] : total.items()) drops.emplace_back(reason, count);
  } else {
    for (const auto& [reason, count] : summed) drops.emplace_back(reason, json(count));
  }
  std::erase_if(drops, [](const auto& d) { return !d.second.is_number() || d.second == 0; });
  std::stable_sort(drops.begin(), drops.end(), [](const auto& a, const auto& b) {
    return a.second.template get<double>() > b.second.template get<double>();
  });
  if (drops.empty()) {
    out += "\nDrops by reason: none\n";
  } else {
    TextTable table({A::kLeft, A::kRight});
    for (const auto& [reason, count] : drops) {
      const double value = count.get<double>();
      table.add_row({"  " + reason, value == std::floor(value) && std::fabs(value) < 1e18
                                        ? std::to_string(static_cast<long long>(value))
                                        : text(count)});
    }
    out += "\nDrops by reason:\n" + table.str();
  }
  return out;
}

std::string format_vrrp(const json& reply) {
  const json& instances = array_member(reply, "instances");
  if (instances.empty()) return "no VRRP instances\n";
  TextTable table;
  table.add_row({"Name", "State", "Priority", "Effective", "VRID", "Master", "Transitions",
                 "Sent", "Received", "Dropped", "VIPs"});
  for (const json& instance : instances) {
    std::string vips;
    for (const json& vip : array_member(instance, "vips")) {
      vips += (vips.empty() ? "" : ", ") + text(vip);
    }
    // Adverts that changed nothing, all reasons together (--json has them by reason).
    std::string dropped = "-";
    if (const json& drops = member(instance, "drops"); drops.is_object()) {
      long long sum = 0;
      for (const auto& [reason, n] : drops.items()) {
        if (n.is_number()) sum += n.get<long long>();
      }
      dropped = std::to_string(sum);
    }
    table.add_row({text(member(instance, "name")), text(member(instance, "state")),
                   text(member(instance, "priority")), text(member(instance, "effective_priority")),
                   text(member(instance, "vrid")), text(member(instance, "master")),
                   text(member(instance, "transitions")), text(member(instance, "adverts_sent")),
                   text(member(instance, "adverts_received")), dropped,
                   vips.empty() ? "-" : vips});
  }
  return table.str();
}

std::string format_announce(const json& reply) {
  if (const json& c = member(reply, "configured"); c.is_boolean() && !c.get<bool>()) {
    return "no [announce] in the config: no VIP is announced over BGP\n";
  }
  std::string out = "BIRD " + text(member(reply, "bird_socket")) + ": ";
  if (member(reply, "bird_connected").is_boolean() && member(reply, "bird_connected").get<bool>()) {
    out += "connected (" + text(member(reply, "bird_greeting")) + ")\n";
  } else {
    const json& error = member(reply, "last_error");
    out += "not connected" +
           (error.is_string() && !error.get<std::string>().empty() ? ": " + text(error) : "") +
           "\n";
  }
  TextTable table;
  table.add_row({"VIP", "Protocol", "Wanted", "BIRD", "State", "Since", "Reason"});
  for (const json& vip : array_member(reply, "vips")) {
    const json& state = member(vip, "bird_state");
    const json& error = member(vip, "error");
    std::string reason = text(member(vip, "reason"));
    if (error.is_string() && !error.get<std::string>().empty()) reason += " [" + text(error) + "]";
    const json& since = member(vip, "since_s");
    table.add_row({text(member(vip, "vip")), text(member(vip, "protocol")),
                   text(member(vip, "wanted")), text(member(vip, "bird")),
                   state.is_string() && !state.get<std::string>().empty() ? text(state) : "-",
                   since.is_number() ? fixed1(since.get<double>()) + "s" : "-", reason});
  }
  return out + table.str();
}

std::string format_message(const json& reply) {
  const json& message = member(reply, "message");
  if (message.is_null()) return "";
  return text(message) + "\n";
}

std::string format_reply(std::string_view cmd, const json& reply) {
  if (cmd == "list") return format_list(reply);
  if (cmd == "stats") return format_stats(reply);
  if (cmd == "vrrp") return format_vrrp(reply);
  if (cmd == "announce") return format_announce(reply);
  return format_message(reply);
}

}  // namespace fulcrum
