// Operations toolkit (hybrid dispatch, resource guard, queue monitor) and benchmark statistics.
#include <pybind11/operators.h>

#include "bindings.hpp"

namespace rkpy {
namespace rk = ringkernel;
namespace rb = ringkernel::bench;
using namespace pybind11::literals;

namespace {
std::string tier_repr(rk::QueueTier t) { return std::string("QueueTier.") + t.name(); }
}  // namespace

void bind_ops(py::module_& m) {
  // ---- hybrid dispatch ----
  py::enum_<rk::ProcessingMode>(m, "ProcessingMode", "Where a HybridDispatcher sends work.")
      .value("CpuOnly", rk::ProcessingMode::CpuOnly)
      .value("GpuOnly", rk::ProcessingMode::GpuOnly)
      .value("Hybrid", rk::ProcessingMode::Hybrid)
      .value("Adaptive", rk::ProcessingMode::Adaptive);

  py::class_<rk::HybridConfig>(m, "HybridConfig", "Settings of a HybridDispatcher.")
      .def(py::init([](rk::ProcessingMode mode, std::size_t gpu_threshold, double learning_rate, bool gpu_available) {
             return rk::HybridConfig{mode, gpu_threshold, learning_rate, gpu_available};
           }),
           "mode"_a = rk::ProcessingMode::Hybrid, "gpu_threshold"_a = 10000, "learning_rate"_a = 0.1,
           "gpu_available"_a = true)
      .def_static("cpu_only", &rk::HybridConfig::cpu_only)
      .def_static("gpu_only", &rk::HybridConfig::gpu_only)
      .def_static("adaptive", &rk::HybridConfig::adaptive)
      .def_static("hybrid", &rk::HybridConfig::hybrid, "threshold"_a)
      .def_readonly("mode", &rk::HybridConfig::mode)
      .def_readonly("gpu_threshold", &rk::HybridConfig::gpu_threshold)
      .def_readonly("learning_rate", &rk::HybridConfig::learning_rate)
      .def_readonly("gpu_available", &rk::HybridConfig::gpu_available);

  py::class_<rk::HybridStats>(m, "HybridStats", "Executions recorded on each side.")
      .def_readonly("cpu_count", &rk::HybridStats::cpu_count)
      .def_readonly("gpu_count", &rk::HybridStats::gpu_count)
      .def("total", &rk::HybridStats::total)
      .def("gpu_ratio", &rk::HybridStats::gpu_ratio);

  py::class_<rk::HybridDispatcher>(m, "HybridDispatcher",
                                   "Routes workloads to the CPU or the GPU by size; Adaptive mode learns the crossover "
                                   "size from measured times. Thread-safe.")
      .def(py::init<const rk::HybridConfig&>(), "config"_a = rk::HybridConfig{})
      .def("should_use_gpu", &rk::HybridDispatcher::should_use_gpu, "workload_size"_a)
      .def("record_cpu_execution", &rk::HybridDispatcher::record_cpu_execution)
      .def("record_gpu_execution", &rk::HybridDispatcher::record_gpu_execution)
      .def("update_adaptive_threshold", &rk::HybridDispatcher::update_adaptive_threshold, "workload_size"_a,
           "cpu_time_ms"_a, "gpu_time_ms"_a)
      .def_property_readonly("adaptive_threshold", &rk::HybridDispatcher::adaptive_threshold)
      .def_property_readonly("config", &rk::HybridDispatcher::config)
      .def("stats", &rk::HybridDispatcher::stats)
      .def("reset_stats", &rk::HybridDispatcher::reset_stats);

  // ---- resource guard ----
  py::class_<rk::MemoryEstimate>(m, "MemoryEstimate", "Predicted memory of a workload, in bytes.")
      .def(py::init([](std::uint64_t primary, std::uint64_t aux, std::uint64_t peak, double confidence) {
             if (!(confidence >= 0 && confidence <= 1)) throw py::value_error("confidence must be in [0, 1]");
             return rk::MemoryEstimate{primary, aux, peak, confidence};
           }),
           "primary_bytes"_a = 0, "auxiliary_bytes"_a = 0, "peak_bytes"_a = 0, "confidence"_a = 1.0)
      .def_readonly("primary_bytes", &rk::MemoryEstimate::primary_bytes)
      .def_readonly("auxiliary_bytes", &rk::MemoryEstimate::auxiliary_bytes)
      .def_readonly("peak_bytes", &rk::MemoryEstimate::peak_bytes)
      .def_readonly("confidence", &rk::MemoryEstimate::confidence)
      .def("total_bytes", &rk::MemoryEstimate::total_bytes, "primary + auxiliary.")
      .def("required_bytes", &rk::MemoryEstimate::required_bytes, "max(total_bytes(), peak_bytes).");

  using Reservation = rk::ResourceGuard::Reservation;
  py::class_<rk::ResourceGuard, std::shared_ptr<rk::ResourceGuard>> guard(
      m, "ResourceGuard",
      "Tracks memory against a limit (max_memory x (1 - safety_margin)) so a workload that would not fit fails "
      "with MemoryLimitError before it allocates. Thread-safe.");
  py::class_<Reservation, std::unique_ptr<Reservation>>(
      m, "Reservation",
      "Memory held against a ResourceGuard; a context manager: released on exit unless commit() made it a "
      "recorded allocation.")
      .def_property_readonly("bytes", &Reservation::bytes)
      .def_property_readonly("committed", &Reservation::committed)
      .def_property_readonly("active", &Reservation::active)
      .def("commit", &Reservation::commit, "Turns the reservation into a recorded allocation.")
      .def("release", &Reservation::release, "Gives the bytes back now (no-op when not active).")
      .def("__enter__", [](Reservation& r) -> Reservation& { return r; }, py::return_value_policy::reference_internal)
      .def("__exit__", [](Reservation& r, const py::object&, const py::object&, const py::object&) {
        r.release();
        return false;
      });
  guard
      .def(py::init([](std::uint64_t max_memory_bytes, double safety_margin) {
             return std::make_shared<rk::ResourceGuard>(max_memory_bytes, safety_margin);
           }),
           "max_memory_bytes"_a, "safety_margin"_a = 0.1)
      .def_static("default", &rk::default_guard,
                  "The process-wide guard the runtime uses by default: 80% of physical memory.")
      .def_static("unguarded", []() { return std::make_shared<rk::ResourceGuard>(rk::ResourceGuard::unlimited, 0.0); },
                  "A guard that never refuses but still counts.")
      .def_static("system_memory_bytes", &rk::ResourceGuard::system_memory_bytes)
      .def_property_readonly("max_memory", &rk::ResourceGuard::max_memory)
      .def_property_readonly("safety_margin", &rk::ResourceGuard::safety_margin)
      .def_property_readonly("limit", &rk::ResourceGuard::limit)
      .def_property_readonly("is_unguarded", &rk::ResourceGuard::is_unguarded)
      .def_property_readonly("current_memory", &rk::ResourceGuard::current_memory)
      .def_property_readonly("reserved_memory", &rk::ResourceGuard::reserved_memory)
      .def("available_memory", &rk::ResourceGuard::available_memory)
      .def("utilization", &rk::ResourceGuard::utilization)
      .def("can_allocate", &rk::ResourceGuard::can_allocate, "bytes"_a)
      .def("try_record_allocation", &rk::ResourceGuard::try_record_allocation, "bytes"_a)
      .def("record_allocation", &rk::ResourceGuard::record_allocation, "bytes"_a)
      .def("record_deallocation", &rk::ResourceGuard::record_deallocation, "bytes"_a)
      .def("reserve", [](rk::ResourceGuard& g, std::uint64_t bytes) { return std::make_unique<Reservation>(g.reserve(bytes)); },
           "bytes"_a, py::keep_alive<0, 1>(),
           "Reserves `bytes` (MemoryLimitError when they do not fit); use as `with guard.reserve(n) as r:`.")
      .def("validate", &rk::ResourceGuard::validate, "estimate"_a,
           "Raises MemoryLimitError when estimate.required_bytes() do not fit now.")
      .def("max_safe_elements", &rk::ResourceGuard::max_safe_elements, "bytes_per_element"_a);

  // ---- queue monitor ----
  py::enum_<rk::QueueHealth>(m, "QueueHealth", "How full a queue is against a QueueMonitor's thresholds.")
      .value("Healthy", rk::QueueHealth::Healthy)
      .value("Warning", rk::QueueHealth::Warning)
      .value("Critical", rk::QueueHealth::Critical);

  py::class_<rk::QueueTier> tier(m, "QueueTier",
                                 "A standard queue size: Small 256, Medium 1024, Large 4096, ExtraLarge 16384.");
  tier.def_property_readonly("capacity", &rk::QueueTier::capacity)
      .def_property_readonly("name", &rk::QueueTier::name)
      .def("upgrade", &rk::QueueTier::upgrade, "The next larger tier (ExtraLarge stays).")
      .def("downgrade", &rk::QueueTier::downgrade, "The next smaller tier (Small stays).")
      .def_static("for_throughput", &rk::QueueTier::for_throughput, "messages_per_second"_a, "headroom_ms"_a,
                  "The smallest tier buffering `headroom_ms` of traffic (ExtraLarge when none does).")
      .def_static("for_capacity", &rk::QueueTier::for_capacity, "capacity"_a)
      .def(py::self == py::self)
      .def(py::self != py::self)
      .def(py::self < py::self)
      .def("__hash__", [](rk::QueueTier t) { return static_cast<int>(t.level()); })
      .def("__repr__", &tier_repr)
      .def("__str__", [](rk::QueueTier t) { return std::string(t.name()); });
  tier.attr("Small") = rk::QueueTier(rk::QueueTier::Small);
  tier.attr("Medium") = rk::QueueTier(rk::QueueTier::Medium);
  tier.attr("Large") = rk::QueueTier(rk::QueueTier::Large);
  tier.attr("ExtraLarge") = rk::QueueTier(rk::QueueTier::ExtraLarge);

  py::class_<rk::QueueStats>(m, "QueueStats", "A queue's counters at one moment.")
      .def(py::init([](std::uint64_t depth, std::uint64_t capacity, std::uint64_t enqueued, std::uint64_t processed,
                       std::uint64_t dropped, std::uint64_t rejected) {
             return rk::QueueStats{depth, capacity, enqueued, processed, dropped, rejected};
           }),
           "depth"_a = 0, "capacity"_a = 0, "enqueued"_a = 0, "processed"_a = 0, "dropped"_a = 0, "rejected"_a = 0)
      .def_static("from_status", [](const py::object& s) {
        // KernelStatus (the Python one) derives from the C++ struct; read its fields.
        return rk::QueueStats{s.attr("queue_depth").cast<std::uint64_t>(), s.attr("queue_capacity").cast<std::uint64_t>(),
                              s.attr("messages_received").cast<std::uint64_t>(),
                              s.attr("messages_processed").cast<std::uint64_t>(),
                              s.attr("messages_dropped").cast<std::uint64_t>(),
                              s.attr("messages_rejected").cast<std::uint64_t>()};
      }, "status"_a)
      .def_readonly("depth", &rk::QueueStats::depth)
      .def_readonly("capacity", &rk::QueueStats::capacity)
      .def_readonly("enqueued", &rk::QueueStats::enqueued)
      .def_readonly("processed", &rk::QueueStats::processed)
      .def_readonly("dropped", &rk::QueueStats::dropped)
      .def_readonly("rejected", &rk::QueueStats::rejected);

  py::class_<rk::QueueMetrics>(m, "QueueMetrics", "One kernel's queue, judged by a QueueMonitor.")
      .def_readonly("kernel_id", &rk::QueueMetrics::kernel_id)
      .def_readonly("stats", &rk::QueueMetrics::stats)
      .def_readonly("utilization", &rk::QueueMetrics::utilization)
      .def_readonly("health", &rk::QueueMetrics::health)
      .def_readonly("tier", &rk::QueueMetrics::tier)
      .def_readonly("suggested_tier", &rk::QueueMetrics::suggested_tier);

  py::class_<rk::QueueMonitor>(m, "QueueMonitor",
                               "Judges queue fill against a warning and a critical threshold. Immutable; thread-safe.")
      .def(py::init<double, double>(), "warning_threshold"_a = 0.75, "critical_threshold"_a = 0.90)
      .def_static("default", []() { return rk::QueueMonitor(); })
      .def_property_readonly("warning_threshold", &rk::QueueMonitor::warning_threshold)
      .def_property_readonly("critical_threshold", &rk::QueueMonitor::critical_threshold)
      .def("utilization", &rk::QueueMonitor::utilization, "depth"_a, "capacity"_a)
      .def("check_health", &rk::QueueMonitor::check_health, "depth"_a, "capacity"_a)
      .def("suggest_upgrade", &rk::QueueMonitor::suggest_upgrade, "depth"_a, "capacity"_a, "current_tier"_a)
      .def("metrics_for",
           [](const rk::QueueMonitor& q, const std::string& id, const rk::QueueStats& s) {
             rk::KernelStatus ks;
             ks.id = id;
             ks.queue_depth = s.depth;
             ks.queue_capacity = s.capacity;
             ks.messages_received = s.enqueued;
             ks.messages_processed = s.processed;
             ks.messages_dropped = s.dropped;
             ks.messages_rejected = s.rejected;
             return q.metrics(ks);
           },
           "kernel_id"_a, "stats"_a, "The metrics of a queue with these counters.");

  m.def("estimate_queue_memory", &rk::estimate_queue_memory, "options"_a,
        "What launch() charges a kernel's queues against its ResourceGuard.");
}

void bind_bench(py::module_& b) {
  py::class_<rb::Config>(b, "BenchmarkConfig",
                         "How a benchmark is run; builder methods validate (RingKernelError) and return self.")
      .def(py::init([](std::size_t warmup, std::size_t measurements, double threshold) {
             rb::Config c;
             c.with_warmup(warmup).with_measurements(measurements).with_regression_threshold(threshold);
             return c;
           }),
           "warmup_iterations"_a = 2, "measurement_iterations"_a = 5, "regression_threshold"_a = 0.10)
      .def_static("quick", &rb::Config::quick)
      .def_static("comprehensive", &rb::Config::comprehensive)
      .def_static("ci", &rb::Config::ci)
      .def("with_warmup", &rb::Config::with_warmup, "n"_a, py::return_value_policy::reference_internal)
      .def("with_measurements", &rb::Config::with_measurements, "n"_a, py::return_value_policy::reference_internal)
      .def("with_sizes", &rb::Config::with_sizes, "sizes"_a, py::return_value_policy::reference_internal)
      .def("with_regression_threshold", &rb::Config::with_regression_threshold, "threshold"_a,
           py::return_value_policy::reference_internal)
      .def("with_timeout_secs", &rb::Config::with_timeout_secs, "seconds"_a, py::return_value_policy::reference_internal)
      .def_readonly("warmup_iterations", &rb::Config::warmup_iterations)
      .def_readonly("measurement_iterations", &rb::Config::measurement_iterations)
      .def_readonly("regression_threshold", &rb::Config::regression_threshold)
      .def_readonly("sizes", &rb::Config::sizes)
      .def_readonly("timeout_secs", &rb::Config::timeout_secs);

  py::class_<rb::DetailedStatistics>(b, "DetailedStatistics", "Summary statistics of a sample.")
      .def_static("from_values", &rb::DetailedStatistics::from_values, "values"_a)
      .def_readonly("count", &rb::DetailedStatistics::count)
      .def_readonly("mean", &rb::DetailedStatistics::mean)
      .def_readonly("std_dev", &rb::DetailedStatistics::std_dev, "Sample standard deviation (n - 1).")
      .def_readonly("min", &rb::DetailedStatistics::min)
      .def_readonly("max", &rb::DetailedStatistics::max)
      .def_readonly("median", &rb::DetailedStatistics::median)
      .def_readonly("p25", &rb::DetailedStatistics::p25)
      .def_readonly("p75", &rb::DetailedStatistics::p75)
      .def_readonly("p95", &rb::DetailedStatistics::p95)
      .def_readonly("p99", &rb::DetailedStatistics::p99)
      .def("iqr", &rb::DetailedStatistics::iqr)
      .def("coefficient_of_variation", &rb::DetailedStatistics::coefficient_of_variation);

  py::class_<rb::ConfidenceInterval>(b, "ConfidenceInterval", "Student-t confidence interval of the mean.")
      .def_static("from_values", &rb::ConfidenceInterval::from_values, "values"_a, "confidence"_a = 0.95)
      .def_readonly("mean", &rb::ConfidenceInterval::mean)
      .def_readonly("lower", &rb::ConfidenceInterval::lower)
      .def_readonly("upper", &rb::ConfidenceInterval::upper)
      .def_readonly("confidence", &rb::ConfidenceInterval::confidence)
      .def("width", &rb::ConfidenceInterval::width)
      .def("contains", &rb::ConfidenceInterval::contains, "x"_a);

  py::enum_<rb::ScalingQuality>(b, "ScalingQuality")
      .value("Excellent", rb::ScalingQuality::Excellent)
      .value("Good", rb::ScalingQuality::Good)
      .value("Fair", rb::ScalingQuality::Fair)
      .value("Poor", rb::ScalingQuality::Poor);

  py::class_<rb::ScalingMetrics>(b, "ScalingMetrics", "Power law throughput = c * size^exponent fitted on log-log axes.")
      .def_static("from_sizes_and_throughputs", &rb::ScalingMetrics::from_sizes_and_throughputs, "sizes"_a,
                  "throughputs"_a)
      .def_readonly("exponent", &rb::ScalingMetrics::exponent)
      .def_readonly("r_squared", &rb::ScalingMetrics::r_squared)
      .def_readonly("coefficient", &rb::ScalingMetrics::coefficient)
      .def_readonly("points", &rb::ScalingMetrics::points)
      .def("scaling_quality", &rb::ScalingMetrics::scaling_quality);

  py::class_<rb::Result>(b, "BenchmarkResult", "The measurements of one workload at one size.")
      .def(py::init<std::string, std::uint64_t, double>(), "workload_id"_a, "size"_a, "total_time_secs"_a)
      .def_static("from_measurements", &rb::Result::from_measurements, "workload_id"_a, "size"_a,
                  "measurement_times_secs"_a, "iterations"_a = py::none(), "converged"_a = py::none())
      .def_property_readonly("workload_id", &rb::Result::workload_id)
      .def_property_readonly("size", &rb::Result::size)
      .def_property_readonly("measurement_times_secs", &rb::Result::measurement_times_secs)
      .def_property_readonly("throughput_ops", &rb::Result::throughput_ops, "size / mean time (ops/s).")
      .def("throughput_mops", &rb::Result::throughput_mops)
      .def("throughput_stddev", &rb::Result::throughput_stddev)
      .def("mean_time_secs", &rb::Result::mean_time_secs)
      .def("total_time_ms", &rb::Result::mean_time_ms, "Mean time of one run in milliseconds.")
      .def("statistics", &rb::Result::statistics)
      .def("confidence_interval", &rb::Result::confidence_interval)
      .def_property_readonly("iterations", &rb::Result::iterations)
      .def_property_readonly("converged", &rb::Result::converged)
      .def("with_metric", &rb::Result::with_metric, "name"_a, "value"_a, "A copy with the custom metric set.")
      .def("custom_metrics", [](const rb::Result& r) {
        py::dict d;
        for (const auto& kv : r.custom_metrics()) d[py::str(kv.first)] = kv.second;
        return d;
      });

  py::class_<rb::BaselineEntry>(b, "BaselineEntry")
      .def_readonly("workload_id", &rb::BaselineEntry::workload_id)
      .def_readonly("size", &rb::BaselineEntry::size)
      .def_readonly("throughput_ops", &rb::BaselineEntry::throughput_ops)
      .def_readonly("mean_time_secs", &rb::BaselineEntry::mean_time_secs)
      .def_readonly("std_dev_secs", &rb::BaselineEntry::std_dev_secs)
      .def_readonly("samples", &rb::BaselineEntry::samples);

  py::class_<rb::Baseline>(b, "BenchmarkBaseline", "Reference figures to compare later runs against (JSON file).")
      .def(py::init<std::string>(), "version"_a = "")
      .def_property_readonly("version", &rb::Baseline::version)
      .def("entries", &rb::Baseline::entries)
      .def("__len__", &rb::Baseline::size)
      .def("find",
           [](const rb::Baseline& bl, const std::string& id, std::uint64_t size) -> std::optional<rb::BaselineEntry> {
             const rb::BaselineEntry* e = bl.find(id, size);
             if (e == nullptr) return std::nullopt;
             return *e;
           },
           "workload_id"_a, "size"_a)
      .def("to_json", &rb::Baseline::to_json)
      .def_static("from_json", &rb::Baseline::from_json, "text"_a)
      .def("save", &rb::Baseline::save, "path"_a)
      .def_static("load", &rb::Baseline::load, "path"_a)
      .def(py::self == py::self);

  py::enum_<rb::ChangeKind>(b, "ChangeKind")
      .value("Regression", rb::ChangeKind::Regression)
      .value("Improvement", rb::ChangeKind::Improvement)
      .value("Unchanged", rb::ChangeKind::Unchanged);

  py::class_<rb::RegressionEntry>(b, "RegressionEntry", "One workload compared with its baseline.")
      .def_readonly("workload_id", &rb::RegressionEntry::workload_id)
      .def_readonly("size", &rb::RegressionEntry::size)
      .def_readonly("baseline_throughput", &rb::RegressionEntry::baseline_throughput)
      .def_readonly("current_throughput", &rb::RegressionEntry::current_throughput)
      .def_readonly("relative_change", &rb::RegressionEntry::relative_change, "current / baseline - 1.")
      .def_property_readonly("percent_change", &rb::RegressionEntry::percent_change, "relative_change x 100.")
      .def_readonly("kind", &rb::RegressionEntry::kind);

  py::class_<rb::RegressionReport>(b, "RegressionReport", "Results compared with a baseline on throughput.")
      .def("entries", &rb::RegressionReport::entries)
      .def_property_readonly("threshold", &rb::RegressionReport::threshold)
      .def_property_readonly("baseline_version", &rb::RegressionReport::baseline_version)
      .def_property_readonly("regression_count", &rb::RegressionReport::regression_count)
      .def_property_readonly("improvement_count", &rb::RegressionReport::improvement_count)
      .def_property_readonly("unchanged_count", &rb::RegressionReport::unchanged_count)
      .def("has_regressions", &rb::RegressionReport::has_regressions)
      .def("worst_regression", &rb::RegressionReport::worst_regression)
      .def("best_improvement", &rb::RegressionReport::best_improvement)
      .def_property_readonly("missing_from_results", &rb::RegressionReport::missing_from_results)
      .def_property_readonly("not_in_baseline", &rb::RegressionReport::not_in_baseline)
      .def("summary", &rb::RegressionReport::summary)
      .def("to_markdown", &rb::RegressionReport::to_markdown);

  py::class_<rb::Suite>(b, "BenchmarkSuite", "A set of results with reports, a baseline and a comparison.")
      .def(py::init<rb::Config>(), "config"_a = rb::Config::ci())
      .def_property_readonly("config", &rb::Suite::config)
      .def("add_result", &rb::Suite::add_result, "result"_a)
      .def("run",
           [](rb::Suite& s, std::string id, std::uint64_t size, const py::function& fn) {
             return s.run(std::move(id), size, [&] { fn(); });
           },
           "workload_id"_a, "size"_a, "fn"_a,
           "Times `fn()` per the config (warm-ups, then measurements) as a result of `size` operations per run.")
      .def("results", &rb::Suite::results)
      .def("generate_markdown_report", &rb::Suite::generate_markdown_report, "title"_a = "")
      .def("generate_json_export", &rb::Suite::generate_json_export)
      .def("generate_latex_table", &rb::Suite::generate_latex_table)
      .def("create_baseline", &rb::Suite::create_baseline, "version"_a)
      .def("set_baseline", &rb::Suite::set_baseline, "baseline"_a)
      .def_property_readonly("baseline", &rb::Suite::baseline)
      .def("compare_to_baseline", &rb::Suite::compare_to_baseline);

  b.def("percentile", &rb::percentile, "values"_a, "p"_a, "Percentile p (0..100), linear interpolation (numpy's default).");
  b.def("t_critical", &rb::t_critical, "confidence"_a, "degrees_of_freedom"_a);

  // The names the seed's Python API used.
  for (const char* n : {"BenchmarkConfig", "BenchmarkSuite", "BenchmarkResult", "BenchmarkBaseline", "RegressionReport",
                        "ConfidenceInterval", "DetailedStatistics", "ScalingMetrics"})
    b.attr((std::string("Py") + n).c_str()) = b.attr(n);
}

}  // namespace rkpy
