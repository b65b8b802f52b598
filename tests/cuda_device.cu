// cuda_device: what the CUDA backend does on a GPU. Without a device it prints why and exits 77
// (Meson: SKIP). RK_CUDA_TEST_REDUCED=1 (set by tests/gpu_run.sh under compute-sanitizer, which
// slows kernels 10-100x) divides the message counts by 100.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel_cuda.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "cuda/handlers.hpp"

using namespace ringkernel;
using namespace rk_cuda_test;
using namespace std::chrono_literals;
namespace rkc = ringkernel::cuda;

namespace {
std::size_t scaled(std::size_t n) {
  const char* r = std::getenv("RK_CUDA_TEST_REDUCED");
  return (r != nullptr && r[0] == '1') ? (n / 100 == 0 ? 1 : n / 100) : n;
}
bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }
Runtime cuda_runtime() { return Runtime::builder().backend(Backend::Cuda).build(); }
}  // namespace

TEST_SUITE("cuda_device") {

TEST_CASE("echo round trip through the runtime, state kept on the device") {
  Runtime rt = cuda_runtime();
  REQUIRE(rt.backend() == Backend::Cuda);
  rkc::CudaKernel k = rkc::launch(rt, "echo", Echo{});
  REQUIRE(k.on_device());
  k.send(Ping{1, 9});
  const auto r = k.receive<Pong>(5s);
  REQUIRE(r.has_value());
  CHECK(r->seq == 1);
  CHECK(r->sender == 9);
  CHECK(r->count == 1);
  for (std::uint64_t i = 2; i <= 100; ++i) {
    const Pong p = k.call<Pong>(Ping{i, 9}, 5s);
    CHECK(p.seq == i);
    CHECK(p.count == i);
  }
  const KernelStatus s = k.status();
  CHECK(s.messages_processed == 100);
  CHECK(s.errors == 0);
  const auto dt = k.device_telemetry();
  REQUIRE(dt.has_value());
  CHECK(dt->messages_processed == 100);  // written by the device itself
  CHECK(dt->max_latency_ns >= dt->min_latency_ns);
  k.terminate();
  CHECK(k.state() == KernelState::Terminated);
  CHECK(k.device_error().empty());
}

TEST_CASE("1,000,000 messages from 2 host threads: none lost or duplicated") {
  Runtime rt = cuda_runtime();
  rkc::CudaKernel k = rkc::launch(rt, "echo", Echo{}, LaunchOptions{}.with_queue_capacity(4096));
  const std::size_t per_thread = scaled(500000);
  std::vector<std::thread> senders;
  for (std::uint64_t t = 0; t < 2; ++t)
    senders.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < per_thread; ++i) k.send(Ping{i, t});
    });
  std::vector<std::vector<std::uint8_t>> seen(2, std::vector<std::uint8_t>(per_thread, 0));
  std::size_t received = 0, duplicates = 0, bad = 0;
  std::uint64_t max_count = 0;
  // Telemetry is readable while the kernel runs.
  std::uint64_t mid_device_processed = 0;
  while (received < 2 * per_thread) {
    const auto p = k.receive<Pong>(10s);
    if (!p) break;
    if (p->sender > 1 || p->seq >= per_thread) {
      ++bad;
    } else if (seen[p->sender][p->seq]++ != 0) {
      ++duplicates;
    }
    max_count = std::max(max_count, p->count);
    if (++received == per_thread) mid_device_processed = k.device_telemetry().value().messages_processed;
  }
  for (auto& t : senders) t.join();
  CHECK(received == 2 * per_thread);
  CHECK(duplicates == 0);
  CHECK(bad == 0);
  CHECK(max_count == 2 * per_thread);  // the device's counter saw every message exactly once
  CHECK(mid_device_processed >= per_thread);
  CHECK(mid_device_processed <= 2 * per_thread);
  const KernelStatus s = k.status();
  CHECK(s.messages_received == 2 * per_thread);
  CHECK(s.messages_processed == 2 * per_thread);
  CHECK(s.messages_dropped == 0);
  MESSAGE("runtime bridge: " << 2 * per_thread << " messages, mean device-side latency " << s.avg_latency_ns << " ns (host view)");
}

TEST_CASE("lifecycle while running: deactivate, activate, terminate") {
  Runtime rt = cuda_runtime();
  rkc::CudaKernel k = rkc::launch(rt, "life", Echo{}, LaunchOptions{}.without_auto_activate());
  CHECK(k.state() == KernelState::Launched);
  k.send(Ping{1, 0});
  CHECK_FALSE(k.receive<Pong>(100ms).has_value());  // not active yet: nothing processed
  k.activate();
  REQUIRE(k.receive<Pong>(5s).has_value());
  k.deactivate();
  CHECK(k.state() == KernelState::Deactivated);
  k.send(Ping{2, 0});
  k.send(Ping{3, 0});
  CHECK_FALSE(k.receive<Pong>(100ms).has_value());
  CHECK(k.status().queue_depth == 2);
  CHECK(k.status().messages_processed == 1);
  k.activate();
  const auto a = k.receive<Pong>(5s);
  const auto b = k.receive<Pong>(5s);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(a->seq == 2);
  CHECK(b->seq == 3);
  CHECK(b->count == 3);
  k.deactivate();
  k.send(Ping{4, 0});
  k.terminate();
  CHECK(k.state() == KernelState::Terminated);
  CHECK(k.drain_unprocessed().size() == 1);
  CHECK(k.try_send(Ping{5, 0}) == SendStatus::NotActive);
  // The device's counters survive the kernel's memory.
  const auto dt = k.device_telemetry();
  REQUIRE(dt.has_value());
  CHECK(dt->messages_processed == 3);
  // Relaunch under the same id.
  rkc::CudaKernel k2 = rkc::launch(rt, "life", Echo{});
  CHECK(k2.call<Pong>(Ping{7, 0}, 5s).count == 1);  // fresh state
}

TEST_CASE("the same functor gives identical results on the CPU and CUDA backends") {
  const std::size_t n = scaled(20000);
  auto run = [&](Backend b) {
    Runtime rt = Runtime::builder().backend(b).build();
    rkc::CudaKernel k = rkc::launch(rt, "mixer", Mixer{});
    CHECK(k.on_device() == (b == Backend::Cuda));
    std::vector<std::uint64_t> out;
    std::thread sender([&] {
      for (std::uint64_t i = 0; i < n; ++i) k.send(Ping{i * 7919u, 1});
    });
    for (std::size_t i = 0; i < n; ++i) {
      const auto p = k.receive<Pong>(10s);
      if (!p) break;
      out.push_back(p->count);
    }
    sender.join();
    return out;
  };
  const std::vector<std::uint64_t> cpu = run(Backend::Cpu);
  const std::vector<std::uint64_t> gpu = run(Backend::Cuda);
  REQUIRE(cpu.size() == n);
  REQUIRE(gpu.size() == n);
  CHECK(cpu == gpu);
}

TEST_CASE("EventDriven mode: one launch per message, same answers") {
  Runtime rt = cuda_runtime();
  rkc::CudaKernel k = rkc::launch(rt, "ev", Echo{}, LaunchOptions{}.with_mode(KernelMode::EventDriven));
  for (std::uint64_t i = 1; i <= 200; ++i) {
    const Pong p = k.call<Pong>(Ping{i, 3}, 5s);
    CHECK(p.seq == i);
    CHECK(p.count == i);  // state persists in device memory between launches
  }
  CHECK(k.status().mode == KernelMode::EventDriven);
  REQUIRE(k.device_telemetry().has_value());
  CHECK(k.device_telemetry()->messages_processed == 200);
}

TEST_CASE("PersistentKernel directly: batched pushes, parallel handler, tags round-trip") {
  rkc::CudaDevice dev(0);
  rkc::PersistentConfig cfg;
  cfg.capacity = 1u << 16;
  cfg.block_size = 256;
  rkc::PersistentKernel<Square> k(dev, Square{}, cfg);
  const std::size_t total = scaled(2000000);
  std::vector<Ping> batch(4096);
  std::vector<rkc::Slot<Pong>> out(4096);
  std::size_t pushed = 0, popped = 0, wrong = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (popped < total && std::chrono::steady_clock::now() < deadline) {
    if (pushed < total) {
      const std::size_t want = std::min(batch.size(), total - pushed);
      for (std::size_t i = 0; i < want; ++i) batch[i] = Ping{pushed + i, 0};
      pushed += k.push_batch(batch.data(), want, pushed);
    }
    const std::size_t n = k.pop_batch(out.data(), out.size());
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t expect = popped + i;
      if (out[i].tag != expect || out[i].value.seq != expect || out[i].value.count != expect * expect) ++wrong;
    }
    popped += n;
    if (n == 0) REQUIRE(k.check_running());
  }
  CHECK(popped == total);
  CHECK(wrong == 0);
  CHECK(k.telemetry().messages_processed == total);
  CHECK(k.control_block().processed() == static_cast<std::int64_t>(total));
  CHECK(k.stop());
  CHECK(k.control_block().termination_state() == 1);
  CHECK_FALSE(k.running());
}

TEST_CASE("cooperative grid: several blocks share batches; an oversized grid is refused before launch") {
  rkc::CudaDevice dev(0);
  if (!dev.info().supports_cooperative) {
    MESSAGE("device has no cooperative launch; skipped");
    return;
  }
  rkc::PersistentConfig cfg;
  cfg.capacity = 1u << 14;
  cfg.block_size = 128;
  cfg.grid_size = static_cast<std::uint32_t>(dev.info().sm_count);
  {
    rkc::PersistentKernel<Square> k(dev, Square{}, cfg);
    const std::size_t total = scaled(200000);
    std::vector<Ping> batch(1024);
    std::vector<rkc::Slot<Pong>> out(1024);
    std::size_t pushed = 0, popped = 0, wrong = 0;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (popped < total && std::chrono::steady_clock::now() < deadline) {
      if (pushed < total) {
        const std::size_t want = std::min(batch.size(), total - pushed);
        for (std::size_t i = 0; i < want; ++i) batch[i] = Ping{pushed + i, 0};
        pushed += k.push_batch(batch.data(), want, pushed);
      }
      const std::size_t n = k.pop_batch(out.data(), out.size());
      for (std::size_t i = 0; i < n; ++i)
        if (out[i].tag != popped + i || out[i].value.count != (popped + i) * (popped + i)) ++wrong;
      popped += n;
    }
    CHECK(popped == total);
    CHECK(wrong == 0);
    CHECK(k.stop());
  }
  cfg.block_size = 1024;
  cfg.grid_size = static_cast<std::uint32_t>(dev.info().sm_count) * 64;
  bool refused = false;
  try {
    rkc::PersistentKernel<Square> k(dev, Square{}, cfg);
  } catch (const Error& e) {
    refused = true;
    CHECK(e.code() == ErrorCode::InvalidArgument);
    CHECK(contains(e.what(), "co-resident"));
  }
  CHECK(refused);
  CHECK(dev.resident_kernels() == 0);
}

TEST_CASE("K2K between two device kernels through a device-memory ring") {
  rkc::CudaDevice dev(0);
  rkc::PersistentConfig up_cfg;
  up_cfg.capacity = 4096;
  up_cfg.output_to_device = true;
  rkc::PersistentKernel<AddThousand> up(dev, AddThousand{}, up_cfg);
  rkc::PersistentConfig down_cfg;
  down_cfg.capacity = 4096;
  rkc::PersistentKernel<Square> down(dev, Square{}, down_cfg, up.device_output());
  CHECK_THROWS_AS((void)up.pop_batch(nullptr, 0), KernelError);      // its output is on the device
  CHECK_THROWS_AS((void)down.try_push(Ping{0, 0}, 0), KernelError);  // its input comes from `up`
  const std::size_t total = scaled(100000);
  std::vector<rkc::Slot<Pong>> out(1024);
  std::size_t pushed = 0, popped = 0, wrong = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (popped < total && std::chrono::steady_clock::now() < deadline) {
    while (pushed < total && up.try_push(Ping{pushed, 0}, pushed)) ++pushed;
    const std::size_t n = down.pop_batch(out.data(), out.size());
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t s = popped + i + 1000;
      if (out[i].tag != popped + i || out[i].value.count != s * s) ++wrong;
    }
    popped += n;
  }
  CHECK(popped == total);
  CHECK(wrong == 0);
  CHECK(up.telemetry().messages_processed == total);
  CHECK(down.telemetry().messages_processed == total);
  CHECK(down.stop());
  CHECK(up.stop());
}

TEST_CASE("error paths: bad ordinal, oversized message, handler without device code") {
  const int n = rkc::cuda_device_count();
  bool threw = false;
  try {
    (void)Runtime::builder().backend(Backend::Cuda).device(n + 5).build();
  } catch (const CudaError& e) {
    threw = true;
    CHECK(contains(e.what(), "out of range"));
  }
  CHECK(threw);
  ErrorCode dev_code = ErrorCode::Ok;
  try {
    rkc::CudaDevice d(n + 5);
  } catch (const Error& e) {
    dev_code = e.code();
  }
  CHECK(dev_code == ErrorCode::InvalidArgument);

  Runtime rt = cuda_runtime();
  ErrorCode code = ErrorCode::Ok;
  try {
    (void)rkc::launch(rt, "big", BigSink{}, LaunchOptions{}.with_max_message_size(64));
  } catch (const Error& e) {
    code = e.code();
  }
  CHECK(code == ErrorCode::InvalidArgument);

  // A kernel accepts only its own type and size; an envelope of another type is refused.
  rkc::CudaKernel k = rkc::launch(rt, "echo", Echo{});
  const MessageEnvelope wrong = MessageEnvelope::from_message(Pong{1, 2, 3}, 0, 0, HlcTimestamp{});
  CHECK(k.try_send_envelope(wrong) == SendStatus::TypeMismatch);

  // runtime.launch builds a CPU body: on a CUDA runtime that is a clear KernelError naming the type.
  bool refused = false;
  try {
    (void)rt.launch("cpu-only", Mixer{});
  } catch (const KernelError& e) {
    refused = true;
    CHECK(e.code() == ErrorCode::BackendUnavailable);
    CHECK(contains(e.what(), "Mixer"));
    CHECK(contains(e.what(), "no device code"));
  }
  CHECK(refused);
}

TEST_CASE("the device pool serves kernel state and shows it in diagnostics") {
  rkc::StratifiedPool& pool = rkc::device_pool(0);
  const std::size_t before = pool.diagnostics().in_use_bytes;
  {
    rkc::CudaDevice dev(0);
    rkc::PersistentKernel<Echo> k(dev, Echo{}, rkc::PersistentConfig{});
    CHECK(pool.diagnostics().in_use_bytes > before);
    CHECK(dev.resident_kernels() == 1);
    CHECK_THROWS_AS(dev.synchronize(), KernelError);  // would hang on the resident kernel
    CHECK(k.stop());
    CHECK(dev.resident_kernels() == 0);
    CHECK_NOTHROW(dev.synchronize());
  }
  CHECK(pool.diagnostics().in_use_bytes == before);
}

}  // TEST_SUITE

int main(int argc, char** argv) {
  const int n = rkc::cuda_device_count();
  if (n == 0) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    std::printf("SKIP cuda_device: no CUDA device (%s)\n",
                e == cudaSuccess ? "cudaGetDeviceCount returned 0" : rkc::describe(e, "cudaGetDeviceCount").c_str());
    return 77;
  }
  for (const rkc::DeviceInfo& d : rkc::enumerate_devices())
    std::printf("device %d: %s, compute %d.%d, %d SMs, %zu MiB, persistent %d, cooperative %d, host native atomics %d\n",
                d.ordinal, d.name.c_str(), d.compute_major, d.compute_minor, d.sm_count, d.total_memory >> 20,
                d.supports_persistent, d.supports_cooperative, d.host_native_atomics);
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
