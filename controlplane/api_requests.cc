// SPDX-License-Identifier: Apache-2.0
#include "api_requests.h"

#include <cstdlib>

namespace fulcrum {

bool is_backend_command(const std::string& cmd) {
  return cmd == "drain" || cmd == "enable" || cmd == "disable" || cmd == "weight";
}

std::variant<BackendCommand, std::string> parse_backend_command(const nlohmann::json& request) {
  BackendCommand out;
  out.cmd = request.value("cmd", "");
  if (!is_backend_command(out.cmd)) return "unknown backend command '" + out.cmd + "'";
  const auto fail = [&](const std::string& why) { return out.cmd + ": " + why; };
  if (!request.contains("service") || !request["service"].is_string() ||
      !request.contains("backend") || !request["backend"].is_string()) {
    return fail("needs \"service\" and \"backend\" (ADDRESS or ADDRESS:PORT)");
  }
  out.ref.service = request["service"].get<std::string>();
  std::string text = request["backend"].get<std::string>();
  if (const auto colon = text.find(':'); colon != std::string::npos) {
    const std::string port = text.substr(colon + 1);
    text.resize(colon);
    char* end = nullptr;
    const unsigned long p = std::strtoul(port.c_str(), &end, 10);
    if (port.empty() || port.size() > 5 || *end != '\0' || p == 0 || p > 65535 ||
        port.find_first_not_of("0123456789") != std::string::npos) {
      return fail("backend port '" + port + "' is not a port number");
    }
    out.ref.port = static_cast<uint16_t>(p);
  }
  const auto addr = parse_ipv4(text);
  if (!addr) return fail("backend address '" + text + "' is not an IPv4 address");
  out.ref.addr = *addr;
  if (out.cmd == "weight") {
    if (!request.contains("weight") || !request["weight"].is_number_integer() ||
        request["weight"].get<int64_t>() < 0 || request["weight"].get<int64_t>() > 65535) {
      return fail("needs \"weight\", an integer 0-65535");
    }
    out.weight = static_cast<uint16_t>(request["weight"].get<int64_t>());
  } else {
    out.admin = out.cmd == "drain"     ? AdminState::kDrain
                : out.cmd == "disable" ? AdminState::kDisabled
                                       : AdminState::kEnabled;
  }
  return out;
}

std::optional<std::string> apply_backend_command(ServiceState& state, const BackendCommand& cmd,
                                                 std::string& message) {
  if (cmd.cmd == "weight") return state.set_weight(cmd.ref, cmd.weight, message);
  return state.set_admin(cmd.ref, cmd.admin, message);
}

}  // namespace fulcrum
