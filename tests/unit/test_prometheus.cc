// SPDX-License-Identifier: Apache-2.0
// MetricsWriter: the exposition text is canonical 0.0.4 (checked by a strict parser, and by
// promtool when it is installed), escapes what must be escaped, groups samples by family and
// spells numbers the way Prometheus reads them back exactly.
#include "prometheus.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <string>

#include "exposition_parser.h"

namespace fulcrum {
namespace {

using testing::parse_exposition;

TEST(MetricsWriter, WritesTheExampleFromTheDesign) {
  MetricsWriter w;
  w.family("fulcrum_backend_flows", "gauge", "Flows to the backend now.");
  w.sample("fulcrum_backend_flows", {{"service", "nova-api"}, {"backend", "192.0.2.10:8774"}},
           12.0);
  EXPECT_EQ(w.str(),
            "# HELP fulcrum_backend_flows Flows to the backend now.\n"
            "# TYPE fulcrum_backend_flows gauge\n"
            "fulcrum_backend_flows{service=\"nova-api\",backend=\"192.0.2.10:8774\"} 12\n");
  EXPECT_TRUE(parse_exposition(w.str()).ok()) << parse_exposition(w.str()).error;
}

TEST(MetricsWriter, EscapesLabelValuesAndTheyReadBackUnchanged) {
  const std::string nasty = "a\\b\"c\nd}e,f=g\\n";
  MetricsWriter w;
  w.family("x", "gauge", "h");
  w.sample("x", {{"v", nasty}}, 1.0);
  EXPECT_EQ(w.str(), "# HELP x h\n# TYPE x gauge\nx{v=\"a\\\\b\\\"c\\nd}e,f=g\\\\n\"} 1\n");
  const auto parsed = parse_exposition(w.str());
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  EXPECT_EQ(parsed.families.at(0).samples.at(0).labels.at(0).second, nasty);
}

TEST(MetricsWriter, EscapesHelpBackslashAndNewlineButNotQuotes) {
  MetricsWriter w;
  w.family("x", "gauge", "a \"quoted\" C:\\path\nsecond line");
  EXPECT_EQ(w.str(), "# HELP x a \"quoted\" C:\\\\path\\nsecond line\n# TYPE x gauge\n");
  const auto parsed = parse_exposition(w.str());
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  EXPECT_EQ(parsed.families.at(0).help, "a \"quoted\" C:\\path\nsecond line");
}

TEST(MetricsWriter, OmitsAnEmptyHelpLine) {
  MetricsWriter w;
  w.family("x", "counter", "");
  w.sample("x", {}, uint64_t{3});
  EXPECT_EQ(w.str(), "# TYPE x counter\nx 3\n");
}

TEST(MetricsWriter, GroupsSamplesUnderTheirFamilyWhateverTheCallOrder) {
  MetricsWriter w;
  w.family("a_total", "counter", "A.");
  w.family("b", "gauge", "B.");
  for (int i = 0; i < 3; ++i) {
    w.sample("a_total", {{"i", std::to_string(i)}}, i);
    w.sample("b", {{"i", std::to_string(i)}}, i * 10);
  }
  EXPECT_EQ(w.str(),
            "# HELP a_total A.\n# TYPE a_total counter\n"
            "a_total{i=\"0\"} 0\na_total{i=\"1\"} 1\na_total{i=\"2\"} 2\n"
            "# HELP b B.\n# TYPE b gauge\n"
            "b{i=\"0\"} 0\nb{i=\"1\"} 10\nb{i=\"2\"} 20\n");
  EXPECT_TRUE(parse_exposition(w.str()).ok()) << parse_exposition(w.str()).error;
}

TEST(MetricsWriter, DeclaringAFamilyAgainPrintsItOnce) {
  MetricsWriter w;
  w.family("x", "gauge", "first");
  w.family("x", "gauge", "second");
  w.sample("x", {}, 1.0);
  EXPECT_EQ(w.str(), "# HELP x first\n# TYPE x gauge\nx 1\n");
  EXPECT_THROW(w.family("x", "counter", "other type"), std::invalid_argument);
}

TEST(MetricsWriter, HistogramOwnsItsBucketSumAndCountSeries) {
  MetricsWriter w;
  w.family("fulcrum_check_seconds", "histogram", "Check latency.");
  w.sample("fulcrum_check_seconds_bucket", {{"le", "0.1"}}, uint64_t{4});
  w.sample("fulcrum_check_seconds_bucket", {{"le", "+Inf"}}, uint64_t{5});
  w.sample("fulcrum_check_seconds_sum", {}, 0.75);
  w.sample("fulcrum_check_seconds_count", {}, uint64_t{5});
  const auto parsed = parse_exposition(w.str());
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  ASSERT_EQ(parsed.families.size(), 1u);
  EXPECT_EQ(parsed.families[0].samples.size(), 4u);
  // A gauge owns no suffixes.
  w.family("g", "gauge", "G.");
  EXPECT_THROW(w.sample("g_sum", {}, 1.0), std::invalid_argument);
}

TEST(MetricsWriter, PrintsIntegralValuesWithoutExponent) {
  EXPECT_EQ(MetricsWriter::format_value(12.0), "12");
  EXPECT_EQ(MetricsWriter::format_value(-3.0), "-3");
  EXPECT_EQ(MetricsWriter::format_value(0.0), "0");
  EXPECT_EQ(MetricsWriter::format_value(-0.0), "0");
  EXPECT_EQ(MetricsWriter::format_value(1e20), "100000000000000000000");
  EXPECT_EQ(MetricsWriter::format_value(9007199254740993.0), "9007199254740992");
  EXPECT_EQ(MetricsWriter::format_value(123456789012.0), "123456789012");
}

TEST(MetricsWriter, PrintsFractionsInTheShortestFormThatReadsBackExactly) {
  EXPECT_EQ(MetricsWriter::format_value(0.25), "0.25");
  EXPECT_EQ(MetricsWriter::format_value(5.2), "5.2");
  EXPECT_EQ(MetricsWriter::format_value(0.1), "0.1");
  EXPECT_EQ(MetricsWriter::format_value(1e-6), "1e-06");
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> dist(-1e6, 1e6);
  for (int i = 0; i < 1000; ++i) {
    const double v = dist(rng);
    EXPECT_EQ(std::strtod(MetricsWriter::format_value(v).c_str(), nullptr), v);
  }
}

TEST(MetricsWriter, SpellsInfinitiesAndNaNAsPrometheusDoes) {
  EXPECT_EQ(MetricsWriter::format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(MetricsWriter::format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(MetricsWriter::format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(MetricsWriter, PrintsIntegersExactlyBeyondTwoToThe53) {
  MetricsWriter w;
  w.family("u_total", "counter", "U.");
  w.family("s", "gauge", "S.");
  w.sample("u_total", {}, std::numeric_limits<uint64_t>::max());
  w.sample("s", {}, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(w.str(),
            "# HELP u_total U.\n# TYPE u_total counter\nu_total 18446744073709551615\n"
            "# HELP s S.\n# TYPE s gauge\ns -9223372036854775808\n");
}

TEST(MetricsWriter, RejectsInvalidNamesAndLeavesTheTextUntouched) {
  MetricsWriter w;
  EXPECT_THROW(w.family("1abc", "gauge", "h"), std::invalid_argument);
  EXPECT_THROW(w.family("a-b", "gauge", "h"), std::invalid_argument);
  EXPECT_THROW(w.family("ok", "gaugee", "h"), std::invalid_argument);
  w.family("ok", "gauge", "h");
  const std::string before = w.str();
  EXPECT_THROW(w.sample("undeclared", {}, 1.0), std::invalid_argument);
  EXPECT_THROW(w.sample("ok", {{"a", "1"}, {"bad-name", "2"}}, 1.0), std::invalid_argument);
  EXPECT_THROW(w.sample("ok", {{"__reserved", "1"}}, 1.0), std::invalid_argument);
  EXPECT_THROW(w.sample("ok", {{"a", "1"}, {"a", "2"}}, 1.0), std::invalid_argument);
  EXPECT_EQ(w.str(), before);
  EXPECT_TRUE(MetricsWriter::valid_metric_name("fulcrum:rate_5m"));
  EXPECT_FALSE(MetricsWriter::valid_label_name("a:b"));
}

TEST(MetricsWriter, ArbitraryLabelBytesRoundTrip) {
  std::mt19937 rng(7);
  MetricsWriter w;
  w.family("x", "gauge", "h");
  std::vector<std::string> values;
  for (int i = 0; i < 200; ++i) {
    std::string v;
    const int len = static_cast<int>(rng() % 12);
    for (int j = 0; j < len; ++j) v += "ab\\\"\n{},= \xc3\xa9"[rng() % 13];
    v += std::to_string(i);  // distinct series
    values.push_back(v);
    w.sample("x", {{"v", v}}, i);
  }
  const auto parsed = parse_exposition(w.str());
  ASSERT_TRUE(parsed.ok()) << parsed.error;
  ASSERT_EQ(parsed.families.at(0).samples.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(parsed.families[0].samples[i].labels.at(0).second, values[i]);
    EXPECT_EQ(parsed.families[0].samples[i].value, static_cast<double>(i));
  }
}

// The checker itself must be strict, or the tests above prove nothing.
TEST(ExpositionParser, RejectsWhatIsNotCanonical) {
  const char* bad[] = {
      "x 1",                                                       // no final newline
      "# TYPE x gauge\n# TYPE x gauge\nx 1\n",                     // second TYPE
      "# HELP x a\n# HELP x b\nx 1\n",                             // second HELP
      "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{l=\"2\"} 2\n",  // interleaved
      "x{l=\"\\q\"} 1\n",                                          // invalid escape
      "x{l=\"a\nb\"} 1\n",                                         // raw newline in a value
      "x{l=\"1\"} 1\nx{l=\"1\"} 2\n",                              // repeated series
      "x  1\n",                                                    // two blanks
      "x 1e\n",                                                    // not a number
      "x inf\n",                                                   // wrong spelling
      "x{l=\"1\",l=\"2\"} 1\n",                                    // label twice
      "x 1\n# TYPE x gauge\n",                                     // TYPE after samples
      "\n",                                                        // empty line
  };
  for (const char* text : bad) EXPECT_FALSE(parse_exposition(text).ok()) << text;
  EXPECT_TRUE(parse_exposition("# TYPE x gauge\nx{a=\"1\",b=\"\"} -Inf\nx NaN\n").ok());
}

// promtool (Debian package prometheus) is the reference parser and linter; skipped when absent.
TEST(MetricsWriter, PromtoolAcceptsARealisticExposition) {
  const char* promtool = "/usr/bin/promtool";
  if (::access(promtool, X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  MetricsWriter w;
  w.family("fulcrum_backend_flows", "gauge", "Flows to each backend now.");
  w.family("fulcrum_port_rx_packets_total", "counter", "Packets received on each port.");
  w.family("fulcrum_check_latency_seconds", "histogram", "Health check latency.");
  w.family("fulcrum_backend_up", "gauge", "1 when \"up\", 0 otherwise.\nPer backend.");
  for (const char* b : {"192.0.2.10:8774", "192.0.2.11:8774"}) {
    w.sample("fulcrum_backend_flows", {{"service", "nova-api"}, {"backend", b}}, 12.0);
    w.sample("fulcrum_backend_up", {{"service", "nova-api"}, {"backend", b}}, 1);
  }
  w.sample("fulcrum_port_rx_packets_total", {{"port", "lan\"\\\n"}},
           std::numeric_limits<uint64_t>::max());
  w.sample("fulcrum_check_latency_seconds_bucket", {{"le", "0.005"}}, 3);
  w.sample("fulcrum_check_latency_seconds_bucket", {{"le", "+Inf"}}, 4);
  w.sample("fulcrum_check_latency_seconds_sum", {}, 0.0123);
  w.sample("fulcrum_check_latency_seconds_count", {}, 4);

  char path[] = "/tmp/fulcrum-prom-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << w.str();
  const std::string command = std::string(promtool) + " check metrics < " + path + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[256];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) output += buf;
  const int status = ::pclose(p);
  ::unlink(path);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output << "\n" << w.str();
}

}  // namespace
}  // namespace fulcrum
