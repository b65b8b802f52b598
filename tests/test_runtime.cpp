// Runtime, kernel model and CPU backend: lifecycle, launch options, handler styles, backpressure
// accounting under concurrent producers, pause/resume under load, call(), faults, shutdown
// accounting, HLC stamping, priority service, telemetry, idle CPU use and backend selection.
//
// Every stress test ends on exact accounting: for a kernel,
//   messages_received == messages_processed + messages_dropped + queue_depth (+1 if it faulted
//   on a message), and what the handler itself counted equals messages_processed.
#include <doctest/doctest.h>

#include <sched.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ringkernel.hpp"
#include "test_support.hpp"

using ringkernel::Backend;
using ringkernel::BackpressureStrategy;
using ringkernel::ErrorCode;
using ringkernel::HandlerContext;
using ringkernel::HlcTimestamp;
using ringkernel::Topic;
using ringkernel::KernelContext;
using ringkernel::KernelHandle;
using ringkernel::KernelState;
using ringkernel::KernelStatus;
using ringkernel::LaunchOptions;
using ringkernel::MessageEnvelope;
using ringkernel::Priority;
using ringkernel::Runtime;
using ringkernel::RuntimeConfig;
using ringkernel::SendStatus;
using rk_test::scaled;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::microseconds;

// Names in failure messages instead of numbers. Internal linkage (static) so no other suite's
// printers can clash with these at link time.
namespace ringkernel {
static doctest::String toString(KernelState s) { return to_string(s); }
static doctest::String toString(SendStatus s) { return to_string(s); }
static doctest::String toString(Backend b) { return to_string(b); }
}  // namespace ringkernel

// ---- messages ----------------------------------------------------------------------------------
namespace rt_test {

struct Req {
  std::uint64_t v;
};
RINGKERNEL_MESSAGE(Req, 0x52540001)
struct Resp {
  std::uint64_t v;
};
RINGKERNEL_MESSAGE(Resp, 0x52540002)
/// One message of a stream: who sent it and its number in that producer's stream.
struct Seq {
  std::uint64_t seq;
  std::uint32_t producer;
  std::uint32_t pad;
};
RINGKERNEL_MESSAGE(Seq, 0x52540003)
/// A type no handler here takes (for type-mismatch checks).
struct Other {
  std::uint32_t x;
};
RINGKERNEL_MESSAGE(Other, 0x52540004)
/// What a kernel saw: the input's timestamp as the kernel got it, and one it took later.
struct TsOut {
  HlcTimestamp in;
  HlcTimestamp later;
  std::uint64_t v;
};
RINGKERNEL_MESSAGE(TsOut, 0x52540005)

// ---- handlers ----------------------------------------------------------------------------------
/// Plain form: Out operator()(const In&).
struct Doubler {
  using input_type = Req;
  using output_type = Resp;
  Resp operator()(const Req& r) const { return Resp{r.v * 2}; }
};

/// A nontrivial function of the request, so that a reply proves which request it answers.
inline std::uint64_t mix(std::uint64_t v) { return v * 0x9E3779B97F4A7C15ull + 12345; }
struct Mixer {
  using input_type = Req;
  using output_type = Resp;
  Resp operator()(const Req& r) const { return Resp{mix(r.v)}; }
};

/// Throws on the value 666 (message text names the value), otherwise v + 1.
struct Thrower {
  using input_type = Req;
  using output_type = Resp;
  Resp operator()(const Req& r) const {
    if (r.v == 666) throw std::runtime_error("boom: handler refused input 666");
    return Resp{r.v + 1};
  }
};

/// Context form with output_type void: emits r.v outputs (v*100 + i) for input v.
struct Fanout {
  using input_type = Req;
  using output_type = void;
  std::atomic<int>* wrong_id;
  void operator()(HandlerContext& ctx, const Req& r) {
    if (ctx.kernel_id() != "fanout") wrong_id->fetch_add(1);
    for (std::uint64_t i = 0; i < r.v; ++i) ctx.emit(Resp{r.v * 100 + i});
  }
};

/// Persistent state in a member: the running sum of every input so far.
struct Summer {
  using input_type = Req;
  using output_type = Resp;
  std::uint64_t sum = 0;
  Resp operator()(const Req& r) {
    sum += r.v;
    return Resp{sum};
  }
};

/// Echoes the sequence number (Seq -> Seq).
struct SeqEcho {
  using input_type = Seq;
  using output_type = Seq;
  Seq operator()(const Seq& s) const { return s; }
};

/// Replies only to odd values; even ones are swallowed (for call() timeouts).
struct OddOnly {
  using input_type = Req;
  using output_type = void;
  void operator()(HandlerContext& ctx, const Req& r) {
    if (r.v % 2 == 1) ctx.emit(Resp{mix(r.v)});
  }
};

/// Sleeps r.v milliseconds, then answers mix(r.v).
struct Sleeper {
  using input_type = Req;
  using output_type = Resp;
  Resp operator()(const Req& r) const {
    std::this_thread::sleep_for(milliseconds(r.v));
    return Resp{mix(r.v)};
  }
};

/// Reports the timestamp the handler was given and a later one from the context.
struct TsHandler {
  using input_type = Req;
  using output_type = TsOut;
  TsOut operator()(HandlerContext& ctx, const Req& r) { return TsOut{ctx.timestamp(), ctx.now(), r.v}; }
};

/// Counts what it handles in its own member and publishes it; checks per-producer FIFO order.
struct CountingSink {
  using input_type = Seq;
  using output_type = void;
  static constexpr std::uint32_t max_producers = 8;
  struct Shared {
    std::atomic<std::uint64_t> handled{0};
    std::atomic<std::uint64_t> per_producer[max_producers] = {};
    std::atomic<std::uint64_t> order_violations{0};
  };
  Shared* out;
  std::uint64_t count = 0;                      // the handler's own state
  std::uint64_t per_producer[max_producers] = {};
  std::int64_t last_seq[max_producers] = {-1, -1, -1, -1, -1, -1, -1, -1};
  void operator()(HandlerContext&, const Seq& s) {
    ++count;
    const std::uint32_t p = s.producer % max_producers;
    if (static_cast<std::int64_t>(s.seq) <= last_seq[p]) out->order_violations.fetch_add(1);
    last_seq[p] = static_cast<std::int64_t>(s.seq);
    ++per_producer[p];
    out->per_producer[p].store(per_producer[p], std::memory_order_relaxed);
    out->handled.store(count, std::memory_order_release);
  }
};

/// Marks every seq it handles in a shared table; optionally sleeps a little per message.
struct Marker {
  using input_type = Seq;
  using output_type = void;
  std::vector<std::atomic<int>>* marks;
  int sleep_us;
  void operator()(HandlerContext&, const Seq& s) {
    if (sleep_us > 0) std::this_thread::sleep_for(microseconds(sleep_us));
    (*marks)[s.seq].fetch_add(1);
  }
};

// ---- registered kernels ------------------------------------------------------------------------
RINGKERNEL_KERNEL(rt_test_echo_loop) {
  while (!ctx.should_terminate())
    if (auto m = ctx.receive<Req>(milliseconds(5))) ctx.send(Resp{m->v + 1000});
}
RINGKERNEL_KERNEL(rt_test_ts_loop) {
  while (!ctx.should_terminate()) {
    if (auto e = ctx.receive_envelope(milliseconds(5))) {
      const Req r = e->as<Req>();
      ctx.send(TsOut{e->header().timestamp, ctx.now(), r.v});
    }
  }
}
RINGKERNEL_KERNEL(rt_test_id_loop) {
  // Reports its id length once active, then exits on its own (a loop kernel may return).
  if (!ctx.wait_active()) return;
  ctx.send(Resp{ctx.kernel_id().size()});
}
RINGKERNEL_HANDLER_KERNEL(rt_test_doubler, Doubler);

// ---- helpers -----------------------------------------------------------------------------------
Runtime make_rt(const RuntimeConfig& cfg = RuntimeConfig{}, std::uint32_t node = 0) {
  return Runtime::builder().backend(Backend::Cpu).config(cfg).node_id(node).build();
}

/// Polls `pred` every millisecond until it holds or `limit` passes.
template <class Pred>
bool wait_until(Pred pred, milliseconds limit = milliseconds(20000)) {
  const auto end = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > end) return pred();
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

/// What a call threw, if anything.
struct Caught {
  bool threw = false;
  bool kernel_error = false;  // a ringkernel::KernelError
  ErrorCode code = ErrorCode::Ok;
  std::string what;
};
template <class F>
Caught capture(F&& f) {
  Caught c;
  try {
    f();
  } catch (const ringkernel::KernelError& e) {
    c.threw = true;
    c.kernel_error = true;
    c.code = e.code();
    c.what = e.what();
  } catch (const ringkernel::Error& e) {
    c.threw = true;
    c.code = e.code();
    c.what = e.what();
  }
  return c;
}

std::size_t occurrences(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1)) ++n;
  return n;
}

std::string join(const std::vector<std::uint64_t>& v) {
  std::string out;
  for (std::uint64_t x : v) out += (out.empty() ? "" : ",") + std::to_string(x);
  return out;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

/// The exact accounting identity of a kernel that did not fault on a message.
bool accounted(const KernelStatus& s) {
  return s.messages_received == s.messages_processed + s.messages_dropped + s.queue_depth;
}

/// Waits until a kernel has nothing queued and every received message is processed or dropped.
bool wait_drained(const KernelHandle& k, milliseconds limit = milliseconds(60000)) {
  return wait_until(
      [&] {
        const KernelStatus s = k.status();
        return s.queue_depth == 0 && s.messages_processed + s.messages_dropped == s.messages_received;
      },
      limit);
}

/// Puts a Thrower kernel into Faulted (sends 666) and waits for it.
void fault_it(KernelHandle& k) {
  k.send(Req{666});
  REQUIRE(wait_until([&] { return k.state() == KernelState::Faulted; }));
}

/// A kernel in `want` state, built in runtime `rt` under id `id` (a Thrower, so Faulted is reachable).
KernelHandle kernel_in_state(Runtime& rt, const std::string& id, KernelState want) {
  LaunchOptions opts;
  if (want == KernelState::Launched) opts.without_auto_activate();
  KernelHandle k = rt.launch(id, Thrower{}, opts);
  switch (want) {
    case KernelState::Launched:
    case KernelState::Active:
      break;
    case KernelState::Deactivated:
      k.deactivate();
      break;
    case KernelState::Terminated:
      k.terminate();
      break;
    case KernelState::Faulted:
      fault_it(k);
      break;
    default:
      FAIL("kernel_in_state: unsupported state");
  }
  REQUIRE(k.state() == want);
  return k;
}

/// Process CPU time in nanoseconds.
std::int64_t process_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace rt_test

using namespace rt_test;

TEST_SUITE("runtime") {

// ================================================================================================
// Lifecycle
// ================================================================================================

TEST_CASE("lifecycle: every legal transition, and processing resumes after each") {
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("life", Doubler{}, LaunchOptions{}.without_auto_activate());
  CHECK(k.id() == "life");
  CHECK(k.state() == KernelState::Launched);
  CHECK_FALSE(k.is_active());

  k.activate();  // Launched -> Active
  CHECK(k.state() == KernelState::Active);
  CHECK(k.is_active());
  CHECK(k.call<Resp>(Req{1}, std::chrono::seconds(10)).v == 2);

  k.deactivate();  // Active -> Deactivated
  CHECK(k.state() == KernelState::Deactivated);
  CHECK_FALSE(k.is_active());
  CHECK(k.status().state == KernelState::Deactivated);

  k.activate();  // Deactivated -> Active
  CHECK(k.state() == KernelState::Active);
  CHECK(k.call<Resp>(Req{2}, std::chrono::seconds(10)).v == 4);

  k.suspend();  // alias of deactivate
  CHECK(k.state() == KernelState::Deactivated);
  k.resume();  // alias of activate
  CHECK(k.state() == KernelState::Active);
  CHECK(k.call<Resp>(Req{3}, std::chrono::seconds(10)).v == 6);

  k.terminate();  // Active -> Terminated
  CHECK(k.state() == KernelState::Terminated);
  CHECK_FALSE(k.is_active());
  k.terminate();  // Terminated: a no-op, no throw
  CHECK(k.state() == KernelState::Terminated);
  CHECK(k.status().messages_processed == 3);
}

TEST_CASE("lifecycle: terminate from Launched, Active, Deactivated and Faulted") {
  Runtime rt = make_rt();
  for (KernelState from : {KernelState::Launched, KernelState::Active, KernelState::Deactivated, KernelState::Faulted}) {
    CAPTURE(from);
    const std::string id = std::string("term_from_") + ringkernel::to_string(from);
    KernelHandle k = kernel_in_state(rt, id, from);
    const auto t0 = Clock::now();
    k.terminate();
    CHECK(Clock::now() - t0 < std::chrono::seconds(3));  // the worker stops promptly, no timeout
    CHECK(k.state() == KernelState::Terminated);
    CHECK_NOTHROW(k.terminate());  // idempotent
    CHECK(k.state() == KernelState::Terminated);
    CHECK(k.try_send(Req{1}) == SendStatus::NotActive);
    const Caught c = capture([&] { k.send(Req{1}); });
    CHECK(c.kernel_error);
    CHECK(c.code == ErrorCode::NotActive);
  }
}

TEST_CASE("lifecycle: every illegal transition throws KernelError(InvalidState) naming both states") {
  Runtime rt = make_rt();
  struct Case {
    KernelState from;
    bool activate;  // else deactivate
  };
  const Case cases[] = {
      {KernelState::Active, true},        {KernelState::Terminated, true},  {KernelState::Faulted, true},
      {KernelState::Launched, false},     {KernelState::Deactivated, false}, {KernelState::Terminated, false},
      {KernelState::Faulted, false},
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string from = ringkernel::to_string(c.from);
    const std::string to = c.activate ? "Active" : "Deactivated";
    CAPTURE(from);
    CAPTURE(to);
    KernelHandle k = kernel_in_state(rt, "illegal_" + std::to_string(n++), c.from);
    const Caught got = capture([&] {
      if (c.activate) k.activate(); else k.deactivate();
    });
    CHECK(got.threw);
    CHECK(got.kernel_error);
    CHECK(got.code == ErrorCode::InvalidState);
    CAPTURE(got.what);
    if (from == to) {
      CHECK(occurrences(got.what, from) >= 2);
    } else {
      CHECK(contains(got.what, from));
      CHECK(contains(got.what, to));
    }
    CHECK(k.state() == c.from);  // an illegal transition changes nothing
  }
}

TEST_CASE("lifecycle: without_auto_activate starts Launched and processes nothing until activate") {
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("two_phase", Doubler{}, LaunchOptions{}.without_auto_activate());
  CHECK(k.state() == KernelState::Launched);
  for (std::uint64_t i = 0; i < 5; ++i) CHECK(k.try_send(Req{i}) == SendStatus::Ok);  // Launched accepts
  std::this_thread::sleep_for(milliseconds(50));
  KernelStatus s = k.status();
  CHECK(s.state == KernelState::Launched);
  CHECK(s.messages_received == 5);
  CHECK(s.queue_depth == 5);
  CHECK(s.messages_processed == 0);
  CHECK_FALSE(k.receive<Resp>(milliseconds(20)).has_value());

  k.activate();
  for (std::uint64_t i = 0; i < 5; ++i) {
    auto r = k.receive<Resp>(std::chrono::seconds(10));
    REQUIRE(r.has_value());
    CHECK(r->v == 2 * i);  // FIFO
  }
  REQUIRE(wait_drained(k));
  s = k.status();
  CHECK(s.messages_processed == 5);
  CHECK(s.queue_depth == 0);
  CHECK(accounted(s));
}

TEST_CASE("lifecycle: a handle outliving its runtime reports Terminated and refuses messages") {
  std::optional<KernelHandle> k;
  {
    Runtime rt = make_rt();
    k = rt.launch("orphan", Doubler{});
    CHECK(k->call<Resp>(Req{4}, std::chrono::seconds(10)).v == 8);
  }
  CHECK(k->state() == KernelState::Terminated);
  CHECK(k->try_send(Req{1}) == SendStatus::NotActive);
  CHECK(k->status().messages_processed == 1);
}

// ================================================================================================
// Launch options
// ================================================================================================

TEST_CASE("launch options: invalid values throw Error(InvalidArgument), valid ones are kept") {
  CHECK(capture([] { LaunchOptions{}.with_queue_capacity(3); }).code == ErrorCode::InvalidArgument);
  CHECK(capture([] { LaunchOptions{}.with_queue_capacity(1000); }).code == ErrorCode::InvalidArgument);
  CHECK(capture([] { LaunchOptions{}.with_queue_capacity(0); }).code == ErrorCode::InvalidArgument);
  CHECK(capture([] { LaunchOptions{}.with_max_message_size(0); }).code == ErrorCode::InvalidArgument);
  CHECK(capture([] { LaunchOptions{}.with_block_size(0); }).code == ErrorCode::InvalidArgument);
  CHECK(capture([] { LaunchOptions{}.with_grid_size(0); }).code == ErrorCode::InvalidArgument);
  CHECK(capture([] { LaunchOptions{}.with_send_timeout(std::chrono::nanoseconds(-1)); }).code ==
        ErrorCode::InvalidArgument);
  CHECK(capture([] { LaunchOptions{}.with_send_timeout(milliseconds(-5)); }).code == ErrorCode::InvalidArgument);

  // A refused value leaves the options as they were.
  LaunchOptions o;
  CHECK(capture([&] { o.with_queue_capacity(6); }).threw);
  CHECK(o.queue_capacity() == 1024);

  o.with_queue_capacity(1)
      .with_queue_capacity(64)
      .with_max_message_size(8)
      .with_block_size(32)
      .with_grid_size(4)
      .with_send_timeout(std::chrono::nanoseconds(0))
      .with_priority(Priority::High)
      .with_backpressure(BackpressureStrategy::DropOldest)
      .without_auto_activate();
  CHECK(o.queue_capacity() == 64);
  CHECK(o.max_message_size() == 8);
  CHECK(o.block_size() == 32);
  CHECK(o.grid_size() == 4);
  CHECK(o.send_timeout() == std::chrono::nanoseconds(0));
  CHECK(o.priority() == Priority::High);
  CHECK(o.backpressure() == BackpressureStrategy::DropOldest);
  CHECK_FALSE(o.auto_activate());

  // max_message_size is enforced by send: an 8-byte limit refuses a 16-byte message.
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("tiny", SeqEcho{}, LaunchOptions{}.with_max_message_size(8));
  CHECK(k.try_send(Seq{1, 0, 0}) == SendStatus::TooLarge);
  CHECK(capture([&] { k.send(Seq{1, 0, 0}); }).code == ErrorCode::InvalidArgument);
  CHECK(k.status().messages_rejected == 2);
  CHECK(k.status().messages_received == 0);
}

// ================================================================================================
// Backpressure under concurrent producers
// ================================================================================================

TEST_CASE("backpressure: a small Block inbox admits its capacity, not more, while the worker is busy") {
  // The worker takes a quarter of the capacity at a time (here 1): what it holds frees inbox
  // places, and a bigger batch would let a capacity-4 inbox admit 8 before senders wait.
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("small", Sleeper{},
                             LaunchOptions{}.with_queue_capacity(4).with_send_timeout(std::chrono::nanoseconds(0)));
  REQUIRE(k.try_send(Req{100}) == SendStatus::Ok);
  REQUIRE(wait_until([&] { return k.status().queue_depth == 0; }));  // the worker has it
  for (int i = 0; i < 4; ++i) CHECK(k.try_send(Req{100}) == SendStatus::Ok);
  CHECK(k.try_send(Req{100}) == SendStatus::QueueFull);
  // The first is done and the worker took the next one: exactly one place is free.
  REQUIRE(wait_until([&] { const KernelStatus s = k.status(); return s.messages_processed == 1 && s.queue_depth == 3; }));
  CHECK(k.try_send(Req{100}) == SendStatus::Ok);
  CHECK(k.try_send(Req{100}) == SendStatus::QueueFull);
  CHECK(k.status().queue_depth <= 4);
  for (int i = 0; i < 6; ++i) CHECK(k.receive<Resp>(std::chrono::seconds(10)).has_value());
  const KernelStatus s = k.status();
  CHECK(s.messages_processed == 6);
  CHECK(s.messages_rejected == 2);
}

namespace {
void backpressure_run(BackpressureStrategy strategy) {
  constexpr std::uint32_t kProducers = 4;
  const std::uint64_t per_producer = scaled(100000);
  Runtime rt = make_rt();
  CountingSink::Shared shared;
  KernelHandle k = rt.launch("sink", CountingSink{&shared},
                             LaunchOptions{}.with_queue_capacity(64).with_backpressure(strategy));

  std::atomic<std::uint64_t> accepted[kProducers] = {};
  std::atomic<std::uint64_t> full[kProducers] = {};
  std::atomic<std::uint64_t> other[kProducers] = {};
  std::vector<std::thread> producers;
  for (std::uint32_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::uint64_t ok = 0, qf = 0, bad = 0;
      for (std::uint64_t i = 0; i < per_producer; ++i) {
        switch (k.try_send(Seq{i, p, 0})) {
          case SendStatus::Ok: ++ok; break;
          case SendStatus::QueueFull: ++qf; break;
          default: ++bad; break;
        }
      }
      accepted[p] = ok;
      full[p] = qf;
      other[p] = bad;
    });
  }
  for (auto& t : producers) t.join();
  REQUIRE(wait_drained(k));

  std::uint64_t total_accepted = 0, total_rejected = 0;
  for (std::uint32_t p = 0; p < kProducers; ++p) {
    CAPTURE(p);
    CHECK(other[p].load() == 0);
    CHECK(accepted[p].load() + full[p].load() == per_producer);  // sent == accepted + rejected
    total_accepted += accepted[p].load();
    total_rejected += full[p].load();
  }
  const KernelStatus s = k.status();
  MESSAGE(std::string(ringkernel::to_string(strategy)) << ": received " << s.messages_received << ", processed "
                                          << s.messages_processed << ", dropped " << s.messages_dropped
                                          << ", rejected " << s.messages_rejected);
  CHECK(s.messages_received == total_accepted);
  CHECK(s.messages_rejected == total_rejected);
  CHECK(s.messages_processed + s.messages_dropped == s.messages_received);
  CHECK(s.queue_depth == 0);
  CHECK(shared.handled.load(std::memory_order_acquire) == s.messages_processed);  // the handler's own count
  CHECK(shared.order_violations.load() == 0);  // FIFO within each producer, drops only remove
  CHECK(k.telemetry().messages_dropped == s.messages_dropped);
  CHECK(rt.metrics().messages_in == s.messages_received);
  CHECK(rt.metrics().messages_dropped == s.messages_dropped);

  switch (strategy) {
    case BackpressureStrategy::Block:
      CHECK(total_rejected == 0);
      CHECK(s.messages_dropped == 0);
      CHECK(s.messages_processed == kProducers * per_producer);
      for (std::uint32_t p = 0; p < kProducers; ++p) CHECK(shared.per_producer[p].load() == per_producer);
      break;
    case BackpressureStrategy::Reject:
      CHECK(s.messages_dropped == 0);
      for (std::uint32_t p = 0; p < kProducers; ++p) CHECK(shared.per_producer[p].load() == accepted[p].load());
      break;
    case BackpressureStrategy::DropOldest:
      CHECK(total_rejected == 0);
      CHECK(total_accepted == kProducers * per_producer);
      break;
  }
  // The workload must actually have put the inbox under pressure (only meaningful when it
  // could not keep up, which 4 producers on a 64-slot inbox nearly always cause).
  if (strategy == BackpressureStrategy::Reject && total_rejected == 0)
    MESSAGE("note: Reject saw no full inbox in this run");
  if (strategy == BackpressureStrategy::DropOldest && s.messages_dropped == 0)
    MESSAGE("note: DropOldest dropped nothing in this run");
}
}  // namespace

TEST_CASE("backpressure Block: 4 producers, capacity 64, every message processed exactly once") {
  backpressure_run(BackpressureStrategy::Block);
}
TEST_CASE("backpressure Reject: 4 producers, capacity 64, sent == accepted + rejected, accepted all processed") {
  backpressure_run(BackpressureStrategy::Reject);
}
TEST_CASE("backpressure DropOldest: 4 producers, capacity 64, processed + dropped == received") {
  backpressure_run(BackpressureStrategy::DropOldest);
}

TEST_CASE("backpressure: a full inbox under Reject refuses at once; Block times out with QueueFull") {
  Runtime rt = make_rt();
  KernelHandle rej = rt.launch("rej", Doubler{},
                               LaunchOptions{}.with_queue_capacity(4).with_backpressure(BackpressureStrategy::Reject)
                                   .without_auto_activate());
  for (std::uint64_t i = 0; i < 4; ++i) CHECK(rej.try_send(Req{i}) == SendStatus::Ok);
  CHECK(rej.try_send(Req{4}) == SendStatus::QueueFull);
  const Caught c = capture([&] { rej.send(Req{5}); });
  CHECK(c.code == ErrorCode::QueueFull);
  CHECK_FALSE(c.kernel_error);
  CHECK(rej.status().messages_rejected == 2);

  KernelHandle blk = rt.launch("blk", Doubler{},
                               LaunchOptions{}.with_queue_capacity(2).with_backpressure(BackpressureStrategy::Block)
                                   .with_send_timeout(milliseconds(30)).without_auto_activate());
  CHECK(blk.try_send(Req{0}) == SendStatus::Ok);
  CHECK(blk.try_send(Req{1}) == SendStatus::Ok);
  const auto t0 = Clock::now();
  CHECK(blk.try_send(Req{2}) == SendStatus::QueueFull);
  CHECK(Clock::now() - t0 >= milliseconds(25));  // it did wait for room
  // Room appears once the kernel runs: a blocked sender gets through.
  std::thread sender([&] { CHECK(blk.try_send(Req{3}) == SendStatus::Ok); });
  std::this_thread::sleep_for(milliseconds(5));
  blk.activate();
  sender.join();
  for (std::uint64_t want : {0, 2, 6}) {  // outputs share the capacity: take them
    auto r = blk.receive<Resp>(std::chrono::seconds(10));
    REQUIRE(r.has_value());
    CHECK(r->v == want);
  }
  REQUIRE(wait_drained(blk));
  CHECK(blk.status().messages_processed == 3);
}

TEST_CASE("backpressure Block: try_send with a timeout waits that long, not the launch's send_timeout") {
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("blk_timeout", Doubler{},
                             LaunchOptions{}.with_queue_capacity(2).with_backpressure(BackpressureStrategy::Block)
                                 .with_send_timeout(std::chrono::seconds(30)).without_auto_activate());
  CHECK(k.try_send(Req{0}) == SendStatus::Ok);
  CHECK(k.try_send(Req{1}) == SendStatus::Ok);
  auto t0 = Clock::now();
  CHECK(k.try_send(Req{2}, Priority::Normal, std::chrono::nanoseconds::zero()) == SendStatus::QueueFull);
  CHECK(k.try_send_envelope(MessageEnvelope::from_message(Req{3}, 0, 0, HlcTimestamp{}), std::chrono::nanoseconds(-5)) == SendStatus::QueueFull);
  CHECK(Clock::now() - t0 < std::chrono::seconds(5));  // never waited for the 30 s
  t0 = Clock::now();
  CHECK(k.try_send_envelope(MessageEnvelope::from_message(Req{4}, 0, 0, HlcTimestamp{}), milliseconds(30)) == SendStatus::QueueFull);
  const auto waited = Clock::now() - t0;
  CHECK(waited >= milliseconds(25));
  CHECK(waited < std::chrono::seconds(5));
  CHECK(k.status().messages_rejected == 3);
  // A sender waiting with a timeout gets through once the kernel makes room.
  std::thread sender([&] { CHECK(k.try_send(Req{5}, Priority::Normal, std::chrono::seconds(10)) == SendStatus::Ok); });
  std::this_thread::sleep_for(milliseconds(5));
  k.activate();
  sender.join();
  for (std::uint64_t want : {0, 2, 10}) {
    auto r = k.receive<Resp>(std::chrono::seconds(10));
    REQUIRE(r.has_value());
    CHECK(r->v == want);
  }
  REQUIRE(wait_drained(k));
  const KernelStatus st = k.status();
  CHECK(st.messages_processed == 3);
  CHECK(st.messages_rejected == 3);  // processed + rejected == sent (6)
}

// ================================================================================================
// Pause and resume under load
// ================================================================================================

TEST_CASE("deactivate/activate under load loses nothing and processes nothing while paused") {
  const std::uint64_t n = scaled(20000);
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("pausing", SeqEcho{}, LaunchOptions{}.with_queue_capacity(256));

  std::atomic<bool> producer_done{false};
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n; ++i) k.send(Seq{i, 0, 0});
    producer_done = true;
  });
  std::vector<int> seen(n, 0);
  std::atomic<std::uint64_t> out_of_order{0};
  std::atomic<std::uint64_t> received{0};
  std::thread receiver([&] {
    std::uint64_t expect = 0;
    const auto end = Clock::now() + std::chrono::seconds(120);
    while (received.load() < n && Clock::now() < end) {
      auto s = k.receive<Seq>(milliseconds(50));
      if (!s) continue;
      if (s->seq < n) ++seen[s->seq];
      if (s->seq != expect) out_of_order.fetch_add(1);
      expect = s->seq + 1;
      received.fetch_add(1);
    }
  });

  int toggles = 0, paused_with_work = 0, moved_while_paused = 0;
  while (!producer_done.load() || k.status().messages_processed < n) {
    if (toggles > 100000) break;
    std::this_thread::sleep_for(microseconds(200));
    k.deactivate();
    REQUIRE(k.state() == KernelState::Deactivated);
    const KernelStatus before = k.status();
    std::this_thread::sleep_for(milliseconds(2));
    const KernelStatus after = k.status();
    if (after.messages_processed != before.messages_processed) ++moved_while_paused;
    if (after.queue_depth != 0) ++paused_with_work;
    k.activate();
    ++toggles;
  }
  producer.join();
  receiver.join();
  MESSAGE("toggles: " << toggles << ", paused with work queued: " << paused_with_work);
  CHECK(moved_while_paused == 0);
  CHECK(toggles > 2);
  CHECK(paused_with_work > 0);  // the pauses really interrupted a stream

  REQUIRE(wait_drained(k));
  const KernelStatus s = k.status();
  CHECK(s.messages_received == n);
  CHECK(s.messages_processed == n);
  CHECK(s.messages_dropped == 0);
  CHECK(received.load() == n);
  CHECK(out_of_order.load() == 0);
  std::uint64_t once = 0;
  for (int c : seen) once += c == 1 ? 1 : 0;
  CHECK(once == n);  // every seq exactly once
}

// BUG (fails; see report): deactivate() is documented to return "once the worker holds no
// message, so nothing is processed after it returns". When the handler is blocked emitting into a
// full output queue, deactivate() gives up after termination_timeout, logs a warning and returns
// normally; the message then completes while the kernel is Deactivated. Throwing (as terminate()
// does with KernelError(Timeout)) would also satisfy this test.
TEST_CASE("deactivate: a handler blocked on a full output queue is not processed after deactivate returns") {
  RuntimeConfig cfg;
  cfg.termination_timeout = milliseconds(100);
  Runtime rt = make_rt(cfg);
  KernelHandle k = rt.launch("stuck_out", Doubler{}, LaunchOptions{}.with_queue_capacity(2));
  for (std::uint64_t i = 0; i < 3; ++i) k.send(Req{i});
  // Two outputs fill the output queue; the third message's handler waits for room.
  REQUIRE(wait_until([&] {
    const KernelStatus s = k.status();
    return s.outputs_pending == 2 && s.queue_depth == 0;
  }));
  const Caught c = capture([&] { k.deactivate(); });
  if (c.threw) {
    CHECK(c.code == ErrorCode::Timeout);  // an honest refusal is fine
  } else {
    CHECK(k.state() == KernelState::Deactivated);
    const std::uint64_t at_return = k.status().messages_processed;
    CHECK(k.receive<Resp>(std::chrono::seconds(1)).has_value());  // make room
    std::this_thread::sleep_for(milliseconds(50));
    CHECK(k.state() == KernelState::Deactivated);
    CHECK(k.status().messages_processed == at_return);  // nothing processed after deactivate returned
  }
}

namespace {
/// Emits outputs 1..5 (the fifth waits for room), then waits for `go` and emits 6.
struct EmitThenWait {
  using input_type = Req;
  using output_type = void;
  std::atomic<bool>* go;
  void operator()(HandlerContext& ctx, const Req&) {
    for (std::uint64_t i = 1; i <= 5; ++i) ctx.emit(Resp{i});
    const auto give_up = Clock::now() + std::chrono::seconds(10);
    while (!go->load() && Clock::now() < give_up) std::this_thread::sleep_for(milliseconds(1));
    ctx.emit(Resp{6});
  }
};
}  // namespace

TEST_CASE("terminate with a full output queue drops that output and every later one: the host gets a prefix") {
  std::atomic<bool> go{false};
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("cut_outputs", EmitThenWait{&go}, LaunchOptions{}.with_queue_capacity(4));
  k.send(Req{0});
  REQUIRE(wait_until([&] { return k.status().outputs_pending == 4; }));  // output 5 waits for room
  std::thread stopper([&] { k.terminate(); });  // waits for the message in hand
  REQUIRE(wait_until([&] { return k.status().outputs_dropped == 1; }));  // 5: terminating, no room
  REQUIRE(k.receive<Resp>(std::chrono::seconds(1)).has_value());         // room for one now...
  go.store(true);
  stopper.join();
  const KernelStatus s = k.status();
  CHECK(s.outputs_dropped == 2);  // ...but 6 is dropped too: no gap after 5
  std::vector<std::uint64_t> rest;
  while (auto r = k.receive<Resp>(milliseconds(20))) rest.push_back(r->v);
  CHECK(rest == std::vector<std::uint64_t>{2, 3, 4});
  CHECK(1 + rest.size() + s.outputs_dropped == 6);  // every output received or counted
}

namespace {
/// Emits two outputs of different types per request: Other first, then Resp.
struct EmitBoth {
  using input_type = Req;
  using output_type = void;
  void operator()(HandlerContext& ctx, const Req& r) {
    ctx.emit(Other{static_cast<std::uint32_t>(r.v)});
    ctx.emit(Resp{r.v});
  }
};
}  // namespace

TEST_CASE("receive: two threads waiting for different output types each get theirs, in order") {
  // A receiver that finds no match moves the whole output queue to the receivers' side, where
  // the other finds its own; neither may lose, reorder or wait out its timeout.
  const std::uint64_t n = scaled(2000);
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("two_types", EmitBoth{}, LaunchOptions{}.with_queue_capacity(64));
  std::atomic<std::uint64_t> missing{0}, out_of_order{0};
  std::thread others([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::optional<Other> o = k.receive<Other>(std::chrono::seconds(5));
      if (!o) { missing.fetch_add(n - i); return; }
      if (o->x != static_cast<std::uint32_t>(i)) out_of_order.fetch_add(1);
    }
  });
  std::thread resps([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::optional<Resp> r = k.receive<Resp>(std::chrono::seconds(5));
      if (!r) { missing.fetch_add(n - i); return; }
      if (r->v != i) out_of_order.fetch_add(1);
    }
  });
  for (std::uint64_t i = 0; i < n; ++i) {
    k.send(Req{i});
    if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));  // let both sleep now and then
  }
  others.join();
  resps.join();
  CHECK(missing.load() == 0);
  CHECK(out_of_order.load() == 0);
  const KernelStatus s = k.status();
  CHECK(s.outputs_pending == 0);
  CHECK(s.outputs_dropped == 0);
}

TEST_CASE("output queue: a receiver that pauses holds the worker back, loses nothing, and never sees more than the capacity queued") {
  const std::uint64_t n = scaled(3000);
  const std::size_t capacity = 8;
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("slow_host", Doubler{}, LaunchOptions{}.with_queue_capacity(capacity));
  std::thread sender([&] {
    for (std::uint64_t i = 0; i < n; ++i) k.send(Req{i});
  });
  std::uint64_t got = 0, wrong = 0, over = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (i % 500 == 0) {
      std::this_thread::sleep_for(milliseconds(5));  // the output queue fills; the worker waits
      if (k.status().outputs_pending > capacity) ++over;
    }
    const std::optional<Resp> r = k.receive<Resp>(std::chrono::seconds(10));
    if (!r) break;
    ++got;
    if (r->v != 2 * i) ++wrong;
  }
  sender.join();
  CHECK(got == n);
  CHECK(wrong == 0);
  CHECK(over == 0);
  const KernelStatus s = k.status();
  CHECK(s.outputs_dropped == 0);
  CHECK(s.outputs_pending == 0);
  // A message counts as processed after its handler returns, which may be after the host has
  // its output.
  CHECK(wait_until([&] { return k.status().messages_processed == n; }));
}

// ================================================================================================
// call()
// ================================================================================================

TEST_CASE("call: 4 threads calling concurrently each get the answer to their own request") {
  const std::uint64_t per_thread = scaled(3000);
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("mixer", Mixer{});
  std::atomic<std::uint64_t> wrong{0}, errors{0};
  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        const std::uint64_t v = (t << 32) | i;  // unique across threads
        try {
          if (k.call<Resp>(Req{v}, std::chrono::seconds(30)).v != mix(v)) wrong.fetch_add(1);
        } catch (const ringkernel::Error&) {
          errors.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong.load() == 0);
  CHECK(errors.load() == 0);
  const KernelStatus s = k.status();
  CHECK(s.messages_processed == 4 * per_thread);
  CHECK(s.outputs_pending == 0);  // every reply went to its caller, none left over
}

TEST_CASE("call: a missing reply is Error(Timeout); a late reply never answers a later call") {
  Runtime rt = make_rt();
  KernelHandle odd = rt.launch("odd", OddOnly{});
  auto t0 = Clock::now();
  Caught c = capture([&] { (void)odd.call<Resp>(Req{2}, milliseconds(50)); });
  const auto waited = Clock::now() - t0;
  CHECK(c.threw);
  CHECK(c.code == ErrorCode::Timeout);
  CHECK_FALSE(c.kernel_error);
  CHECK(waited >= milliseconds(45));
  CHECK(waited < std::chrono::seconds(10));
  CHECK(odd.call<Resp>(Req{3}, std::chrono::seconds(10)).v == mix(3));  // the kernel still answers

  KernelHandle slow = rt.launch("slow", Sleeper{});
  c = capture([&] { (void)slow.call<Resp>(Req{150}, milliseconds(20)); });
  CHECK(c.code == ErrorCode::Timeout);
  CHECK(slow.call<Resp>(Req{1}, std::chrono::seconds(10)).v == mix(1));  // its own answer, not the late one
}

TEST_CASE("call: on a terminated kernel throws KernelError(NotActive); a fault during a call is KernelFault") {
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("gone", Doubler{});
  k.terminate();
  Caught c = capture([&] { (void)k.call<Resp>(Req{1}, std::chrono::seconds(1)); });
  CHECK(c.kernel_error);
  CHECK(c.code == ErrorCode::NotActive);

  KernelHandle t = rt.launch("thrower_call", Thrower{});
  c = capture([&] { (void)t.call<Resp>(Req{666}, std::chrono::seconds(10)); });
  CHECK(c.kernel_error);
  CHECK(c.code == ErrorCode::KernelFault);
  CHECK(t.state() == KernelState::Faulted);
}

// ================================================================================================
// Faults
// ================================================================================================

TEST_CASE("fault: a throwing handler faults only its own kernel") {
  Runtime rt = make_rt();
  KernelHandle bad = rt.launch("bad", Thrower{});
  KernelHandle good = rt.launch("good", Doubler{});
  CHECK(bad.call<Resp>(Req{1}, std::chrono::seconds(10)).v == 2);
  bad.deactivate();
  bad.send(Req{666});  // faults
  bad.send(Req{7});    // stay queued behind the faulting message
  bad.send(Req{8});
  bad.activate();
  REQUIRE(wait_until([&] { return bad.state() == KernelState::Faulted; }));

  const std::optional<ringkernel::KernelFault> f = bad.fault();
  REQUIRE(f.has_value());
  CHECK(contains(f->what, "boom: handler refused input 666"));
  CHECK(f->message.header().type_id == ringkernel::message_type_id<Req>());
  CHECK(f->message.as<Req>().v == 666);  // the failing message's payload

  KernelStatus s = bad.status();
  CHECK(s.state == KernelState::Faulted);
  CHECK(s.errors == 1);
  CHECK(s.messages_processed == 1);
  CHECK(s.queue_depth == 2);
  CHECK(s.messages_received == s.messages_processed + s.messages_dropped + s.queue_depth + 1);
  CHECK(bad.telemetry().error_code == static_cast<std::int32_t>(ErrorCode::KernelFault));
  CHECK(rt.metrics().faults == 1);

  // The other kernel keeps answering.
  CHECK(good.call<Resp>(Req{21}, std::chrono::seconds(10)).v == 42);
  CHECK(good.state() == KernelState::Active);
  CHECK_FALSE(good.fault().has_value());

  // The faulted kernel refuses messages.
  const Caught c = capture([&] { bad.send(Req{2}); });
  CHECK(c.kernel_error);
  CHECK(c.code == ErrorCode::KernelFault);
  CHECK(bad.try_send(Req{2}) == SendStatus::KernelFaulted);
  CHECK(bad.status().messages_received == s.messages_received);

  // It terminates cleanly; the queued messages are drained; the fault stays on record.
  bad.terminate();
  CHECK(bad.state() == KernelState::Terminated);
  const std::vector<MessageEnvelope> left = bad.drain_unprocessed();
  REQUIRE(left.size() == 2);
  CHECK(left[0].as<Req>().v == 7);
  CHECK(left[1].as<Req>().v == 8);
  CHECK(bad.fault().has_value());
  CHECK(rt.metrics().faults == 1);
  CHECK(good.call<Resp>(Req{5}, std::chrono::seconds(10)).v == 10);
  // The id can be reused once terminated.
  KernelHandle again = rt.launch("bad", Thrower{});
  CHECK(again.call<Resp>(Req{9}, std::chrono::seconds(10)).v == 10);
}

TEST_CASE("fault: a throwing loop kernel faults, and the runtime keeps running") {
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("loop_thrower", [](KernelContext& ctx) {
    while (!ctx.should_terminate())
      if (auto m = ctx.receive<Req>(milliseconds(5))) {
        if (m->v == 666) throw std::runtime_error("loop boom");
        ctx.send(Resp{m->v});
      }
  });
  CHECK(k.call<Resp>(Req{3}, std::chrono::seconds(10)).v == 3);
  k.send(Req{666});
  REQUIRE(wait_until([&] { return k.state() == KernelState::Faulted; }));
  REQUIRE(k.fault().has_value());
  CHECK(contains(k.fault()->what, "loop boom"));
  CHECK(k.status().errors == 1);
  CHECK(k.try_send(Req{1}) == SendStatus::KernelFaulted);
  KernelHandle other = rt.launch("after_loop_fault", Doubler{});
  CHECK(other.call<Resp>(Req{4}, std::chrono::seconds(10)).v == 8);
  k.terminate();
  CHECK(k.state() == KernelState::Terminated);

  // A loop kernel that receives a message of another type than it asked for faults, keeping it.
  KernelHandle echo = rt.launch("rt_test_echo_loop");
  CHECK(echo.try_send(Other{77}) == SendStatus::Ok);  // loop kernels accept any type at send
  REQUIRE(wait_until([&] { return echo.state() == KernelState::Faulted; }));
  REQUIRE(echo.fault().has_value());
  CHECK(echo.fault()->message.header().type_id == ringkernel::message_type_id<Other>());
  CHECK(echo.fault()->message.as<Other>().x == 77);
  CHECK(echo.status().errors == 1);
  CHECK(rt.metrics().faults == 2);
  echo.terminate();
  CHECK(echo.state() == KernelState::Terminated);
}

// ================================================================================================
// Shutdown accounting
// ================================================================================================

TEST_CASE("shutdown with messages in flight: every message processed, queued or dropped; drain returns the rest") {
  const std::uint64_t kCount = 100;
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("inflight", SeqEcho{}, LaunchOptions{}.with_queue_capacity(128));
  CHECK(k.call<Seq>(Seq{1000, 0, 0}, std::chrono::seconds(10)).seq == 1000);
  k.deactivate();
  for (std::uint64_t i = 0; i < kCount; ++i) k.send(Seq{i, 0, 0});
  rt.shutdown();
  CHECK(k.state() == KernelState::Terminated);
  KernelStatus s = k.status();
  CHECK(s.messages_received == kCount + 1);
  CHECK(s.messages_processed == 1);
  CHECK(s.queue_depth == kCount);
  CHECK(s.messages_processed + s.queue_depth + s.messages_dropped == s.messages_received);

  const std::vector<MessageEnvelope> left = k.drain_unprocessed();
  REQUIRE(left.size() == kCount);
  for (std::uint64_t i = 0; i < kCount; ++i) {
    CAPTURE(i);
    CHECK(left[i].header().type_id == ringkernel::message_type_id<Seq>());
    CHECK(left[i].as<Seq>().seq == i);  // exactly the unprocessed ones, in order
  }
  CHECK(k.status().queue_depth == 0);
  CHECK(k.drain_unprocessed().empty());

  rt.shutdown();  // idempotent
  CHECK(capture([&] { rt.launch("late", Doubler{}); }).code == ErrorCode::Closed);
  CHECK(k.try_send(Seq{1, 0, 0}) == SendStatus::NotActive);
}

TEST_CASE("shutdown mid-stream: processed and drained messages partition what was accepted") {
  const std::uint64_t kCount = scaled(2000) < 400 ? 400 : scaled(2000);
  Runtime rt = make_rt();
  std::vector<std::atomic<int>> marks(kCount);
  KernelHandle k = rt.launch("midstream", Marker{&marks, 50}, LaunchOptions{}.with_queue_capacity(4096));
  for (std::uint64_t i = 0; i < kCount; ++i) k.send(Seq{i, 0, 0});
  REQUIRE(wait_until([&] { return k.status().messages_processed >= 20; }));
  const Caught c = capture([&] { k.drain_unprocessed(); });  // not before termination
  CHECK(c.code == ErrorCode::InvalidState);
  rt.shutdown();
  const KernelStatus s = k.status();
  CHECK(s.state == KernelState::Terminated);
  CHECK(s.messages_received == kCount);
  CHECK(s.messages_processed + s.queue_depth + s.messages_dropped == s.messages_received);
  CHECK(s.queue_depth > 0);  // shutdown really interrupted the stream

  const std::vector<MessageEnvelope> left = k.drain_unprocessed();
  CHECK(left.size() == s.queue_depth);
  std::vector<int> drained(kCount, 0);
  for (const MessageEnvelope& e : left) {
    const Seq q = e.as<Seq>();
    REQUIRE(q.seq < kCount);
    ++drained[q.seq];
  }
  std::uint64_t processed_marks = 0, bad = 0;
  for (std::uint64_t i = 0; i < kCount; ++i) {
    const int m = marks[i].load();
    processed_marks += static_cast<std::uint64_t>(m);
    if (m + drained[i] != 1) ++bad;  // each message exactly once: processed xor drained
  }
  CHECK(bad == 0);
  CHECK(processed_marks == s.messages_processed);
}

// BUG (fails; see report): KernelCore::terminate_quietly joins the worker outside its mutex
// (`if (worker.joinable()) worker.join();`), so two threads terminating one kernel (two
// terminate() calls, or terminate() racing Runtime::shutdown()) can both join the same
// std::thread: a data race on the std::thread object and a double pthread_join, which in practice
// blocks one caller forever (or aborts ThreadSanitizer itself). A double join leaves the process
// corrupt (the joiner later waits on a reused thread descriptor), so the rounds run in a forked
// child under a watchdog; the parent only reads the child's exit status.
namespace {
// Child exit codes.
constexpr int kChildOk = 0, kChildThrew = 3, kChildNotTerminated = 4;
int concurrent_terminate_rounds(int rounds) {
  for (int round = 0; round < rounds; ++round) {
    Runtime rt = make_rt();
    KernelHandle a = rt.launch("a", Doubler{});
    KernelHandle b = rt.launch("b", Doubler{});
    std::atomic<int> ready{0}, threw{0};
    auto actor = [&](int what) {
      ready.fetch_add(1);
      while (ready.load() < 3) std::this_thread::yield();
      try {
        if (what == 2) rt.shutdown(); else a.terminate();
      } catch (...) {
        threw.fetch_add(1);
      }
    };
    std::thread t0(actor, 0), t1(actor, 1), t2(actor, 2);
    t0.join();
    t1.join();
    t2.join();
    if (threw.load() != 0) return kChildThrew;
    if (a.state() != KernelState::Terminated || b.state() != KernelState::Terminated) return kChildNotTerminated;
  }
  return kChildOk;
}
}  // namespace

TEST_CASE("shutdown: concurrent terminate() calls and shutdown() on the same kernel are safe") {
  // KernelHandle is documented thread-safe ("any thread may ... change the state concurrently").
  const int rounds = static_cast<int>(scaled(40)) + 10;
  std::fflush(nullptr);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) _exit(concurrent_terminate_rounds(rounds));
  int status = 0;
  bool hung = true;
  const auto end = Clock::now() + std::chrono::seconds(8);  // a healthy child needs well under 1 s
  while (Clock::now() < end) {
    const pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) {
      hung = false;
      break;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  if (hung) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  CAPTURE(rounds);
  CHECK_MESSAGE(!hung, "a terminate()/shutdown() call never returned (double join of the worker thread)");
  if (!hung) {
    CHECK_MESSAGE(WIFEXITED(status), "the child died from signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
    if (WIFEXITED(status)) {
      CHECK_MESSAGE(WEXITSTATUS(status) != kChildThrew, "terminate() or shutdown() threw");
      CHECK_MESSAGE(WEXITSTATUS(status) != kChildNotTerminated, "a kernel was not Terminated afterwards");
      CHECK_MESSAGE(WEXITSTATUS(status) == kChildOk, "child exit code " << WEXITSTATUS(status)
                                                                         << " (66: a sanitizer report)");
    }
  }
}

// ================================================================================================
// Handler styles, registry, ids, type checks
// ================================================================================================

TEST_CASE("handlers: plain form, context form emitting 0/1/3 outputs, and member state across messages") {
  Runtime rt = make_rt();
  KernelHandle d = rt.launch("doubler", Doubler{});
  CHECK(d.call<Resp>(Req{7}, std::chrono::seconds(10)).v == 14);

  std::atomic<int> wrong_id{0};
  KernelHandle f = rt.launch("fanout", Fanout{&wrong_id});
  f.send(Req{0});
  f.send(Req{1});
  f.send(Req{3});
  const std::uint64_t expect[] = {100, 300, 301, 302};
  for (std::uint64_t e : expect) {
    auto r = f.receive<Resp>(std::chrono::seconds(10));
    REQUIRE(r.has_value());
    CHECK(r->v == e);
  }
  REQUIRE(wait_drained(f));
  CHECK_FALSE(f.receive<Resp>(milliseconds(30)).has_value());  // exactly 4 outputs
  CHECK(f.status().messages_processed == 3);
  CHECK(wrong_id.load() == 0);  // ctx.kernel_id() is the kernel's id
  CHECK(rt.metrics().messages_out == 1 + 4);

  KernelHandle sum = rt.launch("summer", Summer{});
  for (std::uint64_t i = 1; i <= 10; ++i) sum.send(Req{i});
  std::uint64_t running = 0;
  for (std::uint64_t i = 1; i <= 10; ++i) {
    running += i;
    auto r = sum.receive<Resp>(std::chrono::seconds(10));
    REQUIRE(r.has_value());
    CHECK(r->v == running);
  }
  // A lambda that is not a message handler is a loop kernel.
  KernelHandle l = rt.launch("lambda_loop", [](KernelContext& ctx) {
    while (!ctx.should_terminate())
      if (auto m = ctx.receive<Req>(milliseconds(5))) ctx.send(Resp{m->v * 5});
  });
  CHECK(l.call<Resp>(Req{3}, std::chrono::seconds(10)).v == 15);
}

TEST_CASE("handlers: registered kernels launch by name; unknown names, duplicate and empty ids are refused") {
  Runtime rt = make_rt();
  // BUG (see report): `rt.launch("name", LaunchOptions{})` or `rt.launch("name", opts.with_...())`
  // does not compile: the unconstrained template launch(id, H&&, options) takes the options as
  // the handler and hits make_body's static_assert. Only a const lvalue reaches launch(name,
  // options). Define RK_TEST_LAUNCH_BY_NAME_RVALUE to compile the natural form.
  const LaunchOptions opts = LaunchOptions{}.with_queue_capacity(64);
  KernelHandle echo = rt.launch("rt_test_echo_loop", opts);
#if defined(RK_TEST_LAUNCH_BY_NAME_RVALUE)
  {
    Runtime rt2 = make_rt();
    KernelHandle e2 = rt2.launch("rt_test_echo_loop", LaunchOptions{}.with_queue_capacity(64));
    CHECK(e2.call<Resp>(Req{1}, std::chrono::seconds(10)).v == 1001);
    LaunchOptions mutable_opts;
    KernelHandle e3 = rt2.launch("rt_test_doubler", mutable_opts);
    CHECK(e3.call<Resp>(Req{1}, std::chrono::seconds(10)).v == 2);
  }
#endif
  CHECK(echo.id() == "rt_test_echo_loop");
  CHECK(echo.state() == KernelState::Active);
  CHECK(echo.call<Resp>(Req{1}, std::chrono::seconds(10)).v == 1001);  // correlation kept by ctx.send
  echo.send(Req{2});
  auto r = echo.receive<Resp>(std::chrono::seconds(10));
  REQUIRE(r.has_value());
  CHECK(r->v == 1002);

  KernelHandle dbl = rt.launch("rt_test_doubler");
  CHECK(dbl.call<Resp>(Req{8}, std::chrono::seconds(10)).v == 16);

  // A loop kernel that returns on its own becomes Terminated.
  KernelHandle once = rt.launch("rt_test_id_loop");
  auto idlen = once.receive<Resp>(std::chrono::seconds(10));
  REQUIRE(idlen.has_value());
  CHECK(idlen->v == std::string("rt_test_id_loop").size());
  CHECK(wait_until([&] { return once.state() == KernelState::Terminated; }));

  Caught c = capture([&] { rt.launch("rt_test_no_such_kernel"); });
  CHECK(c.kernel_error);
  CHECK(c.code == ErrorCode::KernelNotFound);
  CHECK(contains(c.what, "rt_test_no_such_kernel"));

  c = capture([&] { rt.launch("rt_test_doubler", Doubler{}); });  // live id
  CHECK(c.code == ErrorCode::InvalidArgument);
  c = capture([&] { rt.launch("rt_test_echo_loop"); });  // live id, by name
  CHECK(c.code == ErrorCode::InvalidArgument);
  c = capture([&] { rt.launch("", Doubler{}); });
  CHECK(c.code == ErrorCode::InvalidArgument);

  const std::vector<std::string> ids = rt.list_kernels();
  CHECK(ids == std::vector<std::string>{"rt_test_echo_loop", "rt_test_doubler", "rt_test_id_loop"});
  CHECK(rt.kernel("rt_test_doubler").call<Resp>(Req{2}, std::chrono::seconds(10)).v == 4);
  c = capture([&] { (void)rt.kernel("nobody"); });
  CHECK(c.code == ErrorCode::KernelNotFound);

  // Once terminated, an id may be launched again.
  dbl.terminate();
  KernelHandle dbl2 = rt.launch("rt_test_doubler", Mixer{});
  CHECK(dbl2.call<Resp>(Req{2}, std::chrono::seconds(10)).v == mix(2));
  CHECK(rt.metrics().total_launched == 4);
}

// BUG (fails; see report): Runtime::launch_body starts the worker thread and only then calls
// handle.activate() for auto-activation. A loop kernel whose body returns before that (it need
// not wait for activation: it may only send, or do nothing) has already been set Terminated by
// the worker epilogue, so activate() throws KernelError(InvalidState) "Terminated -> Active" out
// of launch(), although the kernel was launched and ran.
TEST_CASE("handlers: launching a loop kernel that returns at once never throws") {
  Runtime rt = make_rt();
  const int per_thread = 200;  // not scaled: cheap, and the window needs the repetitions
  constexpr int kThreads = 4;  // launching from several threads makes the window easy to hit
  std::atomic<int> threw{0}, not_terminated{0};
  std::mutex mu;
  std::string what;
  std::vector<std::thread> launchers;
  for (int t = 0; t < kThreads; ++t) {
    launchers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        try {
          KernelHandle k = rt.launch("quick" + std::to_string(t) + "_" + std::to_string(i), [](KernelContext&) {});
          if (!wait_until([&] { return k.state() == KernelState::Terminated; }, milliseconds(5000)))
            not_terminated.fetch_add(1);
        } catch (const ringkernel::Error& e) {
          std::lock_guard<std::mutex> lk(mu);
          if (threw.fetch_add(1) == 0) what = e.what();
        }
      }
    });
  }
  for (auto& th : launchers) th.join();
  CAPTURE(per_thread);
  CAPTURE(what);
  CHECK(threw.load() == 0);
  CHECK(not_terminated.load() == 0);
  CHECK(rt.list_kernels().size() == static_cast<std::size_t>(kThreads * per_thread));
}

TEST_CASE("handlers: a message of the wrong type is refused: send throws InvalidArgument, try_send TypeMismatch") {
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("typed", Doubler{});
  const Caught c = capture([&] { k.send(Other{1}); });
  CHECK(c.threw);
  CHECK(c.code == ErrorCode::InvalidArgument);
  CHECK(k.try_send(Other{1}) == SendStatus::TypeMismatch);
  CHECK(k.try_send(Resp{1}) == SendStatus::TypeMismatch);  // same size, other type id
  const KernelStatus s = k.status();
  CHECK(s.messages_received == 0);
  CHECK(s.messages_rejected == 3);
  CHECK(k.state() == KernelState::Active);
  CHECK(k.call<Resp>(Req{5}, std::chrono::seconds(10)).v == 10);
}

// ================================================================================================
// HLC
// ================================================================================================

TEST_CASE("hlc: sends are stamped by the runtime clock, and outputs are stamped after their inputs") {
  Runtime rt = make_rt(RuntimeConfig{}, 7);
  CHECK(rt.clock().node_id() == 7);

  SUBCASE("loop kernel sees the send timestamp") {
    KernelHandle k = rt.launch("rt_test_ts_loop");
    HlcTimestamp prev_out{};
    for (std::uint64_t i = 0; i < 20; ++i) {
      const HlcTimestamp before = rt.clock().now();
      k.send(Req{i});
      const HlcTimestamp after = rt.clock().now();
      auto env = k.receive_envelope(std::chrono::seconds(10));
      REQUIRE(env.has_value());
      const TsOut o = env->as<TsOut>();
      CHECK(o.v == i);
      CHECK(o.in > before);  // a fresh tick of the runtime clock...
      CHECK(o.in <= after);  // ...taken during send
      CHECK(o.in.node_id == 7);
      CHECK(o.later > o.in);
      CHECK(env->header().timestamp > o.later);  // the output is stamped after the input
      CHECK(env->header().timestamp.node_id == 7);
      CHECK(env->header().timestamp > prev_out);
      prev_out = env->header().timestamp;
    }
  }
  SUBCASE("message handler: ctx.timestamp() is after the send, the output after that") {
    KernelHandle k = rt.launch("ts_handler", TsHandler{});
    HlcTimestamp prev_out{};
    for (std::uint64_t i = 0; i < 20; ++i) {
      const HlcTimestamp before = rt.clock().now();
      k.send(Req{i});
      auto env = k.receive_envelope(std::chrono::seconds(10));
      REQUIRE(env.has_value());
      const TsOut o = env->as<TsOut>();
      CHECK(o.in > before);
      CHECK(o.later > o.in);
      CHECK(env->header().timestamp > o.in);
      CHECK(env->header().timestamp > o.later);
      CHECK(env->header().timestamp > prev_out);
      prev_out = env->header().timestamp;
    }
  }
  SUBCASE("an envelope stamped ahead of the clock is merged: the output is after it") {
    KernelHandle k = rt.launch("ts_merge", TsHandler{});
    const HlcTimestamp ahead{rt.clock().now().physical + 2000000, 5, 99};  // 2 s ahead, within drift
    k.send_envelope(MessageEnvelope::from_message(Req{42}, 0, 0, ahead));
    auto env = k.receive_envelope(std::chrono::seconds(10));
    REQUIRE(env.has_value());
    const TsOut o = env->as<TsOut>();
    CHECK(o.v == 42);
    CHECK(o.in > ahead);
    CHECK(env->header().timestamp > ahead);
    CHECK(rt.clock().now() > ahead);  // the runtime clock moved past it
    // Far beyond the drift limit: refused, not merged.
    const HlcTimestamp absurd{rt.clock().now().physical + 3600ull * 1000000, 0, 99};
    CHECK(k.try_send_envelope(MessageEnvelope::from_message(Req{43}, 0, 0, absurd)) == SendStatus::ClockDrift);
    CHECK(rt.clock().now() < absurd);
  }
}

namespace {
/// Stamps (ctx.now()), then asks kernel `b` (a TsHandler) and waits for its answer: by call(),
/// or by send() + receive(). Returns b's `later` stamp in `in` and its own first stamp in `later`.
struct AskAndStamp {
  using input_type = Req;
  using output_type = TsOut;
  KernelHandle b;
  bool use_call = true;
  TsOut operator()(HandlerContext& ctx, const Req& r) {
    const HlcTimestamp mine = ctx.now();
    TsOut answer{};
    if (use_call) {
      answer = b.call<TsOut>(Req{r.v}, std::chrono::seconds(10));
    } else {
      b.send(Req{r.v});
      answer = b.receive<TsOut>(std::chrono::seconds(10)).value_or(TsOut{});
    }
    return TsOut{answer.later, mine, r.v};
  }
};
}  // namespace

namespace {
/// Stamps (ctx.now()), publishes the request on "ts/pub", then answers with its own stamp.
struct StampPublishAnswer {
  using input_type = Req;
  using output_type = TsOut;
  TsOut operator()(HandlerContext& ctx, const Req& r) {
    const HlcTimestamp mine = ctx.now();
    ctx.publish(Topic("ts/pub"), Req{r.v});
    return TsOut{mine, mine, r.v};
  }
};
}  // namespace

TEST_CASE("hlc: what a handler emits after publishing is stamped after the published message") {
  Runtime rt = make_rt();
  KernelHandle sub = rt.launch("ts_subscriber", TsHandler{});
  rt.pubsub().subscribe(Topic("ts/pub"), "ts_subscriber");
  KernelHandle pub = rt.launch("ts_publisher", StampPublishAnswer{}, LaunchOptions{}.without_auto_activate());
  for (std::uint64_t i = 0; i < 8; ++i) pub.send(Req{i});  // one batch: a block of 9 stamps
  pub.activate();
  std::vector<HlcTimestamp> published(8), answered(8);
  for (std::uint64_t i = 0; i < 8; ++i) {
    auto a = pub.receive_envelope(std::chrono::seconds(10));
    auto b = sub.receive<TsOut>(std::chrono::seconds(10));
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    REQUIRE(a->as<TsOut>().v < 8);
    REQUIRE(b->v < 8);
    answered[a->as<TsOut>().v] = a->header().timestamp;
    published[b->v] = b->in;  // the subscriber's input: the publish's timestamp
  }
  for (std::size_t i = 0; i < 8; ++i) {
    CAPTURE(i);
    CHECK(answered[i] > published[i]);
  }
}

TEST_CASE("hlc: host threads stamp streamed sends from blocks: unique, per-thread increasing, above what they received, close to the wall clock") {
  Runtime rt = make_rt(RuntimeConfig{}, 3);
  KernelHandle k = rt.launch("host_blocks", TsHandler{}, LaunchOptions{}.with_queue_capacity(4096));
  const std::uint64_t per_thread = 1000;
  // Two host threads stream sends without receiving (their blocks grow to 64 ticks).
  std::vector<std::thread> senders;
  for (std::uint64_t t = 0; t < 2; ++t)
    senders.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < per_thread; ++i) k.send(Req{(t << 32) | i});
    });
  for (auto& th : senders) th.join();
  std::vector<HlcTimestamp> by_thread[2];
  std::vector<HlcTimestamp> all;
  HlcTimestamp highest_out{};
  for (std::uint64_t n = 0; n < 2 * per_thread; ++n) {
    auto env = k.receive_envelope(std::chrono::seconds(10));
    REQUIRE(env.has_value());
    const TsOut o = env->as<TsOut>();
    by_thread[o.v >> 32].push_back(o.in);
    all.push_back(o.in);
    CHECK(env->header().timestamp > o.in);
    if (env->header().timestamp > highest_out) highest_out = env->header().timestamp;
  }
  for (auto& v : by_thread) {
    REQUIRE(v.size() == per_thread);
    for (std::size_t i = 1; i < v.size(); ++i) CHECK(v[i] > v[i - 1]);  // each thread's sends in order
  }
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());  // no stamp twice
  for (const HlcTimestamp& ts : all) CHECK(ts.node_id == 3);

  // This thread sends (leaving a partly used block), receives the answers, and sends again:
  // that send is stamped above every answer it received.
  for (std::uint64_t i = 0; i < 40; ++i) k.send(Req{i});
  for (std::uint64_t i = 0; i < 40; ++i) {
    auto o = k.receive_envelope(std::chrono::seconds(10));
    REQUIRE(o.has_value());
    if (o->header().timestamp > highest_out) highest_out = o->header().timestamp;
  }
  k.send(Req{7});
  auto after = k.receive<TsOut>(std::chrono::seconds(10));
  REQUIRE(after.has_value());
  CHECK(after->in > highest_out);

  // A block does not outlive the coarse wall clock's tick: a send after a pause is stamped
  // close to the wall clock, not from ticks reserved before the pause.
  for (std::uint64_t i = 0; i < 40; ++i) k.send(Req{i});  // a partly used block is left
  std::this_thread::sleep_for(milliseconds(100));
  const std::uint64_t wall_before = HlcTimestamp::now(0).physical;
  k.send(Req{99});
  std::uint64_t seen = 0;
  HlcTimestamp last{};
  while (seen < 41) {
    auto o = k.receive<TsOut>(std::chrono::seconds(10));
    REQUIRE(o.has_value());
    ++seen;
    last = o->in;
  }
  CHECK(last.physical + 20000 >= wall_before);  // within 20 ms (the coarse clock's tick is ~4 ms)
}

TEST_CASE("hlc: a batch's outputs are stamped after their inputs, in order, from one kernel") {
  Runtime rt = make_rt();
  // Queued while paused, so the worker takes them as one batch and stamps from one block.
  KernelHandle k = rt.launch("ts_batch", TsHandler{}, LaunchOptions{}.without_auto_activate());
  for (std::uint64_t i = 0; i < 16; ++i) k.send(Req{i});
  k.activate();
  HlcTimestamp prev_out{};
  for (std::uint64_t i = 0; i < 16; ++i) {
    auto env = k.receive_envelope(std::chrono::seconds(10));
    REQUIRE(env.has_value());
    const TsOut o = env->as<TsOut>();
    CHECK(o.v == i);
    CHECK(o.later > o.in);
    CHECK(env->header().timestamp > o.later);
    CHECK(env->header().timestamp > prev_out);
    prev_out = env->header().timestamp;
  }
}

TEST_CASE("hlc: what a handler emits after waiting for another kernel is stamped after that kernel's answer") {
  // The worker stamps from a block reserved once per batch; an answer from elsewhere (call,
  // receive) may be stamped above that block, so waiting for one must start a new block.
  Runtime rt = make_rt();
  for (const bool use_call : {true, false}) {
    CAPTURE(use_call);
    const std::string tag = use_call ? "call" : "receive";
    KernelHandle b = rt.launch("ts_answer_" + tag, TsHandler{});
    KernelHandle a = rt.launch("ts_ask_" + tag, AskAndStamp{b, use_call}, LaunchOptions{}.without_auto_activate());
    for (std::uint64_t i = 0; i < 8; ++i) a.send(Req{i});  // one batch of 8: a block of 9 stamps
    a.activate();
    for (std::uint64_t i = 0; i < 8; ++i) {
      auto env = a.receive_envelope(std::chrono::seconds(10));
      REQUIRE(env.has_value());
      const TsOut o = env->as<TsOut>();
      CHECK(o.v == i);
      CHECK(o.in > o.later);                      // b answered after a's first stamp
      CHECK(env->header().timestamp > o.in);      // a's output comes after b's answer
    }
  }
}

// ================================================================================================
// Priority
// ================================================================================================

namespace {
/// Sends (seq, priority) pairs to a paused kernel, activates it, and returns the processing order.
std::vector<std::uint64_t> priority_order(KernelHandle& k, const std::vector<std::pair<std::uint64_t, Priority>>& msgs) {
  for (const auto& m : msgs) k.send(Seq{m.first, 0, 0}, m.second);
  k.activate();
  std::vector<std::uint64_t> order;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    auto s = k.receive<Seq>(std::chrono::seconds(10));
    if (!s) break;
    order.push_back(s->seq);
  }
  return order;
}
}  // namespace

TEST_CASE("priority: a paused kernel serves Critical first, FIFO within a priority") {
  const std::vector<std::pair<std::uint64_t, Priority>> msgs = {
      {0, Priority::Low},  {1, Priority::Normal},   {2, Priority::Critical}, {3, Priority::Low},
      {4, Priority::High}, {5, Priority::Critical}, {6, Priority::Normal},   {7, static_cast<Priority>(200)},
  };
  const std::vector<std::uint64_t> expect = {2, 5, 7, 4, 1, 6, 0, 3};
  Runtime rt = make_rt();

  SUBCASE("Launched (two-phase launch)") {
    KernelHandle k = rt.launch("prio_launched", SeqEcho{}, LaunchOptions{}.without_auto_activate());
    CHECK(join(priority_order(k, msgs)) == join(expect));
  }
  // BUG (fails intermittently): the idle worker is parked; if it wakes from deactivate()'s
  // interrupt only after the first message was sent, it takes and holds it (see "pausing an idle
  // kernel keeps priority order" below, which reproduces this reliably).
  SUBCASE("Deactivated after running (and idling)") {
    KernelHandle k = rt.launch("prio_paused", SeqEcho{});
    CHECK(k.call<Seq>(Seq{99, 0, 0}, std::chrono::seconds(10)).seq == 99);
    std::this_thread::sleep_for(milliseconds(5));  // idle: the worker parks
    k.deactivate();
    CHECK(join(priority_order(k, msgs)) == join(expect));
  }
  SUBCASE("the kernel's default priority applies to sends without one") {
    KernelHandle k = rt.launch("prio_default", SeqEcho{},
                               LaunchOptions{}.with_priority(Priority::Low).without_auto_activate());
    k.send(Seq{0, 0, 0});                      // Low (default)
    k.send(Seq{1, 0, 0}, Priority::Normal);    // Normal beats the default
    k.send(Seq{2, 0, 0});                      // Low
    k.activate();
    std::vector<std::uint64_t> order;
    for (int i = 0; i < 3; ++i) {
      auto s = k.receive<Seq>(std::chrono::seconds(10));
      REQUIRE(s.has_value());
      order.push_back(s->seq);
    }
    CHECK(join(order) == "1,0,2");
  }
}

// BUG (fails; see report): pausing an idle kernel does not stop its worker from taking a message.
// The idle worker is parked in PriorityInbox::pop (KernelCore::pop_wait). deactivate() clears
// `run` and interrupt()s the inbox, but the woken pop() finds the message the host sent right
// after deactivate() returned, takes it (pop prefers data over the interrupt), and
// KernelCore::claim, seeing run == false, "holds" it. On resume core_next hands out the held
// message before anything in the inbox, so a Low message sent while paused is served ahead of
// Critical and Normal ones sent a moment later. Reproduces in >90% of rounds on an idle machine.
TEST_CASE("priority: pausing an idle kernel keeps priority order (repeated)") {
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("prio_idle_pause", SeqEcho{});
  const int rounds = 40;
  int wrong = 0;
  std::string first_bad;
  for (int round = 0; round < rounds; ++round) {
    std::this_thread::sleep_for(milliseconds(1));  // idle: the worker parks
    k.deactivate();                                // nothing may be taken out of the inbox now
    k.send(Seq{0, 0, 0}, Priority::Low);
    std::this_thread::sleep_for(microseconds(300));
    k.send(Seq{1, 0, 0}, Priority::Normal);
    k.send(Seq{2, 0, 0}, Priority::Critical);
    CHECK(k.status().queue_depth == 3);
    k.activate();
    std::vector<std::uint64_t> order;
    for (int i = 0; i < 3; ++i) {
      auto s = k.receive<Seq>(std::chrono::seconds(10));
      REQUIRE(s.has_value());
      order.push_back(s->seq);
    }
    if (order != std::vector<std::uint64_t>{2, 1, 0}) {
      if (wrong == 0) first_bad = join(order);
      ++wrong;
    }
  }
  CAPTURE(rounds);
  CAPTURE(first_bad);
  CHECK(wrong == 0);
}

// ================================================================================================
// Telemetry
// ================================================================================================

TEST_CASE("telemetry: status latency min <= avg <= max, counts, last activity; telemetry() agrees") {
  Runtime rt = make_rt();
  KernelHandle k = rt.launch("telemetry", Doubler{});
  KernelStatus s0 = k.status();
  CHECK(s0.messages_processed == 0);
  CHECK(s0.min_latency_ns == 0);
  CHECK(s0.last_activity_us == 0);

  const std::uint64_t wall_before = HlcTimestamp::now(0).physical;
  const std::uint64_t n = 200;
  for (std::uint64_t i = 0; i < n; ++i) k.send(Req{i});
  for (std::uint64_t i = 0; i < n; ++i) REQUIRE(k.receive<Resp>(std::chrono::seconds(10)).has_value());
  REQUIRE(wait_drained(k));
  const KernelStatus s = k.status();
  const ringkernel::TelemetrySnapshot t = k.telemetry();
  CHECK(s.id == "telemetry");
  CHECK(s.mode == ringkernel::KernelMode::Persistent);
  CHECK(s.messages_processed == n);
  CHECK(s.messages_received == n);
  CHECK(s.max_latency_ns > 0);
  CHECK(static_cast<double>(s.min_latency_ns) <= s.avg_latency_ns);
  CHECK(s.avg_latency_ns <= static_cast<double>(s.max_latency_ns));
  CHECK(s.last_activity_us != 0);
  CHECK(static_cast<std::uint64_t>(s.last_activity_us) + 1000000 >= wall_before);  // a recent HLC time
  CHECK(s.errors == 0);
  CHECK(s.outputs_pending == 0);

  CHECK(t.messages_processed == s.messages_processed);
  CHECK(t.messages_dropped == s.messages_dropped);
  CHECK(t.min_latency_ns == s.min_latency_ns);
  CHECK(t.max_latency_ns == s.max_latency_ns);
  CHECK(t.avg_latency_ns() == doctest::Approx(s.avg_latency_ns));
  CHECK(t.last_processed_timestamp == s.last_activity_us);
  CHECK(t.error_code == 0);
  CHECK(s.latency_samples == n);  // the default times every message
  CHECK(t.latency_samples == n);

  const ringkernel::RuntimeMetrics m = rt.metrics();
  CHECK(m.total_launched == 1);
  CHECK(m.active_kernels == 1);
  CHECK(m.messages_in == n);
  CHECK(m.messages_out == n);
  CHECK(m.faults == 0);
  k.deactivate();
  CHECK(rt.metrics().active_kernels == 0);
}

TEST_CASE("telemetry: latency_sample_interval times one message in N per sending thread, counts stay exact") {
  RuntimeConfig cfg;
  cfg.latency_sample_interval = 8;
  Runtime rt = make_rt(cfg);
  KernelHandle k = rt.launch("sampled", Doubler{});
  const std::uint64_t n = 100;
  // A fresh thread: the one-in-N count is per sending thread and starts with its first message.
  std::thread sender([&] {
    for (std::uint64_t i = 0; i < n; ++i) k.send(Req{i});
  });
  sender.join();
  for (std::uint64_t i = 0; i < n; ++i) REQUIRE(k.receive<Resp>(std::chrono::seconds(10)).has_value());
  REQUIRE(wait_drained(k));
  const KernelStatus s = k.status();
  CHECK(s.messages_processed == n);
  CHECK(s.latency_samples == (n + 7) / 8);  // messages 0, 8, ..., 96
  CHECK(s.max_latency_ns > 0);
  CHECK(static_cast<double>(s.min_latency_ns) <= s.avg_latency_ns);
  CHECK(s.avg_latency_ns <= static_cast<double>(s.max_latency_ns));
  const ringkernel::TelemetrySnapshot t = k.telemetry();
  CHECK(t.messages_processed == n);
  CHECK(t.latency_samples == s.latency_samples);
  CHECK(t.avg_latency_ns() == doctest::Approx(s.avg_latency_ns));

  RuntimeConfig bad;
  bad.latency_sample_interval = 0;
  CHECK_THROWS_WITH_AS(make_rt(bad), doctest::Contains("latency_sample_interval must be at least 1"), ringkernel::Error);
}

// ================================================================================================
// Idle CPU
// ================================================================================================

TEST_CASE("idle: four idle kernels use almost no CPU, and a parked worker wakes on send") {
  Runtime rt = make_rt();
  std::vector<KernelHandle> ks;
  for (int i = 0; i < 4; ++i) ks.push_back(rt.launch("idle" + std::to_string(i), Doubler{}));
  for (auto& k : ks) CHECK(k.call<Resp>(Req{1}, std::chrono::seconds(10)).v == 2);
  std::this_thread::sleep_for(milliseconds(300));  // past the spin phase: workers park

  const std::int64_t cpu0 = process_cpu_ns();
  const auto wall0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const std::int64_t cpu = process_cpu_ns() - cpu0;
  const auto wall = Clock::now() - wall0;
  MESSAGE("idle CPU over " << std::chrono::duration_cast<milliseconds>(wall).count() << " ms: "
                           << cpu / 1000 << " us");
  CHECK(cpu < 50 * 1000 * 1000);  // < 5% of one core

  // A parked worker also wakes every 200 ms on its own; four calls answered only by those
  // wake-ups would take ~400 ms together, while a wake on send costs microseconds each.
  Clock::duration total{};
  for (auto& k : ks) {
    const auto t0 = Clock::now();
    CHECK(k.call<Resp>(Req{21}, std::chrono::seconds(10)).v == 42);
    total += Clock::now() - t0;
  }
  MESSAGE("4 calls to parked kernels took " << std::chrono::duration_cast<microseconds>(total).count() << " us");
  CHECK(total < milliseconds(100));
}

// The spinning limit counts the hardware threads the process may use: under taskset or a
// container's cpuset that is its affinity mask, not every core of the machine (which is what
// std::thread::hardware_concurrency() reports).
TEST_CASE("idle: the spinning limit counts the CPUs of the affinity mask") {
#if defined(__linux__)
  cpu_set_t mine;
  CPU_ZERO(&mine);
  REQUIRE(sched_getaffinity(0, sizeof(mine), &mine) == 0);
  CHECK(ringkernel::detail::usable_hardware_threads() == CPU_COUNT(&mine));
  int first = 0;
  while (!CPU_ISSET(first, &mine)) ++first;
  int pinned = -1;
  std::thread t([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (sched_setaffinity(0, sizeof(one), &one) == 0) pinned = ringkernel::detail::usable_hardware_threads();
  });
  t.join();
  CHECK(pinned == 1);
#else
  CHECK(ringkernel::detail::usable_hardware_threads() >= 1);
#endif
}

// ================================================================================================
// Backends
// ================================================================================================

TEST_CASE("backend selection: Cpu, Auto falls back to Cpu, GPU backends unavailable, bad ordinal") {
  {
    Runtime rt = Runtime::builder().backend(Backend::Cpu).build();
    CHECK(rt.backend() == Backend::Cpu);
    CHECK(rt.launch("cpu", Doubler{}).call<Resp>(Req{2}, std::chrono::seconds(10)).v == 4);
  }
  {
    Runtime rt = Runtime::builder().backend(Backend::Auto).build();
    CHECK(rt.backend() == Backend::Cpu);
    CHECK(rt.launch("auto", Doubler{}).call<Resp>(Req{3}, std::chrono::seconds(10)).v == 6);
  }
  {
    Runtime rt = Runtime::builder().build();  // default is Auto
    CHECK(rt.backend() == Backend::Cpu);
  }
  for (Backend b : {Backend::Cuda, Backend::Vulkan}) {
    CAPTURE(b);
    const Caught c = capture([&] { Runtime::builder().backend(b).build(); });
    CHECK(c.threw);
    CHECK(c.code == ErrorCode::BackendUnavailable);
    CHECK(contains(c.what, ringkernel::to_string(b)));
  }
  CHECK(capture([] { Runtime::builder().backend(Backend::Cpu).device(-1).build(); }).code ==
        ErrorCode::InvalidArgument);
  CHECK(capture([] { Runtime::builder().backend(Backend::Auto).device(-3).build(); }).code ==
        ErrorCode::InvalidArgument);
  CHECK_NOTHROW(Runtime::builder().backend(Backend::Cpu).device(1).build());  // the CPU ignores the ordinal
}

TEST_CASE("runtime: moved-from runtime is inert; moving keeps kernels running") {
  Runtime a = make_rt();
  KernelHandle k = a.launch("moved", Doubler{});
  Runtime b = std::move(a);
  CHECK(k.call<Resp>(Req{6}, std::chrono::seconds(10)).v == 12);
  CHECK(b.list_kernels() == std::vector<std::string>{"moved"});
  CHECK(capture([&] { a.launch("x", Doubler{}); }).code == ErrorCode::Closed);  // NOLINT(bugprone-use-after-move)
  CHECK_NOTHROW(a.shutdown());
  b.shutdown();
  CHECK(k.state() == KernelState::Terminated);
}

}  // TEST_SUITE
