// PriorityInbox: service order, the three backpressure strategies, close(), drain, counters.
// Every test ends by checking the counter invariant enqueued == dequeued + dropped + depth.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ringkernel.hpp"
#include "test_support.hpp"

using ringkernel::BackpressureStrategy;
using ringkernel::EnqueueStatus;
using ringkernel::ErrorCode;
using ringkernel::InboxStats;
using ringkernel::Priority;
using ringkernel::PriorityInbox;
using rk_test::error_code_of;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

Priority prio(int p) { return static_cast<Priority>(p); }

template <class T>
void check_invariant(const PriorityInbox<T>& q) {
  const InboxStats s = q.stats();
  CHECK(s.enqueued == s.dequeued + s.dropped + s.depth);
  CHECK(s.depth == q.size());
  CHECK(s.depth <= q.capacity());
  CHECK(s.high_water <= q.capacity());
  CHECK(s.high_water >= s.depth);
}

// Waits (bounded) until `flag` is set by another thread.
void wait_for_flag(const std::atomic<bool>& flag) {
  const auto end = Clock::now() + std::chrono::seconds(30);
  while (!flag.load() && Clock::now() < end) std::this_thread::sleep_for(milliseconds(1));
}

// Reference model of the inbox: a list of (priority, sequence) pairs.
struct Model {
  std::size_t capacity;
  BackpressureStrategy strategy;
  std::vector<std::pair<int, std::uint64_t>> items;  // (priority, value); value == push order
  InboxStats stats;

  // The next to serve: highest priority, oldest first.
  std::size_t front() const {
    std::size_t best = 0;
    for (std::size_t i = 1; i < items.size(); ++i)
      if (items[i].first > items[best].first) best = i;  // strict: the earliest of the highest
    return best;
  }
  // The DropOldest victim: lowest priority, oldest first.
  std::size_t victim() const {
    std::size_t best = 0;
    for (std::size_t i = 1; i < items.size(); ++i)
      if (items[i].first < items[best].first) best = i;
    return best;
  }
  EnqueueStatus push(int p, std::uint64_t v) {
    bool dropped = false;
    if (items.size() == capacity) {
      if (strategy == BackpressureStrategy::Reject) {
        ++stats.rejected;
        return EnqueueStatus::Full;
      }
      items.erase(items.begin() + static_cast<std::ptrdiff_t>(victim()));
      ++stats.dropped;
      dropped = true;
    }
    items.emplace_back(p, v);
    ++stats.enqueued;
    stats.high_water = std::max(stats.high_water, items.size());
    return dropped ? EnqueueStatus::EnqueuedDroppedOldest : EnqueueStatus::Enqueued;
  }
  bool pop(std::uint64_t& out) {
    if (items.empty()) return false;
    const std::size_t i = front();
    out = items[i].second;
    items.erase(items.begin() + static_cast<std::ptrdiff_t>(i));
    ++stats.dequeued;
    return true;
  }
};

}  // namespace

TEST_SUITE("inbox") {

TEST_CASE("construction and accessors") {
  CHECK(error_code_of([] { PriorityInbox<int> q(0, BackpressureStrategy::Reject); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([] { PriorityInbox<int> q((std::size_t{1} << 31) + 1, BackpressureStrategy::Block); }) ==
        ErrorCode::InvalidArgument);
  PriorityInbox<int> q(3, BackpressureStrategy::DropOldest);  // any capacity, not only powers of two
  CHECK(q.capacity() == 3u);
  CHECK(q.strategy() == BackpressureStrategy::DropOldest);
  CHECK(q.size() == 0u);
  CHECK_FALSE(q.closed());
  const InboxStats s = q.stats();
  CHECK(s.enqueued == 0u);
  CHECK(s.dequeued == 0u);
  CHECK(s.dropped == 0u);
  CHECK(s.rejected == 0u);
  CHECK(s.depth == 0u);
  CHECK(s.high_water == 0u);
  CHECK(std::string(ringkernel::to_string(BackpressureStrategy::Block)) == "Block");
  CHECK(std::string(ringkernel::to_string(BackpressureStrategy::Reject)) == "Reject");
  CHECK(std::string(ringkernel::to_string(BackpressureStrategy::DropOldest)) == "DropOldest");
  check_invariant(q);
}

TEST_CASE("service order: higher priority first, FIFO within a priority, any value 0-255") {
  PriorityInbox<int> q(64, BackpressureStrategy::Reject);
  const int prios[] = {0, 1, 200, 255, 1, 0, 128, 255, 200, 64, 0, 192, 1, 255, 7, 200, 254, 2};
  const int n = static_cast<int>(sizeof prios / sizeof prios[0]);
  for (int i = 0; i < n; ++i) REQUIRE(q.push(i, prio(prios[i])) == EnqueueStatus::Enqueued);
  std::vector<int> want(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) want[static_cast<std::size_t>(i)] = i;
  std::stable_sort(want.begin(), want.end(), [&](int a, int b) { return prios[a] > prios[b]; });
  std::vector<int> got;
  int v;
  while (q.try_pop(v)) got.push_back(v);
  CHECK(got == want);
  CHECK(got.front() == 3);  // the first 255
  CHECK(got.back() == 10);  // the last 0
  check_invariant(q);
}

TEST_CASE("default priority is Normal; named priorities order as their values") {
  PriorityInbox<std::string> q(8, BackpressureStrategy::Reject);
  q.push(std::string("normal-default"));
  q.push(std::string("just-above"), prio(129));
  q.push(std::string("just-below"), prio(127));
  q.push(std::string("critical"), Priority::Critical);
  q.push(std::string("low"), Priority::Low);
  q.push(std::string("high"), Priority::High);
  q.push(std::string("normal"), Priority::Normal);
  const std::vector<std::string> want = {"critical", "high",       "just-above", "normal-default",
                                         "normal",   "just-below", "low"};
  CHECK(q.drain() == want);
  check_invariant(q);
}

TEST_CASE("random pushes with all 256 priorities come out in stable priority order") {
  std::mt19937 rng(7);
  PriorityInbox<int> q(1024, BackpressureStrategy::Reject);
  std::vector<std::pair<int, int>> pushed;  // (priority, value)
  for (int i = 0; i < 1000; ++i) {
    const int p = static_cast<int>(rng() % 256);
    REQUIRE(q.push(i, prio(p)) == EnqueueStatus::Enqueued);
    pushed.emplace_back(p, i);
  }
  std::stable_sort(pushed.begin(), pushed.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<int> want;
  for (const auto& pv : pushed) want.push_back(pv.second);
  // Mixed ways of taking them out: try_pop, pop, try_pop_batch, drain.
  std::vector<int> got;
  int v;
  for (int i = 0; i < 100; ++i) {
    REQUIRE(q.try_pop(v));
    got.push_back(v);
  }
  for (int i = 0; i < 100; ++i) {
    REQUIRE(q.pop(v, milliseconds(100)));
    got.push_back(v);
  }
  CHECK(q.try_pop_batch(got, 300) == 300u);
  const std::vector<int> rest = q.drain();
  got.insert(got.end(), rest.begin(), rest.end());
  CHECK(got == want);
  const InboxStats s = q.stats();
  CHECK(s.enqueued == 1000u);
  CHECK(s.dequeued == 1000u);
  CHECK(s.high_water == 1000u);
  check_invariant(q);
}

TEST_CASE("model check: random push/pop/batch/drain against a reference, Reject and DropOldest") {
  for (BackpressureStrategy strategy : {BackpressureStrategy::Reject, BackpressureStrategy::DropOldest}) {
    CAPTURE(ringkernel::to_string(strategy));
    for (std::size_t capacity : {std::size_t{1}, std::size_t{5}, std::size_t{16}}) {
      CAPTURE(capacity);
      std::mt19937 rng(static_cast<unsigned>(capacity) * 31u + static_cast<unsigned>(strategy));
      PriorityInbox<std::uint64_t> q(capacity, strategy);
      Model m{capacity, strategy, {}, {}};
      const int few[] = {0, 1, 127, 128, 200, 255};
      std::uint64_t next = 0;
      int mismatches = 0;
      for (int op = 0; op < 20000; ++op) {
        const unsigned r = rng() % 100;
        if (r < 55) {
          const int p = (rng() % 4 == 0) ? static_cast<int>(rng() % 256) : few[rng() % 6];
          const std::uint64_t v = next++;
          if (q.push(v, prio(p)) != m.push(p, v)) ++mismatches;
        } else if (r < 90) {
          std::uint64_t a = 0, b = 0;
          const bool ga = q.try_pop(a), gb = m.pop(b);
          if (ga != gb || a != b) ++mismatches;
        } else if (r < 99) {
          const std::size_t k = rng() % 4;
          std::vector<std::uint64_t> got = {12345};  // appended to, not replaced
          const std::size_t n = q.try_pop_batch(got, k);
          if (got.size() != n + 1 || got[0] != 12345) ++mismatches;
          for (std::size_t i = 0; i < n; ++i) {
            std::uint64_t b = 0;
            if (!m.pop(b) || got[i + 1] != b) ++mismatches;
          }
          if (n < k && !m.items.empty()) ++mismatches;
        } else {
          const std::vector<std::uint64_t> got = q.drain();
          for (std::uint64_t v : got) {
            std::uint64_t b = 0;
            if (!m.pop(b) || v != b) ++mismatches;
          }
          if (!m.items.empty()) ++mismatches;
        }
        if (q.size() != m.items.size()) ++mismatches;
      }
      CHECK(mismatches == 0);
      const InboxStats s = q.stats();
      CHECK(s.enqueued == m.stats.enqueued);
      CHECK(s.dequeued == m.stats.dequeued);
      CHECK(s.dropped == m.stats.dropped);
      CHECK(s.rejected == m.stats.rejected);
      CHECK(s.high_water == m.stats.high_water);
      if (strategy == BackpressureStrategy::Reject) CHECK(s.dropped == 0u);
      if (strategy == BackpressureStrategy::DropOldest) CHECK(s.rejected == 0u);
      check_invariant(q);
    }
  }
}

// ---- Reject ---------------------------------------------------------------------------------

TEST_CASE("Reject: exact counts") {
  PriorityInbox<int> q(8, BackpressureStrategy::Reject);
  int full = 0;
  for (int i = 0; i < 8 + 5; ++i) {
    const EnqueueStatus st = q.push(i);
    if (i < 8)
      CHECK(st == EnqueueStatus::Enqueued);
    else
      CHECK(st == EnqueueStatus::Full);
    if (st == EnqueueStatus::Full) ++full;
  }
  CHECK(full == 5);
  InboxStats s = q.stats();
  CHECK(s.rejected == 5u);
  CHECK(s.enqueued == 8u);
  CHECK(s.depth == 8u);
  CHECK(s.high_water == 8u);
  CHECK(s.dropped == 0u);
  check_invariant(q);

  int v;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(q.try_pop(v));
    CHECK(v == i);
  }
  for (int i = 100; i < 103; ++i) CHECK(q.push(i) == EnqueueStatus::Enqueued);
  CHECK(q.push(999) == EnqueueStatus::Full);
  s = q.stats();
  CHECK(s.rejected == 6u);
  CHECK(s.enqueued == 11u);
  CHECK(s.dequeued == 3u);
  const std::vector<int> want = {3, 4, 5, 6, 7, 100, 101, 102};
  CHECK(q.drain() == want);  // the refused values never entered
  check_invariant(q);
}

TEST_CASE("a refused push leaves the caller's object unmoved") {
  SUBCASE("Reject, std::unique_ptr") {
    PriorityInbox<std::unique_ptr<int>> q(1, BackpressureStrategy::Reject);
    CHECK(q.push(std::make_unique<int>(1)) == EnqueueStatus::Enqueued);
    auto p = std::make_unique<int>(2);
    CHECK(q.push(std::move(p), Priority::Critical) == EnqueueStatus::Full);
    REQUIRE(p != nullptr);
    CHECK(*p == 2);
    std::unique_ptr<int> out;
    REQUIRE(q.try_pop(out));
    CHECK(*out == 1);
    CHECK(q.push(std::move(p)) == EnqueueStatus::Enqueued);
    CHECK(p == nullptr);
    check_invariant(q);
  }
  SUBCASE("Reject, std::string") {
    PriorityInbox<std::string> q(1, BackpressureStrategy::Reject);
    q.push(std::string("first"));
    std::string s(200, 'x');  // heap-allocated: a move would empty it
    CHECK(q.push(std::move(s)) == EnqueueStatus::Full);
    CHECK(s == std::string(200, 'x'));
    std::string small = "tiny";
    CHECK(q.push(std::move(small)) == EnqueueStatus::Full);
    CHECK(small == "tiny");
    check_invariant(q);
  }
  SUBCASE("Closed") {
    PriorityInbox<std::unique_ptr<int>> q(4, BackpressureStrategy::Block);
    q.close();
    auto p = std::make_unique<int>(3);
    CHECK(q.push(std::move(p)) == EnqueueStatus::Closed);
    REQUIRE(p != nullptr);
    CHECK(*p == 3);
    CHECK(q.stats().rejected == 1u);
    check_invariant(q);
  }
  SUBCASE("Block timeout") {
    PriorityInbox<std::string> q(1, BackpressureStrategy::Block);
    q.push(std::string("first"));
    std::string s(200, 'y');
    CHECK(q.push(std::move(s), Priority::Normal, milliseconds(10)) == EnqueueStatus::Full);
    CHECK(s == std::string(200, 'y'));
    check_invariant(q);
  }
  SUBCASE("an lvalue is copied, never moved") {
    PriorityInbox<std::string> q(2, BackpressureStrategy::Reject);
    std::string s(100, 'z');
    CHECK(q.push(s) == EnqueueStatus::Enqueued);
    CHECK(s == std::string(100, 'z'));
    CHECK(q.drain() == std::vector<std::string>{std::string(100, 'z')});
    check_invariant(q);
  }
}

// ---- DropOldest -------------------------------------------------------------------------------

TEST_CASE("DropOldest evicts the oldest message of the lowest queued priority") {
  using P = std::shared_ptr<char>;
  PriorityInbox<P> q(4, BackpressureStrategy::DropOldest);
  auto make = [](char c) { return std::make_shared<char>(c); };
  P A = make('A'), B = make('B'), C = make('C'), D = make('D');
  std::weak_ptr<char> wA = A, wB = B, wC = C, wD = D;
  CHECK(q.push(std::move(A), prio(100)) == EnqueueStatus::Enqueued);
  CHECK(q.push(std::move(B), prio(50)) == EnqueueStatus::Enqueued);
  CHECK(q.push(std::move(C), prio(50)) == EnqueueStatus::Enqueued);
  CHECK(q.push(std::move(D), prio(200)) == EnqueueStatus::Enqueued);

  P E = make('E');
  std::weak_ptr<char> wE = E;
  CHECK(q.push(std::move(E), prio(150)) == EnqueueStatus::EnqueuedDroppedOldest);
  CHECK(wB.expired());  // B: the older of the two at the lowest priority, destroyed
  CHECK_FALSE(wC.expired());
  CHECK_FALSE(wA.expired());
  CHECK(q.stats().dropped == 1u);
  check_invariant(q);

  // Lower than everything queued: still takes the place of the oldest lowest (C at 50).
  P F = make('F');
  std::weak_ptr<char> wF = F;
  CHECK(q.push(std::move(F), prio(10)) == EnqueueStatus::EnqueuedDroppedOldest);
  CHECK(wC.expired());
  // Now F (10) is the lowest: the next push evicts F itself.
  P G = make('G');
  std::weak_ptr<char> wG = G;
  CHECK(q.push(std::move(G), prio(10)) == EnqueueStatus::EnqueuedDroppedOldest);
  CHECK(wF.expired());
  CHECK_FALSE(wG.expired());
  // Priority 0 is a priority like any other; 255 evicts G (10), not anything above.
  P H = make('H');
  CHECK(q.push(std::move(H), prio(255)) == EnqueueStatus::EnqueuedDroppedOldest);
  CHECK(wG.expired());

  InboxStats s = q.stats();
  CHECK(s.dropped == 4u);
  CHECK(s.enqueued == 8u);
  CHECK(s.rejected == 0u);
  CHECK(s.depth == 4u);
  check_invariant(q);

  std::string order;
  for (const P& p : q.drain()) order += *p;
  CHECK(order == "HDEA");
  CHECK(wA.expired());
  CHECK(wD.expired());
  CHECK(wE.expired());
  s = q.stats();
  CHECK(s.dequeued == 4u);
  check_invariant(q);
}

TEST_CASE("DropOldest: capacity 1 and FIFO eviction within one priority") {
  PriorityInbox<int> q(1, BackpressureStrategy::DropOldest);
  CHECK(q.push(1) == EnqueueStatus::Enqueued);
  CHECK(q.push(2) == EnqueueStatus::EnqueuedDroppedOldest);
  CHECK(q.push(3, Priority::Low) == EnqueueStatus::EnqueuedDroppedOldest);
  int v = 0;
  REQUIRE(q.try_pop(v));
  CHECK(v == 3);
  CHECK(q.stats().dropped == 2u);
  check_invariant(q);

  PriorityInbox<int> r(3, BackpressureStrategy::DropOldest);
  for (int i = 0; i < 10; ++i) r.push(i, Priority::Normal);
  CHECK(r.drain() == std::vector<int>{7, 8, 9});  // the newest three survive
  CHECK(r.stats().dropped == 7u);
  check_invariant(r);
}

// ---- Block ------------------------------------------------------------------------------------

TEST_CASE("Block: a producer blocks while full and proceeds when the consumer pops") {
  PriorityInbox<int> q(2, BackpressureStrategy::Block);
  REQUIRE(q.push(1) == EnqueueStatus::Enqueued);
  REQUIRE(q.push(2) == EnqueueStatus::Enqueued);
  std::atomic<bool> started{false}, returned{false}, popping{false};
  bool saw_pop = false;
  EnqueueStatus st = EnqueueStatus::Closed;
  std::thread producer([&] {
    started = true;
    st = q.push(3);  // no timeout: waits as long as it takes
    saw_pop = popping.load();
    returned = true;
  });
  wait_for_flag(started);
  std::this_thread::sleep_for(milliseconds(150));
  CHECK_FALSE(returned.load());  // really blocked
  CHECK(q.size() == 2u);
  popping = true;
  int v = 0;
  REQUIRE(q.try_pop(v));
  CHECK(v == 1);
  producer.join();
  CHECK(st == EnqueueStatus::Enqueued);
  CHECK(saw_pop);  // it returned only after the pop began
  CHECK(q.drain() == std::vector<int>{2, 3});
  const InboxStats s = q.stats();
  CHECK(s.enqueued == 3u);
  CHECK(s.rejected == 0u);
  CHECK(s.high_water == 2u);
  check_invariant(q);
}

TEST_CASE("Block: several blocked producers all get through as the consumer pops") {
  PriorityInbox<int> q(1, BackpressureStrategy::Block);
  REQUIRE(q.push(0) == EnqueueStatus::Enqueued);
  constexpr int kProducers = 3;
  std::vector<std::thread> producers;
  std::atomic<int> enqueued{0};
  for (int p = 1; p <= kProducers; ++p)
    producers.emplace_back([&, p] {
      if (q.push(p) == EnqueueStatus::Enqueued) ++enqueued;
    });
  std::vector<int> got;
  int v;
  while (got.size() < static_cast<std::size_t>(kProducers + 1) && q.pop(v, std::chrono::seconds(30))) got.push_back(v);
  for (auto& t : producers) t.join();
  CHECK(enqueued.load() == kProducers);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<int>{0, 1, 2, 3});
  check_invariant(q);
}

TEST_CASE("Block with a timeout returns Full after about the timeout") {
  PriorityInbox<int> q(1, BackpressureStrategy::Block);
  REQUIRE(q.push(1) == EnqueueStatus::Enqueued);
  const auto timeout = milliseconds(80);
  const auto t0 = Clock::now();
  const EnqueueStatus st = q.push(2, Priority::Critical, timeout);
  const auto elapsed = Clock::now() - t0;
  CHECK(st == EnqueueStatus::Full);
  CHECK(elapsed >= timeout);
  CHECK(elapsed < std::chrono::seconds(10));
  const InboxStats s = q.stats();
  CHECK(s.rejected == 1u);
  CHECK(s.enqueued == 1u);
  int v = 0;
  REQUIRE(q.try_pop(v));
  CHECK(v == 1);
  check_invariant(q);
}

TEST_CASE("Block with a timeout succeeds when room appears in time") {
  PriorityInbox<int> q(1, BackpressureStrategy::Block);
  REQUIRE(q.push(1) == EnqueueStatus::Enqueued);
  std::thread consumer([&] {
    std::this_thread::sleep_for(milliseconds(30));
    int v;
    (void)q.try_pop(v);
  });
  const auto t0 = Clock::now();
  const EnqueueStatus st = q.push(2, Priority::Normal, std::chrono::seconds(20));
  const auto elapsed = Clock::now() - t0;
  consumer.join();
  CHECK(st == EnqueueStatus::Enqueued);
  CHECK(elapsed < std::chrono::seconds(10));
  int v = 0;
  REQUIRE(q.try_pop(v));
  CHECK(v == 2);
  check_invariant(q);
}

// ---- close ------------------------------------------------------------------------------------

TEST_CASE("close() wakes a blocked producer with Closed") {
  PriorityInbox<std::unique_ptr<int>> q(1, BackpressureStrategy::Block);
  REQUIRE(q.push(std::make_unique<int>(1)) == EnqueueStatus::Enqueued);
  std::atomic<bool> started{false}, returned{false};
  EnqueueStatus st = EnqueueStatus::Enqueued;
  bool item_kept = false;
  std::thread producer([&] {
    auto p = std::make_unique<int>(2);
    started = true;
    st = q.push(std::move(p));  // waits forever unless woken
    item_kept = p != nullptr && *p == 2;
    returned = true;
  });
  wait_for_flag(started);
  std::this_thread::sleep_for(milliseconds(100));
  CHECK_FALSE(returned.load());
  q.close();
  producer.join();
  CHECK(st == EnqueueStatus::Closed);
  CHECK(item_kept);
  CHECK(q.closed());
  const InboxStats s = q.stats();
  CHECK(s.rejected == 1u);
  CHECK(s.enqueued == 1u);
  // What was queued stays poppable after close.
  std::unique_ptr<int> out;
  REQUIRE(q.try_pop(out));
  CHECK(*out == 1);
  check_invariant(q);
}

TEST_CASE("close() wakes a blocked consumer") {
  PriorityInbox<int> q(4, BackpressureStrategy::Reject);
  std::atomic<bool> started{false};
  bool got = true;
  Clock::duration waited{};
  std::thread consumer([&] {
    started = true;
    int v;
    const auto t0 = Clock::now();
    got = q.pop(v, std::chrono::seconds(60));
    waited = Clock::now() - t0;
  });
  wait_for_flag(started);
  std::this_thread::sleep_for(milliseconds(50));
  q.close();
  consumer.join();
  CHECK_FALSE(got);
  CHECK(waited < std::chrono::seconds(30));
  check_invariant(q);
}

TEST_CASE("after close: pushes are refused, queued messages drain, then pop returns at once") {
  PriorityInbox<int> q(4, BackpressureStrategy::DropOldest);
  q.push(1, Priority::Low);
  q.push(2, Priority::High);
  q.close();
  CHECK(q.closed());
  CHECK(q.push(3) == EnqueueStatus::Closed);
  CHECK(q.push(4, Priority::Critical) == EnqueueStatus::Closed);
  int v = 0;
  REQUIRE(q.pop(v, milliseconds(10)));
  CHECK(v == 2);
  REQUIRE(q.try_pop(v));
  CHECK(v == 1);
  const auto t0 = Clock::now();
  CHECK_FALSE(q.pop(v, std::chrono::seconds(30)));
  CHECK(Clock::now() - t0 < std::chrono::seconds(10));
  CHECK_FALSE(q.try_pop(v));
  const InboxStats s = q.stats();
  CHECK(s.rejected == 2u);
  CHECK(s.enqueued == 2u);
  CHECK(s.dequeued == 2u);
  check_invariant(q);
}

TEST_CASE("pop waits for a message, or for its timeout") {
  PriorityInbox<int> q(4, BackpressureStrategy::Block);
  int v = 0;
  const auto t0 = Clock::now();
  CHECK_FALSE(q.pop(v, milliseconds(60)));
  CHECK(Clock::now() - t0 >= milliseconds(60));

  std::thread producer([&] {
    std::this_thread::sleep_for(milliseconds(30));
    q.push(42);
  });
  const auto t1 = Clock::now();
  const bool got = q.pop(v, std::chrono::seconds(30));
  const auto elapsed = Clock::now() - t1;
  producer.join();
  CHECK(got);
  CHECK(v == 42);
  CHECK(elapsed < std::chrono::seconds(10));
  check_invariant(q);
}

TEST_CASE("drain and try_pop_batch return messages in service order") {
  PriorityInbox<int> q(16, BackpressureStrategy::Reject);
  const int prios[] = {10, 20, 10, 30, 20, 10};
  for (int i = 0; i < 6; ++i) q.push(i, prio(prios[i]));
  std::vector<int> first;
  CHECK(q.try_pop_batch(first, 2) == 2u);
  CHECK(first == std::vector<int>{3, 1});
  CHECK(q.drain() == std::vector<int>{4, 0, 2, 5});
  CHECK(q.drain().empty());
  std::vector<int> none;
  CHECK(q.try_pop_batch(none, 10) == 0u);
  CHECK(q.stats().dequeued == 6u);
  check_invariant(q);
}

TEST_CASE("queued elements are destroyed with the inbox, exactly once") {
  rk_test::Tracked::reset();
  {
    PriorityInbox<rk_test::Tracked> q(8, BackpressureStrategy::DropOldest);
    for (int i = 0; i < 12; ++i) q.push(rk_test::Tracked(i), prio(i % 3));
    rk_test::Tracked out;
    REQUIRE(q.try_pop(out));
    CHECK(rk_test::Tracked::live() == 8);  // 7 queued + out
    check_invariant(q);
  }
  CHECK(rk_test::Tracked::live() == 0);
  CHECK(rk_test::Tracked::bad_destroys == 0);
}

// ---- 4 producers x 1 consumer, each strategy ---------------------------------------------------

TEST_CASE("4 producers x 1 consumer: every message accounted for, per strategy") {
  constexpr int kProducers = 4;
  const auto per = static_cast<std::uint32_t>(rk_test::scaled(20000));
  const int lanes[] = {0, 64, 128, 255};
  for (BackpressureStrategy strategy :
       {BackpressureStrategy::Block, BackpressureStrategy::Reject, BackpressureStrategy::DropOldest}) {
    CAPTURE(ringkernel::to_string(strategy));
    PriorityInbox<std::uint64_t> q(32, strategy);
    struct Counts {
      std::uint64_t enqueued = 0, dropped_oldest = 0, full = 0, closed = 0;
    };
    std::vector<Counts> counts(kProducers);
    std::vector<std::thread> producers;
    std::vector<std::uint64_t> received;
    received.reserve(std::size_t{per} * kProducers);

    std::thread consumer([&] {
      std::uint64_t v;
      // pop() returns false only on its timeout or once closed and empty.
      while (q.pop(v, std::chrono::seconds(60))) received.push_back(v);
    });
    for (int p = 0; p < kProducers; ++p)
      producers.emplace_back([&, p] {
        Counts& c = counts[static_cast<std::size_t>(p)];
        for (std::uint32_t s = 0; s < per; ++s) {
          const std::uint64_t v = (std::uint64_t(p) << 32) | s;
          switch (q.push(v, prio(lanes[s % 4]))) {
            case EnqueueStatus::Enqueued: ++c.enqueued; break;
            case EnqueueStatus::EnqueuedDroppedOldest: ++c.dropped_oldest; break;
            case EnqueueStatus::Full: ++c.full; break;
            case EnqueueStatus::Closed: ++c.closed; break;
          }
        }
      });
    for (auto& t : producers) t.join();
    q.close();
    consumer.join();

    Counts sum;
    for (int p = 0; p < kProducers; ++p) {
      const Counts& c = counts[static_cast<std::size_t>(p)];
      CHECK(c.enqueued + c.dropped_oldest + c.full + c.closed == per);  // every attempt has an outcome
      CHECK(c.closed == 0u);
      sum.enqueued += c.enqueued;
      sum.dropped_oldest += c.dropped_oldest;
      sum.full += c.full;
    }
    const InboxStats s = q.stats();
    const std::uint64_t attempted = std::uint64_t{per} * kProducers;
    CHECK(s.enqueued == sum.enqueued + sum.dropped_oldest);
    CHECK(s.rejected == sum.full);
    CHECK(s.dropped == sum.dropped_oldest);  // one drop per EnqueuedDroppedOldest
    CHECK(s.depth == 0u);
    CHECK(received.size() == s.enqueued - s.dropped);
    CHECK(s.dequeued == received.size());
    switch (strategy) {
      case BackpressureStrategy::Block:
        CHECK(sum.enqueued == attempted);
        CHECK(s.dropped == 0u);
        CHECK(s.rejected == 0u);
        break;
      case BackpressureStrategy::Reject:
        CHECK(sum.enqueued + sum.full == attempted);
        CHECK(s.dropped == 0u);
        break;
      case BackpressureStrategy::DropOldest:
        CHECK(sum.enqueued + sum.dropped_oldest == attempted);
        CHECK(s.rejected == 0u);
        break;
    }
    // Nothing twice; within one producer and one priority, FIFO.
    std::vector<std::vector<bool>> seen(kProducers, std::vector<bool>(per, false));
    std::vector<std::vector<std::int64_t>> last(kProducers, std::vector<std::int64_t>(4, -1));
    std::uint64_t duplicates = 0, out_of_order = 0, bogus = 0;
    for (std::uint64_t v : received) {
      const std::size_t p = static_cast<std::size_t>(v >> 32);
      const std::uint32_t seq = static_cast<std::uint32_t>(v);
      if (p >= static_cast<std::size_t>(kProducers) || seq >= per) {
        ++bogus;
        continue;
      }
      if (seen[p][seq]) ++duplicates;
      seen[p][seq] = true;
      std::int64_t& l = last[p][seq % 4];
      if (static_cast<std::int64_t>(seq) <= l) ++out_of_order;
      l = seq;
    }
    CHECK(bogus == 0u);
    CHECK(duplicates == 0u);
    CHECK(out_of_order == 0u);
    check_invariant(q);
  }
}

}  // TEST_SUITE("inbox")
