// SPDX-License-Identifier: Apache-2.0
// The config loader: the example file loads with the values it says, and each kind of mistake
// is reported as FILE:LINE: message, all of them at once, in line order.
#include "config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace fulcrum {
namespace {

using std::chrono::milliseconds;

// Lines 1-4 of most configs below, so the lines under test start at 5.
const std::string kPort = R"([[port]]
name = "lan"
device = "net_af_xdp0,iface=lb0-0"
address = "192.0.2.2/24"
)";

// A service at lines 5-9 (after kPort).
const std::string kNova = R"([[service]]
name = "nova-api"
vip = "192.0.2.26"
port = 8774
backends = [ { address = "192.0.2.10" }, { address = "192.0.2.11" } ]
)";

std::vector<std::string> errors_of(const std::string& text) {
  const LoadResult r = load_config_string(text, "t.toml");
  std::vector<std::string> out;
  for (const ConfigError& e : r.errors) out.push_back(e.to_string());
  EXPECT_EQ(r.config.has_value(), out.empty());
  return out;
}

// The one error a config has (fails the test when there are none or several).
std::string error_of(const std::string& text) {
  const auto errors = errors_of(text);
  EXPECT_EQ(errors.size(), 1U) << ::testing::PrintToString(errors);
  return errors.empty() ? "" : errors[0];
}

Config load_ok(const std::string& text) {
  LoadResult r = load_config_string(text, "t.toml");
  for (const ConfigError& e : r.errors) ADD_FAILURE() << e.to_string();
  return r.config.value_or(Config{});
}

std::string docs_dir() {
  const char* env = std::getenv("FULCRUM_DOCS");
  return env != nullptr ? env : "docs";
}

Ipv4Be ip(const char* text) {
  return *parse_ipv4(text);
}

TEST(Config, ExampleFileLoadsWithItsValues) {
  const std::string path = docs_dir() + "/fulcrum.example.toml";
  const LoadResult r = load_config_file(path);
  for (const ConfigError& e : r.errors) ADD_FAILURE() << e.to_string();
  ASSERT_TRUE(r.config.has_value());
  const Config& c = *r.config;
  EXPECT_EQ(c.source, path);

  EXPECT_EQ(c.dataplane.workers, 1U);
  EXPECT_EQ(c.dataplane.poll, PollMode::kAdaptive);
  EXPECT_EQ(c.dataplane.flows_per_worker, 1048576U);
  EXPECT_EQ(c.dataplane.eal, (std::vector<std::string>{"--no-huge", "-m", "512"}));
  EXPECT_EQ(c.dataplane.fnat_port_lo, 1024);
  EXPECT_EQ(c.dataplane.fnat_port_hi, 32767);

  ASSERT_EQ(c.ports.size(), 1U);
  const PortConfig& lan = c.ports[0];
  EXPECT_EQ(lan.name, "lan");
  EXPECT_EQ(lan.device, "net_af_xdp0,iface=lb0-0");
  EXPECT_FALSE(lan.is_pci());
  EXPECT_EQ(lan.address, ip("192.0.2.2"));
  EXPECT_EQ(lan.prefix_len, 24);
  EXPECT_EQ(lan.gateway, ip("192.0.2.1"));
  EXPECT_EQ(lan.kernel_interface, "fulcrum-lan");
  EXPECT_FALSE(lan.mac.has_value());
  EXPECT_TRUE(lan.in_subnet(ip("192.0.2.254")));
  EXPECT_FALSE(lan.in_subnet(ip("192.0.3.1")));
  EXPECT_GT(lan.line, 0U);

  EXPECT_EQ(c.api.socket, "/run/fulcrum/api.sock");
  EXPECT_EQ(c.api.metrics_host, "127.0.0.1");
  EXPECT_EQ(c.api.metrics_port, 9108);

  ASSERT_EQ(c.services.size(), 2U);
  const ServiceConfig& nova = c.services[0];
  EXPECT_EQ(nova.name, "nova-api");
  EXPECT_EQ(nova.vip, ip("192.0.2.26"));
  EXPECT_EQ(nova.port, 8774);
  EXPECT_EQ(nova.protocol, IpProto::kTcp);
  EXPECT_EQ(nova.scheduler, Scheduler::kMaglev);
  EXPECT_EQ(nova.forward, ForwardMode::kFnat);
  EXPECT_EQ(nova.pool, PoolMode::kActive);
  EXPECT_TRUE(nova.failback);
  EXPECT_EQ(nova.on_down, OnDown::kKeep);
  EXPECT_EQ(nova.on_gone, GonePolicy::kRechoose);
  ASSERT_TRUE(nova.check.has_value());
  EXPECT_EQ(nova.check->type, CheckType::kHttp);
  EXPECT_EQ(nova.check->path, "/");
  EXPECT_EQ(nova.check->expect, 200);
  EXPECT_EQ(nova.check->interval, milliseconds(1000));
  EXPECT_EQ(nova.check->timeout, milliseconds(500));
  EXPECT_EQ(nova.check->rise, 2U);
  EXPECT_EQ(nova.check->fall, 3U);
  ASSERT_EQ(nova.backends.size(), 3U);
  EXPECT_EQ(nova.backends[2].address, ip("192.0.2.12"));
  EXPECT_EQ(nova.backends[1].port, 8774);
  EXPECT_EQ(nova.backends[1].weight, 1);
  // Each backend remembers its own line: they sit on three consecutive lines.
  EXPECT_EQ(nova.backends[1].line, nova.backends[0].line + 1);
  EXPECT_EQ(nova.backends[2].line, nova.backends[0].line + 2);
  EXPECT_LT(nova.line, nova.check->line);

  const ServiceConfig& galera = c.services[1];
  EXPECT_EQ(galera.name, "galera");
  EXPECT_EQ(galera.port, 3306);
  EXPECT_EQ(galera.pool, PoolMode::kStandby);
  EXPECT_FALSE(galera.failback);
  ASSERT_TRUE(galera.check.has_value());
  EXPECT_EQ(galera.check->type, CheckType::kGalera);
  EXPECT_EQ(galera.check->user, "fulcrum");
  EXPECT_EQ(galera.check->timeout, milliseconds(1000));  // default
  EXPECT_EQ(galera.check->fall, 2U);
  EXPECT_FALSE(galera.check->allow_donor);
  ASSERT_EQ(galera.backends.size(), 3U);
  EXPECT_EQ(galera.backends[0].port, 3306);  // defaults to the service's port
  EXPECT_EQ(c.find_service("galera"), &galera);
  EXPECT_EQ(c.find_service("keystone"), nullptr);

  ASSERT_EQ(c.vrrp.size(), 1U);
  const VrrpConfig& v = c.vrrp[0];
  EXPECT_EQ(v.name, "VI_1");
  EXPECT_EQ(v.port, "lan");
  EXPECT_EQ(v.vrid, 51);
  EXPECT_EQ(v.priority, 100);
  EXPECT_EQ(v.advert_interval, milliseconds(100));
  EXPECT_EQ(v.version, 3);
  EXPECT_FALSE(v.preempt);
  EXPECT_EQ(v.preempt_delay, milliseconds(0));
  EXPECT_TRUE(v.unicast_peers.empty());
  EXPECT_EQ(v.vips, std::vector<Ipv4Be>{ip("192.0.2.26")});
  EXPECT_EQ(v.track_services, (std::vector<std::string>{"nova-api", "galera"}));
  EXPECT_EQ(v.notify, "/etc/fulcrum/notify.sh");
  EXPECT_EQ(v.garp_count, 5U);
  EXPECT_EQ(v.garp_interval, milliseconds(10));
  EXPECT_EQ(v.track_priority_delta, 50);
  EXPECT_FALSE(c.announce.has_value());
  EXPECT_EQ(c.where(v.line), path + ":" + std::to_string(v.line));
}

TEST(Config, DefaultsOfAMinimalConfig) {
  const Config c = load_ok(kPort + kNova);
  EXPECT_EQ(c.dataplane.workers, 1U);
  EXPECT_EQ(c.dataplane.poll, PollMode::kAdaptive);
  EXPECT_EQ(c.dataplane.flows_per_worker, 1048576U);
  EXPECT_TRUE(c.dataplane.eal.empty());
  EXPECT_EQ(c.dataplane.fnat_port_lo, 1024);
  EXPECT_EQ(c.dataplane.fnat_port_hi, 32767);
  EXPECT_EQ(c.dataplane.line, 0U);  // no [dataplane] section
  EXPECT_FALSE(c.ports[0].gateway.has_value());
  EXPECT_EQ(c.api.socket, "/run/fulcrum/api.sock");
  EXPECT_EQ(c.api.metrics, "127.0.0.1:9108");
  const ServiceConfig& s = c.services[0];
  EXPECT_EQ(s.line, 5U);
  EXPECT_EQ(s.protocol, IpProto::kTcp);
  EXPECT_EQ(s.scheduler, Scheduler::kMaglev);
  EXPECT_EQ(s.forward, ForwardMode::kFnat);
  EXPECT_EQ(s.pool, PoolMode::kActive);
  EXPECT_TRUE(s.failback);
  EXPECT_EQ(s.on_down, OnDown::kKeep);
  EXPECT_EQ(s.on_gone, GonePolicy::kRechoose);
  EXPECT_FALSE(s.check.has_value());
  EXPECT_EQ(s.backends[0].port, 8774);
  EXPECT_EQ(s.backends[0].weight, 1);
  EXPECT_EQ(s.backends[0].line, 9U);
}

TEST(Config, StandbyPoolsDoNotFailBackByDefault) {
  const Config c = load_ok(kPort + kNova + "pool = \"standby\"\n");
  EXPECT_EQ(c.services[0].pool, PoolMode::kStandby);
  EXPECT_FALSE(c.services[0].failback);
}

TEST(Config, ReadsEveryOptionalKey) {
  const Config c = load_ok(R"([dataplane]
workers = 4
poll = "busy"
flows_per_worker = 2048
fnat_ports = [2000, 2999]

[[port]]
name = "wan0"
device = "0000:03:00.0"
address = "10.1.0.5/16"
gateway = "10.1.0.1"
kernel_interface = "uplink"
mac = "02:aa:bb:cc:dd:ee"

[api]
socket = "/tmp/f.sock"
metrics = "[::1]:9200"

[[service]]
name = "dns"
vip = "10.1.9.9"
port = 53
protocol = "udp"
scheduler = "sh"
forward = "dsr"
on_down = "reset"
on_gone = "reset"
check = { type = "mysql", port = 3307, interval = "2m", timeout = "250ms", user = "u", query = "SELECT 1" }
backends = [ { address = "10.1.0.10", weight = 0 }, { address = "10.1.0.11", weight = 65535 } ]

[[vrrp]]
name = "VI_9"
port = "wan0"
vrid = 9
priority = 200
version = 2
advert_interval = "3s"
preempt = true
preempt_delay = "1000s"
unicast_peers = ["10.1.0.6"]
vips = ["10.1.9.9"]
garp_count = 1
garp_interval = "0ms"
track_priority_delta = 254

[announce]
bird_socket = "/run/bird.ctl"
reassert_interval = "500ms"
stop_delay = "0s"
[[announce.vip]]
address = "10.1.9.10"
bird_protocol = "vip_dns"

[[service]]
name = "dns-anycast"
vip = "10.1.9.10"
port = 53
protocol = "udp"
backends = [ { address = "10.1.0.12" } ]
)");
  EXPECT_EQ(c.dataplane.workers, 4U);
  EXPECT_EQ(c.dataplane.poll, PollMode::kBusy);
  EXPECT_EQ(c.dataplane.fnat_port_lo, 2000);
  EXPECT_EQ(c.dataplane.fnat_port_hi, 2999);
  EXPECT_EQ(c.dataplane.line, 1U);
  const PortConfig& p = c.ports[0];
  EXPECT_TRUE(p.is_pci());
  EXPECT_EQ(p.prefix_len, 16);
  EXPECT_EQ(p.kernel_interface, "uplink");
  EXPECT_EQ(p.mac, MacAddr::parse("02:aa:bb:cc:dd:ee"));
  EXPECT_EQ(p.line, 7U);
  EXPECT_EQ(c.api.metrics_host, "::1");
  EXPECT_EQ(c.api.metrics_port, 9200);
  const ServiceConfig& s = c.services[0];
  EXPECT_EQ(s.protocol, IpProto::kUdp);
  EXPECT_EQ(s.scheduler, Scheduler::kSourceHash);
  EXPECT_EQ(s.forward, ForwardMode::kDsr);
  EXPECT_EQ(s.on_down, OnDown::kReset);
  EXPECT_EQ(s.on_gone, GonePolicy::kReset);
  EXPECT_EQ(s.check->type, CheckType::kMysql);
  EXPECT_EQ(s.check->port, 3307);
  EXPECT_EQ(s.check->interval, milliseconds(120000));
  EXPECT_EQ(s.check->query, "SELECT 1");
  EXPECT_EQ(s.backends[0].weight, 0);
  EXPECT_EQ(s.backends[1].weight, 65535);
  const VrrpConfig& v = c.vrrp[0];
  EXPECT_EQ(v.version, 2);
  EXPECT_EQ(v.advert_interval, milliseconds(3000));
  EXPECT_TRUE(v.preempt);
  EXPECT_EQ(v.preempt_delay, milliseconds(1000000));
  EXPECT_EQ(v.unicast_peers, std::vector<Ipv4Be>{ip("10.1.0.6")});
  EXPECT_EQ(v.garp_interval, milliseconds(0));
  EXPECT_EQ(v.track_priority_delta, 254);
  ASSERT_TRUE(c.announce.has_value());
  EXPECT_EQ(c.announce->bird_socket, "/run/bird.ctl");
  EXPECT_EQ(c.announce->reassert_interval, milliseconds(500));
  EXPECT_EQ(c.announce->stop_delay, milliseconds(0));
  ASSERT_EQ(c.announce->vips.size(), 1U);
  EXPECT_EQ(c.announce->vips[0].address, ip("10.1.9.10"));
  EXPECT_EQ(c.announce->vips[0].bird_protocol, "vip_dns");
  EXPECT_EQ(c.announce->vips[0].line, 50U);
}

// --- each kind of mistake, with its exact report ----------------------------------------------

TEST(ConfigErrors, BadPortAddress) {
  EXPECT_EQ(error_of(R"([[port]]
name = "lan"
device = "net_af_xdp0,iface=lb0-0"
address = "192.0.2.300/24"
)"),
            "t.toml:4: port 'lan': address: \"192.0.2.300\" is not an IPv4 address");
  EXPECT_EQ(error_of(R"([[port]]
name = "lan"
device = "net_af_xdp0,iface=lb0-0"
address = "192.0.2.2"
)"),
            "t.toml:4: port 'lan': address: \"192.0.2.2\" must be A.B.C.D/NN (address and prefix "
            "length)");
  EXPECT_EQ(error_of(R"([[port]]
name = "lan"
device = "net_af_xdp0,iface=lb0-0"
address = "192.0.2.2/33"
)"),
            "t.toml:4: port 'lan': address: prefix length \"33\" is out of range 1-32");
}

TEST(ConfigErrors, BadServiceVip) {
  EXPECT_EQ(error_of(kPort + R"([[service]]
name = "a"
vip = "192.0.2"
port = 80
backends = [ { address = "192.0.2.10" } ]
)"),
            "t.toml:7: service 'a': vip: \"192.0.2\" is not an IPv4 address");
}

TEST(ConfigErrors, UnknownKeyAtTopLevel) {
  EXPECT_EQ(error_of(kPort + "[[services]]\nname = \"a\"\n"),
            "t.toml:5: unknown key 'services' at top level (did you mean 'service'?)");
}

TEST(ConfigErrors, UnknownKeyInService) {
  EXPECT_EQ(error_of(kPort + kNova + "shedule = \"wrr\"\n"),
            "t.toml:10: service 'nova-api': unknown key 'shedule' in [[service]] (did you mean "
            "'scheduler'?)");
}

TEST(ConfigErrors, UnknownKeyInCheck) {
  EXPECT_EQ(error_of(kPort + kNova + "check = { type = \"tcp\", intreval = \"1s\" }\n"),
            "t.toml:10: service 'nova-api': unknown key 'intreval' in check (did you mean "
            "'interval'?)");
}

TEST(ConfigErrors, UnknownKeyInBackend) {
  EXPECT_EQ(error_of(kPort + R"([[service]]
name = "a"
vip = "192.0.2.26"
port = 80
backends = [ { address = "192.0.2.10" },
             { address = "192.0.2.11", wieght = 2 } ]
)"),
            "t.toml:10: service 'a': unknown key 'wieght' in backends[1] (did you mean "
            "'weight'?)");
}

TEST(ConfigErrors, UnknownKeyInSectionWithoutSuggestion) {
  EXPECT_EQ(error_of("[dataplane]\ncolour = 1\n" + kPort),
            "t.toml:2: unknown key 'colour' in [dataplane]");
}

TEST(ConfigErrors, DuplicateServiceName) {
  EXPECT_EQ(error_of(kPort + kNova + R"([[service]]
name = "nova-api"
vip = "192.0.2.27"
port = 8774
backends = [ { address = "192.0.2.10" } ]
)"),
            "t.toml:11: duplicate service name 'nova-api' (first defined at line 5)");
}

TEST(ConfigErrors, DuplicateVipPortProtocol) {
  EXPECT_EQ(error_of(kPort + kNova + R"([[service]]
name = "nova-api-2"
vip = "192.0.2.26"
port = 8774
backends = [ { address = "192.0.2.12" } ]
)"),
            "t.toml:10: service 'nova-api-2': 192.0.2.26:8774/tcp is already used by service "
            "'nova-api' (line 5)");
  // The same VIP and port over UDP is another service.
  load_ok(kPort + kNova + R"([[service]]
name = "nova-udp"
vip = "192.0.2.26"
port = 8774
protocol = "udp"
backends = [ { address = "192.0.2.12" } ]
)");
}

TEST(ConfigErrors, PortOutOfRange) {
  EXPECT_EQ(error_of(kPort + R"([[service]]
name = "nova-api"
vip = "192.0.2.26"
port = 8774
backends = [ { address = "192.0.2.10" },
             { address = "192.0.2.11", port = 70000 } ]
)"),
            "t.toml:10: service 'nova-api': backends[1].port: 70000 is out of range 1-65535");
  EXPECT_EQ(error_of(kPort + R"([[service]]
name = "a"
vip = "192.0.2.26"
port = 0
backends = [ { address = "192.0.2.10", port = 80 } ]
)"),
            "t.toml:8: service 'a': port: 0 is out of range 1-65535");
}

TEST(ConfigErrors, MissingBackends) {
  EXPECT_EQ(error_of(kPort + R"([[service]]
name = "a"
vip = "192.0.2.26"
port = 80
)"),
            "t.toml:5: service 'a': backends: required key is missing");
}

TEST(ConfigErrors, EmptyBackends) {
  EXPECT_EQ(error_of(kPort + R"([[service]]
name = "a"
vip = "192.0.2.26"
port = 80
backends = []
)"),
            "t.toml:9: service 'a': backends: must list at least one backend");
}

TEST(ConfigErrors, MissingServiceName) {
  EXPECT_EQ(error_of(kPort + R"([[service]]
vip = "192.0.2.26"
port = 80
backends = [ { address = "192.0.2.10" } ]
)"),
            "t.toml:5: service #1: name: required key is missing");
}

TEST(ConfigErrors, BadDuration) {
  EXPECT_EQ(error_of(kPort + kNova + "check = { type = \"tcp\", interval = \"fast\" }\n"),
            "t.toml:10: service 'nova-api': check.interval: \"fast\" is not a duration (expected "
            "a whole number and ms, s or m, e.g. \"500ms\")");
  EXPECT_EQ(error_of(kPort + kNova + "check = { type = \"tcp\", interval = \"1.5s\" }\n"),
            "t.toml:10: service 'nova-api': check.interval: \"1.5s\" is not a whole number of ms, "
            "s or m (write \"1500ms\", not \"1.5s\")");
  EXPECT_EQ(error_of(kPort + kNova + "check = { type = \"tcp\", timeout = \"0ms\" }\n"),
            "t.toml:10: service 'nova-api': check.timeout: must be between 1ms and 60m (got "
            "\"0ms\")");
}

TEST(ConfigErrors, BadDurationUnit) {
  EXPECT_EQ(error_of(kPort + kNova + "check = { type = \"tcp\", interval = \"2h\" }\n"),
            "t.toml:10: service 'nova-api': check.interval: unknown unit \"h\" in \"2h\" (expected "
            "ms, s or m)");
  EXPECT_EQ(error_of(kPort + kNova + "check = { type = \"tcp\", interval = \"10\" }\n"),
            "t.toml:10: service 'nova-api': check.interval: \"10\" has no unit (expected ms, s or "
            "m)");
}

TEST(ConfigErrors, WrongType) {
  EXPECT_EQ(error_of(kPort + R"([[service]]
name = "a"
vip = "192.0.2.26"
port = "8774"
backends = [ { address = "192.0.2.10", port = 80 } ]
)"),
            "t.toml:8: service 'a': port: expected an integer, got string \"8774\"");
  EXPECT_EQ(error_of(kPort + kNova + "check = { type = \"tcp\", interval = 5 }\n"),
            "t.toml:10: service 'nova-api': check.interval: expected a duration string such as "
            "\"1s\", got integer 5");
  EXPECT_EQ(error_of("[dataplane]\nworkers = 1.5\n" + kPort),
            "t.toml:2: dataplane.workers: expected an integer, got float 1.5");
  EXPECT_EQ(error_of("port = { name = \"lan\" }\n"),
            "t.toml:1: port: expected an array of tables ([[port]]), got a table");
}

TEST(ConfigErrors, TomlSyntaxError) {
  EXPECT_EQ(error_of(kPort + "[[service]]\nname = \"a\nvip = \"192.0.2.26\"\n"),
            "t.toml:6: syntax error in string: unescaped control characters other than TAB "
            "(U+0009) are explicitly prohibited");
  EXPECT_EQ(error_of("[dataplane]\nworkers = 1\nworkers = 2\n" + kPort),
            "t.toml:3: syntax error in key-value pair: cannot redefine existing integer "
            "'workers'");
  EXPECT_EQ(error_of(kPort + "[[service]]\nbackends = [ { address = \"192.0.2.10\" }\n"),
            "t.toml:6: syntax error in array: encountered end-of-file");
}

TEST(ConfigErrors, GatewayOutsideSubnet) {
  EXPECT_EQ(error_of(kPort + "gateway = \"192.0.3.1\"\n"),
            "t.toml:5: port 'lan': gateway: 192.0.3.1 is outside the port's subnet "
            "192.0.2.0/24");
}

TEST(ConfigErrors, BadDevice) {
  EXPECT_EQ(error_of(R"([[port]]
name = "lan"
device = "eth0"
address = "192.0.2.2/24"
)"),
            "t.toml:3: port 'lan': device: \"eth0\" is neither a DPDK vdev spec "
            "(net_<driver>[,key=value...]) nor a PCI address (0000:03:00.0)");
  EXPECT_EQ(error_of(R"([[port]]
name = "lan"
device = "net_af_xdp0,iface"
address = "192.0.2.2/24"
)"),
            "t.toml:3: port 'lan': device: \"net_af_xdp0,iface\" is neither a DPDK vdev spec "
            "(net_<driver>[,key=value...]) nor a PCI address (0000:03:00.0)");
}

TEST(Config, DevargKeysMayHoldHyphens) {
  const Config c = load_ok(R"([[port]]
name = "lan"
device = "net_memif0,role=client,socket-abstract=no,zero-copy=yes,socket=/run/m.sock"
address = "192.0.2.2/24"
)");
  ASSERT_EQ(c.ports.size(), 1u);
  EXPECT_EQ(c.ports[0].device,
            "net_memif0,role=client,socket-abstract=no,zero-copy=yes,socket=/run/m.sock");
  EXPECT_EQ(error_of(R"([[port]]
name = "lan"
device = "net_memif0,socket abstract=no"
address = "192.0.2.2/24"
)"),
            "t.toml:3: port 'lan': device: \"net_memif0,socket abstract=no\" is neither a DPDK "
            "vdev spec (net_<driver>[,key=value...]) nor a PCI address (0000:03:00.0)");
}

TEST(ConfigErrors, NoPort) {
  EXPECT_EQ(error_of(kNova), "t.toml: no [[port]] defined (at least one is required)");
}

TEST(ConfigErrors, DefaultKernelInterfacesCollide) {
  // "fulcrum-" + name is cut to 15 characters: these two names end up the same.
  EXPECT_EQ(error_of(R"([[port]]
name = "uplink_a"
device = "net_tap0"
address = "192.0.2.2/24"
[[port]]
name = "uplink_b"
device = "net_tap1"
address = "198.51.100.2/24"
)"),
            "t.toml:6: port 'uplink_b': name: kernel interface fulcrum-uplink_ is already used by "
            "port 'uplink_a' (line 1); set kernel_interface");
}

TEST(ConfigErrors, VrrpOnUnknownPort) {
  EXPECT_EQ(error_of(kPort + kNova + R"([[vrrp]]
name = "VI_1"
port = "wan"
vrid = 51
vips = ["192.0.2.26"]
)"),
            "t.toml:12: vrrp 'VI_1': port: no [[port]] named 'wan'");
}

TEST(ConfigErrors, TrackedServiceUnknown) {
  EXPECT_EQ(error_of(kPort + kNova + R"([[vrrp]]
name = "VI_1"
port = "lan"
vrid = 51
vips = ["192.0.2.26"]
track_services = ["nova-api",
                  "glance"]
)"),
            "t.toml:16: vrrp 'VI_1': track_services[1]: no [[service]] named 'glance'");
}

TEST(ConfigErrors, VrrpVipNotAServiceVip) {
  EXPECT_EQ(error_of(kPort + kNova + R"([[vrrp]]
name = "VI_1"
port = "lan"
vrid = 51
vips = ["192.0.2.27"]
)"),
            "t.toml:14: vrrp 'VI_1': vips[0]: 192.0.2.27 is not the vip of any [[service]]");
}

TEST(ConfigErrors, VrrpV2AdvertIntervalNotWholeSeconds) {
  EXPECT_EQ(error_of(kPort + kNova + R"([[vrrp]]
name = "VI_1"
port = "lan"
vrid = 51
version = 2
advert_interval = "100ms"
vips = ["192.0.2.26"]
)"),
            "t.toml:15: vrrp 'VI_1': advert_interval: must be whole seconds between 1s and 255s "
            "for VRRP version 2");
  EXPECT_EQ(error_of(kPort + kNova + R"([[vrrp]]
name = "VI_1"
port = "lan"
vrid = 51
advert_interval = "15ms"
vips = ["192.0.2.26"]
)"),
            "t.toml:14: vrrp 'VI_1': advert_interval: must be a multiple of 10ms between 10ms and "
            "40950ms for VRRP version 3");
}

TEST(ConfigErrors, DuplicateVridOnAPort) {
  const std::vector<std::string> expected = {
      "t.toml:18: vrrp 'VI_2': vrid: vrid 51 is already used on port 'lan' by vrrp 'VI_1' (line "
      "10)",
      "t.toml:19: vrrp 'VI_2': vips: must list at least one VIP"};
  EXPECT_EQ(errors_of(kPort + kNova + R"([[vrrp]]
name = "VI_1"
port = "lan"
vrid = 51
vips = ["192.0.2.26"]
[[vrrp]]
name = "VI_2"
port = "lan"
vrid = 51
vips = []
)"),
            expected);
}

TEST(ConfigErrors, UnicastRequestedWithoutPeers) {
  EXPECT_EQ(error_of(kPort + kNova + R"([[vrrp]]
name = "VI_1"
port = "lan"
vrid = 51
unicast = true
unicast_peers = []
vips = ["192.0.2.26"]
)"),
            "t.toml:14: vrrp 'VI_1': unicast: is true but unicast_peers lists no peer");
  EXPECT_EQ(error_of(kPort + kNova + R"([[vrrp]]
name = "VI_1"
port = "lan"
vrid = 51
unicast = false
unicast_peers = ["192.0.2.3"]
vips = ["192.0.2.26"]
)"),
            "t.toml:14: vrrp 'VI_1': unicast: is false but unicast_peers lists peers (leave it "
            "out, or empty the list)");
}

TEST(Config, VrrpFaultTrackingAndGarpRefresh) {
  const LoadResult r = load_config_string(kPort + kNova + R"([[vrrp]]
name = "VI_1"
port = "lan"
vrid = 51
unicast = true
unicast_peers = ["192.0.2.3"]
vips = ["192.0.2.26"]
track_services = ["nova-api"]
track_priority_delta = 0
garp_refresh = "60s"
)",
                                          "t.toml");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
  const VrrpConfig& v = r.config->vrrp[0];
  EXPECT_EQ(v.track_priority_delta, 0);
  EXPECT_EQ(v.garp_refresh, milliseconds(60000));
  EXPECT_EQ(v.garp_count, 5U);  // default
}

TEST(ConfigErrors, GaleraCheckWithoutUser) {
  EXPECT_EQ(error_of(kPort + kNova + "check = { type = \"galera\", password = \"x\" }\n"),
            "t.toml:10: service 'nova-api': check.user: required for a galera check");
}

TEST(ConfigErrors, HttpKeyOnTcpCheck) {
  EXPECT_EQ(error_of(kPort + kNova + "check = { type = \"tcp\", path = \"/health\" }\n"),
            "t.toml:10: service 'nova-api': check.path: not valid for a \"tcp\" check");
}

TEST(ConfigErrors, BadCheckType) {
  EXPECT_EQ(error_of(kPort + kNova + "check = { type = \"icmp\" }\n"),
            "t.toml:10: service 'nova-api': check.type: unknown value \"icmp\" (expected \"tcp\", "
            "\"http\", \"mysql\" or \"galera\")");
}

TEST(ConfigErrors, WorkersOutOfRange) {
  EXPECT_EQ(error_of("[dataplane]\nworkers = 65\n" + kPort),
            "t.toml:2: dataplane.workers: must be between 1 and 64 (got 65)");
}

TEST(ConfigErrors, FnatPortsBackwards) {
  EXPECT_EQ(error_of("[dataplane]\nfnat_ports = [5000, 4000]\n" + kPort),
            "t.toml:2: dataplane.fnat_ports: lo 5000 is above hi 4000");
  EXPECT_EQ(error_of("[dataplane]\nfnat_ports = [80, 4000]\n" + kPort),
            "t.toml:2: dataplane.fnat_ports[0]: must be between 1024 and 65535 (got 80)");
}

TEST(ConfigErrors, DuplicateBackend) {
  EXPECT_EQ(error_of(kPort + R"([[service]]
name = "a"
vip = "192.0.2.26"
port = 80
backends = [ { address = "192.0.2.10" },
             { address = "192.0.2.11" },
             { address = "192.0.2.10", port = 80 } ]
)"),
            "t.toml:11: service 'a': backends[2]: 192.0.2.10:80 is listed twice (first at line "
            "9)");
}

TEST(ConfigErrors, FailbackOffNeedsAStandbyPool) {
  EXPECT_EQ(error_of(kPort + kNova + "failback = false\n"),
            "t.toml:10: service 'nova-api': failback: false needs pool = \"standby\" (an active "
            "pool has no single backend to stick to)");
}

TEST(ConfigErrors, DsrCannotChangePorts) {
  EXPECT_EQ(error_of(kPort + R"([[service]]
name = "a"
vip = "192.0.2.26"
port = 80
forward = "dsr"
backends = [ { address = "192.0.2.10", port = 8080 } ]
)"),
            "t.toml:10: service 'a': backends[0].port: 8080 differs from the service port 80; "
            "forward = \"dsr\" cannot change ports");
}

TEST(ConfigErrors, BadEnumValue) {
  EXPECT_EQ(error_of(kPort + kNova + "scheduler = \"rr\"\n"),
            "t.toml:10: service 'nova-api': scheduler: unknown value \"rr\" (expected \"maglev\", "
            "\"wrr\" or \"sh\")");
}

TEST(ConfigErrors, BadMetricsAddress) {
  EXPECT_EQ(error_of(kPort + "[api]\nmetrics = \"localhost\"\n"),
            "t.toml:6: api.metrics: \"localhost\" must be HOST:PORT (e.g. \"127.0.0.1:9108\")");
}

TEST(ConfigErrors, AnnouncedVipNotAServiceVip) {
  EXPECT_EQ(error_of(kPort + kNova + R"([announce]
[[announce.vip]]
address = "192.0.2.99"
bird_protocol = "vip1"
)"),
            "t.toml:12: announce.vip[0].address: 192.0.2.99 is not the vip of any [[service]]");
}

TEST(Config, AnnounceDefaults) {
  const Config c = load_ok(kPort + kNova + R"([announce]
[[announce.vip]]
address = "192.0.2.26"
bird_protocol = "vip1"
)");
  ASSERT_TRUE(c.announce.has_value());
  EXPECT_EQ(c.announce->bird_socket, "/run/bird/bird.ctl");
  EXPECT_EQ(c.announce->reassert_interval, milliseconds(2000));
  EXPECT_EQ(c.announce->stop_delay, milliseconds(1000));
}

TEST(ConfigErrors, AnnouncedVipHeldByVrrp) {
  EXPECT_EQ(error_of(kPort + kNova + R"([[vrrp]]
name = "VI_1"
port = "lan"
vrid = 51
priority = 100
vips = ["192.0.2.26"]

[announce]
[[announce.vip]]
address = "192.0.2.26"
bird_protocol = "vip1"
)"),
            "t.toml:19: announce.vip[0].address: 192.0.2.26 is held by vrrp 'VI_1' (line 10); a "
            "VIP is either shared by VRRP or announced over BGP");
}

TEST(ConfigErrors, AnnounceTimingsOutOfRange) {
  const auto errors = errors_of(kPort + kNova + "[announce]\nbird_socket = \"/run/" +
                                std::string(110, 'b') + ".ctl\"\n" + R"(reassert_interval = "10ms"
stop_delay = "1m"
)");
  ASSERT_EQ(errors.size(), 3U);
  EXPECT_NE(errors[0].find("t.toml:11: announce.bird_socket: "), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("too long for a UNIX socket"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("t.toml:12: announce.reassert_interval: "), std::string::npos)
      << errors[1];
  EXPECT_NE(errors[2].find("t.toml:13: announce.stop_delay: "), std::string::npos) << errors[2];
}

TEST(ConfigErrors, UnreadableFile) {
  const LoadResult r = load_config_file("/nonexistent/fulcrum.toml");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(r.errors[0].to_string(),
            "/nonexistent/fulcrum.toml: cannot read: No such file or directory");
}

TEST(ConfigErrors, EveryErrorIsReportedInLineOrder) {
  const auto errors = errors_of(R"([dataplane]
workers = 0
poll = "bsy"

[[port]]
name = "lan"
device = "eth0"
address = "192.0.2.2/24"
gateway = "10.0.0.1"

[[service]]
name = "a"
vip = "192.0.2.26"
port = 8774
shedule = "wrr"
check = { type = "tcp", path = "/", interval = "1x" }
backends = [ { address = "192.0.2.10", port = 70000 } ]

[[vrrp]]
name = "VI_1"
port = "wan"
vrid = 51
vips = ["192.0.2.26"]
track_services = ["b"]
)");
  const std::vector<std::string> expected = {
      "t.toml:2: dataplane.workers: must be between 1 and 64 (got 0)",
      "t.toml:3: dataplane.poll: unknown value \"bsy\" (expected \"busy\" or \"adaptive\")",
      "t.toml:7: port 'lan': device: \"eth0\" is neither a DPDK vdev spec "
      "(net_<driver>[,key=value...]) nor a PCI address (0000:03:00.0)",
      "t.toml:9: port 'lan': gateway: 10.0.0.1 is outside the port's subnet 192.0.2.0/24",
      "t.toml:15: service 'a': unknown key 'shedule' in [[service]] (did you mean 'scheduler'?)",
      "t.toml:16: service 'a': check.path: not valid for a \"tcp\" check",
      "t.toml:16: service 'a': check.interval: unknown unit \"x\" in \"1x\" (expected ms, s or m)",
      "t.toml:17: service 'a': backends[0].port: 70000 is out of range 1-65535",
      "t.toml:21: vrrp 'VI_1': port: no [[port]] named 'wan'",
      "t.toml:24: vrrp 'VI_1': track_services[0]: no [[service]] named 'b'",
  };
  EXPECT_EQ(errors, expected);
}

TEST(ConfigErrors, ErrorFormatWithAndWithoutLine) {
  EXPECT_EQ((ConfigError{"f.toml", 12, "boom"}).to_string(), "f.toml:12: boom");
  EXPECT_EQ((ConfigError{"f.toml", 0, "boom"}).to_string(), "f.toml: boom");
}

}  // namespace
}  // namespace fulcrum
