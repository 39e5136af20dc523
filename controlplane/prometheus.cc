// SPDX-License-Identifier: Apache-2.0
#include "prometheus.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace fulcrum {
namespace {

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool valid_type(std::string_view type) {
  return type == "counter" || type == "gauge" || type == "histogram" || type == "summary" ||
         type == "untyped";
}

// The sample-name suffixes a histogram or summary family owns besides its own name.
bool owns_suffix(const std::string& type, std::string_view suffix) {
  if (type == "histogram") return suffix == "_bucket" || suffix == "_sum" || suffix == "_count";
  if (type == "summary") return suffix == "_sum" || suffix == "_count";
  return false;
}

}  // namespace

bool MetricsWriter::valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(is_alpha(c) || c == '_' || c == ':' || (i > 0 && is_digit(c)))) return false;
  }
  return true;
}

bool MetricsWriter::valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;  // "__" is reserved for Prometheus
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(is_alpha(c) || c == '_' || (i > 0 && is_digit(c)))) return false;
  }
  return true;
}

std::string MetricsWriter::escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string MetricsWriter::escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string MetricsWriter::format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == 0) return "0";  // also -0, which some parsers reject
  char buf[400];               // the longest fixed form of a finite double is 309 digits and a sign
  // Integral values in fixed notation (no exponent, exact); others in the shortest form that
  // round-trips, which is what Go's ParseFloat on the Prometheus side reads back bit-exact.
  const auto format =
      std::trunc(value) == value ? std::chars_format::fixed : std::chars_format::general;
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, format);
  if (ec != std::errc()) return "NaN";  // unreachable: the buffer fits every double
  return std::string(buf, end);
}

std::string MetricsWriter::format_int(int64_t value) {
  return std::to_string(value);
}
std::string MetricsWriter::format_uint(uint64_t value) {
  return std::to_string(value);
}

void MetricsWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  if (!valid_metric_name(name)) {
    throw std::invalid_argument("invalid metric name '" + std::string(name) + "'");
  }
  if (!valid_type(type)) {
    throw std::invalid_argument("metric '" + std::string(name) + "': invalid type '" +
                                std::string(type) + "'");
  }
  for (const Family& f : families_) {
    if (f.name != name) continue;
    if (f.type != type) {
      throw std::invalid_argument("metric '" + std::string(name) + "' declared as " + f.type +
                                  " and as " + std::string(type));
    }
    return;
  }
  families_.push_back(Family{std::string(name), std::string(type), std::string(help), {}});
}

MetricsWriter::Family* MetricsWriter::find_family(std::string_view sample_name) {
  for (Family& f : families_) {
    if (f.name == sample_name) return &f;
  }
  for (Family& f : families_) {
    if (sample_name.size() > f.name.size() && sample_name.starts_with(f.name) &&
        owns_suffix(f.type, sample_name.substr(f.name.size()))) {
      return &f;
    }
  }
  return nullptr;
}

void MetricsWriter::sample(std::string_view name, const MetricLabels& labels, double value) {
  add_sample(name, labels, format_value(value));
}

void MetricsWriter::add_sample(std::string_view name, const MetricLabels& labels,
                               const std::string& value) {
  Family* f = find_family(name);
  if (f == nullptr) {
    throw std::invalid_argument("sample '" + std::string(name) + "' of an undeclared family");
  }
  // Validate everything first so a throw leaves the family's text untouched.
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& label = labels[i].first;
    if (!valid_label_name(label)) {
      throw std::invalid_argument("metric '" + std::string(name) + "': invalid label name '" +
                                  label + "'");
    }
    for (size_t j = 0; j < i; ++j) {
      if (labels[j].first == label) {
        throw std::invalid_argument("metric '" + std::string(name) + "': label '" + label +
                                    "' given twice");
      }
    }
  }
  std::string& out = f->samples;
  out += name;
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out += ',';
      out += labels[i].first;
      out += "=\"";
      out += escape_label_value(labels[i].second);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

std::string MetricsWriter::str() const {
  std::string out;
  for (const Family& f : families_) {
    if (!f.help.empty()) {  // an empty HELP line says nothing; omit it
      out += "# HELP ";
      out += f.name;
      out += ' ';
      out += escape_help(f.help);
      out += '\n';
    }
    out += "# TYPE ";
    out += f.name;
    out += ' ';
    out += f.type;
    out += '\n';
    out += f.samples;
  }
  return out;
}

}  // namespace fulcrum
