// SPDX-License-Identifier: Apache-2.0
// Daemon: runs a Node (node.h) until SIGTERM/SIGINT; SIGHUP reloads, SIGUSR1 dumps counters.
// Thread-safety: run_daemon() on the main thread; the request_*() functions from a signal
// handler.
#pragma once

#include <atomic>
#include <string>

#include "config.h"
#include "log.h"

namespace fulcrum {

struct DaemonOptions {
  std::string config_path;
  std::string program = "fulcrumd";
  LogLevel log_level = LogLevel::kInfo;
};

// Runs until stopped; returns the process exit code (0 after a clean stop, 1 when start-up
// failed).
int run_daemon(Config config, const DaemonOptions& options);

// Async-signal-safe.
void request_stop();
void request_reload();
// Logs every worker's counters and the drops by reason (SIGUSR1, like keepalived's dump).
void request_counters_dump();

// The flags those set, read by the node's loops.
std::atomic<bool>& g_stop_requested();
std::atomic<bool>& g_reload_requested();
std::atomic<bool>& g_dump_requested();

}  // namespace fulcrum
