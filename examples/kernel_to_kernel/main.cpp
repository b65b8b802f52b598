// kernel_to_kernel — kernels talking to each other through the runtime's K2K broker:
//   1. a "counter" kernel sends each number it counts to a "doubler" kernel with
//      ctx.send_to_kernel(); the doubler answers the host; the receipts say Delivered,
//   2. a route: "math-service" is a name, not a kernel; add_route() sends it on to "doubler",
//      and the receipt shows the hops it took (tracing on),
//   3. failures come back as receipts, not exceptions: an unknown name (NoRoute) and a route
//      loop that ends at max_hops (HopLimitExceeded),
//   4. K2KStats add up.
// Exits non-zero if a check fails.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

namespace k2k_demo {
struct Count {
  std::uint64_t n;
};
RINGKERNEL_MESSAGE(Count, 0xC0)
struct Doubled {
  std::uint64_t n;
  std::uint64_t twice;
  std::uint64_t from_counter;  // how many of the doubler's inputs came from the counter kernel so far
};
RINGKERNEL_MESSAGE(Doubled, 0xC1)

std::atomic<std::uint64_t> failed_receipts{0};

/// Forwards every Count to the doubler over K2K and checks the receipt.
struct Counter {
  using input_type = Count;
  using output_type = void;
  void operator()(ringkernel::HandlerContext& ctx, const Count& c) {
    if (!ctx.send_to_kernel("doubler", c).is_success()) failed_receipts.fetch_add(1);
  }
};
/// Doubles what it gets and emits it to the host; ctx.source_kernel() says who sent it.
struct Doubler {
  using input_type = Count;
  using output_type = void;
  std::uint64_t from_counter = 0;  // persistent state: messages that came from the counter kernel
  void operator()(ringkernel::HandlerContext& ctx, const Count& c) {
    if (ctx.source_kernel() == "counter") ++from_counter;
    ctx.emit(Doubled{c.n, 2 * c.n, from_counter});
  }
};
}  // namespace k2k_demo

namespace {
int failures = 0;
void check(bool ok, const std::string& what) {
  std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what.c_str());
  if (!ok) ++failures;
}
}  // namespace

int main() {
  using namespace ringkernel;
  using namespace std::chrono_literals;
  std::printf("ringkernel %s kernel_to_kernel\n\n", RINGKERNEL_VERSION_STRING);
  RuntimeConfig cfg;
  cfg.k2k.enable_tracing = true;
  cfg.k2k.max_hops = 4;
  Runtime rt = Runtime::builder().backend(Backend::Cpu).config(cfg).build();
  KernelHandle counter = rt.launch("counter", k2k_demo::Counter{});
  KernelHandle doubler = rt.launch("doubler", k2k_demo::Doubler{});
  K2KBroker& k2k = rt.k2k_broker();

  std::printf("1. counter -> doubler over K2K, doubler -> host\n");
  constexpr std::uint64_t kCount = 1000;
  for (std::uint64_t i = 0; i < kCount; ++i) counter.send(k2k_demo::Count{i});
  std::uint64_t sum = 0, got = 0, last_from_counter = 0;
  bool right = true;
  while (got < kCount) {
    auto d = doubler.receive<k2k_demo::Doubled>(2s);
    if (!d) break;
    right = right && d->twice == 2 * d->n && d->n == got;  // in order: one sender, one priority
    sum += d->twice;
    last_from_counter = d->from_counter;
    ++got;
  }
  check(got == kCount, "the host got all " + std::to_string(kCount) + " doubled numbers");
  check(right, "each in order, each doubled");
  check(sum == kCount * (kCount - 1), "their sum is " + std::to_string(kCount * (kCount - 1)));
  check(k2k_demo::failed_receipts.load() == 0, "every K2K receipt inside the counter said Delivered");
  check(last_from_counter == kCount, "the doubler saw ctx.source_kernel() == \"counter\" every time");

  std::printf("\n2. a route: 'math-service' -> 'doubler'\n");
  k2k.add_route("math-service", "doubler");
  DeliveryReceipt r = k2k.send_message("host", "math-service", k2k_demo::Count{21});
  std::string path;
  for (const std::string& hop : r.trace) path += (path.empty() ? "" : " -> ") + hop;
  std::printf("  receipt: %s, %u hops, delivered to '%s', path %s\n", to_string(r.status), r.hops,
              r.delivered_to.c_str(), path.c_str());
  check(r.is_success() && r.hops == 2 && r.delivered_to == "doubler", "routed to the doubler in 2 hops");
  auto d = doubler.receive<k2k_demo::Doubled>(2s);
  check(d && d->twice == 42 && d->from_counter == kCount, "and it answered 42 (a host message, not the counter's)");

  std::printf("\n3. failures are receipts\n");
  DeliveryReceipt nobody = k2k.send_message("host", "nobody", k2k_demo::Count{1});
  std::printf("  to 'nobody': %s\n", to_string(nobody.status));
  check(nobody.status == DeliveryStatus::NoRoute && nobody.is_failure(), "an unknown name is NoRoute");
  k2k.add_route("ping", "pong");
  k2k.add_route("pong", "ping");
  DeliveryReceipt loop = k2k.send_message("host", "ping", k2k_demo::Count{1});
  std::printf("  around the ping/pong loop: %s after %u hops\n", to_string(loop.status), loop.hops);
  check(loop.status == DeliveryStatus::HopLimitExceeded && loop.hops == cfg.k2k.max_hops,
        "a route loop ends at max_hops");

  const K2KStats st = k2k.stats();
  std::printf("\n4. K2KStats: endpoints %zu, delivered %llu, failures %llu, routes %zu, in flight %llu\n",
              st.registered_endpoints, static_cast<unsigned long long>(st.messages_delivered),
              static_cast<unsigned long long>(st.delivery_failures), st.routes_configured,
              static_cast<unsigned long long>(st.in_flight));
  check(st.registered_endpoints == 2, "two kernels registered");
  check(st.messages_delivered == kCount + 1, "delivered = counter's sends + the routed one");
  check(st.delivery_failures == 2, "two failures (NoRoute, HopLimitExceeded)");
  check(st.routes_configured == 3 && st.in_flight == 0, "three routes, nothing in flight");
  rt.shutdown();
  std::printf("\n%s\n", failures == 0 ? "kernel_to_kernel: all checks passed" : "kernel_to_kernel: FAILED");
  return failures == 0 ? 0 : 1;
}
