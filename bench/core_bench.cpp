// core_bench: ringkernel's SPSC ring and HLC clock, measured side by side
// with peers in the same run. Prints a table and writes JSON; every figure also
// goes through ringkernel::bench (a Markdown report, the JSON's "suite" member,
// and an optional regression check against a baseline file).
//
//   core_bench [--quick] [--json PATH] [--reps N] [--msgs N] [--markdown PATH]
//              [--baseline FILE] [--save-baseline FILE] [--regression-threshold X]
//              [--fail-on-regression]
//
// Exit status: 0 all correctness checks passed, 1 a check failed,
// 2 bad arguments, an unreadable baseline or an unwritable output file,
// 3 (only with --fail-on-regression) a regression against the baseline.
// Method and field meanings: bench/README.md.

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <boost/lockfree/spsc_queue.hpp>
#include <readerwriterqueue/readerwriterqueue.h>

#include <pthread.h>
#include <sched.h>
#include <time.h>
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
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

constexpr std::size_t kCapacity = 1024;  // every queue is bounded to this
constexpr std::size_t kBatch = 32;

// ---------------------------------------------------------------- config

struct Config {
  bool quick = false;
  std::string json_path = "core_bench.json";
  std::string markdown_path;       // empty: print only
  std::string baseline_path;       // empty: no regression check
  std::string save_baseline_path;  // empty: do not write one
  double regression_threshold = 0.25;  // shared 2-core VMs drift by 10-20% between runs
  bool fail_on_regression = false;
  int reps = 7;
  std::uint64_t spsc_msgs = 10'000'000;      // per run; 64-byte cases move half as many
  std::uint64_t hlc_ops = 10'000'000;        // per run (per thread when contended)
  std::uint64_t hlc_verify_ops = 1'000'000;  // per thread, stored and checked
};

void usage(std::FILE* f) {
  std::fprintf(f,
               "usage: core_bench [--quick] [--json PATH] [--reps N] [--msgs N] [--markdown PATH]\n"
               "                  [--baseline FILE] [--save-baseline FILE] [--regression-threshold X]\n"
               "                  [--fail-on-regression]\n"
               "  --quick     short run for smoke tests (2 M msgs, 2 reps)\n"
               "  --json PATH where to write results (default core_bench.json)\n"
               "  --reps N    repetitions per case (default 7, quick 2)\n"
               "  --msgs N    SPSC messages per run, u64 cases (64-byte: half; default 10000000)\n"
               "  --markdown PATH          also write the ringkernel::bench Markdown report there\n"
               "  --baseline FILE          compare throughput with a baseline JSON and print the report\n"
               "  --save-baseline FILE     write this run as a baseline JSON\n"
               "  --regression-threshold X relative change counted as a regression (default 0.25)\n"
               "  --fail-on-regression     exit 3 when the comparison finds a regression\n");
}

bool parse_u64(const char* s, std::uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v == 0) return false;
  out = v;
  return true;
}

// ------------------------------------------------------- threads, timing

// The two CPUs producer/consumer are pinned to: the first two CPUs in the
// process affinity mask (cores 0 and 1 on an unrestricted machine).
struct Cpus {
  int cpu[2] = {-1, -1};
  bool pinned() const { return cpu[0] >= 0 && cpu[1] >= 0; }
};

Cpus pick_cpus() {
  Cpus c;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return c;
  int found = 0;
  for (int i = 0; i < CPU_SETSIZE && found < 2; ++i)
    if (CPU_ISSET(i, &set)) c.cpu[found++] = i;
  if (found < 2) c = Cpus{};
  return c;
}

Cpus g_cpus;
double g_load_at_start = -1;    // see background_load()
volatile std::uint64_t g_sink;  // keeps otherwise-unused results alive
bool g_spin = true;             // false on a single CPU: waiting must yield or it stalls

void pin_self(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // best effort
}

// Identical for every queue, so the wait strategy cannot favour one of them.
inline void backoff() {
  if (!g_spin) std::this_thread::yield();
}

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Start line for two threads: each pins itself, then both leave together,
// so thread start-up and migration are outside the timed region.
class StartLine {
 public:
  void arrive_and_wait() {
    ready_.fetch_add(1, std::memory_order_acq_rel);
    while (ready_.load(std::memory_order_acquire) < 2) backoff();
  }

 private:
  std::atomic<int> ready_{0};
};

// --------------------------------------------------------------- payloads

// A 64-byte message. Every word is derived from the sequence number so a
// torn or misplaced copy is caught, not only a reordering.
//
// Producers fill a block of kBatch messages in place and then push them, also
// in the single-message cases: building each message in a temporary right
// before the push makes GCC copy it through a store-forwarding stall, which
// costs more than the queue operation and would hide the queues' differences.
struct Msg64 {
  std::uint64_t seq;
  std::uint64_t w[7];
};
static_assert(sizeof(Msg64) == 64, "Msg64 must be 64 bytes");
static_assert(std::is_trivially_copyable<Msg64>::value, "Msg64 must be trivially copyable");

template <class T>
struct Payload;

template <>
struct Payload<std::uint64_t> {
  static void fill(std::uint64_t& v, std::uint64_t i) { v = i; }
  static bool check(std::uint64_t v, std::uint64_t i) { return v == i; }
};

template <>
struct Payload<Msg64> {
  static void fill(Msg64& m, std::uint64_t i) {
    m.seq = i;
    for (std::uint64_t k = 0; k < 7; ++k) m.w[k] = i * (k + 3) + k;
  }
  static bool check(const Msg64& m, std::uint64_t i) {
    bool ok = m.seq == i;
    for (std::uint64_t k = 0; k < 7; ++k) ok &= m.w[k] == i * (k + 3) + k;
    return ok;
  }
};

// ------------------------------------------------------- queue adapters

template <class T>
struct OursQ {
  ringkernel::SpscRing<T> q{kCapacity};
  bool push(const T& v) { return q.try_push(v); }
  bool pop(T& v) { return q.try_pop(v); }
  std::size_t push_n(const T* p, std::size_t n) { return q.try_push_batch(p, n); }
  std::size_t pop_n(T* p, std::size_t n) { return q.try_pop_batch(p, n); }
};

// Compile-time capacity is boost's fastest form; it holds kCapacity - 1.
template <class T>
struct BoostQ {
  boost::lockfree::spsc_queue<T, boost::lockfree::capacity<kCapacity>> q;
  bool push(const T& v) { return q.push(v); }
  bool pop(T& v) { return q.pop(v); }
  std::size_t push_n(const T* p, std::size_t n) { return q.push(p, n); }
  std::size_t pop_n(T* p, std::size_t n) { return q.pop(p, n); }
};

// try_enqueue never allocates, so the queue stays bounded (>= kCapacity
// slots) like the others. It has no bulk API, hence no batched case.
template <class T>
struct RwqQ {
  moodycamel::ReaderWriterQueue<T> q{kCapacity};
  bool push(const T& v) { return q.try_enqueue(v); }
  bool pop(T& v) { return q.try_dequeue(v); }
};

// ------------------------------------------------------------ SPSC runs

struct RunResult {
  double seconds = 0;
  std::uint64_t bad = 0;  // messages that arrived wrong or out of order
};

using RunFn = RunResult (*)(std::uint64_t);

template <class Q, class T>
RunResult run_single(std::uint64_t n) {
  auto q = std::make_unique<Q>();
  StartLine start;
  Clock::time_point t0, t1;
  RunResult r;

  std::thread consumer([&] {
    pin_self(g_cpus.cpu[1]);
    start.arrive_and_wait();
    T v{};
    std::uint64_t bad = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      while (!q->pop(v)) backoff();
      bad += !Payload<T>::check(v, i);
    }
    t1 = Clock::now();
    r.bad = bad;
  });
  std::thread producer([&] {
    pin_self(g_cpus.cpu[0]);
    start.arrive_and_wait();
    t0 = Clock::now();
    T buf[kBatch];
    std::uint64_t i = 0;
    while (i < n) {
      const std::size_t m = static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, n - i));
      for (std::size_t k = 0; k < m; ++k) Payload<T>::fill(buf[k], i + k);
      for (std::size_t k = 0; k < m; ++k)
        while (!q->push(buf[k])) backoff();
      i += m;
    }
  });
  producer.join();
  consumer.join();
  r.seconds = seconds_between(t0, t1);
  return r;
}

template <class Q, class T>
RunResult run_batched(std::uint64_t n) {
  auto q = std::make_unique<Q>();
  StartLine start;
  Clock::time_point t0, t1;
  RunResult r;

  std::thread consumer([&] {
    pin_self(g_cpus.cpu[1]);
    start.arrive_and_wait();
    T buf[kBatch];
    std::uint64_t bad = 0;
    std::uint64_t i = 0;
    while (i < n) {
      const std::size_t got = q->pop_n(buf, kBatch);
      if (got == 0) {
        backoff();
        continue;
      }
      for (std::size_t k = 0; k < got; ++k) bad += !Payload<T>::check(buf[k], i + k);
      i += got;
    }
    t1 = Clock::now();
    r.bad = bad + (i != n);
  });
  std::thread producer([&] {
    pin_self(g_cpus.cpu[0]);
    start.arrive_and_wait();
    t0 = Clock::now();
    T buf[kBatch];
    std::uint64_t i = 0;
    while (i < n) {
      const std::size_t m = static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, n - i));
      for (std::size_t k = 0; k < m; ++k) Payload<T>::fill(buf[k], i + k);
      std::size_t done = 0;
      while (done < m) {
        const std::size_t pushed = q->push_n(buf + done, m - done);
        if (pushed == 0) backoff();
        done += pushed;
      }
      i += m;
    }
  });
  producer.join();
  consumer.join();
  r.seconds = seconds_between(t0, t1);
  return r;
}

// ----------------------------------------------------------------- stats

struct Stats {
  std::vector<double> samples;
  double median = 0, min = 0, max = 0;
};

Stats summarize(std::vector<double> v) {
  Stats s;
  s.samples = v;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  s.min = v.front();
  s.max = v.back();
  return s;
}

// ------------------------------------------------------------ SPSC cases

constexpr int kImpls = 3;
const char* const kImplKey[kImpls] = {"ringkernel", "boost_lockfree", "moodycamel_rwq"};

struct SpscCase {
  const char* name;
  const char* payload;
  std::size_t payload_bytes;
  bool batched;
  RunFn fn[kImpls];  // nullptr: the peer has no such API
  Stats stats[kImpls];
  bool have[kImpls] = {false, false, false};
  std::uint64_t msgs = 0;  // per run
  std::uint64_t bad = 0;
  int best_peer = -1;
  // ours / best peer. The machine drifts between fast and slow phases that
  // last seconds and hit every queue alike, so the ratio is taken within each
  // repetition (ours over the faster peer of that repetition) and the median
  // of those is reported; the ratio of the medians is kept for reference.
  Stats ratio{};
  double ratio_of_medians = 0;
};

std::vector<SpscCase> make_cases() {
  using U = std::uint64_t;
  return {
      {"u64 single",
       "u64",
       8,
       false,
       {run_single<OursQ<U>, U>, run_single<BoostQ<U>, U>, run_single<RwqQ<U>, U>},
       {}},
      {"u64 batch32", "u64", 8, true, {run_batched<OursQ<U>, U>, run_batched<BoostQ<U>, U>, nullptr}, {}},
      {"64B single",
       "Msg64",
       64,
       false,
       {run_single<OursQ<Msg64>, Msg64>, run_single<BoostQ<Msg64>, Msg64>, run_single<RwqQ<Msg64>, Msg64>},
       {}},
      {"64B batch32",
       "Msg64",
       64,
       true,
       {run_batched<OursQ<Msg64>, Msg64>, run_batched<BoostQ<Msg64>, Msg64>, nullptr},
       {}},
  };
}

void run_spsc(std::vector<SpscCase>& cases, const Config& cfg) {
  for (SpscCase& c : cases) {
    // 64-byte messages move several times slower; half as many keeps the
    // full run well under a minute without making those runs too short.
    c.msgs = c.payload_bytes > sizeof(std::uint64_t) ? std::max<std::uint64_t>(cfg.spsc_msgs / 2, 1)
                                                     : cfg.spsc_msgs;
    // Warm-up run per queue (discarded): page-faults code and lets the
    // cores reach their clock before anything is timed.
    for (int k = 0; k < kImpls; ++k)
      if (c.fn[k]) c.bad += c.fn[k](std::max<std::uint64_t>(c.msgs / 20, 1000)).bad;

    std::vector<double> rate[kImpls];
    // Queues alternate within each repetition so drift (thermal, noisy
    // neighbours) spreads over all of them instead of hitting one.
    for (int rep = 0; rep < cfg.reps; ++rep) {
      for (int k = 0; k < kImpls; ++k) {
        if (!c.fn[k]) continue;
        const RunResult r = c.fn[k](c.msgs);
        c.bad += r.bad;
        rate[k].push_back(static_cast<double>(c.msgs) / r.seconds);
      }
    }
    for (int k = 0; k < kImpls; ++k) {
      if (!c.fn[k]) continue;
      c.stats[k] = summarize(rate[k]);
      c.have[k] = true;
    }
    for (int k = 1; k < kImpls; ++k)
      if (c.have[k] && (c.best_peer < 0 || c.stats[k].median > c.stats[c.best_peer].median)) c.best_peer = k;
    if (c.best_peer >= 0) {
      c.ratio_of_medians = c.stats[0].median / c.stats[c.best_peer].median;
      std::vector<double> paired;
      for (int rep = 0; rep < cfg.reps; ++rep) {
        double best = 0;
        for (int k = 1; k < kImpls; ++k)
          if (c.have[k]) best = std::max(best, rate[k][static_cast<std::size_t>(rep)]);
        paired.push_back(rate[0][static_cast<std::size_t>(rep)] / best);
      }
      c.ratio = summarize(paired);
    }
    std::fprintf(stderr, "  spsc %-12s done%s\n", c.name, c.bad ? "  ** ORDER CHECK FAILED **" : "");
  }
}

// ------------------------------------------------------------------- HLC

struct HlcResults {
  Stats tick_single;                 // ns/op
  Stats tick_per_thread;             // ns/op seen by each of 2 contending threads
  Stats tick_aggregate;              // wall ns / total ops over both threads
  Stats clock_gettime_raw;           // ns/op, CLOCK_REALTIME
  Stats clock_gettime_coarse;        // ns/op, CLOCK_REALTIME_COARSE
  std::uint64_t non_increasing = 0;  // per-thread order violations (timed runs)
  std::uint64_t verify_ticks = 0;    // ticks stored by the uniqueness pass
  std::uint64_t duplicates = 0;      // equal stamps across threads
  std::uint64_t verify_non_increasing = 0;
};

// Runs fn on a thread pinned like the SPSC producer, so single-threaded
// figures come from the same core every time.
template <class F>
void on_pinned_thread(F&& fn) {
  std::thread t([&] {
    pin_self(g_cpus.cpu[0]);
    fn();
  });
  t.join();
}

// Per-thread monotonicity is checked inside the timed loop: it is a compare
// on data already in registers and it keeps tick() from being elided.
std::uint64_t tick_loop(ringkernel::HlcClock& clock, std::uint64_t ops) {
  std::uint64_t bad = 0;
  ringkernel::HlcTimestamp prev = clock.tick();
  for (std::uint64_t i = 0; i < ops; ++i) {
    const ringkernel::HlcTimestamp ts = clock.tick();
    bad += !(prev < ts);
    prev = ts;
  }
  return bad;
}

// ns per clock_gettime(id) read. CLOCK_REALTIME is the floor for any
// precise wall-clock stamp; the coarse clock is what a cached-time HLC reads.
double clock_read_ns(clockid_t id, std::uint64_t ops) {
  double ns = 0;
  on_pinned_thread([&] {
    timespec ts{};
    std::uint64_t sink = 0;
    const auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < ops; ++i) {
      clock_gettime(id, &ts);
      sink += static_cast<std::uint64_t>(ts.tv_nsec);
    }
    const auto t1 = Clock::now();
    g_sink = sink;
    ns = seconds_between(t0, t1) * 1e9 / static_cast<double>(ops);
  });
  return ns;
}

void run_hlc(HlcResults& h, const Config& cfg) {
  std::vector<double> single, per_thread, aggregate, raw, coarse;

  for (int rep = 0; rep < cfg.reps; ++rep) {
    raw.push_back(clock_read_ns(CLOCK_REALTIME, cfg.hlc_ops));
    coarse.push_back(clock_read_ns(CLOCK_REALTIME_COARSE, cfg.hlc_ops));

    on_pinned_thread([&] {
      ringkernel::HlcClock clock(1);
      const auto t0 = Clock::now();
      h.non_increasing += tick_loop(clock, cfg.hlc_ops);
      const auto t1 = Clock::now();
      single.push_back(seconds_between(t0, t1) * 1e9 / static_cast<double>(cfg.hlc_ops));
    });

    // Two threads hammering one clock: the shared-state cost.
    {
      ringkernel::HlcClock clock(2);
      StartLine start;
      Clock::time_point b[2], e[2];
      std::uint64_t bad[2] = {0, 0};
      std::thread th[2];
      for (int t = 0; t < 2; ++t) {
        th[t] = std::thread([&, t] {
          pin_self(g_cpus.cpu[t]);
          start.arrive_and_wait();
          b[t] = Clock::now();
          bad[t] = tick_loop(clock, cfg.hlc_ops);
          e[t] = Clock::now();
        });
      }
      for (auto& t : th) t.join();
      h.non_increasing += bad[0] + bad[1];
      for (int t = 0; t < 2; ++t)
        per_thread.push_back(seconds_between(b[t], e[t]) * 1e9 / static_cast<double>(cfg.hlc_ops));
      const double wall = seconds_between(std::min(b[0], b[1]), std::max(e[0], e[1]));
      aggregate.push_back(wall * 1e9 / (2.0 * static_cast<double>(cfg.hlc_ops)));
    }
  }
  h.tick_single = summarize(single);
  h.tick_per_thread = summarize(per_thread);
  h.tick_aggregate = summarize(aggregate);
  h.clock_gettime_raw = summarize(raw);
  h.clock_gettime_coarse = summarize(coarse);

  // Uniqueness across threads needs every stamp kept, so it is an
  // untimed pass: two threads store their ticks, then all are sorted and
  // neighbours compared.
  {
    ringkernel::HlcClock clock(3);
    StartLine start;
    std::vector<ringkernel::HlcTimestamp> got[2];
    std::thread th[2];
    for (int t = 0; t < 2; ++t) {
      got[t].reserve(cfg.hlc_verify_ops);
      th[t] = std::thread([&, t] {
        pin_self(g_cpus.cpu[t]);
        start.arrive_and_wait();
        for (std::uint64_t i = 0; i < cfg.hlc_verify_ops; ++i) got[t].push_back(clock.tick());
      });
    }
    for (auto& t : th) t.join();
    std::vector<ringkernel::HlcTimestamp> all;
    all.reserve(2 * cfg.hlc_verify_ops);
    for (const auto& g : got) {
      for (std::size_t i = 1; i < g.size(); ++i) h.verify_non_increasing += !(g[i - 1] < g[i]);
      all.insert(all.end(), g.begin(), g.end());
    }
    std::sort(all.begin(), all.end(),
              [](const ringkernel::HlcTimestamp& a, const ringkernel::HlcTimestamp& b) { return a < b; });
    for (std::size_t i = 1; i < all.size(); ++i) h.duplicates += !(all[i - 1] < all[i]);
    h.verify_ticks = all.size();
  }
  std::fprintf(stderr, "  hlc done%s\n",
               h.non_increasing || h.duplicates || h.verify_non_increasing ? "  ** HLC CHECK FAILED **" : "");
}

// --------------------------------------------------------- machine info

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::size_t s = line.find_first_not_of(" \t", colon + 1);
        return s == std::string::npos ? std::string() : line.substr(s);
      }
    }
  }
  return "unknown";
}

// Share of all CPUs busy with other work over 200 ms before the run, from
// /proc/stat (we are idle meanwhile). Other work on the machine is the usual
// reason for a wide [min-max] spread. -1 when unavailable.
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
  return __VERSION__;  // already names clang
#elif defined(__GNUC__)
  return std::string("GCC ") + __VERSION__;
#else
  return __VERSION__;
#endif
}

std::string version_string() {
  return std::to_string(RINGKERNEL_VERSION_MAJOR) + "." + std::to_string(RINGKERNEL_VERSION_MINOR) + "." +
         std::to_string(RINGKERNEL_VERSION_PATCH);
}

// ------------------------------------------------------------------ JSON

std::string jstr(const std::string& s) {
  std::string o = "\"";
  for (const unsigned char ch : s) {
    switch (ch) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\t':
        o += "\\t";
        break;
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

// JSON has no NaN or infinity: such a figure (nothing measured) is null.
std::string jnum(double v) {
  if (!std::isfinite(v)) return "null";
  char b[40];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string jbool(bool b) { return b ? "true" : "false"; }

std::string jstats(const Stats& s, const char* unit) {
  std::ostringstream o;
  o << "{\"unit\": " << jstr(unit) << ", \"median\": " << jnum(s.median) << ", \"min\": " << jnum(s.min)
    << ", \"max\": " << jnum(s.max) << ", \"samples\": [";
  for (std::size_t i = 0; i < s.samples.size(); ++i) o << (i ? ", " : "") << jnum(s.samples[i]);
  o << "]}";
  return o.str();
}

struct Verdict {
  bool spsc_ok, hlc_ok, spsc_target, tick_target;
};

// Every measured figure as a ringkernel::bench::Result: a workload id, its operations per run
// (size) and each run's time, recovered from the rates and ns/op this program records.
ringkernel::bench::Suite make_suite(const Config& cfg, const std::vector<SpscCase>& cases, const HlcResults& h) {
  namespace rb = ringkernel::bench;
  rb::Suite suite(rb::Config{}.with_warmup(1).with_measurements(static_cast<std::size_t>(cfg.reps))
                      .with_regression_threshold(cfg.regression_threshold));
  for (const SpscCase& c : cases) {
    for (int k = 0; k < kImpls; ++k) {
      if (!c.have[k]) continue;
      std::vector<double> times;
      for (double rate : c.stats[k].samples) times.push_back(static_cast<double>(c.msgs) / rate);
      suite.add_result(rb::Result::from_measurements(std::string("spsc/") + c.name + "/" + kImplKey[k], c.msgs, times)
                           .with_metric("payload_bytes", static_cast<double>(c.payload_bytes)));
    }
  }
  const std::pair<const char*, const Stats*> hlc[] = {
      {"hlc/tick 1 thread", &h.tick_single},
      {"hlc/tick 2 threads per thread", &h.tick_per_thread},
      {"hlc/tick 2 threads aggregate", &h.tick_aggregate},
      {"hlc/clock_gettime realtime", &h.clock_gettime_raw},
      {"hlc/clock_gettime realtime coarse", &h.clock_gettime_coarse},
  };
  for (const auto& row : hlc) {
    std::vector<double> times;
    for (double ns : row.second->samples) times.push_back(ns * static_cast<double>(cfg.hlc_ops) / 1e9);
    if (!times.empty()) suite.add_result(rb::Result::from_measurements(row.first, cfg.hlc_ops, times));
  }
  return suite;
}

std::string regression_json(const std::optional<ringkernel::bench::RegressionReport>& r) {
  if (!r) return "null";
  std::ostringstream o;
  o << "{\"baseline_version\": " << jstr(r->baseline_version()) << ", \"threshold\": " << jnum(r->threshold())
    << ", \"regressions\": " << r->regression_count() << ", \"improvements\": " << r->improvement_count()
    << ", \"unchanged\": " << r->unchanged_count() << ", \"missing_from_results\": " << r->missing_from_results().size()
    << ", \"not_in_baseline\": " << r->not_in_baseline().size()
    << ", \"has_regressions\": " << jbool(r->has_regressions()) << ", \"summary\": " << jstr(r->summary()) << "}";
  return o.str();
}

std::string to_json(const Config& cfg, const std::vector<SpscCase>& cases, const HlcResults& h,
                    const Verdict& v, const ringkernel::bench::Suite& suite,
                    const std::optional<ringkernel::bench::RegressionReport>& regression) {
  std::ostringstream o;
  o << "{\n";
  o << "  \"benchmark\": \"ringkernel core_bench\",\n";
  o << "  \"schema\": 1,\n";
  o << "  \"ringkernel_version\": " << jstr(version_string()) << ",\n";
  o << "  \"date_utc\": " << jstr(utc_now()) << ",\n";
  o << "  \"mode\": " << jstr(cfg.quick ? "quick" : "full") << ",\n";
  o << "  \"machine\": {\"cpu_model\": " << jstr(cpu_model())
    << ", \"nproc\": " << sysconf(_SC_NPROCESSORS_ONLN) << ", \"pinned\": " << jbool(g_cpus.pinned())
    << ", \"cpus\": [" << g_cpus.cpu[0] << ", " << g_cpus.cpu[1]
    << "], \"background_cpu_load_at_start\": " << jnum(g_load_at_start) << "},\n";
  o << "  \"build\": {\"compiler\": " << jstr(compiler_string()) << ", \"cplusplus\": " << __cplusplus
    << ", \"ndebug\": " << jbool(kNdebug) << ", \"optimized\": " << jbool(kOptimized) << "},\n";
  o << "  \"config\": {\"capacity\": " << kCapacity << ", \"batch\": " << kBatch << ", \"reps\": " << cfg.reps
    << ", \"spsc_msgs_per_run\": " << cfg.spsc_msgs << ", \"hlc_ops_per_run\": " << cfg.hlc_ops
    << ", \"hlc_verify_ops_per_thread\": " << cfg.hlc_verify_ops << "},\n";

  o << "  \"spsc\": [\n";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const SpscCase& c = cases[i];
    o << "    {\"case\": " << jstr(c.name) << ", \"payload\": " << jstr(c.payload)
      << ", \"payload_bytes\": " << c.payload_bytes << ", \"batched\": " << jbool(c.batched)
      << ", \"msgs_per_run\": " << c.msgs << ", \"order_errors\": " << c.bad << ",\n     \"results\": {";
    for (int k = 0; k < kImpls; ++k) {
      o << (k ? ",\n                 " : "") << jstr(kImplKey[k]) << ": ";
      o << (c.have[k] ? jstats(c.stats[k], "msgs/s") : "null");
    }
    o << "},\n     \"best_peer\": " << (c.best_peer >= 0 ? jstr(kImplKey[c.best_peer]) : "null")
      << ",\n     \"ratio_vs_best_peer\": " << jstats(c.ratio, "ours/best peer, paired per repetition")
      << ", \"ratio_of_medians\": " << jnum(c.ratio_of_medians) << "}" << (i + 1 < cases.size() ? "," : "")
      << "\n";
  }
  o << "  ],\n";

  o << "  \"hlc\": {\n";
  o << "    \"tick_single_thread\": " << jstats(h.tick_single, "ns/op") << ",\n";
  o << "    \"tick_2_threads_per_thread\": " << jstats(h.tick_per_thread, "ns/op") << ",\n";
  o << "    \"tick_2_threads_aggregate\": " << jstats(h.tick_aggregate, "ns/op") << ",\n";
  o << "    \"clock_gettime_realtime\": " << jstats(h.clock_gettime_raw, "ns/op") << ",\n";
  o << "    \"clock_gettime_realtime_coarse\": " << jstats(h.clock_gettime_coarse, "ns/op") << ",\n";
  o << "    \"ratio_tick_vs_clock_gettime\": " << jnum(h.tick_single.median / h.clock_gettime_raw.median)
    << ",\n";
  o << "    \"non_increasing_in_timed_runs\": " << h.non_increasing
    << ", \"verify_ticks\": " << h.verify_ticks << ", \"verify_non_increasing\": " << h.verify_non_increasing
    << ", \"verify_duplicates\": " << h.duplicates << "\n  },\n";

  o << "  \"checks\": {\"spsc_order\": " << jbool(v.spsc_ok) << ", \"hlc\": " << jbool(v.hlc_ok) << "},\n";
  o << "  \"targets\": {\"spsc_ge_best_peer\": " << jbool(v.spsc_target)
    << ", \"tick_single_lt_10ns\": " << jbool(v.tick_target) << "},\n";
  std::string suite_json = suite.generate_json_export();
  while (!suite_json.empty() && suite_json.back() == '\n') suite_json.pop_back();
  o << "  \"suite\": " << suite_json << ",\n";
  o << "  \"regression\": " << regression_json(regression) << ",\n";
  o << "  \"ok\": " << jbool(v.spsc_ok && v.hlc_ok) << "\n";
  o << "}\n";
  return o.str();
}

// Written to PATH.tmp and renamed, so a reader never sees half a file.
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

// ----------------------------------------------------------------- table

std::string cell_rate(const SpscCase& c, int k) {
  if (!c.fn[k]) return "n/a (no bulk API)";
  const Stats& s = c.stats[k];
  char b[64];
  std::snprintf(b, sizeof b, "%7.1f [%.1f-%.1f]", s.median / 1e6, s.min / 1e6, s.max / 1e6);
  return b;
}

std::string cell_ns(const Stats& s) {
  char b[64];
  std::snprintf(b, sizeof b, "%6.2f [%.2f-%.2f]", s.median, s.min, s.max);
  return b;
}

void print_table(const Config& cfg, const std::vector<SpscCase>& cases, const HlcResults& h,
                 const Verdict& v) {
  std::printf("\nringkernel %s core_bench (%s)  cpu: %s  nproc: %ld  pinned: %s\n", version_string().c_str(),
              cfg.quick ? "quick" : "full", cpu_model().c_str(), sysconf(_SC_NPROCESSORS_ONLN),
              g_cpus.pinned() ? "yes" : "no");
  std::printf("compiler: %s  NDEBUG: %s  background CPU load at start: %.0f%%\n", compiler_string().c_str(),
              kNdebug ? "yes" : "no", g_load_at_start * 100);
  if (g_load_at_start > 0.1)
    std::printf("WARNING: the machine was busy when the run started; expect noisy figures\n");
  if (!kOptimized) std::printf("WARNING: built without optimization; figures are not meaningful\n");

  std::printf("\nSPSC throughput, M msgs/s: median [min-max] of %d runs, capacity %zu, batch %zu\n", cfg.reps,
              kCapacity, kBatch);
  std::printf("ours/best: median [min-max] over runs of ours / the faster peer in the same repetition\n");
  std::printf("%-12s  %9s  %-24s  %-24s  %-24s  %s\n", "case", "msgs/run", "ringkernel", "boost::lockfree",
              "moodycamel RWQ", "ours/best");
  for (const SpscCase& c : cases) {
    std::printf("%-12s  %9llu  %-24s  %-24s  %-24s  %.2fx [%.2f-%.2f]%s\n", c.name,
                static_cast<unsigned long long>(c.msgs), cell_rate(c, 0).c_str(), cell_rate(c, 1).c_str(),
                cell_rate(c, 2).c_str(), c.ratio.median, c.ratio.min, c.ratio.max,
                c.bad ? "  ORDER ERRORS" : "");
  }

  std::printf("\nHLC, ns/op: median [min-max] of %d runs x %llu ops\n", cfg.reps,
              static_cast<unsigned long long>(cfg.hlc_ops));
  std::printf("%-38s  %-24s  %s\n", "case", "ns/op", "vs clock_gettime");
  const double floor_ns = h.clock_gettime_raw.median;
  std::printf("%-38s  %-24s  %s\n", "clock_gettime(CLOCK_REALTIME)", cell_ns(h.clock_gettime_raw).c_str(),
              "1.00x");
  std::printf("%-38s  %-24s  %.2fx\n", "clock_gettime(CLOCK_REALTIME_COARSE)",
              cell_ns(h.clock_gettime_coarse).c_str(), h.clock_gettime_coarse.median / floor_ns);
  std::printf("%-38s  %-24s  %.2fx\n", "tick() 1 thread", cell_ns(h.tick_single).c_str(),
              h.tick_single.median / floor_ns);
  std::printf("%-38s  %-24s  %.2fx\n", "tick() 2 threads, per thread", cell_ns(h.tick_per_thread).c_str(),
              h.tick_per_thread.median / floor_ns);
  std::printf("%-38s  %-24s  %.2fx\n", "tick() 2 threads, aggregate", cell_ns(h.tick_aggregate).c_str(),
              h.tick_aggregate.median / floor_ns);

  std::printf("\nchecks: spsc order %s; hlc monotonic per thread + unique across threads (%llu stamps) %s\n",
              v.spsc_ok ? "ok" : "FAILED", static_cast<unsigned long long>(h.verify_ticks),
              v.hlc_ok ? "ok" : "FAILED");
  std::printf("targets: SPSC >= best peer in every case: %s; tick() < 10 ns single-threaded: %s (%.2f ns)\n",
              v.spsc_target ? "met" : "missed", v.tick_target ? "met" : "missed", h.tick_single.median);
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  bool reps_set = false, msgs_set = false;
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
    } else if (a == "--msgs" && i + 1 < argc && parse_u64(argv[i + 1], n)) {
      cfg.spsc_msgs = n;
      msgs_set = true;
      ++i;
    } else if (a == "--markdown" && i + 1 < argc) {
      cfg.markdown_path = argv[++i];
    } else if (a == "--baseline" && i + 1 < argc) {
      cfg.baseline_path = argv[++i];
    } else if (a == "--save-baseline" && i + 1 < argc) {
      cfg.save_baseline_path = argv[++i];
    } else if (a == "--regression-threshold" && i + 1 < argc) {
      char* end = nullptr;
      const double x = std::strtod(argv[++i], &end);
      if (end == argv[i] || *end != '\0' || !(x >= 0.0 && x <= 10.0)) {
        std::fprintf(stderr, "core_bench: --regression-threshold needs a number in [0, 10], got '%s'\n", argv[i]);
        return 2;
      }
      cfg.regression_threshold = x;
    } else if (a == "--fail-on-regression") {
      cfg.fail_on_regression = true;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "core_bench: bad argument '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (cfg.quick) {
    if (!reps_set) cfg.reps = 2;
    if (!msgs_set) cfg.spsc_msgs = 2'000'000;
    cfg.hlc_ops = 1'000'000;
    cfg.hlc_verify_ops = 200'000;
  }

  // Read the baseline before the run, so a bad file fails at once, not after a minute.
  std::optional<ringkernel::bench::Baseline> baseline;
  if (!cfg.baseline_path.empty()) {
    try {
      baseline = ringkernel::bench::Baseline::load(cfg.baseline_path);
    } catch (const ringkernel::Error& e) {
      std::fprintf(stderr, "core_bench: %s\n", e.what());
      return 2;
    }
  }

  g_load_at_start = background_load();
  g_cpus = pick_cpus();
  g_spin = std::thread::hardware_concurrency() >= 2 && g_cpus.pinned();

  std::vector<SpscCase> cases = make_cases();
  HlcResults hlc;
  try {
    run_spsc(cases, cfg);
    run_hlc(hlc, cfg);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "core_bench: %s\n", e.what());
    return 1;
  }

  Verdict v{};
  v.spsc_ok = true;
  v.spsc_target = true;
  for (const SpscCase& c : cases) {
    v.spsc_ok &= c.bad == 0;
    v.spsc_target &= c.ratio.median >= 1.0;
  }
  v.hlc_ok = hlc.non_increasing == 0 && hlc.duplicates == 0 && hlc.verify_non_increasing == 0;
  v.tick_target = hlc.tick_single.median < 10.0;

  print_table(cfg, cases, hlc, v);

  ringkernel::bench::Suite suite = make_suite(cfg, cases, hlc);
  const std::string markdown = suite.generate_markdown_report(
      std::string("core_bench (") + (cfg.quick ? "quick" : "full") + "), ringkernel::bench: time per run of `Size` operations");
  std::printf("\n%s", markdown.c_str());
  std::optional<ringkernel::bench::RegressionReport> regression;
  if (baseline) {
    suite.set_baseline(*baseline);
    regression = suite.compare_to_baseline();
    std::printf("\nregression check against %s (throughput, threshold %.0f%%):\n%s%s\n", cfg.baseline_path.c_str(),
                cfg.regression_threshold * 100, regression->to_markdown().c_str(), regression->summary().c_str());
    if (regression->has_regressions() && !cfg.fail_on_regression)
      std::printf("(report only: rerun with --fail-on-regression to make a regression fail the run)\n");
  }

  if (!write_file(cfg.json_path, to_json(cfg, cases, hlc, v, suite, regression))) {
    std::fprintf(stderr, "core_bench: cannot write %s\n", cfg.json_path.c_str());
    return 2;
  }
  std::printf("json: %s\n", cfg.json_path.c_str());
  if (!cfg.markdown_path.empty()) {
    if (!write_file(cfg.markdown_path, markdown)) {
      std::fprintf(stderr, "core_bench: cannot write %s\n", cfg.markdown_path.c_str());
      return 2;
    }
    std::printf("markdown: %s\n", cfg.markdown_path.c_str());
  }
  if (!cfg.save_baseline_path.empty()) {
    try {
      suite.create_baseline(std::string("core_bench ") + (cfg.quick ? "quick " : "full ") + version_string() + " " +
                            utc_now())
          .save(cfg.save_baseline_path);
    } catch (const ringkernel::Error& e) {
      std::fprintf(stderr, "core_bench: %s\n", e.what());
      return 2;
    }
    std::printf("baseline: %s\n", cfg.save_baseline_path.c_str());
  }
  if (!(v.spsc_ok && v.hlc_ok)) return 1;
  return cfg.fail_on_regression && regression && regression->has_regressions() ? 3 : 0;
}
