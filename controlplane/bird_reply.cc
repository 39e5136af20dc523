// SPDX-License-Identifier: Apache-2.0
#include "bird_reply.h"

#include <cctype>
#include <sstream>
#include <stdexcept>

namespace fulcrum {

namespace {

bool has_code(std::string_view line) {
  if (line.size() < 5) return false;
  for (size_t i = 0; i < 4; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) return false;
  }
  return line[4] == '-' || line[4] == ' ';
}

// BIRD ends a command's reply with "0000 " and no text: skip empty texts when choosing the
// message.
bool blank(const std::string& s) { return s.find_first_not_of(' ') == std::string::npos; }

}  // namespace

std::vector<std::string> BirdReply::texts(int wanted_code) const {
  std::vector<std::string> out;
  for (const BirdReplyLine& l : lines) {
    if (l.code == wanted_code) out.push_back(l.text);
  }
  return out;
}

std::string BirdReply::message() const {
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (!blank(it->text)) return it->text;
  }
  return "reply " + std::to_string(code) + " with no text";
}

std::optional<BirdReply> BirdReplyParser::feed(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  BirdReplyLine parsed;
  bool last = false;
  if (has_code(line)) {
    parsed.code = std::stoi(std::string(line.substr(0, 4)));
    parsed.text = std::string(line.substr(5));
    last = line[4] == ' ';
    current_code_ = parsed.code;
  } else if (!line.empty() && line[0] == ' ' && current_code_ >= 0) {
    parsed.code = current_code_;
    parsed.text = std::string(line.substr(1));
  } else {
    throw std::runtime_error("not a BIRD reply line: \"" + std::string(line.substr(0, 80)) + "\"");
  }
  pending_.lines.push_back(std::move(parsed));
  if (!last) return std::nullopt;
  pending_.code = current_code_;
  BirdReply done = std::move(pending_);
  pending_ = BirdReply{};
  current_code_ = -1;
  return done;
}

std::string bird_enable_command(const std::string& protocol) {
  return "enable \"" + protocol + "\"";
}

std::string bird_disable_command(const std::string& protocol) {
  return "disable \"" + protocol + "\"";
}

std::string bird_show_protocol_command(const std::string& protocol) {
  return "show protocols \"" + protocol + "\"";
}

std::optional<BirdToggleResult> parse_toggle_reply(const BirdReply& reply) {
  if (!reply.ok()) return std::nullopt;
  for (const BirdReplyLine& l : reply.lines) {
    switch (l.code) {
      case 11: return BirdToggleResult{.enabled = true, .changed = true};
      case 10: return BirdToggleResult{.enabled = true, .changed = false};
      case 9: return BirdToggleResult{.enabled = false, .changed = true};
      case 8: return BirdToggleResult{.enabled = false, .changed = false};
      default: break;
    }
  }
  return std::nullopt;
}

std::optional<std::string> parse_protocol_state(const BirdReply& reply, const std::string& name) {
  if (!reply.ok()) return std::nullopt;
  // "vip1       Static     master4    up     09:44:08.172  ": name, proto, table, state, ...
  for (const std::string& row : reply.texts(1002)) {
    std::istringstream in(row);
    std::string row_name, proto, table, state;
    if (in >> row_name >> proto >> table >> state && row_name == name) return state;
  }
  return std::nullopt;
}

}  // namespace fulcrum
