// SPDX-License-Identifier: Apache-2.0
// fulcrumctl's output: the tables it prints from the runtime API's replies (list in the style
// of `ipvsadm -Ln`, stats, vrrp). Pure; fields missing from a reply print as "-".
// Thread-safety: plain functions of their arguments.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace fulcrum {

// Text columns padded to the widest cell; trailing blanks trimmed.
class TextTable {
 public:
  enum class Align { kLeft, kRight };
  // align: one per column (missing ones are kLeft); gap: the blanks between columns.
  explicit TextTable(std::vector<Align> align = {}, size_t gap = 2);
  void add_row(std::vector<std::string> cells);
  // min_widths: per column, the least width (columns stay put across runs).
  void set_min_widths(std::vector<size_t> min_widths);
  std::vector<size_t> widths() const;
  std::string row(size_t index) const;  // one row, without the newline
  std::string str() const;              // every row, each ending in a newline
  size_t rows() const { return rows_.size(); }

 private:
  std::vector<Align> align_;
  size_t gap_;
  std::vector<size_t> min_widths_;
  std::vector<std::vector<std::string>> rows_;
};

// The reply of {"cmd":"list"}: one line per service, one per backend under it; the backend
// that serves a standby pool is marked with "*".
std::string format_list(const nlohmann::json& reply);
// The reply of {"cmd":"stats"}: ports, workers, and the non-zero drops by reason.
std::string format_stats(const nlohmann::json& reply);
// The reply of {"cmd":"vrrp"}: one line per instance, or "no VRRP instances".
std::string format_vrrp(const nlohmann::json& reply);
// The reply of {"cmd":"announce"}: BIRD's connection, then one line per announced VIP.
std::string format_announce(const nlohmann::json& reply);
// The "message" of a drain/enable/disable/weight/reload reply, with a newline ("" if none).
std::string format_message(const nlohmann::json& reply);
// Picks the one of the above that fits cmd.
std::string format_reply(std::string_view cmd, const nlohmann::json& reply);

}  // namespace fulcrum
