// ringkernel.hpp — persistent GPU/CPU actors on lock-free rings, ordered by Hybrid Logical Clocks.
// SPDX-License-Identifier: MIT
// Copyright (c) 2026 the ringkernel authors.
//
// ============================================================================================
// USAGE
// ============================================================================================
// Single header. In exactly ONE translation unit of your program write
//
//     #define RINGKERNEL_IMPLEMENTATION
//     #include "ringkernel.hpp"
//
// and include it plainly everywhere else. C++17 or later, with threads (`-pthread`); no GPU SDK
// is needed for this header.
// GPU backends live in ringkernel_cuda.hpp and ringkernel_vulkan.hpp and include this one.
//
// ============================================================================================
// TABLE OF CONTENTS            (each section carries a `// >>tag` marker: `grep -n '>>' ringkernel.hpp`)
// ============================================================================================
//   1. Version                       >>version
//   2. Configuration macros          >>config
//   3. Platform helpers              >>platform    RINGKERNEL_HD, host atomics on plain memory, SpinLock
//   4. Errors                        >>errors      Error, ErrorCode, KernelError, ..., Result<T>
//   5. Hybrid Logical Clock          >>hlc         HlcTimestamp, Uint128, HlcClock
//   6. Messages                      >>messages    MessageId, CorrelationId, Priority, MessageHeader,
//                                                  MessageEnvelope, RINGKERNEL_MESSAGE, crc32c
//   7. Rings                         >>rings       SpscRing, MpscRing, MpmcRing
//   8. Priority inbox                >>inbox       BackpressureStrategy, EnqueueStatus, PriorityInbox
//   9. Control block and telemetry   >>control     ControlBlock (128 B), TelemetryBuffer (64 B)
//  10. Messaging fabric              >>fabric      K2KBroker, DeliveryReceipt, K2KConfig, Topic,
//                                                  PubSubBroker, PubSubConfig
//  11. Kernel model                  >>kernel      KernelState, LaunchOptions, KernelStatus, handler
//                                                  styles, HandlerContext, KernelContext, registry
//  12. Runtime                       >>runtime     Runtime, Runtime::Builder, KernelHandle, RuntimeMetrics
//  13. Backends                      >>backends    BackendProvider (GPU backends plug in here)
//  14. Operations                    >>ops         HybridDispatcher, ResourceGuard, MemoryEstimate,
//                                                  default_guard, QueueMonitor, QueueTier, QueueHealth
//  15. Benchmark statistics          >>benchstats  bench::Config, Result, DetailedStatistics,
//                                                  ConfidenceInterval, ScalingMetrics, Suite, Baseline,
//                                                  RegressionReport
//  16. Implementation                >>impl        behind RINGKERNEL_IMPLEMENTATION, outside the guard
//
// ============================================================================================
// CONFIGURATION (define before including; "everywhere" = identically in every TU, or ODR breaks)
// ============================================================================================
//   RINGKERNEL_USER_CONFIG "file.h"  everywhere  a header included first, to hold the options below.
//   RINGKERNEL_NO_EXCEPTIONS         everywhere  never throw: throwing APIs log and abort, and the
//                                                try_/parse forms return Result<T>/status codes.
//                                                Encoded in the inline ABI namespace, so mixing
//                                                TUs with and without it fails to link.
//   RINGKERNEL_ASSERT(x)             everywhere  internal invariant check (default: assert(x)).
//   RINGKERNEL_LOG(level, msg)       impl TU     log hook; level is ringkernel::LogLevel, msg a
//                                                const char*. Default: Warn and Error to stderr.
//   RINGKERNEL_CACHE_LINE_SIZE       everywhere  padding unit for shared indices (default 64). A
//                                                fixed number on purpose: never taken from <new>,
//                                                whose value moves with compiler flags.
//   RINGKERNEL_MAX_PAYLOAD_SIZE      everywhere  largest payload an envelope accepts (default 64 MiB).
//   RINGKERNEL_API                   everywhere  prefix for out-of-line functions (DLL export).
//   RINGKERNEL_HD                    (set here)  `__host__ __device__` under nvcc, empty otherwise.
//
// ============================================================================================
// THREAD SAFETY (summary; each item's comment is exact)
// ============================================================================================
//   HlcClock: all members thread-safe.  SpscRing: one producer thread + one consumer thread.
//   MpscRing: any producers + one consumer.  MpmcRing, PriorityInbox: any threads.
//   Value types (HlcTimestamp, MessageHeader, MessageEnvelope): like int — no shared mutation.

#ifndef RINGKERNEL_HPP
#define RINGKERNEL_HPP

#ifdef RINGKERNEL_USER_CONFIG
#include RINGKERNEL_USER_CONFIG
#endif

// ============================================================================================
// 1. Version                                                                        >>version
// ============================================================================================
#define RINGKERNEL_VERSION_MAJOR 0
#define RINGKERNEL_VERSION_MINOR 1
#define RINGKERNEL_VERSION_PATCH 0
/// Packed version, MAJOR * 10000 + MINOR * 100 + PATCH, for `#if RINGKERNEL_VERSION >= ...`.
#define RINGKERNEL_VERSION \
  (RINGKERNEL_VERSION_MAJOR * 10000 + RINGKERNEL_VERSION_MINOR * 100 + RINGKERNEL_VERSION_PATCH)
#define RINGKERNEL_VERSION_STRING "0.1.0"

// ============================================================================================
// 2. Configuration macros                                                            >>config
// ============================================================================================
#ifndef RINGKERNEL_ASSERT
#include <cassert>
/// Internal invariant check; define to your own handler, or to nothing.
#define RINGKERNEL_ASSERT(x) assert(x)
#endif

#ifndef RINGKERNEL_CACHE_LINE_SIZE
/// Padding unit between indices written by different threads (or by host and device).
#define RINGKERNEL_CACHE_LINE_SIZE 64
#endif

#ifndef RINGKERNEL_MAX_PAYLOAD_SIZE
/// Largest payload, in bytes, that MessageEnvelope accepts; bigger ones are InvalidMessage.
#define RINGKERNEL_MAX_PAYLOAD_SIZE (64u * 1024u * 1024u)
#endif

#ifndef RINGKERNEL_API
/// Prefix for out-of-line definitions (e.g. __attribute__((visibility("default"))) for a DLL).
#define RINGKERNEL_API
#endif

#if defined(RINGKERNEL_NO_EXCEPTIONS)
#define RINGKERNEL_ABI_NAMESPACE v0_1_noexc
#else
#define RINGKERNEL_ABI_NAMESPACE v0_1
#endif

// ============================================================================================
// 3. Platform helpers                                                              >>platform
// ============================================================================================
#if defined(__CUDACC__)
#define RINGKERNEL_HD __host__ __device__
#else
/// Marks functions usable on host and device; handler call operators use it.
#define RINGKERNEL_HD
#endif

#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "ringkernel: big-endian hosts are not supported (wire format and GPU layouts are little-endian)"
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace ringkernel {
inline namespace RINGKERNEL_ABI_NAMESPACE {

/// Cache-line size used for padding (see RINGKERNEL_CACHE_LINE_SIZE).
inline constexpr std::size_t cache_line_size = RINGKERNEL_CACHE_LINE_SIZE;
static_assert((cache_line_size & (cache_line_size - 1)) == 0 && cache_line_size >= 16,
              "RINGKERNEL_CACHE_LINE_SIZE must be a power of two >= 16");

namespace detail {
// Atomic access to plain integers that live in memory shared with a GPU (ControlBlock,
// TelemetryBuffer). Those structs keep plain fields so that host and device see one layout;
// host code reaches them only through these helpers.
#if defined(__GNUC__) || defined(__clang__)
template <class T>
inline T atomic_load(const T* p, int order = __ATOMIC_ACQUIRE) noexcept {
  return __atomic_load_n(p, order);
}
template <class T>
inline void atomic_store(T* p, T v, int order = __ATOMIC_RELEASE) noexcept {
  __atomic_store_n(p, v, order);
}
template <class T>
inline T atomic_fetch_add(T* p, T v, int order = __ATOMIC_ACQ_REL) noexcept {
  return __atomic_fetch_add(p, v, order);
}
inline constexpr int relaxed = __ATOMIC_RELAXED;
#else
#error "ringkernel: needs GCC or Clang atomic builtins (GCC >= 8, Clang >= 7, or nvcc with either)"
#endif

/// Smallest power of two >= v (v >= 1).
inline constexpr std::uint64_t next_pow2(std::uint64_t v) noexcept {
  std::uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}
inline constexpr bool is_pow2(std::uint64_t v) noexcept { return v != 0 && (v & (v - 1)) == 0; }

/// One spin-wait step: tells the core it is in a spin loop (frees the sibling hyperthread).
inline void cpu_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// A test-and-test-and-set lock for critical sections of a few dozen instructions (the inbox
/// and output queues). Unlike std::mutex it never enters the kernel to lock or unlock, which
/// matters when more threads than cores hand messages to each other: a contended futex costs
/// a system call on both sides per handoff. A waiter that cannot get it yields the core now
/// and then, so a preempted holder gets to run. Waiting for a *condition* belongs on a
/// std::condition_variable_any over this lock, never on the lock itself. BasicLockable.
class SpinLock {
 public:
  void lock() noexcept {
    for (unsigned n = 1;; ++n) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        cpu_pause();
        if ((++n & 31) == 0) std::this_thread::yield();
      }
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};
}  // namespace detail

// ============================================================================================
// 4. Errors                                                                          >>errors
// ============================================================================================

/// What went wrong. Stable numeric values (they cross into GPU telemetry and Python).
enum class ErrorCode : std::int32_t {
  Ok = 0,
  InvalidArgument = 1,     ///< a parameter is out of range (capacity not a power of two, ...)
  InvalidMessage = 2,      ///< bytes that are not a valid envelope (magic, version, size, checksum)
  InvalidTopic = 3,        ///< a pub/sub topic or filter that breaks the topic grammar
  ClockDrift = 4,          ///< a remote HLC timestamp further ahead than the clock's max drift
  QueueFull = 5,           ///< bounded queue full under the Reject strategy, or Block timed out
  Timeout = 6,             ///< an operation did not complete in its time limit
  NotActive = 7,           ///< the kernel does not accept messages in its current state
  KernelNotFound = 8,      ///< no kernel with that id or registration name
  InvalidState = 9,        ///< an illegal lifecycle transition
  KernelFault = 10,        ///< a handler threw or the device reported an error
  MemoryLimit = 11,        ///< a resource guard refused an allocation
  BackendUnavailable = 12, ///< the requested backend is not compiled in or has no device
  CudaFailure = 13,        ///< a CUDA runtime/driver call failed
  VulkanFailure = 14,      ///< a Vulkan call failed
  Closed = 15,             ///< the queue or runtime was closed / shut down
  Internal = 16,           ///< a broken invariant inside ringkernel (please report)
};

/// Stable name of an ErrorCode ("InvalidMessage", ...). Never null.
RINGKERNEL_API const char* to_string(ErrorCode code) noexcept;

/// Severity for RINGKERNEL_LOG.
enum class LogLevel : std::uint8_t { Debug = 0, Info = 1, Warn = 2, Error = 3 };

/// Base of every exception ringkernel throws. `what()` is a full sentence naming the cause.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  /// The machine-readable cause.
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

/// Lifecycle and handler errors of a kernel (illegal transition, fault, not found).
class KernelError : public Error {
 public:
  using Error::Error;
};
/// A ResourceGuard refused an allocation (code MemoryLimit).
class MemoryLimitError : public Error {
 public:
  explicit MemoryLimitError(const std::string& message) : Error(ErrorCode::MemoryLimit, message) {}
};
/// A CUDA call failed (code CudaFailure); the message names the call and the CUDA error.
class CudaError : public Error {
 public:
  explicit CudaError(const std::string& message) : Error(ErrorCode::CudaFailure, message) {}
};
/// A Vulkan call failed (code VulkanFailure); the message names the call and the VkResult.
class VulkanError : public Error {
 public:
  explicit VulkanError(const std::string& message) : Error(ErrorCode::VulkanFailure, message) {}
};

namespace detail {
/// Throws the exception type that matches `code` (or, with RINGKERNEL_NO_EXCEPTIONS, logs and aborts).
[[noreturn]] RINGKERNEL_API void raise(ErrorCode code, const std::string& message);
/// Sends one line to RINGKERNEL_LOG.
RINGKERNEL_API void log(LogLevel level, const std::string& message) noexcept;
}  // namespace detail

/// A value or an error, for the non-throwing API (`try_*`, `parse`). Cheap to move.
/// Thread safety: a value type.
template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design, like std::optional
  Result(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {
    RINGKERNEL_ASSERT(code != ErrorCode::Ok);
  }
  /// True when a value is held.
  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  /// ErrorCode::Ok on success, else the failure's code.
  ErrorCode code() const noexcept { return code_; }
  /// Empty on success, else the failure's sentence.
  const std::string& message() const noexcept { return message_; }
  /// The value; on failure raises the stored error (throws, or aborts without exceptions).
  T& value() & {
    if (!ok()) detail::raise(code_, message_);
    return *value_;
  }
  const T& value() const& {
    if (!ok()) detail::raise(code_, message_);
    return *value_;
  }
  T&& value() && {
    if (!ok()) detail::raise(code_, message_);
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
  ErrorCode code_ = ErrorCode::Ok;
  std::string message_;
};

// ============================================================================================
// 5. Hybrid Logical Clock                                                               >>hlc
// ============================================================================================

/// An unsigned 128-bit value as two 64-bit halves (ISO C++ has no 128-bit integer).
/// Ordered like the number it stands for. `to_bytes` is big-endian, so byte-wise (memcmp)
/// order equals numeric order — packed timestamps sort correctly as raw bytes.
struct Uint128 {
  std::uint64_t high = 0;  ///< bits 127..64
  std::uint64_t low = 0;   ///< bits 63..0

  /// Writes the 16 big-endian bytes to `out` (which must hold 16 bytes).
  void to_bytes(std::uint8_t* out) const noexcept {
    for (int i = 0; i < 8; ++i) {
      out[i] = static_cast<std::uint8_t>(high >> (56 - 8 * i));
      out[8 + i] = static_cast<std::uint8_t>(low >> (56 - 8 * i));
    }
  }
  /// Reads 16 big-endian bytes. Throws Error(InvalidArgument) unless `size == 16`.
  static Uint128 from_bytes(const std::uint8_t* data, std::size_t size) {
    if (data == nullptr || size != 16)
      detail::raise(ErrorCode::InvalidArgument,
                    "Uint128::from_bytes needs exactly 16 bytes, got " + std::to_string(size));
    Uint128 v;
    for (int i = 0; i < 8; ++i) {
      v.high = (v.high << 8) | data[i];
      v.low = (v.low << 8) | data[8 + i];
    }
    return v;
  }
  friend constexpr bool operator==(const Uint128& a, const Uint128& b) noexcept {
    return a.high == b.high && a.low == b.low;
  }
  friend constexpr bool operator!=(const Uint128& a, const Uint128& b) noexcept { return !(a == b); }
  friend constexpr bool operator<(const Uint128& a, const Uint128& b) noexcept {
    return a.high < b.high || (a.high == b.high && a.low < b.low);
  }
  friend constexpr bool operator>(const Uint128& a, const Uint128& b) noexcept { return b < a; }
  friend constexpr bool operator<=(const Uint128& a, const Uint128& b) noexcept { return !(b < a); }
  friend constexpr bool operator>=(const Uint128& a, const Uint128& b) noexcept { return !(a < b); }
};

/// A Hybrid Logical Clock timestamp. Totally ordered by (physical, logical, node_id).
/// `physical` is microseconds since the Unix epoch; `logical` orders events within one
/// physical value; `node_id` breaks ties between nodes. Brace-construct as
/// `HlcTimestamp{physical, logical, node_id}`. 16 bytes, standard layout (shared with GPUs).
struct HlcTimestamp {
  std::uint64_t physical = 0;  ///< microseconds since 1970-01-01T00:00:00Z
  std::uint32_t logical = 0;   ///< counter within one physical microsecond
  std::uint32_t node_id = 0;   ///< the clock's node

  /// The wall clock now (full resolution), logical 0. Thread-safe.
  RINGKERNEL_API static HlcTimestamp now(std::uint32_t node_id) noexcept;
  /// The smallest timestamp: {0, 0, 0}.
  RINGKERNEL_HD static constexpr HlcTimestamp zero() noexcept { return HlcTimestamp{}; }

  /// Lossless 128-bit form: physical in bits 127..64, logical in 63..32, node_id in 31..0.
  /// Packed values order exactly like the timestamps.
  RINGKERNEL_HD constexpr Uint128 pack() const noexcept {
    return Uint128{physical, (std::uint64_t{logical} << 32) | node_id};
  }
  /// Inverse of pack(). Every 128-bit value is a valid timestamp.
  RINGKERNEL_HD static constexpr HlcTimestamp unpack(Uint128 v) noexcept {
    return HlcTimestamp{v.high, static_cast<std::uint32_t>(v.low >> 32),
                        static_cast<std::uint32_t>(v.low & 0xFFFFFFFFu)};
  }
  /// Physical time in microseconds since the epoch.
  RINGKERNEL_HD constexpr std::uint64_t as_micros() const noexcept { return physical; }
  /// Physical time in milliseconds since the epoch (truncated).
  RINGKERNEL_HD constexpr std::uint64_t as_millis() const noexcept { return physical / 1000; }

  friend constexpr bool operator==(const HlcTimestamp& a, const HlcTimestamp& b) noexcept {
    return a.physical == b.physical && a.logical == b.logical && a.node_id == b.node_id;
  }
  friend constexpr bool operator!=(const HlcTimestamp& a, const HlcTimestamp& b) noexcept {
    return !(a == b);
  }
  friend constexpr bool operator<(const HlcTimestamp& a, const HlcTimestamp& b) noexcept {
    return a.physical != b.physical ? a.physical < b.physical
           : a.logical != b.logical ? a.logical < b.logical
                                    : a.node_id < b.node_id;
  }
  friend constexpr bool operator>(const HlcTimestamp& a, const HlcTimestamp& b) noexcept { return b < a; }
  friend constexpr bool operator<=(const HlcTimestamp& a, const HlcTimestamp& b) noexcept { return !(b < a); }
  friend constexpr bool operator>=(const HlcTimestamp& a, const HlcTimestamp& b) noexcept { return !(a < b); }
};
static_assert(sizeof(HlcTimestamp) == 16 && std::is_standard_layout<HlcTimestamp>::value,
              "HlcTimestamp is shared with GPU code: 16 bytes, standard layout");

/// A Hybrid Logical Clock for one node. Thread-safe: every member may be called from any thread.
///
/// tick() is wait-free (one atomic fetch_add, plus one CAS when the wall clock moved on) and
/// returns strictly increasing, unique timestamps across all threads. The state is one 64-bit
/// word, physical microseconds << 12 | logical, so a logical overflow (4096 events in one
/// microsecond) carries into physical, keeping order; physical fits 52 bits (until year 2112).
/// The wall clock is read at the OS timer's resolution (CLOCK_REALTIME_COARSE on Linux,
/// ~1–4 ms, ~5 ns to read): HLC needs only a clock that keeps up, and the logical counter
/// orders everything within one reading. HlcTimestamp::now() reads the precise clock.
class HlcClock {
 public:
  /// Bits of the logical counter inside the clock's state word.
  static constexpr unsigned logical_bits = 12;
  /// Largest remote physical time update() accepts: the clock's 52-bit range minus 2^32 µs
  /// (~71 minutes, over 10^13 ticks) of headroom, so the state word can never wrap.
  static constexpr std::uint64_t max_remote_physical =
      ((std::uint64_t{1} << (64 - logical_bits)) - 1) - (std::uint64_t{1} << 32);

  /// A clock for `node_id` that refuses remote timestamps more than `max_drift` ahead of its
  /// wall clock. Throws Error(InvalidArgument) for a negative max_drift.
  RINGKERNEL_API explicit HlcClock(std::uint32_t node_id,
                                   std::chrono::microseconds max_drift = std::chrono::seconds(60));
  HlcClock(const HlcClock&) = delete;
  HlcClock& operator=(const HlcClock&) = delete;

  /// Next timestamp: greater than every timestamp this clock returned before. Never throws.
  RINGKERNEL_API HlcTimestamp tick() noexcept;
  /// Reserves `n` consecutive ticks with one atomic operation, for a thread that stamps a batch
  /// (a kernel's worker stamps one inbox batch's outputs this way). Returns the first; the
  /// others are `first.logical + 1, + 2, ...` (a logical value past 4095 carries into physical,
  /// as in the clock's state word). All n are greater than every timestamp this clock returned
  /// before the call and smaller than every one it returns after. n = 0 counts as 1. Never throws.
  RINGKERNEL_API HlcTimestamp tick_block(std::uint32_t n) noexcept;
  /// The current time of this clock (max of its last timestamp and the wall clock) without
  /// advancing it; a later tick() is strictly greater.
  RINGKERNEL_API HlcTimestamp now() const noexcept;
  /// Merges a remote timestamp (a message received): returns a timestamp greater than `remote`
  /// and than everything this clock returned before. Throws Error(ClockDrift) when `remote` is
  /// more than max_drift ahead of the wall clock, or its physical time is above
  /// max_remote_physical (the clock is then left unchanged).
  RINGKERNEL_API HlcTimestamp update(const HlcTimestamp& remote);
  /// Non-throwing update(): the merged timestamp, or ErrorCode::ClockDrift.
  RINGKERNEL_API Result<HlcTimestamp> try_update(const HlcTimestamp& remote);

  /// This clock's node id.
  std::uint32_t node_id() const noexcept { return node_id_; }
  /// The largest lead over the wall clock a remote timestamp may have.
  std::chrono::microseconds max_drift() const noexcept { return std::chrono::microseconds(max_drift_us_); }

 private:
  alignas(cache_line_size) std::atomic<std::uint64_t> state_{0};
  std::uint32_t node_id_;
  std::uint64_t max_drift_us_;
};

// ============================================================================================
// 6. Messages                                                                      >>messages
// ============================================================================================

/// Unique id of one message, process-wide. `generate()` is thread-safe and never returns 0.
struct MessageId {
  std::uint64_t value = 0;
  RINGKERNEL_API static MessageId generate() noexcept;
  friend constexpr bool operator==(MessageId a, MessageId b) noexcept { return a.value == b.value; }
  friend constexpr bool operator!=(MessageId a, MessageId b) noexcept { return a.value != b.value; }
};

/// Links a response to its request; 0 means "none". `generate()` is thread-safe, never 0.
struct CorrelationId {
  std::uint64_t value = 0;
  RINGKERNEL_API static CorrelationId generate() noexcept;
  static constexpr CorrelationId none() noexcept { return CorrelationId{}; }
  constexpr bool is_none() const noexcept { return value == 0; }
  friend constexpr bool operator==(CorrelationId a, CorrelationId b) noexcept { return a.value == b.value; }
  friend constexpr bool operator!=(CorrelationId a, CorrelationId b) noexcept { return a.value != b.value; }
};

/// Message priority; higher is served first. Any value 0–255 is valid
/// (`static_cast<Priority>(200)`); these four are the named levels.
enum class Priority : std::uint8_t { Low = 64, Normal = 128, High = 192, Critical = 255 };

/// CRC-32C (Castagnoli) of `size` bytes, continuing from `crc` (0 to start). Uses the SSE4.2
/// instruction when the CPU has it. Thread-safe.
RINGKERNEL_API std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0) noexcept;

/// The fixed 256-byte header in front of every message payload, on the wire and in rings.
/// Standard layout, little-endian, offsets fixed (static_asserted below). `checksum` is the
/// CRC-32C of the header with the checksum field taken as zero, followed by the payload, so a
/// flipped bit anywhere is caught. Reserved bytes must be zero in version 1.
struct MessageHeader {
  static constexpr std::uint32_t magic_value = 0x484D4B52u;  ///< "RKMH" in little-endian bytes
  static constexpr std::uint16_t current_version = 1;
  static constexpr std::size_t wire_size = 256;  ///< bytes on the wire and in a ring slot
  static constexpr std::uint64_t max_payload_size = RINGKERNEL_MAX_PAYLOAD_SIZE;

  std::uint32_t magic = magic_value;          ///< @0   always magic_value
  std::uint16_t version = current_version;    ///< @4   format version
  std::uint8_t priority = static_cast<std::uint8_t>(Priority::Normal);  ///< @6 0–255
  std::uint8_t reserved_a = 0;                ///< @7   zero
  std::uint64_t type_id = 0;                  ///< @8   message type (RINGKERNEL_MESSAGE)
  std::uint64_t source_kernel = 0;            ///< @16  sender kernel id (0: host)
  std::uint64_t dest_kernel = 0;              ///< @24  destination kernel id
  std::uint64_t message_id = 0;               ///< @32  MessageId
  std::uint64_t correlation_id = 0;           ///< @40  CorrelationId (0: none)
  std::uint64_t payload_size = 0;             ///< @48  bytes following the header
  HlcTimestamp timestamp{};                   ///< @56  send time (16 bytes)
  std::uint32_t checksum = 0;                 ///< @72  CRC-32C, see above
  std::uint32_t reserved_b = 0;               ///< @76  zero
  std::uint8_t reserved[176] = {};            ///< @80  zero; room for later versions

  /// A version-1 header with a fresh MessageId, Normal priority and no correlation.
  RINGKERNEL_API static MessageHeader create(std::uint64_t type_id, std::uint64_t source_kernel,
                                             std::uint64_t dest_kernel, std::uint64_t payload_size,
                                             HlcTimestamp timestamp) noexcept;
  /// The header's checksum over itself (checksum field as zero) and `payload`.
  RINGKERNEL_API std::uint32_t compute_checksum(const std::uint8_t* payload,
                                                std::size_t payload_size) const noexcept;
};
static_assert(sizeof(MessageHeader) == 256, "MessageHeader must be exactly 256 bytes");
static_assert(std::is_standard_layout<MessageHeader>::value && std::is_trivially_copyable<MessageHeader>::value,
              "MessageHeader is copied as bytes and shared with GPUs");
static_assert(offsetof(MessageHeader, type_id) == 8 && offsetof(MessageHeader, payload_size) == 48 &&
                  offsetof(MessageHeader, timestamp) == 56 && offsetof(MessageHeader, checksum) == 72 &&
                  offsetof(MessageHeader, reserved) == 80,
              "MessageHeader wire offsets changed: that is a format version bump");

/// Tag type that carries T for ADL; see RINGKERNEL_MESSAGE.
template <class T>
struct MessageTag {};

namespace detail {
template <class T, class = void>
struct has_message_type_id : std::false_type {};
template <class T>
struct has_message_type_id<T, std::void_t<decltype(ringkernel_message_type_id(MessageTag<T>{}))>>
    : std::true_type {};
}  // namespace detail

/// True when T was declared with RINGKERNEL_MESSAGE.
template <class T>
inline constexpr bool is_message_v = detail::has_message_type_id<T>::value;

/// The type id T was declared with. Compile error when T is not a declared message.
template <class T>
constexpr std::uint64_t message_type_id() noexcept {
  static_assert(is_message_v<T>, "T is not a ringkernel message: declare it with RINGKERNEL_MESSAGE(T, id)");
  return ringkernel_message_type_id(MessageTag<T>{});
}

/// An immutable message: a header whose checksum covers it and the payload, plus the payload.
/// Value type (copy = deep copy); thread safety like std::vector.
class MessageEnvelope {
 public:
  /// An empty message (type 0, no payload), valid and checksummed.
  RINGKERNEL_API MessageEnvelope();
  /// Takes `header` as given except its checksum, which is computed here. Throws
  /// Error(InvalidMessage) if header.payload_size != payload.size(), the payload exceeds
  /// MessageHeader::max_payload_size, or magic/version/reserved bytes are not valid.
  RINGKERNEL_API MessageEnvelope(const MessageHeader& header, std::vector<std::uint8_t> payload);

  /// An envelope whose payload is the bytes of a RINGKERNEL_MESSAGE type.
  template <class T>
  static MessageEnvelope from_message(const T& message, std::uint64_t source_kernel,
                                      std::uint64_t dest_kernel, HlcTimestamp timestamp) {
    static_assert(std::is_trivially_copyable<T>::value, "messages must be trivially copyable");
    MessageHeader h =
        MessageHeader::create(message_type_id<T>(), source_kernel, dest_kernel, sizeof(T), timestamp);
    std::vector<std::uint8_t> bytes(sizeof(T));
    std::memcpy(bytes.data(), &message, sizeof(T));
    return MessageEnvelope(h, std::move(bytes));
  }
  /// The payload as T. Throws Error(InvalidMessage) when the type id or size does not match T.
  template <class T>
  T as() const {
    static_assert(std::is_trivially_copyable<T>::value, "messages must be trivially copyable");
    if (header_.type_id != message_type_id<T>() || payload_.size() != sizeof(T))
      detail::raise(ErrorCode::InvalidMessage,
                    "MessageEnvelope::as: envelope holds type " + std::to_string(header_.type_id) + " with " +
                        std::to_string(payload_.size()) + " payload bytes, not the requested type " +
                        std::to_string(message_type_id<T>()) + " of " + std::to_string(sizeof(T)) + " bytes");
    T out;
    std::memcpy(static_cast<void*>(&out), payload_.data(), sizeof(T));
    return out;
  }

  /// The header (checksum filled in).
  const MessageHeader& header() const noexcept { return header_; }
  /// The payload bytes.
  const std::vector<std::uint8_t>& payload() const noexcept { return payload_; }
  /// Header plus payload size in bytes: the length of to_bytes().
  std::size_t total_size() const noexcept { return MessageHeader::wire_size + payload_.size(); }
  /// The wire form: 256 header bytes then the payload.
  RINGKERNEL_API std::vector<std::uint8_t> to_bytes() const;
  /// Writes the wire form into `out` (at least total_size() bytes; returns false if too small).
  RINGKERNEL_API bool write_to(std::uint8_t* out, std::size_t out_size) const noexcept;

  /// Parses and fully validates a wire form: length, magic, version, reserved bytes, payload
  /// size bound, exact total size, checksum. Throws Error(InvalidMessage) naming the first
  /// problem; never reads outside [data, data + size).
  RINGKERNEL_API static MessageEnvelope from_raw_bytes(const std::uint8_t* data, std::size_t size);
  /// from_raw_bytes over a whole vector.
  RINGKERNEL_API static MessageEnvelope from_raw_bytes(const std::vector<std::uint8_t>& bytes);
  /// Non-throwing from_raw_bytes: the envelope or ErrorCode::InvalidMessage with the reason.
  RINGKERNEL_API static Result<MessageEnvelope> parse(const std::uint8_t* data, std::size_t size);

 private:
  struct Unchecked {};
  MessageEnvelope(Unchecked, const MessageHeader& header, std::vector<std::uint8_t> payload) noexcept
      : header_(header), payload_(std::move(payload)) {}
  MessageHeader header_;
  std::vector<std::uint8_t> payload_;
};

/// Declares the trivially copyable type T as a message with a stable 64-bit `type_id`.
/// Use at namespace scope, in T's own namespace (found by argument-dependent lookup):
///
///     struct Ping { std::uint64_t seq; };
///     RINGKERNEL_MESSAGE(Ping, 1)
///
/// A T that is not trivially copyable is a compile error: messages are copied into ring
/// slots and GPU memory as bytes, without serialization.
#define RINGKERNEL_MESSAGE(T, type_id_value)                                                              \
  static_assert(::std::is_trivially_copyable<T>::value,                                                   \
                "RINGKERNEL_MESSAGE(" #T "): a ringkernel message must be trivially copyable");          \
  [[maybe_unused]] constexpr ::std::uint64_t ringkernel_message_type_id(::ringkernel::MessageTag<T>) noexcept { \
    return static_cast<::std::uint64_t>(type_id_value);                                                   \
  }

// ============================================================================================
// 7. Rings                                                                            >>rings
// ============================================================================================
//
// Bounded lock-free rings. Indices are 64-bit counters that only grow (slot = index & mask),
// so full and empty are told apart without a spare slot and never wrap in practice.
// Capacity must be a power of two (checked: Error(InvalidArgument) otherwise).
// Memory orders: each side loads its own index relaxed, loads the other's with acquire, and
// publishes its own with release; each side caches the other's index to save coherence traffic.

namespace detail {
template <class T>
struct RingStorage {
  explicit RingStorage(std::size_t capacity, const char* who) : mask(capacity - 1) {
    if (!is_pow2(capacity))
      raise(ErrorCode::InvalidArgument, std::string(who) + ": capacity must be a power of two >= 1, got " +
                                            std::to_string(capacity));
    if (capacity > (std::size_t{1} << 40))
      raise(ErrorCode::InvalidArgument, std::string(who) + ": capacity " + std::to_string(capacity) +
                                            " is larger than 2^40 slots");
    slots = static_cast<T*>(::operator new(capacity * sizeof(T), std::align_val_t(alignof(T) > cache_line_size
                                                                                        ? alignof(T)
                                                                                        : cache_line_size)));
  }
  ~RingStorage() {
    ::operator delete(slots, std::align_val_t(alignof(T) > cache_line_size ? alignof(T) : cache_line_size));
  }
  RingStorage(const RingStorage&) = delete;
  RingStorage& operator=(const RingStorage&) = delete;
  T* slots;
  std::size_t mask;
};
}  // namespace detail


/// Single-producer single-consumer bounded ring (model: rigtorp's SPSCQueue).
/// Thread safety: one thread pushes and one thread pops at a time (they may be the same);
/// size()/empty() from any thread are a snapshot. T: nothrow move-constructible.
/// Remaining elements are destroyed with the ring.
template <class T>
class SpscRing {
  static_assert(std::is_nothrow_move_constructible<T>::value && std::is_nothrow_destructible<T>::value,
                "SpscRing<T>: T must be nothrow move-constructible and nothrow destructible");

 public:
  /// A ring of `capacity` slots. Throws Error(InvalidArgument) unless capacity is a power of two.
  explicit SpscRing(std::size_t capacity) : storage_(capacity, "SpscRing") {}
  ~SpscRing() {
    for (std::uint64_t i = cons_.head.load(std::memory_order_relaxed),
                       end = prod_.tail.load(std::memory_order_relaxed);
         i != end; ++i)
      storage_.slots[i & storage_.mask].~T();
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  /// Constructs an element in place; false (and nothing constructed) when full. Producer only.
  template <class... Args>
  bool try_emplace(Args&&... args) noexcept(std::is_nothrow_constructible<T, Args&&...>::value) {
    const std::uint64_t tail = prod_.tail.load(std::memory_order_relaxed);
    if (tail - prod_.cached_head == capacity()) {
      prod_.cached_head = cons_.head.load(std::memory_order_acquire);
      if (tail - prod_.cached_head == capacity()) return false;
    }
    ::new (static_cast<void*>(&storage_.slots[tail & storage_.mask])) T(std::forward<Args>(args)...);
    prod_.tail.store(tail + 1, std::memory_order_release);
    return true;
  }
  /// Copies `value` in; false when full. Producer only.
  bool try_push(const T& value) noexcept(std::is_nothrow_copy_constructible<T>::value) {
    return try_emplace(value);
  }
  /// Moves `value` in; false (value untouched) when full. Producer only.
  bool try_push(T&& value) noexcept { return try_emplace(std::move(value)); }
  /// Copies up to `count` items in order; returns how many fit. Producer only.
  std::size_t try_push_batch(const T* items, std::size_t count) noexcept {
    static_assert(std::is_nothrow_copy_constructible<T>::value, "try_push_batch needs a nothrow copy");
    const std::uint64_t tail = prod_.tail.load(std::memory_order_relaxed);
    std::size_t space = capacity() - static_cast<std::size_t>(tail - prod_.cached_head);
    if (space < count) {
      prod_.cached_head = cons_.head.load(std::memory_order_acquire);
      space = capacity() - static_cast<std::size_t>(tail - prod_.cached_head);
    }
    const std::size_t n = std::min(space, count);
    // Two contiguous spans (to the end of the buffer, then from its start): plain copies the
    // compiler turns into memcpy for trivially copyable T, instead of a masked index per item.
    const std::size_t first = static_cast<std::size_t>(tail & storage_.mask);
    const std::size_t n1 = std::min(n, capacity() - first);
    T* const base = storage_.slots;
    if constexpr (std::is_trivially_copyable<T>::value) {
      if (n1 != 0) std::memcpy(static_cast<void*>(base + first), items, n1 * sizeof(T));
      if (n != n1) std::memcpy(static_cast<void*>(base), items + n1, (n - n1) * sizeof(T));
    } else {
      for (std::size_t i = 0; i < n1; ++i) ::new (static_cast<void*>(base + first + i)) T(items[i]);
      for (std::size_t i = n1; i < n; ++i) ::new (static_cast<void*>(base + (i - n1))) T(items[i]);
    }
    if (n != 0) prod_.tail.store(tail + n, std::memory_order_release);
    return n;
  }

  /// Moves the oldest element into `out`; false when empty. Consumer only.
  bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable<T>::value) {
    const std::uint64_t head = cons_.head.load(std::memory_order_relaxed);
    if (head == cons_.cached_tail) {
      cons_.cached_tail = prod_.tail.load(std::memory_order_acquire);
      if (head == cons_.cached_tail) return false;
    }
    T* slot = &storage_.slots[head & storage_.mask];
    out = std::move(*slot);
    slot->~T();
    cons_.head.store(head + 1, std::memory_order_release);
    return true;
  }
  /// Moves up to `max_count` oldest elements into out[0..); returns how many. Consumer only.
  std::size_t try_pop_batch(T* out, std::size_t max_count) noexcept {
    static_assert(std::is_nothrow_move_assignable<T>::value, "try_pop_batch needs a nothrow move");
    const std::uint64_t head = cons_.head.load(std::memory_order_relaxed);
    std::size_t avail = static_cast<std::size_t>(cons_.cached_tail - head);
    if (avail < max_count) {
      cons_.cached_tail = prod_.tail.load(std::memory_order_acquire);
      avail = static_cast<std::size_t>(cons_.cached_tail - head);
    }
    const std::size_t n = std::min(avail, max_count);
    const std::size_t first = static_cast<std::size_t>(head & storage_.mask);
    const std::size_t n1 = std::min(n, capacity() - first);
    T* const base = storage_.slots;
    if constexpr (std::is_trivially_copyable<T>::value) {
      if (n1 != 0) std::memcpy(static_cast<void*>(out), base + first, n1 * sizeof(T));
      if (n != n1) std::memcpy(static_cast<void*>(out + n1), base, (n - n1) * sizeof(T));
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        T* slot = base + (i < n1 ? first + i : i - n1);
        out[i] = std::move(*slot);
        slot->~T();
      }
    }
    if (n != 0) cons_.head.store(head + n, std::memory_order_release);
    return n;
  }

  /// Number of slots.
  std::size_t capacity() const noexcept { return storage_.mask + 1; }
  /// Elements queued (a snapshot when called concurrently; never above capacity()).
  std::size_t size() const noexcept {
    const std::uint64_t head = cons_.head.load(std::memory_order_acquire);
    const std::uint64_t tail = prod_.tail.load(std::memory_order_acquire);
    return static_cast<std::size_t>(std::min<std::uint64_t>(tail - head, capacity()));
  }
  /// size() == 0.
  bool empty() const noexcept { return size() == 0; }

 private:
  // Each side's published index shares a line only with that side's private cache of the
  // other index; the slot pointer sits on a line of its own that nobody writes. The two sides
  // are two lines apart: x86 prefetchers fetch lines in adjacent pairs, which would otherwise
  // make producer and consumer fight over one 128-byte pair.
  struct alignas(2 * cache_line_size) Producer {
    std::atomic<std::uint64_t> tail{0};
    std::uint64_t cached_head = 0;
  };
  struct alignas(2 * cache_line_size) Consumer {
    std::atomic<std::uint64_t> head{0};
    std::uint64_t cached_tail = 0;
  };
  alignas(cache_line_size) detail::RingStorage<T> storage_;
  Producer prod_;
  Consumer cons_;
};

namespace detail {
/// Bounded ring with a sequence number per slot (Vyukov's algorithm): producers claim a
/// slot by CAS on the tail, then publish it by storing its sequence with release. Sequences
/// are doubled (free for position p: 2p; full: 2p + 1) so that a one-slot ring cannot mistake
/// "full at p" for "free at p + 1".
template <class T, bool MultiConsumer>
class SequencedRing {
  static_assert(std::is_nothrow_move_constructible<T>::value && std::is_nothrow_destructible<T>::value,
                "T must be nothrow move-constructible and nothrow destructible");
  struct Slot {
    std::atomic<std::uint64_t> seq;
    alignas(T) unsigned char bytes[sizeof(T)];
    T* get() noexcept { return std::launder(reinterpret_cast<T*>(bytes)); }
  };

 public:
  SequencedRing(std::size_t capacity, const char* who)
      : mask_(capacity - 1) {
    if (!is_pow2(capacity))
      raise(ErrorCode::InvalidArgument, std::string(who) + ": capacity must be a power of two >= 1, got " +
                                            std::to_string(capacity));
    if (capacity > (std::size_t{1} << 40))
      raise(ErrorCode::InvalidArgument, std::string(who) + ": capacity is larger than 2^40 slots");
    slots_.reset(new Slot[capacity]);
    for (std::size_t i = 0; i < capacity; ++i) slots_[i].seq.store(2 * i, std::memory_order_relaxed);
  }
  ~SequencedRing() {
    for (std::uint64_t i = head_.load(std::memory_order_relaxed), end = tail_.load(std::memory_order_relaxed);
         i != end; ++i) {
      Slot& s = slots_[i & mask_];
      if (s.seq.load(std::memory_order_relaxed) == 2 * i + 1) s.get()->~T();
    }
  }
  SequencedRing(const SequencedRing&) = delete;
  SequencedRing& operator=(const SequencedRing&) = delete;

  template <class... Args>
  bool try_emplace(Args&&... args) noexcept(std::is_nothrow_constructible<T, Args&&...>::value) {
    std::uint64_t pos = tail_.load(std::memory_order_relaxed);
    Slot* slot;
    for (;;) {
      slot = &slots_[pos & mask_];
      const std::uint64_t seq = slot->seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::int64_t>(seq - 2 * pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (diff < 0) {
        return false;  // the slot still holds an element from one lap ago: full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
    ::new (static_cast<void*>(slot->bytes)) T(std::forward<Args>(args)...);
    slot->seq.store(2 * pos + 1, std::memory_order_release);
    return true;
  }

  bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable<T>::value) {
    return try_consume([&](T& item) { out = std::move(item); });
  }
  // Pops the oldest element by calling `take(T&)` on it in its slot (then destroying it): one
  // move less than try_pop into a temporary. `take` must not throw.
  template <class Take>
  bool try_consume(Take&& take) noexcept {
    std::uint64_t pos = head_.load(std::memory_order_relaxed);
    Slot* slot;
    for (;;) {
      slot = &slots_[pos & mask_];
      const std::uint64_t seq = slot->seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::int64_t>(seq - (2 * pos + 1));
      if (diff == 0) {
        if (!MultiConsumer) break;
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (diff < 0) {
        return false;  // empty, or the producer of this slot has not published yet
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
    take(*slot->get());
    slot->get()->~T();
    if (!MultiConsumer) head_.store(pos + 1, std::memory_order_relaxed);
    slot->seq.store(2 * (pos + mask_ + 1), std::memory_order_release);
    return true;
  }
  // Slots claimed by producers / by consumers since construction (snapshots): for counters.
  std::uint64_t claimed_by_producers() const noexcept { return tail_.load(std::memory_order_acquire); }
  std::uint64_t claimed_by_consumers() const noexcept { return head_.load(std::memory_order_acquire); }

  std::size_t capacity() const noexcept { return mask_ + 1; }
  std::size_t size() const noexcept {
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    const std::uint64_t tail = tail_.load(std::memory_order_acquire);
    return tail > head ? static_cast<std::size_t>(std::min<std::uint64_t>(tail - head, capacity())) : 0;
  }

 private:
  alignas(cache_line_size) std::unique_ptr<Slot[]> slots_;
  std::size_t mask_;
  alignas(cache_line_size) std::atomic<std::uint64_t> tail_{0};
  alignas(cache_line_size) std::atomic<std::uint64_t> head_{0};
};
}  // namespace detail

/// Multi-producer single-consumer bounded ring. Thread safety: any number of threads may push
/// concurrently; one thread pops at a time. try_pop may return false while a producer is
/// between claiming and publishing a slot (then retry). T: nothrow move-constructible.
template <class T>
class MpscRing {
 public:
  /// Throws Error(InvalidArgument) unless `capacity` is a power of two.
  explicit MpscRing(std::size_t capacity) : ring_(capacity, "MpscRing") {}
  /// Constructs in place; false when full. Any thread.
  template <class... Args>
  bool try_emplace(Args&&... args) noexcept(std::is_nothrow_constructible<T, Args&&...>::value) {
    return ring_.try_emplace(std::forward<Args>(args)...);
  }
  /// Copies in; false when full. Any thread.
  bool try_push(const T& value) noexcept(std::is_nothrow_copy_constructible<T>::value) {
    return ring_.try_emplace(value);
  }
  /// Moves in; false (value untouched) when full. Any thread.
  bool try_push(T&& value) noexcept { return ring_.try_emplace(std::move(value)); }
  /// Pushes items in order until one does not fit; returns how many went in. Any thread
  /// (items of concurrent producers may interleave).
  std::size_t try_push_batch(const T* items, std::size_t count) noexcept {
    std::size_t n = 0;
    while (n < count && ring_.try_emplace(items[n])) ++n;
    return n;
  }
  /// Moves the oldest element out; false when none is ready. Consumer only.
  bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable<T>::value) { return ring_.try_pop(out); }
  /// Pops up to `max_count` elements into out[0..); returns how many. Consumer only.
  std::size_t try_pop_batch(T* out, std::size_t max_count) noexcept {
    std::size_t n = 0;
    while (n < max_count && ring_.try_pop(out[n])) ++n;
    return n;
  }
  /// Number of slots.
  std::size_t capacity() const noexcept { return ring_.capacity(); }
  /// Claimed slots (a snapshot), including ones still being written.
  std::size_t size() const noexcept { return ring_.size(); }
  /// size() == 0.
  bool empty() const noexcept { return size() == 0; }

 private:
  detail::SequencedRing<T, false> ring_;
};

/// Multi-producer multi-consumer bounded ring. Thread safety: any threads push and pop.
template <class T>
class MpmcRing {
 public:
  /// Throws Error(InvalidArgument) unless `capacity` is a power of two.
  explicit MpmcRing(std::size_t capacity) : ring_(capacity, "MpmcRing") {}
  /// Constructs in place; false when full.
  template <class... Args>
  bool try_emplace(Args&&... args) noexcept(std::is_nothrow_constructible<T, Args&&...>::value) {
    return ring_.try_emplace(std::forward<Args>(args)...);
  }
  /// Copies in; false when full.
  bool try_push(const T& value) noexcept(std::is_nothrow_copy_constructible<T>::value) {
    return ring_.try_emplace(value);
  }
  /// Moves in; false (value untouched) when full.
  bool try_push(T&& value) noexcept { return ring_.try_emplace(std::move(value)); }
  /// Moves an element out; false when none is ready.
  bool try_pop(T& out) noexcept(std::is_nothrow_move_assignable<T>::value) { return ring_.try_pop(out); }
  /// Number of slots.
  std::size_t capacity() const noexcept { return ring_.capacity(); }
  /// Claimed slots (a snapshot).
  std::size_t size() const noexcept { return ring_.size(); }
  /// size() == 0.
  bool empty() const noexcept { return size() == 0; }

 private:
  detail::SequencedRing<T, true> ring_;
};

// ============================================================================================
// 8. Priority inbox                                                                   >>inbox
// ============================================================================================

/// What a bounded inbox does with a message that arrives while it is full.
enum class BackpressureStrategy : std::uint8_t {
  Block,       ///< the sender waits for space, up to its timeout; then QueueFull
  Reject,      ///< the sender gets QueueFull at once; the message is not taken
  DropOldest,  ///< the oldest message of the lowest queued priority is dropped and counted
};
/// Stable name ("Block", "Reject", "DropOldest").
RINGKERNEL_API const char* to_string(BackpressureStrategy strategy) noexcept;

/// Outcome of PriorityInbox::push.
enum class EnqueueStatus : std::uint8_t {
  Enqueued,               ///< taken
  EnqueuedDroppedOldest,  ///< taken; one older message was dropped to make room (DropOldest)
  Full,                   ///< not taken: full under Reject, or Block's timeout expired
  Closed,                 ///< not taken: the inbox is closed
};

/// Counters of a PriorityInbox. Invariant: enqueued == dequeued + dropped + depth.
struct InboxStats {
  std::uint64_t enqueued = 0;  ///< messages taken
  std::uint64_t dequeued = 0;  ///< messages handed out (pop or drain)
  std::uint64_t dropped = 0;   ///< messages evicted by DropOldest
  std::uint64_t rejected = 0;  ///< pushes refused (Full or Closed)
  std::size_t depth = 0;       ///< messages queued now
  std::size_t high_water = 0;  ///< largest depth seen
};

/// A bounded inbox served by priority: the highest priority first, FIFO within a priority.
/// Backpressure per BackpressureStrategy; every drop and refusal is counted.
///
/// Normal-priority messages, the common case, travel lock-free: a sender reserves a place with
/// one atomic add on the shared depth and publishes into an MPMC sequence ring, and a consumer
/// takes a whole batch from the ring with one atomic subtract, so no sender ever waits behind a
/// descheduled lock holder. Other priorities, DropOldest eviction, selective receives
/// (try_pop_if) and parking take a SpinLock over per-priority lanes. Normal messages a
/// selective receive had to move out of the ring stay ahead of the ring's newer ones.
///
/// Thread safety: every member may be called from any thread; waiting senders and receivers
/// park on condition variables, they do not spin. T must be nothrow move-constructible; a push
/// whose construction of T may throw builds the T before it takes a place, so nothing leaks.
/// stats() is exact whenever no push or pop is running at the same time.
template <class T>
class PriorityInbox {
  static_assert(std::is_nothrow_move_constructible<T>::value && std::is_nothrow_destructible<T>::value,
                "PriorityInbox<T>: T must be nothrow move-constructible and nothrow destructible");

 public:
  /// Throws Error(InvalidArgument) for capacity 0 or above 2^31.
  PriorityInbox(std::size_t capacity, BackpressureStrategy strategy)
      : capacity_(checked_capacity(capacity)), strategy_(strategy), ring_(ring_size(capacity_), "PriorityInbox") {
    nodes_.reset(new Node[capacity]);
    for (std::size_t i = 0; i < capacity; ++i) nodes_[i].next = static_cast<std::uint32_t>(i + 1);
    nodes_[capacity - 1].next = kNil;
    free_ = 0;
    std::fill(std::begin(lane_head_), std::end(lane_head_), kNil);
    std::fill(std::begin(lane_tail_), std::end(lane_tail_), kNil);
  }
  ~PriorityInbox() {
    for (int p = 0; p < 256; ++p)
      for (std::uint32_t n = lane_head_[p]; n != kNil; n = nodes_[n].next) nodes_[n].get()->~T();
  }
  PriorityInbox(const PriorityInbox&) = delete;
  PriorityInbox& operator=(const PriorityInbox&) = delete;

  /// Enqueues `item` at `priority`. When full: Block waits up to `block_timeout`
  /// (nanoseconds::max() = forever) for space, Reject returns Full at once, DropOldest evicts
  /// the oldest message of the lowest priority queued. `item` is only moved from when taken.
  /// A `tagged` message is counted by tagged_size() while queued (the runtime tags
  /// kernel-to-kernel messages, to bound and report them).
  template <class U>
  EnqueueStatus push(U&& item, Priority priority = Priority::Normal,
                     std::chrono::nanoseconds block_timeout = std::chrono::nanoseconds::max(), bool tagged = false) {
    if constexpr (!std::is_nothrow_constructible<T, U&&>::value) {
      T value(std::forward<U>(item));  // may throw: before any place is taken
      return push_nothrow(std::move(value), static_cast<int>(priority), block_timeout, tagged);
    } else {
      return push_nothrow(std::forward<U>(item), static_cast<int>(priority), block_timeout, tagged);
    }
  }

  /// Takes the next message (highest priority, oldest) into `out`; false when empty.
  bool try_pop(T& out) {
    if (locked_depth_.load(std::memory_order_acquire) == 0) {
      if (pop_ring(out)) {
        finish_pops(1);
        return true;
      }
      if (locked_depth_.load(std::memory_order_acquire) == 0) return false;
    }
    std::lock_guard<detail::SpinLock> lock(mu_);
    if (!take_under_lock(-1, [&](T& v) noexcept { out = std::move(v); })) return false;
    finish_pops_locked(1);
    return true;
  }
  /// Waits up to `timeout` for a message. False on timeout, or when closed and empty.
  /// Also returns false early when interrupt() is called while it waits.
  bool pop(T& out, std::chrono::nanoseconds timeout) {
    if (try_pop(out)) return true;
    using clock = std::chrono::steady_clock;
    const clock::time_point deadline = clock::now() + std::min(timeout, std::chrono::nanoseconds(std::int64_t{1} << 60));
    std::unique_lock<detail::SpinLock> lock(mu_);
    const std::uint64_t epoch = interrupt_epoch_;
    for (;;) {
      if (take_under_lock(-1, [&](T& v) noexcept { out = std::move(v); })) {
        finish_pops_locked(1);
        return true;
      }
      const std::size_t c = count_.load(std::memory_order_seq_cst);
      if ((c & ~kClosedBit) != 0) {
        // A sender holds a place but has not published into it yet: it will in a moment.
        lock.unlock();
        std::this_thread::yield();
        lock.lock();
        continue;
      }
      if ((c & kClosedBit) != 0 || interrupt_epoch_ != epoch) return false;
      waiting_consumers_.fetch_add(1, std::memory_order_seq_cst);
      auto ready = [&] { return count_.load(std::memory_order_seq_cst) != 0 || interrupt_epoch_ != epoch; };
      bool woke = true;
      for (;;) {
        // Ask for a wake-up before each sleep (Dekker with push_nothrow: this store comes
        // before the count_ load in ready(); a sender's count_ add comes before its load of
        // the flag). Senders that find it already set skip the notify.
        consumer_signaled_.store(false, std::memory_order_seq_cst);
        if (ready()) break;
        if (not_empty_.wait_until(lock, deadline) == std::cv_status::timeout) {
          woke = ready();
          break;
        }
      }
      waiting_consumers_.fetch_sub(1, std::memory_order_relaxed);
      if (!woke) return false;
      if (interrupt_epoch_ != epoch && (count_.load(std::memory_order_seq_cst) & ~kClosedBit) == 0) return false;
    }
  }
  /// Takes the next message only if its priority is strictly above `floor`; false otherwise.
  /// Lets a consumer that already holds a message of priority `floor` serve newer, more
  /// urgent ones first without putting its own back.
  bool try_pop_above(T& out, Priority floor) {
    std::lock_guard<detail::SpinLock> lock(mu_);
    if (!take_under_lock(static_cast<int>(floor), [&](T& v) noexcept { out = std::move(v); })) return false;
    finish_pops_locked(1);
    return true;
  }
  /// Takes the first message, in service order, for which `pred(const T&)` is true; false if
  /// none. Scans under the lock (O(depth)): for selective receives, not the hot path. Moves
  /// the ring's published Normal messages into the locked Normal lane first.
  template <class Pred>
  bool try_pop_if(T& out, Pred pred) {
    std::lock_guard<detail::SpinLock> lock(mu_);
    migrate_ring();
    for (int w = 3; w >= 0; --w) {
      std::uint64_t bits = occupied_[w];
      while (bits != 0) {
        const int p = w * 64 + 63 - __builtin_clzll(bits);
        bits &= ~(std::uint64_t{1} << (p & 63));
        std::uint32_t prev = kNil;
        for (std::uint32_t n = lane_head_[p]; n != kNil; prev = n, n = nodes_[n].next) {
          if (!pred(static_cast<const T&>(*nodes_[n].get()))) continue;
          unlink_after(p, prev, n);
          out = std::move(*nodes_[n].get());
          release(n);
          ++locked_dequeued_;
          finish_pops_locked(1);
          return true;
        }
      }
    }
    return false;
  }
  /// Tagged messages queued now (see push()).
  std::size_t tagged_size() const noexcept { return tagged_depth_.load(std::memory_order_acquire); }
  /// Appends up to `max_count` messages, in service order, to `out` (a std::vector<T>, a
  /// detail::PacketFifo, or any container with push_back(T&&) that does not throw once
  /// reserve()d; one without reserve() must not throw at all); returns how many.
  template <class Sink>
  std::size_t try_pop_batch(Sink& out, std::size_t max_count) {
    std::size_t n = 0;
    auto to_sink = [&](T& v) noexcept { out.push_back(std::move(v)); };
    if (locked_depth_.load(std::memory_order_acquire) == 0) {
      const std::size_t room = std::min(max_count, count_.load(std::memory_order_acquire) & ~kClosedBit);
      reserve_room(out, room, 0);
      while (n < room && pop_ring_into(to_sink)) ++n;
      if (n != 0) finish_pops(n);
      if (n == room || locked_depth_.load(std::memory_order_acquire) == 0) return n;
    }
    std::lock_guard<detail::SpinLock> lock(mu_);
    const std::size_t more = std::min(max_count - n, count_.load(std::memory_order_acquire) & ~kClosedBit);
    reserve_room(out, more, 0);
    std::size_t m = 0;
    while (m < more && take_under_lock(-1, to_sink)) ++m;
    if (m != 0) finish_pops_locked(m);
    return n + m;
  }
  /// Refuses further pushes (Closed) and wakes every waiter. Queued messages stay poppable;
  /// a push that took its place before close() is queued, none after.
  void close() {
    count_.fetch_or(kClosedBit, std::memory_order_seq_cst);
    std::lock_guard<detail::SpinLock> lock(mu_);
    not_empty_.notify_all();
    not_full_.notify_all();
  }
  /// Wakes every receiver blocked in pop() (they return false if still empty). Used by a
  /// kernel's owner to make its worker re-check its state (deactivate, terminate).
  void interrupt() {
    std::lock_guard<detail::SpinLock> lock(mu_);
    ++interrupt_epoch_;
    not_empty_.notify_all();
  }
  /// Messages queued now, read without the lock (may be stale): for spinning before parking.
  std::size_t approx_size() const noexcept { return count_.load(std::memory_order_relaxed) & ~kClosedBit; }
  /// The highest priority queued, or -1 when empty; read without the lock (may be stale).
  int approx_top_priority() const noexcept {
    const int locked_top = top_hint_.load(std::memory_order_relaxed);
    const bool ring_busy = approx_size() > locked_depth_.load(std::memory_order_relaxed);
    return ring_busy ? std::max(locked_top, kNormal) : locked_top;
  }
  /// Whether a message above `priority` may be queued: approx_top_priority() > priority, but
  /// for priority >= Normal without reading the depth the senders keep writing.
  bool approx_has_above(int priority) const noexcept {
    if (top_hint_.load(std::memory_order_relaxed) > priority) return true;
    return priority < kNormal && approx_size() > locked_depth_.load(std::memory_order_relaxed);
  }
  /// Whether close() was called.
  bool closed() const noexcept { return (count_.load(std::memory_order_acquire) & kClosedBit) != 0; }
  /// Removes and returns every queued message in service order (counted as dequeued). On a
  /// closed inbox it also waits for pushes that took their place before close() to land.
  std::vector<T> drain() {
    std::vector<T> out;
    for (;;) {
      try_pop_batch(out, std::numeric_limits<std::size_t>::max());
      const std::size_t c = count_.load(std::memory_order_acquire);
      if ((c & kClosedBit) == 0 || (c & ~kClosedBit) == 0) return out;
      std::this_thread::yield();
    }
  }
  /// Messages queued now (including pushes between taking their place and publishing).
  std::size_t size() const noexcept { return count_.load(std::memory_order_acquire) & ~kClosedBit; }
  /// Maximum messages queued.
  std::size_t capacity() const noexcept { return capacity_; }
  /// The strategy given at construction.
  BackpressureStrategy strategy() const noexcept { return strategy_; }
  /// A snapshot of the counters; exact when no push or pop runs meanwhile.
  InboxStats stats() const {
    std::lock_guard<detail::SpinLock> lock(mu_);
    InboxStats s;
    const std::uint64_t ring_out = ring_.claimed_by_consumers();  // first: ring_in >= ring_out
    const std::uint64_t ring_in = ring_.claimed_by_producers();
    s.enqueued = locked_enqueued_ + ring_in;
    s.dequeued = locked_dequeued_ + (ring_out - ring_evicted_ - ring_migrated_);
    s.dropped = dropped_;
    s.rejected = rejected_.load(std::memory_order_relaxed);
    const std::uint64_t gone = s.dequeued + s.dropped;
    s.depth = static_cast<std::size_t>(s.enqueued > gone ? s.enqueued - gone : 0);
    s.high_water = high_water_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  static constexpr std::uint32_t kNil = 0xFFFFFFFFu;
  static constexpr int kNormal = static_cast<int>(Priority::Normal);
  // Set in count_ by close(): every later reservation sees a count above the capacity.
  static constexpr std::size_t kClosedBit = std::size_t{1} << (sizeof(std::size_t) * 8 - 1);
  struct Node {
    alignas(T) unsigned char bytes[sizeof(T)];
    std::uint32_t next;
    bool tagged;
    T* get() noexcept { return std::launder(reinterpret_cast<T*>(bytes)); }
  };
  struct Entry {  // a ring element
    template <class U>
    Entry(U&& v, bool t) noexcept : item(std::forward<U>(v)), tagged(t) {}
    T item;
    bool tagged;
  };

  static std::size_t checked_capacity(std::size_t capacity) {
    if (capacity == 0 || capacity > (std::size_t{1} << 31))
      detail::raise(ErrorCode::InvalidArgument,
                    "PriorityInbox: capacity must be in 1..2^31, got " + std::to_string(capacity));
    return capacity;
  }
  static std::size_t ring_size(std::size_t capacity) noexcept {
    std::size_t n = 1;
    while (n < capacity) n <<= 1;
    return n;
  }
  template <class C>
  static auto reserve_room(C& c, std::size_t n, int) -> decltype(c.reserve(n), void()) {
    c.reserve(c.size() + n);
  }
  template <class C>
  static void reserve_room(C&, std::size_t, long) {}

  // Takes a place in count_: the depth with it, or 0 when full or closed.
  std::size_t reserve() noexcept {
    const std::size_t before = count_.fetch_add(1, std::memory_order_seq_cst);
    if (before < capacity_) return before + 1;
    count_.fetch_sub(1, std::memory_order_seq_cst);
    return 0;
  }
  // U&& constructs T without throwing.
  template <class U>
  EnqueueStatus push_nothrow(U&& item, int priority, std::chrono::nanoseconds block_timeout, bool tagged) {
    bool dropped = false;
    std::size_t depth = reserve();
    if (depth == 0) {
      const EnqueueStatus why = reserve_slow(block_timeout, dropped, depth);
      if (why != EnqueueStatus::Enqueued) return why;
    }
    for (std::size_t hw = high_water_.load(std::memory_order_relaxed);
         depth > hw && !high_water_.compare_exchange_weak(hw, depth, std::memory_order_relaxed);) {
    }
    if (tagged) tagged_depth_.fetch_add(1, std::memory_order_relaxed);
    if (priority == kNormal) {
      // The place is ours, so a slot is free, unless a slower consumer still empties the slot
      // a lap back (a DropOldest evictor racing the worker): then it is free in a moment.
      while (!ring_.try_emplace(std::forward<U>(item), tagged)) std::this_thread::yield();
      // Dekker with pop(): our count_ add came before this load; a consumer's waiting_ add
      // comes before its count_ load. One of us sees the other.
      // Only the first sender after a consumer went to sleep notifies: the others, until it
      // runs, would each pay the condition variable's lock and a futex call for nothing.
      if (waiting_consumers_.load(std::memory_order_seq_cst) != 0 && !consumer_signaled_.load(std::memory_order_seq_cst)) {
        std::lock_guard<detail::SpinLock> lock(mu_);  // orders the notify after its predicate check
        consumer_signaled_.store(true, std::memory_order_relaxed);
        not_empty_.notify_all();
      }
    } else {
      std::lock_guard<detail::SpinLock> lock(mu_);
      const std::uint32_t n = free_;  // our place guarantees a node: locked messages < capacity
      free_ = nodes_[n].next;
      ::new (static_cast<void*>(nodes_[n].bytes)) T(std::forward<U>(item));
      nodes_[n].tagged = tagged;
      link_tail(static_cast<std::uint8_t>(priority), n);
      ++locked_enqueued_;
      if (waiting_consumers_.load(std::memory_order_relaxed) != 0 && !consumer_signaled_.load(std::memory_order_relaxed)) {
        consumer_signaled_.store(true, std::memory_order_relaxed);
        not_empty_.notify_all();
      }
    }
    return dropped ? EnqueueStatus::EnqueuedDroppedOldest : EnqueueStatus::Enqueued;
  }
  // The full inbox: Reject refuses, DropOldest evicts and takes over the evicted message's
  // place (one drop per push, exactly), Block waits for a place.
  EnqueueStatus reserve_slow(std::chrono::nanoseconds block_timeout, bool& dropped, std::size_t& depth) {
    using clock = std::chrono::steady_clock;
    const clock::time_point start = clock::now();
    const std::chrono::nanoseconds limit = std::min(block_timeout, std::chrono::nanoseconds(std::int64_t{1} << 60));
    std::unique_lock<detail::SpinLock> lock(mu_);
    for (;;) {
      if ((count_.load(std::memory_order_seq_cst) & kClosedBit) != 0) return refuse(EnqueueStatus::Closed);
      if ((depth = reserve()) != 0) return EnqueueStatus::Enqueued;
      switch (strategy_) {
        case BackpressureStrategy::Reject:
          return refuse(EnqueueStatus::Full);
        case BackpressureStrategy::DropOldest:
          if (evict_oldest_lowest()) {
            dropped = true;
            depth = capacity_;  // the evicted message's place, at the full mark
            return EnqueueStatus::Enqueued;
          }
          // Every queued message is in flight (being published or taken): let it land.
          lock.unlock();
          std::this_thread::yield();
          lock.lock();
          break;
        case BackpressureStrategy::Block: {
          // Consumers wake blocked producers only once the inbox is down to half full
          // (finish_pops), so that a producer refills it in one go instead of waking for
          // every slot. The 1 ms slices bound the wait when a slot opened but the consumer
          // stopped before reaching that mark (paused, or a loop kernel not receiving).
          const std::chrono::nanoseconds waited = clock::now() - start;
          if (waited >= limit) return refuse(EnqueueStatus::Full);
          waiting_producers_.fetch_add(1, std::memory_order_seq_cst);
          not_full_.wait_for(lock, std::min<std::chrono::nanoseconds>(limit - waited, std::chrono::milliseconds(1)), [&] {
            const std::size_t c = count_.load(std::memory_order_seq_cst);
            return (c & kClosedBit) != 0 || c < capacity_;
          });
          waiting_producers_.fetch_sub(1, std::memory_order_relaxed);
          break;
        }
      }
    }
  }
  EnqueueStatus refuse(EnqueueStatus why) noexcept {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return why;
  }
  template <class Take>
  bool pop_ring_into(Take& take) noexcept {
    return ring_.try_consume([&](Entry& e) noexcept {
      if (e.tagged) tagged_depth_.fetch_sub(1, std::memory_order_relaxed);
      take(e.item);
    });
  }
  bool pop_ring(T& out) noexcept {
    auto take = [&](T& v) noexcept { out = std::move(v); };
    return pop_ring_into(take);
  }
  // After n messages left the inbox: release their places, and wake blocked producers at the
  // half-full mark (Dekker: our subtract comes before the waiting_producers_ load).
  void finish_pops(std::size_t n) {
    const std::size_t left = (count_.fetch_sub(n, std::memory_order_seq_cst) - n) & ~kClosedBit;
    if (waiting_producers_.load(std::memory_order_seq_cst) != 0 && left <= capacity_ / 2) {
      std::lock_guard<detail::SpinLock> lock(mu_);
      not_full_.notify_all();
    }
  }
  void finish_pops_locked(std::size_t n) {  // caller holds mu_
    const std::size_t left = (count_.fetch_sub(n, std::memory_order_seq_cst) - n) & ~kClosedBit;
    if (waiting_producers_.load(std::memory_order_seq_cst) != 0 && left <= capacity_ / 2) not_full_.notify_all();
  }
  // Caller holds mu_. Hands the next message above `floor` (-1: any) in service order to
  // `take`: locked lanes above Normal, the locked Normal lane (older), the ring, lower lanes.
  template <class Take>
  bool take_under_lock(int floor, Take&& take) {
    const int top = highest_lane();
    if (top >= kNormal && top > floor) return take_locked(top, take);
    if (kNormal > floor && pop_ring_into(take)) return true;
    if (top > floor) return take_locked(top, take);
    return false;
  }
  template <class Take>
  bool take_locked(int lane, Take& take) {
    const std::uint32_t n = unlink_head(lane);
    take(*nodes_[n].get());
    release(n);
    ++locked_dequeued_;
    return true;
  }
  void drop_locked(int lane) {
    release(unlink_head(lane));
    ++dropped_;
  }
  // Caller holds mu_. Moves the ring's published messages to the tail of the locked Normal
  // lane (they are newer than any there), so a scan sees every message in service order.
  void migrate_ring() {
    while (ring_.try_consume([&](Entry& e) noexcept {
      const std::uint32_t n = free_;  // ring + locked messages <= count_ <= capacity: a node is free
      free_ = nodes_[n].next;
      ::new (static_cast<void*>(nodes_[n].bytes)) T(std::move(e.item));
      nodes_[n].tagged = e.tagged;
      link_tail(static_cast<std::uint8_t>(kNormal), n);
    })) {
      ++ring_migrated_;
    }
  }
  // Caller holds mu_. Evicts the oldest message of the lowest priority queued, keeping its
  // place in count_ for the caller; false when none could be taken now.
  bool evict_oldest_lowest() {
    const int low = lowest_lane();
    auto discard = [](T&) noexcept {};
    if (low >= 0 && low <= kNormal) {  // the locked Normal lane is older than the ring
      drop_locked(low);
    } else if (pop_ring_into(discard)) {
      ++ring_evicted_;
      ++dropped_;
    } else if (low >= 0) {
      drop_locked(low);
    } else {
      return false;
    }
    return true;
  }
  void link_tail(std::uint8_t p, std::uint32_t n) {
    nodes_[n].next = kNil;
    if (lane_tail_[p] == kNil) {
      lane_head_[p] = n;
      occupied_[p >> 6] |= std::uint64_t{1} << (p & 63);
    } else {
      nodes_[lane_tail_[p]].next = n;
    }
    lane_tail_[p] = n;
    if (static_cast<int>(p) > top_hint_.load(std::memory_order_relaxed)) top_hint_.store(p, std::memory_order_relaxed);
    locked_depth_.store(locked_depth_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  std::uint32_t unlink_head(int p) {
    const std::uint32_t n = lane_head_[p];
    unlink_after(p, kNil, n);
    return n;
  }
  // Unlinks node n of lane p, whose predecessor is `prev` (kNil: n is the head).
  void unlink_after(int p, std::uint32_t prev, std::uint32_t n) {
    if (prev == kNil) lane_head_[p] = nodes_[n].next; else nodes_[prev].next = nodes_[n].next;
    if (lane_tail_[p] == n) lane_tail_[p] = prev;
    if (lane_head_[p] == kNil) {
      lane_tail_[p] = kNil;
      occupied_[p >> 6] &= ~(std::uint64_t{1} << (p & 63));
      top_hint_.store(highest_lane(), std::memory_order_relaxed);
    }
    if (nodes_[n].tagged) tagged_depth_.fetch_sub(1, std::memory_order_relaxed);
    locked_depth_.store(locked_depth_.load(std::memory_order_relaxed) - 1, std::memory_order_release);
  }
  void release(std::uint32_t n) {
    nodes_[n].get()->~T();
    nodes_[n].next = free_;
    free_ = n;
  }
  int highest_lane() const {
    for (int w = 3; w >= 0; --w)
      if (occupied_[w] != 0) return w * 64 + 63 - __builtin_clzll(occupied_[w]);
    return -1;
  }
  int lowest_lane() const {
    for (int w = 0; w < 4; ++w)
      if (occupied_[w] != 0) return w * 64 + __builtin_ctzll(occupied_[w]);
    return -1;
  }

  const std::size_t capacity_;
  const BackpressureStrategy strategy_;
  detail::SequencedRing<Entry, true> ring_;  // Normal priority; its head and tail have their own lines
  // Places taken (queued + being published), plus kClosedBit: every sender and consumer.
  alignas(cache_line_size) std::atomic<std::size_t> count_{0};
  // Read on every push or pop, written rarely.
  alignas(cache_line_size) std::atomic<std::size_t> locked_depth_{0};  // messages in the locked lanes
  std::atomic<int> top_hint_{-1};                                      // highest non-empty locked lane
  std::atomic<int> waiting_consumers_{0};
  std::atomic<bool> consumer_signaled_{false};  // a sleeping consumer was notified; set under mu_
  std::atomic<int> waiting_producers_{0};
  std::atomic<std::size_t> high_water_{0};
  alignas(cache_line_size) std::atomic<std::size_t> tagged_depth_{0};
  std::atomic<std::uint64_t> rejected_{0};
  // The locked lanes and their counters, under mu_.
  alignas(cache_line_size) mutable detail::SpinLock mu_;
  std::condition_variable_any not_empty_;  // waited on only by parked consumers (waiting_consumers_)
  std::condition_variable_any not_full_;   // waited on only by blocked producers (waiting_producers_)
  std::unique_ptr<Node[]> nodes_;
  std::uint32_t free_ = kNil;
  std::uint32_t lane_head_[256];
  std::uint32_t lane_tail_[256];
  std::uint64_t occupied_[4] = {0, 0, 0, 0};  // bit p set: lane p non-empty
  std::uint64_t interrupt_epoch_ = 0;
  std::uint64_t locked_enqueued_ = 0;  // pushes into the locked lanes
  std::uint64_t locked_dequeued_ = 0;  // pops from the locked lanes (migrated messages included)
  std::uint64_t ring_evicted_ = 0;     // ring messages dropped by DropOldest
  std::uint64_t ring_migrated_ = 0;    // ring messages moved into the locked Normal lane
  std::uint64_t dropped_ = 0;
};

// ============================================================================================
// 9. Control block and telemetry                                                    >>control
// ============================================================================================
//
// Both structs live in memory the host and a device share (pinned host memory, a Vulkan
// buffer), so they hold plain integers with fixed offsets; host code reaches them through the
// atomic accessors below, device code through its own atomics on the same addresses. Each
// field has one writer (noted), because read-modify-write on pinned host memory is not
// portable across the bus, and because writing back a whole struct loses the other side's
// concurrent updates.

/// Describes one ring to the kernel: where its indices and slots are, and their geometry.
struct QueueDescriptor {
  std::uint64_t head_ptr = 0;      ///< address of the consumer index (uint64)
  std::uint64_t tail_ptr = 0;      ///< address of the producer index (uint64)
  std::uint64_t buffer_ptr = 0;    ///< address of slot 0
  std::int32_t capacity = 0;       ///< slots, a power of two
  std::int32_t message_size = 0;   ///< bytes per slot
};
static_assert(sizeof(QueueDescriptor) == 32, "QueueDescriptor layout is shared with GPUs");

/// Per-kernel control block: 128 bytes, 128-aligned, fields at the offsets given (the seeds'
/// layout). Writers: is_active / should_terminate — host; has_terminated, errors_encountered,
/// messages_processed, last_activity_ticks — the kernel. Thread safety: through the accessors.
struct alignas(128) ControlBlock {
  std::int32_t is_active = 0;             ///< @0   1 while the kernel should process messages
  std::int32_t should_terminate = 0;      ///< @4   1 once the host asked it to stop
  std::int32_t has_terminated = 0;        ///< @8   0 running, 1 done, 2 stopped but relaunchable
  std::int32_t errors_encountered = 0;    ///< @12  handler/device errors so far
  std::int64_t messages_processed = 0;    ///< @16  messages the handler completed
  std::int64_t last_activity_ticks = 0;   ///< @24  HLC physical µs of the last message handled
  QueueDescriptor input_queue;            ///< @32  host → kernel ring
  QueueDescriptor output_queue;           ///< @64  kernel → host ring
  std::uint64_t reserved[4] = {0, 0, 0, 0};  ///< @96 zero

  /// Whether the kernel should process (acquire load).
  bool active() const noexcept { return detail::atomic_load(&is_active) != 0; }
  /// Host: start or pause processing (release store).
  void set_active(bool on) noexcept { detail::atomic_store(&is_active, on ? 1 : 0); }
  /// Whether the host asked the kernel to stop.
  bool terminate_requested() const noexcept { return detail::atomic_load(&should_terminate) != 0; }
  /// Host: ask the kernel to stop.
  void request_terminate() noexcept { detail::atomic_store(&should_terminate, 1); }
  /// 0 running, 1 terminated, 2 stopped but relaunchable.
  std::int32_t termination_state() const noexcept { return detail::atomic_load(&has_terminated); }
  /// Kernel: publish its termination state.
  void set_termination_state(std::int32_t s) noexcept { detail::atomic_store(&has_terminated, s); }
  /// Errors the kernel reported.
  std::int32_t error_count() const noexcept { return detail::atomic_load(&errors_encountered); }
  /// Kernel: count one error (single writer: load + store, no read-modify-write).
  void add_error() noexcept {
    detail::atomic_store(&errors_encountered, detail::atomic_load(&errors_encountered, detail::relaxed) + 1);
  }
  /// Messages the kernel completed.
  std::int64_t processed() const noexcept { return detail::atomic_load(&messages_processed); }
  /// Kernel: count `n` completed messages at HLC physical time `now_us` (single writer).
  void add_processed(std::int64_t n, std::int64_t now_us) noexcept {
    detail::atomic_store(&messages_processed, detail::atomic_load(&messages_processed, detail::relaxed) + n);
    detail::atomic_store(&last_activity_ticks, now_us);
  }
};
static_assert(sizeof(ControlBlock) == 128 && alignof(ControlBlock) == 128, "ControlBlock is 128 bytes, 128-aligned");
static_assert(std::is_standard_layout<ControlBlock>::value, "ControlBlock is shared with GPUs");
static_assert(offsetof(ControlBlock, is_active) == 0 && offsetof(ControlBlock, should_terminate) == 4 &&
                  offsetof(ControlBlock, has_terminated) == 8 && offsetof(ControlBlock, errors_encountered) == 12 &&
                  offsetof(ControlBlock, messages_processed) == 16 && offsetof(ControlBlock, last_activity_ticks) == 24 &&
                  offsetof(ControlBlock, input_queue) == 32 && offsetof(ControlBlock, output_queue) == 64 &&
                  offsetof(ControlBlock, reserved) == 96,
              "ControlBlock offsets are part of the host/device contract");

/// A plain copy of TelemetryBuffer's counters with derived values.
struct TelemetrySnapshot {
  std::uint64_t messages_processed = 0;
  std::uint64_t messages_dropped = 0;
  std::int64_t last_processed_timestamp = 0;  ///< HLC physical µs of the last message handled
  std::int32_t queue_depth = 0;
  std::int32_t error_code = 0;                ///< last ErrorCode reported (0: none)
  std::uint64_t total_latency_ns = 0;         ///< summed over the latency samples
  std::uint64_t min_latency_ns = 0;           ///< 0 when nothing was sampled
  std::uint64_t max_latency_ns = 0;
  /// Messages whose latency was measured: all processed ones, unless
  /// RuntimeConfig::latency_sample_interval > 1.
  std::uint64_t latency_samples = 0;
  /// Mean latency over the samples, 0 when there is none.
  double avg_latency_ns() const noexcept {
    return latency_samples == 0 ? 0.0 : static_cast<double>(total_latency_ns) / static_cast<double>(latency_samples);
  }
};

/// Per-kernel telemetry: 64 bytes, 64-aligned, the seeds' fields and offsets. Writers: the
/// kernel for everything except messages_dropped, which senders add to (host atomics only).
/// Thread safety: through the accessors; snapshot() may run concurrently with updates
/// (each field is read atomically, the set of fields is not one instant).
struct alignas(64) TelemetryBuffer {
  std::uint64_t messages_processed = 0;        ///< @0
  std::uint64_t messages_dropped = 0;          ///< @8
  std::int64_t last_processed_timestamp = 0;   ///< @16 HLC physical µs
  std::int32_t queue_depth = 0;                ///< @24
  std::int32_t reserved_a = 0;                 ///< @28
  std::uint64_t total_latency_nanos = 0;       ///< @32
  std::uint64_t max_latency_nanos = 0;         ///< @40
  std::uint64_t min_latency_nanos = ~std::uint64_t{0};  ///< @48 all ones until the first message
  std::int32_t error_code = 0;                 ///< @56 last ErrorCode (0: none)
  std::int32_t reserved_b = 0;                 ///< @60

  /// Kernel: one message done, `latency_ns` after it was enqueued, at HLC physical `now_us`.
  /// The buffer counts every processed message as a latency sample; a host runtime that
  /// samples (RuntimeConfig::latency_sample_interval) counts its samples beside it and uses
  /// count_processed() for the others.
  void record_processed(std::uint64_t latency_ns, std::int64_t now_us) noexcept {
    using detail::atomic_load;
    using detail::atomic_store;
    atomic_store(&total_latency_nanos, atomic_load(&total_latency_nanos, detail::relaxed) + latency_ns);
    if (latency_ns > atomic_load(&max_latency_nanos, detail::relaxed)) atomic_store(&max_latency_nanos, latency_ns);
    if (latency_ns < atomic_load(&min_latency_nanos, detail::relaxed)) atomic_store(&min_latency_nanos, latency_ns);
    atomic_store(&last_processed_timestamp, now_us);
    atomic_store(&messages_processed, atomic_load(&messages_processed, detail::relaxed) + 1);
  }
  /// Kernel: one message done whose latency was not sampled, at HLC physical `now_us`.
  void count_processed(std::int64_t now_us) noexcept {
    detail::atomic_store(&last_processed_timestamp, now_us);
    detail::atomic_store(&messages_processed, detail::atomic_load(&messages_processed, detail::relaxed) + 1);
  }
  /// Any host thread: count `n` dropped messages.
  void record_dropped(std::uint64_t n = 1) noexcept { detail::atomic_fetch_add(&messages_dropped, n); }
  /// Kernel or owner: publish the queue depth.
  void set_queue_depth(std::int32_t depth) noexcept { detail::atomic_store(&queue_depth, depth); }
  /// Kernel: publish the last error.
  void set_error(ErrorCode code) noexcept { detail::atomic_store(&error_code, static_cast<std::int32_t>(code)); }
  /// Reads every field.
  TelemetrySnapshot snapshot() const noexcept {
    TelemetrySnapshot s;
    s.messages_processed = detail::atomic_load(&messages_processed);
    s.messages_dropped = detail::atomic_load(&messages_dropped);
    s.last_processed_timestamp = detail::atomic_load(&last_processed_timestamp);
    s.queue_depth = detail::atomic_load(&queue_depth);
    s.error_code = detail::atomic_load(&error_code);
    s.total_latency_ns = detail::atomic_load(&total_latency_nanos);
    s.max_latency_ns = detail::atomic_load(&max_latency_nanos);
    const std::uint64_t mn = detail::atomic_load(&min_latency_nanos);
    s.min_latency_ns = mn == ~std::uint64_t{0} ? 0 : mn;
    s.latency_samples = s.messages_processed;
    return s;
  }
};
static_assert(sizeof(TelemetryBuffer) == 64 && alignof(TelemetryBuffer) == 64, "TelemetryBuffer is 64 bytes");
static_assert(offsetof(TelemetryBuffer, messages_dropped) == 8 && offsetof(TelemetryBuffer, last_processed_timestamp) == 16 &&
                  offsetof(TelemetryBuffer, queue_depth) == 24 && offsetof(TelemetryBuffer, total_latency_nanos) == 32 &&
                  offsetof(TelemetryBuffer, max_latency_nanos) == 40 && offsetof(TelemetryBuffer, min_latency_nanos) == 48 &&
                  offsetof(TelemetryBuffer, error_code) == 56,
              "TelemetryBuffer offsets are part of the host/device contract");


// ============================================================================================
// 10. Messaging fabric                                                               >>fabric
// ============================================================================================
// Kernel-to-kernel (K2K) delivery and topic pub/sub between the kernels of one runtime. Both
// put messages into the destination kernels' inboxes, so the inbox's priority order and
// backpressure apply, and every message is stamped by the runtime's HLC: a kernel merges the
// timestamp of each message it takes, so anything it sends afterwards is ordered after it.
// The brokers are owned by the Runtime (rt.k2k_broker(), rt.pubsub()); kernels reach them
// through their context (ctx.send_to_kernel, ctx.publish).

namespace detail {
struct RuntimeShared;
struct Packet;
class KernelCore;
struct FabricAccess;
}  // namespace detail

/// Outcome of one K2K delivery.
enum class DeliveryStatus : std::uint8_t {
  Delivered = 0,         ///< in the destination's inbox
  Pending = 1,           ///< accepted, delivery completes later (asynchronous backends; the CPU broker delivers at once)
  NoRoute = 2,           ///< no registered kernel (or route) has that name
  HopLimitExceeded = 3,  ///< the route chain is longer than K2KConfig::max_hops (e.g. a route loop)
  Timeout = 4,           ///< the destination's inbox stayed full (Block) for delivery_timeout_ms
  QueueFull = 5,         ///< the inbox is full under Reject, or max_pending_messages K2K messages wait there
  NotActive = 6,         ///< the destination is terminating, terminated or faulted
  Rejected = 7,          ///< the destination cannot take it: wrong message type, too large, or clock drift
};
/// Stable name ("Delivered", ...).
RINGKERNEL_API const char* to_string(DeliveryStatus status) noexcept;
/// Delivered.
constexpr bool is_success(DeliveryStatus s) noexcept { return s == DeliveryStatus::Delivered; }
/// Pending.
constexpr bool is_pending(DeliveryStatus s) noexcept { return s == DeliveryStatus::Pending; }
/// Neither delivered nor pending.
constexpr bool is_failure(DeliveryStatus s) noexcept { return !is_success(s) && !is_pending(s); }

/// What happened to one K2K message. Value type.
struct DeliveryReceipt {
  MessageId message_id{};        ///< the message's id
  std::string source;            ///< sender's name (a kernel id, or any name a host chose)
  std::string destination;       ///< the name it was sent to
  std::string delivered_to;      ///< the kernel the routes led to (differs from `destination` when routed);
                                 ///< set also when that kernel refused it (NotActive, QueueFull, Timeout, Rejected)
  DeliveryStatus status = DeliveryStatus::NoRoute;
  std::uint32_t hops = 0;        ///< 1 for a direct delivery, +1 per route followed
  HlcTimestamp timestamp{};      ///< the message's HLC timestamp
  std::vector<std::string> trace;  ///< names along the way, source first (only with enable_tracing)
  bool is_success() const noexcept { return ringkernel::is_success(status); }  ///< status is Delivered
  bool is_pending() const noexcept { return ringkernel::is_pending(status); }  ///< status is Pending
  bool is_failure() const noexcept { return ringkernel::is_failure(status); }  ///< any other status
};

/// K2K broker settings (RuntimeConfig::k2k). Value type.
struct K2KConfig {
  /// Most K2K messages waiting in one kernel's inbox; more are refused with QueueFull.
  std::size_t max_pending_messages = 4096;
  /// How long a delivery into a full Block-strategy inbox waits before Timeout.
  std::uint64_t delivery_timeout_ms = 1000;
  /// Record each message's path in its receipt.
  bool enable_tracing = false;
  /// Longest route chain (hops) a message may take.
  std::uint32_t max_hops = 8;
  /// The defaults above.
  static K2KConfig default_config() noexcept { return K2KConfig{}; }
};

/// K2K counters at one moment.
struct K2KStats {
  std::size_t registered_endpoints = 0;  ///< kernels reachable by K2K now
  std::uint64_t messages_delivered = 0;  ///< receipts with Delivered
  std::uint64_t delivery_failures = 0;   ///< receipts with a failure status
  std::size_t routes_configured = 0;     ///< add_route() entries
  std::uint64_t in_flight = 0;           ///< K2K messages in inboxes, not yet taken by their kernel
};

/// Kernel-to-kernel delivery between the kernels of one runtime. Every kernel launched with
/// LaunchOptions::with_k2k(true) (the default) is an endpoint under its id until it terminates.
///
/// Routes: add_route(D, N) sends everything addressed to D on to N (D need not be a kernel: a
/// service name; or a kernel that a proxy kernel N should front). Routes chain: D -> N -> M ...
/// until a name with no route, which must be a registered kernel. Each route followed is one
/// hop, plus one for the final delivery; a chain longer than max_hops (a loop, say) fails with
/// HopLimitExceeded after at most max_hops steps, never spinning.
///
/// Order: messages from one sender to one destination, at one priority, arrive in the order
/// sent (delivery is synchronous into the destination's FIFO-within-priority inbox).
/// Backpressure: a delivery into a full Block-strategy inbox waits at most delivery_timeout_ms
/// (then Timeout), so kernels feeding each other in a cycle slow down but never deadlock.
/// Thread safety: every member may be called from any thread.
class K2KBroker {
 public:
  /// Made by the runtime; reach it with Runtime::k2k_broker().
  K2KBroker(detail::RuntimeShared& runtime, const K2KConfig& config) : rt_(runtime), config_(config) {}
  K2KBroker(const K2KBroker&) = delete;
  K2KBroker& operator=(const K2KBroker&) = delete;

  /// The settings.
  const K2KConfig& config() const noexcept { return config_; }
  /// Ids of the kernels reachable now (K2K enabled, not terminating or terminated), in launch order.
  RINGKERNEL_API std::vector<std::string> registered_kernels() const;
  /// Whether `kernel_id` is reachable now.
  RINGKERNEL_API bool is_registered(const std::string& kernel_id) const;
  /// Messages for `destination` go on to `next_hop` (replaces an earlier route for it).
  /// Error(InvalidArgument) for an empty name or destination == next_hop.
  RINGKERNEL_API void add_route(const std::string& destination, const std::string& next_hop);
  /// Removes the route for `destination`; false if there was none.
  RINGKERNEL_API bool remove_route(const std::string& destination);
  /// Every route, as (destination, next_hop).
  RINGKERNEL_API std::vector<std::pair<std::string, std::string>> routes() const;
  /// Delivers `envelope` (type, payload, priority, correlation) from `source` to
  /// `destination`. A non-zero envelope timestamp is merged into the runtime clock first; the
  /// message carries a fresh tick after it. Never throws for delivery failures: see the receipt.
  RINGKERNEL_API DeliveryReceipt send(const std::string& source, const std::string& destination,
                                      const MessageEnvelope& envelope);
  /// Typed form of send().
  template <class T>
  DeliveryReceipt send_message(const std::string& source, const std::string& destination, const T& message) {
    return send(source, destination, MessageEnvelope::from_message(message, 0, 0, HlcTimestamp{}));
  }
  /// Counters now.
  RINGKERNEL_API K2KStats stats() const;

 private:
  friend struct detail::FabricAccess;
  RINGKERNEL_API DeliveryReceipt deliver(const std::string& source, const std::string& destination, detail::Packet&& packet);
  detail::RuntimeShared& rt_;
  const K2KConfig config_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> routes_;
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> failed_{0};
};

/// A pub/sub topic name ("sensors/kitchen/temperature") or filter ("sensors/+/temperature",
/// "sensors/#"). Grammar: MQTT 3.1.1 §4.7 — levels split by '/', `+` matches exactly one level,
/// `#` matches the parent level and any number below and must be the last level, each wildcard
/// alone in its level; `*` is accepted as a synonym of `+`; a filter starting with a wildcard
/// does not match names starting with '$'. Stricter than MQTT in one way: empty levels
/// ("a//b", "/a", "a/") are rejected, since they are almost always a mistake. At most 65535
/// bytes, no NUL. Value type.
class Topic {
 public:
  /// Parses `text`. Throws Error(InvalidTopic) saying what is wrong and where.
  RINGKERNEL_API explicit Topic(std::string_view text);
  /// Non-throwing parse.
  RINGKERNEL_API static Result<Topic> parse(std::string_view text);
  /// The text.
  const std::string& str() const noexcept { return text_; }
  /// True when it holds a wildcard (a filter; such a topic cannot be published to).
  bool is_filter() const noexcept { return filter_; }
  /// Whether the topic name `name` matches this filter (or equals this name). False for a
  /// `name` that is itself invalid or a filter.
  RINGKERNEL_API bool matches(std::string_view name) const;
  /// Same text.
  friend bool operator==(const Topic& a, const Topic& b) noexcept { return a.text_ == b.text_; }
  friend bool operator!=(const Topic& a, const Topic& b) noexcept { return a.text_ != b.text_; }

 private:
  struct Unchecked {};
  Topic(Unchecked, std::string text, bool filter) : text_(std::move(text)), filter_(filter) {}
  std::string text_;
  bool filter_ = false;
};

/// Pub/sub settings (RuntimeConfig::pubsub). Value type.
struct PubSubConfig {
  /// Most subscriptions at once; more are refused with Error(QueueFull).
  std::size_t max_subscriptions = 65536;
  /// How long a delivery into a full Block-strategy inbox waits before it counts as failed.
  std::chrono::milliseconds delivery_timeout{100};
  /// The defaults above.
  static PubSubConfig default_config() noexcept { return PubSubConfig{}; }
};

/// Identifies one subscription (from PubSubBroker::subscribe).
struct SubscriptionId {
  std::uint64_t value = 0;  ///< 0: none
  friend bool operator==(SubscriptionId a, SubscriptionId b) noexcept { return a.value == b.value; }
  friend bool operator!=(SubscriptionId a, SubscriptionId b) noexcept { return a.value != b.value; }
};

/// Pub/sub counters, kept for the runtime's life.
struct PubSubStats {
  std::size_t subscriptions = 0;          ///< active subscriptions
  std::uint64_t messages_published = 0;   ///< publish() calls that were accepted
  std::uint64_t deliveries = 0;           ///< messages put into subscribers' inboxes
  std::uint64_t delivery_failures = 0;    ///< subscribers that could not take one (full, terminated, wrong type)
  std::uint64_t unmatched = 0;            ///< publishes no subscription matched
};

/// Topic pub/sub between kernels: a publish goes into the inbox of every kernel holding a
/// matching subscription, once per kernel even when several of its filters match.
/// Thread safety: every member may be called from any thread.
class PubSubBroker {
 public:
  /// Made by the runtime; reach it with Runtime::pubsub().
  PubSubBroker(detail::RuntimeShared& runtime, const PubSubConfig& config) : rt_(runtime), config_(config) {}
  PubSubBroker(const PubSubBroker&) = delete;
  PubSubBroker& operator=(const PubSubBroker&) = delete;

  /// The settings.
  const PubSubConfig& config() const noexcept { return config_; }
  /// Subscribes kernel `kernel_id` to `filter`. KernelError(KernelNotFound) for an unknown id,
  /// Error(QueueFull) beyond max_subscriptions.
  RINGKERNEL_API SubscriptionId subscribe(const Topic& filter, const std::string& kernel_id);
  /// Removes one subscription; false if unknown.
  RINGKERNEL_API bool unsubscribe(SubscriptionId id);
  /// Removes every subscription of `kernel_id`; returns how many.
  RINGKERNEL_API std::size_t unsubscribe_all(const std::string& kernel_id);
  /// Every subscription as (id, filter, kernel id).
  RINGKERNEL_API std::vector<std::tuple<SubscriptionId, Topic, std::string>> subscriptions() const;
  /// Publishes `envelope` on `topic` (a name, not a filter: Error(InvalidTopic) otherwise) as
  /// `sender`. A non-zero `timestamp` (or the envelope's) is merged into the runtime clock; the
  /// message carries a fresh tick after it. Returns how many kernels got it; each subscriber
  /// that could not take it within delivery_timeout is counted in delivery_failures.
  RINGKERNEL_API std::size_t publish(const Topic& topic, const std::string& sender, const MessageEnvelope& envelope,
                                     HlcTimestamp timestamp = HlcTimestamp{});
  /// Typed form of publish().
  template <class T>
  std::size_t publish_message(const Topic& topic, const std::string& sender, const T& message) {
    return publish(topic, sender, MessageEnvelope::from_message(message, 0, 0, HlcTimestamp{}));
  }
  /// Counters now.
  RINGKERNEL_API PubSubStats stats() const;

 private:
  struct Subscription {
    SubscriptionId id;
    Topic filter;
    std::string kernel_id;
  };
  detail::RuntimeShared& rt_;
  const PubSubConfig config_;
  mutable std::mutex mu_;
  std::vector<Subscription> subs_;
  std::uint64_t next_id_ = 1;
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::uint64_t> deliveries_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint64_t> unmatched_{0};
};

// ============================================================================================
// 11. Kernel model                                                                   >>kernel
// ============================================================================================

/// Lifecycle of a kernel. Legal moves: Launched → Active (activate); Active ⇄ Deactivated
/// (deactivate / activate); Launched, Active, Deactivated, Faulted → Terminating → Terminated
/// (terminate). A handler that throws moves its kernel to Faulted.
enum class KernelState : std::uint8_t {
  Created = 0,      ///< being set up inside launch()
  Launched = 1,     ///< resources ready, not processing (two-phase launch)
  Active = 2,       ///< processing messages
  Deactivated = 3,  ///< paused; messages wait in the inbox
  Terminating = 4,  ///< stop requested, worker finishing its current message
  Terminated = 5,   ///< stopped; unprocessed messages can be drained
  Faulted = 6,      ///< a handler threw; see KernelHandle::fault()
};
/// How a kernel runs: a persistent loop, or (GPU backends) one launch per batch.
enum class KernelMode : std::uint8_t { Persistent = 0, EventDriven = 1 };
/// Where kernels run. Auto probes CUDA, then Vulkan, then falls back to the CPU.
enum class Backend : std::uint8_t { Auto = 0, Cpu = 1, Cuda = 2, Vulkan = 3 };
/// Outcome of KernelHandle::try_send.
enum class SendStatus : std::uint8_t {
  Ok = 0,             ///< accepted (under DropOldest an older message may have been dropped)
  QueueFull = 1,      ///< inbox full under Reject, or Block's timeout expired
  NotActive = 2,      ///< kernel terminating or terminated
  KernelFaulted = 3,  ///< kernel faulted; terminate it
  TypeMismatch = 4,   ///< the kernel's handler takes another message type
  TooLarge = 5,       ///< payload above the kernel's max message size
  ClockDrift = 6,     ///< an envelope's timestamp is further ahead than the clock's max drift
};
/// Stable names.
RINGKERNEL_API const char* to_string(KernelState state) noexcept;
RINGKERNEL_API const char* to_string(KernelMode mode) noexcept;
RINGKERNEL_API const char* to_string(Backend backend) noexcept;
RINGKERNEL_API const char* to_string(SendStatus status) noexcept;

/// How to launch a kernel. Builder methods validate at once and throw Error(InvalidArgument)
/// with the bad value named. Value type.
class LaunchOptions {
 public:
  /// Inbox and output capacity in messages: a power of two (default 1024).
  RINGKERNEL_API LaunchOptions& with_queue_capacity(std::size_t capacity);
  /// Largest payload a message to this kernel may carry, in bytes (default 64 KiB, > 0).
  RINGKERNEL_API LaunchOptions& with_max_message_size(std::size_t bytes);
  /// GPU threads per block (default 256, > 0). The CPU backend ignores it.
  RINGKERNEL_API LaunchOptions& with_block_size(std::uint32_t threads);
  /// GPU blocks (default 1, > 0). The CPU backend ignores it.
  RINGKERNEL_API LaunchOptions& with_grid_size(std::uint32_t blocks);
  /// Priority given to messages sent without an explicit one (default Normal).
  LaunchOptions& with_priority(Priority priority) noexcept { priority_ = priority; return *this; }
  /// What a full inbox does (default Block).
  LaunchOptions& with_backpressure(BackpressureStrategy s) noexcept { backpressure_ = s; return *this; }
  /// Whether the kernel joins the K2K fabric (default true).
  LaunchOptions& with_k2k(bool enabled) noexcept { k2k_ = enabled; return *this; }
  /// Persistent (default) or EventDriven.
  LaunchOptions& with_mode(KernelMode mode) noexcept { mode_ = mode; return *this; }
  /// How long send() waits for room under Block (default 30 s; >= 0).
  RINGKERNEL_API LaunchOptions& with_send_timeout(std::chrono::nanoseconds timeout);
  /// Launch in state Launched; call activate() to start (two-phase launch).
  LaunchOptions& without_auto_activate() noexcept { auto_activate_ = false; return *this; }

  std::size_t queue_capacity() const noexcept { return queue_capacity_; }
  std::size_t max_message_size() const noexcept { return max_message_size_; }
  std::uint32_t block_size() const noexcept { return block_size_; }
  std::uint32_t grid_size() const noexcept { return grid_size_; }
  Priority priority() const noexcept { return priority_; }
  BackpressureStrategy backpressure() const noexcept { return backpressure_; }
  bool k2k() const noexcept { return k2k_; }
  KernelMode mode() const noexcept { return mode_; }
  std::chrono::nanoseconds send_timeout() const noexcept { return send_timeout_; }
  bool auto_activate() const noexcept { return auto_activate_; }

 private:
  std::size_t queue_capacity_ = 1024;
  std::size_t max_message_size_ = 64 * 1024;
  std::uint32_t block_size_ = 256;
  std::uint32_t grid_size_ = 1;
  Priority priority_ = Priority::Normal;
  BackpressureStrategy backpressure_ = BackpressureStrategy::Block;
  bool k2k_ = true;
  KernelMode mode_ = KernelMode::Persistent;
  std::chrono::nanoseconds send_timeout_ = std::chrono::seconds(30);
  bool auto_activate_ = true;
};

/// A kernel's counters at one moment. Accounting: messages_received == messages_processed +
/// messages_dropped + queue_depth + (1 if faulted on a message), exactly whenever the handler is
/// between messages (a message in the handler is in none of the terms until it returns; the
/// counters are read one by one, not as one atomic snapshot). A handler's return value is
/// published after its input is counted as processed; outputs sent with ctx.emit() during the
/// handler can be seen before. The output queue holds as many messages as the inbox: when the
/// host does not receive, a full output queue blocks the handler (backpressure, not loss).
struct KernelStatus {
  std::string id;
  KernelState state = KernelState::Created;
  KernelMode mode = KernelMode::Persistent;
  std::uint64_t messages_received = 0;   ///< accepted into the inbox
  std::uint64_t messages_processed = 0;  ///< completed by the handler
  std::uint64_t messages_dropped = 0;    ///< evicted by DropOldest
  std::uint64_t messages_rejected = 0;   ///< refused by send (QueueFull, NotActive)
  std::uint64_t queue_capacity = 0;      ///< the inbox's capacity (LaunchOptions::with_queue_capacity)
  std::uint64_t queue_depth = 0;         ///< waiting: in the inbox, or among those the worker took from it
                                         ///< at once (a quarter of the capacity, at most 32) and has not
                                         ///< handled yet; DropOldest evicts only from the inbox, and a Block
                                         ///< sender waits only on the inbox, so depth may exceed capacity by that much
  std::uint64_t outputs_pending = 0;     ///< emitted, not yet received by the host
  std::uint64_t outputs_dropped = 0;     ///< emitted while terminating with a full output queue (that one and all later ones), or late replies
  std::uint64_t errors = 0;              ///< handler exceptions
  std::uint64_t min_latency_ns = 0;      ///< enqueue → handler done, over the samples; 0 when none
  double avg_latency_ns = 0;
  std::uint64_t max_latency_ns = 0;
  std::uint64_t latency_samples = 0;     ///< messages timed (all, unless RuntimeConfig::latency_sample_interval > 1)
  std::int64_t last_activity_us = 0;     ///< HLC physical time of the last message handled
};

/// The first handler failure of a faulted kernel: what was thrown, on which message.
struct KernelFault {
  std::string what;         ///< the exception's what()
  MessageEnvelope message;  ///< the message being handled
};

/// Runtime-wide counters (RuntimeMetrics).
struct RuntimeMetrics {
  std::uint64_t total_launched = 0;    ///< kernels launched since the runtime started
  std::uint64_t active_kernels = 0;    ///< kernels in state Active now
  std::uint64_t messages_in = 0;       ///< accepted by kernel inboxes
  std::uint64_t messages_out = 0;      ///< emitted by handlers
  std::uint64_t messages_dropped = 0;  ///< dropped by policy (DropOldest, late replies)
  std::uint64_t faults = 0;            ///< kernels that faulted
};

class ResourceGuard;  // section 14

/// Runtime settings (RuntimeConfig).
struct RuntimeConfig {
  /// How long a worker spins on an empty inbox before parking (0: park at once). A worker
  /// spins only while the process's running workers (busy or spinning, of every runtime)
  /// leave a hardware thread free for the threads that feed them (hardware threads: those
  /// the process's affinity mask allows, on Linux); otherwise it parks after a
  /// few polls, because on an oversubscribed machine a spinning worker takes the core its
  /// producer needs.
  std::chrono::microseconds spin_before_park{50};
  /// How long terminate() waits for a worker to stop before reporting it stuck.
  std::chrono::milliseconds termination_timeout{5000};
  /// Kernel-to-kernel broker settings (Runtime::k2k_broker()).
  K2KConfig k2k{};
  /// Pub/sub broker settings (Runtime::pubsub()).
  PubSubConfig pubsub{};
  /// The guard launch() charges each kernel's queues against (estimate_queue_memory); an
  /// oversized launch throws MemoryLimitError before allocating. Null: default_guard().
  std::shared_ptr<ResourceGuard> resource_guard{};
  /// Time the latency (enqueue -> handler done) of one message in this many, per sending
  /// thread; 1 (the default) times every message. Timing takes two clock reads per message
  /// per hop (~20 ns each on a VM's TSC, more where the TSC is not usable), which a handler
  /// of a few nanoseconds feels: a throughput-bound deployment sets e.g. 64 and gets min/avg/max
  /// over that sample (KernelStatus::latency_samples says how many). Counts stay exact. >= 1.
  std::uint32_t latency_sample_interval = 1;
};

namespace detail {
class KernelCore;
struct RuntimeShared;
/// Hardware threads the calling thread may run on: its CPU affinity mask on Linux (a
/// container's cpuset, taskset), which std::thread::hardware_concurrency() ignores; that
/// count elsewhere, and at least 1. Workers inherit the launching thread's mask, so the
/// spinning limit (RuntimeConfig::spin_before_park) is taken from it once per process.
RINGKERNEL_API int usable_hardware_threads() noexcept;
/// A message's metadata inside the runtime (trivially copyable).
struct PacketMeta {
  std::uint64_t type_id = 0;
  std::uint64_t correlation_id = 0;
  std::uint64_t source_kernel = 0;
  std::uint64_t message_id = 0;
  HlcTimestamp timestamp{};
  std::int64_t enqueued_ns = 0;  // latency_ns() at enqueue, when flags has latency_timed
  std::uint32_t size = 0;
  std::uint8_t priority = static_cast<std::uint8_t>(Priority::Normal);
  std::uint8_t flags = 0;
  static constexpr std::uint8_t from_kernel = 1;   // sent by kernel `source_kernel` over K2K or pub/sub
  static constexpr std::uint8_t stamped_here = 2;  // `timestamp` was ticked by this runtime's clock, so
                                                   // the clock is already past it: no merge on receipt
  static constexpr std::uint8_t latency_timed = 4; // `enqueued_ns` holds the enqueue time (a latency sample)
};
/// A message inside the runtime: metadata plus the payload (inline up to 64 bytes).
/// Copies and moves carry only the inline bytes in use (rounded up to 16, 32 or 64): a packet
/// changes hands several times per hop (inbox, worker batch, outputs), and the implicit
/// member-wise copy of the whole inline array is a byte loop at -O2.
struct Packet : PacketMeta {
  static constexpr std::size_t inline_capacity = 64;
  alignas(16) unsigned char small[inline_capacity];
  std::vector<std::uint8_t> big;

  Packet() noexcept {}
  Packet(const Packet& o) : PacketMeta(o), big(o.big) { copy_inline(o); }
  Packet(Packet&& o) noexcept : PacketMeta(o), big(std::move(o.big)) { copy_inline(o); }
  Packet& operator=(const Packet& o) {
    if (this != &o) {
      static_cast<PacketMeta&>(*this) = o;
      big = o.big;
      copy_inline(o);
    }
    return *this;
  }
  Packet& operator=(Packet&& o) noexcept {
    if (this != &o) {
      static_cast<PacketMeta&>(*this) = o;
      big = std::move(o.big);
      copy_inline(o);
    }
    return *this;
  }
  ~Packet() = default;
  // Fixed-size chunks (16, 32 or 64 bytes) compile to a few vector moves; a memcpy of `size`
  // bytes is a library call. The bytes past `size` are unsigned char, copied but never read.
  void copy_inline(const Packet& o) noexcept {
    if (o.size == 0 || o.size > inline_capacity) return;
    if (o.size <= 16) std::memcpy(small, o.small, 16);
    else if (o.size <= 32) std::memcpy(small, o.small, 32);
    else std::memcpy(small, o.small, inline_capacity);
  }
  const std::uint8_t* data() const noexcept { return size <= inline_capacity ? small : big.data(); }
  void assign(const void* bytes, std::size_t n) {
    size = static_cast<std::uint32_t>(n);
    if (n <= inline_capacity) {
      if (n != 0) std::memcpy(small, bytes, n);
    } else {
      big.assign(static_cast<const std::uint8_t*>(bytes), static_cast<const std::uint8_t*>(bytes) + n);
    }
  }
  template <class T>
  void assign_message(const T& m) {
    type_id = message_type_id<T>();
    assign(&m, sizeof(T));
  }
  template <class T>
  bool holds() const noexcept {
    return type_id == message_type_id<T>() && size == sizeof(T);
  }
  template <class T>
  T get() const noexcept {
    T out;
    std::memcpy(static_cast<void*>(&out), data(), sizeof(T));
    return out;
  }
};

/// A FIFO of packets on a growable power-of-two ring: a worker's held messages, a kernel's
/// outputs. Unlike std::deque (a 512-byte block per three packets, allocated and freed as the
/// queue breathes) it allocates only to grow. Not thread-safe.
class PacketFifo {
 public:
  bool empty() const noexcept { return head_ == tail_; }
  std::size_t size() const noexcept { return tail_ - head_; }
  Packet& operator[](std::size_t i) noexcept { return slots_[(head_ + i) & mask_]; }
  const Packet& operator[](std::size_t i) const noexcept { return slots_[(head_ + i) & mask_]; }
  Packet& front() noexcept { return (*this)[0]; }
  void push_back(Packet&& p) {
    if (size() == capacity_) grow();
    slots_[tail_++ & mask_] = std::move(p);
  }
  void push_front(Packet&& p) {
    if (size() == capacity_) grow();
    slots_[--head_ & mask_] = std::move(p);  // indices wrap modulo 2^64, a multiple of the capacity
  }
  void pop_front() noexcept { ++head_; }
  /// Grows to hold at least `n` packets, so that push_back does not allocate until then.
  void reserve(std::size_t n) {
    while (capacity_ < n) grow();
  }
  /// Removes element i (0 = front), keeping the order of the others.
  void erase_at(std::size_t i) {
    for (std::size_t n = size(); i + 1 < n; ++i) (*this)[i] = std::move((*this)[i + 1]);
    --tail_;
  }
  void clear() noexcept { head_ = tail_ = 0; }

 private:
  void grow() {
    const std::size_t cap = capacity_ == 0 ? 16 : capacity_ * 2;
    std::unique_ptr<Packet[]> bigger(new Packet[cap]);
    const std::size_t n = size();
    for (std::size_t i = 0; i < n; ++i) bigger[i] = std::move((*this)[i]);
    slots_ = std::move(bigger);
    capacity_ = cap;
    mask_ = cap - 1;
    head_ = 0;
    tail_ = n;
  }
  std::unique_ptr<Packet[]> slots_;
  std::size_t capacity_ = 0;
  std::size_t mask_ = 0;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};
}  // namespace detail

namespace detail {
/// What both kernel contexts offer on the messaging fabric, as their kernel: K2K sends and
/// publishing. Used only by the kernel's own worker thread.
class FabricSender {
 public:
  /// Sends `message` to the kernel (or routed name) `destination` over K2K, from this kernel,
  /// at this kernel's priority. The receipt says whether it was delivered.
  template <class T>
  DeliveryReceipt send_to_kernel(const std::string& destination, const T& message) {
    detail::Packet p;
    p.assign_message(message);
    return send_packet_to_kernel(destination, std::move(p));
  }
  /// Publishes `message` on `topic` (a name, not a filter) as this kernel; returns how many
  /// kernels got it.
  template <class T>
  std::size_t publish(const Topic& topic, const T& message) {
    return publish_envelope(topic, MessageEnvelope::from_message(message, 0, 0, HlcTimestamp{}));
  }

 protected:
  explicit FabricSender(KernelCore& core) noexcept : core_(core) {}
  RINGKERNEL_API DeliveryReceipt send_packet_to_kernel(const std::string& destination, Packet&& p);
  RINGKERNEL_API std::size_t publish_envelope(const Topic& topic, const MessageEnvelope& envelope);
  KernelCore& core_;
};
}  // namespace detail

/// Given to a message handler's call operator (the two-argument form): who it is, the
/// current message's time and correlation, and emit() for zero or several outputs.
/// Valid only during the call; used only by the kernel's own worker thread.
class HandlerContext : public detail::FabricSender {
 public:
  /// The kernel's id.
  RINGKERNEL_API const std::string& kernel_id() const noexcept;
  /// The current message's timestamp, merged into the runtime clock (later sends are after it).
  HlcTimestamp timestamp() const noexcept { return timestamp_; }
  /// The current message's correlation id (outputs carry it back to call()).
  CorrelationId correlation_id() const noexcept { return CorrelationId{correlation_}; }
  /// A fresh timestamp from the runtime clock, after the current message's.
  RINGKERNEL_API HlcTimestamp now() noexcept;
  /// Emits one output message to the kernel's output queue, correlated with the input.
  template <class T>
  void emit(const T& message) {
    detail::Packet p;
    p.assign_message(message);
    emit_packet(std::move(p));
  }
  /// Id of the kernel that sent the current message (K2K or pub/sub); empty when a host sent it.
  RINGKERNEL_API std::string source_kernel() const;

  /// Made by the runtime for each message (users receive one, they do not build one).
  HandlerContext(detail::KernelCore& core, HlcTimestamp ts, std::uint64_t correlation, std::uint64_t source) noexcept
      : FabricSender(core), timestamp_(ts), correlation_(correlation), source_(source) {}

 private:
  RINGKERNEL_API void emit_packet(detail::Packet&& p);
  HlcTimestamp timestamp_;
  std::uint64_t correlation_;
  std::uint64_t source_;  // kernel number, 0 for a host
};

/// Given to a loop kernel `void(KernelContext&)`: it loops `while (!ctx.should_terminate())`,
/// receiving and sending. Used only by the kernel's own worker thread.
class KernelContext : public detail::FabricSender {
 public:
  /// The kernel's id.
  RINGKERNEL_API const std::string& kernel_id() const noexcept;
  /// True once terminate() (or runtime shutdown) was requested: leave the loop.
  RINGKERNEL_API bool should_terminate() const noexcept;
  /// True while the kernel is Active.
  RINGKERNEL_API bool is_active() const noexcept;
  /// Blocks until the kernel is Active (true) or must terminate (false), or `timeout` passes (false).
  RINGKERNEL_API bool wait_active(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max());
  /// The next message, if one arrives within `timeout` while the kernel is Active. A message
  /// of another type than T faults the kernel (KernelError; the message is kept).
  template <class T>
  std::optional<T> receive(std::chrono::nanoseconds timeout) {
    detail::Packet p;
    if (!receive_packet(p, timeout)) return std::nullopt;
    if (!p.holds<T>()) type_mismatch(p, message_type_id<T>(), sizeof(T));
    return p.get<T>();
  }
  /// The next message as an envelope, any type.
  RINGKERNEL_API std::optional<MessageEnvelope> receive_envelope(std::chrono::nanoseconds timeout);
  /// Emits `message` to the kernel's output queue, correlated with the last message received.
  template <class T>
  void send(const T& message) {
    detail::Packet p;
    p.assign_message(message);
    send_packet(std::move(p));
  }
  /// A fresh timestamp from the runtime clock (after everything received so far).
  RINGKERNEL_API HlcTimestamp now() noexcept;
  /// The oldest queued message (within the highest priority) that kernel `source` sent over
  /// K2K or pub/sub, if there is one now and the kernel is Active; other messages stay queued.
  /// Per-sender FIFO holds. A message of another type than T faults the kernel, like receive().
  template <class T>
  std::optional<T> try_receive_from_kernel(const std::string& source) {
    detail::Packet p;
    if (!take_from_kernel(p, &source)) return std::nullopt;
    if (!p.holds<T>()) type_mismatch(p, message_type_id<T>(), sizeof(T));
    return p.get<T>();
  }
  /// Like try_receive_from_kernel(source), from any kernel (host messages stay queued).
  template <class T>
  std::optional<T> try_receive_from_kernel() {
    detail::Packet p;
    if (!take_from_kernel(p, nullptr)) return std::nullopt;
    if (!p.holds<T>()) type_mismatch(p, message_type_id<T>(), sizeof(T));
    return p.get<T>();
  }
  /// Id of the kernel that sent the last message received; empty when a host sent it.
  RINGKERNEL_API std::string last_source_kernel() const;

  /// Made by the runtime for a loop kernel's worker.
  explicit KernelContext(detail::KernelCore& core) noexcept : FabricSender(core) {}

 private:
  RINGKERNEL_API bool receive_packet(detail::Packet& out, std::chrono::nanoseconds timeout);
  RINGKERNEL_API bool take_from_kernel(detail::Packet& out, const std::string* source);
  RINGKERNEL_API void send_packet(detail::Packet&& p);
  [[noreturn]] RINGKERNEL_API void type_mismatch(detail::Packet& p, std::uint64_t want, std::size_t want_size);
  std::uint64_t last_correlation_ = 0;
  std::uint64_t last_source_ = 0;
};

namespace detail {
template <class H, class = void>
struct is_message_handler : std::false_type {};
template <class H>
struct is_message_handler<H, std::void_t<typename H::input_type, typename H::output_type>> : std::true_type {};

/// Type-erased kernel body run by a worker. Message handlers and loop kernels both become one.
class KernelBody {
 public:
  virtual ~KernelBody() = default;
  virtual void run(KernelCore& core) = 0;        // the worker's whole life
  virtual std::uint64_t input_type_id() const noexcept = 0;   // 0: any
  virtual std::size_t input_size() const noexcept = 0;        // 0: any
  virtual const char* handler_name() const noexcept = 0;
  virtual Backend backend() const noexcept { return Backend::Cpu; }  // where run() executes the handler
};

RINGKERNEL_API bool core_next(KernelCore& core, Packet& out);   // false: terminate
RINGKERNEL_API void core_begin(KernelCore& core, const Packet& in, HlcTimestamp& merged);
// Counts `in` processed, then publishes `out` (the handler's return value, if any), so whoever
// sees a reply also sees its request counted. The worker counts as handling (see deactivate())
// until its next core_next() finds nothing to do.
RINGKERNEL_API void core_done(KernelCore& core, const Packet& in, Packet* out);
RINGKERNEL_API void core_fault(KernelCore& core, const Packet& in, const char* what);
RINGKERNEL_API void core_emit(KernelCore& core, Packet&& out, std::uint64_t correlation);
// For GPU backends' supervisors, which keep several messages in flight on a device ring:
// core_try_next claims the next message without blocking (false: none now, paused or
// stopping) and marks the worker as handling even when it returns false, so deactivate()
// waits until core_release (a supervisor completes each message with core_done, which does not
// release); core_return puts a claimed message the device never consumed back at the front of
// the queue (return several in reverse order); core_run_state tells a supervisor whether to
// keep going.
enum class CoreRunState : std::uint8_t { Runnable = 0, Paused = 1, Stopping = 2 };
RINGKERNEL_API CoreRunState core_run_state(const KernelCore& core) noexcept;
RINGKERNEL_API bool core_try_next(KernelCore& core, Packet& out);
RINGKERNEL_API void core_release(KernelCore& core) noexcept;
RINGKERNEL_API void core_return(KernelCore& core, Packet&& unprocessed);
RINGKERNEL_API HandlerContext make_handler_context(KernelCore& core, HlcTimestamp ts, std::uint64_t correlation,
                                                   std::uint64_t source) noexcept;
RINGKERNEL_API KernelContext make_kernel_context(KernelCore& core) noexcept;

#if defined(RINGKERNEL_NO_EXCEPTIONS)
#define RINGKERNEL_DETAIL_TRY if (true)
#define RINGKERNEL_DETAIL_CATCH_STD(e) else if (false)
#define RINGKERNEL_DETAIL_CATCH_ALL else
#define RINGKERNEL_DETAIL_WHAT(e) "exception"
#else
#define RINGKERNEL_DETAIL_WHAT(e) (e).what()
#define RINGKERNEL_DETAIL_TRY try
#define RINGKERNEL_DETAIL_CATCH_STD(e) catch (const std::exception& e)
#define RINGKERNEL_DETAIL_CATCH_ALL catch (...)
#endif

template <class H>
class MessageHandlerBody final : public KernelBody {
  using In = typename H::input_type;
  using Out = typename H::output_type;
  static_assert(std::is_trivially_copyable<In>::value && is_message_v<In>,
                "handler input_type must be a RINGKERNEL_MESSAGE type");
  static_assert(std::is_void<Out>::value || (std::is_trivially_copyable<Out>::value && is_message_v<Out>),
                "handler output_type must be void or a RINGKERNEL_MESSAGE type");
  static constexpr bool takes_context = std::is_invocable<H&, HandlerContext&, const In&>::value;
  static_assert(takes_context || std::is_invocable<H&, const In&>::value,
                "a message handler needs operator()(const input_type&) or operator()(HandlerContext&, const input_type&)");

 public:
  explicit MessageHandlerBody(H handler) : handler_(std::move(handler)) {}
  void run(KernelCore& core) override {
    Packet in;
    while (core_next(core, in)) {
      HlcTimestamp merged;
      core_begin(core, in, merged);
      bool ok = false;
      Packet out;
      RINGKERNEL_DETAIL_TRY {
        invoke(core, in, merged, out);
        ok = true;
      }
      RINGKERNEL_DETAIL_CATCH_STD(e) { core_fault(core, in, RINGKERNEL_DETAIL_WHAT(e)); }
      RINGKERNEL_DETAIL_CATCH_ALL { core_fault(core, in, "a non-std exception"); }
      if (!ok) return;  // faulted: the worker stops; the runtime keeps running
      core_done(core, in, std::is_void<Out>::value ? nullptr : &out);
    }
  }
  std::uint64_t input_type_id() const noexcept override { return message_type_id<In>(); }
  std::size_t input_size() const noexcept override { return sizeof(In); }
  const char* handler_name() const noexcept override { return typeid(H).name(); }
  H& handler() noexcept { return handler_; }

 private:
  void invoke(KernelCore& core, const Packet& in, HlcTimestamp merged, Packet& out_packet) {
    const In msg = in.get<In>();
    HandlerContext ctx = make_handler_context(core, merged, in.correlation_id,
                                              (in.flags & Packet::from_kernel) != 0 ? in.source_kernel : 0);
    if constexpr (std::is_void<Out>::value) {
      if constexpr (takes_context) handler_(ctx, msg); else handler_(msg);
    } else {
      Out out = [&] {
        if constexpr (takes_context) return static_cast<Out>(handler_(ctx, msg));
        else return static_cast<Out>(handler_(msg));
      }();
      out_packet.assign_message(out);
    }
  }
  H handler_;
};

template <class F>
class LoopBody final : public KernelBody {
 public:
  explicit LoopBody(F fn) : fn_(std::move(fn)) {}
  void run(KernelCore& core) override {
    KernelContext ctx = make_kernel_context(core);
    Packet none;
    RINGKERNEL_DETAIL_TRY { fn_(ctx); }
    RINGKERNEL_DETAIL_CATCH_STD(e) { core_fault(core, none, RINGKERNEL_DETAIL_WHAT(e)); }
    RINGKERNEL_DETAIL_CATCH_ALL { core_fault(core, none, "a non-std exception"); }
  }
  std::uint64_t input_type_id() const noexcept override { return 0; }
  std::size_t input_size() const noexcept override { return 0; }
  const char* handler_name() const noexcept override { return "loop kernel"; }

 private:
  F fn_;
};

/// Builds the body for any accepted handler: a message-handler functor or a callable taking
/// KernelContext&.
template <class H>
std::unique_ptr<KernelBody> make_body(H handler) {
  using D = std::decay_t<H>;
  if constexpr (is_message_handler<D>::value) {
    return std::unique_ptr<KernelBody>(new MessageHandlerBody<D>(std::move(handler)));
  } else {
    static_assert(std::is_invocable<D&, KernelContext&>::value,
                  "a kernel is a message-handler functor (input_type, output_type, operator()) "
                  "or a callable void(KernelContext&)");
    return std::unique_ptr<KernelBody>(new LoopBody<D>(std::move(handler)));
  }
}

/// Registry of named kernels (RINGKERNEL_KERNEL). Thread-safe.
using KernelFactory = std::unique_ptr<KernelBody> (*)();
RINGKERNEL_API void register_kernel(const char* name, KernelFactory factory);
RINGKERNEL_API KernelFactory find_kernel(const std::string& name);
RINGKERNEL_API std::vector<std::string> registered_kernel_names();

struct KernelRegistrar {
  KernelRegistrar(const char* name, KernelFactory factory) { register_kernel(name, factory); }
};
template <void (*Fn)(KernelContext&)>
std::unique_ptr<KernelBody> loop_factory() {
  return make_body(Fn);
}
template <class H>
std::unique_ptr<KernelBody> handler_factory() {
  return make_body(H{});
}
}  // namespace detail

/// Defines and registers a loop kernel named `name`, found by `runtime.launch("name", options)`:
///
///     RINGKERNEL_KERNEL(echo) {
///       while (!ctx.should_terminate())
///         if (auto m = ctx.receive<Ping>(std::chrono::milliseconds(10))) ctx.send(*m);
///     }
#define RINGKERNEL_KERNEL(name)                                                                       \
  static void ringkernel_kernel_fn_##name(::ringkernel::KernelContext& ctx);                          \
  static const ::ringkernel::detail::KernelRegistrar ringkernel_kernel_reg_##name(                     \
      #name, &::ringkernel::detail::loop_factory<&ringkernel_kernel_fn_##name>);                      \
  static void ringkernel_kernel_fn_##name(::ringkernel::KernelContext& ctx)

/// Registers the default-constructed message-handler functor type `Handler` under `name`.
#define RINGKERNEL_HANDLER_KERNEL(name, Handler)                                                      \
  static const ::ringkernel::detail::KernelRegistrar ringkernel_kernel_reg_##name(                     \
      #name, &::ringkernel::detail::handler_factory<Handler>)

// ============================================================================================
// 12. Runtime                                                                       >>runtime
// ============================================================================================

/// Refers to a kernel inside a Runtime. Copyable (all copies refer to the same kernel) and
/// thread-safe: any thread may send, receive, call and change the state concurrently.
/// After the runtime shuts down, a handle reports Terminated and refuses messages.
class KernelHandle {
 public:
  /// The kernel's id.
  RINGKERNEL_API const std::string& id() const noexcept;

  /// Sends `message` at the kernel's default priority. Throws Error(QueueFull) when full under
  /// Reject (or Block timed out), KernelError(NotActive) when terminating/terminated,
  /// KernelError(KernelFault) when faulted, Error(InvalidArgument) on a type mismatch or an
  /// oversized payload.
  template <class T>
  void send(const T& message) { send(message, default_priority()); }
  /// send() at `priority`.
  template <class T>
  void send(const T& message, Priority priority) {
    detail::Packet p = typed_packet(message, priority);
    throw_on(send_packet(std::move(p), default_send_timeout()));
  }
  /// Like send(), but returns the outcome and never throws.
  template <class T>
  SendStatus try_send(const T& message, Priority priority) noexcept {
    detail::Packet p = typed_packet(message, priority);
    return send_packet(std::move(p), default_send_timeout());
  }
  template <class T>
  SendStatus try_send(const T& message) noexcept { return try_send(message, default_priority()); }
  /// try_send() that waits at most `timeout` (instead of the launch's send_timeout) for room in
  /// a full Block inbox; zero or negative never waits. QueueFull when there was no room in time
  /// (counted in status().messages_rejected, like every refusal). Reject and DropOldest never wait.
  template <class T>
  SendStatus try_send(const T& message, Priority priority, std::chrono::nanoseconds timeout) noexcept {
    detail::Packet p = typed_packet(message, priority);
    return send_packet(std::move(p), std::max(timeout, std::chrono::nanoseconds::zero()));
  }
  /// Sends a prebuilt envelope (its type id, priority, correlation and payload are kept).
  RINGKERNEL_API void send_envelope(const MessageEnvelope& envelope);
  /// Non-throwing send_envelope().
  RINGKERNEL_API SendStatus try_send_envelope(const MessageEnvelope& envelope) noexcept;
  /// Non-throwing send_envelope() waiting at most `timeout` for room, as try_send(m, p, timeout).
  RINGKERNEL_API SendStatus try_send_envelope(const MessageEnvelope& envelope, std::chrono::nanoseconds timeout) noexcept;

  /// The next output of type T (outputs of other types stay queued for their readers), or
  /// nullopt after `timeout`.
  template <class T>
  std::optional<T> receive(std::chrono::nanoseconds timeout) {
    detail::Packet p;
    if (!receive_packet(p, message_type_id<T>(), timeout)) return std::nullopt;
    return p.get<T>();
  }
  /// The next output of any type, as an envelope, or nullopt after `timeout`.
  RINGKERNEL_API std::optional<MessageEnvelope> receive_envelope(std::chrono::nanoseconds timeout);

  /// Sends `request` with a fresh CorrelationId and waits for the output carrying it. Safe
  /// from many threads at once: each caller gets its own answer. Throws Error(Timeout)
  /// after `timeout` (Block-strategy waiting for room counts against it), and what send() throws.
  template <class Resp, class Req>
  Resp call(const Req& request, std::chrono::nanoseconds timeout = std::chrono::seconds(30)) {
    detail::Packet p = typed_packet(request, default_priority());
    detail::Packet reply;
    call_packet(std::move(p), reply, message_type_id<Resp>(), sizeof(Resp), timeout);
    return reply.get<Resp>();
  }

  /// Launched/Deactivated → Active. KernelError(InvalidState) otherwise, naming both states.
  RINGKERNEL_API void activate();
  /// Active → Deactivated. Returns once the worker holds no message (message handlers), so
  /// nothing is processed after it returns; queued messages wait. KernelError(InvalidState) otherwise.
  RINGKERNEL_API void deactivate();
  /// Alias of deactivate().
  void suspend() { deactivate(); }
  /// Alias of activate().
  void resume() { activate(); }
  /// Stops the kernel after the message in hand; queued messages are NOT processed: they stay
  /// counted in status().queue_depth and drain_unprocessed() returns them. Idempotent.
  /// Throws KernelError(Timeout) if the worker does not stop within the runtime's
  /// termination_timeout (the kernel stays Terminating and is reported in the log).
  RINGKERNEL_API void terminate();
  /// After terminate(): removes and returns the messages that were never processed.
  RINGKERNEL_API std::vector<MessageEnvelope> drain_unprocessed();

  /// Current state.
  RINGKERNEL_API KernelState state() const noexcept;
  /// state() == Active.
  bool is_active() const noexcept { return state() == KernelState::Active; }
  /// Counters and latency now.
  RINGKERNEL_API KernelStatus status() const;
  /// The fault, when the kernel is Faulted.
  RINGKERNEL_API std::optional<KernelFault> fault() const;
  /// The kernel's telemetry block (shared layout with GPU backends).
  RINGKERNEL_API TelemetrySnapshot telemetry() const noexcept;

 private:
  friend class Runtime;
  explicit KernelHandle(std::shared_ptr<detail::KernelCore> core) noexcept : core_(std::move(core)) {}
  template <class T>
  detail::Packet typed_packet(const T& message, Priority priority) const noexcept {
    static_assert(std::is_trivially_copyable<T>::value, "messages must be trivially copyable");
    detail::Packet p;
    p.type_id = message_type_id<T>();
    p.size = sizeof(T);
    p.priority = static_cast<std::uint8_t>(priority);
    if (sizeof(T) <= detail::Packet::inline_capacity) {
      std::memcpy(p.small, &message, sizeof(T));
    } else {
      p.assign(&message, sizeof(T));
    }
    return p;
  }
  RINGKERNEL_API Priority default_priority() const noexcept;
  RINGKERNEL_API std::chrono::nanoseconds default_send_timeout() const noexcept;
  RINGKERNEL_API SendStatus send_packet(detail::Packet&& p, std::chrono::nanoseconds timeout) noexcept;
  RINGKERNEL_API void throw_on(SendStatus status) const;
  RINGKERNEL_API bool receive_packet(detail::Packet& out, std::uint64_t type_id, std::chrono::nanoseconds timeout);
  RINGKERNEL_API void call_packet(detail::Packet&& request, detail::Packet& reply, std::uint64_t reply_type,
                                  std::size_t reply_size, std::chrono::nanoseconds timeout);
  std::shared_ptr<detail::KernelCore> core_;
};

/// Runs kernels. Move-only; the destructor and move assignment shut the old runtime down.
/// A moved-from Runtime throws Error(Closed) from every member but backend() and shutdown().
/// Thread-safe: launch, lookups and shutdown may be called from any thread.
///
/// Timestamps: every message gets one from the runtime's clock() when it is sent. A kernel's
/// worker stamps what it sends (outputs, K2K sends, sends through a KernelHandle, ctx.now())
/// from one clock().tick_block() per inbox batch, reserved after the batch was taken and
/// renewed after anything that may be stamped above it (a foreign timestamp merged, an answer
/// awaited from another kernel). So each is above the input it answers and above everything
/// its kernel saw; two kernels' stamps taken at about the same time are not in real-time order.
/// A host thread's sends are stamped the same way, from a block of 1 to 64 ticks that grows
/// while the thread keeps sending; it ends when the coarse wall clock moves and is dropped when
/// the thread receives or calls, or sends or publishes through a broker. So each send is
/// above what its thread saw through the runtime; a host thread that learns of another's send
/// by other means (a mutex, a flag) may stamp below it. Stamps stay unique and, per thread,
/// increasing.
class Runtime {
 public:
  class Builder;
  /// Starts a builder: `Runtime::builder().backend(Backend::Cpu).build()`.
  static Builder builder();

  Runtime(Runtime&&) noexcept;
  RINGKERNEL_API Runtime& operator=(Runtime&&) noexcept;
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  RINGKERNEL_API ~Runtime();

  /// Launches `handler` (a message-handler functor or a callable void(KernelContext&)) as
  /// kernel `id`. Throws Error(InvalidArgument) if `id` is empty or already in use by a kernel
  /// that is not Terminated, Error(Closed) after shutdown.
  template <class H, class = std::enable_if_t<!std::is_same<std::decay_t<H>, LaunchOptions>::value>>
  KernelHandle launch(const std::string& id, H&& handler, const LaunchOptions& options = LaunchOptions{}) {
    return launch_body(id, detail::make_body(std::forward<H>(handler)), options);
  }
  /// Launches the kernel registered as `name` (RINGKERNEL_KERNEL) under the id `name`.
  /// Throws KernelError(KernelNotFound) listing the registered names.
  RINGKERNEL_API KernelHandle launch(const std::string& name, const LaunchOptions& options = LaunchOptions{});
  /// The handle of kernel `id`, or KernelError(KernelNotFound).
  RINGKERNEL_API KernelHandle kernel(const std::string& id) const;
  /// Ids of all kernels, in launch order (terminated ones included until relaunched).
  RINGKERNEL_API std::vector<std::string> list_kernels() const;
  /// Runtime-wide counters.
  RINGKERNEL_API RuntimeMetrics metrics() const;
  /// The backend kernels run on.
  RINGKERNEL_API Backend backend() const noexcept;
  /// The runtime's clock (node id from the builder). Error(Closed) on a moved-from Runtime.
  RINGKERNEL_API HlcClock& clock();
  /// The kernel-to-kernel broker (RuntimeConfig::k2k). Error(Closed) on a moved-from Runtime.
  RINGKERNEL_API K2KBroker& k2k_broker();
  /// The topic pub/sub broker (RuntimeConfig::pubsub). Error(Closed) on a moved-from Runtime.
  RINGKERNEL_API PubSubBroker& pubsub();
  /// Terminates every kernel and stops accepting launches. Idempotent; also run by the destructor.
  RINGKERNEL_API void shutdown();
  /// The device ordinal given to the builder (GPU backends).
  RINGKERNEL_API int device() const;
  /// Backend headers' entry point: launches a kernel whose body they built (a KernelBody whose
  /// backend() must equal this runtime's backend, else KernelError(BackendUnavailable)). The
  /// lifecycle, inbox, outputs and telemetry are the same as for CPU kernels.
  RINGKERNEL_API KernelHandle launch_body(const std::string& id, std::unique_ptr<detail::KernelBody> body,
                                          const LaunchOptions& options);

 private:
  explicit Runtime(std::shared_ptr<detail::RuntimeShared> shared) noexcept;
  std::shared_ptr<detail::RuntimeShared> shared_;
};

/// Configures and builds a Runtime. Value type.
class Runtime::Builder {
 public:
  /// Backend to use (default Auto: CUDA, Vulkan, then CPU).
  Builder& backend(Backend b) noexcept { backend_ = b; return *this; }
  /// GPU device ordinal (default 0).
  Builder& device(int ordinal) noexcept { device_ = ordinal; return *this; }
  /// Runtime settings.
  Builder& config(const RuntimeConfig& c) noexcept { config_ = c; return *this; }
  /// Node id of the runtime's HLC (default 0).
  Builder& node_id(std::uint32_t id) noexcept { node_id_ = id; return *this; }
  /// Builds. Throws Error(BackendUnavailable) when the requested backend is not compiled in or
  /// has no device (saying which), or the provider's own error (CUDA: CudaError), and
  /// Error(InvalidArgument) for a negative device ordinal.
  RINGKERNEL_API Runtime build() const;

 private:
  Backend backend_ = Backend::Auto;
  int device_ = 0;
  RuntimeConfig config_{};
  std::uint32_t node_id_ = 0;
};

inline Runtime::Builder Runtime::builder() { return Builder{}; }
inline Runtime::Runtime(Runtime&&) noexcept = default;

// ============================================================================================
// 13. Backends                                                                     >>backends
// ============================================================================================

/// A GPU backend plugs in by registering a provider (ringkernel_cuda.hpp and
/// ringkernel_vulkan.hpp do it when included in the implementation TU). The CPU backend is
/// built in and needs none.
class BackendProvider {
 public:
  virtual ~BackendProvider() = default;
  /// Which backend this is.
  virtual Backend kind() const noexcept = 0;
  /// Empty when device `ordinal` is usable, else why not (e.g. "no CUDA device: driver error 35").
  /// May throw instead (the CUDA provider throws CudaError naming the failed call): an explicit
  /// `Builder::backend(kind)` passes that exception to the caller, Backend::Auto logs its
  /// message and tries the next backend.
  virtual std::string probe(int ordinal) = 0;
  /// What Backend::Auto asks: empty to take device `ordinal`, else why Auto should move on. By
  /// default probe(); a backend overrides it to decline devices the CPU backend serves better
  /// (the Vulkan backend declines a Vulkan device that is itself a CPU implementation, lavapipe).
  virtual std::string probe_for_auto(int ordinal) { return probe(ordinal); }
};
/// Registers a provider (thread-safe; a second provider of the same kind replaces the first).
RINGKERNEL_API void register_backend_provider(std::shared_ptr<BackendProvider> provider);
/// The registered provider of `kind`, or null.
RINGKERNEL_API std::shared_ptr<BackendProvider> find_backend_provider(Backend kind);

// ============================================================================================
// 14. Operations: hybrid dispatch, resource guard, queue monitor                        >>ops
// ============================================================================================

/// Where a HybridDispatcher sends work.
enum class ProcessingMode : std::uint8_t {
  CpuOnly = 0,   ///< always the CPU
  GpuOnly = 1,   ///< always the GPU (the config must say gpu_available)
  Hybrid = 2,    ///< the GPU for workloads of at least gpu_threshold, else the CPU
  Adaptive = 3,  ///< like Hybrid, with a threshold learned from measured CPU and GPU times
};
/// Stable name ("CpuOnly", "GpuOnly", "Hybrid", "Adaptive").
RINGKERNEL_API const char* to_string(ProcessingMode mode) noexcept;

/// Settings of a HybridDispatcher; brace-constructible in field order. Value type.
struct HybridConfig {
  /// How decisions are made.
  ProcessingMode mode = ProcessingMode::Hybrid;
  /// Workload size from which the GPU is used (Hybrid), and the starting point of Adaptive.
  std::size_t gpu_threshold = 10000;
  /// In (0, 1]: the fraction (in log-size) by which one contrary measurement moves the
  /// adaptive threshold towards its size.
  double learning_rate = 0.1;
  /// Whether a GPU can take work; false makes Hybrid and Adaptive choose the CPU always.
  bool gpu_available = true;

  /// Always the CPU.
  static HybridConfig cpu_only() noexcept { return {ProcessingMode::CpuOnly, 10000, 0.1, false}; }
  /// Always the GPU.
  static HybridConfig gpu_only() noexcept { return {ProcessingMode::GpuOnly, 0, 0.1, true}; }
  /// Learns the crossover size, starting at 10 000.
  static HybridConfig adaptive() noexcept { return {ProcessingMode::Adaptive, 10000, 0.1, true}; }
  /// A fixed threshold.
  static HybridConfig hybrid(std::size_t threshold) noexcept { return {ProcessingMode::Hybrid, threshold, 0.1, true}; }
};

/// How many executions a HybridDispatcher recorded on each side. Value type.
struct HybridStats {
  std::uint64_t cpu_count = 0;  ///< record_cpu_execution() calls
  std::uint64_t gpu_count = 0;  ///< record_gpu_execution() calls
  /// cpu_count + gpu_count.
  std::uint64_t total() const noexcept { return cpu_count + gpu_count; }
  /// gpu_count / total(), 0 when nothing was recorded.
  double gpu_ratio() const noexcept {
    return total() == 0 ? 0.0 : static_cast<double>(gpu_count) / static_cast<double>(total());
  }
};

/// Routes workloads to the CPU or the GPU by size. In Adaptive mode it learns the crossover
/// size (where the GPU starts to win) from measured times: a measurement that contradicts the
/// current decision (the GPU was faster below the threshold, or the CPU at or above it) moves
/// the threshold towards that size by `learning_rate` in log-size; agreeing ones leave it, so it
/// settles at the crossover of the two cost curves.
/// Thread safety: every member may be called from any thread concurrently.
class HybridDispatcher {
 public:
  /// Throws Error(InvalidArgument) for a learning rate outside (0, 1], or GpuOnly without
  /// gpu_available.
  RINGKERNEL_API explicit HybridDispatcher(const HybridConfig& config = HybridConfig{});
  HybridDispatcher(const HybridDispatcher&) = delete;
  HybridDispatcher& operator=(const HybridDispatcher&) = delete;

  /// Whether a workload of `workload_size` should run on the GPU under the current mode.
  RINGKERNEL_API bool should_use_gpu(std::size_t workload_size) const noexcept;
  /// Counts one execution on the CPU.
  void record_cpu_execution() noexcept { cpu_count_.fetch_add(1, std::memory_order_relaxed); }
  /// Counts one execution on the GPU.
  void record_gpu_execution() noexcept { gpu_count_.fetch_add(1, std::memory_order_relaxed); }
  /// Feeds one measurement: the same workload of `workload_size` took `cpu_time_ms` on the CPU
  /// and `gpu_time_ms` on the GPU. Learns in every mode; only Adaptive decides by it. Throws
  /// Error(InvalidArgument) for a size of 0 or a time that is negative or not finite.
  RINGKERNEL_API void update_adaptive_threshold(std::size_t workload_size, double cpu_time_ms, double gpu_time_ms);
  /// The learned threshold (the configured gpu_threshold until a measurement moves it).
  RINGKERNEL_API std::size_t adaptive_threshold() const noexcept;
  /// The execution counts.
  RINGKERNEL_API HybridStats stats() const noexcept;
  /// Sets both counts to 0 (the learned threshold stays).
  RINGKERNEL_API void reset_stats() noexcept;
  /// The configuration given at construction.
  const HybridConfig& config() const noexcept { return config_; }

 private:
  HybridConfig config_;
  std::atomic<double> log_threshold_;  // ln(threshold); CAS-updated
  std::atomic<std::uint64_t> cpu_count_{0};
  std::atomic<std::uint64_t> gpu_count_{0};
};

/// Predicted memory of a workload, in bytes; brace-constructible in field order. Value type.
struct MemoryEstimate {
  std::uint64_t primary_bytes = 0;    ///< the main buffers
  std::uint64_t auxiliary_bytes = 0;  ///< scratch, indices, queues
  std::uint64_t peak_bytes = 0;       ///< the most live at once, if more than the sum (0: unknown)
  double confidence = 1.0;            ///< how sure the estimate is, in [0, 1]
  /// primary_bytes + auxiliary_bytes (saturating at 2^64 - 1).
  std::uint64_t total_bytes() const noexcept {
    return primary_bytes > UINT64_MAX - auxiliary_bytes ? UINT64_MAX : primary_bytes + auxiliary_bytes;
  }
  /// What must fit: the larger of total_bytes() and peak_bytes.
  std::uint64_t required_bytes() const noexcept { return std::max(total_bytes(), peak_bytes); }
};

/// Tracks memory against a limit so a workload that would not fit fails with
/// MemoryLimitError before it allocates. The usable limit is max_memory × (1 − safety_margin);
/// recorded allocations and outstanding reservations both count against it.
/// Thread safety: every member may be called from any thread (one mutex); check-and-record is
/// atomic in try_record_allocation() and reserve().
class ResourceGuard {
 public:
  class Reservation;
  /// max_memory value meaning "no limit".
  static constexpr std::uint64_t unlimited = UINT64_MAX;

  /// A guard for `max_memory_bytes` keeping `safety_margin` (in [0, 1)) of it free. Throws
  /// Error(InvalidArgument) for a limit of 0 or a margin outside [0, 1).
  RINGKERNEL_API explicit ResourceGuard(std::uint64_t max_memory_bytes, double safety_margin = 0.1);
  /// A guard that never refuses but still counts.
  static ResourceGuard unguarded() { return ResourceGuard(unlimited, 0.0); }
  /// Physical memory of this machine as the OS reports it, 0 when it cannot tell.
  RINGKERNEL_API static std::uint64_t system_memory_bytes() noexcept;
  ResourceGuard(const ResourceGuard&) = delete;
  ResourceGuard& operator=(const ResourceGuard&) = delete;

  /// The limit given at construction (`unlimited` for unguarded()).
  std::uint64_t max_memory() const noexcept { return max_memory_; }
  /// The safety margin given at construction.
  double safety_margin() const noexcept { return safety_margin_; }
  /// The usable limit, max_memory × (1 − safety_margin); `unlimited` when unguarded.
  std::uint64_t limit() const noexcept { return limit_; }
  /// Whether this guard never refuses.
  bool is_unguarded() const noexcept { return max_memory_ == unlimited; }
  /// Bytes recorded as allocated.
  RINGKERNEL_API std::uint64_t current_memory() const;
  /// Bytes held by outstanding reservations.
  RINGKERNEL_API std::uint64_t reserved_memory() const;
  /// limit() − current − reserved (0 when over; `unlimited` when unguarded).
  RINGKERNEL_API std::uint64_t available_memory() const;
  /// (current + reserved) / limit(); 0 when unguarded. May exceed 1 after record_allocation.
  RINGKERNEL_API double utilization() const;
  /// Whether `bytes` more would fit now.
  RINGKERNEL_API bool can_allocate(std::uint64_t bytes) const;
  /// Records `bytes` if they fit, atomically with the check; false (nothing recorded) if not.
  RINGKERNEL_API bool try_record_allocation(std::uint64_t bytes);
  /// Records an allocation already made, even past the limit (the guard reflects what is in
  /// use; check first with can_allocate(), or use try_record_allocation()). Throws
  /// Error(InvalidArgument) if the total would overflow 64 bits.
  RINGKERNEL_API void record_allocation(std::uint64_t bytes);
  /// Records that `bytes` were freed. Throws Error(InvalidArgument), changing nothing, for more
  /// than current_memory().
  RINGKERNEL_API void record_deallocation(std::uint64_t bytes);
  /// Reserves `bytes` (RAII): released when the Reservation is destroyed (scope exit or an
  /// exception) unless commit() turned it into a recorded allocation. Throws MemoryLimitError
  /// when they do not fit. The guard must outlive the reservation.
  RINGKERNEL_API Reservation reserve(std::uint64_t bytes);
  /// Throws MemoryLimitError when `estimate.required_bytes()` do not fit now, naming both
  /// figures; Error(InvalidArgument) for a confidence outside [0, 1].
  RINGKERNEL_API void validate(const MemoryEstimate& estimate) const;
  /// How many elements of `bytes_per_element` fit in available_memory(). Throws
  /// Error(InvalidArgument) for 0 bytes per element.
  RINGKERNEL_API std::uint64_t max_safe_elements(std::uint64_t bytes_per_element) const;

 private:
  friend class Reservation;
  void release_reserved(std::uint64_t bytes) noexcept;
  void commit_reserved(std::uint64_t bytes) noexcept;
  bool fits_locked(std::uint64_t bytes) const noexcept;
  std::uint64_t max_memory_;
  double safety_margin_;
  std::uint64_t limit_;
  mutable std::mutex mu_;
  std::uint64_t current_ = 0;
  std::uint64_t reserved_ = 0;
};

/// Memory held against a ResourceGuard for the duration of a scope. Move-only. Released on
/// destruction unless commit() was called; then it is a recorded allocation, which the owner
/// frees with record_deallocation(bytes()). Thread safety: one owner at a time.
class ResourceGuard::Reservation {
 public:
  Reservation(Reservation&& other) noexcept
      : guard_(other.guard_), bytes_(other.bytes_), committed_(other.committed_) {
    other.guard_ = nullptr;
  }
  Reservation& operator=(Reservation&& other) noexcept {
    if (this != &other) {
      release();
      guard_ = other.guard_;
      bytes_ = other.bytes_;
      committed_ = other.committed_;
      other.guard_ = nullptr;
    }
    return *this;
  }
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;
  ~Reservation() { release(); }

  /// Bytes reserved.
  std::uint64_t bytes() const noexcept { return bytes_; }
  /// Whether commit() was called.
  bool committed() const noexcept { return committed_; }
  /// Whether the reservation still holds memory (not released, not moved from, not committed).
  bool active() const noexcept { return guard_ != nullptr && !committed_; }
  /// Turns the reservation into a recorded allocation (it is then no longer released here).
  /// Throws Error(InvalidState) when not active().
  RINGKERNEL_API void commit();
  /// Gives the reserved bytes back now (no-op when not active()).
  void release() noexcept {
    if (active()) guard_->release_reserved(bytes_);
    guard_ = nullptr;
  }

 private:
  friend class ResourceGuard;
  Reservation(ResourceGuard* guard, std::uint64_t bytes) noexcept : guard_(guard), bytes_(bytes) {}
  ResourceGuard* guard_;
  std::uint64_t bytes_;
  bool committed_ = false;
};

/// The process-wide guard the runtime uses when RuntimeConfig::resource_guard is null: 80% of
/// the physical memory the OS reports, no further margin (unguarded, with a logged warning, if
/// the OS does not say). Created on first use; thread-safe.
RINGKERNEL_API std::shared_ptr<ResourceGuard> default_guard();

/// What the runtime charges a kernel's queues against its guard at launch: the inbox slots it
/// preallocates (primary) and the output queue at its bound (auxiliary), both
/// queue_capacity × slot size. Payloads above 64 bytes live on the heap and are not included.
RINGKERNEL_API MemoryEstimate estimate_queue_memory(const LaunchOptions& options) noexcept;

namespace detail {
/// Bytes a kernel holds against a guard; released on destruction. Move-only.
class QueueMemoryCharge {
 public:
  QueueMemoryCharge() noexcept = default;
  /// Records `bytes` with `guard` (null: default_guard()) or throws MemoryLimitError naming `what`.
  RINGKERNEL_API QueueMemoryCharge(std::shared_ptr<ResourceGuard> guard, std::uint64_t bytes, const std::string& what);
  QueueMemoryCharge(QueueMemoryCharge&& other) noexcept : guard_(std::move(other.guard_)), bytes_(other.bytes_) {
    other.guard_.reset();
  }
  QueueMemoryCharge& operator=(QueueMemoryCharge&& other) noexcept {
    if (this != &other) {
      reset();
      guard_ = std::move(other.guard_);
      bytes_ = other.bytes_;
      other.guard_.reset();
    }
    return *this;
  }
  ~QueueMemoryCharge() { reset(); }
  RINGKERNEL_API void reset() noexcept;

 private:
  std::shared_ptr<ResourceGuard> guard_;
  std::uint64_t bytes_ = 0;
};
}  // namespace detail

/// How full a queue is, against a QueueMonitor's thresholds.
enum class QueueHealth : std::uint8_t {
  Healthy = 0,   ///< below the warning threshold
  Warning = 1,   ///< at or above the warning threshold
  Critical = 2,  ///< at or above the critical threshold
};
/// Stable name ("Healthy", "Warning", "Critical").
RINGKERNEL_API const char* to_string(QueueHealth health) noexcept;

/// A standard queue size: Small 256, Medium 1024, Large 4096, ExtraLarge 16384 messages.
/// `QueueTier t = QueueTier::Large; t.capacity(); t.upgrade();`. Value type.
class QueueTier {
 public:
  /// The tiers, smallest first.
  enum Level : std::uint8_t { Small = 0, Medium = 1, Large = 2, ExtraLarge = 3 };
  /// The tier `level` (default Medium, 1024: the default queue capacity).
  constexpr QueueTier(Level level = Medium) noexcept : level_(level) {}  // NOLINT: implicit by design
  /// Which tier.
  constexpr Level level() const noexcept { return level_; }
  /// Messages it holds: 256 × 4^level.
  constexpr std::size_t capacity() const noexcept { return std::size_t{256} << (2 * static_cast<unsigned>(level_)); }
  /// The next larger tier (ExtraLarge stays ExtraLarge).
  constexpr QueueTier upgrade() const noexcept {
    return level_ == ExtraLarge ? QueueTier(ExtraLarge) : QueueTier(static_cast<Level>(level_ + 1));
  }
  /// The next smaller tier (Small stays Small).
  constexpr QueueTier downgrade() const noexcept {
    return level_ == Small ? QueueTier(Small) : QueueTier(static_cast<Level>(level_ - 1));
  }
  /// The smallest tier that buffers `headroom_ms` of traffic at `messages_per_second`
  /// (ExtraLarge when none does). Throws Error(InvalidArgument) for a negative or non-finite
  /// argument.
  RINGKERNEL_API static QueueTier for_throughput(double messages_per_second, double headroom_ms);
  /// The smallest tier holding at least `capacity` messages, nullopt above 16384.
  RINGKERNEL_API static std::optional<QueueTier> for_capacity(std::size_t capacity) noexcept;
  /// Stable name ("Small", "Medium", "Large", "ExtraLarge").
  RINGKERNEL_API const char* name() const noexcept;
  /// Tiers compare by size.
  friend constexpr bool operator==(QueueTier a, QueueTier b) noexcept { return a.level_ == b.level_; }
  friend constexpr bool operator!=(QueueTier a, QueueTier b) noexcept { return a.level_ != b.level_; }
  friend constexpr bool operator<(QueueTier a, QueueTier b) noexcept { return a.level_ < b.level_; }

 private:
  Level level_;
};

/// A queue's counters at one moment (from a kernel's inbox: KernelStatus). Value type.
struct QueueStats {
  std::uint64_t depth = 0;     ///< messages waiting
  std::uint64_t capacity = 0;  ///< most messages it holds
  std::uint64_t enqueued = 0;  ///< accepted so far
  std::uint64_t processed = 0; ///< handled so far
  std::uint64_t dropped = 0;   ///< evicted by DropOldest
  std::uint64_t rejected = 0;  ///< refused (full under Reject, not accepting)
  /// The inbox figures of `status`.
  static QueueStats from(const KernelStatus& status) noexcept {
    return {status.queue_depth, status.queue_capacity, status.messages_received, status.messages_processed,
            status.messages_dropped, status.messages_rejected};
  }
};

/// One kernel's queue, judged by a QueueMonitor. Value type.
struct QueueMetrics {
  std::string kernel_id;                 ///< the kernel's id
  QueueStats stats;                      ///< its inbox counters
  double utilization = 0;                ///< depth / capacity (may exceed 1 briefly, see KernelStatus)
  QueueHealth health = QueueHealth::Healthy;
  std::optional<QueueTier> tier;         ///< the smallest tier holding the capacity; nullopt above 16384
  std::optional<QueueTier> suggested_tier;  ///< a larger tier to move to, when not Healthy and one exists
};

/// Judges queue fill against a warning and a critical threshold and suggests larger tiers.
/// Immutable after construction; thread-safe.
class QueueMonitor {
 public:
  /// Thresholds as fractions of capacity. Throws Error(InvalidArgument) unless
  /// 0 < warning < critical <= 1.
  RINGKERNEL_API explicit QueueMonitor(double warning_threshold = 0.75, double critical_threshold = 0.90);
  /// Utilization from which a queue is Warning.
  double warning_threshold() const noexcept { return warning_; }
  /// Utilization from which a queue is Critical.
  double critical_threshold() const noexcept { return critical_; }
  /// depth / capacity. Throws Error(InvalidArgument) for capacity 0.
  RINGKERNEL_API double utilization(std::uint64_t depth, std::uint64_t capacity) const;
  /// The health of a queue holding `depth` of `capacity`. Throws like utilization().
  RINGKERNEL_API QueueHealth check_health(std::uint64_t depth, std::uint64_t capacity) const;
  /// When the queue is not Healthy: the smallest tier above `current_tier` at which `depth`
  /// would be below the warning threshold, or the largest tier if none is; nullopt when
  /// Healthy or already ExtraLarge. Throws like utilization().
  RINGKERNEL_API std::optional<QueueTier> suggest_upgrade(std::uint64_t depth, std::uint64_t capacity,
                                                          QueueTier current_tier) const;
  /// The metrics of one kernel's inbox from its status (KernelHandle::status()).
  RINGKERNEL_API QueueMetrics metrics(const KernelStatus& status) const;
  /// The metrics of every kernel of `runtime`, in launch order.
  RINGKERNEL_API std::vector<QueueMetrics> metrics(const Runtime& runtime) const;

 private:
  double warning_;
  double critical_;
};

// ============================================================================================
// 15. Benchmark statistics                                                         >>benchstats
// ============================================================================================

/// Benchmark statistics and reports: measurements → Result → Suite → Markdown / JSON / LaTeX,
/// and Baseline files with RegressionReport for regression checks. Value types, not
/// thread-safe (use one per thread, or lock). Bad input (empty or non-finite values,
/// mismatched lengths) throws Error(InvalidArgument) naming the problem.
namespace bench {

/// How a benchmark is run: warm-up and measured iterations, the regression threshold, sizes,
/// and a time limit. Builder methods validate and throw Error(InvalidArgument). Value type.
struct Config {
  std::size_t warmup_iterations = 2;       ///< untimed runs first
  std::size_t measurement_iterations = 5;  ///< timed runs (>= 1)
  /// Relative throughput change beyond which a result is a regression or an improvement.
  double regression_threshold = 0.10;
  /// Workload sizes to run (for the caller's loops; empty: the caller decides).
  std::vector<std::uint64_t> sizes;
  /// measure() stops measuring after this many seconds (it always makes one measurement).
  double timeout_secs = 60.0;

  /// 1 warm-up, 3 measurements.
  static Config quick() { return Config{}.with_warmup(1).with_measurements(3); }
  /// 5 warm-ups, 10 measurements.
  static Config comprehensive() { return Config{}.with_warmup(5).with_measurements(10); }
  /// 2 warm-ups, 5 measurements.
  static Config ci() { return Config{}.with_warmup(2).with_measurements(5); }
  /// Untimed runs before measuring (any number).
  Config& with_warmup(std::size_t n) noexcept { warmup_iterations = n; return *this; }
  /// Timed runs: at least 1.
  RINGKERNEL_API Config& with_measurements(std::size_t n);
  /// Workload sizes for the caller's loops.
  Config& with_sizes(std::vector<std::uint64_t> s) { sizes = std::move(s); return *this; }
  /// Regression threshold: in [0, 10], finite.
  RINGKERNEL_API Config& with_regression_threshold(double threshold);
  /// measure()'s time limit: positive and finite.
  RINGKERNEL_API Config& with_timeout_secs(double seconds);
};

/// Value at percentile `p` (0..100) of `values`, interpolating linearly between the closest
/// ranks (numpy's default). Throws Error(InvalidArgument) for no values, a non-finite value or
/// p outside [0, 100].
RINGKERNEL_API double percentile(std::vector<double> values, double p);

/// Two-sided Student t critical value for `confidence` (e.g. 0.95) and `degrees_of_freedom`
/// (>= 1): the t with P(|T| <= t) = confidence. Throws Error(InvalidArgument) otherwise.
RINGKERNEL_API double t_critical(double confidence, std::uint64_t degrees_of_freedom);

/// Summary statistics of a sample. Value type.
struct DetailedStatistics {
  std::size_t count = 0;  ///< number of values
  double mean = 0;
  double std_dev = 0;  ///< sample standard deviation (n − 1); 0 for one value
  double min = 0;
  double max = 0;
  double median = 0;
  double p25 = 0;  ///< percentiles, linear between closest ranks
  double p75 = 0;
  double p95 = 0;
  double p99 = 0;
  /// p75 − p25.
  double iqr() const noexcept { return p75 - p25; }
  /// std_dev / |mean|; 0 when std_dev is 0, infinity when only the mean is 0.
  RINGKERNEL_API double coefficient_of_variation() const noexcept;
  /// Throws Error(InvalidArgument) for no values or a non-finite one.
  RINGKERNEL_API static DetailedStatistics from_values(std::vector<double> values);
};

/// A confidence interval for the mean, from the Student t distribution (exact for small n).
/// Value type.
struct ConfidenceInterval {
  double mean = 0;           ///< the sample mean (the interval's centre)
  double lower = 0;          ///< mean − half-width
  double upper = 0;          ///< mean + half-width
  double confidence = 0.95;  ///< the level it was computed for
  /// upper − lower.
  double width() const noexcept { return upper - lower; }
  /// lower <= x <= upper.
  bool contains(double x) const noexcept { return lower <= x && x <= upper; }
  /// mean ± t(confidence, n − 1) · s / √n. Throws Error(InvalidArgument) for fewer than two
  /// values, a non-finite value, or a confidence outside (0, 1).
  RINGKERNEL_API static ConfidenceInterval from_values(const std::vector<double>& values, double confidence = 0.95);
};

/// How well throughput grows with size, by ScalingMetrics::exponent.
enum class ScalingQuality : std::uint8_t {
  Excellent = 0,  ///< exponent >= 0.9: throughput grows about linearly with size
  Good = 1,       ///< >= 0.7
  Fair = 2,       ///< >= 0.5
  Poor = 3,       ///< below 0.5
};
/// Stable name ("Excellent", "Good", "Fair", "Poor").
RINGKERNEL_API const char* to_string(ScalingQuality quality) noexcept;

/// A power law throughput = c · size^exponent fitted by least squares on log-log axes.
/// Value type.
struct ScalingMetrics {
  double exponent = 0;   ///< slope of ln(throughput) over ln(size)
  double r_squared = 0;  ///< coefficient of determination of the log-log fit (1: exact power law)
  double coefficient = 0;  ///< c
  std::size_t points = 0;  ///< number of (size, throughput) pairs fitted
  /// The label for `exponent`.
  RINGKERNEL_API ScalingQuality scaling_quality() const noexcept;
  /// Throws Error(InvalidArgument) for lengths that differ, fewer than two points, a value
  /// that is not positive and finite, or sizes that are all equal.
  RINGKERNEL_API static ScalingMetrics from_sizes_and_throughputs(const std::vector<double>& sizes,
                                                                  const std::vector<double>& throughputs);
};

/// The measurements of one workload at one size. Throughput is size / mean time. Value type.
class Result {
 public:
  /// One measurement of `time_secs` (> 0, finite). Throws Error(InvalidArgument) otherwise, or
  /// for an empty workload id.
  RINGKERNEL_API Result(std::string workload_id, std::uint64_t size, double time_secs);
  /// Several measurements, each the time of one run of `size` operations. Throws
  /// Error(InvalidArgument) for none, or one that is not positive and finite.
  RINGKERNEL_API static Result from_measurements(std::string workload_id, std::uint64_t size,
                                                 std::vector<double> measurement_times_secs,
                                                 std::optional<std::uint64_t> iterations = std::nullopt,
                                                 std::optional<bool> converged = std::nullopt);
  /// What was measured.
  const std::string& workload_id() const noexcept { return workload_id_; }
  /// Operations per run.
  std::uint64_t size() const noexcept { return size_; }
  /// Each run's time, in seconds, in the order measured.
  const std::vector<double>& measurement_times_secs() const noexcept { return times_; }
  /// Mean time of one run, in seconds.
  double mean_time_secs() const noexcept { return stats_.mean; }
  /// Mean time of one run, in milliseconds.
  double mean_time_ms() const noexcept { return stats_.mean * 1e3; }
  /// size / mean time, operations per second.
  double throughput_ops() const noexcept { return static_cast<double>(size_) / stats_.mean; }
  /// throughput_ops() / 10^6.
  double throughput_mops() const noexcept { return throughput_ops() / 1e6; }
  /// Sample standard deviation of the per-run throughputs (size / time); 0 for one run.
  RINGKERNEL_API double throughput_stddev() const;
  /// Statistics of the run times.
  const DetailedStatistics& statistics() const noexcept { return stats_; }
  /// 95% interval of the mean run time; nullopt for one run.
  RINGKERNEL_API std::optional<ConfidenceInterval> confidence_interval() const;
  /// Iterations an iterative algorithm took, if given.
  std::optional<std::uint64_t> iterations() const noexcept { return iterations_; }
  /// Whether an iterative algorithm converged, if given.
  std::optional<bool> converged() const noexcept { return converged_; }
  /// A copy with the custom metric `name` set to `value` (replacing one of that name). Throws
  /// Error(InvalidArgument) for an empty name or a non-finite value.
  RINGKERNEL_API Result with_metric(std::string name, double value) const;
  /// Custom metrics, in the order first set.
  const std::vector<std::pair<std::string, double>>& custom_metrics() const noexcept { return metrics_; }

 private:
  Result() = default;
  std::string workload_id_;
  std::uint64_t size_ = 0;
  std::vector<double> times_;
  DetailedStatistics stats_;
  std::optional<std::uint64_t> iterations_;
  std::optional<bool> converged_;
  std::vector<std::pair<std::string, double>> metrics_;
};

/// Runs `fn()` config.warmup_iterations times untimed, then up to config.measurement_iterations
/// times timed (steady clock), stopping early once config.timeout_secs have passed; returns
/// the times in seconds (at least one). Exceptions from `fn` propagate.
template <class F>
std::vector<double> measure(const Config& config, F&& fn) {
  for (std::size_t i = 0; i < config.warmup_iterations; ++i) fn();
  std::vector<double> times;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < std::max<std::size_t>(config.measurement_iterations, 1); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    times.push_back(std::max(std::chrono::duration<double>(t1 - t0).count(), 1e-9));
    if (std::chrono::duration<double>(t1 - start).count() > config.timeout_secs) break;
  }
  return times;
}

/// One workload's figures as kept in a Baseline. Value type.
struct BaselineEntry {
  std::string workload_id;    ///< non-empty
  std::uint64_t size = 0;     ///< operations per run
  double throughput_ops = 0;  ///< > 0
  double mean_time_secs = 0;  ///< > 0
  double std_dev_secs = 0;    ///< >= 0
  std::uint64_t samples = 0;  ///< >= 1
  friend bool operator==(const BaselineEntry& a, const BaselineEntry& b) noexcept {
    return a.workload_id == b.workload_id && a.size == b.size && a.throughput_ops == b.throughput_ops &&
           a.mean_time_secs == b.mean_time_secs && a.std_dev_secs == b.std_dev_secs && a.samples == b.samples;
  }
};

/// Reference figures to compare later runs against, saved as a JSON file:
///
///     {"format": "ringkernel-bench-baseline", "format_version": 1, "version": "v1",
///      "entries": [{"workload_id": "w", "size": 1000, "throughput_ops": 2000.0,
///                   "mean_time_secs": 0.5, "std_dev_secs": 0.01, "samples": 5}]}
///
/// The reader is strict: RFC 8259 JSON (UTF-8, no duplicate keys, nesting at most 32 deep),
/// exactly these keys, the types and ranges documented on BaselineEntry, and no two entries
/// with the same workload id and size. Value type.
class Baseline {
 public:
  /// An empty baseline with an empty version.
  Baseline() = default;
  /// An empty baseline named `version` (any text, e.g. "v1.0.0" or a date).
  explicit Baseline(std::string version) : version_(std::move(version)) {}
  /// A baseline of `results` (their workload, size, throughput, mean and std dev of time).
  RINGKERNEL_API static Baseline from_results(std::string version, const std::vector<Result>& results);
  /// The name given at creation.
  const std::string& version() const noexcept { return version_; }
  /// The entries, in the order added.
  const std::vector<BaselineEntry>& entries() const noexcept { return entries_; }
  /// Number of entries.
  std::size_t size() const noexcept { return entries_.size(); }
  /// Whether there are no entries.
  bool empty() const noexcept { return entries_.empty(); }
  /// Adds an entry. Throws Error(InvalidArgument) for a duplicate (workload id, size), an
  /// empty id, or figures out of range.
  RINGKERNEL_API void add(BaselineEntry entry);
  /// The entry for `workload_id` at `size`, or null.
  RINGKERNEL_API const BaselineEntry* find(const std::string& workload_id, std::uint64_t size) const noexcept;
  /// The JSON text (numbers with 17 significant digits: load(save(b)) == b exactly).
  RINGKERNEL_API std::string to_json() const;
  /// Parses JSON text; never throws: a failure is Error(InvalidArgument) whose message says
  /// where (line, column) and what is wrong.
  RINGKERNEL_API static ringkernel::Result<Baseline> parse(std::string_view text);
  /// parse(), throwing the failure as Error(InvalidArgument).
  RINGKERNEL_API static Baseline from_json(std::string_view text);
  /// Writes to_json() to `path` (via path.tmp and a rename). Throws Error(InvalidArgument) when
  /// the file cannot be written.
  RINGKERNEL_API void save(const std::string& path) const;
  /// Reads and parses `path`. Throws Error(InvalidArgument) when it cannot be read or parsed
  /// (the message names the file).
  RINGKERNEL_API static Baseline load(const std::string& path);
  friend bool operator==(const Baseline& a, const Baseline& b) noexcept {
    return a.version_ == b.version_ && a.entries_ == b.entries_;
  }

 private:
  std::string version_;
  std::vector<BaselineEntry> entries_;
};

/// How a workload's throughput moved against its baseline.
enum class ChangeKind : std::uint8_t {
  Regression = 0,   ///< slower by more than the threshold
  Improvement = 1,  ///< faster by more than the threshold
  Unchanged = 2,    ///< within the threshold
};
/// Stable name ("Regression", "Improvement", "Unchanged").
RINGKERNEL_API const char* to_string(ChangeKind kind) noexcept;

/// One workload compared with its baseline. Value type.
struct RegressionEntry {
  std::string workload_id;
  std::uint64_t size = 0;
  double baseline_throughput = 0;  ///< ops/s in the baseline
  double current_throughput = 0;   ///< ops/s now
  double relative_change = 0;  ///< current / baseline − 1 (−0.2: 20% less throughput)
  ChangeKind kind = ChangeKind::Unchanged;
  /// relative_change × 100.
  double percent_change() const noexcept { return relative_change * 100.0; }
};

/// Results compared with a Baseline by (workload id, size) on throughput. Value type.
class RegressionReport {
 public:
  /// Compares. A change beyond ±threshold (relative throughput) is a regression or an
  /// improvement. Throws Error(InvalidArgument) for a negative or non-finite threshold.
  RINGKERNEL_API static RegressionReport compare(const Baseline& baseline, const std::vector<Result>& results,
                                                 double threshold);
  /// One entry per result that had a baseline entry, in result order.
  const std::vector<RegressionEntry>& entries() const noexcept { return entries_; }
  /// The threshold compared with.
  double threshold() const noexcept { return threshold_; }
  /// The baseline's version().
  const std::string& baseline_version() const noexcept { return baseline_version_; }
  /// Entries of each kind.
  RINGKERNEL_API std::size_t regression_count() const noexcept;
  RINGKERNEL_API std::size_t improvement_count() const noexcept;
  RINGKERNEL_API std::size_t unchanged_count() const noexcept;
  /// regression_count() != 0.
  bool has_regressions() const noexcept { return regression_count() != 0; }
  /// The regression with the largest loss, if any.
  RINGKERNEL_API std::optional<RegressionEntry> worst_regression() const;
  /// The improvement with the largest gain, if any.
  RINGKERNEL_API std::optional<RegressionEntry> best_improvement() const;
  /// "workload@size" of baseline entries no result matched.
  const std::vector<std::string>& missing_from_results() const noexcept { return missing_; }
  /// "workload@size" of results the baseline has no entry for.
  const std::vector<std::string>& not_in_baseline() const noexcept { return new_; }
  /// One line: counts, threshold, worst and best.
  RINGKERNEL_API std::string summary() const;
  /// A Markdown table of every entry, then the unmatched names.
  RINGKERNEL_API std::string to_markdown() const;

 private:
  std::vector<RegressionEntry> entries_;
  std::vector<std::string> missing_;
  std::vector<std::string> new_;
  double threshold_ = 0;
  std::string baseline_version_;
};

/// A set of results with reports, a baseline and a comparison. Value type.
class Suite {
 public:
  /// Throws Error(InvalidArgument) for a config that fails Config's checks.
  RINGKERNEL_API explicit Suite(Config config = Config::ci());
  /// The configuration given at construction.
  const Config& config() const noexcept { return config_; }
  /// Adds a result (a second one for the same workload and size is kept too).
  void add_result(Result result) { results_.push_back(std::move(result)); }
  /// measure(config(), fn) as a Result of `size` operations per run, added and returned.
  template <class F>
  const Result& run(std::string workload_id, std::uint64_t size, F&& fn) {
    add_result(Result::from_measurements(std::move(workload_id), size, measure(config_, std::forward<F>(fn))));
    return results_.back();
  }
  /// The results, in the order added.
  const std::vector<Result>& results() const noexcept { return results_; }
  /// A Markdown table: workload, size, runs, mean/median/std dev time, 95% CI, throughput,
  /// custom metrics. `title` (if not empty) becomes a heading.
  RINGKERNEL_API std::string generate_markdown_report(const std::string& title = "") const;
  /// JSON: the config and, per result, its figures, statistics and raw times.
  RINGKERNEL_API std::string generate_json_export() const;
  /// A LaTeX tabular of workload, size, mean time, std dev and throughput.
  RINGKERNEL_API std::string generate_latex_table() const;
  /// A Baseline of the results so far.
  Baseline create_baseline(std::string version) const { return Baseline::from_results(std::move(version), results_); }
  /// The baseline compare_to_baseline() uses.
  void set_baseline(Baseline baseline) { baseline_ = std::move(baseline); }
  /// The baseline set, if any.
  const std::optional<Baseline>& baseline() const noexcept { return baseline_; }
  /// The results against the baseline at config().regression_threshold; nullopt without one.
  RINGKERNEL_API std::optional<RegressionReport> compare_to_baseline() const;

 private:
  Config config_;
  std::vector<Result> results_;
  std::optional<Baseline> baseline_;
};

}  // namespace bench

}  // namespace RINGKERNEL_ABI_NAMESPACE
}  // namespace ringkernel

#endif  // RINGKERNEL_HPP

// ============================================================================================
// 16. Implementation                                                                  >>impl
// ============================================================================================
// Outside the include guard, compiled once: in the TU that defines RINGKERNEL_IMPLEMENTATION.
#if defined(RINGKERNEL_IMPLEMENTATION) && !defined(RINGKERNEL_IMPLEMENTATION_DONE)
#define RINGKERNEL_IMPLEMENTATION_DONE

#include <cstdio>
#include <cstdlib>
#include <ctime>
#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif
#if defined(__linux__)
#include <sched.h>  // sched_getaffinity, CPU_COUNT (glibc: needs _GNU_SOURCE, which g++ and clang++ define)
#endif

#ifndef RINGKERNEL_LOG
#define RINGKERNEL_LOG(level, msg) ::ringkernel::detail::default_log((level), (msg))
#endif

namespace ringkernel {
inline namespace RINGKERNEL_ABI_NAMESPACE {

// ---- errors ------------------------------------------------------------------------------
const char* to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::Ok: return "Ok";
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::InvalidMessage: return "InvalidMessage";
    case ErrorCode::InvalidTopic: return "InvalidTopic";
    case ErrorCode::ClockDrift: return "ClockDrift";
    case ErrorCode::QueueFull: return "QueueFull";
    case ErrorCode::Timeout: return "Timeout";
    case ErrorCode::NotActive: return "NotActive";
    case ErrorCode::KernelNotFound: return "KernelNotFound";
    case ErrorCode::InvalidState: return "InvalidState";
    case ErrorCode::KernelFault: return "KernelFault";
    case ErrorCode::MemoryLimit: return "MemoryLimit";
    case ErrorCode::BackendUnavailable: return "BackendUnavailable";
    case ErrorCode::CudaFailure: return "CudaFailure";
    case ErrorCode::VulkanFailure: return "VulkanFailure";
    case ErrorCode::Closed: return "Closed";
    case ErrorCode::Internal: return "Internal";
  }
  return "Unknown";
}

const char* to_string(BackpressureStrategy strategy) noexcept {
  switch (strategy) {
    case BackpressureStrategy::Block: return "Block";
    case BackpressureStrategy::Reject: return "Reject";
    case BackpressureStrategy::DropOldest: return "DropOldest";
  }
  return "Unknown";
}

namespace detail {
inline void default_log(LogLevel level, const char* msg) noexcept {
  static const char* const names[] = {"debug", "info", "warn", "error"};
  if (level >= LogLevel::Warn) std::fprintf(stderr, "[ringkernel] %s: %s\n", names[static_cast<int>(level)], msg);
}

void log(LogLevel level, const std::string& message) noexcept { RINGKERNEL_LOG(level, message.c_str()); }

void raise(ErrorCode code, const std::string& message) {
#if defined(RINGKERNEL_NO_EXCEPTIONS)
  log(LogLevel::Error, std::string(to_string(code)) + ": " + message + " (RINGKERNEL_NO_EXCEPTIONS: aborting)");
  std::abort();
#else
  switch (code) {
    case ErrorCode::KernelNotFound:
    case ErrorCode::InvalidState:
    case ErrorCode::KernelFault:
    case ErrorCode::NotActive:
      throw KernelError(code, message);
    case ErrorCode::MemoryLimit:
      throw MemoryLimitError(message);
    case ErrorCode::CudaFailure:
      throw CudaError(message);
    case ErrorCode::VulkanFailure:
      throw VulkanError(message);
    default:
      throw Error(code, message);
  }
#endif
}

// Wall clock in µs since the epoch. The coarse reading is the OS timer tick (cheap); the
// precise one is what HlcTimestamp::now reports.
inline std::uint64_t wall_micros_precise() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}
inline std::uint64_t wall_micros_coarse() noexcept {
#if defined(__linux__) && defined(CLOCK_REALTIME_COARSE)
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
#else
  return wall_micros_precise();
#endif
}
}  // namespace detail

// ---- HLC ---------------------------------------------------------------------------------
HlcTimestamp HlcTimestamp::now(std::uint32_t node_id) noexcept {
  return HlcTimestamp{detail::wall_micros_precise(), 0, node_id};
}

namespace {
constexpr std::uint64_t kHlcLogicalMask = (std::uint64_t{1} << HlcClock::logical_bits) - 1;
inline HlcTimestamp hlc_from_state(std::uint64_t state, std::uint32_t node) noexcept {
  return HlcTimestamp{state >> HlcClock::logical_bits, static_cast<std::uint32_t>(state & kHlcLogicalMask), node};
}
}  // namespace

HlcClock::HlcClock(std::uint32_t node_id, std::chrono::microseconds max_drift) : node_id_(node_id), max_drift_us_(0) {
  if (max_drift.count() < 0)
    detail::raise(ErrorCode::InvalidArgument,
                  "HlcClock: max_drift must not be negative, got " + std::to_string(max_drift.count()) + " us");
  max_drift_us_ = static_cast<std::uint64_t>(max_drift.count());
  state_.store(detail::wall_micros_coarse() << logical_bits, std::memory_order_relaxed);
}

HlcTimestamp HlcClock::tick() noexcept {
  // Relaxed is enough: uniqueness and order come from the single atomic's modification order.
  // The common case is one fetch_add: the state is at or past the wall clock (it moves by the
  // coarse clock's tick, ~4 ms, and many ticks fall in between). A load before it would cost a
  // second cache-line transfer whenever several threads tick.
  const std::uint64_t wall = detail::wall_micros_coarse() << logical_bits;
  std::uint64_t s = state_.fetch_add(1, std::memory_order_relaxed) + 1;
  while (s <= wall) {
    // The wall clock moved past the state: jump to it (logical 1, so that a now() that
    // reported `wall` stays strictly below this tick). The value taken above is skipped; a
    // thread that raced us to the jump takes the next one.
    std::uint64_t cur = s;
    if (state_.compare_exchange_strong(cur, wall + 1, std::memory_order_relaxed)) return hlc_from_state(wall + 1, node_id_);
    if (cur > wall) return hlc_from_state(state_.fetch_add(1, std::memory_order_relaxed) + 1, node_id_);
    s = cur;  // another tick moved the state, still below the wall: try the jump again
  }
  return hlc_from_state(s, node_id_);
}

HlcTimestamp HlcClock::tick_block(std::uint32_t n) noexcept {
  // tick() for a block: one fetch_add of n, and the jump to the wall clock when the whole
  // block fell behind it.
  const std::uint64_t count = n == 0 ? 1 : n;
  const std::uint64_t wall = detail::wall_micros_coarse() << logical_bits;
  std::uint64_t last = state_.fetch_add(count, std::memory_order_relaxed) + count;
  while (last <= wall) {
    std::uint64_t cur = last;
    if (state_.compare_exchange_strong(cur, wall + count, std::memory_order_relaxed)) return hlc_from_state(wall + 1, node_id_);
    if (cur > wall) return hlc_from_state(state_.fetch_add(count, std::memory_order_relaxed) + 1, node_id_);
    last = cur;
  }
  return hlc_from_state(last - count + 1, node_id_);
}

HlcTimestamp HlcClock::now() const noexcept {
  const std::uint64_t wall = detail::wall_micros_coarse() << logical_bits;
  return hlc_from_state(std::max(state_.load(std::memory_order_relaxed), wall), node_id_);
}

Result<HlcTimestamp> HlcClock::try_update(const HlcTimestamp& remote) {
  const std::uint64_t wall_us = detail::wall_micros_coarse();
  if (remote.physical > max_remote_physical ||
      (remote.physical > wall_us && remote.physical - wall_us > max_drift_us_)) {
    return Result<HlcTimestamp>(
        ErrorCode::ClockDrift,
        "HlcClock::update: remote timestamp from node " + std::to_string(remote.node_id) + " is " +
            std::to_string(remote.physical - std::min(remote.physical, wall_us)) +
            " us ahead of the local wall clock; the maximum drift is " + std::to_string(max_drift_us_) + " us");
  }
  // Smallest state strictly above `remote` in (physical, logical) order.
  const std::uint64_t above_remote = remote.logical < kHlcLogicalMask
                                         ? ((remote.physical << logical_bits) | remote.logical) + 1
                                         : (remote.physical + 1) << logical_bits;
  const std::uint64_t floor = std::max(above_remote, (wall_us << logical_bits) + 1);
  std::uint64_t s = state_.load(std::memory_order_relaxed);
  std::uint64_t next;
  do {
    next = std::max(s + 1, floor);
  } while (!state_.compare_exchange_weak(s, next, std::memory_order_relaxed));
  return hlc_from_state(next, node_id_);
}

HlcTimestamp HlcClock::update(const HlcTimestamp& remote) {
  Result<HlcTimestamp> r = try_update(remote);
  if (!r) detail::raise(r.code(), r.message());
  return r.value();
}

// ---- messages ----------------------------------------------------------------------------
namespace {
std::atomic<std::uint64_t> g_next_message_id{1};
std::atomic<std::uint64_t> g_next_correlation_id{1};
}  // namespace

MessageId MessageId::generate() noexcept {
  // Each thread takes ids in blocks, so that threads sending at once do not contend on one
  // counter per message. Unique process-wide; increasing within a thread.
  constexpr std::uint64_t block = 256;
  thread_local std::uint64_t next = 0, end = 0;
  if (next == end) {
    next = g_next_message_id.fetch_add(block, std::memory_order_relaxed);
    end = next + block;
  }
  return MessageId{next++};
}
CorrelationId CorrelationId::generate() noexcept {
  return CorrelationId{g_next_correlation_id.fetch_add(1, std::memory_order_relaxed)};
}

namespace detail {
namespace {
constexpr std::uint32_t kCrc32cPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

struct Crc32cTable {
  std::uint32_t t[8][256];
  Crc32cTable() noexcept {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) ? kCrc32cPoly : 0u);
      t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
  }
};

// Slicing-by-8: eight table lookups per 8 input bytes.
std::uint32_t crc32c_sw(std::uint32_t c, const std::uint8_t* p, std::size_t n) noexcept {
  static const Crc32cTable table;
  const auto& t = table.t;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    v ^= c;
    c = t[7][v & 0xFF] ^ t[6][(v >> 8) & 0xFF] ^ t[5][(v >> 16) & 0xFF] ^ t[4][(v >> 24) & 0xFF] ^
        t[3][(v >> 32) & 0xFF] ^ t[2][(v >> 40) & 0xFF] ^ t[1][(v >> 48) & 0xFF] ^ t[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFFu];
  return c;
}

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDA_ARCH__)
#define RINGKERNEL_HAS_CRC32C_HW 1
__attribute__((target("sse4.2"))) std::uint32_t crc32c_hw(std::uint32_t c, const std::uint8_t* p, std::size_t n) noexcept {
#if defined(__x86_64__)
  std::uint64_t c64 = c;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = __builtin_ia32_crc32di(c64, v);
    p += 8;
    n -= 8;
  }
  c = static_cast<std::uint32_t>(c64);
#endif
  while (n--) c = __builtin_ia32_crc32qi(c, *p++);
  return c;
}
#endif
}  // namespace
}  // namespace detail

std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc) noexcept {
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::uint32_t c = ~crc;
#if defined(RINGKERNEL_HAS_CRC32C_HW)
  static const bool has_sse42 = __builtin_cpu_supports("sse4.2");
  c = has_sse42 ? detail::crc32c_hw(c, p, size) : detail::crc32c_sw(c, p, size);
#else
  c = detail::crc32c_sw(c, p, size);
#endif
  return ~c;
}

MessageHeader MessageHeader::create(std::uint64_t type_id, std::uint64_t source_kernel, std::uint64_t dest_kernel,
                                    std::uint64_t payload_size, HlcTimestamp timestamp) noexcept {
  MessageHeader h;
  h.type_id = type_id;
  h.source_kernel = source_kernel;
  h.dest_kernel = dest_kernel;
  h.payload_size = payload_size;
  h.timestamp = timestamp;
  h.message_id = MessageId::generate().value;
  return h;
}

std::uint32_t MessageHeader::compute_checksum(const std::uint8_t* payload, std::size_t payload_bytes) const noexcept {
  MessageHeader copy = *this;
  copy.checksum = 0;
  const std::uint32_t c = crc32c(&copy, sizeof copy);
  return payload_bytes == 0 ? c : crc32c(payload, payload_bytes, c);
}

namespace {
// The first thing wrong with a header on its own (not its payload), or empty when none.
std::string header_problem(const MessageHeader& h) {
  if (h.magic != MessageHeader::magic_value) {
    char buf[80];
    std::snprintf(buf, sizeof buf, "bad magic 0x%08x (expected 0x%08x)", static_cast<unsigned>(h.magic),
                  static_cast<unsigned>(MessageHeader::magic_value));
    return buf;
  }
  if (h.version != MessageHeader::current_version)
    return "unsupported version " + std::to_string(h.version) + " (this build reads version " +
           std::to_string(MessageHeader::current_version) + ")";
  bool reserved_clear = h.reserved_a == 0 && h.reserved_b == 0;
  for (std::uint8_t b : h.reserved) reserved_clear = reserved_clear && b == 0;
  if (!reserved_clear) return "reserved header bytes are not zero";
  if (h.payload_size > MessageHeader::max_payload_size)
    return "payload_size " + std::to_string(h.payload_size) + " exceeds the limit of " +
           std::to_string(MessageHeader::max_payload_size) + " bytes";
  return std::string();
}
}  // namespace

MessageEnvelope::MessageEnvelope() : MessageEnvelope(MessageHeader{}, std::vector<std::uint8_t>()) {}

MessageEnvelope::MessageEnvelope(const MessageHeader& header, std::vector<std::uint8_t> payload)
    : header_(header), payload_(std::move(payload)) {
  std::string why = header_problem(header_);
  if (why.empty() && header_.payload_size != payload_.size())
    why = "header payload_size " + std::to_string(header_.payload_size) + " does not match the " +
          std::to_string(payload_.size()) + "-byte payload";
  if (!why.empty()) detail::raise(ErrorCode::InvalidMessage, "MessageEnvelope: " + why);
  header_.checksum = header_.compute_checksum(payload_.data(), payload_.size());
}

std::vector<std::uint8_t> MessageEnvelope::to_bytes() const {
  std::vector<std::uint8_t> out(total_size());
  write_to(out.data(), out.size());
  return out;
}

bool MessageEnvelope::write_to(std::uint8_t* out, std::size_t out_size) const noexcept {
  if (out == nullptr || out_size < total_size()) return false;
  std::memcpy(out, &header_, MessageHeader::wire_size);
  if (!payload_.empty()) std::memcpy(out + MessageHeader::wire_size, payload_.data(), payload_.size());
  return true;
}

Result<MessageEnvelope> MessageEnvelope::parse(const std::uint8_t* data, std::size_t size) {
  auto fail = [](const std::string& why) {
    return Result<MessageEnvelope>(ErrorCode::InvalidMessage, "invalid message: " + why);
  };
  if (data == nullptr && size != 0) return fail("null data with a non-zero size");
  if (size < MessageHeader::wire_size)
    return fail("truncated: " + std::to_string(size) + " bytes, the header alone needs " +
                std::to_string(MessageHeader::wire_size));
  MessageHeader h;
  std::memcpy(static_cast<void*>(&h), data, MessageHeader::wire_size);
  const std::string why = header_problem(h);
  if (!why.empty()) return fail(why);
  const std::uint64_t expected = MessageHeader::wire_size + h.payload_size;
  if (size != expected)
    return fail("size mismatch: payload_size " + std::to_string(h.payload_size) + " makes the message " +
                std::to_string(expected) + " bytes, got " + std::to_string(size));
  const std::uint8_t* payload = data + MessageHeader::wire_size;
  const std::uint32_t sum = h.compute_checksum(payload, static_cast<std::size_t>(h.payload_size));
  if (sum != h.checksum) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "checksum mismatch (header says 0x%08x, content gives 0x%08x)",
                  static_cast<unsigned>(h.checksum), static_cast<unsigned>(sum));
    return fail(buf);
  }
  return MessageEnvelope(Unchecked{}, h, std::vector<std::uint8_t>(payload, payload + h.payload_size));
}

MessageEnvelope MessageEnvelope::from_raw_bytes(const std::uint8_t* data, std::size_t size) {
  return parse(data, size).value();
}
MessageEnvelope MessageEnvelope::from_raw_bytes(const std::vector<std::uint8_t>& bytes) {
  return parse(bytes.data(), bytes.size()).value();
}


// ---- kernel model and runtime -------------------------------------------------------------
const char* to_string(KernelState state) noexcept {
  switch (state) {
    case KernelState::Created: return "Created";
    case KernelState::Launched: return "Launched";
    case KernelState::Active: return "Active";
    case KernelState::Deactivated: return "Deactivated";
    case KernelState::Terminating: return "Terminating";
    case KernelState::Terminated: return "Terminated";
    case KernelState::Faulted: return "Faulted";
  }
  return "Unknown";
}
const char* to_string(KernelMode mode) noexcept {
  return mode == KernelMode::Persistent ? "Persistent" : mode == KernelMode::EventDriven ? "EventDriven" : "Unknown";
}
const char* to_string(Backend backend) noexcept {
  switch (backend) {
    case Backend::Auto: return "Auto";
    case Backend::Cpu: return "Cpu";
    case Backend::Cuda: return "Cuda";
    case Backend::Vulkan: return "Vulkan";
  }
  return "Unknown";
}
const char* to_string(SendStatus status) noexcept {
  switch (status) {
    case SendStatus::Ok: return "Ok";
    case SendStatus::QueueFull: return "QueueFull";
    case SendStatus::NotActive: return "NotActive";
    case SendStatus::KernelFaulted: return "KernelFaulted";
    case SendStatus::TypeMismatch: return "TypeMismatch";
    case SendStatus::TooLarge: return "TooLarge";
    case SendStatus::ClockDrift: return "ClockDrift";
  }
  return "Unknown";
}

LaunchOptions& LaunchOptions::with_queue_capacity(std::size_t capacity) {
  if (!detail::is_pow2(capacity) || capacity > (std::size_t{1} << 30))
    detail::raise(ErrorCode::InvalidArgument, "LaunchOptions::with_queue_capacity: " + std::to_string(capacity) +
                                                  " is not a power of two in 1..2^30");
  queue_capacity_ = capacity;
  return *this;
}
LaunchOptions& LaunchOptions::with_max_message_size(std::size_t bytes) {
  if (bytes == 0 || bytes > MessageHeader::max_payload_size)
    detail::raise(ErrorCode::InvalidArgument, "LaunchOptions::with_max_message_size: " + std::to_string(bytes) +
                                                  " is outside 1.." + std::to_string(MessageHeader::max_payload_size));
  max_message_size_ = bytes;
  return *this;
}
LaunchOptions& LaunchOptions::with_block_size(std::uint32_t threads) {
  if (threads == 0) detail::raise(ErrorCode::InvalidArgument, "LaunchOptions::with_block_size: must be > 0");
  block_size_ = threads;
  return *this;
}
LaunchOptions& LaunchOptions::with_grid_size(std::uint32_t blocks) {
  if (blocks == 0) detail::raise(ErrorCode::InvalidArgument, "LaunchOptions::with_grid_size: must be > 0");
  grid_size_ = blocks;
  return *this;
}
LaunchOptions& LaunchOptions::with_send_timeout(std::chrono::nanoseconds timeout) {
  if (timeout.count() < 0) detail::raise(ErrorCode::InvalidArgument, "LaunchOptions::with_send_timeout: must be >= 0");
  send_timeout_ = timeout;
  return *this;
}

namespace detail {
namespace {
std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Nanoseconds on a monotonic scale for message latency (enqueue -> handler done), taken twice
// per message per hop. On x86-64 with an invariant TSC (constant rate, never stops, in sync
// across cores: CPUID 0x80000007 EDX bit 8) it is the TSC scaled by a rate measured once
// against steady_clock over ~200 us, ~5x cheaper than a clock_gettime through the vDSO;
// elsewhere it is steady_clock. Only differences of its values mean anything.
struct LatencyClock {
  bool use_tsc = false;
  double ns_per_tick = 0;
  std::uint64_t tsc0 = 0;
  LatencyClock() noexcept {
#if defined(__x86_64__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000007u) return;
    __cpuid(0x80000007u, a, b, c, d);
    if ((d & (1u << 8)) == 0) return;
    const std::int64_t t0 = steady_ns();
    const std::uint64_t c0 = __rdtsc();
    std::int64_t t1 = t0;
    while ((t1 = steady_ns()) - t0 < 200000) cpu_pause();
    const std::uint64_t c1 = __rdtsc();
    if (c1 <= c0) return;
    ns_per_tick = static_cast<double>(t1 - t0) / static_cast<double>(c1 - c0);
    tsc0 = c0;
    use_tsc = ns_per_tick > 0;
#endif
  }
  std::int64_t now() const noexcept {
#if defined(__x86_64__)
    if (use_tsc) return static_cast<std::int64_t>(static_cast<double>(__rdtsc() - tsc0) * ns_per_tick);
#endif
    return steady_ns();
  }
};
std::int64_t latency_ns() noexcept {
  static const LatencyClock clock;
  return clock.now();
}

[[noreturn]] void raise_kernel(ErrorCode code, const std::string& message) {
#if defined(RINGKERNEL_NO_EXCEPTIONS)
  raise(code, message);
#else
  throw KernelError(code, message);
#endif
}
}  // namespace

struct RuntimeShared {
  RuntimeConfig config;
  Backend backend = Backend::Cpu;
  HlcClock clock;
  std::mutex mu;
  std::vector<std::shared_ptr<KernelCore>> kernels;  // launch order
  bool shut_down = false;
  std::uint64_t total_launched = 0;
  std::uint64_t next_number = 1;
  int device = 0;
  K2KBroker k2k;
  PubSubBroker pubsub;
  RuntimeShared(const RuntimeConfig& c, Backend b, std::uint32_t node)
      : config(c), backend(b), clock(node), k2k(*this, c.k2k), pubsub(*this, c.pubsub) {}
  // The kernel with this id (any state), or null.
  std::shared_ptr<KernelCore> find(const std::string& id);
  // The id of kernel number `n`; empty for 0 or unknown.
  std::string id_of(std::uint64_t n);
  std::uint64_t number_of(const std::string& id);
};

// The kernel whose worker runs on this thread, or null (set once by the worker, never cleared:
// the thread ends with its kernel).
thread_local KernelCore* t_worker_core = nullptr;

// What a thread that is not a worker (a host thread) stamps its sends with: a block of the
// runtime's clock, like a worker's, so that a host thread streaming sends does not take the
// clock's contended line for each. The block grows from 1 to 64 while it is used up without
// a drop; it ends when the coarse wall clock moves (so a stamp never lags it by more than
// one coarse tick), and it is dropped whenever the thread may have seen a later timestamp
// (an answer received, a broker send or publish), so each send stays above what it saw.
struct HostStamps {
  const void* clock = nullptr;  // the HlcClock the block is from
  std::uint64_t next = 0, end = 0;
  std::uint64_t wall_us = 0;    // the coarse wall clock when the block was reserved
  std::uint32_t size = 1;
};
thread_local HostStamps t_host_stamps;
HlcTimestamp host_stamp(HlcClock& clock) noexcept {
  HostStamps& h = t_host_stamps;
  const std::uint64_t wall = wall_micros_coarse();
  if (h.next == h.end || h.clock != &clock || h.wall_us != wall) {
    h.size = (h.clock == &clock && h.next == h.end && h.wall_us == wall) ? std::min<std::uint32_t>(h.size * 2, 64) : 1;
    const HlcTimestamp first = clock.tick_block(h.size);
    h.clock = &clock;
    h.wall_us = wall;
    h.next = (first.physical << HlcClock::logical_bits) | first.logical;
    h.end = h.next + h.size;
  }
  const std::uint64_t state = h.next++;
  return HlcTimestamp{state >> HlcClock::logical_bits,
                      static_cast<std::uint32_t>(state & ((std::uint64_t{1} << HlcClock::logical_bits) - 1)), clock.node_id()};
}
// This thread may have seen a timestamp above its block (worker's or host's): drop both.
void drop_thread_stamps() noexcept;

int usable_hardware_threads() noexcept {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// Workers of this process that are running (busy or spinning), not parked: counted when a
// worker starts, parks, wakes and ends, never per message. Spinning pays only while they
// leave a hardware thread for the threads that feed them.
std::atomic<int> g_running_workers{0};
// Whether a spinner may go on: the running workers leave a hardware thread free (for a
// worker, which counts itself, the one its feeders need; for a host thread, its own).
bool worker_may_spin() noexcept {
  static const int limit = std::max(1, usable_hardware_threads() - 1);
  return g_running_workers.load(std::memory_order_relaxed) <= limit;
}
// Counts the calling worker as parked while it lives (around every blocking wait).
struct ParkedWorker {
  explicit ParkedWorker(bool is_worker) noexcept : counted(is_worker) {
    if (counted) g_running_workers.fetch_sub(1, std::memory_order_relaxed);
  }
  ~ParkedWorker() {
    if (counted) g_running_workers.fetch_add(1, std::memory_order_relaxed);
  }
  ParkedWorker(const ParkedWorker&) = delete;
  ParkedWorker& operator=(const ParkedWorker&) = delete;
  const bool counted;
};

struct PendingCall {
  Packet reply;
  std::atomic<bool> done{false};  // set under out_mu after `reply`; read lock-free while spinning
};

class KernelCore {
 public:
  KernelCore(std::shared_ptr<RuntimeShared> runtime, std::string kernel_id, std::uint64_t kernel_number,
             std::unique_ptr<KernelBody> kernel_body, const LaunchOptions& opts)
      : rt(std::move(runtime)),
        id(std::move(kernel_id)),
        number(kernel_number),
        options(opts),
        body(std::move(kernel_body)),
        is_loop(body->input_type_id() == 0),
        inbox(opts.queue_capacity(), opts.backpressure()),
        control(new ControlBlock()),
        telemetry(new TelemetryBuffer()) {
    take_batch = std::min<std::size_t>(32, std::max<std::size_t>(1, opts.queue_capacity() / 4));
  }

  ~KernelCore() {
    std::lock_guard<std::mutex> lk(join_mu);
    if (!worker.joinable()) return;
    if (worker.get_id() == std::this_thread::get_id()) worker.detach(); else worker.join();
  }
  KernelCore(const KernelCore&) = delete;
  KernelCore& operator=(const KernelCore&) = delete;

  std::shared_ptr<RuntimeShared> rt;
  const std::string id;
  const std::uint64_t number;
  const LaunchOptions options;
  const std::unique_ptr<KernelBody> body;
  const bool is_loop;
  PriorityInbox<Packet> inbox;
  const std::unique_ptr<ControlBlock> control;
  const std::unique_ptr<TelemetryBuffer> telemetry;

  // Lifecycle: `state` is written under `mu`; `run`/`stop`/`handling` are the worker's flags.
  mutable std::mutex mu;
  std::condition_variable cv;
  KernelState state = KernelState::Created;
  std::atomic<KernelState> state_fast{KernelState::Created};
  std::atomic<bool> run{false};
  std::atomic<bool> stop{false};
  std::atomic<bool> handling{false};
  bool exited = false;  // under mu
  std::thread worker;       // joined or detached only under join_mu (terminate may race shutdown)
  std::mutex join_mu;
  std::atomic<std::thread::id> worker_id{};
  std::optional<KernelFault> fault;  // under mu
  // Worker-only: messages taken from the inbox but not yet handled, in service order. The
  // worker takes up to take_batch at once (one inbox operation for many messages), and a message
  // claimed just as a pause began goes back to the front. Counted in status().queue_depth.
  // A quarter of the capacity, at most 32: what the worker holds frees inbox places, so a small
  // Block inbox would otherwise admit up to twice its capacity before senders wait.
  std::size_t take_batch = 32;
  PacketFifo held;
  std::atomic<std::uint64_t> held_count{0};
  // Worker-only: HLC states for what this worker stamps (outputs, sends), reserved in one block
  // of the runtime's clock (tick_block) after the messages they answer were taken, so each is
  // above its input and above everything the worker saw, at one contended clock operation per
  // batch instead of one per message. Taking a message from the inbox, merging a foreign
  // timestamp or receiving from another kernel drops the block (drop_stamps): the next stamp
  // then reserves a block above that input.
  std::uint64_t stamp_next = 0;
  std::uint64_t stamp_end = 0;

  // Outputs and pending calls, under out_mu.
  SpinLock out_mu;  // the worker and host threads hand over every output here: no futex per handoff
  std::condition_variable_any out_cv;        // an output arrived / a call completed / state changed
  std::condition_variable_any out_not_full;  // the host took an output (waited on by the worker only)
  std::atomic<bool> room_wanted{false};      // the worker waits on out_not_full (set under out_mu)
  bool outputs_cut = false;                  // under out_mu: terminating dropped an output; drop the rest
  PacketFifo outputs;
  std::atomic<std::size_t> outputs_count{0};  // outputs.size(), readable without the lock
  std::size_t taken_seen = 0;                 // under out_mu: taken.size() when last read (never below it)
  // The receivers' side of the output queue. A receiver that finds no match among `taken`
  // moves every output into it at once, under both locks (recv_mu first), so that the worker
  // and the host meet on out_mu once per batch rather than once per output. Messages in
  // `taken` are older than those in `outputs`; together they hold at most queue_capacity.
  SpinLock recv_mu;
  PacketFifo taken;                           // under recv_mu
  std::atomic<std::size_t> taken_count{0};    // taken.size(), written under recv_mu
  std::vector<std::pair<std::uint64_t, PendingCall*>> pending;
  int out_waiters = 0;
  bool out_signaled = false;  // under out_mu: receivers were notified since the last one went to sleep

  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> rejected{0};  // NotActive / KernelFaulted / TypeMismatch / TooLarge
  std::atomic<std::uint64_t> outputs_emitted{0};
  std::atomic<std::uint64_t> latency_samples{0};  // written by the worker only
  std::atomic<std::uint64_t> outputs_dropped{0};
  QueueMemoryCharge queue_memory;  // this kernel's queues, held against the runtime's ResourceGuard

  HlcTimestamp stamp() noexcept {
    if (stamp_next == stamp_end) {
      const std::uint32_t n = static_cast<std::uint32_t>(std::min<std::size_t>(held.size() + 1, 64));
      const HlcTimestamp first = rt->clock.tick_block(n);
      stamp_next = (first.physical << HlcClock::logical_bits) | first.logical;
      stamp_end = stamp_next + n;
    }
    return hlc_from_state(stamp_next++, rt->clock.node_id());
  }
  void drop_stamps() noexcept { stamp_end = stamp_next; }
  // The timestamp of something this kernel sends now: from the worker's block on its own
  // thread, from the clock elsewhere (a bridge, a host thread).
  HlcTimestamp send_stamp() noexcept { return t_worker_core == this ? stamp() : rt->clock.tick(); }
  void set_state(KernelState s) {  // caller holds mu
    state = s;
    state_fast.store(s, std::memory_order_release);
  }
  bool on_worker_thread() const noexcept { return worker_id.load() == std::this_thread::get_id(); }
  void wake_everyone() {
    inbox.interrupt();
    cv.notify_all();
    std::lock_guard<SpinLock> lk(out_mu);
    out_cv.notify_all();
    out_not_full.notify_all();
  }
  void hold(Packet&& p) {
    held.push_front(std::move(p));
    held_count.store(held.size(), std::memory_order_relaxed);
  }
  // Joins the worker once, whoever calls first; later callers find it joined.
  void join_worker() {
    std::lock_guard<std::mutex> lk(join_mu);
    if (worker.joinable() && !on_worker_thread()) worker.join();
  }
  // A held message goes first unless a strictly more urgent one arrived meanwhile.
  bool take_held(Packet& out) {
    if (held.empty()) return false;
    const int prio = held.front().priority;
    if (inbox.approx_has_above(prio) && inbox.try_pop_above(out, static_cast<Priority>(prio))) {
      drop_stamps();
      return true;
    }
    out = std::move(held.front());
    held.pop_front();
    held_count.store(held.size(), std::memory_order_relaxed);
    return true;
  }
  // Takes up to take_batch messages under one inbox lock: the first into `out`, the rest held.
  bool refill(Packet& out) {
    if (inbox.try_pop_batch(held, take_batch) == 0) return false;
    drop_stamps();
    out = std::move(held.front());
    held.pop_front();
    held_count.store(held.size(), std::memory_order_relaxed);
    return true;
  }
  // Spin briefly on the inbox, then park on it (interrupt() or a push wakes us).
  bool pop_wait(Packet& out, std::chrono::nanoseconds park) {
    if (refill(out)) return true;
    // The spin's end is set at the first yield, not here: a message that arrives within a few
    // polls (the common case in a busy pipeline) then costs no clock read (~25 ns).
    std::int64_t spin_end = 0;
    const bool on_worker = t_worker_core == this;
    for (unsigned n = 1;; ++n) {
      if (inbox.approx_size() != 0 && refill(out)) return true;
      if (!run.load(std::memory_order_relaxed) || stop.load(std::memory_order_relaxed)) return false;
      cpu_pause();
      if ((n & 15) == 0) {
        // With more busy threads than cores, a spinning worker would starve the very thread
        // that feeds it: spin past these first polls only while the running workers leave a
        // core free (else park now), and give the core away now and then (a no-op when
        // nothing else waits).
        if (spin_end == 0 && on_worker && !worker_may_spin()) break;
        std::this_thread::yield();
        if (spin_end == 0) {
          spin_end = steady_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(rt->config.spin_before_park).count();
        } else if ((n & 127) == 0 && steady_ns() >= spin_end) {
          break;  // read the clock rarely
        }
      }
    }
    {
      ParkedWorker parked(on_worker);
      if (!inbox.pop(out, park)) return false;
    }
    drop_stamps();
    return true;
  }
  // Blocks while not active. False when the worker must stop (or `deadline` passed).
  bool wait_runnable(std::int64_t deadline_ns) {
    if (run.load(std::memory_order_acquire)) return !stop.load(std::memory_order_acquire);
    ParkedWorker parked(t_worker_core == this);
    std::unique_lock<std::mutex> lk(mu);
    auto ready = [&] { return run.load() || stop.load(); };
    if (deadline_ns == std::numeric_limits<std::int64_t>::max()) {
      cv.wait(lk, ready);
    } else {
      const std::int64_t left = deadline_ns - steady_ns();
      if (left > 0) cv.wait_for(lk, std::chrono::nanoseconds(left), ready);
    }
    return run.load() && !stop.load();
  }
  // Dekker handshake with deactivate(): the worker marks itself handling, then re-checks `run`;
  // deactivate clears `run`, then waits for handling == false. Both seq_cst, so one sees the other.
  // A worker with messages at hand stays marked from one message to the next (re-checking `run`
  // before each), and clears the mark only when it goes idle (release_handling): one fenced
  // store per busy spell instead of two per message.
  bool claim(Packet& p) {
    if (!handling.load(std::memory_order_relaxed)) handling.store(true, std::memory_order_seq_cst);
    if (!run.load(std::memory_order_seq_cst) || stop.load(std::memory_order_seq_cst)) {
      handling.store(false, std::memory_order_seq_cst);
      hold(std::move(p));
      return false;
    }
    return true;
  }
  // The receive event's timestamp. A message stamped by this runtime's clock is already
  // behind the clock (and unique), so it serves as is: one contended clock update less per hop.
  void release_handling() {
    if (handling.load(std::memory_order_relaxed)) handling.store(false, std::memory_order_seq_cst);
  }
  HlcTimestamp merge(const Packet& in) {
    if ((in.flags & Packet::stamped_here) != 0) return in.timestamp;
    drop_stamps();  // the merge may move the clock past this worker's block
    Result<HlcTimestamp> r = rt->clock.try_update(in.timestamp);
    return r ? r.value() : rt->clock.tick();
  }
  void account_done(const Packet& in, HlcTimestamp merged) {
    // The inbox's depth is a line its producers keep writing: read it once per batch taken.
    if (held.empty())
      telemetry->set_queue_depth(static_cast<std::int32_t>(std::min<std::size_t>(inbox.approx_size(), INT32_MAX)));
    if ((in.flags & Packet::latency_timed) != 0) {
      const std::int64_t latency = latency_ns() - in.enqueued_ns;
      telemetry->record_processed(latency > 0 ? static_cast<std::uint64_t>(latency) : 0,
                                  static_cast<std::int64_t>(merged.physical));
      latency_samples.store(latency_samples.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    } else {
      telemetry->count_processed(static_cast<std::int64_t>(merged.physical));
    }
    control->add_processed(1, static_cast<std::int64_t>(merged.physical));
  }
  void deliver(Packet&& out, std::uint64_t correlation) {
    out.correlation_id = correlation;
    out.source_kernel = number;
    out.timestamp = send_stamp();
    out.message_id = MessageId::generate().value;
    outputs_emitted.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock<SpinLock> lk(out_mu);
    if (correlation != 0) {
      for (auto& entry : pending) {
        if (entry.first == correlation && !entry.second->done.load(std::memory_order_relaxed)) {
          entry.second->reply = std::move(out);
          entry.second->done.store(true, std::memory_order_release);
          out_cv.notify_all();
          return;
        }
      }
    }
    if (outputs_cut) {
      outputs_dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // The receivers shrink `taken` without out_mu, so taken_seen may be stale (too high):
    // refresh it only when the queue looks full (Dekker with receive: room_wanted is stored
    // before taken_count is loaded; a receiver stores taken_count before loading room_wanted).
    if (outputs.size() + taken_seen >= options.queue_capacity()) {
      for (;;) {
        room_wanted.store(true, std::memory_order_seq_cst);
        taken_seen = taken_count.load(std::memory_order_seq_cst);
        if (outputs.size() + taken_seen < options.queue_capacity()) break;
        if (stop.load()) {
          // Terminating with a full output queue: nobody may be receiving, so do not wait.
          // This output and every later one are dropped (counted), so what the host receives
          // stays a gap-free prefix of what the kernel emitted.
          room_wanted.store(false, std::memory_order_relaxed);
          outputs_cut = true;
          outputs_dropped.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        // Woken at the half-full mark; the 1 ms slices bound the wait when the host stopped
        // receiving before it.
        out_not_full.wait_for(lk, std::chrono::milliseconds(1));
      }
      room_wanted.store(false, std::memory_order_relaxed);
    }
    outputs.push_back(std::move(out));
    outputs_count.store(outputs.size(), std::memory_order_release);
    // Only the first output after a receiver went to sleep notifies; until it runs, the
    // later ones would each pay a futex call for nothing.
    if (out_waiters != 0 && !out_signaled) {
      out_signaled = true;
      out_cv.notify_all();
    }
  }
  // Host side: spin briefly for `ready` before parking on a condition variable, so that a
  // reply arriving within microseconds costs no futex round trip.
  template <class Ready>
  void spin_for(Ready ready) const {
    std::int64_t end = 0;  // set at the first yield, as in pop_wait
    for (unsigned n = 1; !ready(); ++n) {
      cpu_pause();
      if ((n & 15) == 0) {
        // See pop_wait: spin on only while the running workers leave this thread a core of
        // its own, and never starve the kernel we wait for.
        if (end == 0 && !worker_may_spin()) return;
        std::this_thread::yield();
        if (end == 0) {
          end = steady_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(rt->config.spin_before_park).count();
        } else if ((n & 127) == 0 && steady_ns() >= end) {
          return;
        }
      }
    }
  }
  void record_fault(const Packet& in, const char* what) {
    {
      std::lock_guard<std::mutex> lk(mu);
      if (state == KernelState::Faulted) return;
      MessageHeader h = MessageHeader::create(in.type_id, in.source_kernel, number, in.size, in.timestamp);
      h.correlation_id = in.correlation_id;
      h.priority = in.priority;
      MessageEnvelope env(h, std::vector<std::uint8_t>(in.data(), in.data() + in.size));
      fault = KernelFault{what, std::move(env)};
      errors.fetch_add(1, std::memory_order_relaxed);
      control->add_error();
      telemetry->set_error(ErrorCode::KernelFault);
      if (state != KernelState::Terminating) set_state(KernelState::Faulted);
      run.store(false);
      handling.store(false);
    }
    log(LogLevel::Warn, "kernel '" + id + "' faulted: " + what);
    wake_everyone();
  }
  // Stops the worker; false if it did not stop within the timeout. Never throws.
  bool terminate_quietly(std::string& why) {
    {
      std::unique_lock<std::mutex> lk(mu);
      if (state == KernelState::Terminated) {
        lk.unlock();
        join_worker();
        return true;
      }
      if (state != KernelState::Faulted) set_state(KernelState::Terminating);
      stop.store(true);
      run.store(false);
      control->request_terminate();
      control->set_active(false);
    }
    inbox.close();
    wake_everyone();
    if (on_worker_thread()) return true;  // the worker finishes its message, then exits
    std::unique_lock<std::mutex> lk(mu);
    if (!cv.wait_for(lk, rt->config.termination_timeout, [&] { return exited; })) {
      why = "kernel '" + id + "' did not stop within " + std::to_string(rt->config.termination_timeout.count()) +
            " ms (its handler may be stuck); it stays Terminating";
      return false;
    }
    lk.unlock();
    join_worker();
    lk.lock();
    set_state(KernelState::Terminated);
    control->set_termination_state(1);
    return true;
  }
};

bool core_next(KernelCore& core, Packet& out) {
  for (;;) {
    // Busy: the next message is at hand, no wait.
    if (core.run.load(std::memory_order_acquire) && !core.stop.load(std::memory_order_acquire) &&
        (core.take_held(out) || core.refill(out))) {
      if (core.claim(out)) return true;
      continue;  // paused meanwhile: `out` is held again, and the slow path below waits
    }
    core.release_handling();  // idle from here: deactivate() may return
    if (!core.wait_runnable(std::numeric_limits<std::int64_t>::max())) {
      if (core.stop.load()) return false;
      continue;
    }
    if (!core.take_held(out) && !core.pop_wait(out, std::chrono::milliseconds(200))) continue;
    if (core.claim(out)) return true;
  }
}
void core_begin(KernelCore& core, const Packet& in, HlcTimestamp& merged) { merged = core.merge(in); }
void core_done(KernelCore& core, const Packet& in, Packet* out) {
  core.account_done(in, in.timestamp);
  if (out != nullptr) core.deliver(std::move(*out), in.correlation_id);
}
void core_fault(KernelCore& core, const Packet& in, const char* what) { core.record_fault(in, what); }
void core_emit(KernelCore& core, Packet&& out, std::uint64_t correlation) { core.deliver(std::move(out), correlation); }
CoreRunState core_run_state(const KernelCore& core) noexcept {
  if (core.stop.load(std::memory_order_seq_cst)) return CoreRunState::Stopping;
  return core.run.load(std::memory_order_seq_cst) ? CoreRunState::Runnable : CoreRunState::Paused;
}
bool core_try_next(KernelCore& core, Packet& out) {
  core.handling.store(true, std::memory_order_seq_cst);  // Dekker with deactivate(), as in claim()
  if (!core.run.load(std::memory_order_seq_cst) || core.stop.load(std::memory_order_seq_cst)) return false;
  return core.take_held(out) || core.refill(out);
}
void core_release(KernelCore& core) noexcept { core.release_handling(); }
void core_return(KernelCore& core, Packet&& unprocessed) { core.hold(std::move(unprocessed)); }
HandlerContext make_handler_context(KernelCore& core, HlcTimestamp ts, std::uint64_t correlation,
                                    std::uint64_t source) noexcept {
  return HandlerContext(core, ts, correlation, source);
}
KernelContext make_kernel_context(KernelCore& core) noexcept { return KernelContext(core); }

// Registry of named kernels; a function-local static so registration from static
// initializers in any TU is safe.
namespace {
struct KernelRegistry {
  std::mutex mu;
  std::vector<std::pair<std::string, KernelFactory>> entries;
};
KernelRegistry& kernel_registry() {
  static KernelRegistry r;
  return r;
}
struct ProviderRegistry {
  std::mutex mu;
  std::vector<std::shared_ptr<BackendProvider>> providers;
};
ProviderRegistry& provider_registry() {
  static ProviderRegistry r;
  return r;
}
}  // namespace

void register_kernel(const char* name, KernelFactory factory) {
  KernelRegistry& r = kernel_registry();
  std::lock_guard<std::mutex> lk(r.mu);
  for (auto& e : r.entries)
    if (e.first == name) {
      e.second = factory;
      return;
    }
  r.entries.emplace_back(name, factory);
}
KernelFactory find_kernel(const std::string& name) {
  KernelRegistry& r = kernel_registry();
  std::lock_guard<std::mutex> lk(r.mu);
  for (auto& e : r.entries)
    if (e.first == name) return e.second;
  return nullptr;
}
std::vector<std::string> registered_kernel_names() {
  KernelRegistry& r = kernel_registry();
  std::lock_guard<std::mutex> lk(r.mu);
  std::vector<std::string> names;
  for (auto& e : r.entries) names.push_back(e.first);
  return names;
}
}  // namespace detail

void register_backend_provider(std::shared_ptr<BackendProvider> provider) {
  if (!provider) detail::raise(ErrorCode::InvalidArgument, "register_backend_provider: null provider");
  auto& r = detail::provider_registry();
  std::lock_guard<std::mutex> lk(r.mu);
  for (auto& p : r.providers)
    if (p->kind() == provider->kind()) {
      p = std::move(provider);
      return;
    }
  r.providers.push_back(std::move(provider));
}
std::shared_ptr<BackendProvider> find_backend_provider(Backend kind) {
  auto& r = detail::provider_registry();
  std::lock_guard<std::mutex> lk(r.mu);
  for (auto& p : r.providers)
    if (p->kind() == kind) return p;
  return nullptr;
}

// ---- contexts ----------------------------------------------------------------------------
namespace detail {
SendStatus inbox_send(KernelCore& k, Packet&& p, std::chrono::nanoseconds timeout, bool tagged) noexcept;
struct FabricAccess {
  static DeliveryReceipt deliver(K2KBroker& b, const std::string& source, const std::string& destination, Packet&& p) {
    return b.deliver(source, destination, std::move(p));
  }
};
// A kernel's own K2K send: from its id and number, at its priority, stamped now.
DeliveryReceipt k2k_send_from(KernelCore& core, const std::string& destination, Packet&& p) {
  p.source_kernel = core.number;
  p.flags = Packet::from_kernel | Packet::stamped_here;
  p.priority = static_cast<std::uint8_t>(core.options.priority());
  p.timestamp = core.send_stamp();
  return FabricAccess::deliver(core.rt->k2k, core.id, destination, std::move(p));
}
}  // namespace detail

const std::string& HandlerContext::kernel_id() const noexcept { return core_.id; }
HlcTimestamp HandlerContext::now() noexcept { return core_.send_stamp(); }
void HandlerContext::emit_packet(detail::Packet&& p) { core_.deliver(std::move(p), correlation_); }

const std::string& KernelContext::kernel_id() const noexcept { return core_.id; }
bool KernelContext::should_terminate() const noexcept { return core_.stop.load(std::memory_order_acquire); }
bool KernelContext::is_active() const noexcept { return core_.run.load(std::memory_order_acquire); }
bool KernelContext::wait_active(std::chrono::nanoseconds timeout) {
  const std::int64_t deadline = timeout == std::chrono::nanoseconds::max()
                                    ? std::numeric_limits<std::int64_t>::max()
                                    : detail::steady_ns() + timeout.count();
  return core_.wait_runnable(deadline);
}
bool KernelContext::receive_packet(detail::Packet& out, std::chrono::nanoseconds timeout) {
  const std::int64_t deadline = detail::steady_ns() + std::min<std::int64_t>(timeout.count(), std::int64_t{1} << 60);
  for (;;) {
    if (core_.stop.load()) return false;
    if (!core_.wait_runnable(deadline)) return false;
    const std::int64_t left = deadline - detail::steady_ns();
    if (left <= 0 && core_.held.empty() && core_.inbox.approx_size() == 0) return false;
    if (!core_.take_held(out) && !core_.pop_wait(out, std::chrono::nanoseconds(std::max<std::int64_t>(left, 0)))) {
      if (detail::steady_ns() >= deadline) return false;
      continue;
    }
    if (!core_.claim(out)) continue;
    const HlcTimestamp merged = core_.merge(out);
    core_.account_done(out, merged);
    core_.handling.store(false, std::memory_order_seq_cst);
    last_correlation_ = out.correlation_id;
    last_source_ = (out.flags & detail::Packet::from_kernel) != 0 ? out.source_kernel : 0;
    return true;
  }
}
bool KernelContext::take_from_kernel(detail::Packet& out, const std::string* source) {
  std::uint64_t number = 0;
  if (source != nullptr && (number = core_.rt->number_of(*source)) == 0) return false;
  auto from = [&](const detail::Packet& p) {
    return (p.flags & detail::Packet::from_kernel) != 0 && (number == 0 || p.source_kernel == number);
  };
  if (core_.stop.load() || !core_.run.load(std::memory_order_acquire)) return false;
  std::size_t i = 0;
  while (i < core_.held.size() && !from(core_.held[i])) ++i;
  if (i < core_.held.size()) {  // held messages are older than anything in the inbox
    out = std::move(core_.held[i]);
    core_.held.erase_at(i);
    core_.held_count.store(core_.held.size(), std::memory_order_relaxed);
  } else if (!core_.inbox.try_pop_if(out, from)) {
    return false;
  }
  if (!core_.claim(out)) return false;  // paused meanwhile: held, served first on resume
  const HlcTimestamp merged = core_.merge(out);
  core_.account_done(out, merged);
  core_.handling.store(false, std::memory_order_seq_cst);
  last_correlation_ = out.correlation_id;
  last_source_ = out.source_kernel;
  return true;
}
std::string KernelContext::last_source_kernel() const { return core_.rt->id_of(last_source_); }
DeliveryReceipt detail::FabricSender::send_packet_to_kernel(const std::string& destination, detail::Packet&& p) {
  return detail::k2k_send_from(core_, destination, std::move(p));
}
std::size_t detail::FabricSender::publish_envelope(const Topic& topic, const MessageEnvelope& envelope) {
  return core_.rt->pubsub.publish(topic, core_.id, envelope);
}
std::string HandlerContext::source_kernel() const { return core_.rt->id_of(source_); }

std::optional<MessageEnvelope> KernelContext::receive_envelope(std::chrono::nanoseconds timeout) {
  detail::Packet p;
  if (!receive_packet(p, timeout)) return std::nullopt;
  MessageHeader h = MessageHeader::create(p.type_id, p.source_kernel, core_.number, p.size, p.timestamp);
  h.correlation_id = p.correlation_id;
  h.priority = p.priority;
  h.message_id = p.message_id;
  return MessageEnvelope(h, std::vector<std::uint8_t>(p.data(), p.data() + p.size));
}
void KernelContext::send_packet(detail::Packet&& p) { core_.deliver(std::move(p), last_correlation_); }
HlcTimestamp KernelContext::now() noexcept { return core_.send_stamp(); }
void KernelContext::type_mismatch(detail::Packet& p, std::uint64_t want, std::size_t want_size) {
  const std::string what = "loop kernel '" + core_.id + "' received a message of type " + std::to_string(p.type_id) +
                           " (" + std::to_string(p.size) + " bytes) where it expected type " + std::to_string(want) +
                           " (" + std::to_string(want_size) + " bytes)";
  core_.record_fault(p, what.c_str());
  detail::raise_kernel(ErrorCode::KernelFault, what);
}

// ---- KernelHandle ------------------------------------------------------------------------
namespace {
detail::Packet packet_from_envelope(const MessageEnvelope& e) {
  detail::Packet p;
  const MessageHeader& h = e.header();
  p.type_id = h.type_id;
  p.correlation_id = h.correlation_id;
  p.source_kernel = h.source_kernel;
  p.message_id = h.message_id;
  p.timestamp = h.timestamp;
  p.priority = h.priority;
  p.assign(e.payload().data(), e.payload().size());
  return p;
}
MessageEnvelope envelope_from_packet(const detail::Packet& p, std::uint64_t dest) {
  MessageHeader h = MessageHeader::create(p.type_id, p.source_kernel, dest, p.size, p.timestamp);
  h.correlation_id = p.correlation_id;
  h.priority = p.priority;
  if (p.message_id != 0) h.message_id = p.message_id;
  return MessageEnvelope(h, std::vector<std::uint8_t>(p.data(), p.data() + p.size));
}
}  // namespace

const std::string& KernelHandle::id() const noexcept { return core_->id; }
Priority KernelHandle::default_priority() const noexcept { return core_->options.priority(); }
std::chrono::nanoseconds KernelHandle::default_send_timeout() const noexcept { return core_->options.send_timeout(); }

namespace detail {
std::shared_ptr<KernelCore> RuntimeShared::find(const std::string& kernel_id) {
  std::lock_guard<std::mutex> lk(mu);
  for (auto& k : kernels)
    if (k->id == kernel_id) return k;
  return nullptr;
}
std::string RuntimeShared::id_of(std::uint64_t n) {
  if (n == 0) return std::string();
  std::lock_guard<std::mutex> lk(mu);
  for (auto& k : kernels)
    if (k->number == n) return k->id;
  return std::string();
}
std::uint64_t RuntimeShared::number_of(const std::string& kernel_id) {
  std::lock_guard<std::mutex> lk(mu);
  for (auto& k : kernels)
    if (k->id == kernel_id) return k->number;
  return 0;
}

// Every path into a kernel's inbox (host send, K2K, pub/sub) goes through here: type and size
// checks, state check, HLC stamping or merging, backpressure. `tagged`: a K2K message.
// Whether this thread times the message it sends now: one in `interval`, counted per sending
// thread (no shared counter to contend on), the thread's first message included.
bool sample_latency(std::uint32_t interval) noexcept {
  if (interval <= 1) return true;
  thread_local std::uint32_t since_sample = 0;
  if (since_sample == 0) {
    since_sample = interval - 1;
    return true;
  }
  --since_sample;
  return false;
}
void drop_thread_stamps() noexcept {
  if (KernelCore* w = t_worker_core) w->drop_stamps();
  t_host_stamps.clock = nullptr;
}
SendStatus inbox_send(KernelCore& k, Packet&& p, std::chrono::nanoseconds timeout, bool tagged) noexcept {
  if (!k.is_loop && (p.type_id != k.body->input_type_id() || p.size != k.body->input_size())) {
    k.rejected.fetch_add(1, std::memory_order_relaxed);
    return SendStatus::TypeMismatch;
  }
  if (p.size > k.options.max_message_size()) {
    k.rejected.fetch_add(1, std::memory_order_relaxed);
    return SendStatus::TooLarge;
  }
  const KernelState st = k.state_fast.load(std::memory_order_acquire);
  if (st == KernelState::Faulted || st == KernelState::Terminating || st == KernelState::Terminated) {
    k.rejected.fetch_add(1, std::memory_order_relaxed);
    return st == KernelState::Faulted ? SendStatus::KernelFaulted : SendStatus::NotActive;
  }
  if (p.timestamp == HlcTimestamp{}) {
    // From a worker thread of the same runtime (a handler sending on): that worker's block.
    KernelCore* const from = t_worker_core;
    p.timestamp = from != nullptr && from->rt == k.rt ? from->stamp() : host_stamp(k.rt->clock);
    p.flags |= Packet::stamped_here;
  } else if ((p.flags & Packet::stamped_here) == 0 && !k.rt->clock.try_update(p.timestamp)) {
    k.rejected.fetch_add(1, std::memory_order_relaxed);
    return SendStatus::ClockDrift;
  }
  if (p.message_id == 0) p.message_id = MessageId::generate().value;
  p.flags = static_cast<std::uint8_t>(p.flags & ~Packet::latency_timed);
  if (sample_latency(k.rt->config.latency_sample_interval)) {
    p.enqueued_ns = detail::latency_ns();
    p.flags |= Packet::latency_timed;
  }
  const auto priority = static_cast<Priority>(p.priority);
  switch (k.inbox.push(std::move(p), priority, timeout, tagged)) {
    case EnqueueStatus::Enqueued:
      return SendStatus::Ok;
    case EnqueueStatus::EnqueuedDroppedOldest:
      k.telemetry->record_dropped(1);
      return SendStatus::Ok;
    case EnqueueStatus::Full:
      return SendStatus::QueueFull;
    case EnqueueStatus::Closed:
      return SendStatus::NotActive;
  }
  return SendStatus::NotActive;
}
}  // namespace detail

SendStatus KernelHandle::send_packet(detail::Packet&& p, std::chrono::nanoseconds timeout) noexcept {
  return detail::inbox_send(*core_, std::move(p), timeout, false);
}

void KernelHandle::throw_on(SendStatus status) const {
  if (status == SendStatus::Ok) return;  // the hot path builds no message
  const std::string who = "send to kernel '" + core_->id + "': ";
  switch (status) {
    case SendStatus::Ok:
      return;
    case SendStatus::QueueFull:
      detail::raise(ErrorCode::QueueFull, who + "inbox full (" + std::to_string(core_->options.queue_capacity()) +
                                              " messages, strategy " + to_string(core_->options.backpressure()) + ")");
    case SendStatus::NotActive:
      detail::raise_kernel(ErrorCode::NotActive,
                           who + "the kernel is " + to_string(state()) + " and accepts no messages");
    case SendStatus::KernelFaulted:
      detail::raise_kernel(ErrorCode::KernelFault, who + "the kernel faulted; terminate it");
    case SendStatus::TypeMismatch:
      detail::raise(ErrorCode::InvalidArgument,
                    who + "its handler takes message type " + std::to_string(core_->body->input_type_id()) + " (" +
                        std::to_string(core_->body->input_size()) + " bytes)");
    case SendStatus::TooLarge:
      detail::raise(ErrorCode::InvalidArgument, who + "payload above the kernel's max message size of " +
                                                    std::to_string(core_->options.max_message_size()) + " bytes");
    case SendStatus::ClockDrift:
      detail::raise(ErrorCode::ClockDrift, who + "the envelope's timestamp is ahead of the clock by more than its max drift");
  }
  detail::raise(ErrorCode::Internal, who + "unknown send status");
}

void KernelHandle::send_envelope(const MessageEnvelope& envelope) {
  throw_on(send_packet(packet_from_envelope(envelope), default_send_timeout()));
}
SendStatus KernelHandle::try_send_envelope(const MessageEnvelope& envelope) noexcept {
  return send_packet(packet_from_envelope(envelope), default_send_timeout());
}
SendStatus KernelHandle::try_send_envelope(const MessageEnvelope& envelope, std::chrono::nanoseconds timeout) noexcept {
  return send_packet(packet_from_envelope(envelope), std::max(timeout, std::chrono::nanoseconds::zero()));
}

bool KernelHandle::receive_packet(detail::Packet& out, std::uint64_t type_id, std::chrono::nanoseconds timeout) {
  detail::KernelCore& k = *core_;
  // A thread receiving a kernel's output: what it stamps next must come after that.
  detail::drop_thread_stamps();
  std::chrono::steady_clock::time_point deadline{};  // read the clock only if we have to sleep
  const std::size_t none = std::numeric_limits<std::size_t>::max();
  auto find = [&] {
    for (std::size_t i = 0; i < k.taken.size(); ++i)
      if (type_id == 0 || k.taken[i].type_id == type_id) return i;
    return none;
  };
  bool spun = false, last_pass = false;
  std::unique_lock<detail::SpinLock> r(k.recv_mu);
  for (;;) {
    const std::size_t at = find();
    if (at != none) {
      out = std::move(k.taken[at]);
      if (at == 0) k.taken.pop_front(); else k.taken.erase_at(at);
      k.taken_count.store(k.taken.size(), std::memory_order_seq_cst);
      const std::size_t left = k.taken.size();
      r.unlock();
      // A worker waiting for room (see deliver) is woken once the queue is down to half full,
      // so that it refills it in one go instead of waking for every output taken.
      if (k.room_wanted.load(std::memory_order_seq_cst) &&
          left + k.outputs_count.load(std::memory_order_relaxed) <= k.options.queue_capacity() / 2) {
        std::lock_guard<detail::SpinLock> o(k.out_mu);
        if (k.room_wanted.load(std::memory_order_relaxed)) {
          k.room_wanted.store(false, std::memory_order_relaxed);
          k.out_not_full.notify_one();
        }
      }
      return true;
    }
    if (!spun) {  // a reply arriving within microseconds costs no futex round trip
      spun = true;
      r.unlock();
      k.spin_for([&] { return k.outputs_count.load(std::memory_order_acquire) != 0; });
      r.lock();
      continue;
    }
    std::unique_lock<detail::SpinLock> o(k.out_mu);
    if (!k.outputs.empty()) {
      k.taken.reserve(k.taken.size() + k.outputs.size());
      while (!k.outputs.empty()) {
        k.taken.push_back(std::move(k.outputs[0]));
        k.outputs.pop_front();
      }
      k.outputs_count.store(0, std::memory_order_release);
      // No receiver asleep needs a wake-up for this: it saw `outputs` empty when it went to
      // sleep, and the first output after that woke it (deliver).
      k.taken_count.store(k.taken.size(), std::memory_order_seq_cst);
      k.taken_seen = k.taken.size();  // what moved still counts against the capacity (deliver)
      continue;  // o unlocks here; search `taken` again
    }
    if (last_pass) return false;
    // Nothing for us: sleep until an output arrives. Holding out_mu from the check above to
    // the wait, no output can slip in between; `taken` grows only under out_mu too.
    r.unlock();
    if (deadline == std::chrono::steady_clock::time_point{})
      deadline = std::chrono::steady_clock::now() + std::min(timeout, std::chrono::nanoseconds(std::int64_t{1} << 60));
    ++k.out_waiters;
    k.out_signaled = false;  // the next output notifies (see deliver)
    last_pass = k.out_cv.wait_until(o, deadline) == std::cv_status::timeout;
    --k.out_waiters;
    o.unlock();
    r.lock();
  }
}
std::optional<MessageEnvelope> KernelHandle::receive_envelope(std::chrono::nanoseconds timeout) {
  detail::Packet p;
  if (!receive_packet(p, 0, timeout)) return std::nullopt;
  return envelope_from_packet(p, 0);
}

void KernelHandle::call_packet(detail::Packet&& request, detail::Packet& reply, std::uint64_t reply_type,
                               std::size_t reply_size, std::chrono::nanoseconds timeout) {
  detail::KernelCore& k = *core_;
  const auto deadline = std::chrono::steady_clock::now() + std::min(timeout, std::chrono::nanoseconds(std::int64_t{1} << 60));
  const std::uint64_t cid = CorrelationId::generate().value;
  request.correlation_id = cid;
  detail::PendingCall call;
  {
    std::lock_guard<detail::SpinLock> lk(k.out_mu);
    k.pending.emplace_back(cid, &call);
  }
  auto unregister = [&] {
    for (auto it = k.pending.begin(); it != k.pending.end(); ++it)
      if (it->first == cid) {
        k.pending.erase(it);
        break;
      }
  };
  const SendStatus st = send_packet(std::move(request), timeout);
  if (st != SendStatus::Ok) {
    {
      std::lock_guard<detail::SpinLock> lk(k.out_mu);
      unregister();
    }
    throw_on(st);
  }
  detail::drop_thread_stamps();  // as in receive_packet
  k.spin_for([&] { return call.done.load(std::memory_order_acquire); });
  std::unique_lock<detail::SpinLock> lk(k.out_mu);
  ++k.out_waiters;
  k.out_cv.wait_until(lk, deadline, [&] {
    const KernelState s = k.state_fast.load();
    return call.done.load() || s == KernelState::Faulted || s == KernelState::Terminating || s == KernelState::Terminated;
  });
  --k.out_waiters;
  unregister();
  if (!call.done.load()) {
    lk.unlock();
    const KernelState s = state();
    if (s == KernelState::Faulted)
      detail::raise_kernel(ErrorCode::KernelFault, "call to kernel '" + k.id + "': the kernel faulted before replying");
    if (s == KernelState::Terminating || s == KernelState::Terminated)
      detail::raise_kernel(ErrorCode::NotActive, "call to kernel '" + k.id + "': the kernel stopped before replying");
    detail::raise(ErrorCode::Timeout, "call to kernel '" + k.id + "' timed out after " +
                                          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
                                          " ms without a reply");
  }
  if (call.reply.type_id != reply_type || call.reply.size != reply_size) {
    const std::string got = std::to_string(call.reply.type_id);
    k.outputs.push_back(std::move(call.reply));  // not lost: receivable as an ordinary output
    k.outputs_count.store(k.outputs.size(), std::memory_order_release);
    if (k.out_waiters != 0) {  // a receiver asleep on the output queue may want it
      k.out_signaled = true;
      k.out_cv.notify_all();
    }
    lk.unlock();
    detail::raise(ErrorCode::InvalidMessage, "call to kernel '" + k.id + "': the reply has type " + got +
                                                 ", not the requested type " + std::to_string(reply_type) +
                                                 " (the reply was queued as an ordinary output)");
  }
  reply = std::move(call.reply);
}

void KernelHandle::activate() {
  detail::KernelCore& k = *core_;
  {
    std::lock_guard<std::mutex> lk(k.mu);
    if (k.state != KernelState::Launched && k.state != KernelState::Deactivated)
      detail::raise_kernel(ErrorCode::InvalidState, "activate kernel '" + k.id + "': illegal transition " +
                                                        to_string(k.state) + " -> Active (allowed from Launched or Deactivated)");
    k.set_state(KernelState::Active);
    k.run.store(true, std::memory_order_seq_cst);
    k.control->set_active(true);
  }
  k.cv.notify_all();
}

void KernelHandle::deactivate() {
  detail::KernelCore& k = *core_;
  {
    std::lock_guard<std::mutex> lk(k.mu);
    if (k.state != KernelState::Active)
      detail::raise_kernel(ErrorCode::InvalidState, "deactivate kernel '" + k.id + "': illegal transition " +
                                                        to_string(k.state) + " -> Deactivated (allowed from Active)");
    k.set_state(KernelState::Deactivated);
    k.run.store(false, std::memory_order_seq_cst);
    k.control->set_active(false);
  }
  k.inbox.interrupt();
  if (k.is_loop || k.on_worker_thread()) return;
  // Wait until the worker holds no message (see KernelCore::claim).
  const auto give_up = std::chrono::steady_clock::now() + k.rt->config.termination_timeout;
  while (k.handling.load(std::memory_order_seq_cst)) {
    if (std::chrono::steady_clock::now() > give_up)
      detail::raise(ErrorCode::Timeout, "deactivate kernel '" + k.id + "': it is Deactivated, but its handler is still "
                                        "running after " + std::to_string(k.rt->config.termination_timeout.count()) +
                                        " ms (blocked on a full output queue, or stuck); it takes no further message");
    std::this_thread::yield();
  }
}

void KernelHandle::terminate() {
  std::string why;
  if (!core_->terminate_quietly(why)) detail::raise_kernel(ErrorCode::Timeout, "terminate: " + why);
}

std::vector<MessageEnvelope> KernelHandle::drain_unprocessed() {
  detail::KernelCore& k = *core_;
  {
    std::lock_guard<std::mutex> lk(k.mu);
    if (k.state != KernelState::Terminated)
      detail::raise_kernel(ErrorCode::InvalidState, "drain_unprocessed on kernel '" + k.id + "': it is " +
                                                        to_string(k.state) + "; terminate it first");
  }
  std::vector<MessageEnvelope> out;
  detail::Packet p;
  for (std::size_t i = 0; i < k.held.size(); ++i) out.push_back(envelope_from_packet(k.held[i], k.number));
  k.held.clear();
  k.held_count.store(0);
  for (detail::Packet& q : k.inbox.drain()) out.push_back(envelope_from_packet(q, k.number));
  return out;
}

KernelState KernelHandle::state() const noexcept { return core_->state_fast.load(std::memory_order_acquire); }

KernelStatus KernelHandle::status() const {
  detail::KernelCore& k = *core_;
  KernelStatus s;
  s.id = k.id;
  s.state = state();
  s.mode = k.options.mode();
  s.queue_capacity = k.options.queue_capacity();
  const InboxStats in = k.inbox.stats();
  const TelemetrySnapshot t = k.telemetry->snapshot();
  s.messages_received = in.enqueued;
  s.messages_processed = t.messages_processed;
  s.messages_dropped = in.dropped;
  s.messages_rejected = in.rejected + k.rejected.load();
  s.queue_depth = in.depth + k.held_count.load();
  s.errors = k.errors.load();
  s.outputs_dropped = k.outputs_dropped.load();
  {
    std::lock_guard<detail::SpinLock> lk(k.out_mu);
    s.outputs_pending = k.outputs.size() + k.taken_count.load();
  }
  s.min_latency_ns = t.min_latency_ns;
  s.max_latency_ns = t.max_latency_ns;
  s.latency_samples = k.latency_samples.load(std::memory_order_relaxed);
  s.avg_latency_ns = s.latency_samples == 0 ? 0.0 : static_cast<double>(t.total_latency_ns) / static_cast<double>(s.latency_samples);
  s.last_activity_us = t.last_processed_timestamp;
  return s;
}

std::optional<KernelFault> KernelHandle::fault() const {
  std::lock_guard<std::mutex> lk(core_->mu);
  return core_->fault;
}
TelemetrySnapshot KernelHandle::telemetry() const noexcept {
  TelemetrySnapshot t = core_->telemetry->snapshot();
  t.latency_samples = core_->latency_samples.load(std::memory_order_relaxed);
  return t;
}

// ---- Runtime -----------------------------------------------------------------------------
Runtime::Runtime(std::shared_ptr<detail::RuntimeShared> shared) noexcept : shared_(std::move(shared)) {}

Runtime::~Runtime() {
  if (!shared_) return;
  shutdown();
  std::lock_guard<std::mutex> lk(shared_->mu);
  shared_->kernels.clear();  // handles may outlive the runtime; they keep their kernel alive
}

Runtime& Runtime::operator=(Runtime&& other) noexcept {
  if (this == &other) return *this;
  if (shared_) {
    shutdown();
    std::lock_guard<std::mutex> lk(shared_->mu);
    shared_->kernels.clear();
  }
  shared_ = std::move(other.shared_);
  return *this;
}

KernelHandle Runtime::launch_body(const std::string& id, std::unique_ptr<detail::KernelBody> body,
                                  const LaunchOptions& options) {
  if (!shared_) detail::raise(ErrorCode::Closed, "launch: this Runtime was moved from");
  if (id.empty()) detail::raise(ErrorCode::InvalidArgument, "launch: the kernel id must not be empty");
  detail::RuntimeShared& rt = *shared_;
  if (body->backend() != rt.backend)
    detail::raise_kernel(ErrorCode::BackendUnavailable,
                         std::string("launch '") + id + "': handler " + body->handler_name() + " has no device code for the " +
                             to_string(rt.backend) + " backend in this program");
  // Charged before anything is allocated; released if launch fails, else when the kernel goes.
  detail::QueueMemoryCharge queue_memory(rt.config.resource_guard, estimate_queue_memory(options).total_bytes(),
                                         "launch '" + id + "'");
  std::shared_ptr<detail::KernelCore> core;
  {
    std::lock_guard<std::mutex> lk(rt.mu);
    if (rt.shut_down) detail::raise(ErrorCode::Closed, "launch '" + id + "': the runtime is shut down");
    for (auto it = rt.kernels.begin(); it != rt.kernels.end(); ++it) {
      if ((*it)->id != id) continue;
      if ((*it)->state_fast.load() != KernelState::Terminated)
        detail::raise(ErrorCode::InvalidArgument, "launch '" + id + "': a kernel with this id is already " +
                                                      to_string((*it)->state_fast.load()));
      rt.kernels.erase(it);
      break;
    }
    core = std::make_shared<detail::KernelCore>(shared_, id, rt.next_number++, std::move(body), options);
    core->queue_memory = std::move(queue_memory);
    rt.kernels.push_back(core);
    ++rt.total_launched;
  }
  {
    // Activated before the worker starts, so a loop kernel that returns at once ends in
    // Terminated from Active, never races the activation.
    std::lock_guard<std::mutex> lk(core->mu);
    core->set_state(options.auto_activate() ? KernelState::Active : KernelState::Launched);
    if (options.auto_activate()) {
      core->run.store(true, std::memory_order_seq_cst);
      core->control->set_active(true);
    }
  }
  detail::KernelCore* raw = core.get();
  core->worker = std::thread([keep = core, raw] {
    raw->worker_id.store(std::this_thread::get_id());
    detail::t_worker_core = raw;
    {
      // Counted as running while the body runs (the inverse of a ParkedWorker).
      struct Running {
        Running() noexcept { detail::g_running_workers.fetch_add(1, std::memory_order_relaxed); }
        ~Running() { detail::g_running_workers.fetch_sub(1, std::memory_order_relaxed); }
      } running;
      raw->body->run(*raw);
    }
    std::lock_guard<std::mutex> lk(raw->mu);
    raw->exited = true;
    raw->handling.store(false);
    if (raw->state == KernelState::Active || raw->state == KernelState::Deactivated ||
        raw->state == KernelState::Launched) {
      // A loop kernel that returned on its own: it is done.
      raw->set_state(KernelState::Terminated);
      raw->control->set_termination_state(1);
      raw->inbox.close();
    }
    raw->cv.notify_all();
    (void)keep;
  });
  return KernelHandle(core);
}

KernelHandle Runtime::launch(const std::string& name, const LaunchOptions& options) {
  detail::KernelFactory factory = detail::find_kernel(name);
  if (factory == nullptr) {
    std::string known;
    for (const std::string& n : detail::registered_kernel_names()) known += (known.empty() ? "" : ", ") + n;
    detail::raise_kernel(ErrorCode::KernelNotFound, "launch: no kernel registered as '" + name + "' (registered: " +
                                                        (known.empty() ? std::string("none") : known) + ")");
  }
  return launch_body(name, factory(), options);
}

KernelHandle Runtime::kernel(const std::string& id) const {
  if (!shared_) detail::raise(ErrorCode::Closed, "kernel: this Runtime was moved from");
  std::lock_guard<std::mutex> lk(shared_->mu);
  for (auto& k : shared_->kernels)
    if (k->id == id) return KernelHandle(k);
  detail::raise_kernel(ErrorCode::KernelNotFound, "no kernel with id '" + id + "'");
}

std::vector<std::string> Runtime::list_kernels() const {
  if (!shared_) detail::raise(ErrorCode::Closed, "list_kernels: this Runtime was moved from");
  std::lock_guard<std::mutex> lk(shared_->mu);
  std::vector<std::string> ids;
  for (auto& k : shared_->kernels) ids.push_back(k->id);
  return ids;
}

RuntimeMetrics Runtime::metrics() const {
  if (!shared_) detail::raise(ErrorCode::Closed, "metrics: this Runtime was moved from");
  std::vector<std::shared_ptr<detail::KernelCore>> kernels;
  RuntimeMetrics m;
  {
    std::lock_guard<std::mutex> lk(shared_->mu);
    kernels = shared_->kernels;
    m.total_launched = shared_->total_launched;
  }
  for (auto& k : kernels) {
    const InboxStats in = k->inbox.stats();
    if (k->state_fast.load() == KernelState::Active) ++m.active_kernels;
    if (k->state_fast.load() == KernelState::Faulted || k->errors.load() != 0) ++m.faults;
    m.messages_in += in.enqueued;
    m.messages_dropped += in.dropped + k->outputs_dropped.load();
    m.messages_out += k->outputs_emitted.load();
  }
  return m;
}

Backend Runtime::backend() const noexcept { return shared_ ? shared_->backend : Backend::Cpu; }
HlcClock& Runtime::clock() {
  if (!shared_) detail::raise(ErrorCode::Closed, "clock: this Runtime was moved from");
  return shared_->clock;
}

void Runtime::shutdown() {
  if (!shared_) return;
  std::vector<std::shared_ptr<detail::KernelCore>> kernels;
  {
    std::lock_guard<std::mutex> lk(shared_->mu);
    shared_->shut_down = true;
    kernels = shared_->kernels;
  }
  for (auto& k : kernels) {
    std::string why;
    if (!k->terminate_quietly(why)) {
      detail::log(LogLevel::Error, "shutdown: " + why + "; detaching its worker thread");
      std::lock_guard<std::mutex> lk(k->join_mu);
      if (k->worker.joinable()) k->worker.detach();
    }
  }
}

Runtime Runtime::Builder::build() const {
  if (device_ < 0)
    detail::raise(ErrorCode::InvalidArgument, "Runtime::Builder::device: ordinal " + std::to_string(device_) + " is negative");
  if (config_.k2k.max_hops == 0 || config_.k2k.max_pending_messages == 0)
    detail::raise(ErrorCode::InvalidArgument,
                  "Runtime::Builder::config: K2KConfig max_hops and max_pending_messages must be at least 1");
  if (config_.latency_sample_interval == 0)
    detail::raise(ErrorCode::InvalidArgument,
                  "Runtime::Builder::config: latency_sample_interval must be at least 1 (1 times every message)");
  Backend chosen = Backend::Cpu;
  if (backend_ == Backend::Cuda || backend_ == Backend::Vulkan) {
    std::shared_ptr<BackendProvider> p = find_backend_provider(backend_);
    if (!p)
      detail::raise(ErrorCode::BackendUnavailable,
                    std::string("Runtime: the ") + to_string(backend_) + " backend is not compiled into this program (" +
                        (backend_ == Backend::Cuda ? "include ringkernel_cuda.hpp in a .cu file built by nvcc"
                                                   : "include ringkernel_vulkan.hpp with the Vulkan SDK and volk") +
                        ")");
    const std::string why = p->probe(device_);
    if (!why.empty())
      detail::raise(ErrorCode::BackendUnavailable, std::string("Runtime: the ") + to_string(backend_) +
                                                       " backend cannot use device " + std::to_string(device_) + ": " + why);
    chosen = backend_;
  } else if (backend_ == Backend::Auto) {
    for (Backend b : {Backend::Cuda, Backend::Vulkan}) {
      std::shared_ptr<BackendProvider> p = find_backend_provider(b);
      std::string why = p ? std::string() : std::string("not compiled in");
      if (p) {
        // A provider may throw its own error (e.g. CudaError naming the failed call): Auto only
        // needs the reason.
        RINGKERNEL_DETAIL_TRY { why = p->probe_for_auto(device_); }
        RINGKERNEL_DETAIL_CATCH_STD(e) { why = RINGKERNEL_DETAIL_WHAT(e); if (why.empty()) why = "probe failed"; }
      }
      if (p && why.empty()) {
        chosen = b;
        break;
      }
      detail::log(LogLevel::Info, std::string("Backend::Auto: skipping ") + to_string(b) + ": " + why);
    }
    if (chosen == Backend::Cpu) detail::log(LogLevel::Info, "Backend::Auto: using the CPU backend");
  }
  auto shared = std::make_shared<detail::RuntimeShared>(config_, chosen, node_id_);
  shared->device = device_;
  return Runtime(std::move(shared));
}


// ---- messaging fabric --------------------------------------------------------------------
const char* to_string(DeliveryStatus status) noexcept {
  switch (status) {
    case DeliveryStatus::Delivered: return "Delivered";
    case DeliveryStatus::Pending: return "Pending";
    case DeliveryStatus::NoRoute: return "NoRoute";
    case DeliveryStatus::HopLimitExceeded: return "HopLimitExceeded";
    case DeliveryStatus::Timeout: return "Timeout";
    case DeliveryStatus::QueueFull: return "QueueFull";
    case DeliveryStatus::NotActive: return "NotActive";
    case DeliveryStatus::Rejected: return "Rejected";
  }
  return "unknown";
}

namespace {
bool k2k_reachable(const detail::KernelCore& k) {
  const KernelState s = k.state_fast.load();
  return k.options.k2k() && s != KernelState::Terminating && s != KernelState::Terminated;
}
}  // namespace

std::vector<std::string> K2KBroker::registered_kernels() const {
  std::lock_guard<std::mutex> lk(rt_.mu);
  std::vector<std::string> ids;
  for (auto& k : rt_.kernels)
    if (k2k_reachable(*k)) ids.push_back(k->id);
  return ids;
}
bool K2KBroker::is_registered(const std::string& kernel_id) const {
  std::shared_ptr<detail::KernelCore> k = rt_.find(kernel_id);
  return k && k2k_reachable(*k);
}
void K2KBroker::add_route(const std::string& destination, const std::string& next_hop) {
  if (destination.empty() || next_hop.empty())
    detail::raise(ErrorCode::InvalidArgument, "K2KBroker::add_route: empty " +
                                                  std::string(destination.empty() ? "destination" : "next hop"));
  if (destination == next_hop)
    detail::raise(ErrorCode::InvalidArgument, "K2KBroker::add_route: '" + destination + "' routed to itself");
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& r : routes_)
    if (r.first == destination) {
      r.second = next_hop;
      return;
    }
  routes_.emplace_back(destination, next_hop);
}
bool K2KBroker::remove_route(const std::string& destination) {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto it = routes_.begin(); it != routes_.end(); ++it)
    if (it->first == destination) {
      routes_.erase(it);
      return true;
    }
  return false;
}
std::vector<std::pair<std::string, std::string>> K2KBroker::routes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return routes_;
}

DeliveryReceipt K2KBroker::deliver(const std::string& source, const std::string& destination, detail::Packet&& p) {
  DeliveryReceipt r;
  if (p.message_id == 0) p.message_id = MessageId::generate().value;
  r.message_id = MessageId{p.message_id};
  r.source = source;
  r.destination = destination;
  r.timestamp = p.timestamp;
  if (config_.enable_tracing) r.trace.push_back(source);
  auto finish = [&](DeliveryStatus st) {
    r.status = st;
    (ringkernel::is_success(st) ? delivered_ : failed_).fetch_add(1, std::memory_order_relaxed);
    return r;
  };
  // Follow the route chain; at most max_hops steps, so a loop ends.
  std::string target = destination;
  r.hops = 1;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (;;) {
      auto it = std::find_if(routes_.begin(), routes_.end(),
                             [&](const std::pair<std::string, std::string>& e) { return e.first == target; });
      if (it == routes_.end()) break;
      if (config_.enable_tracing) r.trace.push_back(target);
      if (r.hops >= config_.max_hops) return finish(DeliveryStatus::HopLimitExceeded);
      ++r.hops;
      target = it->second;
    }
  }
  if (config_.enable_tracing) r.trace.push_back(target);
  std::shared_ptr<detail::KernelCore> k = rt_.find(target);
  if (!k || !k->options.k2k()) return finish(DeliveryStatus::NoRoute);
  r.delivered_to = target;
  if (!k2k_reachable(*k)) return finish(DeliveryStatus::NotActive);
  if (k->inbox.tagged_size() >= config_.max_pending_messages) return finish(DeliveryStatus::QueueFull);
  const bool blocks = k->options.backpressure() == BackpressureStrategy::Block;
  switch (detail::inbox_send(*k, std::move(p), std::chrono::milliseconds(config_.delivery_timeout_ms), true)) {
    case SendStatus::Ok: return finish(DeliveryStatus::Delivered);
    case SendStatus::QueueFull: return finish(blocks ? DeliveryStatus::Timeout : DeliveryStatus::QueueFull);
    case SendStatus::NotActive:
    case SendStatus::KernelFaulted: return finish(DeliveryStatus::NotActive);
    case SendStatus::TypeMismatch:
    case SendStatus::TooLarge:
    case SendStatus::ClockDrift: return finish(DeliveryStatus::Rejected);
  }
  return finish(DeliveryStatus::Rejected);
}

DeliveryReceipt K2KBroker::send(const std::string& source, const std::string& destination,
                                const MessageEnvelope& envelope) {
  detail::Packet p = packet_from_envelope(envelope);
  if (p.timestamp != HlcTimestamp{} && !rt_.clock.try_update(p.timestamp)) {
    DeliveryReceipt r;
    r.message_id = MessageId{p.message_id};
    r.source = source;
    r.destination = destination;
    r.status = DeliveryStatus::Rejected;
    failed_.fetch_add(1, std::memory_order_relaxed);
    return r;
  }
  p.timestamp = rt_.clock.tick();
  detail::drop_thread_stamps();  // this thread's later stamps follow this
  p.source_kernel = rt_.number_of(source);
  p.flags = (p.source_kernel != 0 ? detail::Packet::from_kernel : 0) | detail::Packet::stamped_here;
  return deliver(source, destination, std::move(p));
}

K2KStats K2KBroker::stats() const {
  K2KStats s;
  s.messages_delivered = delivered_.load();
  s.delivery_failures = failed_.load();
  {
    std::lock_guard<std::mutex> lk(mu_);
    s.routes_configured = routes_.size();
  }
  std::lock_guard<std::mutex> lk(rt_.mu);
  for (auto& k : rt_.kernels) {
    if (k2k_reachable(*k)) ++s.registered_endpoints;
    s.in_flight += k->inbox.tagged_size();
  }
  return s;
}

// Topics: levels split by '/', each non-empty; '+', '*' and '#' alone in their level, '#' last.
Result<Topic> Topic::parse(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Result<Topic>(ErrorCode::InvalidTopic, "topic '" + std::string(text.substr(0, 200)) + "': " + why);
  };
  if (text.empty()) return bad("empty");
  if (text.size() > 65535) return bad("longer than 65535 bytes");
  bool filter = false;
  std::size_t level = 1, start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != '/') continue;
    const std::string_view lv = text.substr(start, i - start);
    if (lv.empty()) return bad("level " + std::to_string(level) + " is empty (byte " + std::to_string(start) + ")");
    for (std::size_t j = 0; j < lv.size(); ++j) {
      const char c = lv[j];
      if (c == '\0') return bad("NUL byte at " + std::to_string(start + j));
      if (c != '#' && c != '+' && c != '*') continue;
      if (lv.size() != 1)
        return bad(std::string("wildcard '") + c + "' must fill its level alone (level " + std::to_string(level) + ")");
      if (c == '#' && i != text.size()) return bad("'#' must be the last level (it is level " + std::to_string(level) + ")");
      filter = true;
    }
    ++level;
    start = i + 1;
  }
  return Topic(Unchecked{}, std::string(text), filter);
}
Topic::Topic(std::string_view text) {
  Result<Topic> r = parse(text);
  if (!r) detail::raise(r.code(), r.message());
  *this = std::move(r).value();
}
bool Topic::matches(std::string_view name) const {
  if (!filter_) return name == text_;
  if (name.empty() || name.size() > 65535 || name.front() == '/' || name.back() == '/' ||
      name.find("//") != std::string_view::npos ||
      name.find_first_of(std::string_view("+#*\0", 4)) != std::string_view::npos)
    return false;
  const std::string_view f = text_;
  if (name.front() == '$' && (f.front() == '+' || f.front() == '*' || f.front() == '#')) return false;
  std::size_t fi = 0, ni = 0;
  for (;;) {
    std::size_t fe = f.find('/', fi);
    if (fe == std::string_view::npos) fe = f.size();
    const std::string_view fl = f.substr(fi, fe - fi);
    if (fl == "#") return true;  // this level and everything below, or nothing (the parent)
    std::size_t ne = name.find('/', ni);
    if (ne == std::string_view::npos) ne = name.size();
    if (fl != "+" && fl != "*" && fl != name.substr(ni, ne - ni)) return false;
    const bool f_end = fe == f.size(), n_end = ne == name.size();
    if (f_end || n_end) return f_end == n_end || (n_end && f.substr(fe + 1) == "#");
    fi = fe + 1;
    ni = ne + 1;
  }
}

SubscriptionId PubSubBroker::subscribe(const Topic& filter, const std::string& kernel_id) {
  if (!rt_.find(kernel_id))
    detail::raise_kernel(ErrorCode::KernelNotFound, "PubSubBroker::subscribe: no kernel with id '" + kernel_id + "'");
  std::lock_guard<std::mutex> lk(mu_);
  if (subs_.size() >= config_.max_subscriptions)
    detail::raise(ErrorCode::QueueFull, "PubSubBroker::subscribe: already " + std::to_string(subs_.size()) +
                                            " subscriptions (PubSubConfig::max_subscriptions)");
  const SubscriptionId id{next_id_++};
  subs_.push_back(Subscription{id, filter, kernel_id});
  return id;
}
bool PubSubBroker::unsubscribe(SubscriptionId id) {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto it = subs_.begin(); it != subs_.end(); ++it)
    if (it->id == id) {
      subs_.erase(it);
      return true;
    }
  return false;
}
std::size_t PubSubBroker::unsubscribe_all(const std::string& kernel_id) {
  std::lock_guard<std::mutex> lk(mu_);
  const std::size_t before = subs_.size();
  subs_.erase(std::remove_if(subs_.begin(), subs_.end(),
                             [&](const Subscription& s) { return s.kernel_id == kernel_id; }),
              subs_.end());
  return before - subs_.size();
}
std::vector<std::tuple<SubscriptionId, Topic, std::string>> PubSubBroker::subscriptions() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::tuple<SubscriptionId, Topic, std::string>> out;
  for (const Subscription& s : subs_) out.emplace_back(s.id, s.filter, s.kernel_id);
  return out;
}
std::size_t PubSubBroker::publish(const Topic& topic, const std::string& sender, const MessageEnvelope& envelope,
                                  HlcTimestamp timestamp) {
  if (topic.is_filter())
    detail::raise(ErrorCode::InvalidTopic, "publish: '" + topic.str() + "' is a filter; publish to a topic name");
  for (HlcTimestamp t : {timestamp, envelope.header().timestamp})
    if (t != HlcTimestamp{} && !rt_.clock.try_update(t))
      detail::raise(ErrorCode::ClockDrift, "publish on '" + topic.str() +
                                               "': the timestamp is ahead of the clock by more than its max drift");
  std::vector<std::string> targets;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (const Subscription& s : subs_)
      if (s.filter.matches(topic.str()) && std::find(targets.begin(), targets.end(), s.kernel_id) == targets.end())
        targets.push_back(s.kernel_id);
  }
  published_.fetch_add(1, std::memory_order_relaxed);
  if (targets.empty()) {
    unmatched_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  detail::Packet proto = packet_from_envelope(envelope);
  proto.timestamp = rt_.clock.tick();  // one publish event: every subscriber sees the same time
  detail::drop_thread_stamps();  // this thread's later stamps follow this
  proto.source_kernel = rt_.number_of(sender);
  proto.flags = (proto.source_kernel != 0 ? detail::Packet::from_kernel : 0) | detail::Packet::stamped_here;
  if (proto.message_id == 0) proto.message_id = MessageId::generate().value;
  std::size_t delivered = 0;
  for (const std::string& id : targets) {
    std::shared_ptr<detail::KernelCore> k = rt_.find(id);
    detail::Packet copy = proto;
    if (k && detail::inbox_send(*k, std::move(copy), config_.delivery_timeout, false) == SendStatus::Ok) {
      ++delivered;
    } else {
      failures_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  deliveries_.fetch_add(delivered, std::memory_order_relaxed);
  return delivered;
}
PubSubStats PubSubBroker::stats() const {
  PubSubStats s;
  {
    std::lock_guard<std::mutex> lk(mu_);
    s.subscriptions = subs_.size();
  }
  s.messages_published = published_.load();
  s.deliveries = deliveries_.load();
  s.delivery_failures = failures_.load();
  s.unmatched = unmatched_.load();
  return s;
}

int Runtime::device() const {
  if (!shared_) detail::raise(ErrorCode::Closed, "device: this Runtime was moved from");
  return shared_->device;
}
K2KBroker& Runtime::k2k_broker() {
  if (!shared_) detail::raise(ErrorCode::Closed, "k2k_broker: this Runtime was moved from");
  return shared_->k2k;
}
PubSubBroker& Runtime::pubsub() {
  if (!shared_) detail::raise(ErrorCode::Closed, "pubsub: this Runtime was moved from");
  return shared_->pubsub;
}

}  // namespace RINGKERNEL_ABI_NAMESPACE
}  // namespace ringkernel


// ---- operations and benchmark statistics (sections 14 and 15) ------------------------------
#include <cmath>
#include <fstream>
#include <locale>
#include <sstream>
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace ringkernel {
inline namespace RINGKERNEL_ABI_NAMESPACE {

const char* to_string(ProcessingMode mode) noexcept {
  switch (mode) {
    case ProcessingMode::CpuOnly: return "CpuOnly";
    case ProcessingMode::GpuOnly: return "GpuOnly";
    case ProcessingMode::Hybrid: return "Hybrid";
    case ProcessingMode::Adaptive: return "Adaptive";
  }
  return "unknown";
}

// ---- HybridDispatcher --------------------------------------------------------------------
HybridDispatcher::HybridDispatcher(const HybridConfig& config)
    : config_(config), log_threshold_(std::log(static_cast<double>(std::max<std::size_t>(config.gpu_threshold, 1)))) {
  if (!(config.learning_rate > 0.0 && config.learning_rate <= 1.0))
    detail::raise(ErrorCode::InvalidArgument,
                  "HybridConfig: learning_rate must be in (0, 1], got " + std::to_string(config.learning_rate));
  if (config.mode == ProcessingMode::GpuOnly && !config.gpu_available)
    detail::raise(ErrorCode::InvalidArgument, "HybridConfig: mode GpuOnly needs gpu_available = true");
}

bool HybridDispatcher::should_use_gpu(std::size_t workload_size) const noexcept {
  switch (config_.mode) {
    case ProcessingMode::CpuOnly: return false;
    case ProcessingMode::GpuOnly: return true;
    case ProcessingMode::Hybrid: return config_.gpu_available && workload_size >= config_.gpu_threshold;
    case ProcessingMode::Adaptive: return config_.gpu_available && workload_size >= adaptive_threshold();
  }
  return false;
}

void HybridDispatcher::update_adaptive_threshold(std::size_t workload_size, double cpu_time_ms, double gpu_time_ms) {
  if (workload_size == 0)
    detail::raise(ErrorCode::InvalidArgument, "HybridDispatcher::update_adaptive_threshold: workload_size must be > 0");
  if (!(std::isfinite(cpu_time_ms) && cpu_time_ms >= 0.0 && std::isfinite(gpu_time_ms) && gpu_time_ms >= 0.0))
    detail::raise(ErrorCode::InvalidArgument,
                  "HybridDispatcher::update_adaptive_threshold: times must be finite and >= 0, got cpu " +
                      std::to_string(cpu_time_ms) + " ms, gpu " + std::to_string(gpu_time_ms) + " ms");
  if (cpu_time_ms == gpu_time_ms) return;  // a tie says nothing about the side of the crossover
  const double log_size = std::log(static_cast<double>(workload_size));
  const bool gpu_faster = gpu_time_ms < cpu_time_ms;
  double current = log_threshold_.load(std::memory_order_relaxed);
  for (;;) {
    // Only a measurement that contradicts the decision at its size carries news: the GPU won
    // below the threshold (the crossover is lower), or the CPU won at or above it (higher).
    const bool contrary = gpu_faster ? log_size < current : log_size >= current;
    if (!contrary) return;
    const double next = current + config_.learning_rate * (log_size - current);
    if (log_threshold_.compare_exchange_weak(current, next, std::memory_order_relaxed)) return;
  }
}

std::size_t HybridDispatcher::adaptive_threshold() const noexcept {
  const double t = std::exp(log_threshold_.load(std::memory_order_relaxed));
  if (t >= static_cast<double>(std::numeric_limits<std::size_t>::max())) return std::numeric_limits<std::size_t>::max();
  return static_cast<std::size_t>(std::llround(t));
}

HybridStats HybridDispatcher::stats() const noexcept {
  return HybridStats{cpu_count_.load(std::memory_order_relaxed), gpu_count_.load(std::memory_order_relaxed)};
}
void HybridDispatcher::reset_stats() noexcept {
  cpu_count_.store(0, std::memory_order_relaxed);
  gpu_count_.store(0, std::memory_order_relaxed);
}

// ---- ResourceGuard -----------------------------------------------------------------------
namespace {
std::string ops_bytes(std::uint64_t b) {
  if (b == ResourceGuard::unlimited) return "unlimited";
  char buf[64];
  if (b >= (std::uint64_t{1} << 30))
    std::snprintf(buf, sizeof buf, "%llu bytes (%.2f GiB)", static_cast<unsigned long long>(b),
                  static_cast<double>(b) / static_cast<double>(std::uint64_t{1} << 30));
  else if (b >= (std::uint64_t{1} << 20))
    std::snprintf(buf, sizeof buf, "%llu bytes (%.2f MiB)", static_cast<unsigned long long>(b),
                  static_cast<double>(b) / static_cast<double>(std::uint64_t{1} << 20));
  else
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(b));
  return buf;
}
}  // namespace

ResourceGuard::ResourceGuard(std::uint64_t max_memory_bytes, double safety_margin)
    : max_memory_(max_memory_bytes), safety_margin_(safety_margin), limit_(unlimited) {
  if (max_memory_bytes == 0) detail::raise(ErrorCode::InvalidArgument, "ResourceGuard: max_memory_bytes must be > 0");
  if (!(safety_margin >= 0.0 && safety_margin < 1.0))
    detail::raise(ErrorCode::InvalidArgument,
                  "ResourceGuard: safety_margin must be in [0, 1), got " + std::to_string(safety_margin));
  if (max_memory_bytes != unlimited) {
    const long double usable = static_cast<long double>(max_memory_bytes) * (1.0L - static_cast<long double>(safety_margin));
    // Rounded to nearest: 1000 x (1 - 0.1) is 900, not the 899 that truncating 899.999... gives.
    const long double rounded = std::floor(usable + 0.5L);
    limit_ = rounded >= static_cast<long double>(max_memory_bytes) ? max_memory_bytes : static_cast<std::uint64_t>(rounded);
  }
}

std::uint64_t ResourceGuard::system_memory_bytes() noexcept {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
#else
  return 0;
#endif
}

bool ResourceGuard::fits_locked(std::uint64_t bytes) const noexcept {
  if (is_unguarded()) return true;
  const std::uint64_t used = current_ + reserved_;
  return used <= limit_ && bytes <= limit_ - used;
}
std::uint64_t ResourceGuard::current_memory() const {
  std::lock_guard<std::mutex> lk(mu_);
  return current_;
}
std::uint64_t ResourceGuard::reserved_memory() const {
  std::lock_guard<std::mutex> lk(mu_);
  return reserved_;
}
std::uint64_t ResourceGuard::available_memory() const {
  if (is_unguarded()) return unlimited;
  std::lock_guard<std::mutex> lk(mu_);
  const std::uint64_t used = current_ + reserved_;
  return used >= limit_ ? 0 : limit_ - used;
}
double ResourceGuard::utilization() const {
  if (is_unguarded() || limit_ == 0) return 0.0;
  std::lock_guard<std::mutex> lk(mu_);
  return static_cast<double>(current_ + reserved_) / static_cast<double>(limit_);
}
bool ResourceGuard::can_allocate(std::uint64_t bytes) const {
  std::lock_guard<std::mutex> lk(mu_);
  return fits_locked(bytes);
}
bool ResourceGuard::try_record_allocation(std::uint64_t bytes) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!fits_locked(bytes) || bytes > UINT64_MAX - current_ - reserved_) return false;
  current_ += bytes;
  return true;
}
void ResourceGuard::record_allocation(std::uint64_t bytes) {
  std::lock_guard<std::mutex> lk(mu_);
  if (bytes > UINT64_MAX - current_ - reserved_)
    detail::raise(ErrorCode::InvalidArgument, "ResourceGuard::record_allocation: " + std::to_string(bytes) +
                                                  " more bytes would overflow the 64-bit total");
  current_ += bytes;
}
void ResourceGuard::record_deallocation(std::uint64_t bytes) {
  std::lock_guard<std::mutex> lk(mu_);
  if (bytes > current_)
    detail::raise(ErrorCode::InvalidArgument, "ResourceGuard::record_deallocation: " + std::to_string(bytes) +
                                                  " bytes freed but only " + std::to_string(current_) + " recorded");
  current_ -= bytes;
}
ResourceGuard::Reservation ResourceGuard::reserve(std::uint64_t bytes) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (fits_locked(bytes) && bytes <= UINT64_MAX - current_ - reserved_) {
      reserved_ += bytes;
      return Reservation(this, bytes);
    }
  }
  detail::raise(ErrorCode::MemoryLimit, "ResourceGuard::reserve: " + ops_bytes(bytes) + " do not fit; " + ops_bytes(available_memory()) +
                     " available of a limit of " + ops_bytes(limit_));
}
void ResourceGuard::release_reserved(std::uint64_t bytes) noexcept {
  std::lock_guard<std::mutex> lk(mu_);
  reserved_ -= std::min(bytes, reserved_);
}
void ResourceGuard::commit_reserved(std::uint64_t bytes) noexcept {
  std::lock_guard<std::mutex> lk(mu_);
  reserved_ -= std::min(bytes, reserved_);
  current_ += bytes;
}
void ResourceGuard::Reservation::commit() {
  if (!active())
    detail::raise(ErrorCode::InvalidState, "ResourceGuard::Reservation::commit: the reservation is not active "
                                           "(already committed, released or moved from)");
  guard_->commit_reserved(bytes_);
  committed_ = true;
}
void ResourceGuard::validate(const MemoryEstimate& estimate) const {
  if (!(estimate.confidence >= 0.0 && estimate.confidence <= 1.0))
    detail::raise(ErrorCode::InvalidArgument,
                  "ResourceGuard::validate: confidence must be in [0, 1], got " + std::to_string(estimate.confidence));
  const std::uint64_t need = estimate.required_bytes();
  if (can_allocate(need)) return;
  detail::raise(ErrorCode::MemoryLimit, "ResourceGuard::validate: the workload needs " + ops_bytes(need) + " (primary " +
                     ops_bytes(estimate.primary_bytes) + ", auxiliary " + ops_bytes(estimate.auxiliary_bytes) +
                     ", peak " + ops_bytes(estimate.peak_bytes) + "), but only " + ops_bytes(available_memory()) +
                     " are available of a limit of " + ops_bytes(limit_));
}
std::uint64_t ResourceGuard::max_safe_elements(std::uint64_t bytes_per_element) const {
  if (bytes_per_element == 0)
    detail::raise(ErrorCode::InvalidArgument, "ResourceGuard::max_safe_elements: bytes_per_element must be > 0");
  return available_memory() / bytes_per_element;
}

std::shared_ptr<ResourceGuard> default_guard() {
  static const std::shared_ptr<ResourceGuard> guard = [] {
    const std::uint64_t system = ResourceGuard::system_memory_bytes();
    if (system == 0) {
      detail::log(LogLevel::Warn, "default_guard: the OS does not report physical memory; queue allocations are unguarded");
      return std::make_shared<ResourceGuard>(ResourceGuard::unlimited, 0.0);
    }
    return std::make_shared<ResourceGuard>(system / 5 * 4, 0.0);
  }();
  return guard;
}

MemoryEstimate estimate_queue_memory(const LaunchOptions& options) noexcept {
  // An inbox holds each place twice: a locked-lane node (the packet plus its link and tag) and
  // a slot of the lock-free Normal ring (sequence word, packet, tag), each padded to the
  // packet's alignment.
  constexpr std::size_t align = alignof(detail::Packet);
  constexpr std::size_t node = (sizeof(detail::Packet) + sizeof(std::uint32_t) + sizeof(bool) + align - 1) / align * align;
  constexpr std::size_t ring_slot = (sizeof(std::uint64_t) + sizeof(detail::Packet) + sizeof(bool) + 2 * align - 1) / align * align;
  const std::uint64_t n = options.queue_capacity();
  MemoryEstimate e;
  e.primary_bytes = n * (node + ring_slot);
  e.auxiliary_bytes = n * sizeof(detail::Packet);
  e.peak_bytes = e.total_bytes();
  e.confidence = 0.9;
  return e;
}

namespace detail {
QueueMemoryCharge::QueueMemoryCharge(std::shared_ptr<ResourceGuard> guard, std::uint64_t bytes, const std::string& what)
    : guard_(guard ? std::move(guard) : default_guard()), bytes_(bytes) {
  if (guard_->try_record_allocation(bytes)) return;
  const std::uint64_t available = guard_->available_memory();
  const std::uint64_t limit = guard_->limit();
  guard_.reset();
  detail::raise(ErrorCode::MemoryLimit, what + ": its queues need about " + ops_bytes(bytes) + ", but the resource guard has " +
                     ops_bytes(available) + " available of a limit of " + ops_bytes(limit) +
                     " (lower the queue capacity or raise the guard's limit)");
}
void QueueMemoryCharge::reset() noexcept {
  if (!guard_) return;
  {
    // Balanced by construction: the bytes were recorded in the constructor.
    RINGKERNEL_DETAIL_TRY { guard_->record_deallocation(bytes_); }
    RINGKERNEL_DETAIL_CATCH_ALL { log(LogLevel::Error, "QueueMemoryCharge: the guard's count was lower than this charge"); }
  }
  guard_.reset();
}
}  // namespace detail

// ---- QueueMonitor ------------------------------------------------------------------------
const char* to_string(QueueHealth health) noexcept {
  switch (health) {
    case QueueHealth::Healthy: return "Healthy";
    case QueueHealth::Warning: return "Warning";
    case QueueHealth::Critical: return "Critical";
  }
  return "unknown";
}

const char* QueueTier::name() const noexcept {
  switch (level_) {
    case Small: return "Small";
    case Medium: return "Medium";
    case Large: return "Large";
    case ExtraLarge: return "ExtraLarge";
  }
  return "unknown";
}

QueueTier QueueTier::for_throughput(double messages_per_second, double headroom_ms) {
  if (!(std::isfinite(messages_per_second) && messages_per_second >= 0.0 && std::isfinite(headroom_ms) &&
        headroom_ms >= 0.0))
    detail::raise(ErrorCode::InvalidArgument, "QueueTier::for_throughput: messages_per_second and headroom_ms must be "
                                              "finite and >= 0, got " +
                                                  std::to_string(messages_per_second) + " and " + std::to_string(headroom_ms));
  const double needed = messages_per_second * headroom_ms / 1000.0;
  for (QueueTier t = Small;; t = t.upgrade()) {
    if (static_cast<double>(t.capacity()) >= needed || t.level() == ExtraLarge) return t;
  }
}

std::optional<QueueTier> QueueTier::for_capacity(std::size_t capacity) noexcept {
  for (QueueTier t = Small;; t = t.upgrade()) {
    if (t.capacity() >= capacity) return t;
    if (t.level() == ExtraLarge) return std::nullopt;
  }
}

QueueMonitor::QueueMonitor(double warning_threshold, double critical_threshold)
    : warning_(warning_threshold), critical_(critical_threshold) {
  if (!(warning_threshold > 0.0 && warning_threshold < critical_threshold && critical_threshold <= 1.0))
    detail::raise(ErrorCode::InvalidArgument, "QueueMonitor: thresholds must satisfy 0 < warning < critical <= 1, got " +
                                                  std::to_string(warning_threshold) + " and " +
                                                  std::to_string(critical_threshold));
}
double QueueMonitor::utilization(std::uint64_t depth, std::uint64_t capacity) const {
  if (capacity == 0) detail::raise(ErrorCode::InvalidArgument, "QueueMonitor: capacity must be > 0");
  return static_cast<double>(depth) / static_cast<double>(capacity);
}
QueueHealth QueueMonitor::check_health(std::uint64_t depth, std::uint64_t capacity) const {
  const double u = utilization(depth, capacity);
  if (u >= critical_) return QueueHealth::Critical;
  if (u >= warning_) return QueueHealth::Warning;
  return QueueHealth::Healthy;
}
std::optional<QueueTier> QueueMonitor::suggest_upgrade(std::uint64_t depth, std::uint64_t capacity,
                                                       QueueTier current_tier) const {
  if (check_health(depth, capacity) == QueueHealth::Healthy || current_tier.level() == QueueTier::ExtraLarge)
    return std::nullopt;
  for (QueueTier t = current_tier.upgrade();; t = t.upgrade()) {
    if (static_cast<double>(depth) < warning_ * static_cast<double>(t.capacity()) || t.level() == QueueTier::ExtraLarge)
      return t;
  }
}
QueueMetrics QueueMonitor::metrics(const KernelStatus& status) const {
  QueueMetrics m;
  m.kernel_id = status.id;
  m.stats = QueueStats::from(status);
  if (status.queue_capacity == 0) return m;  // not launched yet: nothing to judge
  m.utilization = utilization(status.queue_depth, status.queue_capacity);
  m.health = check_health(status.queue_depth, status.queue_capacity);
  m.tier = QueueTier::for_capacity(static_cast<std::size_t>(status.queue_capacity));
  if (m.tier) m.suggested_tier = suggest_upgrade(status.queue_depth, status.queue_capacity, *m.tier);
  return m;
}
std::vector<QueueMetrics> QueueMonitor::metrics(const Runtime& runtime) const {
  std::vector<QueueMetrics> out;
  for (const std::string& id : runtime.list_kernels()) out.push_back(metrics(runtime.kernel(id).status()));
  return out;
}

// ---- bench -------------------------------------------------------------------------------
namespace bench {
namespace {
void check_finite(const std::vector<double>& values, const char* who) {
  if (values.empty()) detail::raise(ErrorCode::InvalidArgument, std::string(who) + ": no values");
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      detail::raise(ErrorCode::InvalidArgument, std::string(who) + ": value " + std::to_string(i) + " is not finite");
}
double percentile_sorted(const std::vector<double>& v, double p) {
  const double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(rank));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

// Regularized incomplete beta I_x(a, b) by its continued fraction (modified Lentz).
double incomplete_beta_cf(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 300; ++m) {
    const double mm = static_cast<double>(m);
    double num = mm * (b - mm) * x / ((a + 2 * mm - 1) * (a + 2 * mm));
    d = 1.0 + num * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1.0 + num / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    h *= d * c;
    num = -(a + mm) * (a + b + mm) * x / ((a + 2 * mm) * (a + 2 * mm + 1));
    d = 1.0 + num * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1.0 + num / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < 1e-15) break;
  }
  return h;
}
double regularized_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1.0) / (a + b + 2.0)) return front * incomplete_beta_cf(a, b, x) / a;
  return 1.0 - front * incomplete_beta_cf(b, a, 1.0 - x) / b;
}
// P(|T| <= t) for Student's t with `df` degrees of freedom.
double t_two_sided_cdf(double t, double df) { return 1.0 - regularized_beta(df / 2.0, 0.5, df / (df + t * t)); }

std::string json_escape(const std::string& s) {
  std::string o = "\"";
  for (const unsigned char ch : s) {
    switch (ch) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      case '\b': o += "\\b"; break;
      case '\f': o += "\\f"; break;
      default:
        if (ch < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", ch);
          o += b;
        } else {
          o += static_cast<char>(ch);
        }
    }
  }
  return o + "\"";
}
// Shortest-exact (17 significant digits), locale-independent; JSON has no NaN: null.
std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream o;
  o.imbue(std::locale::classic());
  o.precision(17);
  o << v;
  return o.str();
}
std::string fixed(double v, int digits) {
  std::ostringstream o;
  o.imbue(std::locale::classic());
  o.setf(std::ios::fixed);
  o.precision(digits);
  o << v;
  return o.str();
}
std::string general(double v, int digits) {
  std::ostringstream o;
  o.imbue(std::locale::classic());
  o.precision(digits);
  o << v;
  return o.str();
}
std::string markdown_cell(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|') o += "\\|"; else if (c == '\n') o += ' '; else o += c;
  }
  return o;
}
std::string latex_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '\\': o += "\\textbackslash{}"; break;
      case '&': case '%': case '$': case '#': case '_': case '{': case '}': o += '\\'; o += c; break;
      case '~': o += "\\textasciitilde{}"; break;
      case '^': o += "\\textasciicircum{}"; break;
      default: o += c;
    }
  }
  return o;
}
std::string key_of(const std::string& id, std::uint64_t size) { return id + "@" + std::to_string(size); }
// key_of for error messages: the id is quoted and escaped, so an id holding a NUL or a newline
// cannot cut or forge the message (what() is a C string).
std::string quoted_key_of(const std::string& id, std::uint64_t size) { return json_escape(id) + "@" + std::to_string(size); }

// "line L, column C: " of byte `offset` of `text` (columns count bytes).
std::string position(std::string_view text, std::size_t offset) {
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col) + ": ";
}
std::string printable(unsigned char c) {
  if (c >= 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
  char b[16];
  std::snprintf(b, sizeof b, "byte 0x%02X", c);
  return b;
}

// ---- a strict JSON reader for Baseline files (RFC 8259; UTF-8; no duplicate keys) ----
struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  bool integral = false;         // written without fraction or exponent
  std::uint64_t integer = 0;     // its value when integral, non-negative and < 2^64
  bool integer_fits = false;
  std::string text;
  std::vector<JsonValue> items;
  std::vector<std::string> keys;     // an object's keys, in order ...
  std::vector<JsonValue> values;     // ... and their values (not pairs: JsonValue is incomplete here)
  std::size_t offset = 0;  // where it starts in the text
};

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : s_(text) {}
  bool parse(JsonValue& out) {
    skip_ws();
    if (!value(out, 0)) return false;
    skip_ws();
    if (pos_ != s_.size()) return fail("unexpected text after the JSON value");
    return true;
  }
  const std::string& error() const noexcept { return error_; }

 private:
  static constexpr int max_depth = 32;
  bool fail(const std::string& what) {
    if (error_.empty()) error_ = position(s_, pos_) + what;
    return false;
  }
  void where(JsonValue& v) const { v.offset = pos_; }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool literal(const char* word) {
    const std::size_t n = std::strlen(word);
    if (s_.substr(pos_, n) != word) return fail(std::string("invalid literal (expected '") + word + "')");
    pos_ += n;
    return true;
  }
  bool value(JsonValue& out, int depth) {
    if (pos_ >= s_.size()) return fail("unexpected end of input, expected a value");
    where(out);
    const char c = s_[pos_];
    switch (c) {
      case '{': return object(out, depth + 1);
      case '[': return array(out, depth + 1);
      case '"': out.kind = JsonValue::Kind::String; return string(out.text);
      case 't': out.kind = JsonValue::Kind::Bool; out.boolean = true; return literal("true");
      case 'f': out.kind = JsonValue::Kind::Bool; out.boolean = false; return literal("false");
      case 'n': out.kind = JsonValue::Kind::Null; return literal("null");
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return number(out);
        return fail("unexpected " + printable(static_cast<unsigned char>(c)) + ", expected a value");
    }
  }
  bool object(JsonValue& out, int depth) {
    if (depth > max_depth) return fail("nesting deeper than 32 levels");
    out.kind = JsonValue::Kind::Object;
    ++pos_;  // {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') { ++pos_; return true; }
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a string key in the object");
      std::string key;
      if (!string(key)) return false;
      for (const std::string& k : out.keys)
        if (k == key) return fail("duplicate key " + json_escape(key));  // escaped: a key may hold NUL
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') return fail("expected ':' after the object key");
      ++pos_;
      skip_ws();
      JsonValue v;
      if (!value(v, depth)) return false;
      out.keys.push_back(std::move(key));
      out.values.push_back(std::move(v));
      skip_ws();
      if (pos_ >= s_.size()) return fail("unexpected end of input inside an object");
      if (s_[pos_] == ',') { ++pos_; continue; }
      if (s_[pos_] == '}') { ++pos_; return true; }
      return fail("expected ',' or '}' in the object");
    }
  }
  bool array(JsonValue& out, int depth) {
    if (depth > max_depth) return fail("nesting deeper than 32 levels");
    out.kind = JsonValue::Kind::Array;
    ++pos_;  // [
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') { ++pos_; return true; }
    for (;;) {
      skip_ws();
      JsonValue v;
      if (!value(v, depth)) return false;
      out.items.push_back(std::move(v));
      skip_ws();
      if (pos_ >= s_.size()) return fail("unexpected end of input inside an array");
      if (s_[pos_] == ',') { ++pos_; continue; }
      if (s_[pos_] == ']') { ++pos_; return true; }
      return fail("expected ',' or ']' in the array");
    }
  }
  static void put_utf8(std::string& o, std::uint32_t cp) {
    if (cp < 0x80) {
      o += static_cast<char>(cp);
    } else if (cp < 0x800) {
      o += static_cast<char>(0xC0 | (cp >> 6));
      o += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      o += static_cast<char>(0xE0 | (cp >> 12));
      o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      o += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      o += static_cast<char>(0xF0 | (cp >> 18));
      o += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      o += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool hex4(std::uint32_t& out) {
    if (s_.size() - pos_ < 4) return fail("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9') out |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') out |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') out |= static_cast<std::uint32_t>(c - 'A' + 10);
      else return fail("invalid hex digit in a \\u escape");
    }
    return true;
  }
  // One UTF-8 sequence starting at pos_ (well-formed per RFC 3629: no overlongs, no
  // surrogates, at most U+10FFFF), appended to `o`.
  bool utf8(std::string& o) {
    const auto b0 = static_cast<unsigned char>(s_[pos_]);
    std::size_t n = 0;
    std::uint32_t cp = 0, min = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) { n = 1; cp = b0 & 0x1Fu; min = 0x80; }
    else if (b0 >= 0xE0 && b0 <= 0xEF) { n = 2; cp = b0 & 0x0Fu; min = 0x800; }
    else if (b0 >= 0xF0 && b0 <= 0xF4) { n = 3; cp = b0 & 0x07u; min = 0x10000; }
    else return fail("invalid UTF-8 byte in a string");
    if (s_.size() - pos_ <= n) return fail("truncated UTF-8 sequence in a string");
    for (std::size_t i = 1; i <= n; ++i) {
      const auto b = static_cast<unsigned char>(s_[pos_ + i]);
      if ((b & 0xC0u) != 0x80u) return fail("invalid UTF-8 continuation byte in a string");
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return fail("invalid UTF-8 sequence in a string");
    o.append(s_.data() + pos_, n + 1);
    pos_ += n + 1;
    return true;
  }
  bool string(std::string& out) {
    ++pos_;  // "
    out.clear();
    for (;;) {
      if (pos_ >= s_.size()) return fail("unterminated string");
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') { ++pos_; return true; }
      if (c < 0x20) return fail("control character in a string (escape it)");
      if (c >= 0x80) {
        if (!utf8(out)) return false;
        continue;
      }
      if (c != '\\') { out += static_cast<char>(c); ++pos_; continue; }
      ++pos_;
      if (pos_ >= s_.size()) return fail("unterminated escape in a string");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("unpaired low surrogate in a \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.size() - pos_ < 2 || s_[pos_] != '\\' || s_[pos_ + 1] != 'u')
              return fail("high surrogate not followed by a low surrogate");
            pos_ += 2;
            std::uint32_t lo = 0;
            if (!hex4(lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("high surrogate not followed by a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default: return fail("invalid escape \\ followed by " + printable(static_cast<unsigned char>(e)) + " in a string");
      }
    }
  }
  bool number(JsonValue& out) {
    const std::size_t start = pos_;
    auto digit = [&] { return pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; };
    bool negative = false;
    if (s_[pos_] == '-') { negative = true; ++pos_; }
    if (!digit()) return fail("invalid number: expected a digit");
    if (s_[pos_] == '0') {
      ++pos_;
      if (digit()) return fail("invalid number: leading zero");
    } else {
      while (digit()) ++pos_;
    }
    bool integral = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integral = false;
      ++pos_;
      if (!digit()) return fail("invalid number: expected a digit after '.'");
      while (digit()) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digit()) return fail("invalid number: expected a digit in the exponent");
      while (digit()) ++pos_;
    }
    const std::string token(s_.substr(start, pos_ - start));
    std::istringstream in(token);
    in.imbue(std::locale::classic());
    double v = 0;
    in >> v;
    if (in.fail() || !std::isfinite(v)) {
      pos_ = start;
      return fail("number out of range: " + token);
    }
    out.kind = JsonValue::Kind::Number;
    out.number = v;
    out.integral = integral;
    if (integral && !negative && token.size() <= 20) {
      std::uint64_t x = 0;
      bool fits = true;
      for (char ch : token) {
        const auto d = static_cast<std::uint64_t>(ch - '0');
        if (x > (UINT64_MAX - d) / 10) { fits = false; break; }
        x = x * 10 + d;
      }
      out.integer = x;
      out.integer_fits = fits;
    }
    return true;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string error_;
};

// Schema checks on a parsed value; each sets `err` (with the value's position) and returns false.
std::string at(std::string_view text, const JsonValue& v) { return position(text, v.offset); }
const JsonValue* member(const JsonValue& obj, const char* key) {
  for (std::size_t i = 0; i < obj.keys.size(); ++i)
    if (obj.keys[i] == key) return &obj.values[i];
  return nullptr;
}
bool only_keys(std::string_view text, const JsonValue& obj, std::initializer_list<const char*> keys, const char* what, std::string& err) {
  for (std::size_t i = 0; i < obj.keys.size(); ++i) {
    bool known = false;
    for (const char* k : keys) known = known || obj.keys[i] == k;
    if (!known) {
      err = at(text, obj.values[i]) + "unknown key " + json_escape(obj.keys[i]) + " in " + what;
      return false;
    }
  }
  for (const char* k : keys) {
    if (member(obj, k) == nullptr) {
      err = at(text, obj) + what + " lacks the key \"" + k + "\"";
      return false;
    }
  }
  return true;
}
bool get_string(std::string_view text, const JsonValue& obj, const char* key, std::string& out, std::string& err) {
  const JsonValue& v = *member(obj, key);
  if (v.kind != JsonValue::Kind::String) {
    err = at(text, v) + "\"" + key + "\" must be a string";
    return false;
  }
  out = v.text;
  return true;
}
bool get_uint(std::string_view text, const JsonValue& obj, const char* key, std::uint64_t min, std::uint64_t& out, std::string& err) {
  const JsonValue& v = *member(obj, key);
  if (v.kind != JsonValue::Kind::Number || !v.integral || !v.integer_fits || v.integer < min) {
    err = at(text, v) + "\"" + key + "\" must be an integer in " + std::to_string(min) + "..2^64-1";
    return false;
  }
  out = v.integer;
  return true;
}
bool get_double(std::string_view text, const JsonValue& obj, const char* key, bool allow_zero, double& out, std::string& err) {
  const JsonValue& v = *member(obj, key);
  if (v.kind != JsonValue::Kind::Number || !(allow_zero ? v.number >= 0.0 : v.number > 0.0)) {
    err = at(text, v) + "\"" + key + "\" must be a number " + (allow_zero ? ">= 0" : "> 0");
    return false;
  }
  out = v.number;
  return true;
}
const char* const kBaselineFormat = "ringkernel-bench-baseline";

// Empty when `e` is a valid entry, else why not.
std::string entry_problem(const BaselineEntry& e) {
  if (e.workload_id.empty()) return "an entry has an empty workload_id";
  if (!(std::isfinite(e.throughput_ops) && e.throughput_ops > 0)) return "throughput_ops must be positive and finite";
  if (!(std::isfinite(e.mean_time_secs) && e.mean_time_secs > 0)) return "mean_time_secs must be positive and finite";
  if (!(std::isfinite(e.std_dev_secs) && e.std_dev_secs >= 0)) return "std_dev_secs must be finite and >= 0";
  if (e.samples == 0) return "samples must be >= 1";
  return {};
}
}  // namespace

Config& Config::with_measurements(std::size_t n) {
  if (n == 0) detail::raise(ErrorCode::InvalidArgument, "bench::Config::with_measurements: needs at least 1");
  measurement_iterations = n;
  return *this;
}
Config& Config::with_regression_threshold(double threshold) {
  if (!(std::isfinite(threshold) && threshold >= 0.0 && threshold <= 10.0))
    detail::raise(ErrorCode::InvalidArgument,
                  "bench::Config::with_regression_threshold: must be in [0, 10], got " + std::to_string(threshold));
  regression_threshold = threshold;
  return *this;
}
Config& Config::with_timeout_secs(double seconds) {
  if (!(std::isfinite(seconds) && seconds > 0.0))
    detail::raise(ErrorCode::InvalidArgument,
                  "bench::Config::with_timeout_secs: must be positive and finite, got " + std::to_string(seconds));
  timeout_secs = seconds;
  return *this;
}

double percentile(std::vector<double> values, double p) {
  check_finite(values, "bench::percentile");
  if (!(p >= 0.0 && p <= 100.0))
    detail::raise(ErrorCode::InvalidArgument, "bench::percentile: p must be in [0, 100], got " + std::to_string(p));
  std::sort(values.begin(), values.end());
  return percentile_sorted(values, p);
}

double t_critical(double confidence, std::uint64_t degrees_of_freedom) {
  if (!(confidence > 0.0 && confidence < 1.0))
    detail::raise(ErrorCode::InvalidArgument, "bench::t_critical: confidence must be in (0, 1), got " + std::to_string(confidence));
  if (degrees_of_freedom == 0) detail::raise(ErrorCode::InvalidArgument, "bench::t_critical: needs >= 1 degree of freedom");
  const double df = static_cast<double>(degrees_of_freedom);
  double lo = 0.0, hi = 1.0;
  while (t_two_sided_cdf(hi, df) < confidence) hi *= 2.0;  // bracket (df = 1 at 0.9999 needs ~6366)
  for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (t_two_sided_cdf(mid, df) < confidence) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}

double DetailedStatistics::coefficient_of_variation() const noexcept {
  if (std_dev == 0.0) return 0.0;
  if (mean == 0.0) return std::numeric_limits<double>::infinity();
  return std_dev / std::fabs(mean);
}

DetailedStatistics DetailedStatistics::from_values(std::vector<double> values) {
  check_finite(values, "bench::DetailedStatistics::from_values");
  std::sort(values.begin(), values.end());
  DetailedStatistics s;
  s.count = values.size();
  const double n = static_cast<double>(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / n;
  if (values.size() > 1) {
    double sq = 0;
    for (double v : values) sq += (v - s.mean) * (v - s.mean);
    s.std_dev = std::sqrt(sq / (n - 1.0));
  }
  s.min = values.front();
  s.max = values.back();
  s.median = percentile_sorted(values, 50);
  s.p25 = percentile_sorted(values, 25);
  s.p75 = percentile_sorted(values, 75);
  s.p95 = percentile_sorted(values, 95);
  s.p99 = percentile_sorted(values, 99);
  return s;
}

ConfidenceInterval ConfidenceInterval::from_values(const std::vector<double>& values, double confidence) {
  check_finite(values, "bench::ConfidenceInterval::from_values");
  if (values.size() < 2)
    detail::raise(ErrorCode::InvalidArgument, "bench::ConfidenceInterval::from_values: needs at least 2 values, got 1");
  const DetailedStatistics s = DetailedStatistics::from_values(values);
  const double t = t_critical(confidence, values.size() - 1);
  const double half = t * s.std_dev / std::sqrt(static_cast<double>(values.size()));
  return ConfidenceInterval{s.mean, s.mean - half, s.mean + half, confidence};
}

const char* to_string(ScalingQuality quality) noexcept {
  switch (quality) {
    case ScalingQuality::Excellent: return "Excellent";
    case ScalingQuality::Good: return "Good";
    case ScalingQuality::Fair: return "Fair";
    case ScalingQuality::Poor: return "Poor";
  }
  return "unknown";
}

ScalingQuality ScalingMetrics::scaling_quality() const noexcept {
  if (exponent >= 0.9) return ScalingQuality::Excellent;
  if (exponent >= 0.7) return ScalingQuality::Good;
  if (exponent >= 0.5) return ScalingQuality::Fair;
  return ScalingQuality::Poor;
}

ScalingMetrics ScalingMetrics::from_sizes_and_throughputs(const std::vector<double>& sizes,
                                                          const std::vector<double>& throughputs) {
  const char* who = "bench::ScalingMetrics::from_sizes_and_throughputs";
  if (sizes.size() != throughputs.size())
    detail::raise(ErrorCode::InvalidArgument, std::string(who) + ": " + std::to_string(sizes.size()) + " sizes but " +
                                                  std::to_string(throughputs.size()) + " throughputs");
  if (sizes.size() < 2) detail::raise(ErrorCode::InvalidArgument, std::string(who) + ": needs at least 2 points");
  std::vector<double> x, y;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (!(std::isfinite(sizes[i]) && sizes[i] > 0 && std::isfinite(throughputs[i]) && throughputs[i] > 0))
      detail::raise(ErrorCode::InvalidArgument,
                    std::string(who) + ": point " + std::to_string(i) + " is not positive and finite");
    x.push_back(std::log(sizes[i]));
    y.push_back(std::log(throughputs[i]));
  }
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) { mx += x[i]; my += y[i]; }
  mx /= n;
  my /= n;
  double sxx = 0, sxy = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0) detail::raise(ErrorCode::InvalidArgument, std::string(who) + ": all sizes are equal");
  ScalingMetrics m;
  m.points = x.size();
  m.exponent = sxy / sxx;
  m.coefficient = std::exp(my - m.exponent * mx);
  double ss_res = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double r = y[i] - (my + m.exponent * (x[i] - mx));
    ss_res += r * r;
  }
  // Constant throughput is fitted exactly by exponent 0.
  m.r_squared = syy == 0 ? 1.0 : std::max(0.0, 1.0 - ss_res / syy);
  return m;
}

Result::Result(std::string workload_id, std::uint64_t size, double time_secs)
    : Result(from_measurements(std::move(workload_id), size, std::vector<double>{time_secs})) {}

Result Result::from_measurements(std::string workload_id, std::uint64_t size, std::vector<double> measurement_times_secs,
                                 std::optional<std::uint64_t> iterations, std::optional<bool> converged) {
  if (workload_id.empty()) detail::raise(ErrorCode::InvalidArgument, "bench::Result: the workload id must not be empty");
  if (measurement_times_secs.empty())
    detail::raise(ErrorCode::InvalidArgument, "bench::Result '" + workload_id + "': no measurements");
  for (std::size_t i = 0; i < measurement_times_secs.size(); ++i)
    if (!(std::isfinite(measurement_times_secs[i]) && measurement_times_secs[i] > 0))
      detail::raise(ErrorCode::InvalidArgument, "bench::Result '" + workload_id + "': measurement " + std::to_string(i) +
                                                    " is not a positive, finite time");
  Result r;
  r.workload_id_ = std::move(workload_id);
  r.size_ = size;
  r.stats_ = DetailedStatistics::from_values(measurement_times_secs);
  r.times_ = std::move(measurement_times_secs);
  r.iterations_ = iterations;
  r.converged_ = converged;
  return r;
}

double Result::throughput_stddev() const {
  if (times_.size() < 2) return 0.0;
  std::vector<double> rates;
  for (double t : times_) rates.push_back(static_cast<double>(size_) / t);
  return DetailedStatistics::from_values(std::move(rates)).std_dev;
}

std::optional<ConfidenceInterval> Result::confidence_interval() const {
  if (times_.size() < 2) return std::nullopt;
  return ConfidenceInterval::from_values(times_);
}

Result Result::with_metric(std::string name, double value) const {
  if (name.empty()) detail::raise(ErrorCode::InvalidArgument, "bench::Result::with_metric: empty name");
  if (!std::isfinite(value))
    detail::raise(ErrorCode::InvalidArgument, "bench::Result::with_metric '" + name + "': value is not finite");
  Result r = *this;
  for (auto& m : r.metrics_) {
    if (m.first == name) {
      m.second = value;
      return r;
    }
  }
  r.metrics_.emplace_back(std::move(name), value);
  return r;
}

// ---- Baseline ------------------------------------------------------------------------------
Baseline Baseline::from_results(std::string version, const std::vector<Result>& results) {
  Baseline b(std::move(version));
  for (const Result& r : results)
    b.add(BaselineEntry{r.workload_id(), r.size(), r.throughput_ops(), r.mean_time_secs(), r.statistics().std_dev,
                        r.statistics().count});
  return b;
}

void Baseline::add(BaselineEntry entry) {
  const std::string problem = entry_problem(entry);
  if (!problem.empty()) detail::raise(ErrorCode::InvalidArgument, "bench::Baseline::add: " + problem);
  if (find(entry.workload_id, entry.size) != nullptr)
    detail::raise(ErrorCode::InvalidArgument,
                  "bench::Baseline::add: a second entry for " + quoted_key_of(entry.workload_id, entry.size));
  entries_.push_back(std::move(entry));
}

const BaselineEntry* Baseline::find(const std::string& workload_id, std::uint64_t size) const noexcept {
  for (const BaselineEntry& e : entries_)
    if (e.workload_id == workload_id && e.size == size) return &e;
  return nullptr;
}

std::string Baseline::to_json() const {
  std::string o = "{\n  \"format\": " + json_escape(kBaselineFormat) + ",\n  \"format_version\": 1,\n  \"version\": " +
                  json_escape(version_) + ",\n  \"entries\": [";
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const BaselineEntry& e = entries_[i];
    o += i == 0 ? "\n" : ",\n";
    o += "    {\"workload_id\": " + json_escape(e.workload_id) + ", \"size\": " + std::to_string(e.size) +
         ", \"throughput_ops\": " + json_number(e.throughput_ops) + ", \"mean_time_secs\": " + json_number(e.mean_time_secs) +
         ", \"std_dev_secs\": " + json_number(e.std_dev_secs) + ", \"samples\": " + std::to_string(e.samples) + "}";
  }
  o += entries_.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return o;
}

ringkernel::Result<Baseline> Baseline::parse(std::string_view text) {
  const std::string prefix = "bench::Baseline: malformed baseline JSON: ";
  JsonValue root;
  JsonReader reader(text);
  if (!reader.parse(root)) return {ErrorCode::InvalidArgument, prefix + reader.error()};
  std::string err;
  if (root.kind != JsonValue::Kind::Object) return {ErrorCode::InvalidArgument, prefix + at(text, root) + "the top level must be an object"};
  if (!only_keys(text, root, {"format", "format_version", "version", "entries"}, "the baseline object", err))
    return {ErrorCode::InvalidArgument, prefix + err};
  std::string format;
  std::uint64_t format_version = 0;
  Baseline b;
  if (!get_string(text, root, "format", format, err) || !get_uint(text, root, "format_version", 0, format_version, err) ||
      !get_string(text, root, "version", b.version_, err))
    return {ErrorCode::InvalidArgument, prefix + err};
  if (format != kBaselineFormat)
    return {ErrorCode::InvalidArgument, prefix + at(text, *member(root, "format")) + "\"format\" must be \"" + kBaselineFormat + "\""};
  if (format_version != 1)
    return {ErrorCode::InvalidArgument, prefix + at(text, *member(root, "format_version")) + "unsupported format_version " +
                                            std::to_string(format_version) + " (this reader knows 1)"};
  const JsonValue& entries = *member(root, "entries");
  if (entries.kind != JsonValue::Kind::Array) return {ErrorCode::InvalidArgument, prefix + at(text, entries) + "\"entries\" must be an array"};
  for (const JsonValue& item : entries.items) {
    if (item.kind != JsonValue::Kind::Object) return {ErrorCode::InvalidArgument, prefix + at(text, item) + "each entry must be an object"};
    if (!only_keys(text, item, {"workload_id", "size", "throughput_ops", "mean_time_secs", "std_dev_secs", "samples"}, "an entry", err))
      return {ErrorCode::InvalidArgument, prefix + err};
    BaselineEntry e;
    if (!get_string(text, item, "workload_id", e.workload_id, err) || !get_uint(text, item, "size", 0, e.size, err) ||
        !get_double(text, item, "throughput_ops", false, e.throughput_ops, err) ||
        !get_double(text, item, "mean_time_secs", false, e.mean_time_secs, err) ||
        !get_double(text, item, "std_dev_secs", true, e.std_dev_secs, err) || !get_uint(text, item, "samples", 1, e.samples, err))
      return {ErrorCode::InvalidArgument, prefix + err};
    const std::string problem = entry_problem(e);
    if (!problem.empty()) return {ErrorCode::InvalidArgument, prefix + at(text, item) + problem};
    if (b.find(e.workload_id, e.size) != nullptr)
      return {ErrorCode::InvalidArgument, prefix + at(text, item) + "a second entry for " + quoted_key_of(e.workload_id, e.size)};
    b.entries_.push_back(std::move(e));
  }
  return b;
}

Baseline Baseline::from_json(std::string_view text) { return parse(text).value(); }

void Baseline::save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const std::string text = to_json();
    if (!out || !out.write(text.data(), static_cast<std::streamsize>(text.size())) || !out.flush())
      detail::raise(ErrorCode::InvalidArgument, "bench::Baseline::save: cannot write '" + tmp + "'");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    detail::raise(ErrorCode::InvalidArgument, "bench::Baseline::save: cannot rename '" + tmp + "' to '" + path + "'");
  }
}

Baseline Baseline::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) detail::raise(ErrorCode::InvalidArgument, "bench::Baseline::load: cannot open '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) detail::raise(ErrorCode::InvalidArgument, "bench::Baseline::load: cannot read '" + path + "'");
  ringkernel::Result<Baseline> b = parse(text.str());
  if (!b.ok()) detail::raise(b.code(), "'" + path + "': " + b.message());
  return std::move(b).value();
}

// ---- RegressionReport ------------------------------------------------------------------------
const char* to_string(ChangeKind kind) noexcept {
  switch (kind) {
    case ChangeKind::Regression: return "Regression";
    case ChangeKind::Improvement: return "Improvement";
    case ChangeKind::Unchanged: return "Unchanged";
  }
  return "unknown";
}

RegressionReport RegressionReport::compare(const Baseline& baseline, const std::vector<Result>& results, double threshold) {
  if (!(std::isfinite(threshold) && threshold >= 0.0))
    detail::raise(ErrorCode::InvalidArgument,
                  "bench::RegressionReport::compare: threshold must be finite and >= 0, got " + std::to_string(threshold));
  RegressionReport r;
  r.threshold_ = threshold;
  r.baseline_version_ = baseline.version();
  std::vector<bool> matched(baseline.size(), false);
  for (const Result& res : results) {
    const BaselineEntry* e = baseline.find(res.workload_id(), res.size());
    if (e == nullptr) {
      r.new_.push_back(key_of(res.workload_id(), res.size()));
      continue;
    }
    matched[static_cast<std::size_t>(e - baseline.entries().data())] = true;
    RegressionEntry x;
    x.workload_id = res.workload_id();
    x.size = res.size();
    x.baseline_throughput = e->throughput_ops;
    x.current_throughput = res.throughput_ops();
    x.relative_change = x.current_throughput / x.baseline_throughput - 1.0;
    x.kind = x.relative_change < -threshold  ? ChangeKind::Regression
             : x.relative_change > threshold ? ChangeKind::Improvement
                                             : ChangeKind::Unchanged;
    r.entries_.push_back(std::move(x));
  }
  for (std::size_t i = 0; i < matched.size(); ++i)
    if (!matched[i]) r.missing_.push_back(key_of(baseline.entries()[i].workload_id, baseline.entries()[i].size));
  return r;
}

std::size_t RegressionReport::regression_count() const noexcept {
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                [](const RegressionEntry& e) { return e.kind == ChangeKind::Regression; }));
}
std::size_t RegressionReport::improvement_count() const noexcept {
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                [](const RegressionEntry& e) { return e.kind == ChangeKind::Improvement; }));
}
std::size_t RegressionReport::unchanged_count() const noexcept {
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                [](const RegressionEntry& e) { return e.kind == ChangeKind::Unchanged; }));
}
std::optional<RegressionEntry> RegressionReport::worst_regression() const {
  std::optional<RegressionEntry> w;
  for (const RegressionEntry& e : entries_)
    if (e.kind == ChangeKind::Regression && (!w || e.relative_change < w->relative_change)) w = e;
  return w;
}
std::optional<RegressionEntry> RegressionReport::best_improvement() const {
  std::optional<RegressionEntry> b;
  for (const RegressionEntry& e : entries_)
    if (e.kind == ChangeKind::Improvement && (!b || e.relative_change > b->relative_change)) b = e;
  return b;
}
std::string RegressionReport::summary() const {
  auto pct = [](double change) { return (change >= 0 ? "+" : "") + fixed(change * 100.0, 1) + "%"; };
  std::string s = std::to_string(regression_count()) + " regressions, " + std::to_string(improvement_count()) +
                  " improvements, " + std::to_string(unchanged_count()) + " unchanged (threshold ±" +
                  fixed(threshold_ * 100.0, 1) + "%, baseline \"" + baseline_version_ + "\")";
  if (auto w = worst_regression()) s += "; worst " + key_of(w->workload_id, w->size) + " " + pct(w->relative_change);
  if (auto b = best_improvement()) s += "; best " + key_of(b->workload_id, b->size) + " " + pct(b->relative_change);
  if (!missing_.empty()) s += "; " + std::to_string(missing_.size()) + " baseline entries without a result";
  if (!new_.empty()) s += "; " + std::to_string(new_.size()) + " results not in the baseline";
  return s;
}
std::string RegressionReport::to_markdown() const {
  std::string o = "| Workload | Size | Baseline (ops/s) | Current (ops/s) | Change | Verdict |\n"
                  "|---|---:|---:|---:|---:|---|\n";
  for (const RegressionEntry& e : entries_) {
    o += "| " + markdown_cell(e.workload_id) + " | " + std::to_string(e.size) + " | " + general(e.baseline_throughput, 4) +
         " | " + general(e.current_throughput, 4) + " | " + (e.relative_change >= 0 ? "+" : "") +
         fixed(e.percent_change(), 1) + "% | " + to_string(e.kind) + " |\n";
  }
  for (const std::string& m : missing_) o += "\nNo result for baseline entry " + markdown_cell(m) + ".";
  for (const std::string& n : new_) o += "\nNo baseline entry for " + markdown_cell(n) + ".";
  if (!missing_.empty() || !new_.empty()) o += "\n";
  return o;
}

// ---- Suite --------------------------------------------------------------------------------
Suite::Suite(Config config) : config_(std::move(config)) {
  Config check;
  check.with_measurements(config_.measurement_iterations);
  check.with_regression_threshold(config_.regression_threshold);
  check.with_timeout_secs(config_.timeout_secs);
}

std::string Suite::generate_markdown_report(const std::string& title) const {
  std::vector<std::string> metric_names;
  for (const Result& r : results_)
    for (const auto& m : r.custom_metrics())
      if (std::find(metric_names.begin(), metric_names.end(), m.first) == metric_names.end()) metric_names.push_back(m.first);
  std::string o;
  if (!title.empty()) o += "## " + title + "\n\n";
  o += "| Workload | Size | Runs | Mean (ms) | Median (ms) | Std dev (ms) | 95% CI (ms) | Throughput (ops/s) |";
  for (const std::string& n : metric_names) o += " " + markdown_cell(n) + " |";
  o += "\n|---|---:|---:|---:|---:|---:|---|---:|";
  for (std::size_t i = 0; i < metric_names.size(); ++i) o += "---:|";
  o += "\n";
  for (const Result& r : results_) {
    const DetailedStatistics& s = r.statistics();
    const std::optional<ConfidenceInterval> ci = r.confidence_interval();
    o += "| " + markdown_cell(r.workload_id()) + " | " + std::to_string(r.size()) + " | " + std::to_string(s.count) + " | " +
         fixed(s.mean * 1e3, 3) + " | " + fixed(s.median * 1e3, 3) + " | " + fixed(s.std_dev * 1e3, 3) + " | " +
         (ci ? "[" + fixed(ci->lower * 1e3, 3) + ", " + fixed(ci->upper * 1e3, 3) + "]" : std::string("n/a")) + " | " +
         general(r.throughput_ops(), 4) + " |";
    for (const std::string& n : metric_names) {
      std::string cell = " ";
      for (const auto& m : r.custom_metrics())
        if (m.first == n) cell = general(m.second, 6);
      o += " " + cell + " |";
    }
    o += "\n";
  }
  return o;
}

std::string Suite::generate_json_export() const {
  std::string o = "{\"config\": {\"warmup_iterations\": " + std::to_string(config_.warmup_iterations) +
                  ", \"measurement_iterations\": " + std::to_string(config_.measurement_iterations) +
                  ", \"regression_threshold\": " + json_number(config_.regression_threshold) +
                  ", \"timeout_secs\": " + json_number(config_.timeout_secs) + "},\n \"results\": [";
  for (std::size_t i = 0; i < results_.size(); ++i) {
    const Result& r = results_[i];
    const DetailedStatistics& s = r.statistics();
    const std::optional<ConfidenceInterval> ci = r.confidence_interval();
    o += i == 0 ? "\n  " : ",\n  ";
    o += "{\"workload_id\": " + json_escape(r.workload_id()) + ", \"size\": " + std::to_string(r.size()) +
         ", \"throughput_ops\": " + json_number(r.throughput_ops()) +
         ", \"throughput_stddev\": " + json_number(r.throughput_stddev()) + ", \"mean_time_secs\": " + json_number(s.mean) +
         ", \"statistics\": {\"count\": " + std::to_string(s.count) + ", \"mean\": " + json_number(s.mean) +
         ", \"std_dev\": " + json_number(s.std_dev) + ", \"min\": " + json_number(s.min) + ", \"max\": " + json_number(s.max) +
         ", \"median\": " + json_number(s.median) + ", \"p95\": " + json_number(s.p95) + ", \"p99\": " + json_number(s.p99) +
         ", \"iqr\": " + json_number(s.iqr()) + ", \"cv\": " + json_number(s.coefficient_of_variation()) + "}" +
         ", \"ci95_secs\": " + (ci ? "[" + json_number(ci->lower) + ", " + json_number(ci->upper) + "]" : std::string("null")) +
         ", \"measurement_times_secs\": [";
    for (std::size_t k = 0; k < r.measurement_times_secs().size(); ++k)
      o += (k ? ", " : "") + json_number(r.measurement_times_secs()[k]);
    o += "]";
    if (r.iterations()) o += ", \"iterations\": " + std::to_string(*r.iterations());
    if (r.converged()) o += std::string(", \"converged\": ") + (*r.converged() ? "true" : "false");
    o += ", \"custom_metrics\": {";
    for (std::size_t k = 0; k < r.custom_metrics().size(); ++k)
      o += (k ? ", " : "") + json_escape(r.custom_metrics()[k].first) + ": " + json_number(r.custom_metrics()[k].second);
    o += "}}";
  }
  o += results_.empty() ? "]}\n" : "\n ]}\n";
  return o;
}

std::string Suite::generate_latex_table() const {
  std::string o = "\\begin{tabular}{lrrrr}\n\\hline\n"
                  "Workload & Size & Mean (ms) & Std dev (ms) & Throughput (ops/s) \\\\\n\\hline\n";
  for (const Result& r : results_) {
    o += latex_escape(r.workload_id()) + " & " + std::to_string(r.size()) + " & " + fixed(r.mean_time_ms(), 3) + " & " +
         fixed(r.statistics().std_dev * 1e3, 3) + " & " + general(r.throughput_ops(), 4) + " \\\\\n";
  }
  o += "\\hline\n\\end{tabular}\n";
  return o;
}

std::optional<RegressionReport> Suite::compare_to_baseline() const {
  if (!baseline_) return std::nullopt;
  return RegressionReport::compare(*baseline_, results_, config_.regression_threshold);
}

}  // namespace bench
}  // namespace RINGKERNEL_ABI_NAMESPACE
}  // namespace ringkernel

#endif  // RINGKERNEL_IMPLEMENTATION
