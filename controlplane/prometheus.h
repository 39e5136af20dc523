// SPDX-License-Identifier: Apache-2.0
// MetricsWriter: builds Prometheus text exposition format 0.0.4 (what GET /metrics serves).
// Pure: no I/O. Thread-safety: none; one writer per scrape, used by one thread.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace fulcrum {

// Label name/value pairs of one sample, in the order they are printed.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class MetricsWriter {
 public:
  // Declares a family: its "# HELP" (omitted when help is empty) and "# TYPE" lines. type is
  // one of counter, gauge, histogram, summary, untyped. Declaring a family again with the same
  // type is a no-op (so a provider may declare as it goes); with another type it throws
  // std::invalid_argument.
  void family(std::string_view name, std::string_view type, std::string_view help);

  // Adds a sample to a declared family. name is the family's name or, for histograms and
  // summaries, the family's name plus _bucket, _sum or _count. Samples are grouped under their
  // family whatever the call order, so families never interleave. Throws
  // std::invalid_argument for an undeclared family or an invalid or repeated label name.
  void sample(std::string_view name, const MetricLabels& labels, double value);

  // Integers print exactly (a uint64 counter above 2^53 would lose digits through a double).
  template <std::integral T>
  void sample(std::string_view name, const MetricLabels& labels, T value) {
    if constexpr (std::is_signed_v<T>) {
      add_sample(name, labels, format_int(static_cast<int64_t>(value)));
    } else {
      add_sample(name, labels, format_uint(static_cast<uint64_t>(value)));
    }
  }

  // The exposition text: families in declaration order, each with its samples in the order
  // added. A family without samples still prints its HELP and TYPE lines.
  std::string str() const;

  // Formatting pieces, public for the tests.
  static std::string format_value(double value);  // 12, 0.25, 1e-06, +Inf, -Inf, NaN
  static std::string escape_label_value(std::string_view value);  // \\ \" \n
  static std::string escape_help(std::string_view help);          // \\ \n
  static bool valid_metric_name(std::string_view name);           // [a-zA-Z_:][a-zA-Z0-9_:]*
  static bool valid_label_name(std::string_view name);            // [a-zA-Z_][a-zA-Z0-9_]*, not __*

 private:
  struct Family {
    std::string name;
    std::string type;
    std::string help;
    std::string samples;  // the sample lines, already formatted
  };

  static std::string format_int(int64_t value);
  static std::string format_uint(uint64_t value);
  void add_sample(std::string_view name, const MetricLabels& labels, const std::string& value);
  Family* find_family(std::string_view sample_name);

  std::vector<Family> families_;
};

}  // namespace fulcrum
