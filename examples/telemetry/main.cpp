// telemetry — what a running kernel tells you about itself:
//   1. steady traffic through a kernel: status() counters and enqueue-to-done latency,
//   2. a DropOldest kernel under pressure while deactivated: the oldest messages are evicted and
//      counted, never silently lost,
//   3. the raw telemetry block (the layout GPU backends share) and runtime-wide metrics,
//   4. latency timed for one message in 16 (RuntimeConfig::latency_sample_interval), counts exact.
// Checks the accounting identity received == processed + dropped + queue_depth, and
// min <= avg <= max latency. Latency values are printed for information only.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

namespace sensors {
struct Sample {
  std::uint32_t seq;
  float value;
};
RINGKERNEL_MESSAGE(Sample, 0x7E1E)

/// Consumes samples and keeps a running mean; it emits nothing (output_type void).
struct MeanTracker {
  using input_type = Sample;
  using output_type = void;
  double sum = 0;
  std::uint64_t count = 0;
  RINGKERNEL_HD void operator()(const Sample& s) {
    sum += s.value;
    ++count;
  }
};
}  // namespace sensors

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
  if (!ok) ++failures;
}
unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }
void print_status(const ringkernel::KernelStatus& s) {
  std::printf("  %-7s %-11s received %llu = processed %llu + dropped %llu + queued %llu; rejected %llu, errors %llu\n",
              s.id.c_str(), ringkernel::to_string(s.state), ull(s.messages_received), ull(s.messages_processed),
              ull(s.messages_dropped), ull(s.queue_depth), ull(s.messages_rejected), ull(s.errors));
  std::printf("          latency min %.1f us, avg %.1f us, max %.1f us over %llu timed messages\n",
              static_cast<double>(s.min_latency_ns) / 1e3, s.avg_latency_ns / 1e3,
              static_cast<double>(s.max_latency_ns) / 1e3, ull(s.latency_samples));
}
bool consistent(const ringkernel::KernelStatus& s) {
  return s.messages_received == s.messages_processed + s.messages_dropped + s.queue_depth &&
         static_cast<double>(s.min_latency_ns) <= s.avg_latency_ns &&
         s.avg_latency_ns <= static_cast<double>(s.max_latency_ns);
}
// Polls until the kernel's inbox is empty and every message is accounted for (max 2 s).
bool wait_idle(const ringkernel::KernelHandle& k) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    const ringkernel::KernelStatus s = k.status();
    if (s.queue_depth == 0 && s.messages_processed + s.messages_dropped == s.messages_received) return true;
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}
}  // namespace

int main() {
  using namespace ringkernel;
  using namespace std::chrono_literals;
  std::printf("ringkernel %s telemetry\n\n", RINGKERNEL_VERSION_STRING);
  Runtime rt = Runtime::builder().backend(Backend::Cpu).build();

  // 1. A Block-strategy kernel: a full inbox makes send() wait, so nothing is ever dropped.
  std::printf("1. Steady traffic: 5000 samples into a Block kernel\n");
  KernelHandle steady = rt.launch("steady", sensors::MeanTracker{}, LaunchOptions{}.with_queue_capacity(256));
  for (std::uint32_t i = 0; i < 5000; ++i) steady.send(sensors::Sample{i, static_cast<float>(i % 100)});
  const bool steady_idle = wait_idle(steady);
  const KernelStatus s1 = steady.status();
  print_status(s1);
  check(steady_idle && s1.messages_processed == 5000 && s1.messages_dropped == 0, "5000 processed, none dropped");
  check(consistent(s1), "received == processed + dropped + queued; min <= avg <= max");

  // 2. A DropOldest kernel with 64 slots receives 200 samples while deactivated: the 136 oldest
  //    are evicted. Their latency (time spent waiting) shows up once it is activated again.
  std::printf("2. Pressure: 200 samples into a deactivated 64-slot DropOldest kernel\n");
  KernelHandle lossy = rt.launch("lossy", sensors::MeanTracker{},
                                 LaunchOptions{}.with_queue_capacity(64).with_backpressure(BackpressureStrategy::DropOldest));
  lossy.deactivate();
  for (std::uint32_t i = 0; i < 200; ++i) lossy.send(sensors::Sample{i, 1.0f});
  const KernelStatus s2 = lossy.status();
  print_status(s2);
  check(s2.messages_received == 200 && s2.messages_dropped == 136 && s2.queue_depth == 64 &&
            s2.messages_processed == 0,
        "200 received: 136 dropped, 64 queued, 0 processed");
  check(consistent(s2), "received == processed + dropped + queued");
  std::this_thread::sleep_for(20ms);  // the survivors wait a little longer
  lossy.activate();
  const bool lossy_idle = wait_idle(lossy);
  const KernelStatus s3 = lossy.status();
  print_status(s3);
  check(lossy_idle && s3.messages_processed == 64 && s3.messages_dropped == 136, "after activate: the 64 survivors processed");
  check(consistent(s3), "received == processed + dropped + queued; min <= avg <= max");
  check(s3.min_latency_ns >= 20000000, "every survivor waited at least the 20 ms pause");

  // 3. The telemetry block: the same counters in the fixed 64-byte layout every backend writes.
  std::printf("3. Telemetry block and runtime metrics\n");
  const TelemetrySnapshot t = lossy.telemetry();
  std::printf("  lossy:  processed %llu, dropped %llu, latency total %.1f ms, last message at %lld us (HLC)\n",
              ull(t.messages_processed), ull(t.messages_dropped), static_cast<double>(t.total_latency_ns) / 1e6,
              static_cast<long long>(t.last_processed_timestamp));
  check(t.messages_processed == s3.messages_processed && t.messages_dropped == s3.messages_dropped &&
            t.min_latency_ns == s3.min_latency_ns && t.max_latency_ns == s3.max_latency_ns,
        "telemetry() agrees with status()");

  const RuntimeMetrics m = rt.metrics();
  std::printf("  runtime: %llu kernels launched, %llu active; messages in %llu, out %llu, dropped %llu; faults %llu\n",
              ull(m.total_launched), ull(m.active_kernels), ull(m.messages_in), ull(m.messages_out),
              ull(m.messages_dropped), ull(m.faults));
  std::printf("  kernels:");
  for (const std::string& id : rt.list_kernels()) std::printf(" %s", id.c_str());
  std::printf("\n");
  check(m.total_launched == 2 && m.active_kernels == 2 && m.messages_in == 5200 && m.messages_dropped == 136 &&
            m.messages_out == 0 && m.faults == 0,
        "runtime totals: 2 kernels, 5200 messages in, 136 dropped, no outputs, no faults");

  rt.shutdown();

  // 4. Timing every message costs two clock reads per hop; a throughput-bound deployment times
  //    one in N per sending thread. Counts stay exact; min/avg/max are over the timed ones.
  std::printf("4. Sampled latency: 1600 samples, one in 16 timed\n");
  RuntimeConfig sampled_config;
  sampled_config.latency_sample_interval = 16;
  Runtime sampled_rt = Runtime::builder().backend(Backend::Cpu).config(sampled_config).build();
  KernelHandle sampled = sampled_rt.launch("sampled", sensors::MeanTracker{});
  std::thread sender([&] {  // a fresh thread: its count starts at its first message
    for (std::uint32_t i = 0; i < 1600; ++i) sampled.send(sensors::Sample{i, 2.0f});
  });
  sender.join();
  const bool sampled_idle = wait_idle(sampled);
  const KernelStatus s4 = sampled.status();
  print_status(s4);
  check(sampled_idle && s4.messages_processed == 1600 && s4.latency_samples == 100,
        "1600 processed, 100 of them timed");
  check(consistent(s4), "received == processed + dropped + queued; min <= avg <= max");
  sampled_rt.shutdown();

  std::printf("\n%s\n", failures == 0 ? "telemetry: all checks passed" : "telemetry: FAILED");
  return failures == 0 ? 0 : 1;
}
