// request_response — call<Resp>(request, timeout): send a request, wait for *its* reply.
//   1. several threads call one kernel at the same time; the library gives every request a fresh
//      correlation id and routes each reply to the thread that asked, so no caller sees another's answer,
//   2. a request the kernel never answers: call() throws ringkernel::Error with ErrorCode::Timeout,
//   3. the kernel is unharmed and answers the next call.
// Exits non-zero if a check fails. Timings are printed for information only.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace calc {
struct Query {
  std::uint32_t caller;
  std::uint32_t seq;
  std::int64_t x;
};
RINGKERNEL_MESSAGE(Query, 0x51)
struct Answer {
  std::uint32_t caller;
  std::uint32_t seq;
  std::int64_t square;
};
RINGKERNEL_MESSAGE(Answer, 0x52)

/// Context-form handler: it replies through ctx.emit(), so it may reply zero times. It squares
/// x, and by design never answers a negative x (a stand-in for a request that gets lost).
/// ctx.emit() carries the request's correlation id, which is how call() finds its reply.
struct Squarer {
  using input_type = Query;
  using output_type = void;
  RINGKERNEL_HD void operator()(ringkernel::HandlerContext& ctx, const Query& q) {
    if (q.x < 0) return;
    ctx.emit(Answer{q.caller, q.seq, q.x * q.x});
  }
};
}  // namespace calc

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
  if (!ok) ++failures;
}
}  // namespace

int main() {
  using namespace ringkernel;
  using namespace std::chrono_literals;
  using Clock = std::chrono::steady_clock;
  std::printf("ringkernel %s request_response\n\n", RINGKERNEL_VERSION_STRING);
  Runtime rt = Runtime::builder().backend(Backend::Cpu).build();
  KernelHandle squarer = rt.launch("squarer", calc::Squarer{}, LaunchOptions{}.with_queue_capacity(256));

  // 1. Eight threads, 500 calls each, all in flight against the same kernel.
  constexpr std::uint32_t kThreads = 8, kCallsEach = 500;
  std::printf("1. %u threads x %u concurrent calls\n", kThreads, kCallsEach);
  std::atomic<std::uint32_t> right{0}, wrong{0}, errors{0};
  const auto start = Clock::now();
  std::vector<std::thread> callers;
  for (std::uint32_t t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      for (std::uint32_t i = 0; i < kCallsEach; ++i) {
        const std::int64_t x = static_cast<std::int64_t>(t) * 100000 + i;
        try {
          const calc::Answer a = squarer.call<calc::Answer>(calc::Query{t, i, x}, 5s);
          (a.caller == t && a.seq == i && a.square == x * x ? right : wrong)++;
        } catch (const Error& e) {
          std::printf("  caller %u, call %u: %s\n", t, i, e.what());
          errors++;
        }
      }
    });
  }
  for (std::thread& c : callers) c.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("  %u right, %u wrong, %u errors in %.3f s (%.0f calls/s)\n", right.load(), wrong.load(),
              errors.load(), seconds, (right + wrong) / seconds);
  check(right == kThreads * kCallsEach && wrong == 0 && errors == 0, "every caller got its own answer");
  check(squarer.status().outputs_pending == 0, "every reply went to its caller, none left in the output queue");

  // 2. A request that is never answered: call() gives up after its timeout.
  std::printf("2. A call that times out\n");
  bool timed_out = false;
  const auto asked = Clock::now();
  try {
    (void)squarer.call<calc::Answer>(calc::Query{99, 0, -7}, 100ms);
    std::printf("  unexpected answer\n");
  } catch (const Error& e) {
    const long long waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - asked).count();
    std::printf("  Error (%s) after %lld ms: %s\n", to_string(e.code()), waited, e.what());
    timed_out = e.code() == ErrorCode::Timeout;
  }
  check(timed_out, "call() threw ringkernel::Error with ErrorCode::Timeout");

  // 3. The kernel itself is fine: a timeout is the caller giving up, not a fault.
  std::printf("3. The next call\n");
  const calc::Answer a = squarer.call<calc::Answer>(calc::Query{99, 1, 12}, 1s);
  std::printf("  12 squared = %lld; kernel %s, %llu errors\n", static_cast<long long>(a.square),
              to_string(squarer.state()), static_cast<unsigned long long>(squarer.status().errors));
  check(a.caller == 99 && a.seq == 1 && a.square == 144 && squarer.is_active() && squarer.status().errors == 0,
        "answered correctly; kernel Active with no errors");

  rt.shutdown();
  const KernelStatus st = squarer.status();
  std::printf("  after shutdown: %s, received %llu, processed %llu\n", to_string(st.state),
              static_cast<unsigned long long>(st.messages_received),
              static_cast<unsigned long long>(st.messages_processed));
  check(st.messages_received == kThreads * kCallsEach + 2 && st.messages_processed == st.messages_received,
        "every request, the unanswered one included, was received and processed");

  std::printf("\n%s\n", failures == 0 ? "request_response: all checks passed" : "request_response: FAILED");
  return failures == 0 ? 0 : 1;
}
