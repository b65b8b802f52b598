// Hybrid Logical Clock: HlcTimestamp, Uint128, HlcClock (tick, now, update, drift).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "ringkernel.hpp"
#include "test_support.hpp"

using ringkernel::ErrorCode;
using ringkernel::HlcClock;
using ringkernel::HlcTimestamp;
using ringkernel::Uint128;
using rk_test::error_code_of;

namespace {

constexpr std::uint64_t kSecond = 1000000;  // µs
constexpr std::uint32_t kLogicalMax = (1u << HlcClock::logical_bits) - 1;  // 4095

std::uint64_t system_micros() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

int memcmp_sign(const Uint128& a, const Uint128& b) {
  std::uint8_t ba[16], bb[16];
  a.to_bytes(ba);
  b.to_bytes(bb);
  const int c = std::memcmp(ba, bb, 16);
  return (c > 0) - (c < 0);
}

int numeric_sign(const Uint128& a, const Uint128& b) { return a < b ? -1 : (b < a ? 1 : 0); }

// A clock whose state was pushed `lead_us` ahead of the wall clock by a remote timestamp, so
// that the wall clock cannot move it for the duration of a test: every later value is then
// determined by the clock's own rules alone.
HlcTimestamp lead_clock(HlcClock& clk, std::uint64_t lead_us, std::uint32_t logical = 0) {
  const HlcTimestamp remote{system_micros() + lead_us, logical, 99};
  return clk.update(remote);
}

// What each thread got is strictly increasing, and no timestamp appears twice across threads.
void check_per_thread_increasing_and_unique(const std::vector<std::vector<HlcTimestamp>>& got) {
  std::vector<Uint128> all;
  for (std::size_t t = 0; t < got.size(); ++t) {
    CAPTURE(t);
    std::size_t not_increasing = 0;
    for (std::size_t i = 1; i < got[t].size(); ++i)
      if (!(got[t][i] > got[t][i - 1])) ++not_increasing;
    CHECK(not_increasing == 0u);
    for (const HlcTimestamp& ts : got[t]) all.push_back(ts.pack());
  }
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
}

}  // namespace

TEST_SUITE("hlc") {

// ---- HlcTimestamp -------------------------------------------------------------------------

TEST_CASE("HlcTimestamp is brace-constructible as {physical, logical, node_id}") {
  constexpr HlcTimestamp t{1234567, 89, 42};
  static_assert(t.physical == 1234567 && t.logical == 89 && t.node_id == 42, "field order");
  static_assert(sizeof(HlcTimestamp) == 16, "16 bytes");
  static_assert(offsetof(HlcTimestamp, physical) == 0 && offsetof(HlcTimestamp, logical) == 8 &&
                    offsetof(HlcTimestamp, node_id) == 12,
                "GPU-shared layout");
  const HlcTimestamp u{5, 6, 7};
  CHECK(u.physical == 5);
  CHECK(u.logical == 6);
  CHECK(u.node_id == 7);
}

TEST_CASE("zero() is {0,0,0} and the smallest timestamp") {
  constexpr HlcTimestamp z = HlcTimestamp::zero();
  static_assert(z.physical == 0 && z.logical == 0 && z.node_id == 0, "zero");
  CHECK(z == HlcTimestamp{0, 0, 0});
  CHECK(z == HlcTimestamp{});
  CHECK(z < HlcTimestamp{0, 0, 1});
  CHECK(z < HlcTimestamp{0, 1, 0});
  CHECK(z < HlcTimestamp{1, 0, 0});
  CHECK(z <= z);
  CHECK_FALSE(z < z);
  CHECK(z.pack() == Uint128{0, 0});
}

TEST_CASE("total order is (physical, logical, node_id)") {
  const HlcTimestamp a{10, 5, 9};
  CHECK(a < HlcTimestamp{11, 0, 0});  // physical dominates logical and node
  CHECK(a < HlcTimestamp{10, 6, 0});  // then logical dominates node
  CHECK(a < HlcTimestamp{10, 5, 10});  // node breaks ties
  CHECK(a > HlcTimestamp{10, 5, 8});
  CHECK(a > HlcTimestamp{9, 0xFFFFFFFFu, 0xFFFFFFFFu});
  CHECK(a == HlcTimestamp{10, 5, 9});
  CHECK(a != HlcTimestamp{10, 5, 8});
  CHECK(a >= a);
  CHECK(a <= a);
  CHECK_FALSE(a > a);
}

TEST_CASE("as_micros and as_millis") {
  constexpr HlcTimestamp t{1234567891, 3, 4};
  static_assert(t.as_micros() == 1234567891, "micros");
  CHECK(t.as_micros() == 1234567891u);
  CHECK(t.as_millis() == 1234567u);  // truncated
  CHECK(HlcTimestamp{999, 0, 0}.as_millis() == 0u);
  CHECK(HlcTimestamp{1000, 0, 0}.as_millis() == 1u);
  CHECK(HlcTimestamp{1999, 0, 0}.as_millis() == 1u);
}

TEST_CASE("HlcTimestamp::now(node) reads the wall clock in microseconds since the epoch") {
  const std::uint64_t before = system_micros();
  const HlcTimestamp t = HlcTimestamp::now(17);
  const std::uint64_t after = system_micros();
  CHECK(t.node_id == 17u);
  CHECK(t.logical == 0u);
  // Bracketed by two system_clock readings (1 s of slack for a stepped clock); a unit error
  // (ms, ns) or a different epoch would be off by orders of magnitude.
  CHECK(t.physical + kSecond >= before);
  CHECK(t.physical <= after + kSecond);
  CHECK(t.as_millis() / 1000 == t.physical / kSecond);
}

// ---- pack / unpack ------------------------------------------------------------------------

TEST_CASE("pack layout: physical in bits 127..64, logical in 63..32, node_id in 31..0") {
  constexpr Uint128 p = HlcTimestamp{0x0123456789ABCDEFull, 0x11223344u, 0x55667788u}.pack();
  static_assert(p.high == 0x0123456789ABCDEFull && p.low == 0x1122334455667788ull, "layout");
  CHECK(HlcTimestamp{1, 2, 3}.pack() == Uint128{1, (std::uint64_t{2} << 32) | 3});
  CHECK(HlcTimestamp::unpack(Uint128{1, (std::uint64_t{2} << 32) | 3}) == HlcTimestamp{1, 2, 3});
}

TEST_CASE("pack/unpack round trip: edge values and random values") {
  constexpr std::uint64_t max64 = std::numeric_limits<std::uint64_t>::max();
  constexpr std::uint32_t max32 = std::numeric_limits<std::uint32_t>::max();
  const HlcTimestamp edges[] = {
      {0, 0, 0},         {max64, max32, max32}, {max64, 0, 0},         {0, max32, 0},      {0, 0, max32},
      {1, 1, 1},         {max64, max32, 0},     {0x8000000000000000ull, 0x80000000u, 0x80000000u},
      {max64 - 1, max32 - 1, max32 - 1},
  };
  for (const HlcTimestamp& t : edges) {
    CAPTURE(t);
    CHECK(HlcTimestamp::unpack(t.pack()) == t);
  }
  CHECK(HlcTimestamp{max64, max32, max32}.pack() == Uint128{max64, max64});
  CHECK(HlcTimestamp::unpack(Uint128{max64, max64}) == HlcTimestamp{max64, max32, max32});
  CHECK(HlcTimestamp::unpack(Uint128{0, 0}) == HlcTimestamp::zero());

  std::mt19937_64 rng(12345);
  int mismatches = 0;
  for (int i = 0; i < 100000; ++i) {
    const HlcTimestamp t{rng(), static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng())};
    if (HlcTimestamp::unpack(t.pack()) != t) ++mismatches;
    // Every 128-bit value is a timestamp, and pack inverts unpack too.
    const Uint128 v{rng(), rng()};
    if (HlcTimestamp::unpack(v).pack() != v) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("packed order equals timestamp order (random pairs, many with equal physical)") {
  std::mt19937_64 rng(777);
  int order_errors = 0, equal_seen = 0, same_physical_seen = 0;
  for (int i = 0; i < 200000; ++i) {
    HlcTimestamp a, b;
    switch (i % 4) {
      case 0:  // unconstrained
        a = {rng(), static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng())};
        b = {rng(), static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng())};
        break;
      case 1:  // equal physical, logical decides
        a = {rng(), static_cast<std::uint32_t>(rng() % 4), static_cast<std::uint32_t>(rng())};
        b = {a.physical, static_cast<std::uint32_t>(rng() % 4), static_cast<std::uint32_t>(rng())};
        break;
      case 2:  // equal physical and logical, node decides (or equal)
        a = {rng(), static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng() % 3)};
        b = {a.physical, a.logical, static_cast<std::uint32_t>(rng() % 3)};
        break;
      default:  // small values, high-bit patterns
        a = {rng() % 3, static_cast<std::uint32_t>(rng() % 3) << 31, static_cast<std::uint32_t>(rng() % 3) << 30};
        b = {rng() % 3, static_cast<std::uint32_t>(rng() % 3) << 31, static_cast<std::uint32_t>(rng() % 3) << 30};
        break;
    }
    if (a == b) ++equal_seen;
    if (a.physical == b.physical) ++same_physical_seen;
    const Uint128 pa = a.pack(), pb = b.pack();
    if ((a < b) != (pa < pb) || (a == b) != (pa == pb) || (a > b) != (pa > pb)) ++order_errors;
    // ...and the big-endian bytes order the same way under memcmp.
    const int want = a < b ? -1 : (b < a ? 1 : 0);
    if (memcmp_sign(pa, pb) != want) ++order_errors;
  }
  CHECK(order_errors == 0);
  CHECK(equal_seen > 0);  // the generator really covered the tie cases
  CHECK(same_physical_seen > 50000);
}

// ---- Uint128 ------------------------------------------------------------------------------

TEST_CASE("Uint128 to_bytes is big-endian and from_bytes inverts it") {
  const Uint128 v{0x0102030405060708ull, 0x090A0B0C0D0E0F10ull};
  std::uint8_t b[16];
  v.to_bytes(b);
  for (int i = 0; i < 16; ++i) CHECK(b[i] == i + 1);
  CHECK(Uint128::from_bytes(b, 16) == v);

  std::mt19937_64 rng(99);
  int mismatches = 0;
  for (int i = 0; i < 50000; ++i) {
    const Uint128 r{i % 7 == 0 ? 0 : rng(), i % 11 == 0 ? ~std::uint64_t{0} : rng()};
    std::uint8_t bytes[16];
    r.to_bytes(bytes);
    if (Uint128::from_bytes(bytes, 16) != r) ++mismatches;
  }
  CHECK(mismatches == 0);
  const Uint128 edges[] = {{0, 0}, {~0ull, ~0ull}, {0, ~0ull}, {~0ull, 0}, {1, 0}, {0, 1}};
  for (const Uint128& e : edges) {
    std::uint8_t bytes[16];
    e.to_bytes(bytes);
    CHECK(Uint128::from_bytes(bytes, 16) == e);
  }
}

TEST_CASE("Uint128 memcmp order equals numeric order") {
  std::mt19937_64 rng(4242);
  int errors = 0;
  for (int i = 0; i < 100000; ++i) {
    Uint128 a{rng(), rng()}, b{rng(), rng()};
    if (i % 3 == 0) b.high = a.high;          // low word decides
    if (i % 5 == 0) b = a;                    // equal
    if (i % 7 == 0) b.low = a.low ^ (1ull << (rng() % 64));  // differ in one bit
    if (memcmp_sign(a, b) != numeric_sign(a, b)) ++errors;
    // The comparison operators agree with each other.
    if ((a < b) + (a == b) + (a > b) != 1 || (a <= b) != !(a > b) || (a >= b) != !(a < b) || (a != b) == (a == b))
      ++errors;
  }
  CHECK(errors == 0);
  CHECK(Uint128{0, ~0ull} < Uint128{1, 0});  // high word dominates
  CHECK(Uint128{1, 0} > Uint128{0, ~0ull});
}

TEST_CASE("Uint128::from_bytes rejects any size but 16 with InvalidArgument") {
  std::uint8_t bytes[32] = {};
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{8}, std::size_t{15}, std::size_t{17},
                        std::size_t{32}}) {
    CAPTURE(n);
    CHECK(error_code_of([&] { (void)Uint128::from_bytes(bytes, n); }) == ErrorCode::InvalidArgument);
  }
  CHECK(error_code_of([&] { (void)Uint128::from_bytes(nullptr, 16); }) == ErrorCode::InvalidArgument);
  CHECK_THROWS_AS((void)Uint128::from_bytes(bytes, 15), ringkernel::Error);
}

// ---- HlcClock: construction ---------------------------------------------------------------

TEST_CASE("HlcClock construction: node id, max drift, negative drift rejected") {
  HlcClock a(5);
  CHECK(a.node_id() == 5u);
  CHECK(a.max_drift() == std::chrono::seconds(60));
  HlcClock b(6, std::chrono::milliseconds(250));
  CHECK(b.max_drift() == std::chrono::milliseconds(250));
  HlcClock zero_drift(7, std::chrono::microseconds(0));
  CHECK(zero_drift.max_drift().count() == 0);

  CHECK(error_code_of([] { HlcClock c(1, std::chrono::microseconds(-1)); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { HlcClock c(1, std::chrono::seconds(-60)); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { HlcClock c(1, std::chrono::microseconds::min()); }) == ErrorCode::InvalidArgument);
}

TEST_CASE("a fresh clock reads the wall clock") {
  HlcClock clk(3);
  const std::uint64_t wall = system_micros();
  const HlcTimestamp n = clk.now();
  const HlcTimestamp t = clk.tick();
  CHECK(n.node_id == 3u);
  CHECK(t.node_id == 3u);
  // The clock reads a coarse (ms-resolution) wall clock: within a second of system_clock.
  CHECK(n.physical + kSecond >= wall);
  CHECK(n.physical <= wall + kSecond);
  CHECK(t.physical + kSecond >= wall);
  CHECK(t.physical <= wall + kSecond);
  CHECK(t > n);
}

// ---- HlcClock: tick -----------------------------------------------------------------------

TEST_CASE("tick is strictly increasing in one thread") {
  HlcClock clk(1);
  HlcTimestamp prev = clk.tick();
  int errors = 0;
  for (int i = 0; i < 100000; ++i) {
    const HlcTimestamp t = clk.tick();
    if (!(t > prev) || t.node_id != 1u || t.logical > kLogicalMax) ++errors;
    prev = t;
  }
  CHECK(errors == 0);
}

TEST_CASE("tick is strictly increasing per thread and unique across 4 threads") {
  constexpr int kThreads = 4;
  const std::size_t per_thread = rk_test::scaled(200000);
  HlcClock clk(11);
  std::vector<std::vector<HlcTimestamp>> got(kThreads);
  for (auto& v : got) v.reserve(per_thread);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) rk_test::backoff();  // start together for contention
      for (std::size_t i = 0; i < per_thread; ++i) got[t].push_back(clk.tick());
    });
  }
  for (auto& th : threads) th.join();

  std::vector<Uint128> all;
  all.reserve(per_thread * kThreads);
  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    REQUIRE(got[t].size() == per_thread);
    std::size_t not_increasing = 0, wrong_node = 0;
    for (std::size_t i = 0; i < got[t].size(); ++i) {
      if (i > 0 && !(got[t][i] > got[t][i - 1])) ++not_increasing;
      if (got[t][i].node_id != 11u) ++wrong_node;
      all.push_back(got[t][i].pack());
    }
    CHECK(not_increasing == 0u);
    CHECK(wrong_node == 0u);
  }
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
}

TEST_CASE("logical overflow carries into physical, keeping the order") {
  HlcClock clk(2);
  // 30 s ahead: the wall clock cannot catch up during the test, so ticks only count.
  const HlcTimestamp base = lead_clock(clk, 30 * kSecond, 5);
  REQUIRE(base.logical == 6u);
  HlcTimestamp prev = base;
  int errors = 0;
  for (std::uint32_t k = 1; k <= 3 * (kLogicalMax + 1); ++k) {
    const HlcTimestamp t = clk.tick();
    // state = (physical << 12 | logical) + k: exactly predictable.
    const std::uint64_t state = ((base.physical << HlcClock::logical_bits) | base.logical) + k;
    const HlcTimestamp want{state >> HlcClock::logical_bits, static_cast<std::uint32_t>(state & kLogicalMax), 2};
    if (t != want || !(t > prev) || t.logical > kLogicalMax) ++errors;
    prev = t;
  }
  CHECK(errors == 0);
  CHECK(prev.physical == base.physical + 3);
}

// ---- HlcClock: tick_block -------------------------------------------------------------------

namespace {
// The clock's state word of a timestamp (physical << 12 | logical).
std::uint64_t state_of(const HlcTimestamp& t) { return (t.physical << HlcClock::logical_bits) | t.logical; }
HlcTimestamp from_state(std::uint64_t s, std::uint32_t node) {
  return HlcTimestamp{s >> HlcClock::logical_bits, static_cast<std::uint32_t>(s & kLogicalMax), node};
}
}  // namespace

TEST_CASE("tick_block reserves n consecutive ticks: above every earlier tick, below every later one") {
  HlcClock clk(3);
  // 30 s ahead: the wall clock cannot catch up, so the states are exactly predictable.
  const HlcTimestamp base = lead_clock(clk, 30 * kSecond, 4090);  // near a logical carry
  const HlcTimestamp first = clk.tick_block(10);
  CHECK(state_of(first) == state_of(base) + 1);
  CHECK(first.node_id == 3u);
  // The block's ten states cross the carry from logical 4095 into the next microsecond.
  CHECK(from_state(state_of(first) + 9, 3).physical == base.physical + 1);
  const HlcTimestamp next = clk.tick();
  CHECK(state_of(next) == state_of(first) + 10);  // the block's last state is taken, not reused
  CHECK(clk.now() == next);
  SUBCASE("n = 0 counts as 1") {
    const HlcTimestamp one = clk.tick_block(0);
    CHECK(state_of(one) == state_of(next) + 1);
    CHECK(state_of(clk.tick()) == state_of(one) + 1);
  }
}

TEST_CASE("tick_block on a clock behind the wall clock jumps to it, like tick") {
  HlcClock clk(4);
  const HlcTimestamp start = clk.now();  // the wall clock when the clock was made
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the coarse wall clock moves on
  const HlcTimestamp first = clk.tick_block(5);
  CHECK(first.physical >= start.physical + 40000);  // jumped to the wall (coarse: <= 10 ms steps)
  CHECK(first.logical == 1u);
  CHECK(clk.tick() > from_state(state_of(first) + 4, 4));  // after the block's last
}

TEST_CASE("tick_block and tick from 4 threads: every timestamp unique, each thread's increasing") {
  constexpr int kThreads = 4;
  const std::size_t rounds = rk_test::scaled(20000);
  HlcClock clk(12);
  std::vector<std::vector<HlcTimestamp>> got(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) rk_test::backoff();
      for (std::size_t i = 0; i < rounds; ++i) {
        if ((i + static_cast<std::size_t>(t)) % 2 == 0) {
          got[t].push_back(clk.tick());
        } else {
          const std::uint32_t n = static_cast<std::uint32_t>(1 + (i % 7));
          const HlcTimestamp first = clk.tick_block(n);
          for (std::uint32_t k = 0; k < n; ++k) got[t].push_back(from_state(state_of(first) + k, first.node_id));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  check_per_thread_increasing_and_unique(got);
}

// ---- HlcClock: now ------------------------------------------------------------------------

TEST_CASE("now() does not advance the clock; a later tick is strictly greater") {
  HlcClock clk(4);
  const HlcTimestamp t0 = clk.tick();
  const HlcTimestamp n1 = clk.now();
  const HlcTimestamp n2 = clk.now();
  CHECK(n1 >= t0);
  CHECK(n2 >= n1);
  const HlcTimestamp t1 = clk.tick();
  CHECK(t1 > n1);
  CHECK(t1 > n2);
  CHECK(t1 > t0);

  // With the clock ahead of the wall clock, now() is exactly the last timestamp, however often
  // it is called, and the next tick is exactly one logical step above it.
  const HlcTimestamp lead = lead_clock(clk, 20 * kSecond);
  for (int i = 0; i < 1000; ++i) {
    const HlcTimestamp n = clk.now();
    if (n != lead) {
      CHECK(n == lead);
      break;
    }
  }
  const HlcTimestamp next = clk.tick();
  CHECK(next == HlcTimestamp{lead.physical, lead.logical + 1, 4});
  CHECK(clk.now() == next);
}

TEST_CASE("now() between ticks from several threads never exceeds a later tick") {
  HlcClock clk(8);
  std::atomic<bool> stop{false};
  std::thread ticker([&] {
    while (!stop.load()) (void)clk.tick();
  });
  int errors = 0;
  for (std::size_t i = 0; i < rk_test::scaled(20000); ++i) {
    const HlcTimestamp n = clk.now();
    const HlcTimestamp t = clk.tick();
    if (!(t > n)) ++errors;
  }
  stop = true;
  ticker.join();
  CHECK(errors == 0);
}

// ---- HlcClock: update ---------------------------------------------------------------------

TEST_CASE("update: a remote ahead (within the drift) is adopted") {
  HlcClock clk(1);
  const HlcTimestamp before = clk.tick();
  const HlcTimestamp remote{system_micros() + 10 * kSecond, 5, 9};
  const HlcTimestamp r = clk.update(remote);
  CHECK(r > remote);
  CHECK(r > before);
  CHECK(r.physical >= remote.physical);
  CHECK(r.node_id == 1u);
  // The smallest timestamp above the remote: same physical, logical + 1.
  CHECK(r == HlcTimestamp{remote.physical, 6, 1});
  const HlcTimestamp after = clk.tick();
  CHECK(after > r);
  CHECK(after > remote);

  // 59 s ahead is still inside the default 60 s.
  HlcClock clk2(2);
  const HlcTimestamp far{system_micros() + 59 * kSecond, 0, 3};
  const HlcTimestamp r2 = clk2.update(far);
  CHECK(r2 > far);
  CHECK(r2.physical >= far.physical);
}

TEST_CASE("update: logical edge cases 4094, 4095, 4096 and 0xFFFFFFFF") {
  struct Case {
    std::uint32_t remote_logical;
    std::uint64_t want_physical_delta;
    std::uint32_t want_logical;
  };
  // The clock keeps 12 logical bits: the smallest representable timestamp above a remote
  // logical of 4095 or more is the next microsecond.
  const Case cases[] = {{0, 0, 1},          {4094, 0, 4095},       {4095, 1, 0},
                        {4096, 1, 0},       {0x7FFFFFFFu, 1, 0},   {0xFFFFFFFEu, 1, 0},
                        {0xFFFFFFFFu, 1, 0}};
  for (const Case& c : cases) {
    CAPTURE(c.remote_logical);
    HlcClock clk(21);
    const HlcTimestamp before = clk.tick();
    const HlcTimestamp remote{system_micros() + 5 * kSecond, c.remote_logical, 0xFFFFFFFFu};
    const HlcTimestamp r = clk.update(remote);
    CHECK(r > remote);
    CHECK(r > before);
    CHECK(r.logical <= kLogicalMax);
    CHECK(r == HlcTimestamp{remote.physical + c.want_physical_delta, c.want_logical, 21});
    const HlcTimestamp t = clk.tick();
    CHECK(t > r);
    CHECK(t > remote);
  }
}

TEST_CASE("update: edge logicals on a remote behind the clock") {
  HlcClock clk(22);
  const HlcTimestamp lead = lead_clock(clk, 5 * kSecond);
  for (std::uint32_t logical : {0u, 4095u, 4096u, 0xFFFFFFFFu}) {
    CAPTURE(logical);
    const HlcTimestamp prev = clk.now();
    const HlcTimestamp remote{lead.physical - 1, logical, 0xFFFFFFFFu};
    const HlcTimestamp r = clk.update(remote);
    CHECK(r > remote);
    CHECK(r > prev);
    CHECK(r == HlcTimestamp{prev.physical, prev.logical + 1, 22});  // just one step
  }
}

TEST_CASE("update: a remote behind the clock still advances it") {
  HlcClock clk(3);
  const HlcTimestamp t = clk.tick();
  for (const HlcTimestamp& remote : {HlcTimestamp::zero(), HlcTimestamp{t.physical - kSecond, 100, 2},
                                     HlcTimestamp{t.physical, 0, 0}, HlcTimestamp{1, 0xFFFFFFFFu, 0xFFFFFFFFu}}) {
    CAPTURE(remote);
    const HlcTimestamp before = clk.now();
    const HlcTimestamp r = clk.update(remote);
    CHECK(r > remote);
    CHECK(r > before);
    CHECK(r > t);
    CHECK(clk.tick() > r);
  }
}

TEST_CASE("update returns more than the remote and than everything returned before (random mix)") {
  HlcClock clk(31);
  std::mt19937_64 rng(2024);
  HlcTimestamp last = clk.tick();
  int errors = 0;
  for (int i = 0; i < 20000; ++i) {
    const int op = static_cast<int>(rng() % 3);
    if (op == 0) {
      const HlcTimestamp t = clk.tick();
      if (!(t > last)) ++errors;
      last = t;
    } else {
      // Within ±2 s of the wall clock, logicals anywhere in 0..2^32-1 (often the edges).
      const std::uint64_t wall = system_micros();
      const std::uint64_t physical = wall - 2 * kSecond + rng() % (4 * kSecond);
      std::uint32_t logical = static_cast<std::uint32_t>(rng());
      if (rng() % 4 == 0) logical = (rng() % 2) ? 0xFFFFFFFFu : kLogicalMax;
      const HlcTimestamp remote{physical, logical, static_cast<std::uint32_t>(rng())};
      const HlcTimestamp r = clk.update(remote);
      if (!(r > remote) || !(r > last) || r.node_id != 31u) ++errors;
      last = r;
    }
  }
  CHECK(errors == 0);
}

TEST_CASE("update and tick from several threads return unique, per-thread increasing timestamps") {
  constexpr int kThreads = 4;
  const std::size_t per_thread = rk_test::scaled(50000);
  HlcClock clk(12);
  std::vector<std::vector<HlcTimestamp>> got(kThreads);
  std::vector<int> errors(kThreads, 0);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
      got[t].reserve(per_thread);
      ready.fetch_add(1);
      while (ready.load() < kThreads) rk_test::backoff();
      for (std::size_t i = 0; i < per_thread; ++i) {
        if (t % 2 == 0) {
          got[t].push_back(clk.tick());
        } else {
          const HlcTimestamp remote{system_micros() - kSecond + rng() % (2 * kSecond),
                                    static_cast<std::uint32_t>(rng() % 5000), 77};
          const HlcTimestamp r = clk.update(remote);
          if (!(r > remote)) ++errors[t];
          got[t].push_back(r);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    CHECK(errors[t] == 0);
  }
  check_per_thread_increasing_and_unique(got);
}

// ---- HlcClock: drift ----------------------------------------------------------------------

TEST_CASE("update rejects a remote 61 s ahead with ClockDrift and leaves the clock unchanged") {
  HlcClock clk(1);
  const HlcTimestamp t0 = clk.tick();
  const HlcTimestamp remote{system_micros() + 61 * kSecond, 0, 2};
  ErrorCode code = ErrorCode::Ok;
  std::string what;
  try {
    (void)clk.update(remote);
  } catch (const ringkernel::Error& e) {
    code = e.code();
    what = e.what();
  }
  CHECK(code == ErrorCode::ClockDrift);
  CHECK_FALSE(what.empty());
  // Unchanged: the clock did not jump to the remote.
  const HlcTimestamp t1 = clk.tick();
  CHECK(t1 > t0);
  CHECK(t1 < remote);
  CHECK(t1.physical + 50 * kSecond < remote.physical);
  CHECK(clk.now() < remote);

  // Far beyond (and beyond what the clock can represent) is drift too, not a wrap-around.
  for (std::uint64_t physical : {system_micros() + 3600 * kSecond, std::uint64_t{1} << 52,
                                 std::numeric_limits<std::uint64_t>::max()}) {
    CAPTURE(physical);
    CHECK(error_code_of([&] { (void)clk.update(HlcTimestamp{physical, 0, 2}); }) == ErrorCode::ClockDrift);
  }
  const HlcTimestamp t2 = clk.tick();
  CHECK(t2 > t1);
  CHECK(t2.physical < t1.physical + 50 * kSecond);
}

TEST_CASE("custom max_drift") {
  HlcClock clk(1, std::chrono::milliseconds(200));
  const HlcTimestamp t0 = clk.tick();
  // 2 s ahead: rejected.
  const HlcTimestamp far{system_micros() + 2 * kSecond, 0, 5};
  CHECK(error_code_of([&] { (void)clk.update(far); }) == ErrorCode::ClockDrift);
  CHECK(clk.tick() < far);
  // 50 ms ahead: accepted (the clock reads a coarse wall clock, a few ms behind at most).
  const HlcTimestamp near{system_micros() + 50000, 0, 5};
  const HlcTimestamp r = clk.update(near);
  CHECK(r > near);
  CHECK(r > t0);

  // Zero drift: nothing ahead of the wall clock by a second is accepted; the past is.
  HlcClock strict(2, std::chrono::microseconds(0));
  CHECK(error_code_of([&] { (void)strict.update(HlcTimestamp{system_micros() + kSecond, 0, 5}); }) ==
        ErrorCode::ClockDrift);
  const HlcTimestamp past{system_micros() - kSecond, 0, 5};
  CHECK(strict.update(past) > past);
}

TEST_CASE("try_update returns a Result: the value, or ClockDrift without throwing") {
  HlcClock clk(9);
  const HlcTimestamp t0 = clk.tick();

  const HlcTimestamp ok_remote{system_micros() + kSecond, 3, 1};
  ringkernel::Result<HlcTimestamp> ok = clk.try_update(ok_remote);
  REQUIRE(ok.ok());
  CHECK(static_cast<bool>(ok));
  CHECK(ok.code() == ErrorCode::Ok);
  CHECK(ok.message().empty());
  CHECK(ok.value() > ok_remote);
  CHECK(ok.value() > t0);
  const HlcTimestamp adopted = ok.value();

  const HlcTimestamp bad_remote{system_micros() + 120 * kSecond, 0, 1};
  ringkernel::Result<HlcTimestamp> bad{ErrorCode::Internal, "placeholder"};
  CHECK_NOTHROW(bad = clk.try_update(bad_remote));
  CHECK_FALSE(bad.ok());
  CHECK_FALSE(static_cast<bool>(bad));
  CHECK(bad.code() == ErrorCode::ClockDrift);
  CHECK_FALSE(bad.message().empty());
  // value() on a failure raises the stored error.
  CHECK(error_code_of([&] { (void)bad.value(); }) == ErrorCode::ClockDrift);
  // The clock was left alone.
  const HlcTimestamp t1 = clk.tick();
  CHECK(t1 > adopted);
  CHECK(t1 < bad_remote);
}

// Regression (found by these tests and by fuzz_hlc): with a max_drift large enough to admit it,
// a remote at the top of the 52-bit range (physical 2^52 - 1, logical >= 4095) has no
// representable timestamp above it; update() used to wrap the 64-bit state and return a
// timestamp far BELOW the remote. Now such remotes are refused with ClockDrift.
TEST_CASE("update at the top of the representable range never returns a timestamp below the remote") {
  constexpr std::uint64_t physical_max = (std::uint64_t{1} << (64 - HlcClock::logical_bits)) - 1;
  for (std::uint64_t physical : {physical_max, physical_max - 1, HlcClock::max_remote_physical + 1,
                                 HlcClock::max_remote_physical}) {
    for (std::uint32_t logical : {0u, kLogicalMax - 1, kLogicalMax, 0xFFFFFFFFu}) {
      CAPTURE(physical);
      CAPTURE(logical);
      HlcClock clk(5, std::chrono::microseconds::max());
      const HlcTimestamp before = clk.tick();
      const HlcTimestamp remote{physical, logical, 1};
      ringkernel::Result<HlcTimestamp> r = clk.try_update(remote);
      if (r.ok()) {
        CHECK(r.value() > remote);
        CHECK(r.value() > before);
        // Ticks after adopting it keep increasing (no wrap of the state word).
        HlcTimestamp prev = r.value();
        int errors = 0;
        for (int i = 0; i < 10000; ++i) {
          const HlcTimestamp t = clk.tick();
          if (!(t > prev)) ++errors;
          prev = t;
        }
        CHECK(errors == 0);
      } else {
        CHECK(r.code() == ErrorCode::ClockDrift);
        const HlcTimestamp after = clk.tick();
        CHECK(after > before);
        CHECK(after < remote);  // left unchanged
      }
    }
  }
}

TEST_CASE("max_remote_physical is the documented boundary of update()") {
  static_assert(HlcClock::max_remote_physical < (std::uint64_t{1} << (64 - HlcClock::logical_bits)) - 1,
                "headroom below the 52-bit range");
  HlcClock clk(6, std::chrono::microseconds::max());
  const HlcTimestamp at{HlcClock::max_remote_physical, 0xFFFFFFFFu, 1};
  ringkernel::Result<HlcTimestamp> ok = clk.try_update(at);
  REQUIRE(ok.ok());
  CHECK(ok.value() > at);
  HlcClock clk2(7, std::chrono::microseconds::max());
  CHECK(error_code_of([&] { (void)clk2.update(HlcTimestamp{HlcClock::max_remote_physical + 1, 0, 1}); }) ==
        ErrorCode::ClockDrift);
}

}  // TEST_SUITE("hlc")
