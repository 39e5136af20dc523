// SPDX-License-Identifier: Apache-2.0
// MetricsServer on 127.0.0.1 with a free port: GET /metrics serves the provider's text with
// Prometheus' content type, / links to it, other paths are 404 and other methods 405, a
// failing provider is a 500, bind failures say why, and stalled or surplus connections are
// dropped. The server runs on its own io_context thread, as in fulcrumd.
#include "metrics_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
// GCC 12 under -fsanitize=address,undefined reports a false -Wmaybe-uninitialized in Beast's
// parser (a boost::optional in basic_parser::do_field); being a system header does not shield
// a warning found after inlining, so it is silenced for these headers' code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "exposition_parser.h"
#include "prometheus.h"

namespace fulcrum {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

struct Reply {
  unsigned status = 0;
  std::string content_type;
  std::string allow;
  std::string body;
};

// A synchronous HTTP/1.1 client that keeps its connection open between requests.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval tv{5, 0};  // bound every read: a broken server fails the test, not hangs it
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }

  Reply request(http::verb verb, const std::string& target, std::string body = "") {
    http::request<http::string_body> req(verb, target, 11);
    req.set(http::field::host, "127.0.0.1");
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(socket_, req);
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    Reply out;
    out.status = res.result_int();
    out.content_type = std::string(res[http::field::content_type]);
    out.allow = std::string(res[http::field::allow]);
    out.body = res.body();
    return out;
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// A raw TCP connection, for requests that are not well-formed or not finished.
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  void send(const std::string& data) { (void)::send(fd_, data.data(), data.size(), MSG_NOSIGNAL); }
  // True when the server closed the connection within the receive timeout (what it sent
  // before closing, if anything, is skipped).
  bool closed_by_server() {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
      if (n < 0) return false;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class MetricsServerTest : public ::testing::Test {
 protected:
  void TearDown() override { stop(); }

  void start(MetricsServerLimits limits = {}) {
    server_ = std::make_unique<MetricsServer>(
        io_, "127.0.0.1", 0,
        [this] {
          ++scrapes_;
          if (fail_) throw std::runtime_error("no snapshot yet");
          MetricsWriter w;
          w.family("fulcrum_backend_flows", "gauge", "Flows to each backend now.");
          w.sample("fulcrum_backend_flows",
                   {{"service", "nova-api"}, {"backend", "192.0.2.10:8774"}}, 12.0);
          w.family("fulcrum_scrapes_total", "counter", "Scrapes served.");
          w.sample("fulcrum_scrapes_total", {}, scrapes_.load());
          return w.str();
        },
        limits);
    server_->start();
    port_ = server_->port();
    thread_ = std::thread([this] { io_.run(); });
  }

  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      server_.reset();
      work_.reset();
    });
    thread_.join();
  }

  size_t connections() {
    std::packaged_task<size_t()> task([this] { return server_->connections(); });
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(io_)};
  std::thread thread_;
  std::unique_ptr<MetricsServer> server_;
  uint16_t port_ = 0;
  std::atomic<uint64_t> scrapes_{0};
  std::atomic<bool> fail_{false};
};

TEST_F(MetricsServerTest, LimitsDefaultToTheDocumentedValues) {
  const MetricsServerLimits limits;
  EXPECT_EQ(limits.max_connections, 64u);
  EXPECT_EQ(limits.request_timeout, 10s);
}

TEST_F(MetricsServerTest, GetMetricsServesTheProviderText) {
  start();
  ASSERT_NE(port_, 0);
  HttpClient client(port_);
  const Reply r = client.request(http::verb::get, "/metrics");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body,
            "# HELP fulcrum_backend_flows Flows to each backend now.\n"
            "# TYPE fulcrum_backend_flows gauge\n"
            "fulcrum_backend_flows{service=\"nova-api\",backend=\"192.0.2.10:8774\"} 12\n"
            "# HELP fulcrum_scrapes_total Scrapes served.\n"
            "# TYPE fulcrum_scrapes_total counter\n"
            "fulcrum_scrapes_total 1\n");
  EXPECT_TRUE(testing::parse_exposition(r.body).ok());
}

TEST_F(MetricsServerTest, KeepAliveServesEveryScrapeFreshOnOneConnection) {
  start();
  HttpClient client(port_);
  for (int i = 1; i <= 3; ++i) {
    const Reply r = client.request(http::verb::get, "/metrics?x=1");  // parameters are ignored
    EXPECT_EQ(r.status, 200u);
    EXPECT_NE(r.body.find("fulcrum_scrapes_total " + std::to_string(i) + "\n"), std::string::npos)
        << r.body;
  }
  EXPECT_EQ(connections(), 1u);
}

TEST_F(MetricsServerTest, RootLinksToMetrics) {
  start();
  HttpClient client(port_);
  const Reply r = client.request(http::verb::get, "/");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<a href=\"/metrics\">"), std::string::npos) << r.body;
  EXPECT_EQ(scrapes_, 0u);
}

TEST_F(MetricsServerTest, UnknownPathsAre404) {
  start();
  HttpClient client(port_);
  for (const char* path : {"/metricsx", "/metrics/", "/favicon.ico", "/nope?metrics"}) {
    EXPECT_EQ(client.request(http::verb::get, path).status, 404u) << path;
  }
  EXPECT_EQ(scrapes_, 0u);
}

TEST_F(MetricsServerTest, OtherMethodsAre405) {
  start();
  HttpClient client(port_);
  for (const auto verb : {http::verb::post, http::verb::put, http::verb::delete_}) {
    const Reply r = client.request(verb, "/metrics", "body");
    EXPECT_EQ(r.status, 405u);
    EXPECT_EQ(r.allow, "GET");
  }
  EXPECT_EQ(scrapes_, 0u);
}

TEST_F(MetricsServerTest, AFailingProviderIs500) {
  fail_ = true;
  start();
  HttpClient client(port_);
  const Reply r = client.request(http::verb::get, "/metrics");
  EXPECT_EQ(r.status, 500u);
  EXPECT_NE(r.body.find("no snapshot yet"), std::string::npos);
  fail_ = false;
  EXPECT_EQ(client.request(http::verb::get, "/metrics").status, 200u);
}

TEST_F(MetricsServerTest, BindFailureSaysTheAddressIsInUse) {
  // Hold a port with a listening socket of our own.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const uint16_t port = ntohs(addr.sin_port);

  MetricsServer server(io_, "127.0.0.1", port, [] { return std::string(); });
  try {
    server.start();
    ADD_FAILURE() << "bound a port in use";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "metrics: cannot listen on 127.0.0.1:" + std::to_string(port) +
                                         ": Address already in use");
  }
  ::close(fd);
}

TEST_F(MetricsServerTest, RefusesANameInsteadOfAnAddress) {
  MetricsServer server(io_, "localhost", 0, [] { return std::string(); });
  try {
    server.start();
    ADD_FAILURE() << "accepted a host name";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("numeric"), std::string::npos) << e.what();
  }
}

TEST_F(MetricsServerTest, DropsARequestThatStallsPastTheTimeout) {
  start(MetricsServerLimits{.request_timeout = 300ms});
  RawClient slow(port_);
  ASSERT_TRUE(slow.connected());
  slow.send("GET /metrics HTTP/1.1\r\nHost: x\r\n");  // headers never finish
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(slow.closed_by_server());
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 200ms);
  EXPECT_LT(waited, 3s);
  HttpClient client(port_);  // the server is fine
  EXPECT_EQ(client.request(http::verb::get, "/metrics").status, 200u);
}

TEST_F(MetricsServerTest, DropsOversizedHeaders) {
  start();
  RawClient big(port_);
  big.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') +
           "\r\n\r\n");
  EXPECT_TRUE(big.closed_by_server());
  EXPECT_EQ(scrapes_, 0u);
}

TEST_F(MetricsServerTest, LimitsConcurrentConnections) {
  start(MetricsServerLimits{.max_connections = 2});
  RawClient a(port_);
  RawClient b(port_);
  for (int i = 0; i < 500 && connections() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(connections(), 2u);
  RawClient c(port_);
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_EQ(connections(), 2u);
}

TEST_F(MetricsServerTest, StopClosesConnections) {
  start();
  RawClient idle(port_);
  for (int i = 0; i < 500 && connections() < 1; ++i) std::this_thread::sleep_for(10ms);
  stop();
  EXPECT_TRUE(idle.closed_by_server());
  RawClient late(port_);
  EXPECT_FALSE(late.connected());
}

}  // namespace
}  // namespace fulcrum
