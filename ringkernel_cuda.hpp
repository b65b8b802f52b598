// ringkernel_cuda.hpp — CUDA backend for ringkernel: persistent kernels on NVIDIA GPUs.
// SPDX-License-Identifier: MIT
//
// USAGE
//   Include from a .cu translation unit compiled by nvcc (C++17; H100/H200: -arch=sm_90), after or
//   instead of ringkernel.hpp. In exactly one TU of the program define RINGKERNEL_IMPLEMENTATION
//   (which implies RINGKERNEL_CUDA_IMPLEMENTATION) or RINGKERNEL_CUDA_IMPLEMENTATION alone when
//   the core's implementation lives in another TU. That TU registers Backend::Cuda with the
//   runtime, so `Runtime::builder().backend(Backend::Cuda)` and `Backend::Auto` find it.
//
//     struct Doubler {                       // the same functor runs on the CPU backend
//       using input_type = Req; using output_type = Resp;
//       RINGKERNEL_HD Resp operator()(const Req& r) { return Resp{r.x * 2}; }
//     };
//     auto rt = ringkernel::Runtime::builder().backend(ringkernel::Backend::Auto).build();
//     auto k  = ringkernel::cuda::launch(rt, "doubler", Doubler{}, ringkernel::LaunchOptions{});
//     k.send(Req{21});  auto r = k.receive<Resp>(std::chrono::seconds(1));
//
// HOW A FUNCTOR REACHES THE GPU
//   Device code for a handler type exists only where nvcc instantiates it. `cuda::launch` is that
//   instantiation: it builds a KernelBody whose backend() is Cuda around the persistent kernel
//   template for the functor. `runtime.launch(...)` from the core, on a CUDA runtime, builds a
//   CPU body and the core refuses it with KernelError(BackendUnavailable) naming the handler type.
//   On a runtime of another backend (Auto fell back to the CPU), `cuda::launch` runs the functor
//   there, so one program works with and without a GPU.
//
// SECTIONS                                           (`grep -n '>>' ringkernel_cuda.hpp`)
//   C1. Errors              >>cuda_errors    CudaCallError, check()
//   C2. Devices             >>cuda_devices   DeviceInfo, is_cuda_available, cuda_device_count,
//                                            enumerate_devices, CudaDevice
//   C3. Memory and streams  >>cuda_memory    GpuPoolConfig, StratifiedPool, PoolDiagnostics,
//                                            StreamConfig, Stream, PinnedBuffer
//   C4. Device rings        >>cuda_rings     Slot, RingView, system-scope loads/stores
//   C5. Persistent kernel   >>cuda_kernel    the __global__ loop, PersistentKernel<H>, K2K links
//   C6. Event-driven kernel >>cuda_event     one launch per batch, EventDrivenKernel<H>
//   C7. Runtime bridge      >>cuda_runtime   CudaKernel, launch(), the backend provider
//   C8. Implementation      >>cuda_impl      behind RINGKERNEL_CUDA_IMPLEMENTATION
//
// TRANSPORT AND MEMORY ORDERING (why it is built this way)
//   Host→device and device→host rings live in pinned, mapped host memory (cudaHostAlloc with
//   cudaHostAllocMapped): the host touches them at cache speed, the device over PCIe/NVLink-C2C,
//   and no copy engine or driver call is on the message path. Device-memory rings plus a host
//   bridge would make every host access a driver copy (µs each); stream memory operations
//   (cuStreamWriteValue) need the driver API and still go through a stream. bench/cuda_bench.cu
//   measures the chosen design against launch-per-message and CUDA graphs; its figures are the
//   evidence, not this comment.
//   Rules the code follows (the hazards):
//   * Every index and every ControlBlock/TelemetryBuffer field has exactly one writer. Nothing
//     does a read-modify-write on host memory, so the design does not depend on
//     hostNativeAtomicSupported (reported in DeviceInfo, not required).
//   * Publication: the producer writes the slot with plain stores, then stores its index with
//     release (host: __atomic_store_n RELEASE; device: cuda::atomic_ref<..., thread_scope_system>
//     store(memory_order_release), i.e. st.release.sys). The consumer loads the index with
//     acquire at the same scope, then reads the slot. Release/acquire at system scope is what
//     the PTX memory model defines for host↔device synchronization.
//   * No side ever writes back a whole header or control struct: only single aligned 4- or
//     8-byte fields. (A published implementation loses host updates by copying its control
//     struct back from the device.)
//   * Cooperative (grid-wide) launches are checked against occupancy first: a grid barrier with
//     more blocks than can be co-resident deadlocks.
//   * Every host wait on the device is bounded and reported (response timeout, stop timeout),
//     and the device's own status (cudaStreamQuery) is polled while waiting, so a crashed
//     kernel is an error, never a host hang. cudaDeviceSynchronize is refused while a kernel is
//     resident, and cudaFree/cudaFreeHost (which may wait for the whole device) are deferred
//     until no persistent kernel is resident; device memory comes from a pool, so most frees
//     are only a return to a free list.
//   * Assumed, to be confirmed on a GPU (tests/gpu_run.sh: the K2K and multi-kernel tests):
//     cudaMalloc / cudaHostAlloc / kernel launches on other non-blocking streams do not wait for
//     a resident kernel on current drivers.
#ifndef RINGKERNEL_CUDA_HPP
#define RINGKERNEL_CUDA_HPP

#if !defined(__CUDACC__)
#error "ringkernel_cuda.hpp must be compiled by nvcc (put it in a .cu file); ringkernel.hpp alone needs no CUDA"
#endif

#include "ringkernel.hpp"

#if RINGKERNEL_VERSION_MAJOR != 0 || RINGKERNEL_VERSION_MINOR != 1
#error "ringkernel_cuda.hpp 0.1 needs ringkernel.hpp 0.1.x"
#endif

#include <cuda_runtime.h>
#include <cooperative_groups.h>
#include <cuda/atomic>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#if defined(RINGKERNEL_IMPLEMENTATION) && !defined(RINGKERNEL_CUDA_IMPLEMENTATION)
#define RINGKERNEL_CUDA_IMPLEMENTATION
#endif

namespace ringkernel {
inline namespace RINGKERNEL_ABI_NAMESPACE {
namespace cuda {

// ============================================================================================
// C1. Errors                                                                    >>cuda_errors
// ============================================================================================

/// A CUDA runtime call failed. A CudaError (code CudaFailure) that also keeps the parts of its
/// message: the call, the CUDA error number and its name. what() reads
/// "<call> failed: <cudaErrorName> (<number>): <CUDA's description>".
class CudaCallError : public CudaError {
 public:
  CudaCallError(std::string call, int error, std::string error_name, const std::string& message)
      : CudaError(message), call_(std::move(call)), error_(error), error_name_(std::move(error_name)) {}
  /// The CUDA call that failed, e.g. "cudaGetDeviceCount".
  const std::string& call() const noexcept { return call_; }
  /// The cudaError_t value.
  int cuda_error() const noexcept { return error_; }
  /// The error's name, e.g. "cudaErrorInsufficientDriver".
  const std::string& error_name() const noexcept { return error_name_; }

 private:
  std::string call_;
  int error_;
  std::string error_name_;
};

/// The sentence CudaCallError uses: "<call> failed: <name> (<n>): <description>".
RINGKERNEL_API std::string describe(cudaError_t error, const char* call);
/// Raises CudaCallError for a failed `call` (or, without exceptions, logs and aborts). Clears
/// CUDA's non-sticky last error first so the next call starts clean.
[[noreturn]] RINGKERNEL_API void raise_cuda(cudaError_t error, const char* call);
/// Throws CudaCallError unless `error` is cudaSuccess.
inline void check(cudaError_t error, const char* call) {
  if (error != cudaSuccess) raise_cuda(error, call);
}

// ============================================================================================
// C2. Devices                                                                  >>cuda_devices
// ============================================================================================

/// What one CUDA device offers. Value type.
struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int compute_major = 0;                 ///< compute capability, e.g. 9.0 for H100/H200
  int compute_minor = 0;
  std::size_t total_memory = 0;          ///< bytes of device memory
  int sm_count = 0;                      ///< streaming multiprocessors
  int max_threads_per_block = 0;
  bool can_map_host_memory = false;      ///< pinned host memory can be mapped into the device
  bool host_native_atomics = false;      ///< hostNativeAtomicSupported (not required by ringkernel)
  bool kernel_timeout = false;           ///< a display watchdog limits kernel run time
  /// Mapped host memory, unified addressing, compute capability >= 7.0 (system-scope atomics,
  /// __nanosleep) and no watchdog: a kernel may stay resident.
  bool supports_persistent = false;
  /// cudaLaunchCooperativeKernel is available (grid-wide synchronization).
  bool supports_cooperative = false;
};

/// True when at least one CUDA device can be used. Never throws: a missing driver is "false".
RINGKERNEL_API bool is_cuda_available() noexcept;
/// Number of usable CUDA devices; 0 when the driver is missing or reports an error. Never throws.
RINGKERNEL_API int cuda_device_count() noexcept;
/// Every device's DeviceInfo (empty without a driver). Throws CudaCallError if a query fails on
/// a device the driver reported.
RINGKERNEL_API std::vector<DeviceInfo> enumerate_devices();

/// A CUDA device by ordinal. Cheap value type; thread-safe (CUDA's device state is per process).
class CudaDevice {
 public:
  /// Selects device `ordinal`. Throws CudaCallError when there is no driver or device
  /// (cudaGetDeviceCount's error), Error(InvalidArgument) for an ordinal out of range (naming the
  /// count), CudaCallError when the device cannot be queried.
  RINGKERNEL_API explicit CudaDevice(int ordinal = 0);
  /// The ordinal.
  int ordinal() const noexcept { return info_.ordinal; }
  /// The device's properties.
  const DeviceInfo& info() const noexcept { return info_; }
  /// Makes this device current on the calling thread (cudaSetDevice). Throws CudaCallError.
  RINGKERNEL_API void make_current() const;
  /// Waits for all work on the device. A persistent kernel never finishes, so this refuses with
  /// KernelError(InvalidState) while this process runs one on the device (instead of hanging);
  /// throws CudaCallError if the device reports an error.
  RINGKERNEL_API void synchronize() const;
  /// Persistent kernels of this process now resident on the device.
  RINGKERNEL_API int resident_kernels() const noexcept;

 private:
  DeviceInfo info_;
};

// ============================================================================================
// C3. Memory and streams                                                        >>cuda_memory
// ============================================================================================

/// Settings of a StratifiedPool: size classes (ascending, each a multiple of 256 bytes), a cap on
/// the bytes the pool may hold, and blocks to reserve per class up front. Value type.
struct GpuPoolConfig {
  std::vector<std::size_t> size_classes;
  std::size_t max_bytes = 0;            ///< cap on reserved bytes (in use + free); 0: no cap
  std::size_t preallocate_per_class = 0;

  /// Graph analytics: many small frontier/edge buffers and some large ones (256 B .. 16 MiB,
  /// 8 blocks per class reserved, no cap).
  RINGKERNEL_API static GpuPoolConfig for_graph_analytics();
  /// Simulation: fewer, larger field buffers (4 KiB .. 64 MiB, 2 per class reserved, no cap).
  RINGKERNEL_API static GpuPoolConfig for_simulation();
  /// Smallest footprint: 256 B .. 1 MiB classes, nothing reserved, 64 MiB cap.
  RINGKERNEL_API static GpuPoolConfig minimal();
  /// Throws Error(InvalidArgument) naming the problem (empty, unsorted, not multiples of 256).
  RINGKERNEL_API void validate() const;
};

/// Per-class and total counters of a StratifiedPool.
struct PoolDiagnostics {
  struct SizeClass {
    std::size_t block_size = 0;
    std::size_t reserved_blocks = 0;  ///< obtained from the allocator and not released
    std::size_t in_use_blocks = 0;
    std::uint64_t hits = 0;           ///< allocations served from the free list
    std::uint64_t misses = 0;         ///< allocations that went to the allocator
  };
  std::vector<SizeClass> classes;
  std::size_t reserved_bytes = 0;     ///< all classes plus oversized blocks
  std::size_t in_use_bytes = 0;       ///< by block size, not by requested size
  std::size_t oversized_in_use = 0;   ///< requests above the largest class (allocated directly)
  std::uint64_t limit_refusals = 0;   ///< allocations refused by max_bytes
};

/// Where a StratifiedPool gets and returns memory: cudaMalloc/cudaFree on a device by default;
/// tests and host-side users may plug in their own. `allocate` returns null on failure.
struct PoolAllocator {
  void* (*allocate)(std::size_t bytes, void* user) = nullptr;
  void (*release)(void* block, void* user) = nullptr;
  void* user = nullptr;
};

/// Device memory pool with size classes: a request takes the smallest class that fits, from
/// that class's free list when possible; requests above the largest class go to the allocator
/// directly. Blocks return to their class on deallocate() and to the allocator on trim() or
/// destruction. Thread-safe (one mutex).
class StratifiedPool {
 public:
  /// A pool over `allocator`. Throws Error(InvalidArgument) for a bad config, MemoryLimitError
  /// if preallocation exceeds max_bytes, CudaError if preallocation fails.
  RINGKERNEL_API StratifiedPool(const GpuPoolConfig& config, PoolAllocator allocator);
  /// A pool of cudaMalloc memory on device `ordinal`.
  RINGKERNEL_API StratifiedPool(const GpuPoolConfig& config, int ordinal);
  RINGKERNEL_API ~StratifiedPool();
  StratifiedPool(const StratifiedPool&) = delete;
  StratifiedPool& operator=(const StratifiedPool&) = delete;

  /// A block of at least `bytes` (> 0). Throws Error(InvalidArgument) for 0, MemoryLimitError
  /// when the cap would be exceeded (after trimming free blocks), CudaError when the allocator fails.
  RINGKERNEL_API void* allocate(std::size_t bytes);
  /// Returns a block from allocate(). Throws Error(InvalidArgument) for a pointer the pool does
  /// not hold in use (double free, foreign pointer).
  RINGKERNEL_API void deallocate(void* block);
  /// Releases every free block to the allocator; returns the bytes released.
  RINGKERNEL_API std::size_t trim();
  /// Counters now.
  RINGKERNEL_API PoolDiagnostics diagnostics() const;
  /// The configuration.
  const GpuPoolConfig& config() const noexcept { return config_; }

 private:
  struct Block {
    void* ptr;
    std::size_t size;
    int cls;  // -1: oversized
  };
  void* obtain(std::size_t bytes);
  GpuPoolConfig config_;
  PoolAllocator allocator_;
  int ordinal_ = -1;
  mutable std::mutex mu_;
  std::vector<std::vector<void*>> free_;
  std::vector<Block> in_use_;
  std::vector<PoolDiagnostics::SizeClass> stats_;
  std::size_t reserved_bytes_ = 0;
  std::size_t oversized_in_use_ = 0;
  std::size_t oversized_bytes_ = 0;
  std::uint64_t refusals_ = 0;
};

/// The pool the backend takes device memory from on device `ordinal` (handler state, K2K rings,
/// event-driven buffers), created on first use with GpuPoolConfig::minimal() unless
/// set_device_pool_config() chose another. Never destroyed (CUDA may be torn down before static
/// destructors run). Thread-safe.
RINGKERNEL_API StratifiedPool& device_pool(int ordinal);
/// Chooses the config of device_pool(ordinal) before its first use. Throws KernelError(InvalidState)
/// once that pool exists, Error(InvalidArgument) for a bad config.
RINGKERNEL_API void set_device_pool_config(int ordinal, const GpuPoolConfig& config);

/// How the backend creates its streams and waits on them. Value type.
struct StreamConfig {
  bool high_priority = false;  ///< the device's greatest stream priority
  bool non_blocking = true;    ///< no implicit sync with the legacy default stream
  /// How a host thread waits for the device: spin this long between sleeps (0: sleep at once).
  std::chrono::microseconds spin_before_sleep{50};
  /// Sleep between polls once the spin is over.
  std::chrono::microseconds sleep_interval{20};

  /// Lowest latency: high priority, non-blocking, the host spins 1 ms before sleeping 1 µs.
  RINGKERNEL_API static StreamConfig performance();
  /// Least host CPU: normal priority, the host sleeps 100 µs between polls at once.
  RINGKERNEL_API static StreamConfig minimal();
  /// Long-running simulation steps: high priority, the host spins 100 µs then sleeps 50 µs.
  RINGKERNEL_API static StreamConfig for_simulation();
};

/// An owned cudaStream_t. Move-only; the destructor destroys the stream (errors are logged).
class Stream {
 public:
  /// Creates a stream on `device` as `config` says. Throws CudaCallError.
  RINGKERNEL_API Stream(const CudaDevice& device, const StreamConfig& config);
  RINGKERNEL_API ~Stream();
  Stream(Stream&& other) noexcept : stream_(other.stream_), config_(other.config_) { other.stream_ = nullptr; }
  Stream& operator=(Stream&&) = delete;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  /// The raw stream.
  cudaStream_t get() const noexcept { return stream_; }
  /// The config it was made with.
  const StreamConfig& config() const noexcept { return config_; }
  /// Waits until the stream's work is done or `timeout` passes. Returns false on timeout;
  /// throws CudaCallError (naming `what`) if the stream reports an error.
  RINGKERNEL_API bool wait(std::chrono::nanoseconds timeout, const char* what) const;

 private:
  cudaStream_t stream_ = nullptr;
  StreamConfig config_;
};

/// Pinned host memory mapped into the device's address space (cudaHostAlloc, Mapped|Portable),
/// zero-filled. Move-only. host() and device() address the same bytes.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  /// Allocates `bytes` (> 0). Throws CudaCallError.
  RINGKERNEL_API explicit PinnedBuffer(std::size_t bytes);
  RINGKERNEL_API ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept : host_(o.host_), device_(o.device_), size_(o.size_) {
    o.host_ = o.device_ = nullptr;
    o.size_ = 0;
  }
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    std::swap(host_, o.host_);
    std::swap(device_, o.device_);
    std::swap(size_, o.size_);
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  /// The host address of the bytes.
  unsigned char* host() const noexcept { return static_cast<unsigned char*>(host_); }
  /// The device address of the same bytes (for kernel parameters).
  unsigned char* device() const noexcept { return static_cast<unsigned char*>(device_); }
  /// Bytes allocated (0 when empty or leaked).
  std::size_t size() const noexcept { return size_; }
  /// Keeps the memory allocated forever (used when a kernel that may still use it did not stop).
  void leak() noexcept { host_ = device_ = nullptr; size_ = 0; }

 private:
  void* host_ = nullptr;
  void* device_ = nullptr;
  std::size_t size_ = 0;
};

// ============================================================================================
// C4. Device rings                                                                >>cuda_rings
// ============================================================================================
//
// An SPSC ring shared by host and device or by two device kernels: 64-bit indices that only grow
// (slot = index & mask), head written only by the consumer, tail only by the producer, each on
// its own 128-byte line, slots of a fixed type after them. The same layout serves mapped host
// memory and device memory; only where it lives differs.

/// One ring slot: a caller-chosen tag (round-trips unchanged to the output slot) and the message.
template <class T>
struct alignas(16) Slot {
  std::uint64_t tag;
  T value;
};
static_assert(sizeof(Slot<std::uint64_t>) == 16 && alignof(Slot<std::uint64_t>) == 16,
              "ring slots are 16-byte aligned, the tag first: host and device agree on the layout");

namespace detail {
/// Ring geometry in the form the kernel gets it (device addresses).
struct RingView {
  unsigned char* slots = nullptr;
  std::uint64_t* head = nullptr;   // consumer's index
  std::uint64_t* tail = nullptr;   // producer's index
  std::uint64_t mask = 0;          // capacity - 1
  std::uint32_t slot_bytes = 0;
  RINGKERNEL_HD bool valid() const noexcept { return slots != nullptr; }
};
/// Bytes of a ring: two 128-byte index lines, then the slots.
constexpr std::size_t ring_index_bytes = 256;
constexpr std::size_t ring_bytes(std::size_t capacity, std::size_t slot_bytes) {
  return ring_index_bytes + capacity * slot_bytes;
}
/// A RingView over `base` (host or device address of ring_bytes()).
inline RingView ring_at(unsigned char* base, std::size_t capacity, std::size_t slot_bytes) {
  RingView v;
  v.head = reinterpret_cast<std::uint64_t*>(base);
  v.tail = reinterpret_cast<std::uint64_t*>(base + 128);
  v.slots = base + ring_index_bytes;
  v.mask = capacity - 1;
  v.slot_bytes = static_cast<std::uint32_t>(slot_bytes);
  return v;
}

#if defined(__CUDACC__)
// Device side of the protocol: system scope, because the other party may be the host.
template <class T>
__device__ inline T load_acquire(T* p) {
  return ::cuda::atomic_ref<T, ::cuda::thread_scope_system>(*p).load(::cuda::memory_order_acquire);
}
template <class T>
__device__ inline T load_relaxed(T* p) {
  return ::cuda::atomic_ref<T, ::cuda::thread_scope_system>(*p).load(::cuda::memory_order_relaxed);
}
template <class T>
__device__ inline void store_release(T* p, T v) {
  ::cuda::atomic_ref<T, ::cuda::thread_scope_system>(*p).store(v, ::cuda::memory_order_release);
}
template <class T>
__device__ inline void store_relaxed(T* p, T v) {
  ::cuda::atomic_ref<T, ::cuda::thread_scope_system>(*p).store(v, ::cuda::memory_order_relaxed);
}
__device__ inline std::uint64_t globaltimer_ns() {
  std::uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
#endif
}  // namespace detail

// ============================================================================================
// C5. Persistent kernel                                                          >>cuda_kernel
// ============================================================================================

/// Opt-in for handlers without state shared across messages: declare
/// `static constexpr bool ringkernel_parallel = true;` in the functor and every thread of the
/// grid handles its own message of a batch (one handler copy per thread, made from the device
/// copy). Without it the handler is stateful and one thread handles messages in order, exactly
/// as the CPU backend does.
template <class H, class = void>
struct is_parallel_handler : std::false_type {};
template <class H>
struct is_parallel_handler<H, std::void_t<decltype(H::ringkernel_parallel)>>
    : std::integral_constant<bool, H::ringkernel_parallel> {};

/// Settings of a PersistentKernel (the runtime fills them from LaunchOptions). Value type.
struct PersistentConfig {
  std::size_t capacity = 1024;       ///< slots per ring, a power of two
  std::uint32_t block_size = 256;    ///< threads per block
  std::uint32_t grid_size = 1;       ///< blocks; > 1 is a cooperative launch (occupancy-checked)
  std::uint32_t max_batch = 0;       ///< messages per batch; 0: block_size * grid_size (parallel) or 256
  bool output_to_device = false;     ///< the output ring lives in device memory, for a K2K downstream kernel
  StreamConfig stream = StreamConfig::performance();
  /// Longest wait for the kernel to stop after a terminate request.
  std::chrono::milliseconds stop_timeout{2000};
};

/// A typed reference to a ring in device memory that one kernel produces into and another consumes
/// (K2K on the device). Obtained from PersistentKernel::device_output(). Keeps the ring alive.
template <class T>
struct DeviceRingRef {
  detail::RingView view;        ///< device addresses of the ring
  std::shared_ptr<void> owner;  ///< keeps the ring's device memory alive
  std::size_t capacity = 0;     ///< slots
};

namespace detail {
/// Shared by all threads of a grid between barriers (device memory).
struct BatchCommand {
  std::uint64_t first;   // input index of the batch's first message
  std::uint64_t out_first;
  std::uint32_t count;
  std::uint32_t exit;    // 1: leave the loop
};

template <class H>
struct KernelParams {
  H* handler;                 // device copy of the functor (state persists here)
  ControlBlock* control;      // mapped host memory
  TelemetryBuffer* telemetry; // mapped host memory
  RingView input;
  RingView output;            // slots unused (view.slots == nullptr) when output_type is void
  BatchCommand* command;      // device memory
  std::uint32_t max_batch;
};

#if defined(__CUDACC__)
template <class H>
__device__ inline void handle_one(H& h, const KernelParams<H>& p, std::uint64_t in_index, std::uint64_t out_index) {
  using In = typename H::input_type;
  using Out = typename H::output_type;
  const Slot<In>* in = reinterpret_cast<const Slot<In>*>(p.input.slots + (in_index & p.input.mask) * p.input.slot_bytes);
  const In msg = in->value;
  if constexpr (std::is_void<Out>::value) {
    h(msg);
    (void)out_index;
  } else {
    Slot<Out>* out = reinterpret_cast<Slot<Out>*>(p.output.slots + (out_index & p.output.mask) * p.output.slot_bytes);
    out->value = h(msg);
    out->tag = in->tag;
  }
}

// The leader's private copies of everything it is the only writer of. Kept in registers so that
// publishing a batch is a handful of posted stores over the bus and never a read of host memory
// (each read of mapped host memory is a full PCIe round trip).
struct LeaderState {
  std::uint64_t head = 0;            // input index of the next message
  std::uint64_t out_tail = 0;        // output index of the next result
  std::uint64_t out_head_cache = 0;  // last output head read (space check)
  std::uint64_t in_tail_cache = 0;   // last input tail read
  std::uint64_t processed = 0;
  std::uint64_t total_latency = 0;
  std::uint64_t max_latency = 0;
  std::uint64_t min_latency = ~std::uint64_t{0};
  std::uint32_t control = 1;         // is_active (low word) / should_terminate (high word), last read
};

// is_active (@0) and should_terminate (@4) are adjacent int32 fields of the 128-aligned
// ControlBlock: one 8-byte load reads both in one bus round trip. The host writes each with its
// own 4-byte store, and an aligned 8-byte load returns each half as some value the host stored.
// Bit 0: active; bit 1: terminate requested.
__device__ inline std::uint32_t read_control(ControlBlock* c) {
  const std::uint64_t word = load_relaxed(reinterpret_cast<std::uint64_t*>(&c->is_active));
  const std::uint32_t active = static_cast<std::uint32_t>(word & 0xffffffffu) != 0 ? 1u : 0u;
  const std::uint32_t terminate = static_cast<std::uint32_t>(word >> 32) != 0 ? 2u : 0u;
  return active | terminate;
}

// Leader only: waits for a batch or the terminate request. The input tail is polled with acquire
// (the slots are read after it); the control word every 32 polls while idle and once after each
// batch (publish_batch), so a busy kernel pays no extra bus read per message for it. When idle the
// leader backs off with __nanosleep, so an idle kernel does not flood the bus with polls.
template <class H>
__device__ inline BatchCommand wait_for_batch(const KernelParams<H>& p, LeaderState& s) {
  constexpr bool has_output = !std::is_void<typename H::output_type>::value;
  const std::uint64_t capacity_out = p.output.mask + 1;
  for (unsigned polls = 0;; ++polls) {
    if ((s.control & 2u) != 0) return BatchCommand{s.head, s.out_tail, 0, 1};
    if ((s.control & 1u) != 0) {
      if (s.in_tail_cache == s.head) s.in_tail_cache = load_acquire(p.input.tail);
      std::uint64_t n = s.in_tail_cache - s.head;
      if (has_output && n != 0) {
        std::uint64_t space = capacity_out - (s.out_tail - s.out_head_cache);
        if (space < n) {
          s.out_head_cache = load_acquire(p.output.head);
          space = capacity_out - (s.out_tail - s.out_head_cache);
        }
        if (space < n) n = space;
      }
      if (n > p.max_batch) n = p.max_batch;
      if (n != 0) return BatchCommand{s.head, s.out_tail, static_cast<std::uint32_t>(n), 0};
    }
    if ((polls & 31u) == 31u || (s.control & 1u) == 0) s.control = read_control(p.control);
    // Spin ~1000 polls, then sleep 0.1 µs doubling to 20 µs.
    if (polls >= 1000) {
      const unsigned step = polls - 1000 < 8 ? polls - 1000 : 8;
      __nanosleep(step < 8 ? (100u << step) : 20000u);
    }
  }
}

// Leader only: publishes a finished batch. Order: the counters (relaxed) first, then the output
// tail with release, so whoever sees a result also sees it counted (the core's rule); then the
// input head with release (slots may be reused only after every thread's reads, which the
// barrier before this call completed); then the latency figures. Every field written here has
// this thread as its only writer, so a store of the register copy replaces read-modify-write.
template <class H>
__device__ inline void publish_batch(const KernelParams<H>& p, const BatchCommand& c, LeaderState& s, std::uint64_t t_start) {
  constexpr bool has_output = !std::is_void<typename H::output_type>::value;
  TelemetryBuffer* t = p.telemetry;
  const std::uint64_t t_end = globaltimer_ns();
  const std::uint64_t latency = t_end - t_start;  // device time from batch seen to published
  const std::int64_t now_us = static_cast<std::int64_t>(t_end / 1000);
  s.processed += c.count;
  store_relaxed(&t->messages_processed, s.processed);
  store_relaxed(&p.control->messages_processed, static_cast<std::int64_t>(s.processed));
  s.head = c.first + c.count;
  s.out_tail = c.out_first + c.count;
  if constexpr (has_output) store_release(p.output.tail, s.out_tail);
  store_release(p.input.head, s.head);
  s.total_latency += latency * c.count;
  if (latency > s.max_latency) s.max_latency = latency;
  if (latency < s.min_latency) s.min_latency = latency;
  store_relaxed(&t->total_latency_nanos, s.total_latency);
  store_relaxed(&t->max_latency_nanos, s.max_latency);
  store_relaxed(&t->min_latency_nanos, s.min_latency);
  store_relaxed(&t->last_processed_timestamp, now_us);
  const std::uint64_t depth = s.in_tail_cache - s.head;
  store_relaxed(&t->queue_depth, static_cast<std::int32_t>(depth > 0x7fffffffu ? 0x7fffffffu : depth));
  store_relaxed(&p.control->last_activity_ticks, now_us);
  s.control = read_control(p.control);  // after the stores: off the host's critical path
}

/// The persistent loop. One leader thread (global thread 0) owns every index and counter; the
/// others wait at a barrier (__syncthreads for one block; grid.sync() for a cooperative grid),
/// handle their share of the batch, and meet again before the leader publishes. `Grid` selects
/// the barrier at compile time.
template <class H, bool Grid>
__global__ void persistent_kernel(KernelParams<H> p) {
  namespace cg = cooperative_groups;
  constexpr bool parallel = is_parallel_handler<H>::value;
  const bool leader = blockIdx.x == 0 && threadIdx.x == 0;
  const std::uint64_t rank = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::uint64_t threads = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  LeaderState s;
  std::uint64_t t_start = 0;
  if (leader) {
    // Start from whatever the rings and counters hold (zero for a fresh kernel).
    s.head = load_acquire(p.input.head);
    s.in_tail_cache = s.head;
    if (p.output.valid()) {
      s.out_tail = load_relaxed(p.output.tail);
      s.out_head_cache = load_acquire(p.output.head);
    }
    s.processed = load_relaxed(&p.telemetry->messages_processed);
    s.control = read_control(p.control);
    store_release(&p.control->has_terminated, 0);
  }
  for (;;) {
    if (leader) {
      *p.command = wait_for_batch(p, s);
      t_start = globaltimer_ns();
    }
    if constexpr (Grid) cg::this_grid().sync(); else __syncthreads();
    const BatchCommand c = *p.command;  // written before the barrier, read by all after it
    if (c.exit != 0) break;
    // The leader's acquire of the input tail and the barrier already order the slot reads after
    // the host's writes; this fence makes that explicit for every thread, at system scope, since
    // slots may sit in host memory.
    ::cuda::atomic_thread_fence(::cuda::memory_order_acquire, ::cuda::thread_scope_system);
    if constexpr (parallel) {
      for (std::uint64_t i = rank; i < c.count; i += threads) {
        H local = *p.handler;
        handle_one(local, p, c.first + i, c.out_first + i);
      }
    } else if (leader) {
      for (std::uint32_t i = 0; i < c.count; ++i) handle_one(*p.handler, p, c.first + i, c.out_first + i);
    }
    // Each thread's output-slot writes are ordered before the barrier, and so before the
    // leader's release of the output tail.
    ::cuda::atomic_thread_fence(::cuda::memory_order_release, ::cuda::thread_scope_system);
    if constexpr (Grid) cg::this_grid().sync(); else __syncthreads();
    if (leader) publish_batch(p, c, s, t_start);
    // The next iteration's barrier orders this batch's reads of *p.command before the leader's
    // next write to it.
  }
  if (leader) {
    // Everything this kernel wrote is visible before the host sees "terminated".
    ::cuda::atomic_thread_fence(::cuda::memory_order_seq_cst, ::cuda::thread_scope_system);
    store_release(&p.control->has_terminated, 1);
  }
}
#endif

/// Writes a default ControlBlock / TelemetryBuffer into pinned memory (either may be null). Both
/// types are trivially copyable; copying their bytes avoids placement new of over-aligned types.
inline void init_shared_blocks(unsigned char* control, unsigned char* telemetry) noexcept {
  if (control != nullptr) {
    const ControlBlock c{};
    std::memcpy(static_cast<void*>(control), &c, sizeof c);
  }
  if (telemetry != nullptr) {
    const TelemetryBuffer t{};
    std::memcpy(static_cast<void*>(telemetry), &t, sizeof t);
  }
}
/// Host-side helpers the templates share (defined in the implementation).
RINGKERNEL_API void note_resident(int ordinal, int delta) noexcept;
/// cudaFreeHost / cudaFree now, or, while any persistent kernel is resident, once the last one
/// stopped (those calls may wait for the whole device, which a resident kernel never lets finish).
RINGKERNEL_API void free_pinned(void* host) noexcept;
RINGKERNEL_API void free_device(int ordinal, void* block) noexcept;
/// Grid size check before a cooperative launch: throws Error(InvalidArgument) naming the grid and
/// the co-resident limit when `grid` blocks of `block` threads cannot all be resident.
RINGKERNEL_API void check_cooperative_fit(const CudaDevice& device, const void* kernel, std::uint32_t grid,
                                          std::uint32_t block);
/// Host spin/sleep step while waiting on the device (StreamConfig's spin_before_sleep, sleep_interval).
RINGKERNEL_API void wait_step(const StreamConfig& config, std::int64_t waited_ns) noexcept;
RINGKERNEL_API std::int64_t now_ns() noexcept;
/// cudaStreamQuery: cudaErrorNotReady is "still running", cudaSuccess "finished", others raise.
RINGKERNEL_API bool stream_running(cudaStream_t stream, const char* what);
}  // namespace detail

/// One persistent kernel on a device, driven directly (the runtime's CUDA bridge uses it; so do
/// the benchmark and programs that want batches). Launched by the constructor, stopped by stop()
/// or the destructor. Thread safety: one producer thread (push*), one consumer thread (pop*);
/// status(), telemetry(), set_active() and stop() from any thread.
template <class H>
class PersistentKernel {
 public:
  using In = typename H::input_type;
  using Out = typename H::output_type;
  static constexpr bool has_output = !std::is_void<Out>::value;
  static_assert(std::is_trivially_copyable<H>::value,
                "a CUDA handler's state is copied to device memory: the functor must be trivially copyable");
  static_assert(std::is_trivially_copyable<In>::value && (std::is_void<Out>::value || std::is_trivially_copyable<Out>::value),
                "messages must be trivially copyable");
  using OutSlot = Slot<std::conditional_t<has_output, Out, char>>;

  /// Launches `handler` on `device` fed by the host. Throws Error(InvalidArgument) for a bad
  /// config (capacity not a power of two, a block size above the device's limit, a cooperative
  /// grid that cannot be co-resident), Error(BackendUnavailable) when the device does not
  /// support persistent kernels (or cooperative launch for grid_size > 1), CudaCallError from CUDA.
  PersistentKernel(const CudaDevice& device, H handler, const PersistentConfig& config)
      : PersistentKernel(device, handler, config, nullptr) {}
  /// Launches `handler` fed by `input`, the device-memory output ring of an upstream kernel (K2K on
  /// the device: messages never cross to the host). The host cannot push to this kernel.
  PersistentKernel(const CudaDevice& device, H handler, const PersistentConfig& config, const DeviceRingRef<In>& input)
      : PersistentKernel(device, handler, config, &input) {}
  ~PersistentKernel() { stop(); }
  PersistentKernel(const PersistentKernel&) = delete;
  PersistentKernel& operator=(const PersistentKernel&) = delete;

  /// Pushes one message with `tag`; false when the input ring is full. Producer thread only.
  /// KernelError(InvalidState) when the input is fed by another kernel.
  bool try_push(const In& message, std::uint64_t tag) { return push_batch(&message, 1, tag) == 1; }
  /// Pushes up to `count` messages, tags first_tag, first_tag + 1, ...; returns how many fit.
  std::size_t push_batch(const In* messages, std::size_t count, std::uint64_t first_tag) {
    if (upstream_) ringkernel::detail::raise(ErrorCode::InvalidState, "PersistentKernel: this kernel's input is fed by another kernel");
    const std::uint64_t tail = in_tail_;
    std::size_t space = capacity_ - static_cast<std::size_t>(tail - in_head_cache_);
    if (space < count) {
      in_head_cache_ = ringkernel::detail::atomic_load(in_host_.head);
      space = capacity_ - static_cast<std::size_t>(tail - in_head_cache_);
    }
    const std::size_t n = std::min(space, count);
    for (std::size_t i = 0; i < n; ++i) {
      Slot<In>* s = reinterpret_cast<Slot<In>*>(in_host_.slots + ((tail + i) & in_host_.mask) * sizeof(Slot<In>));
      s->tag = first_tag + i;
      std::memcpy(static_cast<void*>(&s->value), &messages[i], sizeof(In));
    }
    if (n != 0) {
      in_tail_ = tail + n;
      ringkernel::detail::atomic_store(in_host_.tail, in_tail_);  // release: slots before index
    }
    return n;
  }
  /// Pops up to `max_count` outputs with their tags; returns how many. Consumer thread only.
  /// KernelError(InvalidState) when the output goes to another kernel or the handler returns void.
  std::size_t pop_batch(OutSlot* out, std::size_t max_count) {
    if (!has_output || config_.output_to_device)
      ringkernel::detail::raise(ErrorCode::InvalidState, "PersistentKernel: this kernel has no host output ring");
    const std::uint64_t tail = ringkernel::detail::atomic_load(out_host_.tail);  // acquire
    const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(tail - out_head_), max_count);
    for (std::size_t i = 0; i < n; ++i)
      std::memcpy(static_cast<void*>(&out[i]), out_host_.slots + ((out_head_ + i) & out_host_.mask) * sizeof(OutSlot),
                  sizeof(OutSlot));
    if (n != 0) {
      out_head_ += n;
      ringkernel::detail::atomic_store(out_host_.head, out_head_);  // release: reads before index
    }
    return n;
  }
  /// Messages the device has consumed from the input ring (its head index).
  /// For a kernel fed by another kernel: messages processed (its input head is in device memory).
  std::uint64_t consumed() const noexcept {
    if (upstream_) return telemetry_ptr()->snapshot().messages_processed;
    return ringkernel::detail::atomic_load(in_host_.head);
  }
  /// Messages pushed so far (producer's own count).
  std::uint64_t pushed() const noexcept { return in_tail_; }

  /// Gate processing on the device (the ControlBlock's is_active; host is its only writer).
  void set_active(bool on) noexcept { control()->set_active(on); }
  /// The device-written counters, read while the kernel runs.
  TelemetrySnapshot telemetry() const noexcept { return telemetry_ptr()->snapshot(); }
  /// Messages processed, errors, termination state, from the device-written ControlBlock.
  const ControlBlock& control_block() const noexcept { return *control(); }
  /// The device-written TelemetryBuffer itself (pinned host memory; read through its accessors).
  const TelemetryBuffer& telemetry_buffer() const noexcept { return *telemetry_ptr(); }
  /// True until the kernel has stopped (or failed).
  bool running() const noexcept { return running_; }

  /// Throws CudaCallError if the kernel has failed (an illegal address, a trap); false if it
  /// has exited; true while running. Any thread.
  bool check_running(const char* what = "persistent kernel") const {
    if (!running_) return false;
    return detail::stream_running(stream_->get(), what);
  }

  /// Asks the kernel to stop and waits up to config().stop_timeout. True once it stopped; false
  /// (logged, and its memory deliberately leaked since the device may still write it) when it did
  /// not. Idempotent; never throws.
  bool stop() noexcept {
    if (!running_) return stopped_cleanly_;
    running_ = false;
    control()->request_terminate();
    const std::int64_t start = detail::now_ns();
    const std::int64_t limit = std::chrono::duration_cast<std::chrono::nanoseconds>(config_.stop_timeout).count();
    std::string failure;
    for (;;) {
      const cudaError_t q = cudaStreamQuery(stream_->get());
      if (q == cudaSuccess) break;
      if (q != cudaErrorNotReady) {
        failure = describe(q, "cudaStreamQuery (stopping a persistent kernel)");
        (void)cudaGetLastError();
        break;
      }
      const std::int64_t waited = detail::now_ns() - start;
      if (waited > limit) {
        failure = "the persistent kernel did not stop within " + std::to_string(config_.stop_timeout.count()) +
                  " ms of the terminate request; its memory is leaked because the device may still use it";
        ringkernel::detail::log(LogLevel::Error, "ringkernel CUDA: " + failure);
        // Never freed: the device may still read and write all of it. It stays counted as
        // resident, so CudaDevice::synchronize() keeps refusing instead of hanging.
        pinned_.leak();
        if (device_mem_) (void)new std::shared_ptr<void>(device_mem_);
        if (upstream_) (void)new std::shared_ptr<void>(upstream_);
        leaked_ = true;
        stop_error_ = failure;
        return false;
      }
      detail::wait_step(config_.stream, waited);
    }
    detail::note_resident(device_.ordinal(), -1);
    if (!failure.empty()) {
      ringkernel::detail::log(LogLevel::Error, "ringkernel CUDA: " + failure);
      stop_error_ = failure;
      return false;
    }
    stopped_cleanly_ = true;
    return true;
  }
  /// Why stop() failed (empty when it did not).
  const std::string& stop_error() const noexcept { return stop_error_; }

  /// The output ring as a K2K input for a downstream kernel (config().output_to_device must be set).
  /// Throws KernelError(InvalidState) otherwise.
  DeviceRingRef<Out> device_output() const {
    if (!config_.output_to_device || !has_output)
      ringkernel::detail::raise(ErrorCode::InvalidState, "PersistentKernel::device_output: launch with output_to_device = true");
    DeviceRingRef<Out> r;
    r.view = out_dev_;
    r.owner = device_mem_;
    r.capacity = capacity_;
    return r;
  }
  /// The configuration.
  const PersistentConfig& config() const noexcept { return config_; }
  /// Input ring capacity.
  std::size_t capacity() const noexcept { return capacity_; }
  /// The stream the kernel runs on.
  cudaStream_t stream() const noexcept { return stream_->get(); }

 private:
  // Pinned block layout: ControlBlock (128) | TelemetryBuffer (64, padded to 128) | input ring |
  // output ring (when on the host).
  static constexpr std::size_t control_off = 0;
  static constexpr std::size_t telemetry_off = 128;
  static constexpr std::size_t in_ring_off = 256;

  PersistentKernel(const CudaDevice& device, H handler, const PersistentConfig& config, const DeviceRingRef<In>* input)
      : device_(device), config_(config), capacity_(config.capacity) {
    validate(input);
    device_.make_current();
    stream_.reset(new Stream(device_, config_.stream));
    const std::size_t in_bytes = input ? 0 : detail::ring_bytes(capacity_, sizeof(Slot<In>));
    const bool out_host = has_output && !config_.output_to_device;
    const std::size_t out_bytes = out_host ? detail::ring_bytes(capacity_, sizeof(OutSlot)) : 0;
    pinned_ = PinnedBuffer(in_ring_off + in_bytes + out_bytes);
    detail::init_shared_blocks(pinned_.host() + control_off, pinned_.host() + telemetry_off);
    // Device memory from the pool: handler state, the batch command, and a device output ring.
    StratifiedPool& pool = device_pool(device_.ordinal());
    const std::size_t dev_out_bytes = (has_output && config_.output_to_device) ? detail::ring_bytes(capacity_, sizeof(OutSlot)) : 0;
    const std::size_t handler_bytes = (sizeof(H) + 255) / 256 * 256;
    const std::size_t command_off = handler_bytes;
    const std::size_t ring_off = command_off + 256;
    const std::size_t dev_bytes = ring_off + dev_out_bytes;
    unsigned char* dev = static_cast<unsigned char*>(pool.allocate(dev_bytes));
    const int ordinal = device_.ordinal();
    device_mem_ = std::shared_ptr<void>(dev, [ordinal](void* ptr) { device_pool(ordinal).deallocate(ptr); });
    check(cudaMemsetAsync(dev, 0, dev_bytes, stream_->get()), "cudaMemsetAsync (kernel state)");
    check(cudaMemcpyAsync(dev, &handler, sizeof(H), cudaMemcpyHostToDevice, stream_->get()), "cudaMemcpyAsync (handler state)");
    // Wait for the zeroing before anything can see this memory: a downstream K2K kernel on
    // another stream polls the device output ring as soon as it starts, and pool blocks hold
    // old bytes until the memset has run.
    if (!stream_->wait(std::chrono::seconds(10), "PersistentKernel setup"))
      ringkernel::detail::raise(ErrorCode::Timeout, "PersistentKernel: initializing device memory took over 10 s");

    detail::KernelParams<H> p{};
    p.handler = reinterpret_cast<H*>(dev);
    p.command = reinterpret_cast<detail::BatchCommand*>(dev + command_off);
    p.control = reinterpret_cast<ControlBlock*>(pinned_.device() + control_off);
    p.telemetry = reinterpret_cast<TelemetryBuffer*>(pinned_.device() + telemetry_off);
    if (input) {
      upstream_ = input->owner;
      p.input = input->view;
    } else {
      in_host_ = detail::ring_at(pinned_.host() + in_ring_off, capacity_, sizeof(Slot<In>));
      p.input = detail::ring_at(pinned_.device() + in_ring_off, capacity_, sizeof(Slot<In>));
    }
    if (out_host) {
      out_host_ = detail::ring_at(pinned_.host() + in_ring_off + in_bytes, capacity_, sizeof(OutSlot));
      p.output = detail::ring_at(pinned_.device() + in_ring_off + in_bytes, capacity_, sizeof(OutSlot));
    } else if (dev_out_bytes != 0) {
      out_dev_ = detail::ring_at(dev + ring_off, capacity_, sizeof(OutSlot));
      p.output = out_dev_;
    }
    p.max_batch = config_.max_batch != 0 ? config_.max_batch
                                          : (is_parallel_handler<H>::value ? config_.block_size * config_.grid_size : 256u);
    if (p.max_batch > capacity_) p.max_batch = static_cast<std::uint32_t>(capacity_);
    describe_queues(p);
    control()->set_active(true);
    // The stream orders the memset/memcpy before the kernel; host writes to pinned memory above
    // happened before the launch call, which the launch makes visible to the device.
    if (config_.grid_size > 1) {
      const void* fn = reinterpret_cast<const void*>(&detail::persistent_kernel<H, true>);
      detail::check_cooperative_fit(device_, fn, config_.grid_size, config_.block_size);
      void* args[] = {&p};
      check(cudaLaunchCooperativeKernel(fn, dim3(config_.grid_size), dim3(config_.block_size), args, 0, stream_->get()),
            "cudaLaunchCooperativeKernel (persistent kernel)");
    } else {
      detail::persistent_kernel<H, false><<<1, config_.block_size, 0, stream_->get()>>>(p);
      check(cudaGetLastError(), "persistent kernel launch");
    }
    running_ = true;
    detail::note_resident(device_.ordinal(), +1);
  }

  void validate(const DeviceRingRef<In>* input) const {
    if (!ringkernel::detail::is_pow2(capacity_) || capacity_ > (std::size_t{1} << 30))
      ringkernel::detail::raise(ErrorCode::InvalidArgument, "PersistentKernel: capacity must be a power of two <= 2^30, got " +
                                                    std::to_string(capacity_));
    if (input && input->capacity == 0)
      ringkernel::detail::raise(ErrorCode::InvalidArgument, "PersistentKernel: the K2K input ring reference is empty");
    if (config_.block_size == 0 || config_.grid_size == 0 ||
        static_cast<int>(config_.block_size) > device_.info().max_threads_per_block)
      ringkernel::detail::raise(ErrorCode::InvalidArgument,
                    "PersistentKernel: block size " + std::to_string(config_.block_size) + " x grid " +
                        std::to_string(config_.grid_size) + " is not launchable (the device allows 1.." +
                        std::to_string(device_.info().max_threads_per_block) + " threads per block)");
    if (!device_.info().supports_persistent)
      ringkernel::detail::raise(ErrorCode::BackendUnavailable,
                    "PersistentKernel: device " + std::to_string(device_.ordinal()) + " (" + device_.info().name +
                        ") does not support persistent kernels (needs mapped host memory, compute capability >= 7.0, "
                        "no display watchdog); use KernelMode::EventDriven");
    if (config_.grid_size > 1 && !device_.info().supports_cooperative)
      ringkernel::detail::raise(ErrorCode::BackendUnavailable, "PersistentKernel: grid_size > 1 needs cooperative launch, which device " +
                                                       std::to_string(device_.ordinal()) + " does not support");
  }
  void describe_queues(const detail::KernelParams<H>& p) {
    // For inspection only (the kernel takes its geometry from its parameters): written once,
    // before the launch, by the host.
    ControlBlock* c = control();
    c->input_queue = QueueDescriptor{reinterpret_cast<std::uint64_t>(p.input.head), reinterpret_cast<std::uint64_t>(p.input.tail),
                                     reinterpret_cast<std::uint64_t>(p.input.slots), static_cast<std::int32_t>(capacity_),
                                     static_cast<std::int32_t>(sizeof(Slot<In>))};
    c->output_queue = QueueDescriptor{reinterpret_cast<std::uint64_t>(p.output.head), reinterpret_cast<std::uint64_t>(p.output.tail),
                                      reinterpret_cast<std::uint64_t>(p.output.slots),
                                      static_cast<std::int32_t>(p.output.valid() ? capacity_ : 0),
                                      static_cast<std::int32_t>(sizeof(OutSlot))};
  }
  ControlBlock* control() const noexcept { return reinterpret_cast<ControlBlock*>(pinned_.host() + control_off); }
  TelemetryBuffer* telemetry_ptr() const noexcept { return reinterpret_cast<TelemetryBuffer*>(pinned_.host() + telemetry_off); }

  CudaDevice device_;
  PersistentConfig config_;
  std::size_t capacity_;
  std::unique_ptr<Stream> stream_;
  PinnedBuffer pinned_;
  std::shared_ptr<void> device_mem_;
  std::shared_ptr<void> upstream_;
  detail::RingView in_host_, out_host_, out_dev_;
  std::uint64_t in_tail_ = 0, in_head_cache_ = 0, out_head_ = 0;
  bool running_ = false;
  bool stopped_cleanly_ = false;
  bool leaked_ = false;
  std::string stop_error_;
};

// ============================================================================================
// C6. Event-driven kernel                                                        >>cuda_event
// ============================================================================================

namespace detail {
#if defined(__CUDACC__)
/// One launch handles one batch: thread i handles message i (parallel handlers) or thread 0
/// handles them all in order (stateful handlers); thread 0 then updates telemetry. The handler's
/// state lives in device memory between launches.
template <class H>
__global__ void batch_kernel(H* handler, const Slot<typename H::input_type>* in,
                             Slot<std::conditional_t<std::is_void<typename H::output_type>::value, char, typename H::output_type>>* out,
                             std::uint32_t count, TelemetryBuffer* telemetry) {
  using Out = typename H::output_type;
  const std::uint64_t t0 = globaltimer_ns();
  const std::uint32_t rank = blockIdx.x * blockDim.x + threadIdx.x;
  auto one = [&](H& h, std::uint32_t i) {
    if constexpr (std::is_void<Out>::value) {
      h(in[i].value);
    } else {
      out[i].value = h(in[i].value);
      out[i].tag = in[i].tag;
    }
  };
  if constexpr (is_parallel_handler<H>::value) {
    for (std::uint32_t i = rank; i < count; i += gridDim.x * blockDim.x) {
      H local = *handler;
      one(local, i);
    }
  } else if (rank == 0) {
    for (std::uint32_t i = 0; i < count; ++i) one(*handler, i);
  }
  if (rank == 0) {
    // Telemetry has this thread as its only writer (launches on one stream do not overlap).
    const std::uint64_t lat = globaltimer_ns() - t0;
    store_relaxed(&telemetry->total_latency_nanos, load_relaxed(&telemetry->total_latency_nanos) + lat * count);
    if (lat > load_relaxed(&telemetry->max_latency_nanos)) store_relaxed(&telemetry->max_latency_nanos, lat);
    if (lat < load_relaxed(&telemetry->min_latency_nanos)) store_relaxed(&telemetry->min_latency_nanos, lat);
    store_relaxed(&telemetry->last_processed_timestamp, static_cast<std::int64_t>(globaltimer_ns() / 1000));
    store_release(&telemetry->messages_processed, load_relaxed(&telemetry->messages_processed) + count);
  }
}
#endif
}  // namespace detail

/// The same handler launched once per batch (KernelMode::EventDriven): for comparison, and for
/// devices without persistent support. process() copies a batch in, launches, copies results out
/// and waits (bounded). Thread safety: one thread at a time calls process().
template <class H>
class EventDrivenKernel {
 public:
  using In = typename H::input_type;
  using Out = typename H::output_type;
  static constexpr bool has_output = !std::is_void<Out>::value;
  using OutSlot = Slot<std::conditional_t<has_output, Out, char>>;
  static_assert(std::is_trivially_copyable<H>::value, "a CUDA handler must be trivially copyable");

  /// Prepares buffers for batches of up to `max_batch` messages. Throws Error(InvalidArgument)
  /// for max_batch 0 or a block size above the device's limit, CudaCallError from CUDA.
  EventDrivenKernel(const CudaDevice& device, H handler, std::size_t max_batch, std::uint32_t block_size,
                    const StreamConfig& stream = StreamConfig::performance())
      : device_(device), max_batch_(max_batch), block_(block_size) {
    if (max_batch == 0 || max_batch > (std::size_t{1} << 24) || block_size == 0 ||
        static_cast<int>(block_size) > device.info().max_threads_per_block)
      ringkernel::detail::raise(ErrorCode::InvalidArgument, "EventDrivenKernel: max_batch must be 1..2^24 and block_size 1.." +
                                                    std::to_string(device.info().max_threads_per_block));
    device_.make_current();
    stream_.reset(new Stream(device_, stream));
    pinned_ = PinnedBuffer(128 + max_batch * (sizeof(Slot<In>) + sizeof(OutSlot)));
    detail::init_shared_blocks(nullptr, pinned_.host());
    const std::size_t handler_bytes = (sizeof(H) + 255) / 256 * 256;
    const std::size_t in_bytes = (max_batch * sizeof(Slot<In>) + 255) / 256 * 256;
    const std::size_t bytes = handler_bytes + in_bytes + max_batch * sizeof(OutSlot);
    unsigned char* dev = static_cast<unsigned char*>(device_pool(device_.ordinal()).allocate(bytes));
    const int ordinal = device_.ordinal();
    mem_ = std::shared_ptr<void>(dev, [ordinal](void* ptr) { device_pool(ordinal).deallocate(ptr); });
    handler_ = reinterpret_cast<H*>(dev);
    in_dev_ = reinterpret_cast<Slot<In>*>(dev + handler_bytes);
    out_dev_ = reinterpret_cast<OutSlot*>(dev + handler_bytes + in_bytes);
    check(cudaMemcpyAsync(handler_, &handler, sizeof(H), cudaMemcpyHostToDevice, stream_->get()), "cudaMemcpyAsync (handler state)");
    if (!stream_->wait(std::chrono::seconds(10), "EventDrivenKernel setup"))
      ringkernel::detail::raise(ErrorCode::Timeout, "EventDrivenKernel: copying the handler to the device took over 10 s");
  }
  ~EventDrivenKernel() {
    // Buffers may be in use by a launch that timed out; wait (bounded) before returning them.
    if (stream_ && !stream_->wait(std::chrono::seconds(2), "EventDrivenKernel teardown")) {
      ringkernel::detail::log(LogLevel::Error, "ringkernel CUDA: an event-driven launch is still running at teardown; "
                                               "its buffers are leaked");
      new std::shared_ptr<void>(mem_);  // never freed: the device may still write them
      pinned_.leak();
    }
  }
  EventDrivenKernel(const EventDrivenKernel&) = delete;
  EventDrivenKernel& operator=(const EventDrivenKernel&) = delete;

  /// Handles `count` (<= max_batch) messages with tags first_tag.. and writes `count` outputs to
  /// `out` (ignored for void handlers). Throws Error(InvalidArgument) for count > max_batch,
  /// Error(Timeout) when the launch does not finish within `timeout`, CudaCallError from CUDA.
  void process(const In* messages, std::size_t count, std::uint64_t first_tag, OutSlot* out,
               std::chrono::nanoseconds timeout = std::chrono::seconds(10)) {
    if (count > max_batch_)
      ringkernel::detail::raise(ErrorCode::InvalidArgument, "EventDrivenKernel::process: batch of " + std::to_string(count) +
                                                    " exceeds max_batch " + std::to_string(max_batch_));
    if (count == 0) return;
    Slot<In>* in_host = reinterpret_cast<Slot<In>*>(pinned_.host() + 128);
    OutSlot* out_host = reinterpret_cast<OutSlot*>(pinned_.host() + 128 + max_batch_ * sizeof(Slot<In>));
    for (std::size_t i = 0; i < count; ++i) {
      in_host[i].tag = first_tag + i;
      std::memcpy(static_cast<void*>(&in_host[i].value), &messages[i], sizeof(In));
    }
    cudaStream_t s = stream_->get();
    check(cudaMemcpyAsync(in_dev_, in_host, count * sizeof(Slot<In>), cudaMemcpyHostToDevice, s), "cudaMemcpyAsync (batch in)");
    const std::uint32_t blocks = is_parallel_handler<H>::value
                                     ? static_cast<std::uint32_t>(std::min<std::size_t>((count + block_ - 1) / block_, 65535))
                                     : 1u;
    detail::batch_kernel<H><<<blocks, is_parallel_handler<H>::value ? block_ : 1u, 0, s>>>(
        handler_, in_dev_, out_dev_, static_cast<std::uint32_t>(count),
        reinterpret_cast<TelemetryBuffer*>(pinned_.device()));
    check(cudaGetLastError(), "batch kernel launch");
    if (has_output)
      check(cudaMemcpyAsync(out_host, out_dev_, count * sizeof(OutSlot), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync (batch out)");
    if (!stream_->wait(timeout, "event-driven batch"))
      ringkernel::detail::raise(ErrorCode::Timeout, "EventDrivenKernel::process: the batch did not finish within " +
                                            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) + " ms");
    if (has_output && out != nullptr) std::memcpy(static_cast<void*>(out), out_host, count * sizeof(OutSlot));
  }
  /// Device-written counters.
  TelemetrySnapshot telemetry() const noexcept { return telemetry_buffer().snapshot(); }
  /// The device-written TelemetryBuffer itself (pinned host memory).
  const TelemetryBuffer& telemetry_buffer() const noexcept { return *reinterpret_cast<const TelemetryBuffer*>(pinned_.host()); }
  /// Largest batch process() accepts.
  std::size_t max_batch() const noexcept { return max_batch_; }
  /// The stream the launches run on.
  cudaStream_t stream() const noexcept { return stream_->get(); }

 private:
  CudaDevice device_;
  std::size_t max_batch_;
  std::uint32_t block_;
  std::unique_ptr<Stream> stream_;
  PinnedBuffer pinned_;
  std::shared_ptr<void> mem_;
  H* handler_ = nullptr;
  Slot<In>* in_dev_ = nullptr;
  OutSlot* out_dev_ = nullptr;
};

// ============================================================================================
// C7. Runtime bridge                                                            >>cuda_runtime
// ============================================================================================

/// Settings of a CUDA kernel launched through the runtime beyond LaunchOptions. Value type.
struct CudaLaunchConfig {
  StreamConfig stream = StreamConfig::performance();
  /// Longest wait for the device's answer to one message; past it the kernel faults (reported,
  /// never a host hang).
  std::chrono::milliseconds response_timeout{3000};
  /// Longest wait for the device to stop on terminate. response_timeout + stop_timeout stays
  /// below the runtime's termination_timeout (default 5 s), so a stuck device is reported by the
  /// bridge itself, with its cause, before terminate() gives up on the worker.
  std::chrono::milliseconds stop_timeout{1500};
};

namespace detail {
/// What a CUDA body shares with its CudaKernel handle: the device telemetry, once launched.
struct CudaKernelShared {
  std::mutex mu;
  const TelemetryBuffer* telemetry = nullptr;  // inside the kernel's pinned memory, while it lives
  TelemetrySnapshot last{};                    // kept when the kernel's memory is released
  std::string launch_error;
  bool on_device = false;
};

/// The KernelBody of a CUDA kernel: runs on the kernel's worker thread as a host bridge. It takes
/// each accepted message from the inbox (core_next: lifecycle, priorities and backpressure are
/// the core's), pushes it into the device ring, waits (bounded) for the device's answer, and
/// publishes it with core_done, so status(), receive/call and metrics behave as on the CPU
/// backend. One message is in flight at a time: deactivate()'s guarantee (nothing processed
/// after it returns) holds because core_done comes only after the device answered.
template <class H>
class CudaHandlerBody final : public ringkernel::detail::KernelBody {
  using In = typename H::input_type;
  using Out = typename H::output_type;
  static constexpr bool has_output = !std::is_void<Out>::value;
  static_assert(std::is_invocable<H&, const In&>::value,
                "a CUDA handler takes operator()(const input_type&) (HandlerContext exists only on the host)");

 public:
  CudaHandlerBody(H handler, int ordinal, const LaunchOptions& options, const CudaLaunchConfig& config,
                  std::shared_ptr<CudaKernelShared> shared)
      : handler_(handler), ordinal_(ordinal), options_(options), config_(config), shared_(std::move(shared)) {}
  Backend backend() const noexcept override { return Backend::Cuda; }
  std::uint64_t input_type_id() const noexcept override { return message_type_id<In>(); }
  std::size_t input_size() const noexcept override { return sizeof(In); }
  const char* handler_name() const noexcept override { return typeid(H).name(); }

  void run(ringkernel::detail::KernelCore& core) override {
    ringkernel::detail::Packet in;
    RINGKERNEL_DETAIL_TRY {
      const CudaDevice device(ordinal_);
      if (options_.mode() == KernelMode::EventDriven) run_event_driven(core, device, in);
      else run_persistent(core, device, in);
    }
    RINGKERNEL_DETAIL_CATCH_STD(e) { fail(core, in, RINGKERNEL_DETAIL_WHAT(e)); }
    RINGKERNEL_DETAIL_CATCH_ALL { fail(core, in, "a non-std exception in the CUDA bridge"); }
  }

 private:
  void fail(ringkernel::detail::KernelCore& core, const ringkernel::detail::Packet& in, const std::string& what) {
    {
      std::lock_guard<std::mutex> lk(shared_->mu);
      if (shared_->launch_error.empty()) shared_->launch_error = what;
    }
    ringkernel::detail::core_fault(core, in, ("CUDA: " + what).c_str());
  }
  void publish_telemetry(const TelemetryBuffer* t) {
    std::lock_guard<std::mutex> lk(shared_->mu);
    if (t == nullptr && shared_->telemetry != nullptr) shared_->last = shared_->telemetry->snapshot();
    shared_->telemetry = t;
    shared_->on_device = true;
  }
  void finish(ringkernel::detail::KernelCore& core, const ringkernel::detail::Packet& in, ringkernel::detail::Packet* out) {
    ringkernel::detail::core_done(core, in, out);
  }

  void run_persistent(ringkernel::detail::KernelCore& core, const CudaDevice& device, ringkernel::detail::Packet& in) {
    PersistentConfig pc;
    pc.capacity = 16;  // one message in flight; a few slots of slack
    pc.block_size = options_.block_size();
    pc.grid_size = options_.grid_size();
    pc.stream = config_.stream;
    pc.stop_timeout = config_.stop_timeout;
    PersistentKernel<H> kernel(device, handler_, pc);
    publish_telemetry(&kernel.telemetry_buffer());
    struct Unpublish {
      CudaHandlerBody* self;
      ~Unpublish() { self->publish_telemetry(nullptr); }
    } unpublish{this};
    const std::int64_t limit = std::chrono::duration_cast<std::chrono::nanoseconds>(config_.response_timeout).count();
    std::uint64_t tag = 0;
    while (ringkernel::detail::core_next(core, in)) {
      HlcTimestamp merged;
      ringkernel::detail::core_begin(core, in, merged);
      const In msg = in.get<In>();
      ++tag;
      if (!kernel.try_push(msg, tag)) detail_raise_internal("the device input ring is full with one message in flight");
      typename PersistentKernel<H>::OutSlot result{};
      const std::int64_t start = now_ns();
      for (unsigned polls = 0;; ++polls) {
        if (has_output ? kernel.pop_batch(&result, 1) == 1 : kernel.consumed() >= tag) break;
        const std::int64_t waited = now_ns() - start;
        if ((polls & 255) == 255 && !kernel.check_running("persistent kernel"))
          detail_raise_internal("the persistent kernel exited while a message was in flight");
        if (waited > limit)
          ringkernel::detail::raise(ErrorCode::Timeout, "the device did not answer within " +
                                                            std::to_string(config_.response_timeout.count()) + " ms");
        wait_step(config_.stream, waited);
      }
      if (has_output && result.tag != tag) detail_raise_internal("the device answered out of order");
      if constexpr (has_output) {
        ringkernel::detail::Packet out;
        out.assign_message(result.value);
        finish(core, in, &out);
      } else {
        finish(core, in, nullptr);
      }
    }
    if (!kernel.stop()) ringkernel::detail::log(LogLevel::Error, "ringkernel CUDA: kernel stop failed: " + kernel.stop_error());
  }

  void run_event_driven(ringkernel::detail::KernelCore& core, const CudaDevice& device, ringkernel::detail::Packet& in) {
    EventDrivenKernel<H> kernel(device, handler_, 1, options_.block_size(), config_.stream);
    publish_telemetry(&kernel.telemetry_buffer());
    struct Unpublish {
      CudaHandlerBody* self;
      ~Unpublish() { self->publish_telemetry(nullptr); }
    } unpublish{this};
    std::uint64_t tag = 0;
    while (ringkernel::detail::core_next(core, in)) {
      HlcTimestamp merged;
      ringkernel::detail::core_begin(core, in, merged);
      const In msg = in.get<In>();
      typename EventDrivenKernel<H>::OutSlot result{};
      kernel.process(&msg, 1, ++tag, &result, config_.response_timeout);
      if constexpr (has_output) {
        ringkernel::detail::Packet out;
        out.assign_message(result.value);
        finish(core, in, &out);
      } else {
        finish(core, in, nullptr);
      }
    }
  }
  [[noreturn]] static void detail_raise_internal(const char* what) { ringkernel::detail::raise(ErrorCode::KernelFault, what); }

  H handler_;
  int ordinal_;
  LaunchOptions options_;
  CudaLaunchConfig config_;
  std::shared_ptr<CudaKernelShared> shared_;
};
}  // namespace detail

/// A KernelHandle from cuda::launch, plus the device-side telemetry when the kernel runs on a GPU.
/// Copyable; thread-safe like KernelHandle.
class CudaKernel : public KernelHandle {
 public:
  CudaKernel(KernelHandle handle, std::shared_ptr<detail::CudaKernelShared> shared)
      : KernelHandle(std::move(handle)), shared_(std::move(shared)) {}
  /// True when the kernel runs on the CUDA backend (false: the runtime's backend is another).
  bool on_device() const noexcept { return shared_ != nullptr; }
  /// The counters the device itself wrote (processed, latency on the device, queue depth),
  /// readable while it runs; nullopt on another backend or before the device kernel started.
  std::optional<TelemetrySnapshot> device_telemetry() const {
    if (!shared_) return std::nullopt;
    std::lock_guard<std::mutex> lk(shared_->mu);
    if (shared_->telemetry != nullptr) return shared_->telemetry->snapshot();
    if (shared_->on_device) return shared_->last;
    return std::nullopt;
  }
  /// The CUDA error that faulted the kernel, if any (also in fault()).
  std::string device_error() const {
    if (!shared_) return {};
    std::lock_guard<std::mutex> lk(shared_->mu);
    return shared_->launch_error;
  }

 private:
  std::shared_ptr<detail::CudaKernelShared> shared_;
};

/// Registers Backend::Cuda with the runtime (the implementation TU does it at start-up; calling
/// it again is harmless). Thread-safe.
RINGKERNEL_API void register_backend();

/// Launches message handler `handler` as kernel `id` of `runtime`: on the GPU when the runtime's
/// backend is Cuda (the persistent kernel template, or one launch per message with
/// KernelMode::EventDriven), else on the runtime's own backend. Throws what Runtime::launch
/// throws, and Error(InvalidArgument) when the input type is larger than the launch's
/// max_message_size. Device errors after launch fault the kernel (see fault(), device_error()).
template <class H>
CudaKernel launch(Runtime& runtime, const std::string& id, H handler, const LaunchOptions& options = LaunchOptions{},
                  const CudaLaunchConfig& config = CudaLaunchConfig{}) {
  using D = std::decay_t<H>;
  static_assert(ringkernel::detail::is_message_handler<D>::value,
                "cuda::launch takes a message-handler functor (input_type, output_type, RINGKERNEL_HD operator())");
  if (sizeof(typename D::input_type) > options.max_message_size())
    ringkernel::detail::raise(ErrorCode::InvalidArgument,
                              "cuda::launch '" + id + "': the handler's input type is " +
                                  std::to_string(sizeof(typename D::input_type)) + " bytes, above max_message_size " +
                                  std::to_string(options.max_message_size()));
  if (runtime.backend() != Backend::Cuda) return CudaKernel(runtime.launch(id, std::move(handler), options), nullptr);
  auto shared = std::make_shared<detail::CudaKernelShared>();
  std::unique_ptr<ringkernel::detail::KernelBody> body(
      new detail::CudaHandlerBody<D>(std::move(handler), runtime.device(), options, config, shared));
  return CudaKernel(runtime.launch_body(id, std::move(body), options), std::move(shared));
}

}  // namespace cuda
}  // namespace RINGKERNEL_ABI_NAMESPACE
}  // namespace ringkernel

#endif  // RINGKERNEL_CUDA_HPP

// ============================================================================================
// C8. Implementation                                                              >>cuda_impl
// ============================================================================================
// Outside the include guard, compiled once: in the TU that defines RINGKERNEL_CUDA_IMPLEMENTATION
// (or RINGKERNEL_IMPLEMENTATION).
#if defined(RINGKERNEL_CUDA_IMPLEMENTATION) && !defined(RINGKERNEL_CUDA_IMPLEMENTATION_DONE)
#define RINGKERNEL_CUDA_IMPLEMENTATION_DONE

#include <thread>

namespace ringkernel {
inline namespace RINGKERNEL_ABI_NAMESPACE {
namespace cuda {

std::string describe(cudaError_t error, const char* call) {
  return std::string(call) + " failed: " + cudaGetErrorName(error) + " (" + std::to_string(static_cast<int>(error)) +
         "): " + cudaGetErrorString(error);
}

void raise_cuda(cudaError_t error, const char* call) {
  (void)cudaGetLastError();  // clear a non-sticky error so later calls start clean
  const std::string message = describe(error, call);
#if defined(RINGKERNEL_NO_EXCEPTIONS)
  ringkernel::detail::raise(ErrorCode::CudaFailure, message);
#else
  throw CudaCallError(call, static_cast<int>(error), cudaGetErrorName(error), message);
#endif
}

// ---- devices ------------------------------------------------------------------------------
namespace {
// Persistent kernels now resident, per device and in total, and the frees put off meanwhile.
// cudaFree and cudaFreeHost may synchronize with the whole device, which never completes while a
// persistent kernel runs: freeing one kernel's memory while another still runs would hang the
// host. So a free while any kernel is resident is deferred until the last one stopped.
struct ResidentTable {
  std::mutex mu;
  std::vector<int> counts;
  int total = 0;
  std::vector<void*> deferred_host;
  std::vector<std::pair<int, void*>> deferred_device;
};
ResidentTable& resident_table() {
  static ResidentTable* t = new ResidentTable();  // never destroyed: kernels may outlive statics
  return *t;
}

// Queries device `ordinal` (which must exist).
DeviceInfo query_device(int ordinal) {
  DeviceInfo d;
  d.ordinal = ordinal;
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, ordinal), "cudaGetDeviceProperties");
  d.name = prop.name;
  d.total_memory = prop.totalGlobalMem;
  auto attr = [&](cudaDeviceAttr a, const char* what) {
    int v = 0;
    check(cudaDeviceGetAttribute(&v, a, ordinal), what);
    return v;
  };
  d.compute_major = attr(cudaDevAttrComputeCapabilityMajor, "cudaDeviceGetAttribute(ComputeCapabilityMajor)");
  d.compute_minor = attr(cudaDevAttrComputeCapabilityMinor, "cudaDeviceGetAttribute(ComputeCapabilityMinor)");
  d.sm_count = attr(cudaDevAttrMultiProcessorCount, "cudaDeviceGetAttribute(MultiProcessorCount)");
  d.max_threads_per_block = attr(cudaDevAttrMaxThreadsPerBlock, "cudaDeviceGetAttribute(MaxThreadsPerBlock)");
  d.can_map_host_memory = attr(cudaDevAttrCanMapHostMemory, "cudaDeviceGetAttribute(CanMapHostMemory)") != 0;
  d.host_native_atomics = attr(cudaDevAttrHostNativeAtomicSupported, "cudaDeviceGetAttribute(HostNativeAtomicSupported)") != 0;
  d.kernel_timeout = attr(cudaDevAttrKernelExecTimeout, "cudaDeviceGetAttribute(KernelExecTimeout)") != 0;
  const bool uva = attr(cudaDevAttrUnifiedAddressing, "cudaDeviceGetAttribute(UnifiedAddressing)") != 0;
  d.supports_cooperative = attr(cudaDevAttrCooperativeLaunch, "cudaDeviceGetAttribute(CooperativeLaunch)") != 0;
  d.supports_persistent = d.can_map_host_memory && uva && d.compute_major >= 7 && !d.kernel_timeout;
  return d;
}

// A kernel with no work: cudaFuncGetAttributes on it tells whether this program carries code the
// device can run (built for another architecture: cudaErrorNoKernelImageForDevice).
__global__ void probe_kernel() {}

// Why device `ordinal` cannot be used ("" when it can); `error`/`call` name the failed call.
std::string probe_reason(int ordinal, cudaError_t& error, const char*& call) {
  error = cudaSuccess;
  call = "";
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    error = e;
    call = "cudaGetDeviceCount";
    return describe(e, call) + " (no usable CUDA driver or device)";
  }
  if (n == 0) return "no CUDA device found (cudaGetDeviceCount returned 0)";
  if (ordinal < 0 || ordinal >= n)
    return "device ordinal " + std::to_string(ordinal) + " is out of range: " + std::to_string(n) + " CUDA device(s)";
  e = cudaSetDevice(ordinal);
  if (e == cudaSuccess) {
    cudaFuncAttributes attrs{};
    e = cudaFuncGetAttributes(&attrs, reinterpret_cast<const void*>(&probe_kernel));
    if (e != cudaSuccess) call = "cudaFuncGetAttributes (is the program built for this GPU's architecture?)";
  } else {
    call = "cudaSetDevice";
  }
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    error = e;
    return describe(e, call);
  }
  return {};
}
}  // namespace

int cuda_device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

bool is_cuda_available() noexcept { return cuda_device_count() > 0; }

std::vector<DeviceInfo> enumerate_devices() {
  std::vector<DeviceInfo> out;
  const int n = cuda_device_count();
  for (int i = 0; i < n; ++i) out.push_back(query_device(i));
  return out;
}

CudaDevice::CudaDevice(int ordinal) {
  int n = 0;
  check(cudaGetDeviceCount(&n), "cudaGetDeviceCount");
  if (ordinal < 0 || ordinal >= n)
    ringkernel::detail::raise(ErrorCode::InvalidArgument, "CudaDevice: ordinal " + std::to_string(ordinal) +
                                                              " is out of range: " + std::to_string(n) + " CUDA device(s)");
  info_ = query_device(ordinal);
}

void CudaDevice::make_current() const { check(cudaSetDevice(info_.ordinal), "cudaSetDevice"); }

void CudaDevice::synchronize() const {
  if (resident_kernels() != 0)
    ringkernel::detail::raise(ErrorCode::InvalidState,
                              "CudaDevice::synchronize: " + std::to_string(resident_kernels()) +
                                  " persistent kernel(s) of this process run on device " + std::to_string(info_.ordinal) +
                                  " and never finish; stop them first (synchronizing would hang)");
  make_current();
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

int CudaDevice::resident_kernels() const noexcept {
  ResidentTable& t = resident_table();
  std::lock_guard<std::mutex> lk(t.mu);
  return info_.ordinal < static_cast<int>(t.counts.size()) ? t.counts[static_cast<std::size_t>(info_.ordinal)] : 0;
}

// ---- memory and streams -------------------------------------------------------------------
namespace {
GpuPoolConfig pool_config(std::size_t from, std::size_t to, std::size_t max_bytes, std::size_t prealloc) {
  GpuPoolConfig c;
  for (std::size_t s = from; s <= to; s *= 4) c.size_classes.push_back(s);
  c.max_bytes = max_bytes;
  c.preallocate_per_class = prealloc;
  return c;
}
}  // namespace

GpuPoolConfig GpuPoolConfig::for_graph_analytics() { return pool_config(256, std::size_t{16} << 20, 0, 8); }
GpuPoolConfig GpuPoolConfig::for_simulation() { return pool_config(4096, std::size_t{64} << 20, 0, 2); }
GpuPoolConfig GpuPoolConfig::minimal() { return pool_config(256, std::size_t{1} << 20, std::size_t{64} << 20, 0); }

void GpuPoolConfig::validate() const {
  if (size_classes.empty()) ringkernel::detail::raise(ErrorCode::InvalidArgument, "GpuPoolConfig: no size classes");
  for (std::size_t i = 0; i < size_classes.size(); ++i) {
    if (size_classes[i] == 0 || size_classes[i] % 256 != 0)
      ringkernel::detail::raise(ErrorCode::InvalidArgument, "GpuPoolConfig: size class " + std::to_string(size_classes[i]) +
                                                                " is not a positive multiple of 256 bytes");
    if (i != 0 && size_classes[i] <= size_classes[i - 1])
      ringkernel::detail::raise(ErrorCode::InvalidArgument, "GpuPoolConfig: size classes must be strictly ascending (" +
                                                                std::to_string(size_classes[i - 1]) + " then " +
                                                                std::to_string(size_classes[i]) + ")");
  }
}

namespace {
void* cuda_pool_allocate(std::size_t bytes, void* user) {
  const int ordinal = static_cast<int>(reinterpret_cast<std::intptr_t>(user));
  check(cudaSetDevice(ordinal), "cudaSetDevice (pool)");
  void* p = nullptr;
  check(cudaMalloc(&p, bytes), "cudaMalloc (pool)");
  return p;
}
void cuda_pool_release(void* block, void* user) {
  detail::free_device(static_cast<int>(reinterpret_cast<std::intptr_t>(user)), block);
}
}  // namespace

StratifiedPool::StratifiedPool(const GpuPoolConfig& config, PoolAllocator allocator)
    : config_(config), allocator_(allocator) {
  config_.validate();
  if (allocator_.allocate == nullptr || allocator_.release == nullptr)
    ringkernel::detail::raise(ErrorCode::InvalidArgument, "StratifiedPool: the allocator needs allocate and release");
  free_.resize(config_.size_classes.size());
  stats_.resize(config_.size_classes.size());
  for (std::size_t i = 0; i < stats_.size(); ++i) stats_[i].block_size = config_.size_classes[i];
  std::size_t want = 0;
  for (std::size_t s : config_.size_classes) want += s * config_.preallocate_per_class;
  if (config_.max_bytes != 0 && want > config_.max_bytes)
    ringkernel::detail::raise(ErrorCode::MemoryLimit, "StratifiedPool: preallocating " + std::to_string(want) +
                                                          " bytes exceeds max_bytes " + std::to_string(config_.max_bytes));
  for (std::size_t c = 0; c < config_.size_classes.size(); ++c)
    for (std::size_t k = 0; k < config_.preallocate_per_class; ++k) {
      free_[c].push_back(obtain(config_.size_classes[c]));
      reserved_bytes_ += config_.size_classes[c];
      ++stats_[c].reserved_blocks;
    }
}

StratifiedPool::StratifiedPool(const GpuPoolConfig& config, int ordinal)
    : StratifiedPool(config, PoolAllocator{&cuda_pool_allocate, &cuda_pool_release,
                                           reinterpret_cast<void*>(static_cast<std::intptr_t>(ordinal))}) {
  ordinal_ = ordinal;
}

StratifiedPool::~StratifiedPool() {
  if (!in_use_.empty())
    ringkernel::detail::log(LogLevel::Warn, "StratifiedPool: destroyed with " + std::to_string(in_use_.size()) +
                                                " block(s) still in use; releasing them");
  for (const Block& b : in_use_) allocator_.release(b.ptr, allocator_.user);
  for (auto& list : free_)
    for (void* p : list) allocator_.release(p, allocator_.user);
}

void* StratifiedPool::obtain(std::size_t bytes) {
  void* p = allocator_.allocate(bytes, allocator_.user);
  if (p == nullptr)
    ringkernel::detail::raise(ErrorCode::CudaFailure, "StratifiedPool: the allocator failed to provide " +
                                                          std::to_string(bytes) + " bytes");
  return p;
}

void* StratifiedPool::allocate(std::size_t bytes) {
  if (bytes == 0) ringkernel::detail::raise(ErrorCode::InvalidArgument, "StratifiedPool::allocate: 0 bytes");
  std::lock_guard<std::mutex> lk(mu_);
  int cls = -1;
  for (std::size_t i = 0; i < config_.size_classes.size(); ++i)
    if (config_.size_classes[i] >= bytes) {
      cls = static_cast<int>(i);
      break;
    }
  if (cls >= 0 && !free_[static_cast<std::size_t>(cls)].empty()) {
    auto& list = free_[static_cast<std::size_t>(cls)];
    void* p = list.back();
    list.pop_back();
    PoolDiagnostics::SizeClass& st = stats_[static_cast<std::size_t>(cls)];
    ++st.hits;
    ++st.in_use_blocks;
    in_use_.push_back(Block{p, st.block_size, cls});
    return p;
  }
  const std::size_t size = cls >= 0 ? config_.size_classes[static_cast<std::size_t>(cls)] : (bytes + 255) / 256 * 256;
  if (config_.max_bytes != 0 && reserved_bytes_ + size > config_.max_bytes) {
    // Free blocks of other classes may make room.
    for (std::size_t c = 0; c < free_.size(); ++c) {
      for (void* p : free_[c]) allocator_.release(p, allocator_.user);
      reserved_bytes_ -= free_[c].size() * config_.size_classes[c];
      stats_[c].reserved_blocks -= free_[c].size();
      free_[c].clear();
    }
    if (reserved_bytes_ + size > config_.max_bytes) {
      ++refusals_;
      ringkernel::detail::raise(ErrorCode::MemoryLimit,
                                "StratifiedPool::allocate: " + std::to_string(bytes) + " bytes (block " + std::to_string(size) +
                                    ") would exceed max_bytes " + std::to_string(config_.max_bytes) + " (" +
                                    std::to_string(reserved_bytes_) + " in use)");
    }
  }
  void* p = obtain(size);
  reserved_bytes_ += size;
  if (cls >= 0) {
    PoolDiagnostics::SizeClass& st = stats_[static_cast<std::size_t>(cls)];
    ++st.misses;
    ++st.reserved_blocks;
    ++st.in_use_blocks;
  } else {
    ++oversized_in_use_;
    oversized_bytes_ += size;
  }
  in_use_.push_back(Block{p, size, cls});
  return p;
}

void StratifiedPool::deallocate(void* block) {
  std::lock_guard<std::mutex> lk(mu_);
  for (std::size_t i = 0; i < in_use_.size(); ++i) {
    if (in_use_[i].ptr != block) continue;
    const Block b = in_use_[i];
    in_use_[i] = in_use_.back();
    in_use_.pop_back();
    if (b.cls >= 0) {
      free_[static_cast<std::size_t>(b.cls)].push_back(b.ptr);
      --stats_[static_cast<std::size_t>(b.cls)].in_use_blocks;
    } else {
      allocator_.release(b.ptr, allocator_.user);
      reserved_bytes_ -= b.size;
      --oversized_in_use_;
      oversized_bytes_ -= b.size;
    }
    return;
  }
  ringkernel::detail::raise(ErrorCode::InvalidArgument,
                            "StratifiedPool::deallocate: the pointer is not a block in use (double free or foreign pointer)");
}

std::size_t StratifiedPool::trim() {
  std::lock_guard<std::mutex> lk(mu_);
  std::size_t released = 0;
  for (std::size_t c = 0; c < free_.size(); ++c) {
    for (void* p : free_[c]) allocator_.release(p, allocator_.user);
    released += free_[c].size() * config_.size_classes[c];
    stats_[c].reserved_blocks -= free_[c].size();
    free_[c].clear();
  }
  reserved_bytes_ -= released;
  return released;
}

PoolDiagnostics StratifiedPool::diagnostics() const {
  std::lock_guard<std::mutex> lk(mu_);
  PoolDiagnostics d;
  d.classes = stats_;
  d.reserved_bytes = reserved_bytes_;
  d.in_use_bytes = oversized_bytes_;
  for (const auto& c : stats_) d.in_use_bytes += c.in_use_blocks * c.block_size;
  d.oversized_in_use = oversized_in_use_;
  d.limit_refusals = refusals_;
  return d;
}

namespace {
struct PoolTable {
  std::mutex mu;
  std::vector<StratifiedPool*> pools;
  std::vector<std::unique_ptr<GpuPoolConfig>> configs;
};
PoolTable& pool_table() {
  static PoolTable* t = new PoolTable();  // never destroyed (see device_pool)
  return *t;
}
}  // namespace

StratifiedPool& device_pool(int ordinal) {
  if (ordinal < 0) ringkernel::detail::raise(ErrorCode::InvalidArgument, "device_pool: negative ordinal");
  PoolTable& t = pool_table();
  std::lock_guard<std::mutex> lk(t.mu);
  const std::size_t i = static_cast<std::size_t>(ordinal);
  if (t.pools.size() <= i) t.pools.resize(i + 1, nullptr);
  if (t.configs.size() <= i) t.configs.resize(i + 1);
  if (t.pools[i] == nullptr)
    t.pools[i] = new StratifiedPool(t.configs[i] ? *t.configs[i] : GpuPoolConfig::minimal(), ordinal);
  return *t.pools[i];
}

void set_device_pool_config(int ordinal, const GpuPoolConfig& config) {
  if (ordinal < 0) ringkernel::detail::raise(ErrorCode::InvalidArgument, "set_device_pool_config: negative ordinal");
  config.validate();
  PoolTable& t = pool_table();
  std::lock_guard<std::mutex> lk(t.mu);
  const std::size_t i = static_cast<std::size_t>(ordinal);
  if (i < t.pools.size() && t.pools[i] != nullptr)
    ringkernel::detail::raise(ErrorCode::InvalidState, "set_device_pool_config: the pool of device " +
                                                           std::to_string(ordinal) + " is already in use");
  if (t.configs.size() <= i) t.configs.resize(i + 1);
  t.configs[i].reset(new GpuPoolConfig(config));
}

StreamConfig StreamConfig::performance() {
  StreamConfig c;
  c.high_priority = true;
  c.non_blocking = true;
  c.spin_before_sleep = std::chrono::microseconds(1000);
  c.sleep_interval = std::chrono::microseconds(1);
  return c;
}
StreamConfig StreamConfig::minimal() {
  StreamConfig c;
  c.high_priority = false;
  c.non_blocking = true;
  c.spin_before_sleep = std::chrono::microseconds(0);
  c.sleep_interval = std::chrono::microseconds(100);
  return c;
}
StreamConfig StreamConfig::for_simulation() {
  StreamConfig c;
  c.high_priority = true;
  c.non_blocking = true;
  c.spin_before_sleep = std::chrono::microseconds(100);
  c.sleep_interval = std::chrono::microseconds(50);
  return c;
}

Stream::Stream(const CudaDevice& device, const StreamConfig& config) : config_(config) {
  device.make_current();
  int least = 0, greatest = 0;
  check(cudaDeviceGetStreamPriorityRange(&least, &greatest), "cudaDeviceGetStreamPriorityRange");
  check(cudaStreamCreateWithPriority(&stream_, config.non_blocking ? cudaStreamNonBlocking : cudaStreamDefault,
                                     config.high_priority ? greatest : least),
        "cudaStreamCreateWithPriority");
}

Stream::~Stream() {
  if (stream_ != nullptr && cudaStreamDestroy(stream_) != cudaSuccess) {
    const cudaError_t e = cudaGetLastError();
    ringkernel::detail::log(LogLevel::Warn, "ringkernel CUDA: " + describe(e, "cudaStreamDestroy"));
  }
}

bool Stream::wait(std::chrono::nanoseconds timeout, const char* what) const {
  const std::int64_t start = detail::now_ns();
  for (;;) {
    if (!detail::stream_running(stream_, what)) return true;
    const std::int64_t waited = detail::now_ns() - start;
    if (waited > timeout.count()) return false;
    detail::wait_step(config_, waited);
  }
}

PinnedBuffer::PinnedBuffer(std::size_t bytes) : size_(bytes) {
  if (bytes == 0) ringkernel::detail::raise(ErrorCode::InvalidArgument, "PinnedBuffer: 0 bytes");
  check(cudaHostAlloc(&host_, bytes, cudaHostAllocMapped | cudaHostAllocPortable), "cudaHostAlloc (mapped)");
  std::memset(host_, 0, bytes);
  const cudaError_t e = cudaHostGetDevicePointer(&device_, host_, 0);
  if (e != cudaSuccess) {
    (void)cudaFreeHost(host_);
    host_ = nullptr;
    raise_cuda(e, "cudaHostGetDevicePointer");
  }
}

PinnedBuffer::~PinnedBuffer() {
  if (host_ != nullptr) detail::free_pinned(host_);
}

// ---- kernel helpers -----------------------------------------------------------------------
namespace detail {
namespace {
void free_host_now(void* host) noexcept {
  if (cudaFreeHost(host) != cudaSuccess) {
    const cudaError_t e = cudaGetLastError();
    ringkernel::detail::log(LogLevel::Warn, "ringkernel CUDA: " + describe(e, "cudaFreeHost"));
  }
}
void free_device_now(int ordinal, void* block) noexcept {
  if (cudaSetDevice(ordinal) != cudaSuccess || cudaFree(block) != cudaSuccess) {
    const cudaError_t e = cudaGetLastError();
    ringkernel::detail::log(LogLevel::Warn, "ringkernel CUDA: " + describe(e, "cudaFree"));
  }
}
}  // namespace

void note_resident(int ordinal, int delta) noexcept {
  std::vector<void*> host;
  std::vector<std::pair<int, void*>> device;
  {
    ResidentTable& t = resident_table();
    std::lock_guard<std::mutex> lk(t.mu);
    if (ordinal < 0) return;
    if (t.counts.size() <= static_cast<std::size_t>(ordinal)) t.counts.resize(static_cast<std::size_t>(ordinal) + 1, 0);
    t.counts[static_cast<std::size_t>(ordinal)] += delta;
    t.total += delta;
    if (t.total == 0) {
      host.swap(t.deferred_host);
      device.swap(t.deferred_device);
    }
  }
  for (void* h : host) free_host_now(h);
  for (auto& d : device) free_device_now(d.first, d.second);
}

void free_pinned(void* host) noexcept {
  {
    ResidentTable& t = resident_table();
    std::lock_guard<std::mutex> lk(t.mu);
    if (t.total > 0) {
      t.deferred_host.push_back(host);
      return;
    }
  }
  free_host_now(host);
}

void free_device(int ordinal, void* block) noexcept {
  {
    ResidentTable& t = resident_table();
    std::lock_guard<std::mutex> lk(t.mu);
    if (t.total > 0) {
      t.deferred_device.emplace_back(ordinal, block);
      return;
    }
  }
  free_device_now(ordinal, block);
}

void check_cooperative_fit(const CudaDevice& device, const void* kernel, std::uint32_t grid, std::uint32_t block) {
  int per_sm = 0;
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, static_cast<int>(block), 0),
        "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  const long long fit = static_cast<long long>(per_sm) * device.info().sm_count;
  if (static_cast<long long>(grid) > fit)
    ringkernel::detail::raise(ErrorCode::InvalidArgument,
                              "cooperative launch: grid of " + std::to_string(grid) + " blocks x " + std::to_string(block) +
                                  " threads cannot be co-resident on device " + std::to_string(device.ordinal()) + " (at most " +
                                  std::to_string(fit) + " blocks: " + std::to_string(per_sm) + " per SM x " +
                                  std::to_string(device.info().sm_count) + " SMs); a grid barrier would deadlock");
}

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void wait_step(const StreamConfig& config, std::int64_t waited_ns) noexcept {
  if (waited_ns < std::chrono::duration_cast<std::chrono::nanoseconds>(config.spin_before_sleep).count()) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
    return;
  }
  std::this_thread::sleep_for(config.sleep_interval);
}

bool stream_running(cudaStream_t stream, const char* what) {
  const cudaError_t q = cudaStreamQuery(stream);
  if (q == cudaErrorNotReady) return true;
  if (q == cudaSuccess) return false;
  raise_cuda(q, what);
}
}  // namespace detail

// ---- backend provider ----------------------------------------------------------------------
namespace {
class CudaBackendProvider final : public BackendProvider {
 public:
  Backend kind() const noexcept override { return Backend::Cuda; }
  // Explicit Backend::Cuda: the CudaError propagates out of Runtime::Builder::build(). Auto logs
  // its message and moves on (without exceptions the reason is returned instead).
  std::string probe(int ordinal) override {
    cudaError_t error = cudaSuccess;
    const char* call = "";
    const std::string why = probe_reason(ordinal, error, call);
    if (why.empty()) return why;
    const std::string message = "Runtime: the CUDA backend cannot use device " + std::to_string(ordinal) + ": " + why;
#if defined(RINGKERNEL_NO_EXCEPTIONS)
    return message;
#else
    if (error != cudaSuccess) throw CudaCallError(call, static_cast<int>(error), cudaGetErrorName(error), message);
    throw CudaError(message);
#endif
  }
};
struct CudaBackendRegistrar {
  CudaBackendRegistrar() { register_backend(); }
};
const CudaBackendRegistrar cuda_backend_registrar;
}  // namespace

void register_backend() {
  static std::once_flag once;
  std::call_once(once, [] { register_backend_provider(std::make_shared<CudaBackendProvider>()); });
}

}  // namespace cuda
}  // namespace RINGKERNEL_ABI_NAMESPACE
}  // namespace ringkernel

#endif  // RINGKERNEL_CUDA_IMPLEMENTATION
