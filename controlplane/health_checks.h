// SPDX-License-Identifier: Apache-2.0
// The health checks of one backend: tcp (connect), http (GET, expected status), mysql (server
// greeting and a clean COM_QUIT; a login when a user is set) and galera (log in and require a
// synced Primary node). Each is asynchronous on an asio executor, never blocks it, enforces
// CheckConfig::timeout itself and reports exactly once through its callback, unless cancelled.
// Thread-safety: start, cancel and callbacks all run on the executor's (io_context's) thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "config.h"
#include "health_state.h"
#include "net_types.h"

namespace fulcrum {

using CheckCallback = std::function<void(CheckResult)>;

// A check in flight. The check keeps itself alive until it has closed its connection; the
// handle only lets its owner stop it.
class CheckOperation {
 public:
  virtual ~CheckOperation() = default;
  // Stops the check: its callback is never called after this, and its socket is closed (a SQL
  // connection still says COM_QUIT). Safe to call at any time, more than once.
  virtual void cancel() = 0;
};
using CheckHandle = std::shared_ptr<CheckOperation>;

// Each starts one check of addr:port (port in host order; config.port, when set, replaces it)
// and returns at once; `done` is called later on the executor, never from inside the call.
CheckHandle check_tcp(const boost::asio::any_io_executor& ex, Ipv4Be addr, uint16_t port,
                      const CheckConfig& config, CheckCallback done);
CheckHandle check_http(const boost::asio::any_io_executor& ex, Ipv4Be addr, uint16_t port,
                       const CheckConfig& config, CheckCallback done);
// Without config.user: the greeting and a COM_QUIT. With it: a login through libmariadb (as
// check_galera does) and config.query, if any.
CheckHandle check_mysql(const boost::asio::any_io_executor& ex, Ipv4Be addr, uint16_t port,
                        const CheckConfig& config, CheckCallback done);
CheckHandle check_galera(const boost::asio::any_io_executor& ex, Ipv4Be addr, uint16_t port,
                         const CheckConfig& config, CheckCallback done);
// The one config.type names.
CheckHandle run_check(const boost::asio::any_io_executor& ex, Ipv4Be addr, uint16_t port,
                      const CheckConfig& config, CheckCallback done);

// Pure pieces, exposed for tests.

// Judges the payload (no 4-byte header) of a MySQL server's first packet: a protocol-10
// greeting passes with "server VERSION"; an error packet fails with its message.
CheckResult judge_mysql_greeting(std::span<const uint8_t> payload);

// Judges a Galera node from its wsrep status and variables (names in lower case, values as the
// server prints them). latency is left 0.
CheckResult judge_galera(const std::map<std::string, std::string>& vars, bool allow_donor);

}  // namespace fulcrum
