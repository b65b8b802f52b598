// ringkernel_vulkan.hpp — ringkernel's Vulkan compute backend, loaded through volk.
// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the ringkernel authors.
//
// ============================================================================================
// USAGE
// ============================================================================================
// Include after (or instead of) ringkernel.hpp. In exactly ONE translation unit write
//
//     #define RINGKERNEL_IMPLEMENTATION          // or RINGKERNEL_VULKAN_IMPLEMENTATION alone,
//     #include "ringkernel_vulkan.hpp"           // in the TU that compiles ringkernel.hpp's
//
// That TU also compiles volk (volk.c; define RINGKERNEL_VULKAN_NO_VOLK_IMPLEMENTATION if your
// program already compiles it) and registers the Vulkan BackendProvider with a static
// registrar, so `Runtime::builder().backend(Backend::Vulkan)` and `Backend::Auto` find it.
// Link with -ldl. Needs the Vulkan headers and volk.h (Debian: libvulkan-dev,
// libvulkan-volk-dev); no Vulkan library at link time: volk loads libvulkan.so.1 at run time.
//
// A kernel is a GLSL compute shader written against the prelude this header ships
// (vulkan::glsl_prelude(), written out by vulkan::write_glsl_prelude or by the Meson helper
// `ringkernel_glsl`), compiled to SPIR-V by glslc, and launched with a C++ input and output
// message type whose layout the shader reads and writes word by word:
//
//     auto rt = Runtime::builder().backend(Backend::Vulkan).build();
//     auto k  = vulkan::launch<Req, Resp>(rt, "doubler", vulkan::Program::from_spirv(words, n, "doubler"));
//     Resp r  = k.call<Resp>(Req{21});
//
// The returned KernelHandle is the core's: lifecycle, status(), telemetry, receive/call,
// metrics and backpressure behave as on the CPU backend: the kernel's worker thread is a host
// supervisor (VulkanBody::supervise) that takes accepted messages from the core's inbox, writes
// them to the device ring, (re)submits dispatches and publishes what the shader produced.
// Messages in the device ring count as "in the handler"; a pause or terminate lets the running
// dispatch return, publishes what it finished and puts the rest back at the inbox's front.
//
// TABLE OF CONTENTS
//   V1. Device layer      >>vk-device   DeviceInfo, enumerate_devices, validation, result_name,
//                                       device_access + queue_submit (your own compute work)
//   V2. Programs          >>vk-program  glsl_prelude, Program (SPIR-V words, checked)
//   V3. Kernels           >>vk-kernel   KernelOptions, Link (device-side K2K ring), launch
//   V4. Shared layouts    >>vk-layout   SharedBlock = ControlBlock + TelemetryBuffer + ring indices
//   V5. Implementation    >>vk-impl     behind RINGKERNEL_VULKAN_IMPLEMENTATION
//
// Execution model (bounded persistence). Drivers abandon or kill endless shaders (lavapipe cuts
// any loop after ~32k-65k iterations; desktop GPUs have watchdogs), so a "persistent" kernel is
// one dispatch that loops for at most an iteration budget (a push constant, idle iterations
// included), keeps every ring index in the shared buffer, and returns; the host supervisor
// resubmits it while there is work and the kernel is not terminated, and the next dispatch
// resumes exactly where the last stopped. The kernel runs one invocation: a serial actor, whose
// state (a storage buffer) persists across messages and dispatches. EventDriven kernels get one
// dispatch per batch that drains the ring and returns.
//
// Host/device exchange while a dispatch runs uses device-scope acquire/release atomics
// (Vulkan memory model) on host-visible coherent memory; this is what the hardware does, but
// the Vulkan specification only guarantees host visibility at submission and fence
// boundaries, which the supervisor also respects (each dispatch ends with a shader-to-host
// barrier and is waited on before its buffers are reused).

#ifndef RINGKERNEL_VULKAN_HPP
#define RINGKERNEL_VULKAN_HPP

#include "ringkernel.hpp"

#include <volk.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringkernel {
inline namespace RINGKERNEL_ABI_NAMESPACE {
namespace vulkan {

// ============================================================================================
// V1. Device layer                                                                >>vk-device
// ============================================================================================

/// Kind of physical device; also the selection preference order (Discrete first).
enum class DeviceType : std::uint8_t { Discrete = 0, Integrated = 1, Virtual = 2, Cpu = 3, Other = 4 };
/// Stable name ("Discrete", ...).
RINGKERNEL_API const char* to_string(DeviceType type) noexcept;

/// One Vulkan physical device as ringkernel sees it. Value type.
struct DeviceInfo {
  int ordinal = -1;                          ///< what Runtime::Builder::device() takes
  std::string name;                          ///< VkPhysicalDeviceProperties::deviceName
  DeviceType type = DeviceType::Other;
  std::uint32_t vendor_id = 0;
  std::uint32_t device_id = 0;
  std::uint32_t api_version = 0;             ///< VK_MAKE_API_VERSION encoding
  std::uint64_t device_local_bytes = 0;      ///< sum of DEVICE_LOCAL heaps
  std::uint64_t host_visible_bytes = 0;      ///< sum of heaps with a HOST_VISIBLE|HOST_COHERENT type
  std::uint32_t max_workgroup_invocations = 0;
  std::uint32_t max_storage_buffer_range = 0;
  std::uint32_t max_push_constants_size = 0;
  /// Empty when ringkernel can run kernels on it, else why not (missing feature, API version).
  std::string unsupported;
};

/// Every physical device, in selection order: discrete, integrated, virtual, CPU, other (ties
/// keep the driver's order); `ordinal` is the position. Thread-safe. Throws VulkanError when
/// the loader is missing or instance creation fails (message: the call and the VkResult).
RINGKERNEL_API std::vector<DeviceInfo> enumerate_devices();
/// The device with this ordinal. Throws VulkanError naming how many devices exist when there
/// is no such ordinal, and what enumerate_devices() throws.
RINGKERNEL_API DeviceInfo device_info(int ordinal);
/// Ordinal of the first device whose name contains `name_part` (case-sensitive). Throws
/// Error(BackendUnavailable) listing the device names when none matches.
RINGKERNEL_API int find_device(const std::string& name_part);

/// Asks for VK_LAYER_KHRONOS_validation and a debug messenger that counts every warning and
/// error it reports (also switched on by the environment variable RINGKERNEL_VULKAN_VALIDATION=1).
/// Call before the first Vulkan use in the process; afterwards a different value throws
/// Error(InvalidState). Thread-safe.
RINGKERNEL_API void enable_validation(bool on);
/// Uses `get_instance_proc_addr` (from a loader the program already has) instead of letting volk
/// load libvulkan.so.1. Call before the first Vulkan use; afterwards throws Error(InvalidState);
/// null throws Error(InvalidArgument). Thread-safe.
RINGKERNEL_API void use_loader(PFN_vkGetInstanceProcAddr get_instance_proc_addr);
/// True when the validation layer is loaded into ringkernel's instance (false before first use).
RINGKERNEL_API bool validation_active() noexcept;
/// Validation warnings and errors reported so far. Thread-safe.
RINGKERNEL_API std::uint64_t validation_message_count() noexcept;
/// The first 64 of those messages, as "severity: text". Thread-safe.
RINGKERNEL_API std::vector<std::string> validation_messages();

/// The VkResult's enumerator name ("VK_ERROR_DEVICE_LOST"), or "VkResult(<n>)". Never null.
RINGKERNEL_API const char* result_name(VkResult result) noexcept;

/// The logical device ringkernel opened for one ordinal: the same VkDevice and queue its kernels
/// on that ordinal use, for a program that records its own compute work beside them (its own
/// pipelines, buffers and command buffers; WaveSim's Vulkan solver does). The handles stay valid
/// for the life of the process: ringkernel never destroys an opened device. Value type.
struct DeviceAccess {
  int ordinal = -1;
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  /// One compute queue. Submit to it only through queue_submit, which holds the lock the
  /// kernels' supervisors hold (vkQueueSubmit needs external synchronization).
  VkQueue queue = VK_NULL_HANDLE;
  std::uint32_t queue_family = 0;
  /// The device's memory types and heaps (for choosing where a buffer lives).
  VkPhysicalDeviceMemoryProperties memory{};
  DeviceInfo info;
};
/// Opens the device with this ordinal (once per process; later calls and kernels share it) and
/// returns its handles. The device functions (vkCreateBuffer, vkCmdDispatch, ...) are volk's
/// and work once this returns. Throws VulkanError naming the devices when the ordinal does not
/// exist, or why the device cannot run ringkernel kernels (DeviceInfo::unsupported), and what
/// enumerate_devices() throws. Thread-safe.
RINGKERNEL_API DeviceAccess device_access(int ordinal);
/// vkQueueSubmit(queue, count, submits, fence) on the device's queue under ringkernel's queue
/// lock, first asking every ringkernel kernel's running dispatch on that device to return as
/// soon as it is idle (drivers with one queue, lavapipe among them, run dispatches one after
/// another, so an idle persistent kernel would otherwise delay this work by its idle budget).
/// Returns vkQueueSubmit's result. Throws VulkanError for an ordinal that does not exist or
/// cannot be opened (as device_access). Thread-safe.
RINGKERNEL_API VkResult queue_submit(int ordinal, std::uint32_t count, const VkSubmitInfo* submits, VkFence fence);

// ============================================================================================
// V2. Programs                                                                   >>vk-program
// ============================================================================================

/// The GLSL prelude a kernel shader includes after `#version 460` (see its header comment for
/// the protocol: bindings, rk_handle, rk_u32/rk_emit/rk_link_send, budgets). Never null.
RINGKERNEL_API const char* glsl_prelude() noexcept;
/// Writes glsl_prelude() to `path` (e.g. build/ringkernel.glsl for glslc -I). Throws
/// Error(InvalidArgument) naming the path when it cannot be written.
RINGKERNEL_API void write_glsl_prelude(const std::string& path);

/// SPIR-V for one kernel, checked for structure on construction: the SPIR-V magic,
/// whole-word instructions that fit, and an OpEntryPoint GLCompute named "main". A module that
/// fails is refused with VulkanError before any driver sees it (drivers need not check, and a
/// bad module can crash them); errors the driver reports later come from launch. Value type.
class Program {
 public:
  /// From `count` 32-bit SPIR-V words (glslc -mfmt=num output, or a .spv file's contents).
  RINGKERNEL_API static Program from_spirv(const std::uint32_t* words, std::size_t count, std::string name);
  /// From a .spv file. Throws Error(InvalidArgument) when unreadable, VulkanError when not SPIR-V.
  RINGKERNEL_API static Program from_file(const std::string& path);
  /// The words.
  const std::vector<std::uint32_t>& words() const noexcept { return words_; }
  /// The name used in error messages.
  const std::string& name() const noexcept { return name_; }

 private:
  Program(std::vector<std::uint32_t> words, std::string name) : words_(std::move(words)), name_(std::move(name)) {}
  std::vector<std::uint32_t> words_;
  std::string name_;
};

// ============================================================================================
// V3. Kernels                                                                     >>vk-kernel
// ============================================================================================

namespace detail {
struct LinkImpl;
}

/// A device-side ring from one Vulkan kernel to another (K2K in device memory: the sender's
/// shader writes with rk_link_send, the receiver's shader reads it as messages of ring 1; the
/// host never copies them). Give it to one sender (KernelOptions::with_link_out) and one
/// receiver (with_link_in) on the same runtime. Copies share the ring. Thread-safe.
class Link {
 public:
  /// A ring of `capacity` (power of two) slots of `message_size` bytes (> 0) on the runtime's
  /// device. Throws Error(InvalidArgument) for bad sizes, VulkanError on allocation failure.
  RINGKERNEL_API static Link create(Runtime& runtime, std::size_t capacity, std::size_t message_size);
  /// Slots.
  RINGKERNEL_API std::size_t capacity() const noexcept;
  /// Bytes per message.
  RINGKERNEL_API std::size_t message_size() const noexcept;
  /// Messages written by the sender and not yet taken by the receiver (a snapshot).
  RINGKERNEL_API std::uint64_t pending() const noexcept;

 private:
  friend struct detail::LinkImpl;
  friend class KernelOptions;
  explicit Link(std::shared_ptr<detail::LinkImpl> impl) noexcept : impl_(std::move(impl)) {}
  std::shared_ptr<detail::LinkImpl> impl_;

 public:
  /// Internal: the shared ring.
  const std::shared_ptr<detail::LinkImpl>& impl() const noexcept { return impl_; }
};

/// Vulkan-specific launch settings (LaunchOptions holds the common ones: capacity, mode,
/// backpressure, ...). Builder methods validate at once and throw Error(InvalidArgument).
/// Value type.
class KernelOptions {
 public:
  /// Bytes of the kernel's state buffer (binding 3; default 256, > 0). Zero-initialised unless
  /// with_initial_state gives its first bytes; persists across messages and dispatches.
  RINGKERNEL_API KernelOptions& with_state_size(std::size_t bytes);
  /// Initial bytes of the state buffer (the state grows to hold them).
  RINGKERNEL_API KernelOptions& with_initial_state(const void* bytes, std::size_t size);
  /// Loop iterations one dispatch may run, idle ones included (default 16384, 1..1<<30). Keep
  /// it under the driver's loop limit (lavapipe: ~32k) counting loops inside rk_handle.
  RINGKERNEL_API KernelOptions& with_iteration_budget(std::uint32_t iterations);
  /// Persistent mode: consecutive idle iterations after which a dispatch returns so the host can
  /// park (default 4096, >= 1).
  RINGKERNEL_API KernelOptions& with_idle_iterations(std::uint32_t iterations);
  /// EventDriven mode: most messages per dispatch (default 0: the queue capacity). 1 gives one
  /// dispatch per message.
  KernelOptions& with_max_batch(std::size_t messages) noexcept { max_batch_ = messages; return *this; }
  /// The kernel's shader sends on this link (rk_link_send).
  KernelOptions& with_link_out(const Link& link) noexcept { link_out_ = link.impl_; return *this; }
  /// The kernel's shader receives from this link (messages of ring 1).
  KernelOptions& with_link_in(const Link& link) noexcept { link_in_ = link.impl_; return *this; }

  std::size_t state_size() const noexcept { return state_size_; }
  const std::vector<std::uint8_t>& initial_state() const noexcept { return initial_state_; }
  std::uint32_t iteration_budget() const noexcept { return iteration_budget_; }
  std::uint32_t idle_iterations() const noexcept { return idle_iterations_; }
  std::size_t max_batch() const noexcept { return max_batch_; }
  const std::shared_ptr<detail::LinkImpl>& link_out() const noexcept { return link_out_; }
  const std::shared_ptr<detail::LinkImpl>& link_in() const noexcept { return link_in_; }

 private:
  std::size_t state_size_ = 256;
  std::vector<std::uint8_t> initial_state_;
  std::uint32_t iteration_budget_ = 16384;
  std::uint32_t idle_iterations_ = 4096;
  std::size_t max_batch_ = 0;
  std::shared_ptr<detail::LinkImpl> link_out_;
  std::shared_ptr<detail::LinkImpl> link_in_;
};

namespace detail {
/// Builds the Vulkan kernel body (pipeline, buffers, supervisor); used by launch().
RINGKERNEL_API std::unique_ptr<::ringkernel::detail::KernelBody> make_body(
    Runtime& runtime, const std::string& id, const Program& program, const LaunchOptions& options,
    const KernelOptions& vulkan_options, std::uint64_t in_type, std::size_t in_size, std::uint64_t out_type,
    std::size_t out_size);
}  // namespace detail

/// Launches `program` as kernel `id` on `runtime` (built with Backend::Vulkan, or Auto that
/// chose it). `In` is what hosts send it (each message a slot of ring 0), `Out` what its
/// rk_emit produces (a RINGKERNEL_MESSAGE type; a kernel that never emits still names one).
/// Returns the core's KernelHandle. Throws KernelError(BackendUnavailable) when the runtime is
/// not on Vulkan, VulkanError when a Vulkan call fails (naming it and its VkResult),
/// Error(InvalidArgument) for a link already in use or of the wrong message size, and what
/// Runtime::launch throws.
template <class In, class Out>
KernelHandle launch(Runtime& runtime, const std::string& id, const Program& program,
                    const LaunchOptions& options = LaunchOptions{}, const KernelOptions& vulkan_options = KernelOptions{}) {
  static_assert(std::is_trivially_copyable<In>::value && is_message_v<In>, "In must be a RINGKERNEL_MESSAGE type");
  static_assert(std::is_trivially_copyable<Out>::value && is_message_v<Out>, "Out must be a RINGKERNEL_MESSAGE type");
  return runtime.launch_body(id,
                             detail::make_body(runtime, id, program, options, vulkan_options, message_type_id<In>(),
                                               sizeof(In), message_type_id<Out>(), sizeof(Out)),
                             options);
}

// ============================================================================================
// V4. Shared layouts                                                              >>vk-layout
// ============================================================================================

/// Ring indices of one kernel (64-bit counters that only grow, slot = index & (capacity-1), as
/// the core's rings). Writers: in_tail, out_head — host; in_head, out_tail, the two counters —
/// the shader.
struct RingIndices {
  std::uint64_t in_head = 0;          ///< @0  messages the shader consumed from ring 0
  std::uint64_t in_tail = 0;          ///< @8  messages the host wrote to ring 0
  std::uint64_t out_head = 0;         ///< @16 outputs the host took
  std::uint64_t out_tail = 0;         ///< @24 outputs the shader wrote
  std::uint64_t dispatches_done = 0;  ///< @32 dispatches that returned
  std::uint64_t last_iterations = 0;  ///< @40 iterations the last dispatch ran
  std::uint64_t yield_request = 0;    ///< @48 host: another kernel waits for the device; an idle dispatch returns
  std::uint64_t reserved = 0;         ///< @56 zero
};
/// Binding 0 of every kernel: the core's ControlBlock and TelemetryBuffer, then the ring
/// indices; the prelude's RkSharedBlock declares the same 256 bytes. The ControlBlock's queue
/// descriptors hold the host-mapped addresses of the indices and slots, their capacity and
/// slot size (the shader reaches them through its bindings).
struct SharedBlock {
  ControlBlock control;
  TelemetryBuffer telemetry;
  RingIndices rings;
};
static_assert(offsetof(SharedBlock, control) == 0 && offsetof(SharedBlock, telemetry) == 128 &&
                  offsetof(SharedBlock, rings) == 192 && sizeof(SharedBlock) == 256,
              "SharedBlock is the layout the GLSL prelude declares");
static_assert(offsetof(RingIndices, out_tail) == 24 && offsetof(RingIndices, dispatches_done) == 32 &&
                  offsetof(RingIndices, yield_request) == 48,
              "RingIndices is the layout the GLSL prelude declares");
/// Header of a Link's buffer (binding 4 of the receiver, 5 of the sender), then the slots.
struct LinkHeader {
  std::uint64_t head = 0;        ///< @0 receiver's index
  std::uint64_t tail = 0;        ///< @8 sender's index
  std::uint32_t capacity = 0;    ///< @16 slots; 0 marks an unbound link binding
  std::uint32_t slot_words = 0;  ///< @20 32-bit words per slot
  std::uint32_t reserved[10] = {};
};
static_assert(sizeof(LinkHeader) == 64 && offsetof(LinkHeader, capacity) == 16, "LinkHeader is shared with shaders");
/// Bytes before each output slot's payload: the input's index (uint64), its ring, zero.
inline constexpr std::size_t output_slot_header = 16;

}  // namespace vulkan
}  // namespace RINGKERNEL_ABI_NAMESPACE
}  // namespace ringkernel

#endif  // RINGKERNEL_VULKAN_HPP

// ============================================================================================
// V5. Implementation                                                                >>vk-impl
// ============================================================================================
#if defined(RINGKERNEL_IMPLEMENTATION) && !defined(RINGKERNEL_VULKAN_IMPLEMENTATION)
#define RINGKERNEL_VULKAN_IMPLEMENTATION
#endif
#if defined(RINGKERNEL_VULKAN_IMPLEMENTATION) && !defined(RINGKERNEL_VULKAN_IMPLEMENTATION_DONE)
#define RINGKERNEL_VULKAN_IMPLEMENTATION_DONE

#if !defined(RINGKERNEL_VULKAN_NO_VOLK_IMPLEMENTATION)
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpedantic"
#pragma clang diagnostic ignored "-Wmissing-field-initializers"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <volk.c>
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>

namespace ringkernel {
inline namespace RINGKERNEL_ABI_NAMESPACE {
namespace vulkan {

// ---- the GLSL prelude ----------------------------------------------------------------------
const char* glsl_prelude() noexcept {
  return R"RKGLSL(// ringkernel.glsl: the ring protocol of ringkernel's Vulkan backend (written out from
// ringkernel_vulkan.hpp; do not edit). Include it right after `#version 460`, then define
//
//     bool rk_handle(RkMessage m);   // handle one message; false: not now, retry later
//
// and nothing else: this file defines main(). One invocation runs the kernel's loop.
//
// Bindings (set 0): 0 RkSharedBlock (ControlBlock, TelemetryBuffer, ring indices; the layouts
// of ringkernel.hpp), 1 input slots (ring 0, written by the host), 2 output slots, 3 the
// kernel's state: declare it yourself, e.g.
//     layout(set = 0, binding = 3, std430) buffer State { uint count; } state;
// 4 the link this kernel receives on (ring 1), 5 the link it sends on.
//
// In rk_handle: read the message with rk_u32/rk_i32/rk_f32(m, word); m.ring says where it came
// from (0: a host, 1: the input link). One output is always room: write it with
// rk_out_u32/i32/f32(word, value) and publish it with rk_emit(); emit more only after checking
// rk_out_room() >= n. Send to the output link with rk_link_u32/i32/f32 + rk_link_send(), after
// checking rk_link_room() > 0 (if there is none, return false before any other side effect:
// the message is retried). rk_fail(code) reports a device-side error: the message is not
// consumed and the host faults the kernel on it. Loops inside rk_handle count against the
// driver's loop limit: keep them short (the budget counts loop iterations of main only).
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_EXT_shader_atomic_int64 : require
#extension GL_KHR_memory_scope_semantics : require
#pragma use_vulkan_memory_model

layout(local_size_x = 1, local_size_y = 1, local_size_z = 1) in;

layout(push_constant) uniform RkPushConstants {
  uint iteration_budget;  // loop iterations this dispatch may run, idle ones included
  uint idle_limit;        // consecutive idle iterations after which it returns
  uint dispatch_index;    // dispatches of this kernel before this one
  uint reserved;
} rk_push;

layout(set = 0, binding = 0, std430) buffer RkSharedBlock {
  // ControlBlock, 128 bytes
  int is_active;
  int should_terminate;
  int has_terminated;
  int errors_encountered;
  int64_t messages_processed;
  int64_t last_activity_ticks;
  uint64_t in_head_ptr;
  uint64_t in_tail_ptr;
  uint64_t in_buffer_ptr;
  int in_capacity;
  int in_slot_size;
  uint64_t out_head_ptr;
  uint64_t out_tail_ptr;
  uint64_t out_buffer_ptr;
  int out_capacity;
  int out_slot_size;
  uint64_t control_reserved[4];
  // TelemetryBuffer, 64 bytes (the shader writes messages_processed and error_code)
  uint64_t t_messages_processed;
  uint64_t t_messages_dropped;
  int64_t t_last_processed_timestamp;
  int t_queue_depth;
  int t_reserved_a;
  uint64_t t_total_latency_nanos;
  uint64_t t_max_latency_nanos;
  uint64_t t_min_latency_nanos;
  int t_error_code;
  int t_reserved_b;
  // RingIndices, 64 bytes
  uint64_t in_head;
  uint64_t in_tail;
  uint64_t out_head;
  uint64_t out_tail;
  uint64_t dispatches_done;
  uint64_t last_iterations;
  uint64_t yield_request;  // another kernel waits for the device: return when idle
  uint64_t ring_reserved;
} rk;

layout(set = 0, binding = 1, std430) buffer RkInputSlots { uint rk_in_words[]; };
layout(set = 0, binding = 2, std430) buffer RkOutputSlots { uint rk_out_words[]; };
layout(set = 0, binding = 4, std430) buffer RkLinkIn {
  uint64_t head;
  uint64_t tail;
  uint capacity;  // 0: no input link
  uint slot_words;
  uint reserved[10];
  uint words[];
} rk_link_in;
layout(set = 0, binding = 5, std430) buffer RkLinkOut {
  uint64_t head;
  uint64_t tail;
  uint capacity;  // 0: no output link
  uint slot_words;
  uint reserved[10];
  uint words[];
} rk_link_out;

// One message handed to rk_handle: which ring, where its first word is, its index there.
struct RkMessage {
  uint ring;
  uint base;
  uint64_t index;
};

bool rk_handle(RkMessage m);

uint64_t rk_out_tail_ = 0ul;
uint64_t rk_link_tail_ = 0ul;
uint64_t rk_current_index_ = 0ul;
uint rk_current_ring_ = 0u;
bool rk_failed_ = false;

// Device-scope acquire load / release store of a ring index (macros: atomics need the buffer
// member itself, not a function parameter's copy). Loads are volatile: the other side writes
// these words while the loop runs, and a compiler that sees a loop without stores may
// otherwise read them once (llvmpipe does).
#define rk_acquire_(word)                                                \
  atomicLoad(word, gl_ScopeDevice, gl_StorageSemanticsBuffer,           \
             gl_SemanticsAcquire | gl_SemanticsMakeVisible | gl_SemanticsVolatile)
#define rk_release_(word, value) \
  atomicStore(word, value, gl_ScopeDevice, gl_StorageSemanticsBuffer, gl_SemanticsRelease | gl_SemanticsMakeAvailable)

uint rk_u32(RkMessage m, uint word) { return m.ring == 0u ? rk_in_words[m.base + word] : rk_link_in.words[m.base + word]; }
int rk_i32(RkMessage m, uint word) { return int(rk_u32(m, word)); }
float rk_f32(RkMessage m, uint word) { return uintBitsToFloat(rk_u32(m, word)); }

// Free output slots now (at least 1 when rk_handle is called).
uint rk_out_room() { return uint(uint64_t(rk.out_capacity) - (rk_out_tail_ - rk_acquire_(rk.out_head))); }
uint rk_out_base_() { return uint(rk_out_tail_ & uint64_t(rk.out_capacity - 1)) * (uint(rk.out_slot_size) >> 2u) + 4u; }
void rk_out_u32(uint word, uint value) { rk_out_words[rk_out_base_() + word] = value; }
void rk_out_i32(uint word, int value) { rk_out_u32(word, uint(value)); }
void rk_out_f32(uint word, float value) { rk_out_u32(word, floatBitsToUint(value)); }
// Publishes the output written so far, correlated with the message being handled.
void rk_emit() {
  const uint b = rk_out_base_() - 4u;
  rk_out_words[b] = uint(rk_current_index_ & 0xFFFFFFFFul);
  rk_out_words[b + 1u] = uint(rk_current_index_ >> 32u);
  rk_out_words[b + 2u] = rk_current_ring_;
  rk_out_words[b + 3u] = 0u;
  rk_out_tail_ += 1ul;
  rk_release_(rk.out_tail, rk_out_tail_);
}

// Free slots on the output link (0 when the kernel has none).
uint rk_link_room() {
  if (rk_link_out.capacity == 0u) return 0u;
  return uint(uint64_t(rk_link_out.capacity) - (rk_link_tail_ - rk_acquire_(rk_link_out.head)));
}
uint rk_link_base_() { return uint(rk_link_tail_ & uint64_t(rk_link_out.capacity - 1u)) * rk_link_out.slot_words; }
void rk_link_u32(uint word, uint value) { rk_link_out.words[rk_link_base_() + word] = value; }
void rk_link_i32(uint word, int value) { rk_link_u32(word, uint(value)); }
void rk_link_f32(uint word, float value) { rk_link_u32(word, floatBitsToUint(value)); }
void rk_link_send() {
  rk_link_tail_ += 1ul;
  rk_release_(rk_link_out.tail, rk_link_tail_);
}

// Reports a device-side error (an ErrorCode value or your own nonzero code) on this message.
void rk_fail(int code) {
  rk_failed_ = true;
  rk.t_error_code = code;
  atomicStore(rk.errors_encountered, rk.errors_encountered + 1, gl_ScopeDevice, gl_StorageSemanticsBuffer,
              gl_SemanticsRelease | gl_SemanticsMakeAvailable);
}

// The dispatch's index among this kernel's dispatches (relaunches included).
uint rk_dispatch_index() { return rk_push.dispatch_index; }

void rk_count_done_() {
  rk.messages_processed += 1l;
  rk.t_messages_processed += 1ul;
}

bool rk_try_host_(inout uint64_t head) {
  const uint64_t tail = rk_acquire_(rk.in_tail);
  if (tail == head) return false;
  RkMessage m;
  m.ring = 0u;
  m.base = uint(head & uint64_t(rk.in_capacity - 1)) * (uint(rk.in_slot_size) >> 2u);
  m.index = head;
  rk_current_index_ = head;
  rk_current_ring_ = 0u;
  if (!rk_handle(m) || rk_failed_) return false;
  head += 1ul;
  rk_count_done_();
  rk_release_(rk.in_head, head);
  return true;
}

bool rk_try_link_(inout uint64_t head) {
  if (rk_link_in.capacity == 0u) return false;
  const uint64_t tail = rk_acquire_(rk_link_in.tail);
  if (tail == head) return false;
  RkMessage m;
  m.ring = 1u;
  m.base = uint(head & uint64_t(rk_link_in.capacity - 1u)) * rk_link_in.slot_words;
  m.index = head;
  rk_current_index_ = head;
  rk_current_ring_ = 1u;
  if (!rk_handle(m) || rk_failed_) return false;
  head += 1ul;
  rk_count_done_();
  rk_release_(rk_link_in.head, head);
  return true;
}

void main() {
  uint64_t in_head = rk.in_head;
  uint64_t link_head = rk_link_in.head;
  rk_out_tail_ = rk.out_tail;
  rk_link_tail_ = rk_link_out.tail;
  bool terminate = false;
  uint idle = 0u;
  uint it = 0u;
  for (; it < rk_push.iteration_budget; ++it) {
    if (rk_acquire_(rk.should_terminate) != 0) {
      terminate = true;
      break;
    }
    if (rk_acquire_(rk.is_active) == 0) break;
    bool progressed = false;
    if (rk_out_room() > 0u) {
      // Alternate which ring goes first, so neither starves the other.
      if ((it & 1u) == 0u) {
        progressed = rk_try_host_(in_head);
        if (!progressed && !rk_failed_) progressed = rk_try_link_(link_head);
      } else {
        progressed = rk_try_link_(link_head);
        if (!progressed && !rk_failed_) progressed = rk_try_host_(in_head);
      }
    }
    if (rk_failed_) break;
    if (progressed) {
      idle = 0u;
    } else {
      idle += 1u;
      if (idle >= rk_push.idle_limit || rk_acquire_(rk.yield_request) != 0ul) break;
    }
  }
  rk.last_iterations = uint64_t(it);
  rk.dispatches_done = uint64_t(rk_push.dispatch_index) + 1ul;
  atomicStore(rk.has_terminated, terminate ? 1 : 2, gl_ScopeDevice, gl_StorageSemanticsBuffer,
              gl_SemanticsRelease | gl_SemanticsMakeAvailable);
}
)RKGLSL";
}

void write_glsl_prelude(const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << glsl_prelude();
  out.close();
  if (!out)
    ::ringkernel::detail::raise(ErrorCode::InvalidArgument, "write_glsl_prelude: cannot write '" + path + "'");
}

// ---- errors --------------------------------------------------------------------------------
const char* result_name(VkResult result) noexcept {
  switch (result) {
#define RK_VK_RESULT(name) \
  case name: return #name;
    RK_VK_RESULT(VK_SUCCESS)
    RK_VK_RESULT(VK_NOT_READY)
    RK_VK_RESULT(VK_TIMEOUT)
    RK_VK_RESULT(VK_EVENT_SET)
    RK_VK_RESULT(VK_EVENT_RESET)
    RK_VK_RESULT(VK_INCOMPLETE)
    RK_VK_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
    RK_VK_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    RK_VK_RESULT(VK_ERROR_INITIALIZATION_FAILED)
    RK_VK_RESULT(VK_ERROR_DEVICE_LOST)
    RK_VK_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
    RK_VK_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
    RK_VK_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
    RK_VK_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
    RK_VK_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
    RK_VK_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
    RK_VK_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
    RK_VK_RESULT(VK_ERROR_FRAGMENTED_POOL)
    RK_VK_RESULT(VK_ERROR_UNKNOWN)
    RK_VK_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
    RK_VK_RESULT(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    RK_VK_RESULT(VK_ERROR_FRAGMENTATION)
    RK_VK_RESULT(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
    RK_VK_RESULT(VK_PIPELINE_COMPILE_REQUIRED)
    RK_VK_RESULT(VK_ERROR_INVALID_SHADER_NV)
#undef RK_VK_RESULT
    default: break;
  }
  static thread_local char buffer[32];
  std::snprintf(buffer, sizeof buffer, "VkResult(%d)", static_cast<int>(result));
  return buffer;
}

namespace detail {
using ::ringkernel::detail::raise;

[[noreturn]] inline void fail(const char* call, VkResult result, const std::string& context) {
  raise(ErrorCode::VulkanFailure,
        context + ": " + call + " failed with " + result_name(result));
}
inline void check(VkResult result, const char* call, const std::string& context) {
  if (result != VK_SUCCESS) fail(call, result, context);
}

// ---- instance ------------------------------------------------------------------------------
struct ValidationLog {
  std::mutex mu;
  std::atomic<std::uint64_t> count{0};
  std::vector<std::string> messages;
};
inline ValidationLog& validation_log() {
  static ValidationLog* log = new ValidationLog();  // never destroyed: the callback may run at exit
  return *log;
}

VKAPI_ATTR VkBool32 VKAPI_CALL debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                              VkDebugUtilsMessageTypeFlagsEXT /*types*/,
                                              const VkDebugUtilsMessengerCallbackDataEXT* data, void* /*user*/) {
  ValidationLog& log = validation_log();
  log.count.fetch_add(1);
  const std::string text = std::string(severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error: " : "warning: ") +
                           (data != nullptr && data->pMessage != nullptr ? data->pMessage : "(no text)");
  {
    std::lock_guard<std::mutex> lk(log.mu);
    if (log.messages.size() < 64) log.messages.push_back(text);
  }
  ::ringkernel::detail::log(LogLevel::Warn, "Vulkan validation " + text);
  return VK_FALSE;
}

struct PhysicalDevice {
  VkPhysicalDevice handle = VK_NULL_HANDLE;
  DeviceInfo info;
  std::uint32_t queue_family = 0;
};

struct Device;

struct Instance {
  std::mutex mu;
  bool created = false;
  bool validation_requested = false;
  bool validation_decided = false;
  bool validation_on = false;
  PFN_vkGetInstanceProcAddr custom_loader = nullptr;  // use_loader()
  VkInstance handle = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  std::vector<PhysicalDevice> devices;
  std::vector<std::shared_ptr<Device>> opened;  // by ordinal
};
inline Instance& instance_state() {
  static Instance* s = new Instance();  // never destroyed: kernels may outlive static destruction order
  return *s;
}

inline int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
  }
}

// Creates the instance and lists devices once; caller holds s.mu.
inline void ensure_instance(Instance& s) {
  if (s.created) return;
  const char* ctx = "Vulkan instance";
  VkResult r = VK_SUCCESS;
  if (s.custom_loader != nullptr) volkInitializeCustom(s.custom_loader);
  else r = volkInitialize();
  if (r != VK_SUCCESS)
    raise(ErrorCode::VulkanFailure, std::string(ctx) + ": volkInitialize failed with " + result_name(r) +
                                        " (no Vulkan loader: libvulkan.so.1 was not found)");
  if (!s.validation_decided) {
    const char* env = std::getenv("RINGKERNEL_VULKAN_VALIDATION");
    s.validation_requested = s.validation_requested || (env != nullptr && std::strcmp(env, "1") == 0);
    s.validation_decided = true;
  }
  std::vector<const char*> layers;
  std::vector<const char*> extensions;
  if (s.validation_requested) {
    std::uint32_t n = 0;
    check(vkEnumerateInstanceLayerProperties(&n, nullptr), "vkEnumerateInstanceLayerProperties", ctx);
    std::vector<VkLayerProperties> props(n);
    check(vkEnumerateInstanceLayerProperties(&n, props.data()), "vkEnumerateInstanceLayerProperties", ctx);
    bool have = false;
    for (const VkLayerProperties& p : props) have = have || std::strcmp(p.layerName, "VK_LAYER_KHRONOS_validation") == 0;
    if (have) {
      layers.push_back("VK_LAYER_KHRONOS_validation");
      extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    } else {
      ::ringkernel::detail::log(LogLevel::Warn, "Vulkan validation requested, but VK_LAYER_KHRONOS_validation is not "
                                                "installed (Debian: vulkan-validationlayers); running without it");
    }
  }
  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = "ringkernel";
  app.pEngineName = "ringkernel";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = static_cast<std::uint32_t>(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = static_cast<std::uint32_t>(extensions.size());
  ci.ppEnabledExtensionNames = extensions.data();
  VkDebugUtilsMessengerCreateInfoEXT mi{};
  mi.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
  mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                   VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  mi.pfnUserCallback = &debug_callback;
  if (!layers.empty()) ci.pNext = &mi;  // also reports instance creation and destruction
  check(vkCreateInstance(&ci, nullptr, &s.handle), "vkCreateInstance", ctx);
  volkLoadInstance(s.handle);  // device functions through the loader's trampolines: any number of devices
  if (!layers.empty()) {
    check(vkCreateDebugUtilsMessengerEXT(s.handle, &mi, nullptr, &s.messenger), "vkCreateDebugUtilsMessengerEXT", ctx);
    s.validation_on = true;
  }
  std::uint32_t n = 0;
  check(vkEnumeratePhysicalDevices(s.handle, &n, nullptr), "vkEnumeratePhysicalDevices", ctx);
  std::vector<VkPhysicalDevice> handles(n);
  if (n != 0) check(vkEnumeratePhysicalDevices(s.handle, &n, handles.data()), "vkEnumeratePhysicalDevices", ctx);
  handles.resize(n);
  for (VkPhysicalDevice h : handles) {
    PhysicalDevice d;
    d.handle = h;
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(h, &props);
    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(h, &mem);
    d.info.name = props.deviceName;
    d.info.vendor_id = props.vendorID;
    d.info.device_id = props.deviceID;
    d.info.api_version = props.apiVersion;
    d.info.type = static_cast<DeviceType>(type_rank(props.deviceType));
    d.info.max_workgroup_invocations = props.limits.maxComputeWorkGroupInvocations;
    d.info.max_storage_buffer_range = props.limits.maxStorageBufferRange;
    d.info.max_push_constants_size = props.limits.maxPushConstantsSize;
    std::vector<bool> host_heap(mem.memoryHeapCount, false);
    for (std::uint32_t i = 0; i < mem.memoryTypeCount; ++i) {
      const VkMemoryPropertyFlags f = mem.memoryTypes[i].propertyFlags;
      if ((f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT))
        host_heap[mem.memoryTypes[i].heapIndex] = true;
    }
    for (std::uint32_t i = 0; i < mem.memoryHeapCount; ++i) {
      if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) d.info.device_local_bytes += mem.memoryHeaps[i].size;
      if (host_heap[i]) d.info.host_visible_bytes += mem.memoryHeaps[i].size;
    }
    // What a kernel needs: Vulkan 1.2, a compute queue, host-coherent memory, 64-bit integers
    // and buffer atomics, and the Vulkan memory model at device scope.
    std::string why;
    if (VK_API_VERSION_MAJOR(props.apiVersion) == 1 && VK_API_VERSION_MINOR(props.apiVersion) < 2)
      why = "Vulkan 1.2 is required, the device offers " + std::to_string(VK_API_VERSION_MAJOR(props.apiVersion)) + "." +
            std::to_string(VK_API_VERSION_MINOR(props.apiVersion));
    std::uint32_t qn = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(h, &qn, nullptr);
    std::vector<VkQueueFamilyProperties> qprops(qn);
    vkGetPhysicalDeviceQueueFamilyProperties(h, &qn, qprops.data());
    bool have_queue = false;
    for (std::uint32_t i = 0; i < qn && !have_queue; ++i)
      if (qprops[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
        d.queue_family = i;
        have_queue = true;
      }
    if (why.empty() && !have_queue) why = "no queue family supports compute";
    if (why.empty() && d.info.host_visible_bytes == 0) why = "no HOST_VISIBLE|HOST_COHERENT memory type";
    if (why.empty()) {
      VkPhysicalDeviceVulkan12Features f12{};
      f12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
      VkPhysicalDeviceFeatures2 f2{};
      f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
      f2.pNext = &f12;
      vkGetPhysicalDeviceFeatures2(h, &f2);
      if (!f2.features.shaderInt64) why = "feature shaderInt64 is missing";
      else if (!f12.shaderBufferInt64Atomics) why = "feature shaderBufferInt64Atomics is missing";
      else if (!f12.vulkanMemoryModel) why = "feature vulkanMemoryModel is missing";
      else if (!f12.vulkanMemoryModelDeviceScope) why = "feature vulkanMemoryModelDeviceScope is missing";
    }
    d.info.unsupported = why;
    s.devices.push_back(std::move(d));
  }
  std::stable_sort(s.devices.begin(), s.devices.end(), [](const PhysicalDevice& a, const PhysicalDevice& b) {
    return static_cast<int>(a.info.type) < static_cast<int>(b.info.type);
  });
  for (std::size_t i = 0; i < s.devices.size(); ++i) s.devices[i].info.ordinal = static_cast<int>(i);
  s.opened.resize(s.devices.size());
  s.created = true;
}

inline std::string no_such_device(const Instance& s, int ordinal) {
  std::string names;
  for (const PhysicalDevice& d : s.devices) names += (names.empty() ? "" : ", ") + std::to_string(d.info.ordinal) + ": " + d.info.name;
  return "Vulkan device " + std::to_string(ordinal) + " does not exist: vkEnumeratePhysicalDevices returned VK_SUCCESS with " +
         std::to_string(s.devices.size()) + " device(s)" + (names.empty() ? std::string() : " (" + names + ")");
}

// ---- logical device ------------------------------------------------------------------------
struct Device {
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice handle = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  std::uint32_t queue_family = 0;
  std::mutex queue_mu;  // vkQueueSubmit needs external synchronization
  // Kernels with a dispatch in flight, under queue_mu. A submission asks them to return when
  // idle (RingIndices::yield_request): drivers with one queue (lavapipe) run dispatches one
  // after another, so an idle spinner would hold back every other kernel's work.
  std::vector<RingIndices*> running;
  VkPhysicalDeviceMemoryProperties memory{};
  DeviceInfo info;
};

inline std::shared_ptr<Device> open_device(int ordinal) {
  Instance& s = instance_state();
  std::lock_guard<std::mutex> lk(s.mu);
  ensure_instance(s);
  if (ordinal < 0 || static_cast<std::size_t>(ordinal) >= s.devices.size())
    raise(ErrorCode::VulkanFailure, no_such_device(s, ordinal));
  if (s.opened[static_cast<std::size_t>(ordinal)]) return s.opened[static_cast<std::size_t>(ordinal)];
  const PhysicalDevice& pd = s.devices[static_cast<std::size_t>(ordinal)];
  const std::string ctx = "Vulkan device " + std::to_string(ordinal) + " (" + pd.info.name + ")";
  if (!pd.info.unsupported.empty())
    raise(ErrorCode::VulkanFailure, ctx + " cannot run ringkernel kernels: " + pd.info.unsupported);
  auto dev = std::make_shared<Device>();
  dev->physical = pd.handle;
  dev->queue_family = pd.queue_family;
  dev->info = pd.info;
  vkGetPhysicalDeviceMemoryProperties(pd.handle, &dev->memory);
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo qi{};
  qi.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
  qi.queueFamilyIndex = pd.queue_family;
  qi.queueCount = 1;
  qi.pQueuePriorities = &priority;
  VkPhysicalDeviceVulkan12Features f12{};
  f12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
  f12.shaderBufferInt64Atomics = VK_TRUE;
  f12.vulkanMemoryModel = VK_TRUE;
  f12.vulkanMemoryModelDeviceScope = VK_TRUE;
  VkPhysicalDeviceFeatures2 f2{};
  f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  f2.pNext = &f12;
  f2.features.shaderInt64 = VK_TRUE;
  VkDeviceCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
  ci.pNext = &f2;
  ci.queueCreateInfoCount = 1;
  ci.pQueueCreateInfos = &qi;
  check(vkCreateDevice(pd.handle, &ci, nullptr, &dev->handle), "vkCreateDevice", ctx);
  vkGetDeviceQueue(dev->handle, pd.queue_family, 0, &dev->queue);
  s.opened[static_cast<std::size_t>(ordinal)] = dev;
  return dev;
}

// ---- buffers -------------------------------------------------------------------------------
// A storage buffer in host-visible coherent memory, mapped for its whole life.
struct Buffer {
  VkDevice device = VK_NULL_HANDLE;
  VkBuffer handle = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkDeviceSize size = 0;
  void* mapped = nullptr;

  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() {
    if (device == VK_NULL_HANDLE) return;
    if (mapped != nullptr) vkUnmapMemory(device, memory);
    if (handle != VK_NULL_HANDLE) vkDestroyBuffer(device, handle, nullptr);
    if (memory != VK_NULL_HANDLE) vkFreeMemory(device, memory, nullptr);
  }
  template <class T>
  T* as() const noexcept { return static_cast<T*>(mapped); }
};

inline void make_buffer(Device& dev, Buffer& b, VkDeviceSize size, const std::string& ctx) {
  b.device = dev.handle;
  b.size = size;
  VkBufferCreateInfo bi{};
  bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  bi.size = size;
  bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vkCreateBuffer(dev.handle, &bi, nullptr, &b.handle), "vkCreateBuffer", ctx);
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev.handle, b.handle, &req);
  // Host-visible and coherent; cached as well when offered (the host polls these words).
  const VkMemoryPropertyFlags need = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  std::uint32_t chosen = UINT32_MAX;
  for (int pass = 0; pass < 2 && chosen == UINT32_MAX; ++pass)
    for (std::uint32_t i = 0; i < dev.memory.memoryTypeCount; ++i) {
      const VkMemoryPropertyFlags f = dev.memory.memoryTypes[i].propertyFlags;
      const VkMemoryPropertyFlags want = pass == 0 ? (need | VK_MEMORY_PROPERTY_HOST_CACHED_BIT) : need;
      if ((req.memoryTypeBits & (1u << i)) && (f & want) == want) {
        chosen = i;
        break;
      }
    }
  if (chosen == UINT32_MAX)
    raise(ErrorCode::VulkanFailure, ctx + ": no HOST_VISIBLE|HOST_COHERENT memory type fits the buffer");
  VkMemoryAllocateInfo ai{};
  ai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = chosen;
  check(vkAllocateMemory(dev.handle, &ai, nullptr, &b.memory), "vkAllocateMemory", ctx);
  check(vkBindBufferMemory(dev.handle, b.handle, b.memory, 0), "vkBindBufferMemory", ctx);
  check(vkMapMemory(dev.handle, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped), "vkMapMemory", ctx);
  std::memset(b.mapped, 0, static_cast<std::size_t>(size));
}

inline std::size_t round16(std::size_t n) { return (n + 15) & ~std::size_t{15}; }

// ---- links ---------------------------------------------------------------------------------
struct LinkImpl {
  std::shared_ptr<Device> device;
  int ordinal = 0;
  Buffer buffer;
  std::size_t capacity = 0;
  std::size_t message_size = 0;
  std::atomic<bool> sender_bound{false};
  std::atomic<bool> receiver_bound{false};
  LinkHeader* header() const noexcept { return buffer.as<LinkHeader>(); }
};

// ---- the kernel body -----------------------------------------------------------------------
using ::ringkernel::detail::KernelBody;
using ::ringkernel::detail::KernelCore;
using ::ringkernel::detail::Packet;
using ::ringkernel::detail::CoreRunState;

struct PushConstants {
  std::uint32_t iteration_budget;
  std::uint32_t idle_limit;
  std::uint32_t dispatch_index;
  std::uint32_t reserved;
};

class VulkanBody final : public KernelBody {
 public:
  VulkanBody(std::shared_ptr<Device> dev, std::string id, const Program& program, const LaunchOptions& options,
             const KernelOptions& vopts, std::uint64_t in_type, std::size_t in_size, std::uint64_t out_type,
             std::size_t out_size)
      : dev_(std::move(dev)),
        ctx_("Vulkan kernel '" + id + "' (program '" + program.name() + "')"),
        event_driven_(options.mode() == KernelMode::EventDriven),
        capacity_(options.queue_capacity()),
        in_type_(in_type),
        in_size_(in_size),
        out_type_(out_type),
        out_size_(out_size),
        in_slot_(round16(in_size)),
        out_slot_(output_slot_header + round16(out_size)),
        budget_(vopts.iteration_budget()),
        idle_limit_(event_driven_ ? 1u : vopts.idle_iterations()),
        max_batch_(vopts.max_batch() == 0 ? options.queue_capacity() : std::min(vopts.max_batch(), options.queue_capacity())),
        link_in_(vopts.link_in()),
        link_out_(vopts.link_out()) {
#if defined(RINGKERNEL_NO_EXCEPTIONS)
    build(program, vopts);  // a failure aborts
#else
    try {
      build(program, vopts);
    } catch (...) {
      destroy();  // the Vulkan objects made so far; the buffers are members
      throw;
    }
#endif
  }
  ~VulkanBody() override { destroy(); }
  VulkanBody(const VulkanBody&) = delete;
  VulkanBody& operator=(const VulkanBody&) = delete;

  std::uint64_t input_type_id() const noexcept override { return in_type_; }
  std::size_t input_size() const noexcept override { return in_size_; }
  const char* handler_name() const noexcept override { return ctx_.c_str(); }
  Backend backend() const noexcept override { return Backend::Vulkan; }

  void run(KernelCore& core) override {
    RINGKERNEL_DETAIL_TRY { supervise(core); }
    RINGKERNEL_DETAIL_CATCH_STD(e) { fault_all(core, RINGKERNEL_DETAIL_WHAT(e)); }
    RINGKERNEL_DETAIL_CATCH_ALL { fault_all(core, "a non-std exception"); }
  }

 private:
  struct InFlight {
    Packet in;
    Packet reply;
    bool has_reply = false;
  };

  SharedBlock& shared() const noexcept { return *shared_buf_.as<SharedBlock>(); }
  RingIndices& rings() const noexcept { return shared().rings; }

  void build(const Program& program, const KernelOptions& vopts) {
    VkDevice d = dev_->handle;
    if (link_in_) {
      if (link_in_->device != dev_)
        raise(ErrorCode::InvalidArgument, ctx_ + ": its input link lives on another device");
      if (link_in_->message_size < in_size_)
        raise(ErrorCode::InvalidArgument, ctx_ + ": its input link carries " + std::to_string(link_in_->message_size) +
                                              "-byte messages, smaller than its " + std::to_string(in_size_) + "-byte input type");
      if (link_in_->receiver_bound.exchange(true))
        raise(ErrorCode::InvalidArgument, ctx_ + ": its input link already has a receiving kernel");
      owns_link_in_ = true;
    }
    if (link_out_) {
      if (link_out_->device != dev_)
        raise(ErrorCode::InvalidArgument, ctx_ + ": its output link lives on another device");
      if (link_out_->sender_bound.exchange(true))
        raise(ErrorCode::InvalidArgument, ctx_ + ": its output link already has a sending kernel");
      owns_link_out_ = true;
    }
    make_buffer(*dev_, shared_buf_, sizeof(SharedBlock), ctx_);
    if ((reinterpret_cast<std::uintptr_t>(shared_buf_.mapped) % alignof(SharedBlock)) != 0)
      raise(ErrorCode::VulkanFailure, ctx_ + ": vkMapMemory returned memory not aligned to 128 bytes");
    SharedBlock* sb = new (shared_buf_.mapped) SharedBlock();
    make_buffer(*dev_, in_buf_, capacity_ * in_slot_, ctx_);
    make_buffer(*dev_, out_buf_, capacity_ * out_slot_, ctx_);
    const std::size_t state_size = std::max(vopts.state_size(), vopts.initial_state().size());
    make_buffer(*dev_, state_buf_, round16(state_size), ctx_);
    if (!vopts.initial_state().empty())
      std::memcpy(state_buf_.mapped, vopts.initial_state().data(), vopts.initial_state().size());
    if (!link_in_) make_buffer(*dev_, dummy_in_, sizeof(LinkHeader) + 16, ctx_);
    if (!link_out_) make_buffer(*dev_, dummy_out_, sizeof(LinkHeader) + 16, ctx_);
    // The core's queue descriptors, with host addresses (see SharedBlock).
    sb->control.input_queue.head_ptr = reinterpret_cast<std::uint64_t>(&sb->rings.in_head);
    sb->control.input_queue.tail_ptr = reinterpret_cast<std::uint64_t>(&sb->rings.in_tail);
    sb->control.input_queue.buffer_ptr = reinterpret_cast<std::uint64_t>(in_buf_.mapped);
    sb->control.input_queue.capacity = static_cast<std::int32_t>(capacity_);
    sb->control.input_queue.message_size = static_cast<std::int32_t>(in_slot_);
    sb->control.output_queue.head_ptr = reinterpret_cast<std::uint64_t>(&sb->rings.out_head);
    sb->control.output_queue.tail_ptr = reinterpret_cast<std::uint64_t>(&sb->rings.out_tail);
    sb->control.output_queue.buffer_ptr = reinterpret_cast<std::uint64_t>(out_buf_.mapped);
    sb->control.output_queue.capacity = static_cast<std::int32_t>(capacity_);
    sb->control.output_queue.message_size = static_cast<std::int32_t>(out_slot_);

    VkShaderModuleCreateInfo si{};
    si.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
    si.codeSize = program.words().size() * sizeof(std::uint32_t);
    si.pCode = program.words().data();
    check(vkCreateShaderModule(d, &si, nullptr, &module_), "vkCreateShaderModule", ctx_);
    VkDescriptorSetLayoutBinding bindings[6];
    for (std::uint32_t i = 0; i < 6; ++i) {
      bindings[i] = VkDescriptorSetLayoutBinding{};
      bindings[i].binding = i;
      bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      bindings[i].descriptorCount = 1;
      bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo li{};
    li.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
    li.bindingCount = 6;
    li.pBindings = bindings;
    check(vkCreateDescriptorSetLayout(d, &li, nullptr, &set_layout_), "vkCreateDescriptorSetLayout", ctx_);
    VkPushConstantRange pr{};
    pr.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    pr.size = sizeof(PushConstants);
    VkPipelineLayoutCreateInfo pli{};
    pli.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
    pli.setLayoutCount = 1;
    pli.pSetLayouts = &set_layout_;
    pli.pushConstantRangeCount = 1;
    pli.pPushConstantRanges = &pr;
    check(vkCreatePipelineLayout(d, &pli, nullptr, &pipeline_layout_), "vkCreatePipelineLayout", ctx_);
    VkComputePipelineCreateInfo ci{};
    ci.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
    ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = module_;
    ci.stage.pName = "main";
    ci.layout = pipeline_layout_;
    check(vkCreateComputePipelines(d, VK_NULL_HANDLE, 1, &ci, nullptr, &pipeline_), "vkCreateComputePipelines", ctx_);
    VkDescriptorPoolSize ps{};
    ps.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    ps.descriptorCount = 6;
    VkDescriptorPoolCreateInfo dpi{};
    dpi.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
    dpi.maxSets = 1;
    dpi.poolSizeCount = 1;
    dpi.pPoolSizes = &ps;
    check(vkCreateDescriptorPool(d, &dpi, nullptr, &pool_), "vkCreateDescriptorPool", ctx_);
    VkDescriptorSetAllocateInfo dai{};
    dai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
    dai.descriptorPool = pool_;
    dai.descriptorSetCount = 1;
    dai.pSetLayouts = &set_layout_;
    check(vkAllocateDescriptorSets(d, &dai, &set_), "vkAllocateDescriptorSets", ctx_);
    const Buffer* bufs[6] = {&shared_buf_, &in_buf_, &out_buf_, &state_buf_, link_in_ ? &link_in_->buffer : &dummy_in_,
                             link_out_ ? &link_out_->buffer : &dummy_out_};
    VkDescriptorBufferInfo infos[6];
    VkWriteDescriptorSet writes[6];
    for (std::uint32_t i = 0; i < 6; ++i) {
      infos[i] = VkDescriptorBufferInfo{bufs[i]->handle, 0, VK_WHOLE_SIZE};
      writes[i] = VkWriteDescriptorSet{};
      writes[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
      writes[i].dstSet = set_;
      writes[i].dstBinding = i;
      writes[i].descriptorCount = 1;
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &infos[i];
    }
    vkUpdateDescriptorSets(d, 6, writes, 0, nullptr);
    VkCommandPoolCreateInfo cpi{};
    cpi.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
    cpi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    cpi.queueFamilyIndex = dev_->queue_family;
    check(vkCreateCommandPool(d, &cpi, nullptr, &cmd_pool_), "vkCreateCommandPool", ctx_);
    VkCommandBufferAllocateInfo cai{};
    cai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
    cai.commandPool = cmd_pool_;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    check(vkAllocateCommandBuffers(d, &cai, &cmd_), "vkAllocateCommandBuffers", ctx_);
    VkFenceCreateInfo fi{};
    fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
    check(vkCreateFence(d, &fi, nullptr, &fence_), "vkCreateFence", ctx_);
  }

  void destroy() noexcept {
    VkDevice d = dev_ ? dev_->handle : VK_NULL_HANDLE;
    if (d != VK_NULL_HANDLE) {
      if (submitted_ && fence_ != VK_NULL_HANDLE) (void)vkWaitForFences(d, 1, &fence_, VK_TRUE, UINT64_MAX);
      if (submitted_) finished();
      if (fence_ != VK_NULL_HANDLE) vkDestroyFence(d, fence_, nullptr);
      if (cmd_pool_ != VK_NULL_HANDLE) vkDestroyCommandPool(d, cmd_pool_, nullptr);
      if (pool_ != VK_NULL_HANDLE) vkDestroyDescriptorPool(d, pool_, nullptr);
      if (pipeline_ != VK_NULL_HANDLE) vkDestroyPipeline(d, pipeline_, nullptr);
      if (pipeline_layout_ != VK_NULL_HANDLE) vkDestroyPipelineLayout(d, pipeline_layout_, nullptr);
      if (set_layout_ != VK_NULL_HANDLE) vkDestroyDescriptorSetLayout(d, set_layout_, nullptr);
      if (module_ != VK_NULL_HANDLE) vkDestroyShaderModule(d, module_, nullptr);
    }
    fence_ = VK_NULL_HANDLE;
    cmd_pool_ = VK_NULL_HANDLE;
    pool_ = VK_NULL_HANDLE;
    pipeline_ = VK_NULL_HANDLE;
    pipeline_layout_ = VK_NULL_HANDLE;
    set_layout_ = VK_NULL_HANDLE;
    module_ = VK_NULL_HANDLE;
    if (owns_link_in_) link_in_->receiver_bound.store(false);
    if (owns_link_out_) link_out_->sender_bound.store(false);
    owns_link_in_ = owns_link_out_ = false;
  }

  // ---- device side ----
  void submit() {
    VkDevice d = dev_->handle;
    check(vkResetFences(d, 1, &fence_), "vkResetFences", ctx_);
    check(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer", ctx_);
    VkCommandBufferBeginInfo bi{};
    bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer", ctx_);
    vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline_);
    vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline_layout_, 0, 1, &set_, 0, nullptr);
    const PushConstants pc{budget_, idle_limit_, static_cast<std::uint32_t>(dispatches_), 0};
    vkCmdPushConstants(cmd_, pipeline_layout_, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pc, &pc);
    vkCmdDispatch(cmd_, 1, 1, 1);
    VkMemoryBarrier mb{};
    mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0,
                         nullptr);
    check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer", ctx_);
    ::ringkernel::detail::atomic_store(&shared().control.has_terminated, 0);
    ::ringkernel::detail::atomic_store(&rings().yield_request, std::uint64_t{0});
    VkSubmitInfo si{};
    si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    {
      std::lock_guard<std::mutex> lk(dev_->queue_mu);
      check(vkQueueSubmit(dev_->queue, 1, &si, fence_), "vkQueueSubmit", ctx_);
      for (RingIndices* other : dev_->running) ::ringkernel::detail::atomic_store(&other->yield_request, std::uint64_t{1});
      dev_->running.push_back(&rings());
    }
    submitted_ = true;
    ++dispatches_;
  }
  // True once the running dispatch returned (checks the shader's own flag first: cheaper).
  bool dispatch_done(bool force_check) {
    if (!submitted_) return true;
    if (!force_check && ::ringkernel::detail::atomic_load(&shared().control.has_terminated) == 0) return false;
    const VkResult r = vkGetFenceStatus(dev_->handle, fence_);
    if (r == VK_NOT_READY) return false;
    check(r, "vkGetFenceStatus", ctx_);
    finished();
    return true;
  }
  // The dispatch returned: no longer asked to yield.
  void finished() noexcept {
    submitted_ = false;
    std::lock_guard<std::mutex> lk(dev_->queue_mu);
    auto& running = dev_->running;
    running.erase(std::remove(running.begin(), running.end(), &rings()), running.end());
  }
  void wait_dispatch() {
    if (!submitted_) return;
    // A dispatch runs at most its iteration budget; a stuck one is reported, not waited on forever.
    const VkResult r = vkWaitForFences(dev_->handle, 1, &fence_, VK_TRUE, 30ull * 1000 * 1000 * 1000);
    check(r, "vkWaitForFences", ctx_);
    finished();
  }

  // ---- host side of the rings ----
  bool ring_room() const noexcept {
    return rings().in_tail - ::ringkernel::detail::atomic_load(&rings().in_head) < capacity_;
  }
  void push(KernelCore& /*core*/, Packet&& p, std::deque<InFlight>& inflight) {
    if (p.type_id != in_type_ || p.size != in_size_) {
      // The core checks types on send; this guards the device ring against anything else.
      mismatch_ = std::move(p);
      device_fault_ = ctx_ + ": a message of type " + std::to_string(mismatch_.type_id) + " and " +
                      std::to_string(mismatch_.size) + " bytes is not its input type";
      has_mismatch_ = true;
      return;
    }
    const std::uint64_t tail = rings().in_tail;
    unsigned char* slot = static_cast<unsigned char*>(in_buf_.mapped) + (tail & (capacity_ - 1)) * in_slot_;
    std::memcpy(slot, p.data(), in_size_);
    inflight.push_back(InFlight{std::move(p), Packet{}, false});
    ::ringkernel::detail::atomic_store(&rings().in_tail, tail + 1);
  }
  bool link_pending() const noexcept {
    if (!link_in_) return false;
    const LinkHeader* h = link_in_->header();
    return ::ringkernel::detail::atomic_load(&h->tail) != ::ringkernel::detail::atomic_load(&h->head);
  }
  // Publishes what the device finished: outputs, then completed inputs (their last output as
  // the return value, after they are counted). True if anything moved.
  bool collect(KernelCore& core, std::deque<InFlight>& inflight) {
    const std::uint64_t done = ::ringkernel::detail::atomic_load(&rings().in_head);
    const std::uint64_t out_tail = ::ringkernel::detail::atomic_load(&rings().out_tail);
    std::uint64_t out_head = rings().out_head;
    const bool moved = out_head != out_tail || done != completed_;
    const std::uint64_t first_seq = completed_;
    for (; out_head != out_tail; ++out_head) {
      const unsigned char* slot = static_cast<const unsigned char*>(out_buf_.mapped) + (out_head & (capacity_ - 1)) * out_slot_;
      std::uint32_t head_words[4];
      std::memcpy(head_words, slot, sizeof head_words);
      const std::uint64_t seq = head_words[0] | (static_cast<std::uint64_t>(head_words[1]) << 32);
      Packet out;
      out.type_id = out_type_;
      out.assign(slot + output_slot_header, out_size_);
      if (head_words[2] == 0 && seq >= first_seq && seq - first_seq < inflight.size()) {
        InFlight& f = inflight[static_cast<std::size_t>(seq - first_seq)];
        if (f.has_reply) ::ringkernel::detail::core_emit(core, std::move(f.reply), f.in.correlation_id);
        f.reply = std::move(out);
        f.has_reply = true;
      } else {
        ::ringkernel::detail::core_emit(core, std::move(out), 0);  // from the link: no host request
      }
    }
    ::ringkernel::detail::atomic_store(&rings().out_head, out_head);
    while (completed_ < done && !inflight.empty()) {
      InFlight& f = inflight.front();
      ::ringkernel::detail::core_done(core, f.in, f.has_reply ? &f.reply : nullptr);
      inflight.pop_front();
      ++completed_;
    }
    const std::int32_t errors = ::ringkernel::detail::atomic_load(&shared().control.errors_encountered);
    if (errors != errors_seen_) {
      errors_seen_ = errors;
      const std::int32_t code = ::ringkernel::detail::atomic_load(&shared().telemetry.error_code);
      device_fault_ = ctx_ + ": the shader reported error code " + std::to_string(code) + " (rk_fail)";
    }
    return moved;
  }
  // After the dispatch stopped: messages it never consumed go back to the front of the queue.
  void give_back(KernelCore& core, std::deque<InFlight>& inflight) {
    while (!inflight.empty()) {
      ::ringkernel::detail::core_return(core, std::move(inflight.back().in));
      inflight.pop_back();
    }
    ::ringkernel::detail::atomic_store(&rings().in_tail, completed_);
  }
  // Faults the kernel on the message the device stopped at (or the mismatched one), gives the
  // others back, and leaves the device idle.
  void fault_all(KernelCore& core, const char* what) {
    Packet culprit;
    std::deque<InFlight> rest;
    rest.swap(inflight_);
    if (has_mismatch_) {
      culprit = std::move(mismatch_);
    } else if (!rest.empty()) {
      culprit = std::move(rest.front().in);
      rest.pop_front();
    }
    ::ringkernel::detail::core_fault(core, culprit, what);
    while (!rest.empty()) {
      ::ringkernel::detail::core_return(core, std::move(rest.back().in));
      rest.pop_back();
    }
    if (submitted_) {
      ::ringkernel::detail::atomic_store(&shared().control.should_terminate, 1);
      if (vkWaitForFences(dev_->handle, 1, &fence_, VK_TRUE, 30ull * 1000 * 1000 * 1000) == VK_SUCCESS) finished();
    }
    ::ringkernel::detail::core_release(core);
  }

  // Waits (polling; the link has no doorbell) for a host message or link traffic. False when
  // the kernel is no longer runnable.
  bool poll_for_work(KernelCore& core, std::deque<InFlight>& inflight) {
    for (unsigned n = 0;; ++n) {
      if (::ringkernel::detail::core_run_state(core) != CoreRunState::Runnable) return false;
      Packet p;
      if (::ringkernel::detail::core_try_next(core, p)) {
        push(core, std::move(p), inflight);
        return true;
      }
      if (link_pending()) return true;
      if (n < 64) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(n < 1024 ? 20 : 200));
    }
  }

  // The supervisor: the kernel's whole host-side life on its worker thread.
  void supervise(KernelCore& core) {
    using ::ringkernel::detail::atomic_load;
    using ::ringkernel::detail::atomic_store;
    std::deque<InFlight>& inflight = inflight_;
    SharedBlock& sb = shared();
    atomic_store(&sb.control.is_active, 1);
    {
      for (unsigned idle_polls = 0;;) {
        if (!device_fault_.empty()) {
          const std::string why = device_fault_;
          device_fault_.clear();
          if (submitted_) wait_dispatch();
          collect(core, inflight);
          fault_all(core, why.c_str());
          return;
        }
        const CoreRunState rs = ::ringkernel::detail::core_run_state(core);
        if (rs != CoreRunState::Runnable) {
          // Pause or stop: let the dispatch return, publish what it finished, give the rest back.
          atomic_store(&sb.control.is_active, 0);
          if (rs == CoreRunState::Stopping) atomic_store(&sb.control.should_terminate, 1);
          wait_dispatch();
          collect(core, inflight);
          if (!device_fault_.empty()) continue;
          give_back(core, inflight);
          ::ringkernel::detail::core_release(core);
          if (rs == CoreRunState::Stopping) {
            atomic_store(&sb.control.has_terminated, 1);
            return;
          }
          Packet p;
          if (link_in_) {
            while (::ringkernel::detail::core_run_state(core) == CoreRunState::Paused)
              std::this_thread::sleep_for(std::chrono::microseconds(200));
            continue;
          }
          if (!::ringkernel::detail::core_next(core, p)) continue;
          atomic_store(&sb.control.is_active, 1);
          push(core, std::move(p), inflight);
          continue;
        }
        atomic_store(&sb.control.is_active, 1);
        // Feed the device ring from the inbox.
        std::size_t fed = 0;
        while (inflight.size() < max_batch_ && ring_room()) {
          Packet p;
          if (!::ringkernel::detail::core_try_next(core, p)) break;
          push(core, std::move(p), inflight);
          if (++fed == 256 && !event_driven_) break;  // keep outputs flowing while streaming
        }
        if (inflight.empty() && !link_in_ && submitted_) {
          // Nothing in flight and no link: only a host message can give the running dispatch
          // work, so park on the inbox instead of spinning beside it (it returns on its own
          // after its idle iterations; a message that arrives after that gets a new dispatch).
          ::ringkernel::detail::core_release(core);
          Packet p;
          if (!::ringkernel::detail::core_next(core, p)) continue;
          push(core, std::move(p), inflight);
          if (dispatch_done(true)) submit();
          continue;
        }
        if (!submitted_) {
          if (inflight.empty() && !link_pending()) {
            // Nothing to do on the device: park until there is.
            ::ringkernel::detail::core_release(core);
            if (link_in_) {
              if (!poll_for_work(core, inflight)) continue;
            } else {
              Packet p;
              if (!::ringkernel::detail::core_next(core, p)) continue;
              push(core, std::move(p), inflight);
            }
          }
          submit();
          if (event_driven_) {
            wait_dispatch();
            collect(core, inflight);
            continue;
          }
        }
        bool progressed = collect(core, inflight) || fed != 0;
        if (dispatch_done(idle_polls % 1024 == 1023)) {
          progressed = collect(core, inflight) || progressed;
        }
        if (progressed) {
          idle_polls = 0;
        } else if (++idle_polls % 64 == 0) {
          std::this_thread::yield();  // two cores: never starve the device's own threads
        }
      }
    }
  }

  std::shared_ptr<Device> dev_;
  std::string ctx_;
  bool event_driven_;
  std::size_t capacity_;
  std::uint64_t in_type_;
  std::size_t in_size_;
  std::uint64_t out_type_;
  std::size_t out_size_;
  std::size_t in_slot_;
  std::size_t out_slot_;
  std::uint32_t budget_;
  std::uint32_t idle_limit_;
  std::size_t max_batch_;
  std::shared_ptr<LinkImpl> link_in_;
  std::shared_ptr<LinkImpl> link_out_;
  bool owns_link_in_ = false;
  bool owns_link_out_ = false;

  Buffer shared_buf_, in_buf_, out_buf_, state_buf_, dummy_in_, dummy_out_;
  VkShaderModule module_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout pipeline_layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkDescriptorSet set_ = VK_NULL_HANDLE;
  VkCommandPool cmd_pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  bool submitted_ = false;
  std::uint64_t dispatches_ = 0;
  std::uint64_t completed_ = 0;  // inputs the device consumed and the host published
  std::int32_t errors_seen_ = 0;
  std::string device_fault_;  // set when the shader or the ring reports a fault; the loop acts on it
  Packet mismatch_;
  bool has_mismatch_ = false;
  std::deque<InFlight> inflight_;
};

// ---- backend provider ----------------------------------------------------------------------
class Provider final : public BackendProvider {
 public:
  Backend kind() const noexcept override { return Backend::Vulkan; }
  std::string probe(int ordinal) override {
    RINGKERNEL_DETAIL_TRY {
      (void)open_device(ordinal);
      return std::string();
    }
    RINGKERNEL_DETAIL_CATCH_STD(e) { return RINGKERNEL_DETAIL_WHAT(e); }
    RINGKERNEL_DETAIL_CATCH_ALL { return "an unknown error while opening the device"; }
  }
  std::string probe_for_auto(int ordinal) override {
    RINGKERNEL_DETAIL_TRY {
      const DeviceInfo info = device_info(ordinal);
      if (info.type == DeviceType::Cpu)
        return "device " + std::to_string(ordinal) + " (" + info.name +
               ") is a CPU implementation of Vulkan; the CPU backend runs the same kernels natively";
    }
    RINGKERNEL_DETAIL_CATCH_STD(e) { return RINGKERNEL_DETAIL_WHAT(e); }
    RINGKERNEL_DETAIL_CATCH_ALL { return "an unknown error while listing devices"; }
    return probe(ordinal);
  }
};

struct ProviderRegistrar {
  ProviderRegistrar() { register_backend_provider(std::make_shared<Provider>()); }
};
static const ProviderRegistrar provider_registrar;

std::unique_ptr<KernelBody> make_body(Runtime& runtime, const std::string& id, const Program& program,
                                      const LaunchOptions& options, const KernelOptions& vulkan_options,
                                      std::uint64_t in_type, std::size_t in_size, std::uint64_t out_type,
                                      std::size_t out_size) {
  if (runtime.backend() != Backend::Vulkan)
    ::ringkernel::detail::raise(ErrorCode::BackendUnavailable,
                                "vulkan::launch '" + id + "': the runtime runs on the " + to_string(runtime.backend()) +
                                    " backend; build it with Backend::Vulkan");
  if (id.empty()) raise(ErrorCode::InvalidArgument, "vulkan::launch: the kernel id must not be empty");
  return std::unique_ptr<KernelBody>(new VulkanBody(open_device(runtime.device()), id, program, options, vulkan_options,
                                                    in_type, in_size, out_type, out_size));
}
}  // namespace detail

// ---- public functions ----------------------------------------------------------------------
const char* to_string(DeviceType type) noexcept {
  switch (type) {
    case DeviceType::Discrete: return "Discrete";
    case DeviceType::Integrated: return "Integrated";
    case DeviceType::Virtual: return "Virtual";
    case DeviceType::Cpu: return "Cpu";
    case DeviceType::Other: return "Other";
  }
  return "Unknown";
}

std::vector<DeviceInfo> enumerate_devices() {
  detail::Instance& s = detail::instance_state();
  std::lock_guard<std::mutex> lk(s.mu);
  detail::ensure_instance(s);
  std::vector<DeviceInfo> out;
  for (const detail::PhysicalDevice& d : s.devices) out.push_back(d.info);
  return out;
}

DeviceInfo device_info(int ordinal) {
  detail::Instance& s = detail::instance_state();
  std::lock_guard<std::mutex> lk(s.mu);
  detail::ensure_instance(s);
  if (ordinal < 0 || static_cast<std::size_t>(ordinal) >= s.devices.size())
    detail::raise(ErrorCode::VulkanFailure, detail::no_such_device(s, ordinal));
  return s.devices[static_cast<std::size_t>(ordinal)].info;
}

DeviceAccess device_access(int ordinal) {
  const std::shared_ptr<detail::Device> dev = detail::open_device(ordinal);
  DeviceAccess a;
  a.ordinal = ordinal;
  a.instance = detail::instance_state().handle;  // set once, before any device opens; never changes
  a.physical_device = dev->physical;
  a.device = dev->handle;
  a.queue = dev->queue;
  a.queue_family = dev->queue_family;
  a.memory = dev->memory;
  a.info = dev->info;
  return a;
}

VkResult queue_submit(int ordinal, std::uint32_t count, const VkSubmitInfo* submits, VkFence fence) {
  const std::shared_ptr<detail::Device> dev = detail::open_device(ordinal);
  std::lock_guard<std::mutex> lk(dev->queue_mu);
  for (RingIndices* other : dev->running) ::ringkernel::detail::atomic_store(&other->yield_request, std::uint64_t{1});
  return vkQueueSubmit(dev->queue, count, submits, fence);
}

int find_device(const std::string& name_part) {
  std::string names;
  for (const DeviceInfo& d : enumerate_devices()) {
    if (d.name.find(name_part) != std::string::npos) return d.ordinal;
    names += (names.empty() ? "" : ", ") + d.name;
  }
  detail::raise(ErrorCode::BackendUnavailable, "no Vulkan device name contains '" + name_part + "' (devices: " +
                                                   (names.empty() ? std::string("none") : names) + ")");
}

void enable_validation(bool on) {
  detail::Instance& s = detail::instance_state();
  std::lock_guard<std::mutex> lk(s.mu);
  if (s.created) {
    if (s.validation_requested != on)
      detail::raise(ErrorCode::InvalidState, std::string("vulkan::enable_validation(") + (on ? "true" : "false") +
                                                 "): the Vulkan instance already exists; call it before the first Vulkan use");
    return;
  }
  s.validation_requested = on;
  s.validation_decided = on;  // on: decided; off: the environment may still ask for it
}

void use_loader(PFN_vkGetInstanceProcAddr get_instance_proc_addr) {
  if (get_instance_proc_addr == nullptr)
    detail::raise(ErrorCode::InvalidArgument, "vulkan::use_loader: the vkGetInstanceProcAddr pointer is null");
  detail::Instance& s = detail::instance_state();
  std::lock_guard<std::mutex> lk(s.mu);
  if (s.created)
    detail::raise(ErrorCode::InvalidState, "vulkan::use_loader: the Vulkan instance already exists; call it before the first Vulkan use");
  s.custom_loader = get_instance_proc_addr;
}

bool validation_active() noexcept {
  detail::Instance& s = detail::instance_state();
  std::lock_guard<std::mutex> lk(s.mu);
  return s.validation_on;
}

std::uint64_t validation_message_count() noexcept { return detail::validation_log().count.load(); }

std::vector<std::string> validation_messages() {
  detail::ValidationLog& log = detail::validation_log();
  std::lock_guard<std::mutex> lk(log.mu);
  return log.messages;
}

Program Program::from_spirv(const std::uint32_t* words, std::size_t count, std::string name) {
  const std::string ctx = "vulkan::Program '" + name + "'";
  auto bad = [&](const std::string& why) {
    detail::raise(ErrorCode::VulkanFailure,
                  ctx + ": not a usable SPIR-V module: " + why + " (refused before vkCreateShaderModule)");
  };
  if (words == nullptr || count < 5) bad(std::to_string(count) + " words, a module has at least a 5-word header");
  if (words[0] == 0x03022307u) bad("the words are byte-swapped (big-endian SPIR-V)");
  if (words[0] != 0x07230203u) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", words[0]);
    bad(std::string("word 0 is ") + hex + ", not the SPIR-V magic number 0x07230203");
  }
  bool has_main = false;
  for (std::size_t i = 5; i < count;) {
    const std::uint32_t word_count = words[i] >> 16;
    const std::uint32_t opcode = words[i] & 0xFFFFu;
    if (word_count == 0 || i + word_count > count)
      bad("the instruction at word " + std::to_string(i) + " (opcode " + std::to_string(opcode) + ", " +
          std::to_string(word_count) + " words) does not fit in the " + std::to_string(count) + "-word module");
    // OpEntryPoint (15): execution model, id, then the NUL-terminated name.
    if (opcode == 15 && word_count >= 4 && words[i + 1] == 5 /* GLCompute */) {
      const char* entry = reinterpret_cast<const char*>(&words[i + 3]);
      const std::size_t max_len = (word_count - 3) * 4;
      has_main = has_main || (std::strncmp(entry, "main", max_len) == 0 && max_len >= 5);
    }
    i += word_count;
  }
  if (!has_main) bad("it has no OpEntryPoint GLCompute named \"main\"");
  return Program(std::vector<std::uint32_t>(words, words + count), std::move(name));
}

Program Program::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) detail::raise(ErrorCode::InvalidArgument, "vulkan::Program::from_file: cannot open '" + path + "'");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() % 4 != 0)
    detail::raise(ErrorCode::VulkanFailure, "vulkan::Program '" + path + "': " + std::to_string(bytes.size()) +
                                                " bytes is not a whole number of SPIR-V words");
  std::vector<std::uint32_t> words(bytes.size() / 4);
  if (!words.empty()) std::memcpy(words.data(), bytes.data(), bytes.size());
  return from_spirv(words.data(), words.size(), path);
}

Link Link::create(Runtime& runtime, std::size_t capacity, std::size_t message_size) {
  if (!::ringkernel::detail::is_pow2(capacity) || capacity > (std::size_t{1} << 24))
    detail::raise(ErrorCode::InvalidArgument, "vulkan::Link: capacity must be a power of two up to 2^24, got " +
                                                  std::to_string(capacity));
  if (message_size == 0 || message_size > 64 * 1024)
    detail::raise(ErrorCode::InvalidArgument, "vulkan::Link: message_size must be 1..65536 bytes, got " +
                                                  std::to_string(message_size));
  auto impl = std::make_shared<detail::LinkImpl>();
  impl->ordinal = runtime.device();
  impl->device = detail::open_device(impl->ordinal);
  impl->capacity = capacity;
  impl->message_size = message_size;
  const std::size_t slot = detail::round16(message_size);
  detail::make_buffer(*impl->device, impl->buffer, sizeof(LinkHeader) + capacity * slot, "vulkan::Link");
  LinkHeader* h = new (impl->buffer.mapped) LinkHeader();
  h->capacity = static_cast<std::uint32_t>(capacity);
  h->slot_words = static_cast<std::uint32_t>(slot / 4);
  return Link(std::move(impl));
}
std::size_t Link::capacity() const noexcept { return impl_->capacity; }
std::size_t Link::message_size() const noexcept { return impl_->message_size; }
std::uint64_t Link::pending() const noexcept {
  const LinkHeader* h = impl_->header();
  return ::ringkernel::detail::atomic_load(&h->tail) - ::ringkernel::detail::atomic_load(&h->head);
}

KernelOptions& KernelOptions::with_state_size(std::size_t bytes) {
  if (bytes == 0 || bytes > (std::size_t{1} << 30))
    detail::raise(ErrorCode::InvalidArgument, "vulkan::KernelOptions::with_state_size: 1..2^30 bytes, got " + std::to_string(bytes));
  state_size_ = bytes;
  return *this;
}
KernelOptions& KernelOptions::with_initial_state(const void* bytes, std::size_t size) {
  if (bytes == nullptr && size != 0)
    detail::raise(ErrorCode::InvalidArgument, "vulkan::KernelOptions::with_initial_state: null bytes with size " + std::to_string(size));
  initial_state_.assign(static_cast<const std::uint8_t*>(bytes), static_cast<const std::uint8_t*>(bytes) + size);
  return *this;
}
KernelOptions& KernelOptions::with_iteration_budget(std::uint32_t iterations) {
  if (iterations == 0 || iterations > (1u << 30))
    detail::raise(ErrorCode::InvalidArgument, "vulkan::KernelOptions::with_iteration_budget: 1..2^30, got " + std::to_string(iterations));
  iteration_budget_ = iterations;
  return *this;
}
KernelOptions& KernelOptions::with_idle_iterations(std::uint32_t iterations) {
  if (iterations == 0)
    detail::raise(ErrorCode::InvalidArgument, "vulkan::KernelOptions::with_idle_iterations: must be at least 1");
  idle_iterations_ = iterations;
  return *this;
}

}  // namespace vulkan
}  // namespace RINGKERNEL_ABI_NAMESPACE
}  // namespace ringkernel

#endif  // RINGKERNEL_VULKAN_IMPLEMENTATION
