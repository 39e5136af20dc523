// SPDX-License-Identifier: Apache-2.0
#include "exposition_parser.h"

#include <cmath>
#include <cstdlib>
#include <set>
#include <stdexcept>

namespace fulcrum::testing {
namespace {

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool digit(char c) {
  return c >= '0' && c <= '9';
}

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool metric_name(std::string_view s) {
  if (s.empty() || digit(s[0])) return false;
  for (const char c : s) {
    if (!alpha(c) && !digit(c) && c != ':') return false;
  }
  return true;
}

// [a-zA-Z_][a-zA-Z0-9_]*, and not reserved (__*)
bool label_name(std::string_view s) {
  if (s.empty() || digit(s[0]) || s.starts_with("__")) return false;
  for (const char c : s) {
    if (!alpha(c) && !digit(c)) return false;
  }
  return true;
}

// [0-9]+ at s[i...]; advances i; false when there is no digit.
bool digits(std::string_view s, size_t& i) {
  const size_t start = i;
  while (i < s.size() && digit(s[i])) ++i;
  return i > start;
}

// What Go's strconv.ParseFloat reads, less hex floats and underscores, plus the spellings
// Prometheus documents.
bool parse_value(std::string_view s, double& out) {
  if (s == "+Inf" || s == "-Inf" || s == "NaN") {
    out = s == "NaN" ? std::nan("") : (s[0] == '+' ? HUGE_VAL : -HUGE_VAL);
    return true;
  }
  // [-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  const bool whole = digits(s, i);
  bool fraction = false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = digits(s, i);
  }
  if (!whole && !fraction) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (!digits(s, i)) return false;
  }
  if (i != s.size()) return false;
  out = std::strtod(std::string(s).c_str(), nullptr);
  return true;
}

// Unescapes HELP text (\\ and \n) or a label value (also \").
std::string unescape(std::string_view s, bool quotes) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) throw ParseError("a lone backslash at the end");
    switch (s[i]) {
      case '\\':
        out += '\\';
        break;
      case 'n':
        out += '\n';
        break;
      case '"':
        if (!quotes) throw ParseError("\\\" is not an escape in HELP text");
        out += '"';
        break;
      default:
        throw ParseError(std::string("invalid escape \\") + s[i]);
    }
  }
  return out;
}

// The family a sample name belongs to: the family of that exact name, or a histogram's or
// summary's family for the _bucket/_sum/_count series.
std::string family_of(const std::string& sample, const std::vector<ParsedFamily>& families) {
  for (const auto& f : families) {
    if (f.name == sample) return f.name;
  }
  for (const auto& f : families) {
    if (!sample.starts_with(f.name)) continue;
    const std::string suffix = sample.substr(f.name.size());
    if ((f.type == "histogram" &&
         (suffix == "_bucket" || suffix == "_sum" || suffix == "_count")) ||
        (f.type == "summary" && (suffix == "_sum" || suffix == "_count"))) {
      return f.name;
    }
  }
  return sample;
}

ParsedSample parse_sample(std::string_view line) {
  ParsedSample s;
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  s.name = std::string(line.substr(0, i));
  if (!metric_name(s.name)) throw ParseError("invalid metric name '" + s.name + "'");
  if (i < line.size() && line[i] == '{') {
    ++i;
    std::set<std::string> seen;
    while (i < line.size() && line[i] != '}') {
      const size_t eq = line.find('=', i);
      if (eq == line.npos) throw ParseError("label without '='");
      const std::string name(line.substr(i, eq - i));
      if (!label_name(name)) throw ParseError("invalid label name '" + name + "'");
      if (!seen.insert(name).second) throw ParseError("label '" + name + "' twice");
      i = eq + 1;
      if (i >= line.size() || line[i] != '"') throw ParseError("label value without quotes");
      const size_t start = ++i;
      while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
      if (i >= line.size()) throw ParseError("unterminated label value");
      s.labels.emplace_back(name, unescape(line.substr(start, i - start), true));
      ++i;
      if (i < line.size() && line[i] == ',') {
        ++i;
        if (i < line.size() && line[i] == '}') throw ParseError("trailing comma in labels");
      } else if (i >= line.size() || line[i] != '}') {
        throw ParseError("expected ',' or '}' after a label");
      }
    }
    if (i >= line.size()) throw ParseError("unterminated label set");
    if (s.labels.empty()) throw ParseError("empty label set '{}'");
    ++i;
  }
  if (i >= line.size() || line[i] != ' ') throw ParseError("expected one space before the value");
  s.value_text = std::string(line.substr(i + 1));
  if (const size_t space = s.value_text.find(' '); space != std::string::npos) {
    throw ParseError("timestamps are not expected, or a blank too many");
  }
  if (!parse_value(s.value_text, s.value)) throw ParseError("invalid value '" + s.value_text + "'");
  return s;
}

void parse_into(std::string_view text, ParsedExposition& out) {
  if (!text.empty() && text.back() != '\n') throw ParseError("the text does not end in a newline");
  auto& families = out.families;
  std::set<std::string> closed;  // families whose samples are over
  std::set<std::string> series;  // name + labels, to catch repeats
  std::string current;           // the family of the previous sample
  const auto family_named = [&](const std::string& name) -> ParsedFamily& {
    for (auto& f : families) {
      if (f.name == name) return f;
    }
    families.push_back(ParsedFamily{name, "untyped", "", false, false, {}});
    return families.back();
  };
  const auto enter = [&](const std::string& name) {
    if (name == current) return;
    if (closed.count(name)) throw ParseError("family '" + name + "' interleaved with another");
    if (!current.empty()) closed.insert(current);
    current = name;
  };
  size_t line_no = 0;
  size_t pos = 0;
  try {
    while (pos < text.size()) {
      ++line_no;
      const size_t end = text.find('\n', pos);
      const std::string_view line = text.substr(pos, end - pos);
      pos = end + 1;
      if (line.empty()) throw ParseError("empty line");
      if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
        const bool help = line[2] == 'H';
        const std::string_view rest = line.substr(7);
        const size_t space = rest.find(' ');
        if (space == rest.npos) throw ParseError("HELP or TYPE line without text");
        const std::string name(rest.substr(0, space));
        if (!metric_name(name)) throw ParseError("invalid metric name '" + name + "'");
        enter(name);
        ParsedFamily& f = family_named(name);
        if (!f.samples.empty()) throw ParseError("HELP or TYPE of '" + name + "' after samples");
        if (help) {
          if (f.has_help) throw ParseError("a second HELP for '" + name + "'");
          f.has_help = true;
          f.help = unescape(rest.substr(space + 1), false);
        } else {
          if (f.has_type) throw ParseError("a second TYPE for '" + name + "'");
          const std::string type(rest.substr(space + 1));
          if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
              type != "untyped") {
            throw ParseError("invalid type '" + type + "'");
          }
          f.has_type = true;
          f.type = type;
        }
        continue;
      }
      if (line[0] == '#') continue;  // a plain comment
      ParsedSample s = parse_sample(line);
      const std::string family = family_of(s.name, families);
      enter(family);
      std::string key = s.name;
      for (const auto& [k, v] : s.labels) key += "\x1f" + k + "=" + v;
      if (!series.insert(key).second) throw ParseError("series '" + s.name + "' repeated");
      family_named(family).samples.push_back(std::move(s));
    }
  } catch (const ParseError& e) {
    out.error = "line " + std::to_string(line_no) + ": " + e.what();
  }
}

}  // namespace

const ParsedFamily* ParsedExposition::family(std::string_view name) const {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

ParsedExposition parse_exposition(std::string_view text) {
  ParsedExposition out;
  try {
    parse_into(text, out);
  } catch (const ParseError& e) {
    out.error = std::string("line 0: ") + e.what();
  }
  return out;
}

}  // namespace fulcrum::testing
