// batch_processor — a kernel that turns many small inputs into few outputs, and backpressure:
//   1. an accumulating handler (context form) that emits a Summary every 100 items and nothing
//      in between, plus a final partial Summary when asked to flush,
//   2. a Reject-strategy inbox fed with try_send(): a full inbox refuses, never blocks, and
//      every refusal is counted (sent = accepted + rejected),
//   3. the summaries add up to exactly the items that were accepted.
// Exits non-zero if a check fails. Throughput is printed for information only.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

namespace batch {
struct Item {
  std::uint32_t value;
  std::uint32_t flush;  // 1: emit what has been accumulated now, even if fewer than a batch
};
RINGKERNEL_MESSAGE(Item, 0x17E4)
struct Summary {
  std::uint32_t items;
  std::uint32_t last;  // 1 for the flushed, final summary
  std::uint64_t sum;
};
RINGKERNEL_MESSAGE(Summary, 0x5043)

/// Accumulates items; emits zero outputs for most inputs and one for every 100th.
struct Accumulator {
  using input_type = Item;
  using output_type = void;
  static constexpr std::uint32_t batch_size = 100;
  std::uint32_t items = 0;
  std::uint64_t sum = 0;

  RINGKERNEL_HD void operator()(ringkernel::HandlerContext& ctx, const Item& it) {
    if (it.flush == 0) {
      ++items;
      sum += it.value;
    }
    if (items == batch_size || it.flush != 0) {
      ctx.emit(Summary{items, it.flush, sum});
      items = 0;
      sum = 0;
    }
  }
};
}  // namespace batch

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
  if (!ok) ++failures;
}
unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }
}  // namespace

int main() {
  using namespace ringkernel;
  using namespace std::chrono_literals;
  using Clock = std::chrono::steady_clock;
  std::printf("ringkernel %s batch_processor\n\n", RINGKERNEL_VERSION_STRING);
  Runtime rt = Runtime::builder().backend(Backend::Cpu).build();

  // A small inbox that rejects when full. Launched inactive, so the first burst meets a full inbox.
  constexpr std::size_t kCapacity = 64;
  KernelHandle acc = rt.launch("accumulator", batch::Accumulator{},
                               LaunchOptions{}
                                   .with_queue_capacity(kCapacity)
                                   .with_backpressure(BackpressureStrategy::Reject)
                                   .without_auto_activate());
  std::uint64_t sent = 0, accepted = 0, rejected = 0, accepted_sum = 0;
  // Offers one item; a refused item is shed (counted, not retried) and the producer yields.
  auto offer = [&](std::uint32_t value) {
    ++sent;
    if (acc.try_send(batch::Item{value, 0}) == SendStatus::Ok) {
      ++accepted;
      accepted_sum += value;
    } else {
      ++rejected;
      std::this_thread::yield();
    }
  };

  // 1. A burst of 100 items before the kernel runs: the inbox holds 64, the rest are refused.
  std::printf("1. Burst of 100 items into a %zu-slot inbox, kernel not yet active\n", kCapacity);
  for (std::uint32_t v = 1; v <= 100; ++v) offer(v);
  std::printf("  sent %llu, accepted %llu, rejected %llu\n", ull(sent), ull(accepted), ull(rejected));
  check(accepted == kCapacity && rejected == 100 - kCapacity, "exactly the inbox capacity was accepted");

  // 2. Activate and stream 20000 items without pacing; whatever the kernel cannot keep up with
  //    is refused at once, counted and shed. Summaries are collected on another thread while
  //    the stream runs: outputs have a bounded queue too (the inbox capacity), and a kernel whose
  //    output queue is full waits for the host to take some.
  std::printf("2. Streaming 20000 items into the active kernel\n");
  std::uint64_t summaries = 0, summed_items = 0, summed_values = 0;
  bool got_last = false;
  std::thread collector([&] {
    while (!got_last) {
      const std::optional<batch::Summary> s = acc.receive<batch::Summary>(2s);
      if (!s) break;  // nothing for 2 s: give up (the checks below will say so)
      ++summaries;
      summed_items += s->items;
      summed_values += s->sum;
      got_last = s->last != 0;
    }
  });
  acc.activate();
  const auto start = Clock::now();
  for (std::uint32_t v = 101; v <= 20100; ++v) offer(v);
  // The flush marker goes last (same priority, so FIFO); it must not be shed: retry while full.
  std::uint64_t flush_retries = 0;
  while (acc.try_send(batch::Item{0, 1}) == SendStatus::QueueFull && Clock::now() - start < 5s) {
    ++flush_retries;
    std::this_thread::yield();
  }
  collector.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  acc.terminate();  // everything was handled once the final summary came; the counters are final now
  const KernelStatus st = acc.status();
  std::printf("  sent %llu, accepted %llu, rejected %llu (%.1f%%)\n", ull(sent), ull(accepted), ull(rejected),
              100.0 * static_cast<double>(rejected) / static_cast<double>(sent));
  std::printf("  status: received %llu, rejected %llu, processed %llu, dropped %llu\n", ull(st.messages_received),
              ull(st.messages_rejected), ull(st.messages_processed), ull(st.messages_dropped));
  std::printf("  throughput: %.0f items/s offered, %.0f items/s processed (information only)\n",
              static_cast<double>(sent - 100) / seconds, static_cast<double>(accepted) / seconds);
  std::printf("3. Summaries\n");
  std::printf("  %llu summaries covering %llu items, sum %llu (accepted sum %llu)\n", ull(summaries),
              ull(summed_items), ull(summed_values), ull(accepted_sum));
  check(sent == accepted + rejected, "sent = accepted + rejected");
  check(st.messages_received == accepted + 1 && st.messages_rejected == rejected + flush_retries,
        "the kernel's counters agree (received: items + flush marker; rejected: items + flush retries)");
  check(st.messages_dropped == 0, "Reject never drops a message it accepted");
  check(got_last && summed_items == accepted && summed_values == accepted_sum,
        "the summaries account for exactly the accepted items");
  check(summaries == accepted / batch::Accumulator::batch_size + 1, "one summary per full 100 items, plus the final one");

  rt.shutdown();
  std::printf("\n%s\n", failures == 0 ? "batch_processor: all checks passed" : "batch_processor: FAILED");
  return failures == 0 ? 0 : 1;
}
