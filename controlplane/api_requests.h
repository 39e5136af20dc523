// SPDX-License-Identifier: Apache-2.0
// The operator commands of the runtime API that change a backend (drain, enable, disable,
// weight): their arguments checked and turned into a BackendCommand, and applied to a
// ServiceState. Pure: no sockets, no DPDK, so that tests and the API fuzzer call it directly.
// Thread-safety: pure functions; apply_backend_command() on the thread that owns the state.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>

#include "service_state.h"

namespace fulcrum {

struct BackendCommand {
  std::string cmd;  // "drain" | "enable" | "disable" | "weight"
  BackendRef ref;
  AdminState admin = AdminState::kEnabled;  // drain, enable, disable
  uint16_t weight = 0;                      // weight
};

// True for the commands parse_backend_command() handles.
bool is_backend_command(const std::string& cmd);

// {"cmd": C, "service": S, "backend": "A.B.C.D" or "A.B.C.D:PORT"[, "weight": 0-65535]}, or
// the error to send back (it names the command and the field).
std::variant<BackendCommand, std::string> parse_backend_command(const nlohmann::json& request);

// Applies the command. On success returns nullopt and fills `message` (for the reply and the
// log); else the reason it was refused (unknown service or backend, ambiguous address).
std::optional<std::string> apply_backend_command(ServiceState& state, const BackendCommand& cmd,
                                                 std::string& message);

}  // namespace fulcrum
