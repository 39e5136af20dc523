// SPDX-License-Identifier: Apache-2.0
// Internal to the health checks: the SQL login check (libmariadb's non-blocking API driven by
// asio), shared by check_galera and check_mysql with a user. Not a public header.
// Thread-safety: as health_checks.h (the executor's thread).
#pragma once

#include <string>

#include "health_checks.h"

namespace fulcrum::detail {

// Logs in to host:port (port already resolved) as config.user, and, when galera, judges the
// node's wsrep state; then runs config.query if set. Always ends with COM_QUIT.
CheckHandle start_sql_check(const boost::asio::any_io_executor& ex, const std::string& host,
                            uint16_t port, const CheckConfig& config, bool galera,
                            CheckCallback done);

// "500ms", "2s": durations the way the config file writes them.
std::string format_ms(std::chrono::milliseconds d);

// `text` with anything unprintable replaced by '?' and cut to `max` bytes, for log lines.
std::string printable(std::string_view text, size_t max = 200);

}  // namespace fulcrum::detail
