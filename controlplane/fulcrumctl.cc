// SPDX-License-Identifier: Apache-2.0
// fulcrumctl: the operator's command line for a running fulcrumd, over its API socket.
//   fulcrumctl [-s SOCKET] list|vrrp|announce|stats [--json]
//   fulcrumctl [-s SOCKET] drain|enable|disable SERVICE BACKEND_ADDR
//   fulcrumctl [-s SOCKET] weight SERVICE BACKEND_ADDR N
//   fulcrumctl [-s SOCKET] reload
// Exit status: 0 done, 1 fulcrumd refused or failed, 2 usage error, 3 cannot connect.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl_format.h"

namespace po = boost::program_options;
using nlohmann::json;

namespace {

constexpr const char* kVersion = "0.1.0";
constexpr const char* kDefaultSocket = "/run/fulcrum/api.sock";
constexpr auto kTimeout = std::chrono::seconds(5);  // the whole exchange
constexpr size_t kMaxReplyBytes = 64u << 20;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNoConnection = 3;

constexpr const char* kUsage =
    "Usage: fulcrumctl [-s SOCKET] COMMAND [ARGS] [--json]\n"
    "Commands:\n"
    "  list                                services and backends: state, weight, flows\n"
    "  drain SERVICE BACKEND_ADDR          no new flows to the backend; its flows stay\n"
    "  enable SERVICE BACKEND_ADDR         back in service\n"
    "  disable SERVICE BACKEND_ADDR        out of service\n"
    "  weight SERVICE BACKEND_ADDR N       set the backend's weight (0-65535)\n"
    "  vrrp                                VRRP instances: state, priority, master\n"
    "  announce                            VIPs announced over BGP through BIRD, and why\n"
    "  stats                               per-port and per-worker packets, drops by reason\n"
    "  reload                              reload the configuration (same as SIGHUP)\n"
    "BACKEND_ADDR is A.B.C.D, or A.B.C.D:PORT when the service has that address on two ports.\n";

using Clock = std::chrono::steady_clock;

struct Failure {
  int code;
  std::string message;
};

std::string errno_text(int err) {
  return std::strerror(err);
}

// A.B.C.D or A.B.C.D:PORT.
bool valid_backend(const std::string& text) {
  std::string address = text;
  if (const size_t colon = text.find(':'); colon != std::string::npos) {
    address = text.substr(0, colon);
    const std::string port = text.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos) {
      return false;
    }
    const unsigned long value = std::stoul(port);
    if (value == 0 || value > 65535) return false;
  }
  in_addr parsed{};
  return ::inet_pton(AF_INET, address.c_str(), &parsed) == 1;
}

std::optional<unsigned> parse_weight(const std::string& text) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != text.npos) {
    return std::nullopt;
  }
  const unsigned long value = std::stoul(text);
  if (value > 65535) return std::nullopt;
  return static_cast<unsigned>(value);
}

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits until fd is ready for events; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return true;  // let the read or write report the error
  }
}

class Connection {
 public:
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }

  std::optional<Failure> connect(const std::string& path, Clock::time_point deadline) {
    const auto cannot = [&](const std::string& why) {
      return Failure{kExitNoConnection,
                     "cannot connect to " + path + ": " + why + " (is fulcrumd running?)"};
    };
    sockaddr_un addr{};
    if (path.empty() || path.size() >= sizeof(addr.sun_path)) return cannot("path too long");
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return cannot(errno_text(errno));
    // A blocking connect to a Unix socket waits (for a full backlog) at most SO_SNDTIMEO.
    const int ms = std::max(remaining_ms(deadline), 1);
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    (void)::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    while (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (errno != EINTR) return cannot(errno_text(errno));
    }
    return std::nullopt;
  }

  std::optional<Failure> send_all(std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
      if (!wait_for(fd_, POLLOUT, deadline)) return timeout();
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Failure{kExitFailed, "lost the connection to fulcrumd: " + errno_text(errno)};
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return std::nullopt;
  }

  // One line, without its newline.
  std::optional<Failure> receive_line(std::string& line, Clock::time_point deadline) {
    std::string buffer;
    char chunk[65536];
    for (;;) {
      if (const size_t newline = buffer.find('\n'); newline != std::string::npos) {
        line = buffer.substr(0, newline);
        return std::nullopt;
      }
      if (buffer.size() > kMaxReplyBytes) return Failure{kExitFailed, "reply too large"};
      if (!wait_for(fd_, POLLIN, deadline)) return timeout();
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Failure{kExitFailed, "lost the connection to fulcrumd: " + errno_text(errno)};
      }
      if (n == 0) {
        return Failure{kExitFailed, "fulcrumd closed the connection without a reply"};
      }
      buffer.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  static Failure timeout() {
    return Failure{kExitFailed,
                   "no reply from fulcrumd within " + std::to_string(kTimeout.count()) + " s"};
  }

  int fd_ = -1;
};

int usage_error(const std::string& message) {
  // The one-line synopsis only: the full list would bury the message.
  std::cerr << "fulcrumctl: " << message << "\n"
            << "Usage: fulcrumctl [-s SOCKET] COMMAND [ARGS] [--json]  (fulcrumctl --help: the "
               "commands)\n";
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path = kDefaultSocket;
  std::string command;
  std::vector<std::string> args;
  po::options_description visible("Options");
  visible.add_options()("help,h", "show this help and exit")("version",
                                                             "show the version and exit")(
      "socket,s", po::value(&socket_path)->value_name("SOCKET"),
      "fulcrumd's API socket (default /run/fulcrum/api.sock)")("json",
                                                               "print fulcrumd's reply as JSON");
  po::options_description hidden;
  hidden.add_options()("command", po::value(&command))("args", po::value(&args));
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("command", 1).add("args", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << kUsage << visible;
    return kExitOk;
  }
  if (vm.count("version")) {
    std::cout << "fulcrumctl " << kVersion << "\n";
    return kExitOk;
  }
  if (command.empty()) return usage_error("no command given");

  json request = {{"cmd", command}};
  size_t expected_args = 0;
  if (command == "list" || command == "vrrp" || command == "announce" || command == "stats" ||
      command == "reload") {
    expected_args = 0;
  } else if (command == "drain" || command == "enable" || command == "disable") {
    expected_args = 2;
  } else if (command == "weight") {
    expected_args = 3;
  } else {
    return usage_error("unknown command '" + command + "'");
  }
  if (args.size() != expected_args) {
    return usage_error(command + " takes " +
                       (expected_args == 0   ? std::string("no arguments")
                        : expected_args == 2 ? std::string("SERVICE BACKEND_ADDR")
                                             : std::string("SERVICE BACKEND_ADDR N")));
  }
  if (expected_args >= 2) {
    if (!valid_backend(args[1])) {
      return usage_error("invalid backend address '" + args[1] +
                         "' (expected A.B.C.D or A.B.C.D:PORT)");
    }
    request["service"] = args[0];
    request["backend"] = args[1];
  }
  if (expected_args == 3) {
    const auto weight = parse_weight(args[2]);
    if (!weight) return usage_error("invalid weight '" + args[2] + "' (expected 0-65535)");
    request["weight"] = *weight;
  }

  const auto deadline = Clock::now() + kTimeout;
  Connection connection;
  std::string line;
  std::optional<Failure> failure = connection.connect(socket_path, deadline);
  if (!failure) failure = connection.send_all(request.dump() + "\n", deadline);
  if (!failure) failure = connection.receive_line(line, deadline);
  if (failure) {
    std::cerr << "fulcrumctl: " << failure->message << "\n";
    return failure->code;
  }

  json reply = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!reply.is_object() || !reply.contains("ok") || !reply["ok"].is_boolean()) {
    std::cerr << "fulcrumctl: invalid reply from fulcrumd: " << line.substr(0, 200) << "\n";
    return kExitFailed;
  }
  const bool json_output = vm.count("json") != 0;
  if (json_output) std::cout << reply.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  if (!reply["ok"].get<bool>()) {
    const json& error = reply.contains("error") ? reply["error"] : json("unknown error");
    std::cerr << "fulcrumctl: "
              << (error.is_string() ? error.get<std::string>()
                                    : error.dump(-1, ' ', false, json::error_handler_t::replace))
              << "\n";
    return kExitFailed;
  }
  if (!json_output) std::cout << fulcrum::format_reply(command, reply);
  return kExitOk;
}
