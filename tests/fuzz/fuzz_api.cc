// SPDX-License-Identifier: Apache-2.0
// Fuzz target: one runtime API request line, through the same code a connection runs
// (handle_api_line) with a handler that parses and applies backend commands to a real
// ServiceState (the reference services). The reply must always be one JSON object with a
// boolean "ok", on one line.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "api_requests.h"
#include "api_server.h"
#include "config.h"
#include "service_state.h"

using namespace fulcrum;

namespace {

const char* const kConfig = R"([[port]]
name = "lan"
device = "net_null0"
address = "192.0.2.2/24"

[[service]]
name = "nova-api"
vip = "192.0.2.26"
port = 8774
backends = [ { address = "192.0.2.10" }, { address = "192.0.2.11" }, { address = "192.0.2.12" } ]

[[service]]
name = "galera"
vip = "192.0.2.26"
port = 3306
pool = "standby"
backends = [ { address = "192.0.2.10" }, { address = "192.0.2.11", port = 3307 } ]
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ServiceState state = [] {
    ServiceState s;
    s.apply(*load_config_string(kConfig, "fuzz.toml").config);
    return s;
  }();
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const std::string reply = handle_api_line(line, [](const nlohmann::json& request) {
    const std::string cmd = request.value("cmd", "");
    if (!is_backend_command(cmd)) return nlohmann::json{{"ok", false}, {"error", "unknown"}};
    const auto parsed = parse_backend_command(request);
    if (const auto* err = std::get_if<std::string>(&parsed)) {
      return nlohmann::json{{"ok", false}, {"error", *err}};
    }
    std::string message;
    if (const auto failure =
            apply_backend_command(state, std::get<BackendCommand>(parsed), message)) {
      return nlohmann::json{{"ok", false}, {"error", *failure}};
    }
    return nlohmann::json{{"ok", true}, {"message", message}};
  });
  if (reply.find('\n') != std::string::npos) __builtin_trap();
  const nlohmann::json parsed = nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("ok") || !parsed["ok"].is_boolean()) {
    __builtin_trap();
  }
  return 0;
}
