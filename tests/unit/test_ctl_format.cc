// SPDX-License-Identifier: Apache-2.0
// fulcrumctl's tables, rendered from sample replies of the runtime API: columns line up, the
// serving backend of a standby pool is marked, only non-zero drops are listed, and a reply
// with fields missing still prints.
#include "ctl_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace fulcrum {
namespace {

using nlohmann::json;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

json backend(const char* address, int port, const char* health, const char* admin, bool serving,
             int flows, double rate, json check) {
  return {{"address", address}, {"port", port},     {"weight", 1},
          {"health", health},   {"admin", admin},   {"serving", serving},
          {"flows", flows},     {"new_flows", 340}, {"new_flow_rate", rate},
          {"packets", 1234},    {"bytes", 56789},   {"check", std::move(check)}};
}

json http_ok() {
  return {{"type", "http"}, {"ok", true}, {"reason", "HTTP 200"}, {"latency_ms", 1.3}};
}

json list_reply() {
  return {
      {"ok", true},
      {"services",
       {{{"name", "nova-api"},
         {"vip", "192.0.2.26"},
         {"port", 8774},
         {"protocol", "tcp"},
         {"scheduler", "maglev"},
         {"forward", "fnat"},
         {"pool", "active"},
         {"backends",
          {backend("192.0.2.10", 8774, "up", "enabled", true, 12, 5.2, http_ok()),
           backend("192.0.2.11", 8774, "down", "drain", false, 0, 0,
                   {{"type", "http"},
                    {"ok", false},
                    {"reason", "connection refused"},
                    {"latency_ms", 0.4}})}}},
        {{"name", "galera"},
         {"vip", "192.0.2.26"},
         {"port", 3306},
         {"protocol", "tcp"},
         {"scheduler", "maglev"},
         {"forward", "fnat"},
         {"pool", "standby"},
         {"backends",
          {backend("192.0.2.10", 3306, "up", "enabled", true, 7, 0.25, nullptr),
           backend("192.0.2.12", 3306, "unchecked", "disabled", false, 123456, 0, nullptr)}}}}}};
}

TEST(CtlFormat, ListLooksLikeIpvsadm) {
  const std::string expected =
      "Prot VIP:Port              Scheduler Forward Pool\n"
      "  -> Backend:Port          Weight Health    Admin    Flows  NewFlows/s  Check\n"
      "TCP  192.0.2.26:8774       maglev    fnat    active\n"
      "  -> 192.0.2.10:8774       1      up        enabled  12     5.2         ok: HTTP 200 (1.3 "
      "ms)\n"
      "  -> 192.0.2.11:8774       1      down      drain    0      0.0         fail: connection "
      "refused (0.4 ms)\n"
      "TCP  192.0.2.26:3306       maglev    fnat    standby\n"
      " *-> 192.0.2.10:3306       1      up        enabled  7      0.2         -\n"
      "  -> 192.0.2.12:3306       1      unchecked disabled 123456 0.0         -\n"
      "(*: the backend a standby pool sends new flows to)\n";
  EXPECT_EQ(format_list(list_reply()), expected);
}

TEST(CtlFormat, ListColumnsLineUpWhateverTheWidths) {
  json reply = list_reply();
  reply["services"][0]["backends"][0]["flows"] = 12345678901;
  reply["services"][1]["scheduler"] = "a-long-scheduler-name";
  const auto lines = lines_of(format_list(reply));
  ASSERT_GE(lines.size(), 8u);
  // Every backend's "Weight" starts where the header's does; so does every service's
  // "Scheduler", and every backend's Check starts in one column.
  const size_t weight = lines[1].find("Weight");
  const size_t scheduler = lines[0].find("Scheduler");
  const size_t check = lines[1].find("Check");
  for (const size_t i : {3u, 4u, 6u, 7u}) {
    EXPECT_EQ(lines[i].find(" 1 ") + 1, weight) << lines[i];
    EXPECT_NE(lines[i].find_first_of("of-", check), std::string::npos);
    EXPECT_EQ(lines[i][check - 1], ' ') << lines[i];
    EXPECT_NE(lines[i][check], ' ') << lines[i];
  }
  EXPECT_EQ(lines[2].find("maglev"), scheduler);
  EXPECT_EQ(lines[5].find("a-long-scheduler-name"), scheduler);
  EXPECT_EQ(lines[3].find("12345678901"), lines[1].find("Flows"));
}

TEST(CtlFormat, ListMarksOnlyTheServingBackendOfStandbyPools) {
  const auto lines = lines_of(format_list(list_reply()));
  EXPECT_EQ(lines[3].substr(0, 5), "  -> ");  // active pool: serving, but no mark
  EXPECT_EQ(lines[6].substr(0, 5), " *-> ");
  EXPECT_EQ(lines[7].substr(0, 5), "  -> ");
  json active_only = list_reply();
  active_only["services"].erase(1);
  EXPECT_EQ(format_list(active_only).find('*'), std::string::npos);
}

TEST(CtlFormat, ListWithoutServicesPrintsTheHeader) {
  EXPECT_EQ(format_list({{"ok", true}, {"services", json::array()}}),
            "Prot VIP:Port              Scheduler Forward Pool\n"
            "  -> Backend:Port          Weight Health  Admin    Flows  NewFlows/s  Check\n");
}

TEST(CtlFormat, MissingFieldsPrintAsDashes) {
  const json reply = {{"ok", true},
                      {"services", {{{"vip", "192.0.2.26"}, {"backends", {{{"weight", 2}}}}}}}};
  const auto lines = lines_of(format_list(reply));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2], "-    192.0.2.26            -         -       -");
  EXPECT_EQ(lines[3], "  -> -                     2      -       -        -      -           -");
  EXPECT_NO_THROW(format_stats(json::object()));
  EXPECT_NO_THROW(format_vrrp(json::array()));
  EXPECT_NO_THROW(format_list(json("nonsense")));
}

TEST(CtlFormat, CheckColumnSaysPendingBeforeTheFirstResult) {
  json reply = list_reply();
  reply["services"][0]["backends"][0]["check"] = {{"type", "tcp"}, {"ok", nullptr}};
  EXPECT_NE(format_list(reply).find(" pending\n"), std::string::npos);
}

json stats_reply() {
  return {{"ok", true},
          {"ports",
           {{{"name", "lan"},
             {"link", "up"},
             {"rx_packets", 1234567},
             {"tx_packets", 1234000},
             {"rx_bytes", 98765432},
             {"tx_bytes", 98000000},
             {"rx_missed", 0},
             {"rx_errors", 2},
             {"tx_errors", 0}}}},
          {"workers",
           {{{"id", 0},
             {"rx_packets", 600000},
             {"rx_bytes", 48000000},
             {"forwarded", 599000},
             {"replied", 10},
             {"to_kernel", 900},
             {"handed_off", 0},
             {"new_flows", 340},
             {"dropped", 90},
             {"busy_ratio", 0.05},
             {"drops", {{"no_flow", 3}, {"bad_checksum", 87}, {"ttl", 0}}}},
            {{"id", 1},
             {"rx_packets", 634567},
             {"rx_bytes", 50765432},
             {"forwarded", 634000},
             {"replied", 0},
             {"to_kernel", 567},
             {"handed_off", 0},
             {"new_flows", 300},
             {"dropped", 0},
             {"busy_ratio", 0.125},
             {"drops", {{"no_flow", 0}}}}}},
          {"drops", {{"no_flow", 3}, {"bad_checksum", 87}, {"ttl", 0}, {"no_backend", 0}}}};
}

TEST(CtlFormat, StatsPrintsPortsWorkersAndNonZeroDrops) {
  const std::string expected =
      "Port  Link  RX packets  TX packets  RX bytes  TX bytes  RX missed  RX errors  TX errors\n"
      "lan   up       1234567     1234000  98765432  98000000          0          2          0\n"
      "\n"
      "Worker  RX packets  RX bytes  Forwarded  Replied  To kernel  Handed off  New flows  "
      "Dropped   Busy\n"
      "0           600000  48000000     599000       10        900           0        340       "
      "90   5.0%\n"
      "1           634567  50765432     634000        0        567           0        300        "
      "0  12.5%\n"
      "\n"
      "Drops by reason:\n"
      "  bad_checksum  87\n"
      "  no_flow        3\n";
  EXPECT_EQ(format_stats(stats_reply()), expected);
}

TEST(CtlFormat, StatsSaysNoneWhenNothingWasDropped) {
  json reply = stats_reply();
  reply["drops"] = {{"no_flow", 0}};
  const std::string out = format_stats(reply);
  EXPECT_NE(out.find("\nDrops by reason: none\n"), std::string::npos) << out;
}

TEST(CtlFormat, StatsSumsWorkerDropsWhenTheReplyHasNoTotal) {
  json reply = stats_reply();
  reply.erase("drops");
  reply["workers"][1]["drops"]["no_flow"] = 4;
  const std::string out = format_stats(reply);
  EXPECT_NE(out.find("Drops by reason:\n  bad_checksum  87\n  no_flow        7\n"),
            std::string::npos)
      << out;
}

TEST(CtlFormat, VrrpTableAndEmptyList) {
  const json reply = {{"ok", true},
                      {"instances",
                       {{{"name", "VI_1"},
                         {"state", "MASTER"},
                         {"priority", 150},
                         {"effective_priority", 150},
                         {"vrid", 51},
                         {"master", "192.0.2.2"},
                         {"transitions", 2},
                         {"adverts_sent", 1200},
                         {"adverts_received", 0},
                         {"drops", {{"ttl", 3}, {"checksum", 4}}},
                         {"vips", {"192.0.2.26", "192.0.2.27"}}},
                        {{"name", "VI_galera"},
                         {"state", "BACKUP"},
                         {"priority", 100},
                         {"effective_priority", 90},
                         {"vrid", 52},
                         {"master", "192.0.2.3"},
                         {"vips", json::array()}}}}};
  EXPECT_EQ(format_vrrp(reply),
            "Name       State   Priority  Effective  VRID  Master     Transitions  Sent  Received  "
            "Dropped  VIPs\n"
            "VI_1       MASTER  150       150        51    192.0.2.2  2            1200  0         "
            "7        192.0.2.26, 192.0.2.27\n"
            "VI_galera  BACKUP  100       90         52    192.0.2.3  -            -     -         "
            "-        -\n");
  EXPECT_EQ(format_vrrp({{"ok", true}, {"instances", json::array()}}), "no VRRP instances\n");
}

TEST(CtlFormat, AnnounceTableSaysWhyEachVipIsOrIsNotAnnounced) {
  const json reply = {
      {"ok", true},
      {"configured", true},
      {"bird_socket", "/run/bird/bird.ctl"},
      {"bird_connected", true},
      {"bird_greeting", "BIRD 2.0.12 ready."},
      {"last_error", ""},
      {"vips",
       {{{"vip", "192.0.2.26"},
         {"protocol", "vip1"},
         {"wanted", "announce"},
         {"reason", "all 2 services are serving"},
         {"bird", "enabled"},
         {"bird_state", "up"},
         {"since_s", 12.34},
         {"changes", 0},
         {"error", ""}},
        {{"vip", "192.0.2.27"},
         {"protocol", "vip2"},
         {"wanted", "withdraw"},
         {"reason", "service dns has no serving backend"},
         {"bird", "unknown"},
         {"bird_state", ""},
         {"since_s", 3.0},
         {"changes", 1},
         {"error", "BIRD answered 8003 \"No protocols match\""}}}}};
  EXPECT_EQ(format_announce(reply),
            "BIRD /run/bird/bird.ctl: connected (BIRD 2.0.12 ready.)\n"
            "VIP         Protocol  Wanted    BIRD     State  Since  Reason\n"
            "192.0.2.26  vip1      announce  enabled  up     12.3s  all 2 services are serving\n"
            "192.0.2.27  vip2      withdraw  unknown  -      3.0s   service dns has no serving "
            "backend [BIRD answered 8003 \"No protocols match\"]\n");
  EXPECT_EQ(format_reply("announce", {{"ok", true}, {"configured", false}}),
            "no [announce] in the config: no VIP is announced over BGP\n");
  const json down = {{"ok", true},
                     {"bird_socket", "/run/bird/bird.ctl"},
                     {"bird_connected", false},
                     {"last_error", "connect to /run/bird/bird.ctl: Connection refused"}};
  EXPECT_EQ(format_announce(down),
            "BIRD /run/bird/bird.ctl: not connected: connect to /run/bird/bird.ctl: Connection "
            "refused\n"
            "VIP  Protocol  Wanted  BIRD  State  Since  Reason\n");
  EXPECT_NO_THROW(format_announce(json("nonsense")));
}

TEST(CtlFormat, MessagesAndTheCommandSwitch) {
  const json reply = {{"ok", true}, {"message", "nova-api 192.0.2.10:8774: draining"}};
  EXPECT_EQ(format_message(reply), "nova-api 192.0.2.10:8774: draining\n");
  EXPECT_EQ(format_reply("drain", reply), "nova-api 192.0.2.10:8774: draining\n");
  EXPECT_EQ(format_reply("reload", {{"ok", true}}), "");
  EXPECT_EQ(format_reply("vrrp", {{"ok", true}}), "no VRRP instances\n");
}

TEST(CtlFormat, TextTableAlignsAndTrims) {
  TextTable t({TextTable::Align::kLeft, TextTable::Align::kRight});
  t.add_row({"name", "n"});
  t.add_row({"a", "1234"});
  t.add_row({"longer", ""});
  EXPECT_EQ(t.str(), "name       n\na       1234\nlonger\n");
}

TEST(CtlFormat, Ipv6EndpointsAreBracketed) {
  json reply = list_reply();
  reply["services"][0]["vip"] = "2001:db8::26";
  EXPECT_NE(format_list(reply).find("TCP  [2001:db8::26]:8774 "), std::string::npos);
}

}  // namespace
}  // namespace fulcrum
