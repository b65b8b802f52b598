// Benchmark statistics (section 15, ringkernel::bench) against known answers: summary statistics
// computed by hand (n = 1, 2, 5), numpy-linear percentiles, Student t critical values from a
// t-table, the exponent and R^2 of an exact power law, Result throughput, Suite reports
// (Markdown, JSON, LaTeX), Baseline JSON round trip (text and file), malformed baseline JSON
// rejected with a clear error, and RegressionReport classification.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ringkernel.hpp"
#include "test_support.hpp"

using namespace ringkernel;
using rk_test::error_code_of;
namespace rb = ringkernel::bench;

namespace {
bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }
std::string temp_path(const char* name) {
  return std::string("/tmp/ringkernel_benchstats_") + std::to_string(::getpid()) + "_" + name;
}
}  // namespace

TEST_SUITE("benchstats") {

TEST_CASE("DetailedStatistics: five values against hand-computed figures") {
  const rb::DetailedStatistics s = rb::DetailedStatistics::from_values({0.48, 0.52, 0.49, 0.51, 0.50});
  CHECK(s.count == 5);
  CHECK(s.mean == doctest::Approx(0.50).epsilon(1e-12));
  // Squared deviations 0.0004 + 0.0004 + 0.0001 + 0.0001 + 0 = 0.001; / (n - 1) = 0.00025.
  CHECK(s.std_dev == doctest::Approx(std::sqrt(0.00025)).epsilon(1e-12));
  CHECK(s.min == 0.48);
  CHECK(s.max == 0.52);
  CHECK(s.median == doctest::Approx(0.50));
  // Sorted 0.48 0.49 0.50 0.51 0.52; p95 at rank 0.95 * 4 = 3.8: 0.51 + 0.8 * 0.01.
  CHECK(s.p95 == doctest::Approx(0.518).epsilon(1e-12));
  CHECK(s.p99 == doctest::Approx(0.5196).epsilon(1e-12));
  CHECK(s.p25 == doctest::Approx(0.49));
  CHECK(s.p75 == doctest::Approx(0.51));
  CHECK(s.iqr() == doctest::Approx(0.02).epsilon(1e-9));
  CHECK(s.coefficient_of_variation() == doctest::Approx(std::sqrt(0.00025) / 0.5).epsilon(1e-12));
}

TEST_CASE("DetailedStatistics: n = 1 and n = 2 edge cases") {
  const rb::DetailedStatistics one = rb::DetailedStatistics::from_values({3.0});
  CHECK(one.count == 1);
  CHECK(one.mean == 3.0);
  CHECK(one.std_dev == 0.0);
  CHECK(one.median == 3.0);
  CHECK(one.p95 == 3.0);
  CHECK(one.p99 == 3.0);
  CHECK(one.min == 3.0);
  CHECK(one.max == 3.0);
  CHECK(one.iqr() == 0.0);
  CHECK(one.coefficient_of_variation() == 0.0);

  const rb::DetailedStatistics two = rb::DetailedStatistics::from_values({3.0, 1.0});
  CHECK(two.mean == 2.0);
  CHECK(two.std_dev == doctest::Approx(std::sqrt(2.0)).epsilon(1e-12));  // ((1)^2 + (1)^2) / 1
  CHECK(two.median == 2.0);
  CHECK(two.p25 == doctest::Approx(1.5));
  CHECK(two.p75 == doctest::Approx(2.5));
  CHECK(two.p95 == doctest::Approx(2.9));
  CHECK(two.p99 == doctest::Approx(2.98));
  CHECK(two.iqr() == doctest::Approx(1.0));

  const rb::DetailedStatistics zero_mean = rb::DetailedStatistics::from_values({-1.0, 1.0});
  CHECK(std::isinf(zero_mean.coefficient_of_variation()));
}

TEST_CASE("percentile: numpy linear interpolation; bad input is InvalidArgument") {
  const std::vector<double> v = {5, 1, 4, 2, 3};
  CHECK(rb::percentile(v, 0) == 1.0);
  CHECK(rb::percentile(v, 100) == 5.0);
  CHECK(rb::percentile(v, 50) == 3.0);
  CHECK(rb::percentile(v, 10) == doctest::Approx(1.4));  // numpy.percentile([1..5], 10) == 1.4
  CHECK(rb::percentile(v, 90) == doctest::Approx(4.6));
  CHECK(error_code_of([] { (void)rb::percentile({}, 50); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { (void)rb::percentile(v, 100.5); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { (void)rb::percentile(v, -1); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { (void)rb::DetailedStatistics::from_values({}); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { (void)rb::DetailedStatistics::from_values({1.0, std::nan("")}); }) ==
        ErrorCode::InvalidArgument);
}

TEST_CASE("t_critical: two-sided values from a t-table") {
  // df -> t(0.975): standard table values (3 decimals).
  const std::pair<std::uint64_t, double> table95[] = {{1, 12.706}, {2, 4.303}, {3, 3.182}, {4, 2.776},
                                                      {9, 2.262},  {10, 2.228}, {29, 2.045}, {120, 1.980}};
  for (const auto& row : table95) {
    CAPTURE(row.first);
    CHECK(rb::t_critical(0.95, row.first) == doctest::Approx(row.second).epsilon(5e-4));
  }
  CHECK(rb::t_critical(0.95, 1000000) == doctest::Approx(1.960).epsilon(5e-4));  // the normal limit
  CHECK(rb::t_critical(0.99, 4) == doctest::Approx(4.604).epsilon(5e-4));
  CHECK(rb::t_critical(0.90, 10) == doctest::Approx(1.812).epsilon(5e-4));
  CHECK(error_code_of([] { (void)rb::t_critical(0.95, 0); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { (void)rb::t_critical(1.0, 3); }) == ErrorCode::InvalidArgument);
}

TEST_CASE("ConfidenceInterval: mean +- t * s / sqrt(n) with the t-table value") {
  const std::vector<double> v = {0.48, 0.52, 0.49, 0.51, 0.50};
  const rb::ConfidenceInterval ci = rb::ConfidenceInterval::from_values(v);
  const double half = 2.776445 * std::sqrt(0.00025) / std::sqrt(5.0);  // t(0.975, 4) = 2.776445
  CHECK(ci.mean == doctest::Approx(0.5));
  CHECK(ci.confidence == 0.95);
  CHECK(ci.lower == doctest::Approx(0.5 - half).epsilon(1e-6));
  CHECK(ci.upper == doctest::Approx(0.5 + half).epsilon(1e-6));
  CHECK(ci.width() == doctest::Approx(2 * half).epsilon(1e-5));
  CHECK(ci.contains(0.5));
  CHECK_FALSE(ci.contains(0.53));

  // n = 2: s = sqrt(2), t(0.975, 1) = 12.7062, half = 12.7062 * sqrt(2) / sqrt(2).
  const rb::ConfidenceInterval two = rb::ConfidenceInterval::from_values({1.0, 3.0});
  CHECK(two.lower == doctest::Approx(2.0 - 12.7062).epsilon(1e-4));
  CHECK(two.upper == doctest::Approx(2.0 + 12.7062).epsilon(1e-4));
  CHECK(error_code_of([] { (void)rb::ConfidenceInterval::from_values({1.0}); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { (void)rb::ConfidenceInterval::from_values(v, 1.5); }) == ErrorCode::InvalidArgument);
}

TEST_CASE("ScalingMetrics: an exact power law gives its exponent with R^2 = 1") {
  const std::vector<double> sizes = {1000, 10000, 100000, 1000000};
  std::vector<double> tp;
  for (double s : sizes) tp.push_back(5.0 * std::pow(s, 0.8));
  const rb::ScalingMetrics m = rb::ScalingMetrics::from_sizes_and_throughputs(sizes, tp);
  CHECK(m.exponent == doctest::Approx(0.8).epsilon(1e-12));
  CHECK(m.r_squared == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(m.coefficient == doctest::Approx(5.0).epsilon(1e-9));
  CHECK(m.points == 4);
  CHECK(m.scaling_quality() == rb::ScalingQuality::Good);

  auto quality = [&](double exponent) {
    std::vector<double> t;
    for (double s : sizes) t.push_back(std::pow(s, exponent));
    return rb::ScalingMetrics::from_sizes_and_throughputs(sizes, t).scaling_quality();
  };
  CHECK(quality(1.0) == rb::ScalingQuality::Excellent);
  CHECK(quality(0.6) == rb::ScalingQuality::Fair);
  CHECK(quality(0.2) == rb::ScalingQuality::Poor);
  CHECK(std::string(rb::to_string(rb::ScalingQuality::Excellent)) == "Excellent");

  // The seeds' example is not an exact power law: R^2 below 1, exponent between the two slopes.
  const rb::ScalingMetrics seed = rb::ScalingMetrics::from_sizes_and_throughputs({1000, 10000, 100000}, {1e6, 8e6, 50e6});
  CHECK(seed.r_squared < 1.0);
  CHECK(seed.r_squared > 0.99);
  CHECK(seed.exponent > std::log10(50.0 / 8.0));
  CHECK(seed.exponent < std::log10(8.0));

  const rb::ScalingMetrics flat = rb::ScalingMetrics::from_sizes_and_throughputs({1, 10}, {7, 7});
  CHECK(flat.exponent == 0.0);
  CHECK(flat.r_squared == 1.0);

  CHECK(error_code_of([] { (void)rb::ScalingMetrics::from_sizes_and_throughputs({1, 2}, {1}); }) ==
        ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { (void)rb::ScalingMetrics::from_sizes_and_throughputs({1}, {1}); }) ==
        ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { (void)rb::ScalingMetrics::from_sizes_and_throughputs({1, 2}, {1, 0}); }) ==
        ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { (void)rb::ScalingMetrics::from_sizes_and_throughputs({3, 3}, {1, 2}); }) ==
        ErrorCode::InvalidArgument);
}

TEST_CASE("Result: throughput from size and mean time; metrics; validation") {
  const rb::Result one("matrix", 1000, 0.5);
  CHECK(one.throughput_ops() == doctest::Approx(2000.0));
  CHECK(one.throughput_mops() == doctest::Approx(0.002));
  CHECK(one.mean_time_ms() == doctest::Approx(500.0));
  CHECK(one.throughput_stddev() == 0.0);
  CHECK_FALSE(one.confidence_interval().has_value());

  const std::vector<double> times = {0.48, 0.52, 0.49, 0.51, 0.50};
  const rb::Result r = rb::Result::from_measurements("matrix", 1000, times, 100, true);
  CHECK(r.mean_time_secs() == doctest::Approx(0.5));
  CHECK(r.throughput_ops() == doctest::Approx(2000.0));
  std::vector<double> rates;
  for (double t : times) rates.push_back(1000.0 / t);
  CHECK(r.throughput_stddev() == doctest::Approx(rb::DetailedStatistics::from_values(rates).std_dev));
  CHECK(r.iterations() == std::uint64_t{100});
  CHECK(r.converged() == true);
  REQUIRE(r.confidence_interval().has_value());
  CHECK(r.confidence_interval()->contains(0.5));

  const rb::Result m = r.with_metric("memory_mb", 256.5).with_metric("gflops", 3).with_metric("memory_mb", 300);
  REQUIRE(m.custom_metrics().size() == 2);
  CHECK(m.custom_metrics()[0].first == "memory_mb");
  CHECK(m.custom_metrics()[0].second == 300.0);
  CHECK(m.custom_metrics()[1].first == "gflops");
  CHECK(r.custom_metrics().empty());  // with_metric returns a copy

  CHECK(error_code_of([] { rb::Result x("", 1, 1.0); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { rb::Result x("w", 1, 0.0); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { (void)rb::Result::from_measurements("w", 1, {}); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { (void)rb::Result::from_measurements("w", 1, {1.0, -1.0}); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { (void)r.with_metric("x", HUGE_VAL); }) == ErrorCode::InvalidArgument);
}

TEST_CASE("Config presets and builder; measure() runs warm-ups, measurements and honours the timeout") {
  CHECK(rb::Config::quick().warmup_iterations == 1);
  CHECK(rb::Config::quick().measurement_iterations == 3);
  CHECK(rb::Config::comprehensive().warmup_iterations == 5);
  CHECK(rb::Config::comprehensive().measurement_iterations == 10);
  CHECK(rb::Config::ci().warmup_iterations == 2);
  CHECK(rb::Config::ci().measurement_iterations == 5);
  const rb::Config c = rb::Config::quick().with_warmup(3).with_measurements(10).with_sizes({1000, 10000})
                           .with_regression_threshold(0.15).with_timeout_secs(30);
  CHECK(c.warmup_iterations == 3);
  CHECK(c.measurement_iterations == 10);
  CHECK(c.sizes.size() == 2);
  CHECK(c.regression_threshold == 0.15);
  CHECK(c.timeout_secs == 30.0);
  CHECK(error_code_of([] { rb::Config::quick().with_measurements(0); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { rb::Config::quick().with_regression_threshold(-0.1); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { rb::Config::quick().with_timeout_secs(0); }) == ErrorCode::InvalidArgument);

  int calls = 0;
  const std::vector<double> t = rb::measure(rb::Config::ci(), [&] { ++calls; });
  CHECK(calls == 7);
  CHECK(t.size() == 5);
  for (double x : t) CHECK(x > 0.0);

  int slow_calls = 0;
  const std::vector<double> one = rb::measure(rb::Config::ci().with_warmup(0).with_timeout_secs(0.001), [&] {
    ++slow_calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  });
  CHECK(one.size() == 1);
  CHECK(slow_calls == 1);
  CHECK(one[0] >= 0.003);
}

TEST_CASE("Suite: Markdown, JSON and LaTeX reports hold every result") {
  rb::Suite suite(rb::Config::quick());
  suite.add_result(rb::Result::from_measurements("spsc_u64", 1000, {0.001, 0.002, 0.0015}).with_metric("msgs_per_run", 1000));
  suite.add_result(rb::Result("hlc|tick", 500, 0.25));
  int calls = 0;
  const rb::Result& ran = suite.run("counted", 10, [&] { ++calls; });
  CHECK(calls == 4);  // quick: 1 warm-up + 3 measurements
  CHECK(ran.measurement_times_secs().size() == 3);
  REQUIRE(suite.results().size() == 3);

  const std::string md = suite.generate_markdown_report("core");
  CHECK(contains(md, "## core\n"));
  CHECK(contains(md, "| Workload | Size | Runs | Mean (ms) |"));
  CHECK(contains(md, "| spsc_u64 | 1000 | 3 | 1.500 | 1.500 | 0.500 | ["));
  CHECK(contains(md, "| hlc\\|tick | 500 | 1 | 250.000 | 250.000 | 0.000 | n/a | 2000 |"));
  CHECK(contains(md, "msgs_per_run |"));

  const std::string json = suite.generate_json_export();
  CHECK(contains(json, "\"workload_id\": \"spsc_u64\", \"size\": 1000, \"throughput_ops\": 666666.66666666"));
  CHECK(contains(json, "\"measurement_times_secs\": [0.001, 0.002, 0.0015]"));
  CHECK(contains(json, "\"custom_metrics\": {\"msgs_per_run\": 1000}"));
  CHECK(contains(json, "\"ci95_secs\": null"));
  CHECK(contains(json, "\"measurement_iterations\": 3"));

  const std::string tex = suite.generate_latex_table();
  CHECK(contains(tex, "\\begin{tabular}{lrrrr}"));
  CHECK(contains(tex, "spsc\\_u64 & 1000 & 1.500 & 0.500 & 6.667e+05 \\\\"));
  CHECK(contains(tex, "\\end{tabular}"));
}

TEST_CASE("Baseline: JSON round trip, exactly, as text and through a file") {
  rb::Suite suite;
  suite.add_result(rb::Result::from_measurements("ring/u64 single", 10000000, {0.0712345678901234, 0.0698, 0.0701}));
  suite.add_result(rb::Result("quote \" backslash \\ newline \n tab \t \xC3\xA9 \xF0\x9F\x98\x80", 1, 1e-9));
  suite.add_result(rb::Result("big", std::uint64_t{1} << 60, 123.456));
  const rb::Baseline b = suite.create_baseline("v1.0.0");
  CHECK(b.version() == "v1.0.0");
  CHECK(b.size() == 3);
  REQUIRE(b.find("big", std::uint64_t{1} << 60) != nullptr);
  CHECK(b.find("big", 1) == nullptr);

  const std::string text = b.to_json();
  const rb::Baseline back = rb::Baseline::from_json(text);
  CHECK(back == b);
  CHECK(back.to_json() == text);
  CHECK(back.entries()[0].throughput_ops == b.entries()[0].throughput_ops);  // bit-exact doubles

  const std::string path = temp_path("roundtrip.json");
  b.save(path);
  const rb::Baseline loaded = rb::Baseline::load(path);
  CHECK(loaded == b);
  std::remove(path.c_str());

  const rb::Baseline empty("empty");
  CHECK(rb::Baseline::from_json(empty.to_json()) == empty);

  // Any RFC 8259 whitespace, \u escapes (with a surrogate pair) and exponent forms are read.
  const rb::Baseline spaced = rb::Baseline::from_json(
      " \r\n\t{\"entries\" : [ {\"samples\":1,\"std_dev_secs\":0E0,\"mean_time_secs\":5e-1,\"throughput_ops\":2.0e3,"
      "\"size\":1000,\"workload_id\":\"caf\\u00e9\\ud83d\\ude00\\/\"} ], \"version\":\"x\",\"format_version\":1,"
      "\"format\":\"ringkernel-bench-baseline\"}\n");
  REQUIRE(spaced.size() == 1);
  CHECK(spaced.entries()[0].workload_id == "caf\xC3\xA9\xF0\x9F\x98\x80/");
  CHECK(spaced.entries()[0].throughput_ops == 2000.0);
  CHECK(spaced.entries()[0].mean_time_secs == 0.5);
}

TEST_CASE("Baseline: malformed JSON is rejected with a clear error") {
  const std::string head = "{\"format\": \"ringkernel-bench-baseline\", \"format_version\": 1, \"version\": \"v\", \"entries\": [";
  const std::string entry = "{\"workload_id\": \"w\", \"size\": 10, \"throughput_ops\": 1.5, \"mean_time_secs\": 1, "
                            "\"std_dev_secs\": 0, \"samples\": 3}";
  auto with_entry = [&](const std::string& e) { return head + e + "]}"; };
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += '[';
  for (int i = 0; i < 40; ++i) deep += ']';
  const std::pair<std::string, const char*> cases[] = {
      {"", "unexpected end of input"},
      {"   ", "unexpected end of input"},
      {"{", "expected a string key"},
      {"[1,]", "unexpected ']'"},
      {"{\"a\": 1,}", "expected a string key"},
      {"{} x", "unexpected text after the JSON value"},
      {"{\"a\" 1}", "expected ':'"},
      {"{\"a\": 1 \"b\": 2}", "expected ',' or '}'"},
      {"{\"a\": tru}", "invalid literal"},
      {"{\"a\": 01}", "leading zero"},
      {"{\"a\": 1.}", "expected a digit after '.'"},
      {"{\"a\": -}", "expected a digit"},
      {"{\"a\": 1e400}", "number out of range"},
      {"{\"a\": NaN}", "unexpected 'N'"},
      {"{\"a\": \"x\ty\"}", "control character"},
      {"{\"a\": \"\\q\"}", "invalid escape"},
      {"{\"a\": \"\\ud800\"}", "high surrogate not followed by a low surrogate"},
      {"{\"a\": \"\\udc00\"}", "unpaired low surrogate"},
      {"{\"a\": \"\\u12G4\"}", "invalid hex digit"},
      {"{\"a\": \"\xFF\"}", "invalid UTF-8"},
      {"{\"a\": \"\xC0\xAF\"}", "invalid UTF-8"},
      {"{\"a\": \"\xED\xA0\x80\"}", "invalid UTF-8"},
      {"{\"a\": \"abc", "unterminated string"},
      {"{\"a\": 1, \"a\": 2}", "duplicate key \"a\""},
      // Keys from the input are escaped in messages: a NUL would cut what() short.
      {"{\"a\\u0000b\": 1, \"a\\u0000b\": 2}", "duplicate key \"a\\u0000b\""},
      {head + "], \"a\\u0000b\": 1}", "unknown key \"a\\u0000b\""},
      {deep, "nesting deeper than 32 levels"},
      {"[]", "the top level must be an object"},
      {"{}", "lacks the key \"format\""},
      {head + "], \"extra\": 1}", "unknown key \"extra\""},
      {"{\"format\": \"other\", \"format_version\": 1, \"version\": \"v\", \"entries\": []}", "\"format\" must be"},
      {"{\"format\": \"ringkernel-bench-baseline\", \"format_version\": 2, \"version\": \"v\", \"entries\": []}",
       "unsupported format_version 2"},
      {"{\"format\": \"ringkernel-bench-baseline\", \"format_version\": 1, \"version\": 3, \"entries\": []}",
       "\"version\" must be a string"},
      {"{\"format\": \"ringkernel-bench-baseline\", \"format_version\": 1, \"version\": \"v\", \"entries\": {}}",
       "\"entries\" must be an array"},
      {with_entry("7"), "each entry must be an object"},
      {with_entry("{\"workload_id\": \"w\"}"), "lacks the key \"size\""},
      {with_entry(std::string(entry).replace(entry.find("10,"), 3, "-1,")), "\"size\" must be an integer"},
      {with_entry(std::string(entry).replace(entry.find("10,"), 3, "1.5,")), "\"size\" must be an integer"},
      {with_entry(std::string(entry).replace(entry.find("10,"), 3, "18446744073709551616,")), "\"size\" must be an integer"},
      {with_entry(std::string(entry).replace(entry.find("1.5"), 3, "0")), "\"throughput_ops\" must be a number > 0"},
      {with_entry(std::string(entry).replace(entry.find("\"samples\": 3"), 12, "\"samples\": 0")), "\"samples\" must be an integer in 1"},
      {with_entry(std::string(entry).replace(entry.find("\"w\""), 3, "\"\"")), "empty workload_id"},
      {with_entry(entry + ", " + entry), "a second entry for \"w\"@10"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.first);
    const ringkernel::Result<rb::Baseline> r = rb::Baseline::parse(c.first);
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == ErrorCode::InvalidArgument);
    CHECK(contains(r.message(), "malformed baseline JSON: line "));
    CHECK_MESSAGE(contains(r.message(), c.second), r.message());
    bool threw = false;
    try {
      (void)rb::Baseline::from_json(c.first);
    } catch (const Error& e) {
      threw = true;
      CHECK(e.code() == ErrorCode::InvalidArgument);
      CHECK(std::string(e.what()) == r.message());
    }
    CHECK(threw);
  }
  // The position points at the problem.
  CHECK(contains(rb::Baseline::parse("{\n  \"a\": 1,\n  \"a\": 2}").message(), "line 3, column 6: duplicate key"));
  // The valid form of the entry above parses.
  CHECK(rb::Baseline::parse(with_entry(entry)).ok());
}

TEST_CASE("Baseline: load() of a missing or malformed file names the file") {
  try {
    (void)rb::Baseline::load("/nonexistent/dir/baseline.json");
    FAIL("load must throw");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidArgument);
    CHECK(contains(e.what(), "/nonexistent/dir/baseline.json"));
  }
  const std::string path = temp_path("bad.json");
  {
    std::ofstream out(path);
    out << "{\"format\": ";
  }
  try {
    (void)rb::Baseline::load(path);
    FAIL("load must throw");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidArgument);
    CHECK(contains(e.what(), path));
    CHECK(contains(e.what(), "unexpected end of input"));
  }
  std::remove(path.c_str());
  CHECK(error_code_of([] { rb::Baseline("v").save("/nonexistent/dir/out.json"); }) == ErrorCode::InvalidArgument);
  rb::Baseline b("v");
  b.add(rb::BaselineEntry{"w", 1, 10, 0.1, 0, 1});
  CHECK(error_code_of([&] { b.add(rb::BaselineEntry{"w", 1, 10, 0.1, 0, 1}); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { b.add(rb::BaselineEntry{"x", 1, -10, 0.1, 0, 1}); }) == ErrorCode::InvalidArgument);
}

TEST_CASE("RegressionReport: regressions, improvements and unchanged against a threshold") {
  rb::Baseline base("v1");
  for (const char* id : {"a", "b", "c", "d"}) base.add(rb::BaselineEntry{id, 1000, 1000.0, 1.0, 0.0, 5});
  std::vector<rb::Result> now;
  now.emplace_back("a", 1000, 1.25);      // 800 ops/s: -20%
  now.emplace_back("b", 1000, 1.0 / 1.05);  // +5%
  now.emplace_back("c", 1000, 1.0 / 1.3);   // +30%
  now.emplace_back("e", 1000, 1.0);         // not in the baseline
  const rb::RegressionReport r = rb::RegressionReport::compare(base, now, 0.10);
  CHECK(r.regression_count() == 1);
  CHECK(r.improvement_count() == 1);
  CHECK(r.unchanged_count() == 1);
  CHECK(r.has_regressions());
  REQUIRE(r.worst_regression().has_value());
  CHECK(r.worst_regression()->workload_id == "a");
  CHECK(r.worst_regression()->relative_change == doctest::Approx(-0.2));
  CHECK(r.worst_regression()->percent_change() == doctest::Approx(-20.0));
  REQUIRE(r.best_improvement().has_value());
  CHECK(r.best_improvement()->workload_id == "c");
  CHECK(r.best_improvement()->relative_change == doctest::Approx(0.3));
  CHECK(r.missing_from_results() == std::vector<std::string>{"d@1000"});
  CHECK(r.not_in_baseline() == std::vector<std::string>{"e@1000"});
  const std::string summary = r.summary();
  CHECK(contains(summary, "1 regressions, 1 improvements, 1 unchanged (threshold ±10.0%, baseline \"v1\")"));
  CHECK(contains(summary, "worst a@1000 -20.0%"));
  CHECK(contains(summary, "best c@1000 +30.0%"));
  const std::string md = r.to_markdown();
  CHECK(contains(md, "| a | 1000 | 1000 | 800 | -20.0% | Regression |"));
  CHECK(contains(md, "No result for baseline entry d@1000."));

  // A wide threshold (a noisy machine) calls all of them unchanged.
  const rb::RegressionReport lax = rb::RegressionReport::compare(base, now, 0.5);
  CHECK_FALSE(lax.has_regressions());
  CHECK(lax.unchanged_count() == 3);
  CHECK_FALSE(lax.worst_regression().has_value());
  CHECK(error_code_of([&] { (void)rb::RegressionReport::compare(base, now, -0.1); }) == ErrorCode::InvalidArgument);

  rb::Suite suite(rb::Config::ci().with_regression_threshold(0.10));
  CHECK_FALSE(suite.compare_to_baseline().has_value());
  for (const rb::Result& x : now) suite.add_result(x);
  suite.set_baseline(base);
  const std::optional<rb::RegressionReport> via_suite = suite.compare_to_baseline();
  REQUIRE(via_suite.has_value());
  CHECK(via_suite->regression_count() == 1);
  CHECK(via_suite->baseline_version() == "v1");
}

}  // TEST_SUITE("benchstats")
