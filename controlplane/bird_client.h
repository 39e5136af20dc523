// SPDX-License-Identifier: Apache-2.0
// BirdClient: one connection to BIRD's control socket (a UNIX stream socket), one command at a
// time, blocking with a deadline per command, so a hung BIRD costs at most `timeout` and never
// a stuck caller. Used by the announcer's own thread and by `fulcrumd --withdraw`.
// Thread-safety: none; one thread per client.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "bird_reply.h"

namespace fulcrum {

class BirdClient {
 public:
  BirdClient(std::string socket_path, std::chrono::milliseconds timeout);
  ~BirdClient();
  BirdClient(const BirdClient&) = delete;
  BirdClient& operator=(const BirdClient&) = delete;

  // Connects and reads the greeting (0001). False, with `error` set, when BIRD is not there.
  bool connect(std::string& error);
  bool connected() const { return fd_ >= 0; }
  const std::string& greeting() const { return greeting_; }  // "BIRD 2.0.12 ready."
  // Sends one command and reads its whole reply. On an I/O error, a timeout or a garbled reply
  // the connection is closed and nullopt returned with `error` set; a BIRD error (8xxx, 9xxx)
  // is a reply like any other.
  std::optional<BirdReply> command(const std::string& line, std::string& error);
  void close();

 private:
  std::optional<BirdReply> read_reply(std::chrono::steady_clock::time_point deadline,
                                      std::string& error);

  std::string path_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buffer_;  // bytes read past the last full line
  std::string greeting_;
};

// One `enable` or `disable` of a protocol, connecting first when the client is not connected.
struct BirdToggleOutcome {
  std::optional<bool> enabled;  // the protocol's state afterwards, when known
  bool changed = false;         // false: it already was
  bool connect_failed = false;  // BIRD could not be reached: nothing was sent
  bool io_failed = false;       // sent, but the connection broke: worth one try on a new one
  std::string error;            // what went wrong, "" when BIRD did it
};
// A protocol BIRD does not have (8003) is an error; disabling one still counts as disabled,
// since nothing of it can be announced.
BirdToggleOutcome bird_toggle(BirdClient& client, const std::string& protocol, bool enable);

}  // namespace fulcrum
