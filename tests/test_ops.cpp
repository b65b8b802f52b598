// Operations toolkit (section 14): HybridDispatcher routing and adaptive threshold learning
// (convergence on a synthetic crossover, thread safety), ResourceGuard limits, RAII
// reservations and estimates, the runtime charging kernel queues against a guard (an
// oversized launch fails with MemoryLimitError and leaks nothing), and QueueMonitor / QueueTier
// judging real kernel telemetry.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ringkernel.hpp"
#include "test_support.hpp"

using namespace ringkernel;
using rk_test::error_code_of;

namespace ops_test {
struct Job {
  std::uint64_t n;
};
RINGKERNEL_MESSAGE(Job, 0x0B5001)
struct Done {
  std::uint64_t n;
};
RINGKERNEL_MESSAGE(Done, 0x0B5002)
struct Echo {
  using input_type = Job;
  using output_type = void;
  RINGKERNEL_HD void operator()(const Job&) {}
};

// Synthetic costs: the CPU is linear, the GPU pays 5 ms of overhead and is 5x cheaper per
// element, so the GPU wins from n* = 5 / (0.001 - 0.0002) = 6250 on.
constexpr double kCrossover = 6250.0;
double cpu_ms(double n) { return 0.001 * n; }
double gpu_ms(double n) { return 5.0 + 0.0002 * n; }

// Deterministic sizes, log-uniform over [100, 1e6].
struct Sizes {
  std::uint64_t state;
  explicit Sizes(std::uint64_t seed) : state(seed) {}
  double unit() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(state >> 11) / 9007199254740992.0;
  }
  std::size_t next() { return static_cast<std::size_t>(std::exp(std::log(100.0) + unit() * std::log(1e4))); }
};

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}
}  // namespace ops_test

TEST_SUITE("ops") {

TEST_CASE("HybridDispatcher: fixed modes route by mode, threshold and GPU availability") {
  HybridDispatcher cpu(HybridConfig::cpu_only());
  HybridDispatcher gpu(HybridConfig::gpu_only());
  HybridDispatcher hybrid(HybridConfig::hybrid(10000));
  HybridDispatcher no_gpu(HybridConfig{ProcessingMode::Hybrid, 10000, 0.1, false});
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{9999}, std::size_t{10000}, std::size_t{1} << 40}) {
    CHECK_FALSE(cpu.should_use_gpu(n));
    CHECK(gpu.should_use_gpu(n));
    CHECK(hybrid.should_use_gpu(n) == (n >= 10000));
    CHECK_FALSE(no_gpu.should_use_gpu(n));
  }
  CHECK(std::string(to_string(ProcessingMode::Adaptive)) == "Adaptive");
  CHECK(HybridDispatcher(HybridConfig::adaptive()).adaptive_threshold() == 10000);
}

TEST_CASE("HybridDispatcher: bad configuration and bad measurements are InvalidArgument") {
  CHECK(error_code_of([] { HybridDispatcher d(HybridConfig{ProcessingMode::Adaptive, 100, 0.0, true}); }) ==
        ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { HybridDispatcher d(HybridConfig{ProcessingMode::Adaptive, 100, 1.5, true}); }) ==
        ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { HybridDispatcher d(HybridConfig{ProcessingMode::Adaptive, 100, std::nan(""), true}); }) ==
        ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { HybridDispatcher d(HybridConfig{ProcessingMode::GpuOnly, 0, 0.1, false}); }) ==
        ErrorCode::InvalidArgument);
  HybridDispatcher d(HybridConfig::adaptive());
  CHECK(error_code_of([&] { d.update_adaptive_threshold(0, 1, 2); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { d.update_adaptive_threshold(10, -1, 2); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { d.update_adaptive_threshold(10, 1, std::nan("")); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { d.update_adaptive_threshold(10, 1, HUGE_VAL); }) == ErrorCode::InvalidArgument);
  CHECK(d.adaptive_threshold() == 10000);  // nothing learned from refused input
}

TEST_CASE("HybridDispatcher: stats count executions; ratio and reset") {
  HybridDispatcher d;
  CHECK(d.stats().total() == 0);
  CHECK(d.stats().gpu_ratio() == 0.0);
  for (int i = 0; i < 3; ++i) d.record_cpu_execution();
  d.record_gpu_execution();
  const HybridStats s = d.stats();
  CHECK(s.cpu_count == 3);
  CHECK(s.gpu_count == 1);
  CHECK(s.total() == 4);
  CHECK(s.gpu_ratio() == doctest::Approx(0.25));
  d.reset_stats();
  CHECK(d.stats().total() == 0);
}

TEST_CASE("HybridDispatcher: the adaptive threshold converges within 10% of a synthetic crossover") {
  using namespace ops_test;
  // From above (default start 10 000) and from far below (start 200), with exact costs and with
  // +-5% multiplicative noise on each measurement.
  for (std::size_t start : {std::size_t{10000}, std::size_t{200}}) {
    for (double noise : {0.0, 0.05}) {
      CAPTURE(start);
      CAPTURE(noise);
      HybridDispatcher d(HybridConfig{ProcessingMode::Adaptive, start, 0.1, true});
      Sizes sizes(start * 7 + static_cast<std::uint64_t>(noise * 100));
      for (int i = 0; i < 20000; ++i) {
        const std::size_t n = sizes.next();
        const double c = cpu_ms(static_cast<double>(n)) * (1.0 + noise * (2 * sizes.unit() - 1));
        const double g = gpu_ms(static_cast<double>(n)) * (1.0 + noise * (2 * sizes.unit() - 1));
        d.update_adaptive_threshold(n, c, g);
      }
      const double t = static_cast<double>(d.adaptive_threshold());
      MESSAGE("start " << start << ", noise " << noise << ": learned threshold " << t << " (crossover 6250)");
      CHECK(std::fabs(t - kCrossover) <= 0.10 * kCrossover);
      CHECK(d.should_use_gpu(20000));
      CHECK_FALSE(d.should_use_gpu(2000));
    }
  }
}

TEST_CASE("HybridDispatcher: agreeing measurements leave the threshold; Hybrid mode does not decide by it") {
  HybridDispatcher d(HybridConfig{ProcessingMode::Hybrid, 5000, 0.5, true});
  d.update_adaptive_threshold(100000, 10, 1);  // GPU faster above the threshold: agrees
  d.update_adaptive_threshold(100, 1, 10);     // CPU faster below: agrees
  d.update_adaptive_threshold(1000, 3, 3);     // a tie says nothing
  CHECK(d.adaptive_threshold() == 5000);
  d.update_adaptive_threshold(1000, 10, 1);  // GPU faster at 1000 < 5000: moves down (log-halfway: sqrt(5e6))
  CHECK(d.adaptive_threshold() == static_cast<std::size_t>(std::llround(std::sqrt(5000.0 * 1000.0))));
  CHECK_FALSE(d.should_use_gpu(4000));  // Hybrid keeps its fixed threshold
  CHECK(d.should_use_gpu(5000));
}

TEST_CASE("HybridDispatcher: concurrent routing, recording and learning (run under TSan in CI)") {
  using namespace ops_test;
  HybridDispatcher d(HybridConfig::adaptive());
  constexpr int threads = 4;
  const int per_thread = static_cast<int>(rk_test::scaled(20000));
  std::atomic<std::uint64_t> gpu_decisions{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      Sizes sizes(static_cast<std::uint64_t>(t) + 1);
      for (int i = 0; i < per_thread; ++i) {
        const std::size_t n = sizes.next();
        if (d.should_use_gpu(n)) {
          d.record_gpu_execution();
          gpu_decisions.fetch_add(1, std::memory_order_relaxed);
        } else {
          d.record_cpu_execution();
        }
        d.update_adaptive_threshold(n, cpu_ms(static_cast<double>(n)), gpu_ms(static_cast<double>(n)));
        (void)d.adaptive_threshold();
      }
    });
  }
  for (auto& th : pool) th.join();
  const HybridStats s = d.stats();
  CHECK(s.total() == static_cast<std::uint64_t>(threads) * static_cast<std::uint64_t>(per_thread));
  CHECK(s.gpu_count == gpu_decisions.load());
  CHECK(std::fabs(static_cast<double>(d.adaptive_threshold()) - kCrossover) <= 0.10 * kCrossover);
}

TEST_CASE("ResourceGuard: limit, recording, availability and utilization") {
  ResourceGuard g(1000, 0.1);
  CHECK(g.max_memory() == 1000);
  CHECK(g.limit() == 900);
  CHECK_FALSE(g.is_unguarded());
  CHECK(g.can_allocate(900));
  CHECK_FALSE(g.can_allocate(901));
  g.record_allocation(500);
  CHECK(g.current_memory() == 500);
  CHECK(g.available_memory() == 400);
  CHECK(g.utilization() == doctest::Approx(500.0 / 900.0));
  CHECK(g.max_safe_elements(8) == 50);
  CHECK_FALSE(g.try_record_allocation(401));
  CHECK(g.current_memory() == 500);
  CHECK(g.try_record_allocation(400));
  CHECK(g.available_memory() == 0);
  CHECK_FALSE(g.can_allocate(1));
  g.record_allocation(100);  // made already: recorded even past the limit
  CHECK(g.current_memory() == 1000);
  CHECK(g.available_memory() == 0);
  CHECK(g.utilization() > 1.0);
  CHECK(error_code_of([&] { g.record_deallocation(1001); }) == ErrorCode::InvalidArgument);
  CHECK(g.current_memory() == 1000);  // unchanged by the refused call
  g.record_deallocation(1000);
  CHECK(g.current_memory() == 0);
  CHECK(error_code_of([&] { (void)g.max_safe_elements(0); }) == ErrorCode::InvalidArgument);
}

TEST_CASE("ResourceGuard: invalid construction is InvalidArgument; unguarded never refuses") {
  CHECK(error_code_of([] { ResourceGuard g(0); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { ResourceGuard g(100, 1.0); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { ResourceGuard g(100, -0.1); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { ResourceGuard g(100, std::nan("")); }) == ErrorCode::InvalidArgument);
  ResourceGuard u = ResourceGuard::unguarded();
  CHECK(u.is_unguarded());
  CHECK(u.can_allocate(UINT64_MAX / 2));
  CHECK(u.available_memory() == ResourceGuard::unlimited);
  u.record_allocation(std::uint64_t{1} << 50);
  CHECK(u.current_memory() == std::uint64_t{1} << 50);
  CHECK(u.utilization() == 0.0);
  u.validate(MemoryEstimate{std::uint64_t{1} << 60, 0, 0, 1.0});
  CHECK(ResourceGuard(ResourceGuard::unlimited - 1, 0.0).limit() == ResourceGuard::unlimited - 1);
}

TEST_CASE("ResourceGuard: reserve() is RAII, released on scope exit and on an exception, kept by commit()") {
  ResourceGuard g(1000, 0.0);
  {
    ResourceGuard::Reservation r = g.reserve(400);
    CHECK(r.active());
    CHECK(r.bytes() == 400);
    CHECK(g.reserved_memory() == 400);
    CHECK(g.available_memory() == 600);
    CHECK(g.utilization() == doctest::Approx(0.4));
    CHECK(error_code_of([&] { (void)g.reserve(601); }) == ErrorCode::MemoryLimit);
    CHECK(g.reserved_memory() == 400);  // the refused reservation took nothing
  }
  CHECK(g.reserved_memory() == 0);

  bool caught = false;
  try {
    ResourceGuard::Reservation r = g.reserve(300);
    CHECK(g.reserved_memory() == 300);
    throw std::runtime_error("work failed");
  } catch (const std::runtime_error&) {
    caught = true;
  }
  CHECK(caught);
  CHECK(g.reserved_memory() == 0);
  CHECK(g.current_memory() == 0);

  try {
    (void)g.reserve(2000);
    FAIL("reserve beyond the limit must throw");
  } catch (const MemoryLimitError& e) {
    CHECK(e.code() == ErrorCode::MemoryLimit);
    CHECK(std::string(e.what()).find("2000 bytes") != std::string::npos);
  }

  {
    ResourceGuard::Reservation r = g.reserve(250);
    r.commit();
    CHECK(r.committed());
    CHECK_FALSE(r.active());
    CHECK(error_code_of([&] { r.commit(); }) == ErrorCode::InvalidState);
  }
  CHECK(g.reserved_memory() == 0);
  CHECK(g.current_memory() == 250);  // committed: an allocation now, freed by its owner
  g.record_deallocation(250);

  {
    ResourceGuard::Reservation a = g.reserve(100);
    ResourceGuard::Reservation b = std::move(a);
    CHECK_FALSE(a.active());
    CHECK(b.active());
    CHECK(g.reserved_memory() == 100);
    ResourceGuard::Reservation c = g.reserve(50);
    c = std::move(b);  // c's own 50 go back first
    CHECK(g.reserved_memory() == 100);
  }
  CHECK(g.reserved_memory() == 0);
}

TEST_CASE("ResourceGuard: validate() checks the larger of total and peak; MemoryEstimate sums") {
  const MemoryEstimate e{1000, 500, 2000, 0.9};
  CHECK(e.total_bytes() == 1500);
  CHECK(e.required_bytes() == 2000);
  CHECK(MemoryEstimate{UINT64_MAX, 5, 0, 1}.total_bytes() == UINT64_MAX);
  ResourceGuard big(10000, 0.0);
  big.validate(e);
  ResourceGuard small(1800, 0.0);  // the sum fits, the peak does not
  try {
    small.validate(e);
    FAIL("validate must throw MemoryLimitError");
  } catch (const MemoryLimitError& err) {
    const std::string what = err.what();
    CHECK(what.find("2000 bytes") != std::string::npos);
    CHECK(what.find("1800 bytes") != std::string::npos);
  }
  CHECK(error_code_of([&] { big.validate(MemoryEstimate{1, 1, 1, 1.5}); }) == ErrorCode::InvalidArgument);
}

TEST_CASE("default_guard: 80% of the physical memory the OS reports, one per process") {
  const std::uint64_t system = ResourceGuard::system_memory_bytes();
  REQUIRE(system > 0);  // Linux reports it
  const std::shared_ptr<ResourceGuard> g = default_guard();
  CHECK(g.get() == default_guard().get());
  CHECK(g->max_memory() == system / 5 * 4);
  CHECK(g->safety_margin() == 0.0);
  CHECK(g->limit() == g->max_memory());
}

TEST_CASE("runtime: kernel queues are charged against the guard; an oversized launch is MemoryLimitError") {
  using namespace ops_test;
  auto guard = std::make_shared<ResourceGuard>(std::uint64_t{1} << 20, 0.0);
  RuntimeConfig cfg;
  cfg.resource_guard = guard;
  {
    Runtime rt = Runtime::builder().backend(Backend::Cpu).config(cfg).build();
    const LaunchOptions big = LaunchOptions{}.with_queue_capacity(std::size_t{1} << 16);
    REQUIRE(estimate_queue_memory(big).total_bytes() > guard->limit());
    try {
      rt.launch("big", Echo{}, big);
      FAIL("the launch must fail");
    } catch (const MemoryLimitError& e) {
      const std::string what = e.what();
      CHECK(what.find("launch 'big'") != std::string::npos);
      CHECK(what.find("queue capacity") != std::string::npos);
    }
    CHECK(guard->current_memory() == 0);  // nothing leaked
    CHECK(rt.list_kernels().empty());
    CHECK(rt.metrics().total_launched == 0);

    const LaunchOptions small = LaunchOptions{}.with_queue_capacity(64);
    const std::uint64_t each = estimate_queue_memory(small).total_bytes();
    CHECK(each == 64 * (estimate_queue_memory(small).primary_bytes / 64 + sizeof(detail::Packet)));
    KernelHandle a = rt.launch("a", Echo{}, small);
    CHECK(guard->current_memory() == each);
    {
      KernelHandle b = rt.launch("b", Echo{}, small);
      CHECK(guard->current_memory() == 2 * each);
      b.send(Job{1});
      b.terminate();
    }
    // "b" is terminated; relaunching its id replaces (and frees) the old kernel.
    KernelHandle b2 = rt.launch("b", Echo{}, small);
    CHECK(guard->current_memory() == 2 * each);
    a.send(Job{2});
  }
  // Runtime gone; the handles went out of scope above too: every charge is released.
  CHECK(guard->current_memory() == 0);
}

TEST_CASE("runtime: the default guard refuses a queue bigger than 80% of physical memory") {
  using namespace ops_test;
  const LaunchOptions huge = LaunchOptions{}.with_queue_capacity(std::size_t{1} << 30);
  const std::uint64_t need = estimate_queue_memory(huge).total_bytes();
  if (need <= default_guard()->available_memory()) {
    MESSAGE("skipped: this machine's default guard would admit " << need << " bytes");
    return;
  }
  const std::uint64_t before = default_guard()->current_memory();
  Runtime rt = Runtime::builder().backend(Backend::Cpu).build();
  CHECK(error_code_of([&] { rt.launch("huge", Echo{}, huge); }) == ErrorCode::MemoryLimit);
  CHECK(default_guard()->current_memory() == before);
}

TEST_CASE("QueueTier: capacities, upgrade/downgrade, for_throughput, for_capacity") {
  CHECK(QueueTier(QueueTier::Small).capacity() == 256);
  CHECK(QueueTier(QueueTier::Medium).capacity() == 1024);
  CHECK(QueueTier(QueueTier::Large).capacity() == 4096);
  CHECK(QueueTier(QueueTier::ExtraLarge).capacity() == 16384);
  CHECK(QueueTier(QueueTier::Medium).upgrade() == QueueTier::Large);
  CHECK(QueueTier(QueueTier::Large).downgrade() == QueueTier::Medium);
  CHECK(QueueTier(QueueTier::ExtraLarge).upgrade() == QueueTier::ExtraLarge);
  CHECK(QueueTier(QueueTier::Small).downgrade() == QueueTier::Small);
  CHECK(QueueTier::for_throughput(10000, 100) == QueueTier::Medium);  // 1000 messages
  CHECK(QueueTier::for_throughput(2560, 100) == QueueTier::Small);    // exactly 256
  CHECK(QueueTier::for_throughput(2570, 100) == QueueTier::Medium);
  CHECK(QueueTier::for_throughput(1e6, 100) == QueueTier::ExtraLarge);  // 100 000: the largest
  CHECK(QueueTier::for_throughput(0, 0) == QueueTier::Small);
  CHECK(error_code_of([] { (void)QueueTier::for_throughput(-1, 10); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { (void)QueueTier::for_throughput(10, std::nan("")); }) == ErrorCode::InvalidArgument);
  CHECK(QueueTier::for_capacity(1000) == QueueTier(QueueTier::Medium));
  CHECK(QueueTier::for_capacity(256) == QueueTier(QueueTier::Small));
  CHECK_FALSE(QueueTier::for_capacity(16385).has_value());
  CHECK(std::string(QueueTier(QueueTier::ExtraLarge).name()) == "ExtraLarge");
}

TEST_CASE("QueueMonitor: thresholds, utilization, health and upgrade suggestions") {
  CHECK(error_code_of([] { QueueMonitor m(0.9, 0.75); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { QueueMonitor m(0.0, 0.5); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { QueueMonitor m(0.5, 1.1); }) == ErrorCode::InvalidArgument);
  const QueueMonitor m;
  CHECK(m.warning_threshold() == 0.75);
  CHECK(m.critical_threshold() == 0.90);
  CHECK(m.utilization(800, 1000) == doctest::Approx(0.8));
  CHECK(m.check_health(749, 1000) == QueueHealth::Healthy);
  CHECK(m.check_health(750, 1000) == QueueHealth::Warning);
  CHECK(m.check_health(899, 1000) == QueueHealth::Warning);
  CHECK(m.check_health(900, 1000) == QueueHealth::Critical);
  CHECK(m.check_health(1000, 1000) == QueueHealth::Critical);
  CHECK(error_code_of([&] { (void)m.check_health(1, 0); }) == ErrorCode::InvalidArgument);
  CHECK(m.suggest_upgrade(900, 1000, QueueTier::Medium) == QueueTier(QueueTier::Large));
  CHECK_FALSE(m.suggest_upgrade(500, 1000, QueueTier::Medium).has_value());
  CHECK_FALSE(m.suggest_upgrade(16000, 16384, QueueTier::ExtraLarge).has_value());
  // Too deep for Medium and Large at 75%: the largest tier.
  CHECK(m.suggest_upgrade(4000, 4096, QueueTier::Small) == QueueTier(QueueTier::ExtraLarge));
  CHECK(std::string(to_string(QueueHealth::Critical)) == "Critical");
}

TEST_CASE("QueueMonitor: health per kernel from real telemetry, and for a whole runtime") {
  using namespace ops_test;
  Runtime rt = Runtime::builder().backend(Backend::Cpu).build();
  KernelHandle idle = rt.launch("idle", Echo{}, LaunchOptions{}.with_queue_capacity(1024));
  // Launched, not active: messages wait in the inbox, so depth is exact.
  KernelHandle k = rt.launch("filling", Echo{}, LaunchOptions{}.with_queue_capacity(256).without_auto_activate());
  const QueueMonitor monitor;
  for (std::uint64_t i = 0; i < 200; ++i) k.send(Job{i});
  QueueMetrics q = monitor.metrics(k.status());
  CHECK(q.kernel_id == "filling");
  CHECK(q.stats.capacity == 256);
  CHECK(q.stats.depth == 200);
  CHECK(q.stats.enqueued == 200);
  CHECK(q.utilization == doctest::Approx(200.0 / 256.0));
  CHECK(q.health == QueueHealth::Warning);
  CHECK(q.tier == QueueTier(QueueTier::Small));
  CHECK(q.suggested_tier == QueueTier(QueueTier::Medium));
  for (std::uint64_t i = 0; i < 40; ++i) k.send(Job{i});
  q = monitor.metrics(k.status());
  CHECK(q.stats.depth == 240);
  CHECK(q.health == QueueHealth::Critical);

  const std::vector<QueueMetrics> all = monitor.metrics(rt);
  REQUIRE(all.size() == 2);
  CHECK(all[0].kernel_id == "idle");
  CHECK(all[0].health == QueueHealth::Healthy);
  CHECK(all[0].tier == QueueTier(QueueTier::Medium));
  CHECK_FALSE(all[0].suggested_tier.has_value());
  CHECK(all[1].kernel_id == "filling");
  CHECK(all[1].health == QueueHealth::Critical);

  k.activate();
  CHECK(wait_until([&] { return k.status().messages_processed == 240; }));
  q = monitor.metrics(k.status());
  CHECK(q.stats.depth == 0);
  CHECK(q.stats.processed == 240);
  CHECK(q.health == QueueHealth::Healthy);
  CHECK_FALSE(q.suggested_tier.has_value());
}

}  // TEST_SUITE("ops")
