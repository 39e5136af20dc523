// SPDX-License-Identifier: Apache-2.0
// tcp, http and mysql-greeting checks on asio sockets; the SQL login lives in
// health_check_sql.cc. Every check is an object that owns its socket and its deadline timer
// and stays alive through the handlers it has pending.
#include "health_checks.h"

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
// Beast's parser trips a false -Wmaybe-uninitialized (its boost::optional body limit) when
// inlined under the sanitizers' optimisation; the warning is reported at the header's lines.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#pragma GCC diagnostic pop
#include <cctype>
#include <string_view>
#include <utility>
#include <vector>

#include "health_check_sql.h"

namespace fulcrum {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

namespace detail {

std::string format_ms(std::chrono::milliseconds d) {
  const auto ms = d.count();
  return ms != 0 && ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

std::string printable(std::string_view text, size_t max) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
  }
  return out;
}

}  // namespace detail

namespace {

uint16_t check_port(const CheckConfig& config, uint16_t port) {
  return config.port.value_or(port);
}

// Connect with a deadline; subclasses talk once connected. The first of (result, timeout,
// cancel) wins: it closes the socket, which makes every other pending handler a no-op.
class SocketCheck : public CheckOperation, public std::enable_shared_from_this<SocketCheck> {
 public:
  SocketCheck(const asio::any_io_executor& ex, Ipv4Be addr, uint16_t port,
              const CheckConfig& config, CheckCallback done)
      : socket_(ex),
        timer_(ex),
        endpoint_(asio::ip::address_v4(be32_to_host(addr)), check_port(config, port)),
        config_(config),
        done_(std::move(done)) {}

  // Posted, so that `done` never runs inside check_*() (callers may hold locks or iterators).
  void start() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->begin(); });
  }

  void cancel() override {
    finished_ = true;
    done_ = nullptr;
    close();
  }

 protected:
  virtual void on_connected() = 0;

  void finish(bool ok, std::string reason) {
    if (finished_) return;
    finished_ = true;
    const auto latency =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
    close();
    CheckCallback done = std::move(done_);
    done_ = nullptr;
    if (done) done(CheckResult{ok, std::move(reason), latency});
  }

  // Wraps a completion handler: keeps this object alive and drops completions that arrive after
  // the check has finished (they are the operation_aborted of the socket we closed).
  template <typename F>
  auto guard(F&& f) {
    return [self = shared_from_this(), f = std::forward<F>(f)](const error_code& ec,
                                                               auto&&... rest) mutable {
      if (self->finished_) return;
      f(ec, std::forward<decltype(rest)>(rest)...);
    };
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  tcp::endpoint endpoint_;
  CheckConfig config_;
  std::string phase_ = "connect";  // what a timeout interrupted, for its reason

 private:
  void begin() {
    if (finished_) return;
    started_ = Clock::now();
    timer_.expires_after(config_.timeout);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec || self->finished_) return;
      self->finish(false, "timeout after " + detail::format_ms(self->config_.timeout) + " (" +
                              self->phase_ + ")");
    });
    socket_.async_connect(endpoint_, guard([this](const error_code& ec) {
                            if (ec) return finish(false, "connect: " + ec.message());
                            on_connected();
                          }));
  }

  void close() {
    error_code ignored;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  CheckCallback done_;
  Clock::time_point started_{};
  bool finished_ = false;
};

class TcpCheck final : public SocketCheck {
 public:
  using SocketCheck::SocketCheck;

 private:
  void on_connected() override { finish(true, "connected"); }
};

class HttpCheck final : public SocketCheck {
 public:
  HttpCheck(const asio::any_io_executor& ex, Ipv4Be addr, uint16_t port, const CheckConfig& config,
            CheckCallback done)
      : SocketCheck(ex, addr, port, config, std::move(done)) {
    // Host: the backend's address, as a client of the service would not know a name for it.
    std::string host = endpoint_.address().to_string();
    if (endpoint_.port() != 80) host += ":" + std::to_string(endpoint_.port());
    request_ = "GET " + config.path + " HTTP/1.0\r\nHost: " + host +
               "\r\nUser-Agent: fulcrum-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    parser_.header_limit(16 * 1024);
  }

 private:
  void on_connected() override {
    if (config_.path.find_first_of("\r\n ") != std::string::npos) {
      return finish(false, "bad path in the check config");
    }
    phase_ = "sending the request";
    asio::async_write(socket_, asio::buffer(request_), guard([this](const error_code& ec, size_t) {
                        if (ec) return finish(false, "write: " + ec.message());
                        phase_ = "waiting for the status line";
                        // Only the header: the status is all we judge, and a large body must not
                        // cost a read.
                        http::async_read_header(
                            socket_, buffer_, parser_,
                            guard([this](const error_code& rec, size_t) { on_header(rec); }));
                      }));
  }

  void on_header(const error_code& ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof) {
      return finish(false, "connection closed before a response");
    }
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
      return finish(false, "bad HTTP response: " + ec.message());
    }
    if (ec) return finish(false, "read: " + ec.message());
    const unsigned status = parser_.get().result_int();
    if (status == config_.expect) return finish(true, "HTTP " + std::to_string(status));
    finish(false,
           "HTTP " + std::to_string(status) + ", expected " + std::to_string(config_.expect));
  }

  std::string request_;
  boost::beast::flat_buffer buffer_;
  http::response_parser<http::empty_body> parser_;
};

// The MySQL server greeting, then COM_QUIT, so the server counts a finished conversation
// rather than an aborted one (aborted handshakes count towards max_connect_errors).
class MysqlGreetingCheck final : public SocketCheck {
 public:
  using SocketCheck::SocketCheck;

 private:
  static constexpr size_t kMaxGreeting = 64 * 1024;  // real greetings are about 100 bytes

  void on_connected() override {
    phase_ = "waiting for the greeting";
    asio::async_read(socket_, asio::buffer(header_), guard([this](const error_code& ec, size_t) {
                       if (ec) return finish(false, "read: " + ec.message());
                       const size_t len =
                           size_t{header_[0]} | size_t{header_[1]} << 8 | size_t{header_[2]} << 16;
                       if (len == 0 || len > kMaxGreeting) {
                         return finish(false, "bad greeting: packet length " + std::to_string(len));
                       }
                       payload_.resize(len);
                       asio::async_read(
                           socket_, asio::buffer(payload_),
                           guard([this](const error_code& rec, size_t) { on_greeting(rec); }));
                     }));
  }

  void on_greeting(const error_code& ec) {
    if (ec) return finish(false, "read: " + ec.message());
    CheckResult verdict = judge_mysql_greeting(payload_);
    if (!verdict.ok) return finish(false, std::move(verdict.reason));
    phase_ = "sending COM_QUIT";
    static constexpr std::array<uint8_t, 5> kComQuit{0x01, 0x00, 0x00, 0x00, 0x01};
    asio::async_write(
        socket_, asio::buffer(kComQuit),
        guard([this, reason = std::move(verdict.reason)](const error_code& wec, size_t) mutable {
          if (wec) return finish(false, "write: " + wec.message());
          finish(true, std::move(reason));
        }));
  }

  std::array<uint8_t, 4> header_{};
  std::vector<uint8_t> payload_;
};

template <typename Check>
CheckHandle start(const asio::any_io_executor& ex, Ipv4Be addr, uint16_t port,
                  const CheckConfig& config, CheckCallback done) {
  auto check = std::make_shared<Check>(ex, addr, port, config, std::move(done));
  check->start();
  return check;
}

}  // namespace

CheckResult judge_mysql_greeting(std::span<const uint8_t> payload) {
  if (payload.empty()) return {false, "bad greeting: empty packet", {}};
  if (payload[0] == 0xff) {
    // ERR packet: code, then (4.1 protocol) '#' and a 5-character SQL state, then the message.
    if (payload.size() < 3) return {false, "bad greeting: short error packet", {}};
    const unsigned code = unsigned{payload[1]} | unsigned{payload[2]} << 8;
    size_t at = 3;
    if (payload.size() >= 9 && payload[3] == '#') at = 9;
    const std::string_view message(reinterpret_cast<const char*>(payload.data()) + at,
                                   payload.size() - at);
    return {false, "error " + std::to_string(code) + ": " + detail::printable(message), {}};
  }
  if (payload[0] != 10) {
    return {false, "unsupported protocol version " + std::to_string(payload[0]), {}};
  }
  const auto* text = reinterpret_cast<const char*>(payload.data()) + 1;
  const std::string_view rest(text, payload.size() - 1);
  const size_t nul = rest.find('\0');
  if (nul == std::string_view::npos) return {false, "bad greeting: no server version", {}};
  std::string_view version = rest.substr(0, nul);
  // MariaDB prefixes its version with "5.5.5-" for the sake of old replication clients.
  if (version.starts_with("5.5.5-")) version.remove_prefix(6);
  return {true, "server " + detail::printable(version), {}};
}

CheckHandle check_tcp(const asio::any_io_executor& ex, Ipv4Be addr, uint16_t port,
                      const CheckConfig& config, CheckCallback done) {
  return start<TcpCheck>(ex, addr, port, config, std::move(done));
}

CheckHandle check_http(const asio::any_io_executor& ex, Ipv4Be addr, uint16_t port,
                       const CheckConfig& config, CheckCallback done) {
  return start<HttpCheck>(ex, addr, port, config, std::move(done));
}

CheckHandle check_mysql(const asio::any_io_executor& ex, Ipv4Be addr, uint16_t port,
                        const CheckConfig& config, CheckCallback done) {
  if (!config.user.empty()) {
    return detail::start_sql_check(ex, ipv4_to_string(addr), check_port(config, port), config,
                                   /*galera=*/false, std::move(done));
  }
  return start<MysqlGreetingCheck>(ex, addr, port, config, std::move(done));
}

CheckHandle check_galera(const asio::any_io_executor& ex, Ipv4Be addr, uint16_t port,
                         const CheckConfig& config, CheckCallback done) {
  return detail::start_sql_check(ex, ipv4_to_string(addr), check_port(config, port), config,
                                 /*galera=*/true, std::move(done));
}

CheckHandle run_check(const asio::any_io_executor& ex, Ipv4Be addr, uint16_t port,
                      const CheckConfig& config, CheckCallback done) {
  switch (config.type) {
    case CheckType::kTcp:
      return check_tcp(ex, addr, port, config, std::move(done));
    case CheckType::kHttp:
      return check_http(ex, addr, port, config, std::move(done));
    case CheckType::kMysql:
      return check_mysql(ex, addr, port, config, std::move(done));
    case CheckType::kGalera:
      return check_galera(ex, addr, port, config, std::move(done));
  }
  return check_tcp(ex, addr, port, config, std::move(done));
}

}  // namespace fulcrum
