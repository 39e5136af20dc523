// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the config loader on arbitrary text. It must either return a config or errors
// that each name the source and a line (never throw, never crash), and a config it accepts
// must build a forwarding snapshot.
#include <cstdint>
#include <string>
#include <string_view>

#include "config.h"
#include "service_specs.h"
#include "service_state.h"
#include "snapshot_builder.h"

using namespace fulcrum;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const LoadResult r = load_config_string(text, "fuzz.toml");
  if (!r.config) {
    if (r.errors.empty()) __builtin_trap();  // refused without saying why
    for (const ConfigError& e : r.errors) {
      if (e.to_string().rfind("fuzz.toml", 0) != 0) __builtin_trap();
    }
    return 0;
  }
  const Config& config = *r.config;
  if (config.ports.empty()) return 0;
  ServiceState state;
  state.apply(config);
  const NeighborTable neighbors;
  std::vector<ServiceSpec> specs = state.specs(config.ports.front(), neighbors);
  try {
    (void)build_snapshot(node_spec(config, config.ports.front(), MacAddr{}), specs, 1);
  } catch (const std::invalid_argument&) {
    __builtin_trap();  // a validated config must give a valid table
  }
  return 0;
}
