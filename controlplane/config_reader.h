// SPDX-License-Identifier: Apache-2.0
// Internal to the config loader (config*.cc): typed reads of TOML values that report every
// problem with its line and key path instead of stopping, and the per-section readers.
// Thread-safety: a Diagnostics and its readers belong to one load on one thread.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.h"

namespace fulcrum::config_detail {

using Ms = std::chrono::milliseconds;

// Collects the errors of one load.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void error(uint32_t line, std::string message);
  void error(const toml::node& at, std::string message);
  size_t count() const { return errors_.size(); }
  // Every error, ordered by line (the order found within a line).
  std::vector<ConfigError> take_sorted();

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

uint32_t line_of(const toml::node& node);
// "line N", for messages that point back at an earlier definition.
inline std::string at_line(uint32_t line) {
  return "line " + std::to_string(line);
}
// "integer 5", "string \"x\"", "an array", ... for "expected X, got Y" messages.
std::string describe(const toml::node& node);
// The closest of choices to word when it looks like a typo of it, else empty.
std::string_view suggest(std::string_view word, std::initializer_list<std::string_view> choices);
// Names of services and VRRP instances: 1-63 characters of A-Z, a-z, 0-9, '_', '.' or '-'.
bool valid_object_name(std::string_view name);
// VIPs, backends and peers must be unicast host addresses: not 0/8, loopback, multicast or
// broadcast.
bool is_unicast(Ipv4Be addr);
// "100ms", "1s", "2m"; on failure returns nullopt and sets why.
std::optional<Ms> parse_duration(std::string_view text, std::string& why);

// Typed reads of one value; where is its key path for messages ("dataplane.workers",
// "service 'x': backends[1].port"). Each reports its own error and returns nullopt on a problem.
std::optional<std::string> read_string(Diagnostics& diag, const toml::node& node,
                                       const std::string& where);
std::optional<int64_t> read_integer(Diagnostics& diag, const toml::node& node,
                                    const std::string& where, int64_t lo, int64_t hi);
// A TCP/UDP port, 1..65535.
std::optional<uint16_t> read_port_number(Diagnostics& diag, const toml::node& node,
                                         const std::string& where);
std::optional<bool> read_bool(Diagnostics& diag, const toml::node& node, const std::string& where);
std::optional<Ms> read_duration(Diagnostics& diag, const toml::node& node, const std::string& where,
                                Ms lo, Ms hi);
std::optional<Ipv4Be> read_ipv4(Diagnostics& diag, const toml::node& node,
                                const std::string& where);

// One table (a [section], a [[section]] element or an inline table) being read. Messages are
// prefix + path + key: prefix names the object ("service 'nova-api': "), path the table
// inside it ("backends[1]."), section how unknown keys are placed ("in [[service]]").
class TableReader {
 public:
  TableReader(Diagnostics& diag, const toml::table& table, std::string prefix, std::string path,
              std::string section)
      : diag_(diag),
        table_(table),
        prefix_(std::move(prefix)),
        path_(std::move(path)),
        section_(std::move(section)) {}

  Diagnostics& diag() const { return diag_; }
  const toml::table& table() const { return table_; }
  uint32_t line() const { return line_of(table_); }
  const std::string& prefix() const { return prefix_; }
  void set_prefix(std::string prefix) { prefix_ = std::move(prefix); }
  std::string where(std::string_view key) const { return prefix_ + path_ + std::string(key); }

  // Reports every key of the table that is not in known (with a suggestion for typos).
  void check_keys(std::initializer_list<std::string_view> known) const;
  const toml::node* find(std::string_view key) const { return table_.get(key); }
  // Reports "required key is missing" (at the table's line) and returns false when absent.
  bool require(std::string_view key) const;
  // Reports an error about key (at its value's line).
  void error(std::string_view key, const std::string& what) const;

  std::optional<std::string> string(std::string_view key) const;
  std::optional<int64_t> integer(std::string_view key, int64_t lo, int64_t hi) const;
  std::optional<uint16_t> port_number(std::string_view key) const;
  std::optional<bool> boolean(std::string_view key) const;
  std::optional<Ms> duration(std::string_view key, Ms lo, Ms hi) const;
  std::optional<Ipv4Be> ipv4(std::string_view key) const;
  // An array (reports a type error when the key holds something else).
  const toml::array* array(std::string_view key) const;
  // An array of IPv4 addresses; bad elements are reported and skipped.
  std::vector<Ipv4Be> ipv4_array(std::string_view key) const;

  // One of a fixed set of strings, mapped to its value.
  template <typename E>
  std::optional<E> choice(std::string_view key,
                          std::initializer_list<std::pair<std::string_view, E>> options) const {
    const auto text = string(key);
    if (!text) return std::nullopt;
    std::string expected;
    size_t i = 0;
    for (const auto& [name, value] : options) {
      if (*text == name) return value;
      expected += i == 0 ? "" : i + 1 == options.size() ? " or " : ", ";
      expected += "\"" + std::string(name) + "\"";
      ++i;
    }
    error(key, "unknown value \"" + *text + "\" (expected " + expected + ")");
    return std::nullopt;
  }

 private:
  Diagnostics& diag_;
  const toml::table& table_;
  std::string prefix_;
  std::string path_;
  std::string section_;
};

// The elements of a top-level [[name]] (or nested, for [[announce.vip]]) array of tables;
// reports a type error and returns nothing when it is something else.
std::vector<const toml::table*> table_array(Diagnostics& diag, const toml::table& parent,
                                            std::string_view key, const std::string& label);

// Section readers, in the order the loader calls them (later ones refer to earlier ones).
void read_services(Diagnostics& diag, const toml::table& root, Config& config);
void read_vrrp(Diagnostics& diag, const toml::table& root, Config& config);
void read_announce(Diagnostics& diag, const toml::table& root, Config& config);

}  // namespace fulcrum::config_detail
