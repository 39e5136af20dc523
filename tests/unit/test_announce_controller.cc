// SPDX-License-Identifier: Apache-2.0
// AnnounceController against a fake BIRD on a UNIX socket (the replies BIRD 2.0.12 gives):
// nothing before the first decision; changes go out at once; a restarted BIRD is brought back
// to the wanted state by the periodic re-assertion; an absent, unknown-protocol or hung BIRD
// is reported and never blocks the caller; a clean stop confirms the withdrawal; a reload
// withdraws VIPs it removes; `fulcrumd --withdraw` disables everything.
#include "announce_controller.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fulcrum {
namespace {

using namespace std::chrono_literals;

constexpr Ipv4Be kVip1 = 0x1a0200c0U;  // 192.0.2.26 in network order on little-endian
constexpr Ipv4Be kVip2 = 0x1b0200c0U;

// A BIRD stand-in: serves one client at a time; protocols named at construction start
// disabled; restart() drops the client and disables everything (what a BIRD restart with
// "disabled yes" protocols does); hang makes it accept and then never answer.
class FakeBird {
 public:
  FakeBird(std::string path, std::vector<std::string> protocols) : path_(std::move(path)) {
    for (auto& p : protocols) enabled_[p] = false;
    listen_now();
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeBird() {
    stop_ = true;
    thread_.join();
    close_all();
    ::unlink(path_.c_str());
  }

  bool enabled(const std::string& p) {
    const std::lock_guard lk(mu_);
    return enabled_[p];
  }
  void set_enabled(const std::string& p, bool on) {
    const std::lock_guard lk(mu_);
    enabled_[p] = on;
  }
  // The enable and disable commands received (not the `show protocols` queries).
  std::vector<std::string> toggles() {
    const std::lock_guard lk(mu_);
    std::vector<std::string> out;
    for (const std::string& c : commands_) {
      if (c.rfind("show ", 0) != 0) out.push_back(c);
    }
    return out;
  }
  int connections() const { return connections_.load(); }
  void restart() {
    const std::lock_guard lk(mu_);
    restart_requested_ = true;
  }
  std::atomic<bool> hang{false};

 private:
  void listen_now() {
    ::unlink(path_.c_str());
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(listen_fd_, 4) != 0) {
      ADD_FAILURE() << "fake BIRD cannot listen on " << path_ << ": " << std::strerror(errno);
    }
  }
  void close_all() {
    if (client_ >= 0) ::close(client_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    client_ = listen_fd_ = -1;
  }
  void send(const std::string& text) {
    [[maybe_unused]] const ssize_t n = ::send(client_, text.data(), text.size(), MSG_NOSIGNAL);
  }
  std::string answer(const std::string& line) {
    const std::lock_guard lk(mu_);
    commands_.push_back(line);
    const auto q1 = line.find('"'), q2 = line.rfind('"');
    const std::string name = q1 != q2 ? line.substr(q1 + 1, q2 - q1 - 1) : "";
    const auto it = enabled_.find(name);
    if (it == enabled_.end()) return "8003 No protocols match\n";
    const bool was = it->second;
    if (line.rfind("enable ", 0) == 0) {
      it->second = true;
      return std::string(was ? "0010-" : "0011-") + name + (was ? ": already enabled" : ": enabled") +
             "\n0000 \n";
    }
    if (line.rfind("disable ", 0) == 0) {
      it->second = false;
      return std::string(was ? "0009-" : "0008-") + name +
             (was ? ": disabled" : ": already disabled") + "\n0000 \n";
    }
    if (line.rfind("show protocols ", 0) == 0) {
      return "2002-Name       Proto      Table      State  Since         Info\n1002-" + name +
             "       Static     master4    " + (was ? "up  " : "down") +
             "   09:44:08.172  \n0000 \n";
    }
    return "9001 syntax error\n";
  }
  void serve() {
    std::string buffer;
    while (!stop_) {
      bool restart = false;
      {
        const std::lock_guard lk(mu_);
        restart = std::exchange(restart_requested_, false);
        if (restart) {
          for (auto& [name, on] : enabled_) on = false;
        }
      }
      if (restart) {
        close_all();
        buffer.clear();
        listen_now();
      }
      pollfd p{.fd = client_ >= 0 ? client_ : listen_fd_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      if (client_ < 0) {
        client_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        ++connections_;
        if (!hang) send("0001 BIRD 2.0.12 ready.\n");
        continue;
      }
      char chunk[512];
      const ssize_t n = ::recv(client_, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        ::close(client_);
        client_ = -1;
        buffer.clear();
        continue;
      }
      buffer.append(chunk, static_cast<size_t>(n));
      size_t eol;
      while ((eol = buffer.find('\n')) != std::string::npos) {
        const std::string line = buffer.substr(0, eol);
        buffer.erase(0, eol + 1);
        const std::string reply = answer(line);
        if (!hang) send(reply);
      }
    }
  }

  std::string path_;
  std::mutex mu_;
  std::map<std::string, bool> enabled_;
  std::vector<std::string> commands_;
  bool restart_requested_ = false;
  int listen_fd_ = -1, client_ = -1;
  std::atomic<int> connections_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/fulcrum-announce-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 3s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

AnnounceConfig config_for(const std::string& socket, std::chrono::milliseconds reassert = 200ms) {
  AnnounceConfig c;
  c.bird_socket = socket;
  c.reassert_interval = reassert;
  c.vips.push_back({.address = kVip1, .bird_protocol = "vip1"});
  return c;
}

AnnounceDecision decision(Ipv4Be vip, const std::string& protocol, bool announce) {
  return {.vip = vip, .protocol = protocol, .announce = announce,
          .reason = announce ? "its service is serving" : "service nova-api has no serving backend"};
}

nlohmann::json vip_status(const AnnounceController& c, size_t i = 0) {
  return c.status()["vips"][i];
}

TEST(AnnounceController, NothingIsSentBeforeTheFirstDecision) {
  TempDir dir;
  FakeBird bird(dir.file("bird.ctl"), {"vip1"});
  AnnounceController c(config_for(dir.file("bird.ctl"), 100ms));
  c.start();
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(bird.connections(), 0);
  EXPECT_EQ(vip_status(c)["wanted"], "undecided");
  EXPECT_EQ(vip_status(c)["bird"], "unknown");
}

TEST(AnnounceController, AnnouncesAndWithdrawsAtOnce) {
  TempDir dir;
  FakeBird bird(dir.file("bird.ctl"), {"vip1"});
  // A long re-assertion interval: only the change itself can make these happen in time.
  AnnounceController c(config_for(dir.file("bird.ctl"), 60s));
  c.start();
  c.set_decisions({decision(kVip1, "vip1", true)});
  ASSERT_TRUE(eventually([&] { return bird.enabled("vip1"); }));
  ASSERT_TRUE(eventually([&] { return vip_status(c)["bird"] == "enabled"; }));
  nlohmann::json s = c.status();
  EXPECT_EQ(s["bird_connected"], true);
  EXPECT_EQ(s["bird_greeting"], "BIRD 2.0.12 ready.");
  EXPECT_EQ(s["vips"][0]["vip"], "192.0.2.26");
  EXPECT_EQ(s["vips"][0]["wanted"], "announce");
  EXPECT_EQ(s["vips"][0]["reason"], "its service is serving");
  EXPECT_EQ(s["vips"][0]["changes"], 0);

  c.set_decisions({decision(kVip1, "vip1", false)});
  ASSERT_TRUE(eventually([&] { return !bird.enabled("vip1"); }));
  ASSERT_TRUE(eventually([&] { return vip_status(c)["bird"] == "disabled"; }));
  EXPECT_EQ(vip_status(c)["changes"], 1);
  EXPECT_EQ(vip_status(c)["reason"], "service nova-api has no serving backend");
  EXPECT_EQ(bird.toggles(),
            (std::vector<std::string>{"enable \"vip1\"", "disable \"vip1\""}));
  EXPECT_EQ(bird.connections(), 1);
}

TEST(AnnounceController, SameDecisionAgainSendsNothingNew) {
  TempDir dir;
  FakeBird bird(dir.file("bird.ctl"), {"vip1"});
  AnnounceController c(config_for(dir.file("bird.ctl"), 60s));
  c.start();
  c.set_decisions({decision(kVip1, "vip1", true)});
  ASSERT_TRUE(eventually([&] { return vip_status(c)["bird"] == "enabled"; }));
  for (int i = 0; i < 20; ++i) c.set_decisions({decision(kVip1, "vip1", true)});
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(bird.toggles().size(), 1U);
}

TEST(AnnounceController, ARestartedBirdIsBroughtBack) {
  TempDir dir;
  FakeBird bird(dir.file("bird.ctl"), {"vip1"});
  AnnounceController c(config_for(dir.file("bird.ctl"), 200ms));
  c.start();
  c.set_decisions({decision(kVip1, "vip1", true)});
  ASSERT_TRUE(eventually([&] { return bird.enabled("vip1"); }));
  bird.restart();  // the connection drops, vip1 is back at "disabled yes"
  ASSERT_TRUE(eventually([&] { return bird.connections() >= 2 && bird.enabled("vip1"); }));
  EXPECT_TRUE(eventually([&] { return vip_status(c)["bird_state"] == "up"; }));
  EXPECT_EQ(c.status()["bird_connected"], true);
}

TEST(AnnounceController, AProtocolChangedBehindItsBackIsReasserted) {
  TempDir dir;
  FakeBird bird(dir.file("bird.ctl"), {"vip1"});
  AnnounceController c(config_for(dir.file("bird.ctl"), 200ms));
  c.start();
  c.set_decisions({decision(kVip1, "vip1", true)});
  ASSERT_TRUE(eventually([&] { return bird.enabled("vip1"); }));
  bird.set_enabled("vip1", false);  // an operator's `birdc disable vip1`
  EXPECT_TRUE(eventually([&] { return bird.enabled("vip1"); }));
}

TEST(AnnounceController, AbsentBirdIsReportedThenFoundWhenItComes) {
  TempDir dir;
  AnnounceController c(config_for(dir.file("bird.ctl"), 100ms));
  c.start();
  c.set_decisions({decision(kVip1, "vip1", true)});
  ASSERT_TRUE(eventually([&] { return !c.status()["last_error"].get<std::string>().empty(); }));
  nlohmann::json s = c.status();
  EXPECT_EQ(s["bird_connected"], false);
  EXPECT_NE(s["last_error"].get<std::string>().find("No such file or directory"),
            std::string::npos)
      << s["last_error"];
  EXPECT_EQ(s["vips"][0]["bird"], "unknown");
  MetricsWriter w;
  c.write_metrics(w);
  EXPECT_NE(w.str().find("fulcrum_announce_bird_connected 0"), std::string::npos) << w.str();

  FakeBird bird(dir.file("bird.ctl"), {"vip1"});
  EXPECT_TRUE(eventually([&] { return bird.enabled("vip1"); }));
  EXPECT_TRUE(eventually([&] { return c.status()["bird_connected"] == true; }));
}

// vip1, which BIRD has, and a second VIP whose protocol "nosuch" BIRD does not have.
class AnnounceWithUnknownProtocol : public ::testing::Test {
 protected:
  static AnnounceConfig make_config(const TempDir& dir) {
    AnnounceConfig cfg = config_for(dir.file("bird.ctl"), 60s);
    cfg.vips.push_back({.address = kVip2, .bird_protocol = "nosuch"});
    return cfg;
  }
  void SetUp() override { c.start(); }

  TempDir dir;
  FakeBird bird{dir.file("bird.ctl"), {"vip1"}};
  AnnounceController c{make_config(dir)};
};

TEST_F(AnnounceWithUnknownProtocol, IsReportedPerVip) {
  c.set_decisions({decision(kVip1, "vip1", true), decision(kVip2, "nosuch", true)});
  ASSERT_TRUE(eventually([&] { return !vip_status(c, 1)["error"].get<std::string>().empty(); }));
  EXPECT_EQ(vip_status(c, 1)["error"],
            "BIRD answered 8003 \"No protocols match\" (no such protocol in BIRD's config)");
  EXPECT_TRUE(eventually([&] { return vip_status(c, 0)["bird"] == "enabled"; }));
  EXPECT_EQ(c.status()["bird_connected"], true);
  MetricsWriter w;
  c.write_metrics(w);
  const std::string text = w.str();
  EXPECT_NE(text.find("fulcrum_announce_enabled{vip=\"192.0.2.26\",protocol=\"vip1\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("fulcrum_announce_wanted{vip=\"192.0.2.27\",protocol=\"nosuch\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("fulcrum_announce_enabled{vip=\"192.0.2.27\",protocol=\"nosuch\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("fulcrum_announce_bird_command_failures_total 1"), std::string::npos);
}

TEST_F(AnnounceWithUnknownProtocol, CountsAsWithdrawn) {
  c.set_decisions({decision(kVip1, "vip1", false), decision(kVip2, "nosuch", false)});
  // A clean stop need not wait for what BIRD cannot announce; the mistake still shows.
  EXPECT_TRUE(c.wait_withdrawn(2s));
  EXPECT_EQ(vip_status(c, 1)["bird"], "disabled");
  EXPECT_NE(vip_status(c, 1)["error"].get<std::string>().find("8003"), std::string::npos);
}

TEST(AnnounceController, AHungBirdCostsOnlyTheTimeout) {
  TempDir dir;
  FakeBird bird(dir.file("bird.ctl"), {"vip1"});
  bird.hang = true;
  auto c = std::make_unique<AnnounceController>(config_for(dir.file("bird.ctl"), 100ms), 150ms);
  c->start();
  const auto t0 = std::chrono::steady_clock::now();
  c->set_decisions({decision(kVip1, "vip1", true)});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 300ms);  // never the 150 ms BIRD timeout x2
  ASSERT_TRUE(eventually([&] { return !c->status()["last_error"].get<std::string>().empty(); }));
  EXPECT_NE(c->status()["last_error"].get<std::string>().find("timed out"), std::string::npos)
      << c->status()["last_error"];
  const auto t1 = std::chrono::steady_clock::now();
  c.reset();  // stop() with a command in flight ends within the command timeout
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 1s);
}

TEST(AnnounceController, CleanStopWaitsForTheWithdrawal) {
  TempDir dir;
  FakeBird bird(dir.file("bird.ctl"), {"vip1"});
  AnnounceController c(config_for(dir.file("bird.ctl"), 60s));
  c.start();
  EXPECT_FALSE(c.withdrawn());  // nothing confirmed yet
  c.set_decisions({decision(kVip1, "vip1", true)});
  ASSERT_TRUE(eventually([&] { return bird.enabled("vip1"); }));
  EXPECT_FALSE(c.wait_withdrawn(50ms));
  c.set_decisions({{.vip = kVip1, .protocol = "vip1", .announce = false, .reason = "stopping"}});
  EXPECT_TRUE(c.wait_withdrawn(2s));
  EXPECT_FALSE(bird.enabled("vip1"));
}

TEST(AnnounceController, AReloadWithdrawsARemovedVipThenForgetsIt) {
  TempDir dir;
  FakeBird bird(dir.file("bird.ctl"), {"vip1", "vip2"});
  AnnounceConfig two = config_for(dir.file("bird.ctl"), 60s);
  two.vips.push_back({.address = kVip2, .bird_protocol = "vip2"});
  AnnounceController c(two);
  c.start();
  c.set_decisions({decision(kVip1, "vip1", true), decision(kVip2, "vip2", true)});
  ASSERT_TRUE(eventually([&] { return bird.enabled("vip1") && bird.enabled("vip2"); }));
  AnnounceConfig one = config_for(dir.file("bird.ctl"), 60s);
  one.stop_delay = 250ms;
  EXPECT_EQ(c.stop_delay(), 1000ms);
  c.reconfigure(one);
  EXPECT_EQ(c.stop_delay(), 250ms);
  EXPECT_TRUE(eventually([&] { return !bird.enabled("vip2"); }));
  EXPECT_TRUE(eventually([&] { return c.status()["vips"].size() == 1; }));
  EXPECT_TRUE(bird.enabled("vip1"));
  c.reconfigure(std::nullopt);  // [announce] removed: everything goes
  EXPECT_TRUE(eventually([&] { return !bird.enabled("vip1"); }));
  EXPECT_TRUE(eventually([&] { return c.status()["vips"].empty(); }));
}

TEST(AnnounceController, WithdrawAllDisablesEveryVip) {
  TempDir dir;
  FakeBird bird(dir.file("bird.ctl"), {"vip1", "vip2"});
  bird.set_enabled("vip1", true);
  AnnounceConfig two = config_for(dir.file("bird.ctl"));
  two.vips.push_back({.address = kVip2, .bird_protocol = "vip2"});
  std::vector<std::string> report;
  EXPECT_TRUE(withdraw_all(two, 1s, report));
  EXPECT_FALSE(bird.enabled("vip1"));
  EXPECT_EQ(report, (std::vector<std::string>{"192.0.2.26 (BIRD protocol vip1): withdrawn",
                                              "192.0.2.27 (BIRD protocol vip2): was not announced"}));
}

TEST(AnnounceController, WithdrawAllFailsWithoutBird) {
  TempDir dir;
  std::vector<std::string> report;
  EXPECT_FALSE(withdraw_all(config_for(dir.file("none.ctl")), 1s, report));
  ASSERT_EQ(report.size(), 1U);
  EXPECT_NE(report[0].find("cannot reach BIRD: connect to "), std::string::npos) << report[0];
}

}  // namespace
}  // namespace fulcrum
