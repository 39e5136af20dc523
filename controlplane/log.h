// SPDX-License-Identifier: Apache-2.0
// Logging for fulcrumd: one line per event on stderr, systemd-friendly (under journald the
// line starts with the syslog priority "<N>", elsewhere with the level's name). Never called
// from the packet path.
// Thread-safety: any thread; each line is one write(2).
#pragma once

#include <string_view>

namespace fulcrum {

enum class LogLevel : int { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

// Parses "error" | "warning" | "notice" | "info" | "debug".
bool parse_log_level(std::string_view text, LogLevel& out);
void set_log_level(LogLevel level);
LogLevel log_level();

void log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

#define FULCRUM_LOG(level, ...) ::fulcrum::log(::fulcrum::LogLevel::level, __VA_ARGS__)

}  // namespace fulcrum
