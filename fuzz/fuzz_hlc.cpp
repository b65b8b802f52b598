// fuzz_hlc.cpp — libFuzzer target for Uint128::from_bytes, HlcTimestamp::unpack/pack and
// HlcClock::try_update.
// SPDX-License-Identifier: MIT
//
//  * 16 bytes: one value v. from_bytes/to_bytes round-trip, pack(unpack(v)) == v and
//    unpack(pack(t)) == t; the clock properties below for unpack(v).
//  * 32 bytes: two values a, b. Additionally a < b agrees between Uint128 order, memcmp of the
//    big-endian bytes and HlcTimestamp order (and likewise ==, <=, >, >=, !=).
//  * any other size: from_bytes throws ringkernel::Error with code InvalidArgument (nothing
//    else), and so does a null pointer with size 16.
//
// Clock properties, for each decoded timestamp t, on fresh clocks:
//  * small max drift (1 s), t as decoded: try_update either succeeds with a result r such that
//    r > t, r > the clock's previous tick, r.node_id == the clock's node, r.logical < 2^12 and
//    a following tick() > r; or fails with ClockDrift, and only when t is ahead of the wall
//    clock. Also with t moved next to the wall clock (physical = now + a signed offset of
//    up to ~8 s taken from t), so that both outcomes are exercised.
//  * unlimited max drift: every t whose physical fits the clock's 52 bits is accepted, with
//    the same properties.
//
// Any violated property calls std::abort(), which libFuzzer reports as a crash.

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace rk = ringkernel;


namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_hlc: property violated: %s\n", what);
  std::abort();
}

#define FUZZ_CHECK(cond)                        \
  do {                                          \
    if (!(cond)) fail(#cond " (" __FILE__ ")"); \
  } while (0)

constexpr std::uint64_t kPhysicalMax = (std::uint64_t{1} << (64 - rk::HlcClock::logical_bits)) - 1;
constexpr std::uint32_t kLogicalLimit = std::uint32_t{1} << rk::HlcClock::logical_bits;
constexpr std::uint32_t kNode = 7;
// Slack for comparing the clock's coarse wall reading with HlcTimestamp::now()'s precise one.
constexpr std::uint64_t kWallSlackUs = 500000;

std::uint64_t wall_now_us() noexcept { return rk::HlcTimestamp::now(0).physical; }

rk::Uint128 decode(const std::uint8_t* data) {
  try {
    return rk::Uint128::from_bytes(data, 16);
  } catch (...) {
    fail("Uint128::from_bytes threw for 16 bytes");
  }
}

// The properties of one HlcTimestamp decoded from the 16 bytes at `data`.
void check_value(const std::uint8_t* data, rk::Uint128 v, rk::HlcTimestamp t) {
  std::uint8_t out[16];
  v.to_bytes(out);
  FUZZ_CHECK(std::memcmp(out, data, 16) == 0);
  FUZZ_CHECK(t.pack() == v);
  FUZZ_CHECK(rk::HlcTimestamp::unpack(t.pack()) == t);
  FUZZ_CHECK(t.physical == v.high);
  FUZZ_CHECK(t.logical == static_cast<std::uint32_t>(v.low >> 32));
  FUZZ_CHECK(t.node_id == static_cast<std::uint32_t>(v.low));
  FUZZ_CHECK(t.as_micros() == t.physical);
  FUZZ_CHECK(t.as_millis() == t.physical / 1000);
  FUZZ_CHECK(t == t && !(t != t) && !(t < t) && t <= t && t >= t && !(t > t));
  FUZZ_CHECK(v == v && !(v != v) && !(v < v) && v <= v && v >= v && !(v > v));
  FUZZ_CHECK(rk::HlcTimestamp::zero() <= t);
}

// An accepted update's result `r` on `clock`, whose tick before the update was `prev`.
void check_merged(rk::HlcClock& clock, const rk::HlcTimestamp& remote, const rk::HlcTimestamp& prev,
                  const rk::HlcTimestamp& r) {
  FUZZ_CHECK(r > remote);
  FUZZ_CHECK(r > prev);
  FUZZ_CHECK(r.node_id == clock.node_id());
  FUZZ_CHECK(r.logical < kLogicalLimit);
  FUZZ_CHECK(r.physical <= kPhysicalMax);
  FUZZ_CHECK(r.pack() > prev.pack());
  const rk::HlcTimestamp after = clock.tick();
  FUZZ_CHECK(after > r);
  FUZZ_CHECK(clock.now() >= r);
}

// A clock with a small max drift: failures only for remotes ahead of the wall clock.
void drive_small_drift(const rk::HlcTimestamp& remote) {
  constexpr std::chrono::microseconds drift = std::chrono::seconds(1);
  rk::HlcClock clock(kNode, drift);
  const rk::HlcTimestamp prev = clock.tick();
  const std::uint64_t before = wall_now_us();
  rk::Result<rk::HlcTimestamp> r = clock.try_update(remote);
  const std::uint64_t after = wall_now_us();
  if (r.ok()) {
    // Accepted: the remote was at most max_drift ahead of the wall clock at the call.
    FUZZ_CHECK(remote.physical <= kPhysicalMax);
    FUZZ_CHECK(remote.physical <= after + static_cast<std::uint64_t>(drift.count()) + kWallSlackUs);
    check_merged(clock, remote, prev, r.value());
  } else {
    if (r.code() != rk::ErrorCode::ClockDrift) fail("try_update failed with a code other than ClockDrift");
    FUZZ_CHECK(!r.message().empty());
    // Refused: the remote was well ahead of the wall clock (drift 1 s, slack 0.5 s).
    FUZZ_CHECK(remote.physical > before + static_cast<std::uint64_t>(drift.count()) - kWallSlackUs);
    // A refused update leaves the clock unchanged: its next tick is still above prev and
    // not pulled up to the remote.
    const rk::HlcTimestamp next = clock.tick();
    FUZZ_CHECK(next > prev);
    FUZZ_CHECK(next.physical <= std::max(prev.physical + 1, wall_now_us() + kWallSlackUs));
  }
}

// A clock that accepts any lead: every remote up to HlcClock::max_remote_physical merges
// (the rest of the 52-bit range is headroom that keeps the state word from wrapping).
void drive_unlimited_drift(const rk::HlcTimestamp& remote) {
  rk::HlcClock clock(kNode + 1, std::chrono::microseconds::max());
  const rk::HlcTimestamp prev = clock.tick();
  rk::Result<rk::HlcTimestamp> r = clock.try_update(remote);
  if (remote.physical <= rk::HlcClock::max_remote_physical) {
    if (!r.ok()) fail("an unlimited-drift clock refused a remote within its range");
    check_merged(clock, remote, prev, r.value());
  } else {
    FUZZ_CHECK(!r.ok());
    if (r.code() != rk::ErrorCode::ClockDrift) fail("try_update failed with a code other than ClockDrift");
  }
}

void drive_clocks(const rk::HlcTimestamp& t) {
  drive_small_drift(t);
  drive_unlimited_drift(t);
  // The same (logical, node_id) next to the wall clock: offset from bits of physical, in
  // [-2^23, 2^23) us (about +-8 s), so that both sides of the 1 s drift limit are reached.
  const auto offset = static_cast<std::int32_t>(static_cast<std::uint32_t>(t.physical) << 8) / 256;
  const std::uint64_t now = wall_now_us();
  const std::uint64_t physical =
      offset < 0 ? now - static_cast<std::uint64_t>(-static_cast<std::int64_t>(offset)) : now + static_cast<std::uint64_t>(offset);
  drive_small_drift(rk::HlcTimestamp{physical, t.logical, t.node_id});
}

void check_rejects_size(const std::uint8_t* data, std::size_t size) {
  try {
    (void)rk::Uint128::from_bytes(data, size);
    fail("Uint128::from_bytes accepted a size other than 16");
  } catch (const rk::Error& e) {
    if (e.code() != rk::ErrorCode::InvalidArgument) fail("Uint128::from_bytes threw a code other than InvalidArgument");
  } catch (...) {
    fail("Uint128::from_bytes threw something other than ringkernel::Error");
  }
}

int sign(int x) { return (x > 0) - (x < 0); }

// The orders of two values must agree: Uint128, big-endian bytes, HlcTimestamp.
void check_order(const std::uint8_t* a_bytes, const std::uint8_t* b_bytes) {
  const rk::Uint128 a = decode(a_bytes);
  const rk::Uint128 b = decode(b_bytes);
  const rk::HlcTimestamp ta = rk::HlcTimestamp::unpack(a);
  const rk::HlcTimestamp tb = rk::HlcTimestamp::unpack(b);
  const int bytes_cmp = sign(std::memcmp(a_bytes, b_bytes, 16));
  const int u_cmp = a < b ? -1 : (b < a ? 1 : 0);
  const int t_cmp = ta < tb ? -1 : (tb < ta ? 1 : 0);
  FUZZ_CHECK(u_cmp == bytes_cmp);
  FUZZ_CHECK(t_cmp == bytes_cmp);
  FUZZ_CHECK((a == b) == (bytes_cmp == 0) && (a != b) == (bytes_cmp != 0));
  FUZZ_CHECK((ta == tb) == (bytes_cmp == 0) && (ta != tb) == (bytes_cmp != 0));
  FUZZ_CHECK((a <= b) == (bytes_cmp <= 0) && (a > b) == (bytes_cmp > 0) && (a >= b) == (bytes_cmp >= 0));
  FUZZ_CHECK((ta <= tb) == (bytes_cmp <= 0) && (ta > tb) == (bytes_cmp > 0) && (ta >= tb) == (bytes_cmp >= 0));
  FUZZ_CHECK((ta.pack() < tb.pack()) == (ta < tb));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size != 16) check_rejects_size(data, size);
  check_rejects_size(nullptr, 16);

  if (size == 16 || size == 32) {
    for (std::size_t off = 0; off < size; off += 16) {
      const rk::Uint128 v = decode(data + off);
      const rk::HlcTimestamp t = rk::HlcTimestamp::unpack(v);
      check_value(data + off, v, t);
      drive_clocks(t);
    }
  }
  if (size == 32) check_order(data, data + 16);
  return 0;
}
