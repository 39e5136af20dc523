// SPDX-License-Identifier: Apache-2.0
// BirdReply: BIRD 2's control-socket text protocol (what birdc speaks), the part fulcrumd uses.
// Each reply line starts with a 4-digit code and '-' (more lines follow) or ' ' (the last
// line); a line starting with a space continues the previous code. 0xxx is success, 1xxx and
// 2xxx carry data (tables), 8xxx is a run-time error and 9xxx a parse error. The greeting is
// "0001 BIRD 2.0.12 ready.".
// Pure: no sockets. Thread-safety: none; one parser per connection.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fulcrum {

struct BirdReplyLine {
  int code = 0;  // the code in force for this line (inherited by continuation lines)
  std::string text;
};

struct BirdReply {
  int code = 0;  // the final line's code
  std::vector<BirdReplyLine> lines;

  bool ok() const { return code < 8000; }
  // The text of the lines with this code, in order.
  std::vector<std::string> texts(int wanted_code) const;
  // The final line's text, or the last non-empty one: what to show an operator on failure.
  std::string message() const;
};

// Feeds lines (without the newline) one at a time; returns the reply once its last line came.
// A line that fits none of the forms makes the parser throw std::runtime_error: the peer is
// not BIRD, or the stream is out of step, and the connection must be dropped.
class BirdReplyParser {
 public:
  std::optional<BirdReply> feed(std::string_view line);

 private:
  BirdReply pending_;
  int current_code_ = -1;
};

// Commands. Protocol names are quoted, so that a name BIRD does not know gets "8003 No
// protocols match" instead of a syntax error. The name must already be [A-Za-z0-9_]+ (the
// config loader checks it).
std::string bird_enable_command(const std::string& protocol);
std::string bird_disable_command(const std::string& protocol);
std::string bird_show_protocol_command(const std::string& protocol);

// What an enable or disable did: 0011 enabled, 0010 already enabled, 0009 disabled, 0008
// already disabled. nullopt for any other reply (an error: its message() says why).
struct BirdToggleResult {
  bool enabled = false;  // the protocol's state afterwards
  bool changed = false;  // false: it already was
};
std::optional<BirdToggleResult> parse_toggle_reply(const BirdReply& reply);

// The State column of `show protocols "NAME"` (1002 lines): "up", "down", "start", "stop"...
// nullopt when the reply has no row for that protocol.
std::optional<std::string> parse_protocol_state(const BirdReply& reply, const std::string& name);

}  // namespace fulcrum
