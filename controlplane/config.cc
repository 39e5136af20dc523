// SPDX-License-Identifier: Apache-2.0
// The loader's driver and the node-level sections: [dataplane], [[port]], [api].
#include "config.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config_reader.h"

namespace fulcrum {

using config_detail::describe;
using config_detail::Diagnostics;
using config_detail::Ms;
using config_detail::TableReader;

std::string ConfigError::to_string() const {
  if (line == 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ": " + message;
}

const char* to_string(PollMode m) {
  return m == PollMode::kBusy ? "busy" : "adaptive";
}
const char* to_string(PoolMode m) {
  return m == PoolMode::kActive ? "active" : "standby";
}
const char* to_string(OnDown d) {
  return d == OnDown::kKeep ? "keep" : "reset";
}
const char* to_string(CheckType t) {
  switch (t) {
    case CheckType::kTcp:
      return "tcp";
    case CheckType::kHttp:
      return "http";
    case CheckType::kMysql:
      return "mysql";
    case CheckType::kGalera:
      return "galera";
  }
  return "?";
}

namespace {

uint32_t netmask(uint8_t prefix_len) {  // host order
  return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len);
}

std::string cidr_text(Ipv4Be addr, uint8_t prefix_len) {
  const uint32_t net = be32_to_host(addr) & netmask(prefix_len);
  return ipv4_to_string(host_to_be32(net)) + "/" + std::to_string(prefix_len);
}

}  // namespace

bool PortConfig::is_pci() const {
  return device.rfind("net_", 0) != 0;
}

bool PortConfig::in_subnet(Ipv4Be addr) const {
  const uint32_t mask = netmask(prefix_len);
  return (be32_to_host(addr) & mask) == (be32_to_host(address) & mask);
}

const PortConfig* Config::find_port(std::string_view name) const {
  for (const auto& p : ports) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const ServiceConfig* Config::find_service(std::string_view name) const {
  for (const auto& s : services) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string Config::where(uint32_t line) const {
  return source + ":" + std::to_string(line);
}

namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_word(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// "[DDDD:]BB:DD.F", as DPDK's -a takes it.
bool is_pci_address(std::string_view s) {
  if (s.size() == 12) {
    for (size_t i = 0; i < 4; ++i) {
      if (!is_hex(s[i])) return false;
    }
    if (s[4] != ':') return false;
    s.remove_prefix(5);
  }
  return s.size() == 7 && is_hex(s[0]) && is_hex(s[1]) && s[2] == ':' && is_hex(s[3]) &&
         is_hex(s[4]) && s[5] == '.' && s[6] >= '0' && s[6] <= '7';
}

// DPDK devargs after the device name: "key=value" items separated by commas (a [...] value may
// hold commas).
bool valid_devargs(std::string_view args) {
  size_t start = 0;
  while (start <= args.size()) {
    size_t end = start;
    int depth = 0;
    while (end < args.size() && (args[end] != ',' || depth > 0)) {
      if (args[end] == '[') ++depth;
      if (args[end] == ']') --depth;
      if (args[end] == ' ' || args[end] == '\t') return false;
      ++end;
    }
    const std::string_view item = args.substr(start, end - start);
    const size_t eq = item.find('=');
    if (eq == 0 || eq == std::string_view::npos || eq + 1 == item.size()) return false;
    for (size_t i = 0; i < eq; ++i) {
      if (!is_word(item[i]) && item[i] != '-') return false;  // memif: socket-abstract, zero-copy
    }
    start = end + 1;
  }
  return true;
}

// The device's name without its arguments, normalised so two spellings of one device compare
// equal; empty when the string is neither a vdev spec nor a PCI address.
std::string device_name(std::string_view device) {
  const size_t comma = device.find(',');
  const std::string_view name = device.substr(0, comma);
  if (comma != std::string_view::npos && !valid_devargs(device.substr(comma + 1))) return "";
  if (name.rfind("net_", 0) == 0) {
    if (name.size() == 4) return "";
    for (const char c : name) {
      if (!is_word(c)) return "";
    }
    return std::string(name);
  }
  if (!is_pci_address(name)) return "";
  std::string pci(name.size() == 7 ? "0000:" : "");
  for (const char c : name) pci += static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  return pci;
}

bool valid_port_name(std::string_view name) {
  if (name.empty() || name.size() > 15) return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

// Linux's dev_valid_name(): 1-15 bytes, not "." or "..", no '/', ':' or white space.
bool valid_ifname(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (const char c : name) {
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r') return false;
  }
  return true;
}

void read_dataplane(Diagnostics& diag, const toml::table& root, Config& config) {
  const toml::node* node = root.get("dataplane");
  if (node == nullptr) return;
  const toml::table* table = node->as_table();
  if (table == nullptr) {
    diag.error(*node, "dataplane: expected a table ([dataplane]), got " + describe(*node));
    return;
  }
  TableReader r(diag, *table, "", "dataplane.", "in [dataplane]");
  r.check_keys({"workers", "poll", "flows_per_worker", "eal", "fnat_ports"});
  DataplaneConfig& d = config.dataplane;
  d.line = r.line();
  if (const auto v = r.integer("workers", 1, 64)) d.workers = static_cast<uint32_t>(*v);
  if (const auto v = r.choice<PollMode>(
          "poll", {{"busy", PollMode::kBusy}, {"adaptive", PollMode::kAdaptive}})) {
    d.poll = *v;
  }
  if (const auto v = r.integer("flows_per_worker", 1024, 67108864)) {
    d.flows_per_worker = static_cast<uint32_t>(*v);
  }
  if (const toml::array* eal = r.array("eal")) {
    for (size_t i = 0; i < eal->size(); ++i) {
      const auto arg =
          read_string(diag, *eal->get(i), r.where("eal") + "[" + std::to_string(i) + "]");
      if (arg) d.eal.push_back(*arg);
    }
  }
  if (const toml::array* ports = r.array("fnat_ports")) {
    if (ports->size() != 2) {
      r.error("fnat_ports",
              "expected two integers [lo, hi], got " + std::to_string(ports->size()) + " values");
      return;
    }
    const auto lo = read_integer(diag, *ports->get(0), r.where("fnat_ports[0]"), 1024, 65535);
    const auto hi = read_integer(diag, *ports->get(1), r.where("fnat_ports[1]"), 1024, 65535);
    if (!lo || !hi) return;
    if (*lo > *hi) {
      r.error("fnat_ports", "lo " + std::to_string(*lo) + " is above hi " + std::to_string(*hi));
      return;
    }
    d.fnat_port_lo = static_cast<uint16_t>(*lo);
    d.fnat_port_hi = static_cast<uint16_t>(*hi);
  }
  // Each worker owns a disjoint slice of the range.
  const uint32_t count = uint32_t{d.fnat_port_hi} - d.fnat_port_lo + 1;
  if (count < d.workers) {
    r.error("fnat_ports", std::to_string(count) + " ports cannot be split between " +
                              std::to_string(d.workers) + " workers");
  }
}

// "A.B.C.D/NN" into port.address and port.prefix_len.
void read_port_address(const TableReader& r, PortConfig& port) {
  const auto text = r.string("address");
  if (!text) return;
  const size_t slash = text->find('/');
  if (slash == std::string::npos) {
    r.error("address", "\"" + *text + "\" must be A.B.C.D/NN (address and prefix length)");
    return;
  }
  const std::string addr_text = text->substr(0, slash);
  const std::string len_text = text->substr(slash + 1);
  const auto addr = parse_ipv4(addr_text);
  if (!addr) {
    r.error("address", "\"" + addr_text + "\" is not an IPv4 address");
    return;
  }
  const bool digits = !len_text.empty() && len_text.size() <= 2 &&
                      len_text.find_first_not_of("0123456789") == std::string::npos;
  const int len = digits ? std::stoi(len_text) : -1;
  if (len < 1 || len > 32) {
    r.error("address", "prefix length \"" + len_text + "\" is out of range 1-32");
    return;
  }
  port.address = *addr;
  port.prefix_len = static_cast<uint8_t>(len);
  if (len <= 30) {
    const uint32_t host = be32_to_host(*addr) & ~netmask(port.prefix_len);
    if (host == 0 || host == ~netmask(port.prefix_len)) {
      r.error("address", addr_text + " is the " + (host == 0 ? "network" : "broadcast") +
                             " address of " + cidr_text(*addr, port.prefix_len) +
                             ", not a host address");
    }
  }
}

void read_port(const TableReader& r, PortConfig& port) {
  r.check_keys({"name", "device", "address", "gateway", "kernel_interface", "mac"});
  port.line = r.line();
  if (r.require("device")) {
    if (const auto device = r.string("device")) {
      port.device = *device;
      if (device_name(*device).empty()) {
        r.error("device", "\"" + *device +
                              "\" is neither a DPDK vdev spec (net_<driver>[,key=value...]) nor a "
                              "PCI address (0000:03:00.0)");
      }
    }
  }
  if (r.require("address")) read_port_address(r, port);
  if (const auto gw = r.ipv4("gateway")) {
    port.gateway = *gw;
    if (port.prefix_len != 0 && !port.in_subnet(*gw)) {
      r.error("gateway", ipv4_to_string(*gw) + " is outside the port's subnet " +
                             cidr_text(port.address, port.prefix_len));
    } else if (*gw == port.address) {
      r.error("gateway", ipv4_to_string(*gw) + " is the port's own address");
    }
  }
  port.kernel_interface = ("fulcrum-" + port.name).substr(0, 15);
  if (const auto ifname = r.string("kernel_interface")) {
    port.kernel_interface = *ifname;
    if (!valid_ifname(*ifname)) {
      r.error("kernel_interface", "\"" + *ifname +
                                      "\" is not a valid interface name (1-15 characters, no "
                                      "'/', ':' or spaces)");
    }
  }
  if (const auto text = r.string("mac")) {
    port.mac = MacAddr::parse(*text);
    if (!port.mac) {
      r.error("mac", "\"" + *text + "\" is not a MAC address (xx:xx:xx:xx:xx:xx)");
    } else if (port.mac->is_zero() || (port.mac->bytes[0] & 1) != 0) {
      r.error("mac", "\"" + *text + "\" is not a unicast MAC address");
    }
  }
}

void read_ports(Diagnostics& diag, const toml::table& root, Config& config) {
  const auto tables = config_detail::table_array(diag, root, "port", "port");
  const toml::node* node = root.get("port");
  if (tables.empty() && (node == nullptr || (node->is_array() && node->as_array()->empty()))) {
    diag.error(0, "no [[port]] defined (at least one is required)");
  }
  for (size_t i = 0; i < tables.size(); ++i) {
    TableReader r(diag, *tables[i], "port #" + std::to_string(i + 1) + ": ", "", "in [[port]]");
    PortConfig port;
    if (r.require("name")) {
      if (const auto name = r.string("name")) {
        if (valid_port_name(*name)) {
          port.name = *name;
          r.set_prefix("port '" + *name + "': ");
        } else {
          r.error("name", "\"" + *name + "\" must be 1-15 characters of a-z, 0-9, '_' or '-'");
        }
      }
    }
    read_port(r, port);
    // Names, devices and exception interfaces are each one per port.
    for (const PortConfig& other : config.ports) {
      if (!port.name.empty() && other.name == port.name) {
        diag.error(*r.find("name"), "duplicate port name '" + port.name +
                                        "' (first defined at line " + std::to_string(other.line) +
                                        ")");
      }
      const std::string dev = device_name(port.device);
      if (!dev.empty() && dev == device_name(other.device)) {
        r.error("device", dev + " is already used by port '" + other.name + "' (line " +
                              std::to_string(other.line) + ")");
      }
      if (other.kernel_interface == port.kernel_interface) {
        r.error(r.find("kernel_interface") != nullptr ? "kernel_interface" : "name",
                "kernel interface " + port.kernel_interface + " is already used by port '" +
                    other.name + "' (line " + std::to_string(other.line) +
                    "); set kernel_interface");
      }
    }
    config.ports.push_back(std::move(port));
  }
}

// "HOST:PORT" with HOST an IPv4 address, a [bracketed] IPv6 address or a host name.
bool parse_host_port(const std::string& text, ApiConfig& api) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  const int port_number = std::stoi(port);
  if (port_number < 1 || port_number > 65535) return false;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
    if (host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) return false;
  } else if (host.find(':') != std::string::npos ||
             host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789.-") != std::string::npos) {
    return false;
  }
  api.metrics_host = host;
  api.metrics_port = static_cast<uint16_t>(port_number);
  return true;
}

void read_api(Diagnostics& diag, const toml::table& root, Config& config) {
  const toml::node* node = root.get("api");
  if (node == nullptr) return;
  const toml::table* table = node->as_table();
  if (table == nullptr) {
    diag.error(*node, "api: expected a table ([api]), got " + describe(*node));
    return;
  }
  TableReader r(diag, *table, "", "api.", "in [api]");
  r.check_keys({"socket", "metrics", "state_file"});
  ApiConfig& api = config.api;
  api.line = r.line();
  if (const auto socket = r.string("socket")) {
    api.socket = *socket;
    if (socket->empty() || socket->front() != '/') {
      r.error("socket", "\"" + *socket + "\" must be an absolute path");
    } else if (socket->size() > 107) {
      r.error("socket", "is longer than 107 bytes, the limit of a unix socket path");
    }
  }
  if (const auto state_file = r.string("state_file")) {
    api.state_file = *state_file;
    if (state_file->empty() || (*state_file)[0] != '/') {
      r.error("state_file", "\"" + *state_file + "\" must be an absolute path");
    }
  }
  if (const auto metrics = r.string("metrics")) {
    api.metrics = *metrics;
    if (!parse_host_port(*metrics, api)) {
      r.error("metrics", "\"" + *metrics + "\" must be HOST:PORT (e.g. \"127.0.0.1:9108\")");
    }
  }
}

}  // namespace

LoadResult load_config_string(std::string_view text, const std::string& source_name) {
  LoadResult result;
  Diagnostics diag(source_name);
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(source_name));
  } catch (const toml::parse_error& e) {
    // toml++ stops at the first syntax error: report it alone.
    std::string message(e.description());
    constexpr std::string_view kPrefix = "Error while parsing ";
    if (message.rfind(kPrefix, 0) == 0) {
      message = "syntax error in " + message.substr(kPrefix.size());
    }
    diag.error(e.source().begin.line, std::move(message));
    result.errors = diag.take_sorted();
    return result;
  }
  Config config;
  config.source = source_name;
  TableReader top(diag, root, "", "", "at top level");
  top.check_keys({"dataplane", "port", "api", "service", "vrrp", "announce"});
  read_dataplane(diag, root, config);
  read_ports(diag, root, config);
  read_api(diag, root, config);
  config_detail::read_services(diag, root, config);
  config_detail::read_vrrp(diag, root, config);
  config_detail::read_announce(diag, root, config);
  result.errors = diag.take_sorted();
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

LoadResult load_config_file(const std::string& path) {
  LoadResult result;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    result.errors.push_back(ConfigError{path, 0, "cannot read: is a directory"});
    return result;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    result.errors.push_back(
        ConfigError{path, 0, std::string("cannot read: ") + std::strerror(errno)});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();  // an empty file sets failbit on text: fine, it is just empty
  if (in.bad()) {
    result.errors.push_back(ConfigError{path, 0, "cannot read: I/O error"});
    return result;
  }
  return load_config_string(text.str(), path);
}

}  // namespace fulcrum
