// SPDX-License-Identifier: Apache-2.0
#include "config_reader.h"

#include <algorithm>
#include <sstream>

namespace fulcrum::config_detail {

void Diagnostics::error(uint32_t line, std::string message) {
  errors_.push_back(ConfigError{file_, line, std::move(message)});
}

void Diagnostics::error(const toml::node& at, std::string message) {
  error(line_of(at), std::move(message));
}

std::vector<ConfigError> Diagnostics::take_sorted() {
  std::stable_sort(errors_.begin(), errors_.end(),
                   [](const ConfigError& a, const ConfigError& b) { return a.line < b.line; });
  return std::move(errors_);
}

uint32_t line_of(const toml::node& node) {
  return node.source().begin.line;
}

std::string describe(const toml::node& node) {
  std::ostringstream out;
  switch (node.type()) {
    case toml::node_type::string: {
      std::string_view s = node.as_string()->get();
      out << "string \"" << s.substr(0, 40) << (s.size() > 40 ? "...\"" : "\"");
      break;
    }
    case toml::node_type::integer:
      out << "integer " << node.as_integer()->get();
      break;
    case toml::node_type::floating_point:
      out << "float " << node.as_floating_point()->get();
      break;
    case toml::node_type::boolean:
      out << "boolean " << (node.as_boolean()->get() ? "true" : "false");
      break;
    case toml::node_type::array:
      out << "an array";
      break;
    case toml::node_type::table:
      out << "a table";
      break;
    case toml::node_type::date:
      out << "a date";
      break;
    case toml::node_type::time:
      out << "a time";
      break;
    default:
      out << "a date-time";
      break;
  }
  return out.str();
}

namespace {

// Optimal string alignment distance: edits, with a swap of neighbours counting as one.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string format_duration(Ms d) {
  const auto ms = d.count();
  if (ms >= 60000 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string range_text(int64_t lo, int64_t hi, const std::string& got) {
  return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " (got " + got +
         ")";
}

}  // namespace

std::string_view suggest(std::string_view word, std::initializer_list<std::string_view> choices) {
  std::string_view best;
  size_t best_distance = 3;
  for (const std::string_view c : choices) {
    const size_t d = edit_distance(word, c);
    // Short words are close to everything: allow one edit there, two in longer ones.
    const size_t limit = std::min(word.size(), c.size()) <= 4 ? 1 : 2;
    if (d <= limit && d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

bool valid_object_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_unicast(Ipv4Be addr) {
  const uint32_t first = be32_to_host(addr) >> 24;
  return first != 0 && first != 127 && first < 224;
}

std::optional<Ms> parse_duration(std::string_view text, std::string& why) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) {
    why = quoted + " is not a duration (expected a whole number and ms, s or m, e.g. \"500ms\")";
    return std::nullopt;
  }
  if (digits < text.size() && (text[digits] == '.' || text[digits] == ',')) {
    why = quoted + " is not a whole number of ms, s or m (write \"1500ms\", not \"1.5s\")";
    return std::nullopt;
  }
  if (digits > 9) {
    why = quoted + " is too long a duration";
    return std::nullopt;
  }
  int64_t value = 0;
  for (size_t i = 0; i < digits; ++i) value = value * 10 + (text[i] - '0');
  const std::string_view unit = text.substr(digits);
  if (unit.empty()) {
    why = quoted + " has no unit (expected ms, s or m)";
    return std::nullopt;
  }
  if (unit == "ms") return Ms(value);
  if (unit == "s") return Ms(value * 1000);
  if (unit == "m") return Ms(value * 60000);
  why = "unknown unit \"" + std::string(unit) + "\" in " + quoted + " (expected ms, s or m)";
  return std::nullopt;
}

std::optional<std::string> read_string(Diagnostics& diag, const toml::node& node,
                                       const std::string& where) {
  if (const auto* s = node.as_string()) return s->get();
  diag.error(node, where + ": expected a string, got " + describe(node));
  return std::nullopt;
}

std::optional<int64_t> read_integer(Diagnostics& diag, const toml::node& node,
                                    const std::string& where, int64_t lo, int64_t hi) {
  const auto* i = node.as_integer();
  if (i == nullptr) {
    diag.error(node, where + ": expected an integer, got " + describe(node));
    return std::nullopt;
  }
  const int64_t v = i->get();
  if (v < lo || v > hi) {
    diag.error(node, where + ": " + range_text(lo, hi, std::to_string(v)));
    return std::nullopt;
  }
  return v;
}

std::optional<uint16_t> read_port_number(Diagnostics& diag, const toml::node& node,
                                         const std::string& where) {
  const auto* i = node.as_integer();
  if (i == nullptr) {
    diag.error(node, where + ": expected an integer, got " + describe(node));
    return std::nullopt;
  }
  const int64_t v = i->get();
  if (v < 1 || v > 65535) {
    diag.error(node, where + ": " + std::to_string(v) + " is out of range 1-65535");
    return std::nullopt;
  }
  return static_cast<uint16_t>(v);
}

std::optional<bool> read_bool(Diagnostics& diag, const toml::node& node, const std::string& where) {
  if (const auto* b = node.as_boolean()) return b->get();
  diag.error(node, where + ": expected true or false, got " + describe(node));
  return std::nullopt;
}

std::optional<Ms> read_duration(Diagnostics& diag, const toml::node& node, const std::string& where,
                                Ms lo, Ms hi) {
  const auto* s = node.as_string();
  if (s == nullptr) {
    diag.error(node, where + ": expected a duration string such as \"1s\", got " + describe(node));
    return std::nullopt;
  }
  std::string why;
  const auto d = parse_duration(s->get(), why);
  if (!d) {
    diag.error(node, where + ": " + why);
    return std::nullopt;
  }
  if (*d < lo || *d > hi) {
    diag.error(node, where + ": must be between " + format_duration(lo) + " and " +
                         format_duration(hi) + " (got \"" + s->get() + "\")");
    return std::nullopt;
  }
  return d;
}

std::optional<Ipv4Be> read_ipv4(Diagnostics& diag, const toml::node& node,
                                const std::string& where) {
  const auto text = read_string(diag, node, where);
  if (!text) return std::nullopt;
  const auto addr = parse_ipv4(*text);
  if (!addr) diag.error(node, where + ": \"" + *text + "\" is not an IPv4 address");
  return addr;
}

void TableReader::check_keys(std::initializer_list<std::string_view> known) const {
  for (auto&& [key, value] : table_) {
    const std::string_view k = key.str();
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    std::string message = prefix_ + "unknown key '" + std::string(k) + "' " + section_;
    const std::string_view hint = suggest(k, known);
    if (!hint.empty()) message += " (did you mean '" + std::string(hint) + "'?)";
    const uint32_t line = key.source().begin.line;
    diag_.error(line != 0 ? line : line_of(value), std::move(message));
  }
}

bool TableReader::require(std::string_view key) const {
  if (table_.contains(key)) return true;
  diag_.error(line(), where(key) + ": required key is missing");
  return false;
}

void TableReader::error(std::string_view key, const std::string& what) const {
  const toml::node* node = find(key);
  diag_.error(node != nullptr ? line_of(*node) : line(), where(key) + ": " + what);
}

std::optional<std::string> TableReader::string(std::string_view key) const {
  const toml::node* node = find(key);
  return node != nullptr ? read_string(diag_, *node, where(key)) : std::nullopt;
}

std::optional<int64_t> TableReader::integer(std::string_view key, int64_t lo, int64_t hi) const {
  const toml::node* node = find(key);
  return node != nullptr ? read_integer(diag_, *node, where(key), lo, hi) : std::nullopt;
}

std::optional<uint16_t> TableReader::port_number(std::string_view key) const {
  const toml::node* node = find(key);
  return node != nullptr ? read_port_number(diag_, *node, where(key)) : std::nullopt;
}

std::optional<bool> TableReader::boolean(std::string_view key) const {
  const toml::node* node = find(key);
  return node != nullptr ? read_bool(diag_, *node, where(key)) : std::nullopt;
}

std::optional<Ms> TableReader::duration(std::string_view key, Ms lo, Ms hi) const {
  const toml::node* node = find(key);
  return node != nullptr ? read_duration(diag_, *node, where(key), lo, hi) : std::nullopt;
}

std::optional<Ipv4Be> TableReader::ipv4(std::string_view key) const {
  const toml::node* node = find(key);
  return node != nullptr ? read_ipv4(diag_, *node, where(key)) : std::nullopt;
}

const toml::array* TableReader::array(std::string_view key) const {
  const toml::node* node = find(key);
  if (node == nullptr) return nullptr;
  if (const auto* a = node->as_array()) return a;
  diag_.error(*node, where(key) + ": expected an array, got " + describe(*node));
  return nullptr;
}

std::vector<Ipv4Be> TableReader::ipv4_array(std::string_view key) const {
  std::vector<Ipv4Be> out;
  const toml::array* a = array(key);
  if (a == nullptr) return out;
  for (size_t i = 0; i < a->size(); ++i) {
    const auto addr = read_ipv4(diag_, *a->get(i), where(key) + "[" + std::to_string(i) + "]");
    if (addr) out.push_back(*addr);
  }
  return out;
}

std::vector<const toml::table*> table_array(Diagnostics& diag, const toml::table& parent,
                                            std::string_view key, const std::string& label) {
  std::vector<const toml::table*> out;
  const toml::node* node = parent.get(key);
  if (node == nullptr) return out;
  const auto* a = node->as_array();
  if (a == nullptr) {
    diag.error(*node,
               label + ": expected an array of tables ([[" + label + "]]), got " + describe(*node));
    return out;
  }
  for (size_t i = 0; i < a->size(); ++i) {
    const toml::node& element = *a->get(i);
    if (const auto* t = element.as_table()) {
      out.push_back(t);
    } else {
      diag.error(element,
                 label + "[" + std::to_string(i) + "]: expected a table, got " + describe(element));
    }
  }
  return out;
}

}  // namespace fulcrum::config_detail
