// cuda_host: the CUDA backend's host-side behaviour, run everywhere nvcc builds it (CI has nvcc
// and no GPU). Without a device it checks the error paths for real: Backend::Cuda fails with a
// CudaError that names the failed call, Backend::Auto falls back to the CPU, the device queries
// report nothing, and cuda::launch runs the same functor on the CPU. With a device it checks the
// positive answers instead. The memory pool's bookkeeping and the presets are checked with a host
// allocator either way. Device behaviour is in cuda_device.cu.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel_cuda.hpp"

#include <cstdlib>
#include <thread>
#include <string>
#include <vector>

#include "cuda/handlers.hpp"

using namespace ringkernel;
using namespace rk_cuda_test;
using namespace std::chrono_literals;
namespace rkc = ringkernel::cuda;  // `cuda::` alone is ambiguous with libcu++'s ::cuda

namespace {
bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// Host allocator for pool bookkeeping tests: counts live blocks.
struct HostAlloc {
  int live = 0;
  std::size_t bytes = 0;
  bool fail = false;
};
void* host_allocate(std::size_t n, void* user) {
  auto* a = static_cast<HostAlloc*>(user);
  if (a->fail) return nullptr;
  ++a->live;
  a->bytes += n;
  return std::malloc(n);
}
void host_release(void* p, void* user) {
  auto* a = static_cast<HostAlloc*>(user);
  --a->live;
  std::free(p);
}
}  // namespace

TEST_SUITE("cuda_host") {

TEST_CASE("the CUDA provider is registered by the implementation TU") {
  auto p = find_backend_provider(Backend::Cuda);
  REQUIRE(p != nullptr);
  CHECK(p->kind() == Backend::Cuda);
}

TEST_CASE("device queries agree with each other") {
  const int n = rkc::cuda_device_count();
  CHECK(n >= 0);
  CHECK(rkc::is_cuda_available() == (n > 0));
  const std::vector<rkc::DeviceInfo> devices = rkc::enumerate_devices();
  CHECK(static_cast<int>(devices.size()) == n);
  for (const rkc::DeviceInfo& d : devices) {
    CHECK(!d.name.empty());
    CHECK(d.sm_count > 0);
    CHECK(d.total_memory > 0);
    MESSAGE("device " << d.ordinal << ": " << d.name << " cc " << d.compute_major << "." << d.compute_minor << ", "
                      << d.sm_count << " SMs, persistent " << d.supports_persistent << ", cooperative "
                      << d.supports_cooperative << ", host native atomics " << d.host_native_atomics);
  }
}

TEST_CASE("without a GPU: Backend::Cuda fails with a CudaError naming the call; Auto falls back to CPU") {
  if (rkc::cuda_device_count() > 0) {
    // With a device, the same calls succeed (cuda_device.cu checks what the kernels do).
    Runtime rt = Runtime::builder().backend(Backend::Cuda).build();
    CHECK(rt.backend() == Backend::Cuda);
    Runtime rt2 = Runtime::builder().backend(Backend::Auto).build();
    CHECK(rt2.backend() == Backend::Cuda);
    return;
  }
  CHECK_FALSE(rkc::is_cuda_available());
  CHECK(rkc::cuda_device_count() == 0);
  CHECK(rkc::enumerate_devices().empty());

  bool threw = false;
  try {
    (void)Runtime::builder().backend(Backend::Cuda).build();
  } catch (const rkc::CudaCallError& e) {
    threw = true;
    CHECK(e.code() == ErrorCode::CudaFailure);
    CHECK(e.call() == "cudaGetDeviceCount");
    CHECK(e.cuda_error() != 0);
    CHECK(contains(e.error_name(), "cudaError"));
    const std::string what = e.what();
    CHECK(contains(what, "cannot use device 0"));
    CHECK(contains(what, "cudaGetDeviceCount failed"));
    CHECK(contains(what, e.error_name().c_str()));
    MESSAGE("Backend::Cuda without a GPU: " << what);
  }
  CHECK(threw);
  // Also catchable as the core's CudaError.
  CHECK_THROWS_AS((void)Runtime::builder().backend(Backend::Cuda).device(3).build(), CudaError);

  Runtime rt = Runtime::builder().backend(Backend::Auto).build();
  CHECK(rt.backend() == Backend::Cpu);

  bool device_threw = false;
  try {
    rkc::CudaDevice d(0);
  } catch (const rkc::CudaCallError& e) {
    device_threw = true;
    CHECK(e.call() == "cudaGetDeviceCount");
  }
  CHECK(device_threw);
}

// A stand-in CUDA provider that reports the device usable, so a Cuda runtime can be built
// without a GPU: what launch does on it is then the real code, failing where the device is needed.
struct PretendCudaProvider final : BackendProvider {
  Backend kind() const noexcept override { return Backend::Cuda; }
  std::string probe(int) override { return {}; }
};
struct ProviderSwap {  // installs the stand-in, puts the real provider back on scope exit
  std::shared_ptr<BackendProvider> real = find_backend_provider(Backend::Cuda);
  ProviderSwap() { register_backend_provider(std::make_shared<PretendCudaProvider>()); }
  ~ProviderSwap() { register_backend_provider(real); }
};

TEST_CASE("on a CUDA runtime: core launch names the handler; without a device the bridge faults the kernel") {
  if (rkc::cuda_device_count() > 0) return;  // cuda_device.cu covers this with a real device
  ProviderSwap swap;
  Runtime rt = Runtime::builder().backend(Backend::Cuda).build();
  REQUIRE(rt.backend() == Backend::Cuda);
  // The core's launch builds a CPU body: refused with a KernelError naming the functor.
  bool refused = false;
  try {
    (void)rt.launch("cpu-body", Mixer{});
  } catch (const KernelError& e) {
    refused = true;
    CHECK(e.code() == ErrorCode::BackendUnavailable);
    CHECK(contains(e.what(), "Mixer"));
    CHECK(contains(e.what(), "no device code for the Cuda backend"));
  }
  CHECK(refused);
  // cuda::launch builds the CUDA body; its worker cannot open the device and faults the kernel
  // with the CUDA error (no crash, no hang), and the runtime keeps working.
  rkc::CudaKernel k = rkc::launch(rt, "echo", Echo{});
  CHECK(k.on_device());
  for (int i = 0; i < 500 && k.state() != KernelState::Faulted; ++i) std::this_thread::sleep_for(10ms);
  CHECK(k.state() == KernelState::Faulted);
  const auto f = k.fault();
  REQUIRE(f.has_value());
  CHECK(contains(f->what, "CUDA: cudaGetDeviceCount failed"));
  CHECK(contains(k.device_error(), "cudaGetDeviceCount"));
  CHECK(k.status().errors == 1);
  CHECK(k.try_send(Ping{1, 1}) == SendStatus::KernelFaulted);
  CHECK_FALSE(k.device_telemetry().has_value());  // the device kernel never started
  k.terminate();
  CHECK(k.state() == KernelState::Terminated);
}

TEST_CASE("cuda::launch on a CPU runtime runs the same functor there") {
  Runtime rt = Runtime::builder().backend(Backend::Cpu).build();
  rkc::CudaKernel k = rkc::launch(rt, "echo", Echo{});
  CHECK_FALSE(k.on_device());
  CHECK_FALSE(k.device_telemetry().has_value());
  for (std::uint64_t i = 1; i <= 10; ++i) {
    const Pong p = k.call<Pong>(Ping{i, 7}, 5s);
    CHECK(p.seq == i);
    CHECK(p.sender == 7);
    CHECK(p.count == i);
  }
  CHECK(k.status().messages_processed == 10);
  k.terminate();
  CHECK(k.state() == KernelState::Terminated);
}

TEST_CASE("cuda::launch refuses an input type above max_message_size") {
  Runtime rt = Runtime::builder().backend(Backend::Cpu).build();
  const ErrorCode code = [&] {
    try {
      (void)rkc::launch(rt, "big", BigSink{}, LaunchOptions{}.with_max_message_size(256));
    } catch (const Error& e) {
      CHECK(contains(e.what(), "512 bytes"));
      return e.code();
    }
    return ErrorCode::Ok;
  }();
  CHECK(code == ErrorCode::InvalidArgument);
}

TEST_CASE("describe() and CudaCallError carry call, name, number and CUDA's sentence") {
  const std::string s = rkc::describe(cudaErrorInvalidValue, "cudaMemcpy");
  CHECK(contains(s, "cudaMemcpy failed: cudaErrorInvalidValue (1): "));
  bool threw = false;
  try {
    rkc::check(cudaErrorMemoryAllocation, "cudaMalloc");
  } catch (const rkc::CudaCallError& e) {
    threw = true;
    CHECK(e.call() == "cudaMalloc");
    CHECK(e.cuda_error() == static_cast<int>(cudaErrorMemoryAllocation));
    CHECK(e.error_name() == "cudaErrorMemoryAllocation");
  }
  CHECK(threw);
  CHECK_NOTHROW(rkc::check(cudaSuccess, "nothing"));
}

TEST_CASE("GpuPoolConfig presets are valid and differ; bad configs are refused") {
  for (const rkc::GpuPoolConfig& c :
       {rkc::GpuPoolConfig::for_graph_analytics(), rkc::GpuPoolConfig::for_simulation(), rkc::GpuPoolConfig::minimal()}) {
    CHECK_NOTHROW(c.validate());
    CHECK(!c.size_classes.empty());
  }
  CHECK(rkc::GpuPoolConfig::minimal().max_bytes != 0);
  CHECK(rkc::GpuPoolConfig::for_simulation().size_classes.front() > rkc::GpuPoolConfig::for_graph_analytics().size_classes.front());
  rkc::GpuPoolConfig bad;
  CHECK_THROWS_AS(bad.validate(), Error);
  bad.size_classes = {512, 256};
  CHECK_THROWS_AS(bad.validate(), Error);
  bad.size_classes = {100};
  CHECK_THROWS_AS(bad.validate(), Error);
}

TEST_CASE("StreamConfig presets trade latency for host CPU") {
  const auto perf = rkc::StreamConfig::performance();
  const auto mini = rkc::StreamConfig::minimal();
  const auto sim = rkc::StreamConfig::for_simulation();
  CHECK(perf.high_priority);
  CHECK_FALSE(mini.high_priority);
  CHECK(sim.high_priority);
  CHECK(perf.spin_before_sleep > sim.spin_before_sleep);
  CHECK(mini.spin_before_sleep.count() == 0);
  CHECK(mini.sleep_interval > perf.sleep_interval);
}

TEST_CASE("StratifiedPool: size classes, reuse, limit, trim, oversized, double free") {
  HostAlloc a;
  rkc::GpuPoolConfig cfg;
  cfg.size_classes = {256, 1024, 4096};
  cfg.max_bytes = 16384;
  {
    rkc::StratifiedPool pool(cfg, rkc::PoolAllocator{&host_allocate, &host_release, &a});
    void* p1 = pool.allocate(100);   // class 256
    void* p2 = pool.allocate(1000);  // class 1024
    CHECK(a.live == 2);
    auto d = pool.diagnostics();
    CHECK(d.classes[0].in_use_blocks == 1);
    CHECK(d.classes[1].in_use_blocks == 1);
    CHECK(d.classes[0].misses == 1);
    CHECK(d.in_use_bytes == 256 + 1024);
    pool.deallocate(p1);
    void* p3 = pool.allocate(200);  // reuses p1's block
    CHECK(p3 == p1);
    CHECK(pool.diagnostics().classes[0].hits == 1);
    CHECK(a.live == 2);
    // Oversized: allocated directly and released on deallocate.
    void* big = pool.allocate(5000);
    CHECK(pool.diagnostics().oversized_in_use == 1);
    CHECK(a.live == 3);
    pool.deallocate(big);
    CHECK(a.live == 2);
    CHECK(pool.diagnostics().oversized_in_use == 0);
    // The cap: 256 + 1024 reserved; 4 x 4096 would exceed 16384.
    std::vector<void*> blocks;
    ErrorCode code = ErrorCode::Ok;
    try {
      for (int i = 0; i < 4; ++i) blocks.push_back(pool.allocate(4096));
    } catch (const MemoryLimitError& e) {
      code = e.code();
      CHECK(contains(e.what(), "max_bytes 16384"));
    }
    CHECK(code == ErrorCode::MemoryLimit);
    CHECK(blocks.size() == 3);
    CHECK(pool.diagnostics().limit_refusals == 1);
    for (void* b : blocks) pool.deallocate(b);
    CHECK(pool.trim() == 3 * 4096);
    CHECK(pool.diagnostics().classes[2].reserved_blocks == 0);
    CHECK_THROWS_AS(pool.deallocate(blocks[0]), Error);  // double free
    int local = 0;
    CHECK_THROWS_AS(pool.deallocate(&local), Error);     // foreign pointer
    CHECK_THROWS_AS((void)pool.allocate(0), Error);
    pool.deallocate(p2);
    pool.deallocate(p3);
  }
  CHECK(a.live == 0);  // the destructor returned everything
  a.fail = true;
  rkc::StratifiedPool failing(cfg, rkc::PoolAllocator{&host_allocate, &host_release, &a});
  CHECK_THROWS_AS((void)failing.allocate(10), CudaError);
}

TEST_CASE("StratifiedPool preallocates per class and refuses a preallocation above the cap") {
  HostAlloc a;
  rkc::GpuPoolConfig cfg;
  cfg.size_classes = {256, 512};
  cfg.preallocate_per_class = 2;
  {
    rkc::StratifiedPool pool(cfg, rkc::PoolAllocator{&host_allocate, &host_release, &a});
    CHECK(a.live == 4);
    CHECK(pool.diagnostics().reserved_bytes == 2 * 256 + 2 * 512);
    void* p = pool.allocate(300);
    CHECK(pool.diagnostics().classes[1].hits == 1);
    pool.deallocate(p);
  }
  CHECK(a.live == 0);
  cfg.max_bytes = 1000;
  CHECK_THROWS_AS(rkc::StratifiedPool(cfg, rkc::PoolAllocator{&host_allocate, &host_release, &a}), MemoryLimitError);
}

TEST_CASE("is_parallel_handler: opt-in only") {
  CHECK(rkc::is_parallel_handler<Square>::value);
  CHECK_FALSE(rkc::is_parallel_handler<Echo>::value);
  CHECK_FALSE(rkc::is_parallel_handler<Mixer>::value);
}

}  // TEST_SUITE
