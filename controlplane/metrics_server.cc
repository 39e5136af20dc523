// SPDX-License-Identifier: Apache-2.0
#include "metrics_server.h"

#include <fcntl.h>

#include <exception>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
// GCC 12 under -fsanitize=address,undefined reports a false -Wmaybe-uninitialized in Beast's
// parser (a boost::optional in basic_parser::do_field); being a system header does not shield
// a warning found after inlining, so it is silenced for these headers' code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include "log.h"

namespace fulcrum {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kIndex =
    "<!DOCTYPE html>\n<html><head><title>fulcrum</title></head><body>\n"
    "<h1>fulcrum</h1>\n<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

void set_cloexec(int fd) {
  (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

std::string host_port(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

class MetricsServer::Impl : public std::enable_shared_from_this<MetricsServer::Impl> {
 public:
  Impl(asio::io_context& io, std::string host, uint16_t port, Provider provider,
       MetricsServerLimits limits)
      : host_(std::move(host)),
        port_(port),
        provider_(std::move(provider)),
        limits_(limits),
        acceptor_(io),
        retry_timer_(io) {}

  void start();
  void stop();
  uint16_t port() const { return port_; }
  size_t connections() const { return sessions_.size(); }
  const MetricsServerLimits& limits() const { return limits_; }
  bool stopped() const { return stopped_; }

  http::response<http::string_body> respond(const http::request<http::string_body>& request);

  class Session;
  void forget(Session* session) { sessions_.erase(session); }

 private:
  void accept();
  void on_accept(const error_code& ec, Tcp::socket socket);

  std::string host_;
  uint16_t port_;
  Provider provider_;
  MetricsServerLimits limits_;
  Tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  bool started_ = false;
  bool listening_ = false;
  bool stopped_ = false;
};

// One HTTP connection: read a request, write its reply, repeat while the client keeps the
// connection alive. Each read and each write has its own deadline, so a client that stalls
// (slowloris, or a scraper that stops reading) is dropped after request_timeout.
class MetricsServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Impl> owner, Tcp::socket socket)
      : owner_(std::move(owner)), stream_(std::move(socket)) {}

  void start() { read(); }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    stream_.socket().shutdown(Tcp::socket::shutdown_both, ignored);
    stream_.close();  // also cancels the deadline
    owner_->forget(this);
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(owner_->limits().max_body_bytes);
    stream_.expires_after(owner_->limits().request_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](const error_code& ec, size_t) { self->on_read(ec); });
  }

  void on_read(const error_code& ec) {
    if (closed_) return;
    // end_of_stream: the client closed between requests; anything else (timeout, a
    // malformed or oversized request) drops the connection without a reply.
    if (ec || owner_->stopped()) {
      close();
      return;
    }
    response_ = owner_->respond(parser_->get());
    stream_.expires_after(owner_->limits().request_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](const error_code& write_ec, size_t) {
                        self->on_written(write_ec);
                      });
  }

  void on_written(const error_code& ec) {
    if (closed_) return;
    if (ec || !response_.keep_alive()) {
      close();
      return;
    }
    read();
  }

  std::shared_ptr<Impl> owner_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  bool closed_ = false;
};

http::response<http::string_body> MetricsServer::Impl::respond(
    const http::request<http::string_body>& request) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(request.keep_alive());
  response.set(http::field::server, "fulcrum");
  const auto reply = [&](http::status status, std::string_view type, std::string body) {
    response.result(status);
    response.set(http::field::content_type, beast::string_view(type.data(), type.size()));
    response.body() = std::move(body);
  };
  const auto target = request.target();
  std::string_view path(target.data(), target.size());
  path = path.substr(0, path.find('?'));  // a scraper may add parameters; none mean anything
  if (request.method() != http::verb::get) {
    reply(http::status::method_not_allowed, "text/plain; charset=utf-8", "method not allowed\n");
    response.set(http::field::allow, "GET");
  } else if (path == "/metrics") {
    try {
      reply(http::status::ok, kContentType, provider_());
    } catch (const std::exception& e) {
      FULCRUM_LOG(kError, "metrics: the provider failed: %s", e.what());
      reply(http::status::internal_server_error, "text/plain; charset=utf-8",
            std::string("metrics provider failed: ") + e.what() + "\n");
    }
  } else if (path == "/") {
    reply(http::status::ok, "text/html; charset=utf-8", std::string(kIndex));
  } else {
    reply(http::status::not_found, "text/plain; charset=utf-8", "not found\n");
  }
  response.prepare_payload();
  return response;
}

void MetricsServer::Impl::start() {
  if (started_) throw std::logic_error("MetricsServer::start called twice");
  started_ = true;
  const std::string where = host_port(host_, port_);
  error_code ec;
  const auto address = asio::ip::make_address(host_, ec);
  if (ec) {
    throw std::runtime_error("metrics: invalid listen address '" + host_ +
                             "' (expected a numeric IPv4 or IPv6 address)");
  }
  const auto fail = [&](const error_code& err) {
    error_code ignored;
    acceptor_.close(ignored);
    throw std::runtime_error("metrics: cannot listen on " + where + ": " + err.message());
  };
  const Tcp::endpoint endpoint(address, port_);
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) fail(ec);
  set_cloexec(acceptor_.native_handle());
  // A restarted fulcrumd must get its port back while old connections sit in TIME_WAIT.
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) fail(ec);
  acceptor_.bind(endpoint, ec);
  if (ec) fail(ec);
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail(ec);
  port_ = acceptor_.local_endpoint(ec).port();
  listening_ = true;
  FULCRUM_LOG(kInfo, "metrics: listening on http://%s/metrics", host_port(host_, port_).c_str());
  accept();
}

void MetricsServer::Impl::accept() {
  acceptor_.async_accept([self = shared_from_this()](const error_code& ec, Tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void MetricsServer::Impl::on_accept(const error_code& ec, Tcp::socket socket) {
  if (stopped_) return;
  if (ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors or memory: retrying at once would spin the control thread.
    FULCRUM_LOG(kWarning, "metrics: accept: %s", ec.message().c_str());
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([self = shared_from_this()](const error_code& wait_ec) {
      if (!wait_ec && !self->stopped_) self->accept();
    });
    return;
  }
  if (sessions_.size() >= limits_.max_connections) {
    FULCRUM_LOG(kWarning, "metrics: %zu connections open, refusing another", sessions_.size());
    error_code ignored;
    socket.close(ignored);
  } else {
    set_cloexec(socket.native_handle());
    auto session = std::make_shared<Session>(shared_from_this(), std::move(socket));
    sessions_.emplace(session.get(), session);
    session->start();
  }
  accept();
}

void MetricsServer::Impl::stop() {
  if (!listening_ || stopped_) return;  // a failed start() cleaned up after itself
  stopped_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
  auto sessions = std::move(sessions_);  // close() calls forget(), which edits sessions_
  sessions_.clear();
  for (auto& [raw, weak] : sessions) {
    if (auto session = weak.lock()) session->close();
  }
}

MetricsServer::MetricsServer(asio::io_context& io, std::string host, uint16_t port,
                             Provider provider, MetricsServerLimits limits)
    : impl_(std::make_shared<Impl>(io, std::move(host), port, std::move(provider), limits)) {}

MetricsServer::~MetricsServer() {
  impl_->stop();
}

void MetricsServer::start() {
  impl_->start();
}
void MetricsServer::stop() {
  impl_->stop();
}
uint16_t MetricsServer::port() const {
  return impl_->port();
}
size_t MetricsServer::connections() const {
  return impl_->connections();
}

}  // namespace fulcrum
