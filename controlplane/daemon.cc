// SPDX-License-Identifier: Apache-2.0
#include "daemon.h"

#include "log.h"
#include "node.h"

namespace fulcrum {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
std::atomic<bool> g_dump{false};
static_assert(std::atomic<bool>::is_always_lock_free);  // safe in a signal handler

}  // namespace

void request_stop() { g_stop.store(true); }
void request_reload() { g_reload.store(true); }
void request_counters_dump() { g_dump.store(true); }
std::atomic<bool>& g_stop_requested() { return g_stop; }
std::atomic<bool>& g_reload_requested() { return g_reload; }
std::atomic<bool>& g_dump_requested() { return g_dump; }

int run_daemon(Config config, const DaemonOptions& options) {
  set_log_level(options.log_level);
  Node node(std::move(config), options);
  if (!node.start()) return 1;
  FULCRUM_LOG(kNotice, "running");
  node.run();
  FULCRUM_LOG(kNotice, "stopping");
  return 0;
}

}  // namespace fulcrum
