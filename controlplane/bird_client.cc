// SPDX-License-Identifier: Apache-2.0
#include "bird_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace fulcrum {

namespace {

// A reply larger than this is not one fulcrumd asked for (it only shows single protocols).
constexpr size_t kMaxReplyBytes = 1 << 20;

}  // namespace

BirdClient::BirdClient(std::string socket_path, std::chrono::milliseconds timeout)
    : path_(std::move(socket_path)), timeout_(timeout) {}

BirdClient::~BirdClient() { close(); }

void BirdClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
  greeting_.clear();
}

bool BirdClient::connect(std::string& error) {
  close();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(addr.sun_path)) {
    error = path_ + ": path too long for a UNIX socket";
    return false;
  }
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  // A UNIX stream connect completes at once or fails (EAGAIN: BIRD's backlog is full).
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    error = "connect to " + path_ + ": " + std::strerror(errno);
    close();
    return false;
  }
  const auto reply = read_reply(std::chrono::steady_clock::now() + timeout_, error);
  if (!reply) {
    error = path_ + ": no greeting: " + error;
    return false;
  }
  if (reply->code != 1) {
    error = path_ + ": unexpected greeting " + std::to_string(reply->code) + " \"" +
            reply->message() + "\"";
    close();
    return false;
  }
  greeting_ = reply->message();
  return true;
}

std::optional<BirdReply> BirdClient::command(const std::string& line, std::string& error) {
  if (fd_ < 0) {
    error = "not connected";
    return std::nullopt;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  const std::string out = line + "\n";
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{.fd = fd_, .events = POLLOUT, .revents = 0};
      if (left.count() > 0 && ::poll(&p, 1, static_cast<int>(left.count())) > 0) continue;
      error = "timed out sending to BIRD";
    } else {
      error = std::string("send: ") + std::strerror(errno);
    }
    close();
    return std::nullopt;
  }
  return read_reply(deadline, error);
}

std::optional<BirdReply> BirdClient::read_reply(std::chrono::steady_clock::time_point deadline,
                                                std::string& error) {
  BirdReplyParser parser;
  size_t taken = 0;
  for (;;) {
    // Whole lines first: a reply may already sit in the buffer.
    size_t eol;
    while ((eol = buffer_.find('\n')) != std::string::npos) {
      const std::string line = buffer_.substr(0, eol);
      buffer_.erase(0, eol + 1);
      taken += eol + 1;
      try {
        if (auto reply = parser.feed(line)) return reply;
      } catch (const std::runtime_error& e) {
        error = e.what();
        close();
        return std::nullopt;
      }
    }
    if (taken + buffer_.size() > kMaxReplyBytes) {
      error = "reply larger than " + std::to_string(kMaxReplyBytes) + " bytes";
      close();
      return std::nullopt;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      error = "timed out after " + std::to_string(timeout_.count()) + " ms waiting for BIRD";
      close();
      return std::nullopt;
    }
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline check above ends it
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    error = n == 0 ? "BIRD closed the connection" : std::string("recv: ") + std::strerror(errno);
    close();
    return std::nullopt;
  }
}

BirdToggleOutcome bird_toggle(BirdClient& client, const std::string& protocol, bool enable) {
  BirdToggleOutcome out;
  if (!client.connected() && !client.connect(out.error)) {
    out.connect_failed = true;
    return out;
  }
  const auto reply = client.command(
      enable ? bird_enable_command(protocol) : bird_disable_command(protocol), out.error);
  if (!reply) {
    out.io_failed = true;
    return out;
  }
  if (const auto toggled = parse_toggle_reply(*reply)) {
    out.enabled = toggled->enabled;
    out.changed = toggled->changed;
    return out;
  }
  out.error = "BIRD answered " + std::to_string(reply->code) + " \"" + reply->message() + "\"" +
              (reply->code == 8003 ? " (no such protocol in BIRD's config)" : "");
  if (reply->code == 8003 && !enable) out.enabled = false;
  return out;
}

}  // namespace fulcrum
