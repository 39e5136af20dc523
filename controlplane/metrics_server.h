// SPDX-License-Identifier: Apache-2.0
// MetricsServer: the Prometheus endpoint, a small HTTP/1.1 server (Boost.Beast) that serves
// GET /metrics from a provider callback, asynchronously, with bounded connections and time.
// Thread-safety: construct, start(), stop() and destroy on the io_context's thread (or before
// it runs); the provider is called on that thread, once per scrape.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

namespace fulcrum {

struct MetricsServerLimits {
  size_t max_connections = 64;                       // further ones are closed at once
  std::chrono::milliseconds request_timeout{10000};  // to read a request, or to write a reply
  size_t max_body_bytes = 16384;  // a request body (GET has none); headers: Beast's 8 KiB
};

class MetricsServer {
 public:
  // Returns the exposition text (see prometheus.h). It must be quick and must not block: it
  // runs on the control thread. An exception it throws becomes a 500 reply.
  using Provider = std::function<std::string()>;

  // host: a numeric IPv4 or IPv6 address (no name lookup: that could block); port 0 picks a
  // free port (tests).
  MetricsServer(boost::asio::io_context& io, std::string host, uint16_t port, Provider provider,
                MetricsServerLimits limits = {});
  ~MetricsServer();  // stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and starts accepting. Throws std::runtime_error naming the address when it cannot,
  // e.g. "metrics: cannot listen on 127.0.0.1:9108: Address already in use". Once only.
  void start();
  // Closes the listener and every connection. Idempotent.
  void stop();

  uint16_t port() const;  // the bound port (after start())
  size_t connections() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared with the pending asynchronous operations
};

}  // namespace fulcrum
