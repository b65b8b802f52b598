// kernel_to_kernel — kernels talking to each other over the K2K fabric, without the host in between:
//   1. a route names a service: add_route("math.square", "squarer") lets kernels address the service,
//      not the kernel that happens to serve it today,
//   2. a loop kernel ("client") sends 100 requests to "math.square" with ctx.send_to_kernel and checks
//      every DeliveryReceipt (Delivered, 2 hops, delivered to "squarer", traced path, HLC time rising);
//      it picks each answer out of its inbox with ctx.try_receive_from_kernel<T>("squarer"),
//   3. the squarer (a message handler) answers whoever asked, ctx.source_kernel(), and the client reports
//      to a third kernel ("auditor") over K2K, which checks the sender and hands the result to the host,
//   4. the host uses the broker directly (K2KBroker::send) and sees receipts for the failures too:
//      NoRoute, HopLimitExceeded (a route loop), Rejected (wrong message type), NotActive (terminated),
//   5. K2KStats add up to exactly what was sent.
// Exits non-zero if a check fails.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace k2k {
struct Start {
  std::uint32_t rounds;
};
RINGKERNEL_MESSAGE(Start, 0x4B324B01)
struct SquareRequest {
  std::uint32_t seq;
  std::int64_t x;
};
RINGKERNEL_MESSAGE(SquareRequest, 0x4B324B02)
struct SquareReply {
  std::uint32_t seq;
  std::int64_t x;
  std::int64_t square;
};
RINGKERNEL_MESSAGE(SquareReply, 0x4B324B03)
/// What the client saw, reported to the auditor (over K2K) and to the host (its output queue).
struct Summary {
  std::uint32_t rounds;
  std::uint32_t replies;           // answers received
  std::uint32_t wrong_replies;     // answers with the wrong sequence number or square
  std::uint32_t good_receipts;     // receipts that were Delivered, 2 hops, to "squarer", traced
  std::uint32_t late_timestamps;   // receipts whose HLC time was not after the previous one's
  std::uint32_t foreign_sources;   // answers whose last_source_kernel() was not "squarer"
  std::int64_t sum_of_squares;
};
RINGKERNEL_MESSAGE(Summary, 0x4B324B04)
struct Audit {
  Summary summary;
  std::uint32_t from_client;  // 1 when ctx.source_kernel() was "client"
};
RINGKERNEL_MESSAGE(Audit, 0x4B324B05)

/// Answers whoever asked. A request sent by a kernel is answered over K2K; one a host put in
/// through the broker has no source kernel, so the answer goes to the host (the output queue).
struct Squarer {
  using input_type = SquareRequest;
  using output_type = void;
  void operator()(ringkernel::HandlerContext& ctx, const SquareRequest& r) {
    const SquareReply answer{r.seq, r.x, r.x * r.x};
    const std::string asker = ctx.source_kernel();
    if (asker.empty()) {
      ctx.emit(answer);
      return;
    }
    const ringkernel::DeliveryReceipt receipt = ctx.send_to_kernel(asker, answer);
    if (!receipt.is_success())  // faults the kernel: the host sees it in status() and fault()
      throw std::runtime_error("squarer: answer to '" + asker + "' not delivered: " +
                               ringkernel::to_string(receipt.status));
  }
};

/// Takes the client's summary over K2K and passes it on to the host, noting who sent it.
struct Auditor {
  using input_type = Summary;
  using output_type = Audit;
  Audit operator()(ringkernel::HandlerContext& ctx, const Summary& s) {
    return Audit{s, ctx.source_kernel() == "client" ? 1u : 0u};
  }
};
}  // namespace k2k

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
  if (!ok) ++failures;
}
std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : " -> ") + x;
  return s;
}
void print_receipt(const char* label, const ringkernel::DeliveryReceipt& r) {
  std::printf("  %-22s %-16s %s -> %s (delivered to '%s'), %u hop(s), HLC %llu.%u, path [%s]\n", label,
              ringkernel::to_string(r.status), r.source.c_str(), r.destination.c_str(), r.delivered_to.c_str(), r.hops,
              static_cast<unsigned long long>(r.timestamp.physical), r.timestamp.logical, join(r.trace).c_str());
}
void print_stats(const ringkernel::K2KStats& s) {
  std::printf("  K2KStats: endpoints %zu, delivered %llu, failures %llu, routes %zu, in flight %llu\n",
              s.registered_endpoints, static_cast<unsigned long long>(s.messages_delivered),
              static_cast<unsigned long long>(s.delivery_failures), s.routes_configured,
              static_cast<unsigned long long>(s.in_flight));
}
}  // namespace

int main() {
  using namespace ringkernel;
  using namespace std::chrono_literals;
  using Clock = std::chrono::steady_clock;
  std::printf("ringkernel %s kernel_to_kernel\n\n", RINGKERNEL_VERSION_STRING);

  RuntimeConfig config;
  config.k2k.enable_tracing = true;  // receipts carry the path each message took
  Runtime rt = Runtime::builder().backend(Backend::Cpu).config(config).build();
  K2KBroker& broker = rt.k2k_broker();

  // The client: waits for Start from the host, then runs its rounds against the service name.
  // `first_receipt` is written by the client's worker before it sends its summary to the host,
  // and read by the host only after receiving that summary.
  DeliveryReceipt first_receipt;
  auto client_loop = [&first_receipt](KernelContext& ctx) {
    const std::vector<std::string> expected_path{"client", "math.square", "squarer"};
    while (!ctx.should_terminate()) {
      const std::optional<k2k::Start> start = ctx.receive<k2k::Start>(50ms);
      if (!start) continue;
      k2k::Summary s{};
      s.rounds = start->rounds;
      HlcTimestamp previous{};
      for (std::uint32_t i = 0; i < start->rounds; ++i) {
        const std::int64_t x = 3 * static_cast<std::int64_t>(i) - 7;
        const DeliveryReceipt r = ctx.send_to_kernel("math.square", k2k::SquareRequest{i, x});
        if (i == 0) first_receipt = r;
        if (r.is_success() && r.hops == 2 && r.source == "client" && r.destination == "math.square" &&
            r.delivered_to == "squarer" && r.trace == expected_path)
          ++s.good_receipts;
        if (!(previous < r.timestamp)) ++s.late_timestamps;
        previous = r.timestamp;
        // Only the squarer's answer is taken; anything else would stay queued.
        std::optional<k2k::SquareReply> answer;
        const auto give_up = Clock::now() + 5s;
        while (!(answer = ctx.try_receive_from_kernel<k2k::SquareReply>("squarer"))) {
          if (ctx.should_terminate() || Clock::now() > give_up) break;
          std::this_thread::yield();
        }
        if (!answer) break;
        ++s.replies;
        if (answer->seq != i || answer->x != x || answer->square != x * x) ++s.wrong_replies;
        if (ctx.last_source_kernel() != "squarer") ++s.foreign_sources;
        s.sum_of_squares += answer->square;
      }
      const DeliveryReceipt to_auditor = ctx.send_to_kernel("auditor", s);
      if (!to_auditor.is_success()) s.rounds = 0;  // the host's checks catch it
      ctx.send(s);
    }
  };

  KernelHandle squarer = rt.launch("squarer", k2k::Squarer{});
  KernelHandle auditor = rt.launch("auditor", k2k::Auditor{});
  KernelHandle client = rt.launch("client", client_loop);
  broker.add_route("math.square", "squarer");

  std::printf("1. Endpoints and routes\n");
  const std::vector<std::string> endpoints = broker.registered_kernels();
  std::printf("  registered kernels: %s\n", join(endpoints).c_str());
  for (const auto& route : broker.routes()) std::printf("  route: '%s' -> '%s'\n", route.first.c_str(), route.second.c_str());
  check(endpoints == std::vector<std::string>{"squarer", "auditor", "client"},
        "the three kernels are K2K endpoints, in launch order");

  std::printf("2. client -> math.square (route) -> squarer -> client, 100 rounds; client -> auditor -> host\n");
  constexpr std::uint32_t kRounds = 100;
  std::int64_t expected_sum = 0;
  for (std::uint32_t i = 0; i < kRounds; ++i) {
    const std::int64_t x = 3 * static_cast<std::int64_t>(i) - 7;
    expected_sum += x * x;
  }
  client.send(k2k::Start{kRounds});
  const std::optional<k2k::Summary> summary = client.receive<k2k::Summary>(20s);
  const std::optional<k2k::Audit> audit = auditor.receive<k2k::Audit>(5s);
  check(summary.has_value(), "the client reported back");
  if (summary) {
    print_receipt("first receipt:", first_receipt);
    std::printf("  rounds %u, replies %u (wrong %u, from another kernel %u), good receipts %u, "
                "receipts out of HLC order %u, sum of squares %lld\n",
                summary->rounds, summary->replies, summary->wrong_replies, summary->foreign_sources,
                summary->good_receipts, summary->late_timestamps, static_cast<long long>(summary->sum_of_squares));
    check(summary->rounds == kRounds && summary->replies == kRounds && summary->wrong_replies == 0 &&
              summary->sum_of_squares == expected_sum,
          "every request got its own correct answer");
    check(summary->good_receipts == kRounds,
          "every receipt: Delivered, 2 hops, delivered to 'squarer', path client -> math.square -> squarer");
    check(summary->late_timestamps == 0, "receipt HLC timestamps strictly increase");
    check(summary->foreign_sources == 0, "every answer came from 'squarer' (last_source_kernel)");
  }
  check(audit.has_value() && audit->from_client == 1 && summary &&
            audit->summary.sum_of_squares == summary->sum_of_squares && audit->summary.replies == summary->replies,
        "the auditor got the same summary over K2K, from 'client'");

  std::printf("3. The host uses the broker directly\n");
  const DeliveryReceipt host_send = broker.send(
      "host", "math.square", MessageEnvelope::from_message(k2k::SquareRequest{1000, 12}, 0, 0, HlcTimestamp{}));
  print_receipt("host -> math.square:", host_send);
  const std::optional<k2k::SquareReply> host_answer = squarer.receive<k2k::SquareReply>(5s);
  check(host_send.is_success() && host_send.hops == 2 && host_send.delivered_to == "squarer",
        "delivered through the route, 2 hops");
  check(host_answer && host_answer->seq == 1000 && host_answer->square == 144,
        "no source kernel, so the squarer answered the host: 12 squared = 144");

  const DeliveryReceipt no_route = broker.send_message("host", "nobody", k2k::SquareRequest{1, 1});
  print_receipt("host -> nobody:", no_route);
  check(no_route.status == DeliveryStatus::NoRoute && no_route.is_failure(), "an unknown name: NoRoute");

  broker.add_route("loop.a", "loop.b");
  broker.add_route("loop.b", "loop.a");
  const DeliveryReceipt looped = broker.send_message("host", "loop.a", k2k::SquareRequest{2, 2});
  std::printf("  %-22s %-16s after %u hops (max_hops %u)\n", "host -> loop.a:", to_string(looped.status),
              looped.hops, broker.config().max_hops);
  check(looped.status == DeliveryStatus::HopLimitExceeded && looped.hops == broker.config().max_hops,
        "a route loop stops at max_hops: HopLimitExceeded");
  check(broker.remove_route("loop.a") && broker.remove_route("loop.b") && !broker.remove_route("loop.a"),
        "remove_route removes each route once");

  const DeliveryReceipt wrong_type = broker.send_message("host", "auditor", k2k::SquareRequest{3, 3});
  print_receipt("host -> auditor:", wrong_type);
  check(wrong_type.status == DeliveryStatus::Rejected, "a message the auditor's handler does not take: Rejected");

  auditor.terminate();
  const DeliveryReceipt to_terminated = broker.send_message("host", "auditor", k2k::Summary{});
  print_receipt("host -> auditor (off):", to_terminated);
  check(to_terminated.status == DeliveryStatus::NotActive, "a terminated kernel: NotActive");
  check(broker.registered_kernels() == std::vector<std::string>{"squarer", "client"} &&
            !broker.is_registered("auditor"),
        "a terminated kernel is no longer an endpoint");

  std::printf("4. Counters\n");
  // 100 requests + 100 answers + 1 summary + 1 host request delivered; 4 failures above.
  // A sender counts its receipt after the message is in the inbox, so the receiver may be a
  // moment ahead of the counter: wait (briefly) for the counters to settle.
  constexpr std::uint64_t kDelivered = 2 * kRounds + 2, kFailures = 4;
  K2KStats stats = broker.stats();
  for (const auto until = Clock::now() + 2s;
       (stats.messages_delivered != kDelivered || stats.in_flight != 0) && Clock::now() < until;
       stats = broker.stats())
    std::this_thread::sleep_for(1ms);
  print_stats(stats);
  check(stats.messages_delivered == kDelivered && stats.delivery_failures == kFailures,
        "delivered and failed match the receipts: 202 and 4");
  check(stats.registered_endpoints == 2 && stats.routes_configured == 1 && stats.in_flight == 0,
        "2 endpoints, 1 route, nothing left in flight");
  check(squarer.status().errors == 0 && client.status().errors == 0 && squarer.is_active() && client.is_active(),
        "no kernel faulted");

  rt.shutdown();
  std::printf("\n%s\n", failures == 0 ? "kernel_to_kernel: all checks passed" : "kernel_to_kernel: FAILED");
  return failures == 0 ? 0 : 1;
}
