// SPDX-License-Identifier: Apache-2.0
// The health checks against loopback servers the tests start themselves: each check passes on
// a good answer, fails with a reason an operator can act on, enforces its own timeout, and ends
// MySQL conversations with COM_QUIT. Galera's judgement is tested as a pure function.
#include "health_checks.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "fake_servers.h"

namespace fulcrum {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using fakes::FakeServer;
using Clock = std::chrono::steady_clock;

const Ipv4Be kLoopback = *parse_ipv4("127.0.0.1");

CheckConfig config(CheckType type, std::chrono::milliseconds timeout = 1000ms) {
  CheckConfig c;
  c.type = type;
  c.timeout = timeout;
  return c;
}

struct Outcome {
  CheckResult result;
  int calls = 0;
  std::chrono::milliseconds elapsed{0};
};

// Starts one check on a fresh io_context and runs it until nothing is left to do (the check
// has reported and closed its connection).
Outcome check_once(const CheckConfig& c, uint16_t port) {
  asio::io_context ioc;
  Outcome out;
  const auto t0 = Clock::now();
  run_check(ioc.get_executor(), kLoopback, port, c, [&out, t0](CheckResult r) {
    out.result = std::move(r);
    ++out.calls;
    out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  });
  ioc.run_for(5s);
  EXPECT_TRUE(ioc.stopped()) << "the check left work behind";
  EXPECT_EQ(out.calls, 1);
  return out;
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.rfind(prefix, 0) == 0;
}

// ---- tcp ----

TEST(TcpCheck, PassesWhenTheConnectSucceeds) {
  fakes::Listener server;
  const Outcome r = check_once(config(CheckType::kTcp), server.port());
  EXPECT_TRUE(r.result.ok) << r.result.reason;
  EXPECT_GT(r.result.latency.count(), 0);
}

TEST(TcpCheck, FailsWithTheConnectErrorWhenRefused) {
  fakes::ClosedPort closed;
  const Outcome r = check_once(config(CheckType::kTcp), closed.port());
  EXPECT_FALSE(r.result.ok);
  EXPECT_EQ(r.result.reason, "connect: Connection refused");
}

TEST(TcpCheck, CheckPortOverridesTheBackendPort) {
  fakes::Listener server;
  fakes::ClosedPort closed;
  CheckConfig c = config(CheckType::kTcp);
  c.port = server.port();
  EXPECT_TRUE(check_once(c, closed.port()).result.ok);
}

TEST(TcpCheck, CallbackNeverRunsInsideTheCall) {
  fakes::ClosedPort closed;
  asio::io_context ioc;
  int calls = 0;
  check_tcp(ioc.get_executor(), kLoopback, closed.port(), config(CheckType::kTcp),
            [&calls](CheckResult) { ++calls; });
  EXPECT_EQ(calls, 0);
  ioc.run_for(2s);
  EXPECT_EQ(calls, 1);
}

TEST(TcpCheck, CancelledCheckNeverCallsBack) {
  fakes::Listener server;
  asio::io_context ioc;
  int calls = 0;
  CheckHandle h = check_tcp(ioc.get_executor(), kLoopback, server.port(), config(CheckType::kTcp),
                            [&calls](CheckResult) { ++calls; });
  h->cancel();
  h->cancel();  // twice is fine
  ioc.run_for(2s);
  EXPECT_TRUE(ioc.stopped());
  EXPECT_EQ(calls, 0);
}

// ---- http ----

TEST(HttpCheck, PassesOnTheExpectedStatusAndSendsAProperRequest) {
  fakes::HttpBackend backend;
  FakeServer server(backend.handler());
  CheckConfig c = config(CheckType::kHttp);
  c.path = "/healthz?full=1";
  const Outcome r = check_once(c, server.port());
  EXPECT_TRUE(r.result.ok) << r.result.reason;
  EXPECT_EQ(r.result.reason, "HTTP 200");
  const std::string req = backend.request();
  EXPECT_TRUE(starts_with(req, "GET /healthz?full=1 HTTP/1.0\r\n")) << req;
  EXPECT_NE(req.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos)
      << req;
}

TEST(HttpCheck, FailsOnAnotherStatusSayingBoth) {
  fakes::HttpBackend backend;
  backend.status = 503;
  FakeServer server(backend.handler());
  const Outcome r = check_once(config(CheckType::kHttp), server.port());
  EXPECT_FALSE(r.result.ok);
  EXPECT_EQ(r.result.reason, "HTTP 503, expected 200");
}

TEST(HttpCheck, ExpectCanBeAnyStatus) {
  fakes::HttpBackend backend;
  backend.status = 401;
  FakeServer server(backend.handler());
  CheckConfig c = config(CheckType::kHttp);
  c.expect = 401;
  EXPECT_TRUE(check_once(c, server.port()).result.ok);
}

TEST(HttpCheck, GarbageIsABadResponse) {
  FakeServer server([](int fd) {
    fakes::read_until(fd, "\r\n\r\n");
    fakes::write_all(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
    return true;
  });
  const Outcome r = check_once(config(CheckType::kHttp), server.port());
  EXPECT_FALSE(r.result.ok);
  EXPECT_TRUE(starts_with(r.result.reason, "bad HTTP response: ")) << r.result.reason;
}

TEST(HttpCheck, ClosedWithoutAnswerFails) {
  FakeServer server([](int fd) {
    fakes::read_until(fd, "\r\n\r\n");
    return true;
  });
  const Outcome r = check_once(config(CheckType::kHttp), server.port());
  EXPECT_FALSE(r.result.ok);
  EXPECT_EQ(r.result.reason, "connection closed before a response");
}

TEST(HttpCheck, SilentServerTimesOutOnTime) {
  fakes::Listener server;  // the kernel accepts; nobody ever answers
  const Outcome r = check_once(config(CheckType::kHttp, 150ms), server.port());
  EXPECT_FALSE(r.result.ok);
  EXPECT_EQ(r.result.reason, "timeout after 150ms (waiting for the status line)");
  EXPECT_GE(r.elapsed, 140ms);
  EXPECT_LT(r.elapsed, 1000ms);
}

// ---- mysql (greeting) ----

TEST(MysqlCheck, PassesOnAGreetingAndQuitsCleanly) {
  std::atomic<bool> quit_seen{false};
  FakeServer server([&quit_seen](int fd) {
    fakes::write_packet(fd, 0, fakes::greeting("10.11.6-MariaDB-0+deb12u1"));
    uint8_t quit[5] = {};
    const uint8_t expect[5] = {0x01, 0x00, 0x00, 0x00, 0x01};
    quit_seen = fakes::read_exact(fd, quit, 5) && std::memcmp(quit, expect, 5) == 0;
    return true;
  });
  const Outcome r = check_once(config(CheckType::kMysql), server.port());
  EXPECT_TRUE(r.result.ok) << r.result.reason;
  EXPECT_EQ(r.result.reason, "server 10.11.6-MariaDB-0+deb12u1");
  server.stop();  // joins: the handler has read what the check sent
  EXPECT_TRUE(quit_seen.load());
}

TEST(MysqlCheck, ErrorGreetingFailsWithItsMessage) {
  FakeServer server([](int fd) {
    fakes::write_packet(fd, 0,
                        fakes::err_packet(1129, "",
                                          "Host '127.0.0.1' is blocked because "
                                          "of many connection errors"));
    return true;
  });
  const Outcome r = check_once(config(CheckType::kMysql), server.port());
  EXPECT_FALSE(r.result.ok);
  EXPECT_EQ(r.result.reason,
            "error 1129: Host '127.0.0.1' is blocked because of many connection errors");
}

TEST(MysqlCheck, SilentServerTimesOutWaitingForTheGreeting) {
  FakeServer server([](int) { return false; });  // accepts, holds the connection, says nothing
  const Outcome r = check_once(config(CheckType::kMysql, 100ms), server.port());
  EXPECT_FALSE(r.result.ok);
  EXPECT_EQ(r.result.reason, "timeout after 100ms (waiting for the greeting)");
}

TEST(MysqlCheck, RefusedFails) {
  fakes::ClosedPort closed;
  EXPECT_EQ(check_once(config(CheckType::kMysql), closed.port()).result.reason,
            "connect: Connection refused");
}

std::vector<uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

TEST(MysqlGreeting, JudgesThePayload) {
  EXPECT_TRUE(judge_mysql_greeting(bytes(std::string("\x0a"
                                                     "8.0.36\0rest",
                                                     12)))
                  .ok);
  EXPECT_EQ(judge_mysql_greeting(bytes(std::string("\x0a"
                                                   "8.0.36\0rest",
                                                   12)))
                .reason,
            "server 8.0.36");
  EXPECT_EQ(judge_mysql_greeting(bytes("\x09"
                                       "3.23"))
                .reason,
            "unsupported protocol version 9");
  EXPECT_EQ(judge_mysql_greeting(bytes("\x0a"
                                       "no-nul"))
                .reason,
            "bad greeting: no server version");
  EXPECT_EQ(judge_mysql_greeting({}).reason, "bad greeting: empty packet");
  EXPECT_EQ(judge_mysql_greeting(bytes("\xff\x10")).reason, "bad greeting: short error packet");
  // 4.1-style error with an SQL state: the state is not part of the message.
  EXPECT_EQ(
      judge_mysql_greeting(bytes(fakes::err_packet(1040, "08004", "Too many connections"))).reason,
      "error 1040: Too many connections");
  EXPECT_EQ(judge_mysql_greeting(bytes(std::string("\x0a"
                                                   "5.5.5-10.11.6-MariaDB\0",
                                                   23)))
                .reason,
            "server 10.11.6-MariaDB");
  // Unprintable bytes never reach a log line.
  EXPECT_EQ(judge_mysql_greeting(bytes(std::string("\x0a"
                                                   "x\x1b[2J\0",
                                                   7)))
                .reason,
            "server x?[2J");
}

// ---- galera: the judgement ----

std::map<std::string, std::string> synced() {
  return {{"wsrep_on", "ON"},         {"wsrep_ready", "ON"},   {"wsrep_cluster_status", "Primary"},
          {"wsrep_local_state", "4"}, {"wsrep_desync", "OFF"}, {"wsrep_reject_queries", "NONE"}};
}

TEST(JudgeGalera, SyncedPrimaryPasses) {
  const CheckResult r = judge_galera(synced(), false);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.reason, "wsrep_local_state=4 (Synced), Primary");
}

TEST(JudgeGalera, NonPrimaryFailsNamingTheVariable) {
  auto v = synced();
  v["wsrep_cluster_status"] = "non-Primary";
  v["wsrep_ready"] = "OFF";  // as a partitioned node reports: the partition is the reason
  EXPECT_EQ(judge_galera(v, false).reason, "wsrep_cluster_status=non-Primary");
}

TEST(JudgeGalera, DonorFailsUnlessAllowed) {
  auto v = synced();
  v["wsrep_local_state"] = "2";
  EXPECT_FALSE(judge_galera(v, false).ok);
  EXPECT_EQ(judge_galera(v, false).reason, "wsrep_local_state=2 (Donor/Desynced)");
  const CheckResult allowed = judge_galera(v, true);
  EXPECT_TRUE(allowed.ok);
  EXPECT_EQ(allowed.reason, "wsrep_local_state=2 (Donor/Desynced), Primary, donor allowed");
}

TEST(JudgeGalera, JoiningAndJoinedFailEvenWithDonorAllowed) {
  auto v = synced();
  v["wsrep_local_state"] = "1";
  EXPECT_EQ(judge_galera(v, true).reason, "wsrep_local_state=1 (Joining)");
  v["wsrep_local_state"] = "3";
  EXPECT_EQ(judge_galera(v, true).reason, "wsrep_local_state=3 (Joined)");
  v["wsrep_local_state"] = "four";
  EXPECT_EQ(judge_galera(v, true).reason, "wsrep_local_state=four (not a number)");
}

TEST(JudgeGalera, NotReadyFails) {
  auto v = synced();
  v["wsrep_ready"] = "OFF";
  EXPECT_EQ(judge_galera(v, false).reason, "wsrep_ready=OFF");
}

TEST(JudgeGalera, OperatorTakingTheNodeOutFails) {
  auto v = synced();
  v["wsrep_desync"] = "ON";
  EXPECT_EQ(judge_galera(v, false).reason, "wsrep_desync=ON");
  v = synced();
  v["wsrep_reject_queries"] = "ALL";
  EXPECT_EQ(judge_galera(v, false).reason, "wsrep_reject_queries=ALL");
}

TEST(JudgeGalera, OlderServersWithoutDesyncOrRejectQueriesPass) {
  auto v = synced();
  v.erase("wsrep_desync");
  v.erase("wsrep_reject_queries");
  v.erase("wsrep_on");
  EXPECT_TRUE(judge_galera(v, false).ok);
}

TEST(JudgeGalera, APlainServerIsNotAGaleraNode) {
  EXPECT_EQ(judge_galera({}, false).reason, "not a Galera node: wsrep_ready missing");
  EXPECT_EQ(judge_galera({{"wsrep_on", "OFF"}, {"wsrep_ready", "OFF"}}, false).reason,
            "not a Galera node: wsrep_on=OFF");
  auto v = synced();
  v.erase("wsrep_cluster_status");
  EXPECT_EQ(judge_galera(v, false).reason, "wsrep_cluster_status missing");
}

TEST(JudgeGalera, ValuesAreCaseInsensitive) {
  auto v = synced();
  v["wsrep_cluster_status"] = "PRIMARY";
  v["wsrep_ready"] = "on";
  v["wsrep_desync"] = "off";
  EXPECT_TRUE(judge_galera(v, false).ok);
}

// ---- galera and mysql login: libmariadb's non-blocking path against a fake MariaDB ----

CheckConfig galera(std::chrono::milliseconds timeout = 2000ms) {
  CheckConfig c = config(CheckType::kGalera, timeout);
  c.user = "fulcrum";
  c.password = "secret";
  return c;
}

std::vector<std::vector<std::string>> answer_from(const std::map<std::string, std::string>& vars,
                                                  const std::string& query) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, value] : vars) {
    if (query.find("'" + name + "'") != std::string::npos) rows.push_back({name, value});
  }
  return rows;
}

TEST(GaleraCheck, SyncedNodePassesAndTheConnectionEndsWithQuit) {
  fakes::SqlBackend backend;
  backend.answer = [](const std::string& q) { return answer_from(synced(), q); };
  FakeServer server(backend.handler());
  const Outcome r = check_once(galera(), server.port());
  EXPECT_TRUE(r.result.ok) << r.result.reason;
  EXPECT_EQ(r.result.reason, "wsrep_local_state=4 (Synced), Primary, server 10.11.6-MariaDB-fake");
  server.stop();
  EXPECT_EQ(backend.quits.load(), 1);
  const auto queries = backend.seen();
  ASSERT_EQ(queries.size(), 2U);
  EXPECT_TRUE(starts_with(queries[0], "SHOW GLOBAL STATUS WHERE")) << queries[0];
  EXPECT_TRUE(starts_with(queries[1], "SHOW GLOBAL VARIABLES WHERE")) << queries[1];
}

TEST(GaleraCheck, NonPrimaryNodeFailsAndStillQuits) {
  fakes::SqlBackend backend;
  backend.answer = [](const std::string& q) {
    auto v = synced();
    v["wsrep_cluster_status"] = "non-Primary";
    return answer_from(v, q);
  };
  FakeServer server(backend.handler());
  const Outcome r = check_once(galera(), server.port());
  EXPECT_FALSE(r.result.ok);
  EXPECT_EQ(r.result.reason, "wsrep_cluster_status=non-Primary");
  server.stop();
  EXPECT_EQ(backend.quits.load(), 1);
}

TEST(GaleraCheck, PlainMariaDbIsNotAGaleraNode) {
  fakes::SqlBackend backend;  // every SHOW returns no rows
  FakeServer server(backend.handler());
  EXPECT_EQ(check_once(galera(), server.port()).result.reason,
            "not a Galera node: wsrep_ready missing");
}

TEST(GaleraCheck, CustomQueryMustReturnARow) {
  fakes::SqlBackend backend;
  backend.answer = [](const std::string& q) {
    if (q == "SELECT 1 FROM dual WHERE 0") return std::vector<std::vector<std::string>>{};
    return answer_from(synced(), q);
  };
  FakeServer server(backend.handler());
  CheckConfig c = galera();
  c.query = "SELECT 1 FROM dual WHERE 0";
  EXPECT_EQ(check_once(c, server.port()).result.reason, "query returned no rows");
  server.stop();
  EXPECT_EQ(backend.seen().size(), 3U);
  EXPECT_EQ(backend.quits.load(), 1);
}

TEST(GaleraCheck, AccessDeniedIsALoginFailure) {
  fakes::SqlBackend backend;
  backend.login_error = "Access denied for user 'fulcrum'@'127.0.0.1' (using password: YES)";
  FakeServer server(backend.handler());
  const Outcome r = check_once(galera(), server.port());
  EXPECT_FALSE(r.result.ok);
  EXPECT_EQ(r.result.reason,
            "login: Access denied for user 'fulcrum'@'127.0.0.1' (using password: YES)");
}

TEST(GaleraCheck, RefusedIsAConnectFailure) {
  fakes::ClosedPort closed;
  const Outcome r = check_once(galera(), closed.port());
  EXPECT_FALSE(r.result.ok);
  EXPECT_TRUE(starts_with(r.result.reason, "connect: ")) << r.result.reason;
}

TEST(GaleraCheck, SilentServerTimesOutDuringLogin) {
  FakeServer server([](int) { return false; });
  const Outcome r = check_once(galera(150ms), server.port());
  EXPECT_FALSE(r.result.ok);
  EXPECT_EQ(r.result.reason, "timeout after 150ms (login)");
  EXPECT_LT(r.elapsed, 1000ms);
}

TEST(GaleraCheck, HungQueryTimesOut) {
  fakes::SqlBackend backend;
  backend.answer = [](const std::string& q) {
    std::this_thread::sleep_for(400ms);  // the server thread stalls mid-query
    return answer_from(synced(), q);
  };
  FakeServer server(backend.handler());
  const Outcome r = check_once(galera(150ms), server.port());
  EXPECT_EQ(r.result.reason, "timeout after 150ms (wsrep status)");
  EXPECT_LT(r.elapsed, 500ms);
}

TEST(GaleraCheck, CancelledLoginNeverCallsBackAndLeavesNothingBehind) {
  FakeServer server([](int) { return false; });
  asio::io_context ioc;
  int calls = 0;
  CheckHandle h = check_galera(ioc.get_executor(), kLoopback, server.port(), galera(5000ms),
                               [&calls](CheckResult) { ++calls; });
  ioc.run_for(50ms);  // connected, waiting for the greeting
  h->cancel();
  const auto t0 = Clock::now();
  ioc.run_for(3s);
  EXPECT_TRUE(ioc.stopped());
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(calls, 0);
}

TEST(GaleraCheck, DestroyingTheIoContextMidCheckFreesTheConnection) {
  FakeServer server([](int) { return false; });
  int calls = 0;
  {
    asio::io_context ioc;
    check_galera(ioc.get_executor(), kLoopback, server.port(), galera(5000ms),
                 [&calls](CheckResult) { ++calls; });
    ioc.run_for(50ms);
  }  // ASan's leak check would catch a MYSQL left behind
  EXPECT_EQ(calls, 0);
}

TEST(MysqlLoginCheck, WithAUserLogsInAndRunsTheQuery) {
  fakes::SqlBackend backend;
  backend.answer = [](const std::string&) {
    return std::vector<std::vector<std::string>>{{"1", "1"}};
  };
  FakeServer server(backend.handler());
  CheckConfig c = config(CheckType::kMysql);
  c.user = "monitor";
  c.query = "SELECT 1";
  const Outcome r = check_once(c, server.port());
  EXPECT_TRUE(r.result.ok) << r.result.reason;
  EXPECT_EQ(r.result.reason, "logged in as monitor, server 10.11.6-MariaDB-fake");
  server.stop();
  EXPECT_EQ(backend.seen(), std::vector<std::string>{"SELECT 1"});
  EXPECT_EQ(backend.quits.load(), 1);
}

}  // namespace
}  // namespace fulcrum
