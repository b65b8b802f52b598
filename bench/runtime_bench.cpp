// runtime_bench: ringkernel's CPU runtime next to CAF 0.17 (the C++ Actor Framework) in one
// run, on the same machine, with the same messages and the same harness:
//   (a) ping-pong round trip between a host thread and one kernel / actor (latency, ns),
//   (b) a two-stage pipeline, host -> stage 1 -> stage 2 (throughput, msgs/s).
// Prints a table and writes JSON.
//
//   runtime_bench [--quick] [--json PATH] [--reps N] [--rtt N] [--msgs N] [--caf-threads N] [--caf-spin-polls N]
//                 [--latency-sample N]
//
// Exit status: 0 every correctness check passed, 1 a check failed (a lost, reordered or wrong
// message or reply, a kernel error, an exception), 2 bad arguments or an unwritable JSON path.
// It does not fail on a missed speed target. Method and field meanings: bench/README.md.

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <caf/all.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if CAF_VERSION < 1700 || CAF_VERSION >= 1800
#error "runtime_bench is written against the CAF 0.17 API (Debian 12: libcaf-dev 0.17.6)"
#endif

// ------------------------------------------------------------------ messages
// Every message is 16 bytes of payload: a sequence number and a value derived from it, so a
// lost, duplicated, reordered or corrupted message is caught. ringkernel carries them as
// trivially copyable structs; CAF as a message of two std::uint64_t (its built-in types, its
// fastest path: no custom type to announce, type checks by token, not RTTI).
namespace rkbench {
struct Ping {
  std::uint64_t seq;
  std::uint64_t value;
};
RINGKERNEL_MESSAGE(Ping, 0x52420001)
struct Pong {
  std::uint64_t seq;
  std::uint64_t value;
};
RINGKERNEL_MESSAGE(Pong, 0x52420002)
struct Item {
  std::uint64_t seq;
  std::uint64_t value;
};
RINGKERNEL_MESSAGE(Item, 0x52420003)
struct Done {
  std::uint64_t count;
  std::uint64_t bad;
};
RINGKERNEL_MESSAGE(Done, 0x52420004)
static_assert(sizeof(Ping) == 16 && sizeof(Pong) == 16 && sizeof(Item) == 16, "16-byte messages");

// The work each side does: the same pure functions for ringkernel and CAF.
constexpr std::uint64_t ping_value(std::uint64_t seq) { return seq * 0x9E3779B97F4A7C15ull + 1; }
constexpr std::uint64_t pong_value(std::uint64_t v) { return v * 3 + 1; }
constexpr std::uint64_t input_value(std::uint64_t seq) { return seq * 0xBF58476D1CE4E5B9ull; }
constexpr std::uint64_t stage1_fn(std::uint64_t v) { return v ^ 0x94D049BB133111EBull; }
constexpr std::uint64_t stage2_fn(std::uint64_t v) { return v + 7; }
constexpr std::uint64_t pipeline_value(std::uint64_t seq) { return stage2_fn(stage1_fn(input_value(seq))); }

// ---- ringkernel kernels

/// Ping-pong: a plain message handler, one reply per request.
struct Echo {
  using input_type = Ping;
  using output_type = Pong;
  Pong operator()(const Ping& p) const { return Pong{p.seq, pong_value(p.value)}; }
};

/// Pipeline stage 1. A message handler has no K2K send of its own (HandlerContext only emits),
/// so stage 1 holds stage 2's KernelHandle and sends to it from its own worker thread
/// (KernelHandle::send is thread-safe and blocks under the default Block backpressure when
/// stage 2's inbox is full); it is the same inbox push the K2K broker ends in.
struct Stage1 {
  using input_type = Item;
  using output_type = void;
  ringkernel::KernelHandle next;
  void operator()(const Item& m) { next.send(Item{m.seq, stage1_fn(m.value)}); }
};

/// Pipeline stage 2, host-drains variant: every message becomes an output the host receives.
struct Stage2 {
  using input_type = Item;
  using output_type = Item;
  Item operator()(const Item& m) const { return Item{m.seq, stage2_fn(m.value)}; }
};

/// Pipeline stage 2, counting variant: checks order and value itself and emits one Done
/// after the n-th message.
struct Stage2Count {
  using input_type = Item;
  using output_type = void;
  std::uint64_t n = 0;
  std::uint64_t seen = 0;
  std::uint64_t bad = 0;
  void operator()(ringkernel::HandlerContext& ctx, const Item& m) {
    bad += m.seq != seen || stage2_fn(m.value) != pipeline_value(seen);
    if (++seen == n) ctx.emit(Done{seen, bad});
  }
};
}  // namespace rkbench

// ---- CAF actors (0.17 API: atom_constant, event_based_actor behaviors)

using done_atom = caf::atom_constant<caf::atom("done")>;

caf::behavior caf_echo(caf::event_based_actor*) {
  // The returned message is the reply: to request() as its response, to a plain send() as an
  // ordinary message to the sender.
  return {[](std::uint64_t seq, std::uint64_t v) { return caf::make_message(seq, rkbench::pong_value(v)); }};
}

caf::behavior caf_stage1(caf::event_based_actor* self, caf::actor next) {
  return {[=](std::uint64_t seq, std::uint64_t v) { self->send(next, seq, rkbench::stage1_fn(v)); }};
}

caf::behavior caf_stage2(caf::event_based_actor* self, caf::actor sink) {
  return {[=](std::uint64_t seq, std::uint64_t v) { self->send(sink, seq, rkbench::stage2_fn(v)); }};
}

struct CafCountState {
  std::uint64_t seen = 0;
  std::uint64_t bad = 0;
};

caf::behavior caf_stage2_count(caf::stateful_actor<CafCountState>* self, std::uint64_t n, caf::actor done_to) {
  return {[=](std::uint64_t seq, std::uint64_t v) {
    CafCountState& st = self->state;
    st.bad += seq != st.seen || rkbench::stage2_fn(v) != rkbench::pipeline_value(st.seen);
    if (++st.seen == n) self->send(done_to, done_atom::value, st.seen, st.bad);
  }};
}

namespace {

using Clock = std::chrono::steady_clock;
using rkbench::Done;
using rkbench::Item;
using rkbench::Ping;
using rkbench::Pong;

// -------------------------------------------------------------------- config

struct Config {
  bool quick = false;
  std::string json_path = "runtime_bench.json";
  int reps = 5;
  std::uint64_t rtt = 20'000;         // timed round trips per run and case
  std::uint64_t rtt_warmup = 2'000;   // untimed round trips before each timed run
  std::uint64_t pipe_msgs = 1'000'000;
  std::uint64_t caf_threads = 2;      // CAF scheduler.max-threads (default system)
  // Second CAF system, tuned for latency, used for ping-pong only: one scheduler thread (the
  // echo actor is all it runs, like ringkernel's one kernel worker) that keeps polling for work
  // this many times before it starts to sleep (CAF's default is 100).
  std::uint64_t caf_spin_polls = 100'000;
  std::size_t queue_capacity = 1024;  // ringkernel inbox / output capacity
  // RuntimeConfig::latency_sample_interval: 1 (the default) times every message's latency.
  std::uint64_t latency_sample = 1;
  // RuntimeConfig::spin_before_park in microseconds; -1 keeps the default.
  long long spin_us = -1;
};

void usage(std::FILE* f) {
  std::fprintf(f,
               "usage: runtime_bench [--quick] [--json PATH] [--reps N] [--rtt N] [--msgs N] [--caf-threads N]\n"
               "                     [--caf-spin-polls N] [--latency-sample N] [--spin-us N]\n"
               "  --quick          short run for smoke tests (3 reps, 2000 round trips, 50000 msgs)\n"
               "  --json PATH      where to write results (default runtime_bench.json)\n"
               "  --reps N         repetitions per case (default 5, quick 3)\n"
               "  --rtt N          timed round trips per run (default 20000)\n"
               "  --msgs N         pipeline messages per run (default 1000000)\n"
               "  --caf-threads N  CAF scheduler.max-threads (default 2)\n"
               "  --caf-spin-polls N  aggressive polls of the tuned CAF* system (default 100000)\n"
               "  --latency-sample N  ringkernel times the latency of one message in N\n"
               "                   (RuntimeConfig::latency_sample_interval; default 1, every message)\n"
               "  --spin-us N      ringkernel RuntimeConfig::spin_before_park in us (default: the library's)\n");
}

long long spin_us_of(const Config& cfg) {
  return cfg.spin_us >= 0 ? cfg.spin_us : static_cast<long long>(ringkernel::RuntimeConfig{}.spin_before_park.count());
}

bool parse_u64(const char* s, std::uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v == 0) return false;
  out = v;
  return true;
}

// --------------------------------------------------------------- timing, CPU

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU time (user + system) of the whole process: every thread, ours, the runtime's workers and
// CAF's scheduler threads alike.
double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// Before each timed run: lets the previous case's threads go idle (ringkernel workers park
// after spin_before_park; CAF workers leave aggressive and moderate polling after ~25 ms), so
// one contender's spinning does not steal a core from the next one.
void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(100)); }

// Start line for a helper thread: it spins (yielding) until released, so its start-up is
// outside the timed region.
class Gate {
 public:
  void wait() const {
    while (!open_.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  void open() { open_.store(true, std::memory_order_release); }

 private:
  std::atomic<bool> open_{false};
};

// --------------------------------------------------------------------- stats

// Percentile by linear interpolation between closest ranks (numpy's default). `v` sorted.
double percentile(const std::vector<double>& v, double q) {
  if (v.empty()) return NAN;
  const double pos = q * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double median_of(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return percentile(v, 0.5);
}

struct Spread {
  std::vector<double> samples;
  double median = NAN, min = NAN, max = NAN;
};

Spread spread(const std::vector<double>& v) {
  Spread s;
  s.samples = v;
  if (v.empty()) return s;
  s.median = median_of(v);
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  return s;
}

// One timed run of round trips.
struct LatRun {
  double p50 = NAN, p90 = NAN, p99 = NAN, mean = NAN, min = NAN, max = NAN;
  double cpu_us_per_rt = NAN;  // process CPU time / round trips
};

LatRun lat_run(std::vector<double> ns, double cpu_seconds) {
  LatRun r;
  if (ns.empty()) return r;
  std::sort(ns.begin(), ns.end());
  r.p50 = percentile(ns, 0.50);
  r.p90 = percentile(ns, 0.90);
  r.p99 = percentile(ns, 0.99);
  double sum = 0;
  for (double x : ns) sum += x;
  r.mean = sum / static_cast<double>(ns.size());
  r.min = ns.front();
  r.max = ns.back();
  r.cpu_us_per_rt = cpu_seconds * 1e6 / static_cast<double>(ns.size());
  return r;
}

// ----------------------------------------------------------- ping-pong cases

// What every run reports besides its latencies: messages that went wrong.
struct Checks {
  std::uint64_t sent = 0;
  std::uint64_t ok = 0;
  std::uint64_t bad = 0;      // wrong sequence or value
  std::uint64_t missing = 0;  // never arrived (timeout)
  std::uint64_t errors = 0;   // kernel errors, exceptions
  void add(const Checks& o) {
    sent += o.sent;
    ok += o.ok;
    bad += o.bad;
    missing += o.missing;
    errors += o.errors;
  }
  bool passed() const { return bad == 0 && missing == 0 && errors == 0 && ok == sent; }
};

struct PingResult {
  std::vector<double> ns;
  double cpu_s = 0;
  Checks checks;
};

constexpr auto kReplyTimeout = std::chrono::seconds(10);

// Round trip `seq` with `one(seq)` returning true when the reply matched. Warm-up round trips
// are checked too, untimed.
template <class One>
PingResult ping_loop(std::uint64_t& seq, std::uint64_t warmup, std::uint64_t n, One one) {
  PingResult r;
  for (std::uint64_t i = 0; i < warmup; ++i, ++seq) {
    ++r.checks.sent;
    one(seq) ? ++r.checks.ok : ++r.checks.bad;
  }
  r.ns.reserve(n);
  const double cpu0 = process_cpu_seconds();
  for (std::uint64_t i = 0; i < n; ++i, ++seq) {
    ++r.checks.sent;
    const auto t0 = Clock::now();
    const bool good = one(seq);
    const auto t1 = Clock::now();
    r.ns.push_back(static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    good ? ++r.checks.ok : ++r.checks.bad;
  }
  r.cpu_s = process_cpu_seconds() - cpu0;
  return r;
}

PingResult rk_call_run(ringkernel::KernelHandle& k, std::uint64_t& seq, const Config& cfg) {
  return ping_loop(seq, cfg.rtt_warmup, cfg.rtt, [&](std::uint64_t s) {
    const Pong p = k.call<Pong>(Ping{s, rkbench::ping_value(s)}, kReplyTimeout);
    return p.seq == s && p.value == rkbench::pong_value(rkbench::ping_value(s));
  });
}

PingResult rk_send_receive_run(ringkernel::KernelHandle& k, std::uint64_t& seq, const Config& cfg) {
  std::uint64_t missing = 0;
  PingResult r = ping_loop(seq, cfg.rtt_warmup, cfg.rtt, [&](std::uint64_t s) {
    k.send(Ping{s, rkbench::ping_value(s)});
    const std::optional<Pong> p = k.receive<Pong>(kReplyTimeout);
    if (!p) {
      ++missing;
      return false;
    }
    return p->seq == s && p->value == rkbench::pong_value(rkbench::ping_value(s));
  });
  r.checks.bad -= missing;
  r.checks.missing += missing;
  return r;
}

PingResult caf_request_run(caf::actor_system& sys, const caf::actor& echo, std::uint64_t& seq, const Config& cfg) {
  caf::scoped_actor self{sys};
  std::uint64_t errors = 0;
  PingResult r = ping_loop(seq, cfg.rtt_warmup, cfg.rtt, [&](std::uint64_t s) {
    bool good = false;
    self->request(echo, caf::infinite, s, rkbench::ping_value(s))
        .receive(
            [&](std::uint64_t rs, std::uint64_t rv) {
              good = rs == s && rv == rkbench::pong_value(rkbench::ping_value(s));
            },
            [&](caf::error&) { ++errors; });
    return good;
  });
  r.checks.bad -= errors;
  r.checks.errors += errors;
  return r;
}

PingResult caf_send_receive_run(caf::actor_system& sys, const caf::actor& echo, std::uint64_t& seq,
                                const Config& cfg) {
  caf::scoped_actor self{sys};
  return ping_loop(seq, cfg.rtt_warmup, cfg.rtt, [&](std::uint64_t s) {
    bool good = false;
    self->send(echo, s, rkbench::ping_value(s));
    self->receive([&](std::uint64_t rs, std::uint64_t rv) {
      good = rs == s && rv == rkbench::pong_value(rkbench::ping_value(s));
    });
    return good;
  });
}

// ------------------------------------------------------------ pipeline cases

struct PipeResult {
  double seconds = 0;
  double cpu_s = 0;
  Checks checks;
};

ringkernel::LaunchOptions pipe_options(const Config& cfg) {
  return ringkernel::LaunchOptions{}.with_queue_capacity(cfg.queue_capacity);
}

// Counts a kernel's errors and any message it did not process into `c`.
void check_kernel(const ringkernel::KernelHandle& k, std::uint64_t expect_processed, Checks& c) {
  const ringkernel::KernelStatus st = k.status();
  c.errors += st.errors + st.messages_dropped + st.messages_rejected;
  if (st.messages_processed != expect_processed) {
    std::fprintf(stderr, "  kernel %s processed %llu messages, expected %llu\n", st.id.c_str(),
                 static_cast<unsigned long long>(st.messages_processed),
                 static_cast<unsigned long long>(expect_processed));
    ++c.errors;
  }
}

// ringkernel, host drains: a sender thread sends N items into stage 1; the main thread receives
// N outputs of stage 2 and checks each in order.
PipeResult rk_pipe_drain(ringkernel::Runtime& rt, std::uint64_t n, const Config& cfg) {
  PipeResult r;
  ringkernel::KernelHandle s2 = rt.launch("pipe_drain_s2", rkbench::Stage2{}, pipe_options(cfg));
  ringkernel::KernelHandle s1 = rt.launch("pipe_drain_s1", rkbench::Stage1{s2}, pipe_options(cfg));
  Gate gate;
  std::atomic<std::uint64_t> send_errors{0};
  std::thread sender([&] {
    gate.wait();
    try {
      for (std::uint64_t i = 0; i < n; ++i) s1.send(Item{i, rkbench::input_value(i)});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "  ringkernel pipeline sender: %s\n", e.what());
      send_errors.fetch_add(1);
    }
  });
  const double cpu0 = process_cpu_seconds();
  const auto t0 = Clock::now();
  gate.open();
  std::uint64_t i = 0;
  for (; i < n; ++i) {
    const std::optional<Item> m = s2.receive<Item>(std::chrono::seconds(30));
    if (!m) break;
    (m->seq == i && m->value == rkbench::pipeline_value(i)) ? ++r.checks.ok : ++r.checks.bad;
  }
  const auto t1 = Clock::now();
  r.cpu_s = process_cpu_seconds() - cpu0;
  r.seconds = seconds_between(t0, t1);
  r.checks.sent = n;
  r.checks.missing = n - i;
  if (i < n) s1.terminate();  // a lost message: unblock the sender before joining it
  sender.join();
  r.checks.errors += send_errors.load();
  // Stage 1 counts a message processed after its handler returns, i.e. after it sent to stage 2,
  // so the host may hold the last output before that count is made: terminate first (it waits
  // for the message in hand), then check.
  s1.terminate();
  s2.terminate();
  if (i == n) {
    check_kernel(s1, n, r.checks);
    check_kernel(s2, n, r.checks);
  }
  return r;
}

// ringkernel, stage 2 counts: the main thread sends N items, stage 2 checks them and emits one
// Done after the last; the clock stops when the host has it.
PipeResult rk_pipe_count(ringkernel::Runtime& rt, std::uint64_t n, const Config& cfg) {
  PipeResult r;
  ringkernel::KernelHandle s2 = rt.launch("pipe_count_s2", rkbench::Stage2Count{n, 0, 0}, pipe_options(cfg));
  ringkernel::KernelHandle s1 = rt.launch("pipe_count_s1", rkbench::Stage1{s2}, pipe_options(cfg));
  const double cpu0 = process_cpu_seconds();
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) s1.send(Item{i, rkbench::input_value(i)});
  const std::optional<Done> d = s2.receive<Done>(std::chrono::seconds(60));
  const auto t1 = Clock::now();
  r.cpu_s = process_cpu_seconds() - cpu0;
  r.seconds = seconds_between(t0, t1);
  r.checks.sent = n;
  // Done is emitted inside the handler of the n-th message, before that message is counted
  // processed (documented): terminate first, then check the counters.
  s1.terminate();
  s2.terminate();
  if (!d) {
    r.checks.missing = n;
  } else {
    r.checks.bad = d->bad;
    r.checks.ok = d->count - d->bad;
    r.checks.missing = n - d->count;
    check_kernel(s1, n, r.checks);
    check_kernel(s2, n, r.checks);
  }
  return r;
}

// CAF, host drains: a sender thread anon_sends N items to stage 1; stage 2 sends each result to
// the main thread's scoped_actor, which receives and checks them in order.
PipeResult caf_pipe_drain(caf::actor_system& sys, std::uint64_t n) {
  PipeResult r;
  caf::scoped_actor self{sys};
  caf::actor s2 = sys.spawn(caf_stage2, caf::actor_cast<caf::actor>(self));
  caf::actor s1 = sys.spawn(caf_stage1, s2);
  Gate gate;
  std::thread sender([&] {
    gate.wait();
    for (std::uint64_t i = 0; i < n; ++i) caf::anon_send(s1, i, rkbench::input_value(i));
  });
  const double cpu0 = process_cpu_seconds();
  const auto t0 = Clock::now();
  gate.open();
  std::uint64_t expect = 0;
  std::uint64_t i = 0;
  self->receive_for(i, n)([&](std::uint64_t seq, std::uint64_t v) {
    (seq == expect && v == rkbench::pipeline_value(expect)) ? ++r.checks.ok : ++r.checks.bad;
    ++expect;
  });
  const auto t1 = Clock::now();
  r.cpu_s = process_cpu_seconds() - cpu0;
  r.seconds = seconds_between(t0, t1);
  r.checks.sent = n;
  r.checks.missing = n - expect;
  sender.join();
  caf::anon_send_exit(s1, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(s2, caf::exit_reason::user_shutdown);
  return r;
}

// CAF, stage 2 counts: the main thread anon_sends N items; stage 2 checks them and sends one
// `done` to the main thread's scoped_actor after the last.
PipeResult caf_pipe_count(caf::actor_system& sys, std::uint64_t n) {
  PipeResult r;
  caf::scoped_actor self{sys};
  caf::actor s2 = sys.spawn(caf_stage2_count, n, caf::actor_cast<caf::actor>(self));
  caf::actor s1 = sys.spawn(caf_stage1, s2);
  const double cpu0 = process_cpu_seconds();
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) caf::anon_send(s1, i, rkbench::input_value(i));
  bool got = false;
  self->receive(
      [&](done_atom, std::uint64_t count, std::uint64_t bad) {
        got = true;
        r.checks.bad = bad;
        r.checks.ok = count - bad;
        r.checks.missing = n - count;
      },
      caf::after(std::chrono::seconds(60)) >> [&] {});
  const auto t1 = Clock::now();
  r.cpu_s = process_cpu_seconds() - cpu0;
  r.seconds = seconds_between(t0, t1);
  r.checks.sent = n;
  if (!got) r.checks.missing = n;
  caf::anon_send_exit(s1, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(s2, caf::exit_reason::user_shutdown);
  return r;
}

// ------------------------------------------------------------------- results

enum PingCase { kRkCall, kRkSendRecv, kCafRequest, kCafSendRecv, kCafSpinRequest, kCafSpinSendRecv, kPingCases };
const char* const kPingKey[kPingCases] = {"ringkernel_call",     "ringkernel_send_receive",
                                          "caf_request_receive", "caf_send_receive",
                                          "caf_tuned_request_receive", "caf_tuned_send_receive"};
const char* const kPingName[kPingCases] = {"ringkernel  call<Pong>(Ping)",   "ringkernel  send + receive<Pong>",
                                           "CAF  request(...).receive(...)", "CAF  send + receive",
                                           "CAF* request(...).receive(...)", "CAF* send + receive"};

struct PingCaseResult {
  std::vector<LatRun> runs;
  Checks checks;
  // Medians over runs of each run's statistic.
  double p50 = NAN, p90 = NAN, p99 = NAN, mean = NAN, min = NAN, cpu_us_per_rt = NAN;
  Spread p50_spread;
};

enum PipeCase { kRkDrain, kCafDrain, kRkCount, kCafCount, kPipeCases };
const char* const kPipeKey[kPipeCases] = {"ringkernel_host_drains", "caf_host_drains", "ringkernel_stage2_counts",
                                          "caf_stage2_counts"};

struct PipeCaseResult {
  std::vector<double> rate;         // msgs/s per run
  std::vector<double> cores_busy;   // process CPU seconds / wall seconds per run
  Checks checks;
  Spread rate_spread;
  double cores_busy_median = NAN;
};

struct Results {
  PingCaseResult ping[kPingCases];
  PipeCaseResult pipe[kPipeCases];
  // Paired per repetition: > 1 means ringkernel is faster.
  Spread p50_adv_call_vs_request;  // CAF request p50 / ringkernel call p50
  Spread p50_adv_sr_vs_sr;         // CAF send+receive p50 / ringkernel send+receive p50
  Spread p50_adv_best_vs_best;     // min(all CAF p50s, tuned included) / min(ringkernel p50s)
  Spread pipe_ratio_drain;         // ringkernel msgs/s / CAF msgs/s, host drains
  Spread pipe_ratio_count;         // ringkernel msgs/s / CAF msgs/s, stage 2 counts
};

// ------------------------------------------------------------ machine info

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        const std::size_t s = line.find_first_not_of(" \t", colon + 1);
        return s == std::string::npos ? std::string() : line.substr(s);
      }
    }
  }
  return "unknown";
}

// Share of all CPUs busy with other work over 200 ms before the run (/proc/stat); -1 if unknown.
double background_load() {
  auto sample = [](std::uint64_t& busy, std::uint64_t& total) {
    std::ifstream in("/proc/stat");
    std::string cpu;
    std::uint64_t v[8] = {};
    if (!(in >> cpu) || cpu != "cpu") return false;
    for (auto& x : v)
      if (!(in >> x)) return false;
    total = 0;
    for (auto x : v) total += x;
    busy = total - v[3] - v[4];  // minus idle and iowait
    return true;
  };
  std::uint64_t b0 = 0, t0 = 0, b1 = 0, t1 = 0;
  if (!sample(b0, t0)) return -1;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  if (!sample(b1, t1) || t1 <= t0) return -1;
  return static_cast<double>(b1 - b0) / static_cast<double>(t1 - t0);
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

constexpr bool kNdebug =
#ifdef NDEBUG
    true;
#else
    false;
#endif

constexpr bool kOptimized =
#ifdef __OPTIMIZE__
    true;
#else
    false;
#endif

std::string compiler_string() {
#if defined(__clang__)
  return __VERSION__;
#elif defined(__GNUC__)
  return std::string("GCC ") + __VERSION__;
#else
  return __VERSION__;
#endif
}

std::string caf_version() {
  return std::to_string(CAF_MAJOR_VERSION) + "." + std::to_string(CAF_MINOR_VERSION) + "." +
         std::to_string(CAF_PATCH_VERSION);
}

// -------------------------------------------------------------------- JSON

std::string jstr(const std::string& s) {
  std::string o = "\"";
  for (const unsigned char ch : s) {
    if (ch == '"') {
      o += "\\\"";
    } else if (ch == '\\') {
      o += "\\\\";
    } else if (ch < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", ch);
      o += b;
    } else {
      o += static_cast<char>(ch);
    }
  }
  return o + "\"";
}

std::string jnum(double v) {  // JSON has no NaN: an unmeasured figure is null
  if (!std::isfinite(v)) return "null";
  char b[40];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string jbool(bool b) { return b ? "true" : "false"; }

std::string jspread(const Spread& s, const char* unit) {
  std::ostringstream o;
  o << "{\"unit\": " << jstr(unit) << ", \"median\": " << jnum(s.median) << ", \"min\": " << jnum(s.min)
    << ", \"max\": " << jnum(s.max) << ", \"samples\": [";
  for (std::size_t i = 0; i < s.samples.size(); ++i) o << (i ? ", " : "") << jnum(s.samples[i]);
  o << "]}";
  return o.str();
}

std::string jchecks(const Checks& c) {
  std::ostringstream o;
  o << "{\"sent\": " << c.sent << ", \"ok\": " << c.ok << ", \"bad\": " << c.bad << ", \"missing\": " << c.missing
    << ", \"errors\": " << c.errors << ", \"passed\": " << jbool(c.passed()) << "}";
  return o.str();
}

struct Verdict {
  bool checks_ok = false;
  bool pipeline_target = false;  // ringkernel >= 2x CAF, host drains
  bool latency_target = false;   // ringkernel call p50 < CAF's best p50
  double caf_best_p50 = NAN;
};

std::string to_json(const Config& cfg, const Results& res, const Verdict& v, double load) {
  std::ostringstream o;
  o << "{\n";
  o << "  \"benchmark\": \"ringkernel runtime_bench\",\n";
  o << "  \"schema\": 1,\n";
  o << "  \"ringkernel_version\": " << jstr(RINGKERNEL_VERSION_STRING) << ",\n";
  o << "  \"peer\": {\"name\": \"CAF\", \"version\": " << jstr(caf_version())
    << ", \"scheduler_policy\": \"stealing\", \"scheduler_max_threads\": " << cfg.caf_threads
    << ", \"aggressive_poll_attempts\": \"default (100)\",\n           \"tuned_system_for_ping_pong\": {\"scheduler_max_threads\": 1, "
    << "\"aggressive_poll_attempts\": " << cfg.caf_spin_polls << "}},\n";
  o << "  \"date_utc\": " << jstr(utc_now()) << ",\n";
  o << "  \"mode\": " << jstr(cfg.quick ? "quick" : "full") << ",\n";
  o << "  \"machine\": {\"cpu_model\": " << jstr(cpu_model()) << ", \"nproc\": " << sysconf(_SC_NPROCESSORS_ONLN)
    << ", \"background_cpu_load_at_start\": " << jnum(load) << "},\n";
  o << "  \"build\": {\"compiler\": " << jstr(compiler_string()) << ", \"cplusplus\": " << __cplusplus
    << ", \"ndebug\": " << jbool(kNdebug) << ", \"optimized\": " << jbool(kOptimized) << "},\n";
  o << "  \"config\": {\"reps\": " << cfg.reps << ", \"round_trips_per_run\": " << cfg.rtt
    << ", \"warmup_round_trips_per_run\": " << cfg.rtt_warmup << ", \"pipeline_msgs_per_run\": " << cfg.pipe_msgs
    << ", \"payload_bytes\": 16, \"ringkernel_queue_capacity\": " << cfg.queue_capacity
    << ", \"ringkernel_spin_before_park_us\": " << spin_us_of(cfg)
    << ", \"ringkernel_latency_sample_interval\": " << cfg.latency_sample
    << ",\n             \"ringkernel_stage_forwarding\": "
    << jstr("stage 1 is a message handler holding stage 2's KernelHandle and calling send() from its worker "
            "thread (the inbox push K2K delivery also ends in)")
    << "},\n";

  o << "  \"ping_pong\": {\n";
  for (int c = 0; c < kPingCases; ++c) {
    const PingCaseResult& p = res.ping[c];
    o << "    " << jstr(kPingKey[c]) << ": {\"unit\": \"ns\", \"p50\": " << jnum(p.p50) << ", \"p90\": " << jnum(p.p90)
      << ", \"p99\": " << jnum(p.p99) << ", \"mean\": " << jnum(p.mean) << ", \"min\": " << jnum(p.min)
      << ", \"cpu_us_per_round_trip\": " << jnum(p.cpu_us_per_rt) << ",\n      \"p50_runs\": "
      << jspread(p.p50_spread, "ns") << ",\n      \"runs\": [";
    for (std::size_t i = 0; i < p.runs.size(); ++i) {
      const LatRun& r = p.runs[i];
      o << (i ? ", " : "") << "{\"p50\": " << jnum(r.p50) << ", \"p90\": " << jnum(r.p90) << ", \"p99\": " << jnum(r.p99)
        << ", \"mean\": " << jnum(r.mean) << ", \"min\": " << jnum(r.min) << ", \"max\": " << jnum(r.max) << "}";
    }
    o << "],\n      \"checks\": " << jchecks(p.checks) << "}" << (c + 1 < kPingCases ? "," : "") << "\n";
  }
  o << "  },\n";
  o << "  \"ping_pong_p50_advantage\": {\n";
  o << "    \"note\": \"CAF p50 / ringkernel p50, paired per repetition; above 1 ringkernel is faster\",\n";
  o << "    \"call_vs_request\": " << jspread(res.p50_adv_call_vs_request, "x") << ",\n";
  o << "    \"send_receive_vs_send_receive\": " << jspread(res.p50_adv_sr_vs_sr, "x") << ",\n";
  o << "    \"best_vs_best\": " << jspread(res.p50_adv_best_vs_best, "x") << "\n  },\n";

  o << "  \"pipeline\": {\n";
  for (int c = 0; c < kPipeCases; ++c) {
    const PipeCaseResult& p = res.pipe[c];
    o << "    " << jstr(kPipeKey[c]) << ": {\"throughput\": " << jspread(p.rate_spread, "msgs/s")
      << ",\n      \"cores_busy_median\": " << jnum(p.cores_busy_median) << ", \"checks\": " << jchecks(p.checks) << "}"
      << (c + 1 < kPipeCases ? "," : "") << "\n";
  }
  o << "  },\n";
  o << "  \"pipeline_ratio\": {\n";
  o << "    \"note\": \"ringkernel msgs/s / CAF msgs/s, paired per repetition; above 1 ringkernel is faster\",\n";
  o << "    \"host_drains\": " << jspread(res.pipe_ratio_drain, "x") << ",\n";
  o << "    \"stage2_counts\": " << jspread(res.pipe_ratio_count, "x") << "\n  },\n";

  o << "  \"targets\": {\"pipeline_ge_2x_caf\": {\"met\": " << jbool(v.pipeline_target)
    << ", \"ratio\": " << jnum(res.pipe_ratio_drain.median)
    << ", \"rule\": \"median paired ratio, host-drains pipeline, >= 2\"},\n";
  o << "              \"p50_round_trip_below_caf\": {\"met\": " << jbool(v.latency_target)
    << ", \"ringkernel_call_p50_ns\": " << jnum(res.ping[kRkCall].p50) << ", \"caf_best_p50_ns\": " << jnum(v.caf_best_p50)
    << ", \"rule\": \"ringkernel call p50 < the lowest p50 of CAF's idioms, default and tuned\"}},\n";
  o << "  \"ok\": " << jbool(v.checks_ok) << "\n";
  o << "}\n";
  return o.str();
}

bool write_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << text;
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// ------------------------------------------------------------------- table

void print_table(const Config& cfg, const Results& res, const Verdict& v, double load) {
  std::printf("\nringkernel %s runtime_bench (%s) vs CAF %s  cpu: %s  nproc: %ld\n", RINGKERNEL_VERSION_STRING,
              cfg.quick ? "quick" : "full", caf_version().c_str(), cpu_model().c_str(),
              sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("compiler: %s  NDEBUG: %s  background CPU load at start: %.0f%%\n", compiler_string().c_str(),
              kNdebug ? "yes" : "no", load * 100);
  std::printf("ringkernel: CPU backend, one worker thread per kernel, spin %lld us before parking, latency timed\n"
              "  for %s\n"
              "CAF:  work-stealing scheduler, max-threads %llu, default polling (100 aggressive polls)\n"
              "CAF*: tuned for latency (ping-pong only): max-threads 1, %llu aggressive polls\n",
              spin_us_of(cfg),
              cfg.latency_sample == 1 ? "every message (the default)"
                                      : ("one message in " + std::to_string(cfg.latency_sample) + " (--latency-sample)").c_str(),
              static_cast<unsigned long long>(cfg.caf_threads), static_cast<unsigned long long>(cfg.caf_spin_polls));
  if (load > 0.1) std::printf("WARNING: the machine was busy when the run started; expect noisy figures\n");
  if (!kOptimized) std::printf("WARNING: built without optimization; figures are not meaningful\n");

  std::printf("\n(a) Ping-pong round trip, host thread <-> one kernel/actor, 16-byte message each way, ns\n");
  std::printf("    median over %d runs of each run's statistic; %llu timed round trips per run after %llu warm-up\n",
              cfg.reps, static_cast<unsigned long long>(cfg.rtt), static_cast<unsigned long long>(cfg.rtt_warmup));
  std::printf("%-32s %9s %9s %9s %9s %9s  %-22s %s\n", "case", "p50", "p90", "p99", "mean", "min",
              "p50 [min-max] of runs", "CPU us/rt");
  for (int c = 0; c < kPingCases; ++c) {
    const PingCaseResult& p = res.ping[c];
    char spread_cell[64];
    std::snprintf(spread_cell, sizeof spread_cell, "[%.0f-%.0f]", p.p50_spread.min, p.p50_spread.max);
    std::printf("%-32s %9.0f %9.0f %9.0f %9.0f %9.0f  %-22s %.2f%s\n", kPingName[c], p.p50, p.p90, p.p99, p.mean,
                p.min, spread_cell, p.cpu_us_per_rt, p.checks.passed() ? "" : "  CHECK FAILED");
  }
  std::printf("p50 advantage, CAF p50 / ours (paired per run, > 1: ringkernel faster):\n");
  std::printf("  call vs request:             %.2fx [%.2f-%.2f]\n", res.p50_adv_call_vs_request.median,
              res.p50_adv_call_vs_request.min, res.p50_adv_call_vs_request.max);
  std::printf("  send+receive vs send+receive: %.2fx [%.2f-%.2f]\n", res.p50_adv_sr_vs_sr.median, res.p50_adv_sr_vs_sr.min,
              res.p50_adv_sr_vs_sr.max);
  std::printf("  best vs best (CAF* included): %.2fx [%.2f-%.2f]\n", res.p50_adv_best_vs_best.median,
              res.p50_adv_best_vs_best.min, res.p50_adv_best_vs_best.max);

  std::printf("\n(b) Two-stage pipeline, host -> stage 1 -> stage 2, %llu 16-byte messages per run\n",
              static_cast<unsigned long long>(cfg.pipe_msgs));
  std::printf("    M msgs/s, median [min-max] of %d runs; cores busy = process CPU time / wall time\n", cfg.reps);
  std::printf("%-26s  %-24s %5s  %-24s %5s  %s\n", "variant", "ringkernel", "cores", "CAF", "cores",
              "ours/CAF (paired)");
  const struct {
    const char* name;
    int rk, caf;
    const Spread* ratio;
  } rows[] = {{"host drains stage 2", kRkDrain, kCafDrain, &res.pipe_ratio_drain},
              {"stage 2 counts, 1 reply", kRkCount, kCafCount, &res.pipe_ratio_count}};
  for (const auto& row : rows) {
    const PipeCaseResult& a = res.pipe[row.rk];
    const PipeCaseResult& b = res.pipe[row.caf];
    char ca[64], cb[64];
    std::snprintf(ca, sizeof ca, "%.3f [%.3f-%.3f]", a.rate_spread.median / 1e6, a.rate_spread.min / 1e6,
                  a.rate_spread.max / 1e6);
    std::snprintf(cb, sizeof cb, "%.3f [%.3f-%.3f]", b.rate_spread.median / 1e6, b.rate_spread.min / 1e6,
                  b.rate_spread.max / 1e6);
    std::printf("%-26s  %-24s %5.2f  %-24s %5.2f  %.2fx [%.2f-%.2f]%s\n", row.name, ca, a.cores_busy_median, cb,
                b.cores_busy_median, row.ratio->median, row.ratio->min, row.ratio->max,
                a.checks.passed() && b.checks.passed() ? "" : "  CHECK FAILED");
  }
  std::printf("ringkernel stage 1 -> stage 2: stage 1 is a message handler holding stage 2's KernelHandle and\n"
              "  calling send() from its worker thread (a message handler has no K2K send of its own).\n"
              "CAF: stage 1 and stage 2 are event-based actors; stage 1 self->send()s to stage 2; the host\n"
              "  anon_send()s into stage 1; mailboxes are unbounded (ringkernel's inboxes hold %zu, Block).\n",
              cfg.queue_capacity);

  std::printf("\nchecks: every message and reply arrived, in order, with the right value: %s\n",
              v.checks_ok ? "ok" : "FAILED");
  std::printf("targets (from the issue):\n");
  std::printf("  pipeline throughput >= 2x CAF (host drains, paired median %.2fx): %s\n", res.pipe_ratio_drain.median,
              v.pipeline_target ? "met" : "MISSED");
  std::printf("  p50 round trip below CAF's (ringkernel call %.0f ns vs CAF's best idiom %.0f ns): %s\n",
              res.ping[kRkCall].p50, v.caf_best_p50, v.latency_target ? "met" : "MISSED");
}

// --------------------------------------------------------------- the runs

void print_failures(const char* what, const Checks& c) {
  if (c.passed()) return;
  std::fprintf(stderr, "  ** %s: sent %llu, ok %llu, bad %llu, missing %llu, errors %llu **\n", what,
               static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.ok),
               static_cast<unsigned long long>(c.bad), static_cast<unsigned long long>(c.missing),
               static_cast<unsigned long long>(c.errors));
}

void run_ping_pong(const Config& cfg, ringkernel::Runtime& rt, caf::actor_system& sys, caf::actor_system& sys_spin,
                   Results& res) {
  ringkernel::KernelHandle echo = rt.launch("echo", rkbench::Echo{}, pipe_options(cfg));
  caf::actor caf_echo_actor = sys.spawn(caf_echo);
  caf::actor caf_spin_echo_actor = sys_spin.spawn(caf_echo);
  std::uint64_t seq[kPingCases] = {};
  // The cases take turns within each repetition, so drift on the machine spreads over all.
  for (int rep = 0; rep < cfg.reps; ++rep) {
    for (int c = 0; c < kPingCases; ++c) {
      settle();
      PingResult r;
      switch (c) {
        case kRkCall:
          r = rk_call_run(echo, seq[c], cfg);
          break;
        case kRkSendRecv:
          r = rk_send_receive_run(echo, seq[c], cfg);
          break;
        case kCafRequest:
          r = caf_request_run(sys, caf_echo_actor, seq[c], cfg);
          break;
        case kCafSendRecv:
          r = caf_send_receive_run(sys, caf_echo_actor, seq[c], cfg);
          break;
        case kCafSpinRequest:
          r = caf_request_run(sys_spin, caf_spin_echo_actor, seq[c], cfg);
          break;
        default:
          r = caf_send_receive_run(sys_spin, caf_spin_echo_actor, seq[c], cfg);
          break;
      }
      res.ping[c].runs.push_back(lat_run(std::move(r.ns), r.cpu_s));
      res.ping[c].checks.add(r.checks);
    }
    std::fprintf(stderr, "  ping-pong rep %d/%d done\n", rep + 1, cfg.reps);
  }
  Checks echo_checks;
  check_kernel(echo, res.ping[kRkCall].checks.sent + res.ping[kRkSendRecv].checks.sent, echo_checks);
  res.ping[kRkCall].checks.errors += echo_checks.errors;
  echo.terminate();
  caf::anon_send_exit(caf_echo_actor, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(caf_spin_echo_actor, caf::exit_reason::user_shutdown);

  for (int c = 0; c < kPingCases; ++c) {
    PingCaseResult& p = res.ping[c];
    std::vector<double> p50, p90, p99, mean, mn, cpu;
    for (const LatRun& r : p.runs) {
      p50.push_back(r.p50);
      p90.push_back(r.p90);
      p99.push_back(r.p99);
      mean.push_back(r.mean);
      mn.push_back(r.min);
      cpu.push_back(r.cpu_us_per_rt);
    }
    p.p50 = median_of(p50);
    p.p90 = median_of(p90);
    p.p99 = median_of(p99);
    p.mean = median_of(mean);
    p.min = median_of(mn);
    p.cpu_us_per_rt = median_of(cpu);
    p.p50_spread = spread(p50);
    print_failures(kPingKey[c], p.checks);
  }
  std::vector<double> a, b, best;
  for (int rep = 0; rep < cfg.reps; ++rep) {
    const auto i = static_cast<std::size_t>(rep);
    const double rk_call = res.ping[kRkCall].runs[i].p50, rk_sr = res.ping[kRkSendRecv].runs[i].p50;
    const double caf_req = res.ping[kCafRequest].runs[i].p50, caf_sr = res.ping[kCafSendRecv].runs[i].p50;
    const double caf_best = std::min({caf_req, caf_sr, res.ping[kCafSpinRequest].runs[i].p50,
                                      res.ping[kCafSpinSendRecv].runs[i].p50});
    a.push_back(caf_req / rk_call);
    b.push_back(caf_sr / rk_sr);
    best.push_back(caf_best / std::min(rk_call, rk_sr));
  }
  res.p50_adv_call_vs_request = spread(a);
  res.p50_adv_sr_vs_sr = spread(b);
  res.p50_adv_best_vs_best = spread(best);
}

PipeResult run_pipe_case(int c, std::uint64_t n, const Config& cfg, ringkernel::Runtime& rt,
                         caf::actor_system& sys) {
  switch (c) {
    case kRkDrain:
      return rk_pipe_drain(rt, n, cfg);
    case kCafDrain:
      return caf_pipe_drain(sys, n);
    case kRkCount:
      return rk_pipe_count(rt, n, cfg);
    default:
      return caf_pipe_count(sys, n);
  }
}

void run_pipeline(const Config& cfg, ringkernel::Runtime& rt, caf::actor_system& sys, Results& res) {
  // One short untimed (but checked) run per variant first.
  for (int c = 0; c < kPipeCases; ++c)
    res.pipe[c].checks.add(run_pipe_case(c, std::max<std::uint64_t>(cfg.pipe_msgs / 20, 1000), cfg, rt, sys).checks);
  for (int rep = 0; rep < cfg.reps; ++rep) {
    for (int c = 0; c < kPipeCases; ++c) {
      settle();
      const PipeResult r = run_pipe_case(c, cfg.pipe_msgs, cfg, rt, sys);
      res.pipe[c].checks.add(r.checks);
      res.pipe[c].rate.push_back(static_cast<double>(cfg.pipe_msgs) / r.seconds);
      res.pipe[c].cores_busy.push_back(r.cpu_s / r.seconds);
    }
    std::fprintf(stderr, "  pipeline rep %d/%d done\n", rep + 1, cfg.reps);
  }
  for (int c = 0; c < kPipeCases; ++c) {
    PipeCaseResult& p = res.pipe[c];
    p.rate_spread = spread(p.rate);
    p.cores_busy_median = median_of(p.cores_busy);
    print_failures(kPipeKey[c], p.checks);
  }
  std::vector<double> drain, count;
  for (std::size_t i = 0; i < static_cast<std::size_t>(cfg.reps); ++i) {
    drain.push_back(res.pipe[kRkDrain].rate[i] / res.pipe[kCafDrain].rate[i]);
    count.push_back(res.pipe[kRkCount].rate[i] / res.pipe[kCafCount].rate[i]);
  }
  res.pipe_ratio_drain = spread(drain);
  res.pipe_ratio_count = spread(count);
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  bool reps_set = false, rtt_set = false, msgs_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    std::uint64_t n = 0;
    if (a == "--quick") {
      cfg.quick = true;
    } else if (a == "--json" && i + 1 < argc) {
      cfg.json_path = argv[++i];
    } else if (a == "--reps" && i + 1 < argc && parse_u64(argv[i + 1], n) && n <= 1000) {
      cfg.reps = static_cast<int>(n);
      reps_set = true;
      ++i;
    } else if (a == "--rtt" && i + 1 < argc && parse_u64(argv[i + 1], n) && n <= 100'000'000) {
      cfg.rtt = n;
      rtt_set = true;
      ++i;
    } else if (a == "--msgs" && i + 1 < argc && parse_u64(argv[i + 1], n)) {
      cfg.pipe_msgs = n;
      msgs_set = true;
      ++i;
    } else if (a == "--caf-threads" && i + 1 < argc && parse_u64(argv[i + 1], n) && n <= 1024) {
      cfg.caf_threads = n;
      ++i;
    } else if (a == "--caf-spin-polls" && i + 1 < argc && parse_u64(argv[i + 1], n) && n <= 100'000'000) {
      cfg.caf_spin_polls = n;
      ++i;
    } else if (a == "--latency-sample" && i + 1 < argc && parse_u64(argv[i + 1], n) && n >= 1 && n <= 1'000'000) {
      cfg.latency_sample = n;
      ++i;
    } else if (a == "--spin-us" && i + 1 < argc &&
               (std::strcmp(argv[i + 1], "0") == 0 ? (n = 0, true) : parse_u64(argv[i + 1], n)) && n <= 10'000'000) {
      cfg.spin_us = static_cast<long long>(n);
      ++i;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "runtime_bench: bad argument '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (cfg.quick) {
    if (!reps_set) cfg.reps = 3;
    if (!rtt_set) cfg.rtt = 2'000;
    if (!msgs_set) cfg.pipe_msgs = 50'000;
  }
  cfg.rtt_warmup = std::max<std::uint64_t>(cfg.rtt / 10, 100);

  const double load = background_load();
  Results res;
  try {
    ringkernel::RuntimeConfig rk_cfg;
    rk_cfg.latency_sample_interval = static_cast<std::uint32_t>(cfg.latency_sample);
    rk_cfg.spin_before_park = std::chrono::microseconds(spin_us_of(cfg));
    ringkernel::Runtime rt = ringkernel::Runtime::builder().backend(ringkernel::Backend::Cpu).config(rk_cfg).build();
    caf::actor_system_config caf_cfg;
    caf_cfg.set("scheduler.max-threads", static_cast<std::size_t>(cfg.caf_threads));
    caf::actor_system sys{caf_cfg};
    caf::actor_system_config caf_spin_cfg;
    caf_spin_cfg.set("scheduler.max-threads", std::size_t{1});
    caf_spin_cfg.set("work-stealing.aggressive-poll-attempts", static_cast<std::size_t>(cfg.caf_spin_polls));
    caf::actor_system sys_spin{caf_spin_cfg};
    run_ping_pong(cfg, rt, sys, sys_spin, res);
    run_pipeline(cfg, rt, sys, res);
    rt.shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "runtime_bench: %s\n", e.what());
    return 1;
  }

  Verdict v;
  v.checks_ok = true;
  for (const PingCaseResult& p : res.ping) v.checks_ok &= p.checks.passed();
  for (const PipeCaseResult& p : res.pipe) v.checks_ok &= p.checks.passed();
  v.caf_best_p50 = std::min({res.ping[kCafRequest].p50, res.ping[kCafSendRecv].p50, res.ping[kCafSpinRequest].p50,
                             res.ping[kCafSpinSendRecv].p50});
  v.latency_target = res.ping[kRkCall].p50 < v.caf_best_p50;
  v.pipeline_target = res.pipe_ratio_drain.median >= 2.0;

  print_table(cfg, res, v, load);
  if (!write_file(cfg.json_path, to_json(cfg, res, v, load))) {
    std::fprintf(stderr, "runtime_bench: cannot write %s\n", cfg.json_path.c_str());
    return 2;
  }
  std::printf("json: %s\n", cfg.json_path.c_str());
  return v.checks_ok ? 0 : 1;
}
