// Shared helpers for the doctest suites (core_tests): workload scaling, printing of
// ringkernel types in failure messages, error-code capture and a construction-tracking type.
// Included by every test_*.cpp after <doctest/doctest.h> and "ringkernel.hpp".
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

#include "ringkernel.hpp"

// ---- workload scale -----------------------------------------------------------------------
// Stress tests run their full size in an optimized build and a fraction of it under a race
// detector (TSan is 5-20x slower), a memory checker, or without optimization (meson passes
// RINGKERNEL_TEST_REDUCED for sanitized and -O0/-Og builds), so that every build finishes in
// minutes on two cores.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RK_TEST_TSAN 1
#endif
#if __has_feature(address_sanitizer)
#define RK_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(RK_TEST_TSAN)
#define RK_TEST_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(RK_TEST_ASAN)
#define RK_TEST_ASAN 1
#endif

namespace rk_test {

/// Divisor applied to stress-test iteration counts.
#if defined(RK_TEST_TSAN)
inline constexpr std::size_t scale_divisor = 4;
#elif defined(RK_TEST_ASAN) || defined(RINGKERNEL_TEST_REDUCED)
inline constexpr std::size_t scale_divisor = 2;
#else
inline constexpr std::size_t scale_divisor = 1;
#endif

/// `n` scaled down for slow builds (never below 1).
constexpr std::size_t scaled(std::size_t n) noexcept {
  return n / scale_divisor == 0 ? 1 : n / scale_divisor;
}

/// What a busy-wait loop does between attempts: give the core away, because the suites run on
/// machines with as few as two cores and the other side of a ring needs one to make progress.
inline void backoff() noexcept { std::this_thread::yield(); }

/// Runs `f` and returns the code of the ringkernel::Error it throws, ErrorCode::Ok when it
/// returns normally. Any other exception propagates (and fails the test).
template <class F>
ringkernel::ErrorCode error_code_of(F&& f) {
  try {
    f();
  } catch (const ringkernel::Error& e) {
    return e.code();
  }
  return ringkernel::ErrorCode::Ok;
}

/// A value type that counts constructions and destructions and detects a destructor running
/// twice on the same object (or on an object never constructed).
struct Tracked {
  static constexpr std::uint32_t alive_marker = 0xA11CE5u;
  static constexpr std::uint32_t dead_marker = 0xDEADu;
  static std::atomic<long> constructed;
  static std::atomic<long> destroyed;
  static std::atomic<long> bad_destroys;
  static void reset() noexcept {
    constructed = 0;
    destroyed = 0;
    bad_destroys = 0;
  }
  static long live() noexcept { return constructed.load() - destroyed.load(); }

  int value = 0;
  std::uint32_t marker = alive_marker;

  Tracked() noexcept { ++constructed; }
  explicit Tracked(int v) noexcept : value(v) { ++constructed; }
  Tracked(const Tracked& o) noexcept : value(o.value) { ++constructed; }
  Tracked(Tracked&& o) noexcept : value(o.value) {
    o.value = -1;
    ++constructed;
  }
  Tracked& operator=(const Tracked& o) noexcept {
    value = o.value;
    return *this;
  }
  Tracked& operator=(Tracked&& o) noexcept {
    value = o.value;
    o.value = -1;
    return *this;
  }
  ~Tracked() {
    if (marker != alive_marker) ++bad_destroys;
    marker = dead_marker;
    ++destroyed;
  }
};
inline std::atomic<long> Tracked::constructed{0};
inline std::atomic<long> Tracked::destroyed{0};
inline std::atomic<long> Tracked::bad_destroys{0};

}  // namespace rk_test

// ---- printing in failure messages ------------------------------------------------------------
// doctest prints enums through their numeric value unless an overload of toString is found by
// argument-dependent lookup; these give the names instead.
namespace ringkernel {
inline doctest::String toString(ErrorCode c) { return to_string(c); }
inline doctest::String toString(EnqueueStatus s) {
  switch (s) {
    case EnqueueStatus::Enqueued: return "Enqueued";
    case EnqueueStatus::EnqueuedDroppedOldest: return "EnqueuedDroppedOldest";
    case EnqueueStatus::Full: return "Full";
    case EnqueueStatus::Closed: return "Closed";
  }
  return "EnqueueStatus(?)";
}
}  // namespace ringkernel

namespace doctest {
template <>
struct StringMaker<ringkernel::HlcTimestamp> {
  static String convert(const ringkernel::HlcTimestamp& t) {
    return ("{" + std::to_string(t.physical) + ", " + std::to_string(t.logical) + ", " + std::to_string(t.node_id) +
            "}")
        .c_str();
  }
};
template <>
struct StringMaker<ringkernel::Uint128> {
  static String convert(const ringkernel::Uint128& v) {
    return ("{" + std::to_string(v.high) + ", " + std::to_string(v.low) + "}").c_str();
  }
};
}  // namespace doctest
