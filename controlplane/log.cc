// SPDX-License-Identifier: Apache-2.0
#include "log.h"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace fulcrum {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* name_of(LogLevel l) {
  switch (l) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kNotice: return "notice";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "?";
}

}  // namespace

bool parse_log_level(std::string_view text, LogLevel& out) {
  for (const LogLevel l : {LogLevel::kError, LogLevel::kWarning, LogLevel::kNotice,
                           LogLevel::kInfo, LogLevel::kDebug}) {
    if (text == name_of(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

void set_log_level(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

void log(LogLevel level, const char* fmt, ...) {
  if (static_cast<int>(level) > g_level.load(std::memory_order_relaxed)) return;
  static const bool journald = std::getenv("JOURNAL_STREAM") != nullptr;
  char line[2048];
  int off = journald ? std::snprintf(line, sizeof line, "<%d>", static_cast<int>(level))
                     : std::snprintf(line, sizeof line, "fulcrumd: %s: ", name_of(level));
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(line + off, sizeof line - static_cast<size_t>(off) - 1, fmt, ap);
  va_end(ap);
  off += n < 0 ? 0 : n;
  if (off > static_cast<int>(sizeof line) - 2) off = static_cast<int>(sizeof line) - 2;
  line[off++] = '\n';
  // One write per line: lines from different threads never interleave.
  [[maybe_unused]] const ssize_t w = write(STDERR_FILENO, line, static_cast<size_t>(off));
}

}  // namespace fulcrum
