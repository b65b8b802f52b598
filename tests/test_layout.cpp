// Layouts shared with GPUs (ControlBlock, TelemetryBuffer, QueueDescriptor), their accessors,
// stable error codes, and the version macros against the build's version.
#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "ringkernel.hpp"
#include "test_support.hpp"

using ringkernel::ControlBlock;
using ringkernel::ErrorCode;
using ringkernel::QueueDescriptor;
using ringkernel::TelemetryBuffer;
using ringkernel::TelemetrySnapshot;

#define RK_TEST_STR2(x) #x
#define RK_TEST_STR(x) RK_TEST_STR2(x)

// ---- compile-time layout (a mismatch is a build failure) -------------------------------------
static_assert(sizeof(ControlBlock) == 128 && alignof(ControlBlock) == 128, "ControlBlock 128/128");
static_assert(std::is_standard_layout<ControlBlock>::value && std::is_trivially_copyable<ControlBlock>::value,
              "ControlBlock shared as bytes");
static_assert(sizeof(TelemetryBuffer) == 64 && alignof(TelemetryBuffer) == 64, "TelemetryBuffer 64/64");
static_assert(std::is_standard_layout<TelemetryBuffer>::value && std::is_trivially_copyable<TelemetryBuffer>::value,
              "TelemetryBuffer shared as bytes");
static_assert(sizeof(QueueDescriptor) == 32 && std::is_standard_layout<QueueDescriptor>::value,
              "QueueDescriptor 32");

TEST_SUITE("layout") {

TEST_CASE("ControlBlock: 128 bytes, 128-aligned, every offset as documented") {
  CHECK(sizeof(ControlBlock) == 128u);
  CHECK(alignof(ControlBlock) == 128u);
  CHECK(offsetof(ControlBlock, is_active) == 0u);
  CHECK(offsetof(ControlBlock, should_terminate) == 4u);
  CHECK(offsetof(ControlBlock, has_terminated) == 8u);
  CHECK(offsetof(ControlBlock, errors_encountered) == 12u);
  CHECK(offsetof(ControlBlock, messages_processed) == 16u);
  CHECK(offsetof(ControlBlock, last_activity_ticks) == 24u);
  CHECK(offsetof(ControlBlock, input_queue) == 32u);
  CHECK(offsetof(ControlBlock, output_queue) == 64u);
  CHECK(offsetof(ControlBlock, reserved) == 96u);
  CHECK(sizeof(ControlBlock::reserved) == 32u);
  CHECK(sizeof(ControlBlock::is_active) == 4u);
  CHECK(sizeof(ControlBlock::messages_processed) == 8u);
  // Heap and array placement honour the alignment (C++17 aligned new).
  auto one = std::make_unique<ControlBlock>();
  CHECK(reinterpret_cast<std::uintptr_t>(one.get()) % 128 == 0u);
  std::vector<ControlBlock> many(3);
  for (const ControlBlock& cb : many) CHECK(reinterpret_cast<std::uintptr_t>(&cb) % 128 == 0u);
}

TEST_CASE("QueueDescriptor: 32 bytes, offsets as documented") {
  CHECK(sizeof(QueueDescriptor) == 32u);
  CHECK(offsetof(QueueDescriptor, head_ptr) == 0u);
  CHECK(offsetof(QueueDescriptor, tail_ptr) == 8u);
  CHECK(offsetof(QueueDescriptor, buffer_ptr) == 16u);
  CHECK(offsetof(QueueDescriptor, capacity) == 24u);
  CHECK(offsetof(QueueDescriptor, message_size) == 28u);
  const QueueDescriptor q;
  CHECK(q.head_ptr == 0u);
  CHECK(q.tail_ptr == 0u);
  CHECK(q.buffer_ptr == 0u);
  CHECK(q.capacity == 0);
  CHECK(q.message_size == 0);
}

TEST_CASE("TelemetryBuffer: 64 bytes, 64-aligned, offsets as documented") {
  CHECK(sizeof(TelemetryBuffer) == 64u);
  CHECK(alignof(TelemetryBuffer) == 64u);
  CHECK(offsetof(TelemetryBuffer, messages_processed) == 0u);
  CHECK(offsetof(TelemetryBuffer, messages_dropped) == 8u);
  CHECK(offsetof(TelemetryBuffer, last_processed_timestamp) == 16u);
  CHECK(offsetof(TelemetryBuffer, queue_depth) == 24u);
  CHECK(offsetof(TelemetryBuffer, reserved_a) == 28u);
  CHECK(offsetof(TelemetryBuffer, total_latency_nanos) == 32u);
  CHECK(offsetof(TelemetryBuffer, max_latency_nanos) == 40u);
  CHECK(offsetof(TelemetryBuffer, min_latency_nanos) == 48u);
  CHECK(offsetof(TelemetryBuffer, error_code) == 56u);
  CHECK(offsetof(TelemetryBuffer, reserved_b) == 60u);
  auto t = std::make_unique<TelemetryBuffer>();
  CHECK(reinterpret_cast<std::uintptr_t>(t.get()) % 64 == 0u);
}

TEST_CASE("ControlBlock: zero-initialized, accessors write the documented fields") {
  ControlBlock cb;
  CHECK(cb.is_active == 0);
  CHECK(cb.should_terminate == 0);
  CHECK(cb.has_terminated == 0);
  CHECK(cb.errors_encountered == 0);
  CHECK(cb.messages_processed == 0);
  CHECK(cb.last_activity_ticks == 0);
  CHECK(cb.input_queue.capacity == 0);
  CHECK(cb.output_queue.buffer_ptr == 0u);
  for (std::uint64_t r : cb.reserved) CHECK(r == 0u);
  CHECK_FALSE(cb.active());
  CHECK_FALSE(cb.terminate_requested());
  CHECK(cb.termination_state() == 0);
  CHECK(cb.error_count() == 0);
  CHECK(cb.processed() == 0);

  cb.set_active(true);
  CHECK(cb.active());
  CHECK(cb.is_active == 1);
  cb.set_active(false);
  CHECK_FALSE(cb.active());
  CHECK(cb.is_active == 0);

  cb.request_terminate();
  CHECK(cb.terminate_requested());
  CHECK(cb.should_terminate == 1);

  cb.set_termination_state(2);
  CHECK(cb.termination_state() == 2);
  CHECK(cb.has_terminated == 2);
  cb.set_termination_state(1);
  CHECK(cb.has_terminated == 1);

  cb.add_error();
  cb.add_error();
  cb.add_error();
  CHECK(cb.error_count() == 3);
  CHECK(cb.errors_encountered == 3);

  cb.add_processed(5, 1234);
  CHECK(cb.processed() == 5);
  CHECK(cb.last_activity_ticks == 1234);
  cb.add_processed(2, 99);
  CHECK(cb.processed() == 7);
  CHECK(cb.messages_processed == 7);
  CHECK(cb.last_activity_ticks == 99);

  // The accessors touch nothing else.
  CHECK(cb.input_queue.head_ptr == 0u);
  CHECK(cb.output_queue.tail_ptr == 0u);
  for (std::uint64_t r : cb.reserved) CHECK(r == 0u);
}

TEST_CASE("ControlBlock: a flag written by one thread is seen by another") {
  ControlBlock cb;
  std::atomic<bool> saw{false};
  std::thread kernel([&] {
    while (!cb.terminate_requested()) std::this_thread::yield();
    cb.add_processed(1, 5);
    cb.set_termination_state(1);
    saw = true;
  });
  cb.set_active(true);
  cb.request_terminate();
  kernel.join();
  CHECK(saw.load());
  CHECK(cb.termination_state() == 1);
  CHECK(cb.processed() == 1);
}

TEST_CASE("TelemetryBuffer: snapshot of an empty buffer reports zeros (min 0, not all ones)") {
  TelemetryBuffer t;
  CHECK(t.min_latency_nanos == ~std::uint64_t{0});  // sentinel until the first message
  const TelemetrySnapshot s = t.snapshot();
  CHECK(s.messages_processed == 0u);
  CHECK(s.messages_dropped == 0u);
  CHECK(s.last_processed_timestamp == 0);
  CHECK(s.queue_depth == 0);
  CHECK(s.error_code == 0);
  CHECK(s.total_latency_ns == 0u);
  CHECK(s.min_latency_ns == 0u);
  CHECK(s.max_latency_ns == 0u);
  CHECK(s.avg_latency_ns() == 0.0);
}

TEST_CASE("TelemetryBuffer: record_processed keeps min, max, total, average and the timestamp") {
  TelemetryBuffer t;
  t.record_processed(100, 10);
  TelemetrySnapshot s = t.snapshot();
  CHECK(s.messages_processed == 1u);
  CHECK(s.min_latency_ns == 100u);
  CHECK(s.max_latency_ns == 100u);
  CHECK(s.avg_latency_ns() == doctest::Approx(100.0));
  t.record_processed(300, 20);
  t.record_processed(50, 30);
  s = t.snapshot();
  CHECK(s.messages_processed == 3u);
  CHECK(s.total_latency_ns == 450u);
  CHECK(s.min_latency_ns == 50u);
  CHECK(s.max_latency_ns == 300u);
  CHECK(s.avg_latency_ns() == doctest::Approx(150.0));
  CHECK(s.last_processed_timestamp == 30);
  CHECK(t.messages_processed == 3u);
  CHECK(t.min_latency_nanos == 50u);
  t.record_processed(0, 40);  // a zero latency is a real minimum
  s = t.snapshot();
  CHECK(s.min_latency_ns == 0u);
  CHECK(t.min_latency_nanos == 0u);
  CHECK(s.avg_latency_ns() == doctest::Approx(112.5));
  CHECK(s.latency_samples == 4u);  // the buffer alone counts every message as a sample
  t.count_processed(50);           // processed, not timed: the latency fields stay
  s = t.snapshot();
  CHECK(s.messages_processed == 5u);
  CHECK(s.last_processed_timestamp == 50);
  CHECK(s.total_latency_ns == 450u);
  CHECK(s.min_latency_ns == 0u);
  CHECK(s.max_latency_ns == 300u);
}

TEST_CASE("TelemetryBuffer: dropped counts, depth, error code") {
  TelemetryBuffer t;
  t.record_dropped();
  t.record_dropped(4);
  CHECK(t.snapshot().messages_dropped == 5u);
  t.set_queue_depth(17);
  t.set_error(ErrorCode::QueueFull);
  const TelemetrySnapshot s = t.snapshot();
  CHECK(s.queue_depth == 17);
  CHECK(s.error_code == static_cast<std::int32_t>(ErrorCode::QueueFull));
  CHECK(s.error_code == 5);
  CHECK(s.messages_processed == 0u);  // untouched
}

TEST_CASE("TelemetryBuffer: record_dropped from several threads loses nothing") {
  TelemetryBuffer t;
  constexpr int kThreads = 4;
  const std::size_t per = rk_test::scaled(100000);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      for (std::size_t k = 0; k < per; ++k) t.record_dropped(k % 2 == 0 ? 1 : 2);
    });
  for (auto& th : threads) th.join();
  const std::uint64_t per_thread = (per + 1) / 2 + 2 * (per / 2);
  CHECK(t.snapshot().messages_dropped == per_thread * kThreads);
}

// ---- errors ---------------------------------------------------------------------------------

TEST_CASE("ErrorCode values are stable and named") {
  struct Named {
    ErrorCode code;
    int value;
    const char* name;
  };
  const Named all[] = {
      {ErrorCode::Ok, 0, "Ok"},
      {ErrorCode::InvalidArgument, 1, "InvalidArgument"},
      {ErrorCode::InvalidMessage, 2, "InvalidMessage"},
      {ErrorCode::InvalidTopic, 3, "InvalidTopic"},
      {ErrorCode::ClockDrift, 4, "ClockDrift"},
      {ErrorCode::QueueFull, 5, "QueueFull"},
      {ErrorCode::Timeout, 6, "Timeout"},
      {ErrorCode::NotActive, 7, "NotActive"},
      {ErrorCode::KernelNotFound, 8, "KernelNotFound"},
      {ErrorCode::InvalidState, 9, "InvalidState"},
      {ErrorCode::KernelFault, 10, "KernelFault"},
      {ErrorCode::MemoryLimit, 11, "MemoryLimit"},
      {ErrorCode::BackendUnavailable, 12, "BackendUnavailable"},
      {ErrorCode::CudaFailure, 13, "CudaFailure"},
      {ErrorCode::VulkanFailure, 14, "VulkanFailure"},
      {ErrorCode::Closed, 15, "Closed"},
      {ErrorCode::Internal, 16, "Internal"},
  };
  for (const Named& n : all) {
    CAPTURE(n.name);
    CHECK(static_cast<int>(n.code) == n.value);
    CHECK(std::string(ringkernel::to_string(n.code)) == n.name);
  }
  const char* unknown = ringkernel::to_string(static_cast<ErrorCode>(9999));
  REQUIRE(unknown != nullptr);  // never null
  CHECK(std::string(unknown) == "Unknown");
}

TEST_CASE("Error hierarchy carries the code") {
  const ringkernel::KernelError k(ErrorCode::InvalidState, "illegal transition");
  const ringkernel::Error& base = k;
  CHECK(base.code() == ErrorCode::InvalidState);
  CHECK(std::string(base.what()) == "illegal transition");
  CHECK(ringkernel::MemoryLimitError("m").code() == ErrorCode::MemoryLimit);
  CHECK(ringkernel::CudaError("c").code() == ErrorCode::CudaFailure);
  CHECK(ringkernel::VulkanError("v").code() == ErrorCode::VulkanFailure);
  static_assert(std::is_base_of<std::runtime_error, ringkernel::Error>::value, "catchable as std::exception");
  static_assert(std::is_base_of<ringkernel::Error, ringkernel::KernelError>::value &&
                    std::is_base_of<ringkernel::Error, ringkernel::MemoryLimitError>::value &&
                    std::is_base_of<ringkernel::Error, ringkernel::CudaError>::value &&
                    std::is_base_of<ringkernel::Error, ringkernel::VulkanError>::value,
                "subclasses");
}

// ---- version --------------------------------------------------------------------------------

static_assert(RINGKERNEL_VERSION ==
                  RINGKERNEL_VERSION_MAJOR * 10000 + RINGKERNEL_VERSION_MINOR * 100 + RINGKERNEL_VERSION_PATCH,
              "packed version");
#if !defined(RINGKERNEL_VERSION) || !(RINGKERNEL_VERSION >= 0)
#error "RINGKERNEL_VERSION must be usable in #if"
#endif

TEST_CASE("version macros agree with each other and with the build's project version") {
  const std::string from_parts = RK_TEST_STR(RINGKERNEL_VERSION_MAJOR) "." RK_TEST_STR(
      RINGKERNEL_VERSION_MINOR) "." RK_TEST_STR(RINGKERNEL_VERSION_PATCH);
  CHECK(from_parts == RINGKERNEL_VERSION_STRING);
  CHECK(RINGKERNEL_VERSION_MINOR < 100);
  CHECK(RINGKERNEL_VERSION_PATCH < 100);
  CHECK(RINGKERNEL_VERSION / 10000 == RINGKERNEL_VERSION_MAJOR);
  CHECK(RINGKERNEL_VERSION / 100 % 100 == RINGKERNEL_VERSION_MINOR);
  CHECK(RINGKERNEL_VERSION % 100 == RINGKERNEL_VERSION_PATCH);
#if defined(RINGKERNEL_TEST_PROJECT_VERSION)
  // meson.build's project(version: ...) must match the header.
  CHECK(std::string(RINGKERNEL_TEST_PROJECT_VERSION) == RINGKERNEL_VERSION_STRING);
  // And parse it: MAJOR.MINOR.PATCH numbers as in the packed value.
  const std::string v = RINGKERNEL_TEST_PROJECT_VERSION;
  const std::size_t d1 = v.find('.'), d2 = v.find('.', d1 + 1);
  REQUIRE(d1 != std::string::npos);
  REQUIRE(d2 != std::string::npos);
  CHECK(std::atoi(v.substr(0, d1).c_str()) == RINGKERNEL_VERSION_MAJOR);
  CHECK(std::atoi(v.substr(d1 + 1, d2 - d1 - 1).c_str()) == RINGKERNEL_VERSION_MINOR);
  CHECK(std::atoi(v.substr(d2 + 1).c_str()) == RINGKERNEL_VERSION_PATCH);
#else
  FAIL("RINGKERNEL_TEST_PROJECT_VERSION is not defined: the build must pass the project version "
       "(tests/meson.build does)");
#endif
}

}  // TEST_SUITE("layout")
