// SPDX-License-Identifier: Apache-2.0
// Daemon: fulcrumd's running state. Starts the EAL, the port and its exception-path tap,
// the workers, and runs the control loop on the main lcore: kernel <-> port frames of the
// exception path, ARP resolution of next hops, gratuitous ARP, table publishing, SIGHUP
// reloads, SIGUSR1 counter dumps, and a clean stop on SIGTERM/SIGINT.
// Thread-safety: run_daemon() on the main thread; the request_*() functions from a signal
// handler.
#pragma once

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

}  // namespace fulcrum
