// pipeline — three kernels in a row over K2K: parse -> scale -> aggregate.
//   1. the host sends raw samples to "parse"; each stage handles a message and sends its result
//      to the next stage with ctx.send_to_kernel(); "aggregate" emits one result per sample,
//      which the host receives,
//   2. every sample arrives exactly once and in order (one sender per hop, one priority: K2K
//      keeps per-sender FIFO),
//   3. causality: each stage records ctx.timestamp(), the HLC time at which it took the message;
//      along every item those times strictly increase, because a kernel merges the timestamp of
//      each message it takes and stamps what it sends after it,
//   4. the aggregate stage's state (a running sum) persists across messages.
// Exits non-zero if a check fails.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

namespace pipeline_demo {
struct Raw {
  std::uint64_t seq;
  std::int64_t millivolts;
};
RINGKERNEL_MESSAGE(Raw, 0xD0)
struct Stamp {  // an HlcTimestamp, as plain fields
  std::uint64_t physical;
  std::uint32_t logical;
  std::uint32_t node;
};
struct Item {
  std::uint64_t seq;
  double volts;
  Stamp seen[3];  // when each stage took it
  double running_sum;
};
RINGKERNEL_MESSAGE(Item, 0xD1)

Stamp stamp(ringkernel::HlcTimestamp t) { return Stamp{t.physical, t.logical, t.node_id}; }
ringkernel::HlcTimestamp hlc(Stamp s) { return ringkernel::HlcTimestamp{s.physical, s.logical, s.node}; }
std::atomic<int> lost{0};  // K2K sends that were not delivered

struct Parse {
  using input_type = Raw;
  using output_type = void;
  void operator()(ringkernel::HandlerContext& ctx, const Raw& r) {
    Item it{r.seq, static_cast<double>(r.millivolts) / 1000.0, {stamp(ctx.timestamp()), {}, {}}, 0.0};
    if (!ctx.send_to_kernel("scale", it).is_success()) lost.fetch_add(1);
  }
};
struct Scale {
  using input_type = Item;
  using output_type = void;
  double gain = 2.5;
  void operator()(ringkernel::HandlerContext& ctx, const Item& in) {
    Item it = in;
    it.volts *= gain;
    it.seen[1] = stamp(ctx.timestamp());
    if (!ctx.send_to_kernel("aggregate", it).is_success()) lost.fetch_add(1);
  }
};
struct Aggregate {
  using input_type = Item;
  using output_type = Item;
  double sum = 0;  // persists across messages
  Item operator()(ringkernel::HandlerContext& ctx, const Item& in) {
    Item it = in;
    sum += it.volts;
    it.running_sum = sum;
    it.seen[2] = stamp(ctx.timestamp());
    return it;
  }
};
}  // namespace pipeline_demo

namespace {
int failures = 0;
void check(bool ok, const std::string& what) {
  std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what.c_str());
  if (!ok) ++failures;
}
}  // namespace

int main() {
  using namespace ringkernel;
  using namespace pipeline_demo;
  using namespace std::chrono_literals;
  std::printf("ringkernel %s pipeline\n\n", RINGKERNEL_VERSION_STRING);
  Runtime rt = Runtime::builder().backend(Backend::Cpu).node_id(7).build();
  // Launched last stage first, so every K2K destination exists before anything flows.
  KernelHandle aggregate = rt.launch("aggregate", Aggregate{}, LaunchOptions{}.with_queue_capacity(1024));
  rt.launch("scale", Scale{}, LaunchOptions{}.with_queue_capacity(1024));
  KernelHandle parse = rt.launch("parse", Parse{}, LaunchOptions{}.with_queue_capacity(1024));

  constexpr std::uint64_t kSamples = 20000;
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t got = 0, in_order = 0, causal = 0;
  double expected_sum = 0, last_sum = 0;
  std::uint64_t sent = 0;
  while (got < kSamples) {
    // Keep up to 512 samples in flight: send while there is room, then drain what is ready.
    while (sent < kSamples && sent - got < 512) {
      parse.send(Raw{sent, static_cast<std::int64_t>(sent % 1000)});
      expected_sum += static_cast<double>(sent % 1000) / 1000.0 * 2.5;
      ++sent;
    }
    auto it = aggregate.receive<Item>(2s);
    if (!it) break;
    in_order += it->seq == got;
    causal += hlc(it->seen[0]) < hlc(it->seen[1]) && hlc(it->seen[1]) < hlc(it->seen[2]);
    last_sum = it->running_sum;
    ++got;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("1. %llu samples through parse -> scale -> aggregate in %.3f s (%.0f items/s, for information)\n\n",
              static_cast<unsigned long long>(got), secs, static_cast<double>(got) / secs);
  check(got == kSamples, "every sample came out (" + std::to_string(got) + " of " + std::to_string(kSamples) + ")");
  check(lost.load() == 0, "no K2K send failed");
  check(in_order == kSamples, "all in order");
  check(causal == kSamples, "on every item, the three stages' HLC times strictly increase");
  check(std::abs(last_sum - expected_sum) < 1e-6 * expected_sum, "the aggregate's running sum is the sum of all scaled samples");
  const K2KStats st = rt.k2k_broker().stats();
  std::printf("\nK2K: delivered %llu, failures %llu\n", static_cast<unsigned long long>(st.messages_delivered),
              static_cast<unsigned long long>(st.delivery_failures));
  check(st.messages_delivered == 2 * kSamples && st.delivery_failures == 0, "two K2K hops per sample, none failed");
  rt.shutdown();
  std::printf("\n%s\n", failures == 0 ? "pipeline: all checks passed" : "pipeline: FAILED");
  return failures == 0 ? 0 : 1;
}
