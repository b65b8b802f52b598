// ops_toolkit — the operations and benchmark toolkit around a runtime:
//   1. HybridDispatcher learning where a (simulated) GPU starts to beat the CPU,
//   2. a ResourceGuard bounding the runtime's queue memory: an oversized launch is refused with
//      MemoryLimitError before anything is allocated,
//   3. QueueMonitor judging a kernel's inbox from its telemetry and suggesting a larger tier,
//   4. ringkernel::bench measuring a real workload (SPSC ring round trips), printing Markdown,
//      saving a baseline JSON, reloading it and checking the next run against it.
// Each step checks its outcome; the exit status is the number of failed checks. Timings are
// printed for information only.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

namespace jobs {
struct Work {
  std::uint64_t n;
};
RINGKERNEL_MESSAGE(Work, 0x0B5E01)

/// Sums what it is given; emits nothing.
struct Accumulate {
  using input_type = Work;
  using output_type = void;
  std::uint64_t total = 0;
  RINGKERNEL_HD void operator()(const Work& w) { total += w.n; }
};
}  // namespace jobs

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
  if (!ok) ++failures;
}

// A cost model standing in for measured times (this example must run without a GPU): the CPU
// costs 1 us per element; the GPU 5 ms of launch and transfer plus 0.2 us per element, so it
// wins from 6250 elements on.
double cpu_cost_ms(std::size_t n) { return 0.001 * static_cast<double>(n); }
double gpu_cost_ms(std::size_t n) { return 5.0 + 0.0002 * static_cast<double>(n); }

// Moves `n` values through an SPSC ring on one thread, checking order; returns the checksum.
std::uint64_t ring_round_trips(ringkernel::SpscRing<std::uint64_t>& ring, std::uint64_t n) {
  std::uint64_t sum = 0, v = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    ring.try_push(i);
    ring.try_pop(v);
    sum += v == i ? v : 0;
  }
  return sum;
}
}  // namespace

int main() {
  using namespace ringkernel;
  std::printf("ringkernel %s ops_toolkit\n\n", RINGKERNEL_VERSION_STRING);

  // 1. Hybrid dispatch.
  std::printf("1. HybridDispatcher, adaptive: learning the CPU/GPU crossover (model: 6250 elements)\n");
  HybridDispatcher dispatcher(HybridConfig::adaptive());
  std::printf("  start threshold %zu\n", dispatcher.adaptive_threshold());
  std::uint64_t seed = 42;
  for (int i = 0; i < 5000; ++i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(seed >> 11) / 9007199254740992.0;
    const auto n = static_cast<std::size_t>(std::exp(std::log(100.0) + u * std::log(1e4)));  // 100 .. 1e6
    if (dispatcher.should_use_gpu(n)) dispatcher.record_gpu_execution(); else dispatcher.record_cpu_execution();
    dispatcher.update_adaptive_threshold(n, cpu_cost_ms(n), gpu_cost_ms(n));
  }
  const HybridStats hs = dispatcher.stats();
  std::printf("  learned threshold %zu after %llu decisions (%.1f%% on the GPU)\n", dispatcher.adaptive_threshold(),
              static_cast<unsigned long long>(hs.total()), hs.gpu_ratio() * 100);
  check(std::fabs(static_cast<double>(dispatcher.adaptive_threshold()) - 6250.0) <= 625.0,
        "threshold within 10% of the crossover");
  check(dispatcher.should_use_gpu(50000) && !dispatcher.should_use_gpu(1000), "50000 -> GPU, 1000 -> CPU");

  // 2. Resource guard on the runtime's queues.
  std::printf("\n2. ResourceGuard: 1 MiB for all kernel queues of a runtime\n");
  auto guard = std::make_shared<ResourceGuard>(std::uint64_t{1} << 20, 0.0);
  RuntimeConfig config;
  config.resource_guard = guard;
  Runtime rt = Runtime::builder().backend(Backend::Cpu).config(config).build();
  const LaunchOptions small = LaunchOptions{}.with_queue_capacity(256).without_auto_activate();
  KernelHandle worker = rt.launch("worker", jobs::Accumulate{}, small);
  std::printf("  'worker' (capacity 256) holds %llu bytes; %.1f%% of the guard in use\n",
              static_cast<unsigned long long>(guard->current_memory()), guard->utilization() * 100);
  check(guard->current_memory() == estimate_queue_memory(small).total_bytes(), "the launch charged its queue estimate");
  bool refused = false;
  try {
    rt.launch("huge", jobs::Accumulate{}, LaunchOptions{}.with_queue_capacity(std::size_t{1} << 16));
  } catch (const MemoryLimitError& e) {
    refused = true;
    std::printf("  refused: %s\n", e.what());
  }
  check(refused, "capacity 65536 refused with MemoryLimitError");
  check(guard->current_memory() == estimate_queue_memory(small).total_bytes(), "the refused launch left nothing behind");

  // 3. Queue health from telemetry.
  std::printf("\n3. QueueMonitor: 'worker' is not active yet, so messages wait in its inbox\n");
  const QueueMonitor monitor;  // warning 75%, critical 90%
  for (std::uint64_t i = 0; i < 240; ++i) worker.send(jobs::Work{i});
  for (const QueueMetrics& q : monitor.metrics(rt)) {
    std::printf("  %-7s depth %llu / %llu (%.1f%%) %-8s tier %s, suggested %s\n", q.kernel_id.c_str(),
                static_cast<unsigned long long>(q.stats.depth), static_cast<unsigned long long>(q.stats.capacity),
                q.utilization * 100, to_string(q.health), q.tier ? q.tier->name() : "-",
                q.suggested_tier ? q.suggested_tier->name() : "-");
    check(q.health == QueueHealth::Critical && q.suggested_tier == QueueTier(QueueTier::Medium),
          "240 of 256 is Critical; Medium (1024) suggested");
  }
  worker.activate();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (worker.status().messages_processed < 240 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const QueueMetrics drained = monitor.metrics(worker.status());
  std::printf("  after activate(): depth %llu, %s\n", static_cast<unsigned long long>(drained.stats.depth),
              to_string(drained.health));
  check(drained.health == QueueHealth::Healthy && drained.stats.processed == 240, "drained: Healthy, 240 processed");

  // 4. Benchmark statistics, baseline and regression check.
  std::printf("\n4. ringkernel::bench: SPSC ring round trips, 3 sizes\n");
  bench::Suite suite(bench::Config::quick().with_sizes({10000, 100000, 1000000}));
  SpscRing<std::uint64_t> ring(1024);
  std::uint64_t checksum = 0, expected = 0;
  for (std::uint64_t n : suite.config().sizes) {
    suite.run("spsc_round_trip", n, [&] { checksum += ring_round_trips(ring, n); });
    expected += 4 * (n * (n - 1) / 2);  // 1 warm-up + 3 measured runs
  }
  std::printf("%s", suite.generate_markdown_report().c_str());
  check(checksum == expected, "every value came back in order");
  std::vector<double> sizes, rates;
  for (const bench::Result& r : suite.results()) {
    sizes.push_back(static_cast<double>(r.size()));
    rates.push_back(r.throughput_ops());
  }
  const bench::ScalingMetrics scaling = bench::ScalingMetrics::from_sizes_and_throughputs(sizes, rates);
  // A ring's cost per operation should not depend on the run's length: an exponent near 0 is
  // expected, away from 0 means the machine was noisy (printed, not checked).
  std::printf("  throughput ~ size^%.2f (R^2 %.3f, quality %s)\n", scaling.exponent, scaling.r_squared,
              bench::to_string(scaling.scaling_quality()));

  const std::string path = "/tmp/ringkernel_ops_toolkit_" + std::to_string(::getpid()) + ".json";
  suite.create_baseline("example").save(path);
  const bench::Baseline baseline = bench::Baseline::load(path);
  std::remove(path.c_str());
  check(baseline == suite.create_baseline("example"), "baseline saved and loaded back unchanged");
  suite.set_baseline(baseline);
  const std::optional<bench::RegressionReport> report = suite.compare_to_baseline();
  std::printf("  against itself: %s\n", report ? report->summary().c_str() : "no report");
  check(report && report->unchanged_count() == 3 && !report->has_regressions(), "a run compared with itself is unchanged");

  std::printf("\n%s\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED");
  return failures;
}
