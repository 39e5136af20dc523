// SPDX-License-Identifier: Apache-2.0
#include "eal_args.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace fulcrum {
namespace {

Config load(const std::string& extra) {
  const std::string text = R"(
[dataplane]
workers = 2
)" + extra + R"(
[[port]]
name = "lan"
device = "net_af_xdp0,iface=lb0-0"
address = "192.0.2.2/24"
)";
  LoadResult r = load_config_string(text, "t.toml");
  for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
  return *r.config;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(EalArgs, VdevPortWithTapAndLcores) {
  const auto args = build_eal_args(load(""), "fulcrumd");
  EXPECT_EQ(args[0], "fulcrumd");
  EXPECT_TRUE(has(args, "-l"));
  EXPECT_TRUE(has(args, "0-2"));  // control lcore + 2 workers
  EXPECT_TRUE(has(args, "--vdev=net_af_xdp0,iface=lb0-0"));
  EXPECT_TRUE(has(args, "--vdev=net_tap_lan,iface=fulcrum-lan"));
  EXPECT_TRUE(has(args, "--no-pci"));
  EXPECT_TRUE(has(args, "--no-shconf"));
  EXPECT_TRUE(has(args, "--no-telemetry"));
}

TEST(EalArgs, OperatorArgumentsComeLastAndReplaceOurDefaults) {
  const auto args =
      build_eal_args(load(R"(eal = ["--no-huge", "-m", "512", "-l", "2-3", "--file-prefix=lb0"])"),
                     "fulcrumd");
  EXPECT_FALSE(has(args, "0-2"));
  EXPECT_FALSE(has(args, "--no-shconf"));
  EXPECT_EQ(std::vector<std::string>(args.end() - 6, args.end()),
            (std::vector<std::string>{"--no-huge", "-m", "512", "-l", "2-3", "--file-prefix=lb0"}));
}

TEST(EalArgs, PciPortIsAllowedNotScannedAway) {
  Config c = load("");
  c.ports[0].device = "0000:03:00.0";
  const auto args = build_eal_args(c, "fulcrumd");
  EXPECT_TRUE(has(args, "-a"));
  EXPECT_TRUE(has(args, "0000:03:00.0"));
  EXPECT_FALSE(has(args, "--no-pci"));
  EXPECT_EQ(port_device_name(c.ports[0]), "0000:03:00.0");
}

TEST(EalArgs, DeviceNames) {
  const Config c = load("");
  EXPECT_EQ(port_device_name(c.ports[0]), "net_af_xdp0");
  EXPECT_EQ(tap_device_name(c.ports[0]), "net_tap_lan");
}

}  // namespace
}  // namespace fulcrum
