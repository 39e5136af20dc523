// SPDX-License-Identifier: Apache-2.0
// A strict parser of the Prometheus text exposition format 0.0.4, for tests: it rejects what
// Prometheus would reject and also what it merely tolerates (interleaved families, a second
// TYPE or HELP, repeated series, blanks other than one space), so a test that passes it proves
// the writer emits the canonical form. Thread-safety: a pure function.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fulcrum::testing {

struct ParsedSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped, in text order
  std::string value_text;
  double value = 0;
};

struct ParsedFamily {
  std::string name;
  std::string type = "untyped";  // when no TYPE line names it
  std::string help;              // unescaped
  bool has_help = false;
  bool has_type = false;
  std::vector<ParsedSample> samples;
};

struct ParsedExposition {
  std::vector<ParsedFamily> families;
  std::string error;  // "line N: what"; empty when the text is valid
  bool ok() const { return error.empty(); }
  const ParsedFamily* family(std::string_view name) const;
};

ParsedExposition parse_exposition(std::string_view text);

}  // namespace fulcrum::testing
