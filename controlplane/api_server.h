// SPDX-License-Identifier: Apache-2.0
// ApiServer: fulcrumd's runtime API (what fulcrumctl speaks): a Unix stream socket carrying one
// JSON object per line in each direction, every connection served asynchronously so that a
// slow or stuck client never holds up the others nor the control thread.
// Thread-safety: construct, start(), stop() and destroy on the io_context's thread (or before
// it runs); the handler is called on that thread, one request at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json_fwd.hpp>

namespace fulcrum {

struct ApiServerLimits {
  size_t max_request_bytes = 65536;               // one request line, without its newline
  size_t max_connections = 64;                    // further ones get an error reply and are closed
  std::chrono::milliseconds idle_timeout{30000};  // no request or reply for this long: close
};

class ApiServer {
 public:
  // Returns the reply object, normally {"ok":true,...} or {"ok":false,"error":"..."}. It is
  // only called with an object that has a string "cmd"; an exception it throws becomes
  // {"ok":false,"error":what()}. It must not block: it runs on the control thread.
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

  ApiServer(boost::asio::io_context& io, std::string socket_path, Handler handler,
            ApiServerLimits limits = {});
  ~ApiServer();  // stop()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Creates the parent directory if missing (0755), removes a stale socket file (one nothing
  // listens on), binds, makes the socket 0600, listens and starts accepting. Throws
  // std::runtime_error naming the path when it cannot, in particular when another process
  // listens there already (the socket is never stolen) or the path is not a socket. Once only.
  void start();

  // Closes the listener and every connection and removes the socket file (if it is still
  // the one start() created). Idempotent.
  void stop();

  const std::string& socket_path() const;
  size_t connections() const;  // open client connections, the rejected ones not counted

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared with the pending asynchronous operations
};

// One request line in, one reply line out (no newline): parses the JSON, checks that it is an
// object with a string "cmd", calls the handler, and turns every failure (malformed JSON, a
// handler's exception) into {"ok":false,"error":...}. What each connection runs; public for the
// tests and the API fuzzer.
std::string handle_api_line(std::string_view line, const ApiServer::Handler& handler);

}  // namespace fulcrum
