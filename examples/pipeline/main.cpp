// pipeline — three kernels chained over K2K: parse -> transform -> aggregate.
//   1. three host threads feed text records into the first stage ("parse") with KernelHandle::send,
//   2. each stage hands its result to the next with ctx.send_to_kernel; the last stage ("aggregate")
//      keeps a running total per sender and emits one Result per record, which the host receives
//      with receive<Result>(),
//   3. the inboxes hold only 64 messages, so the stages push back on each other (Block): a stage
//      whose next stage is full waits in send_to_kernel instead of losing messages,
//   4. the host checks that every record came out exactly once, in each sender's order, with the
//      right value and running total, that each stage heard from the stage before it
//      (ctx.source_kernel()), and that the HLC timestamps each stage saw increase along the pipeline.
// Exits non-zero if a check fails.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace stages {
constexpr std::uint32_t kMaxSenders = 8;

struct Record {  // host -> parse: a number as text
  std::uint32_t sender;
  std::uint32_t seq;
  char text[24];
};
RINGKERNEL_MESSAGE(Record, 0x50495001)
struct Parsed {  // parse -> transform
  std::uint32_t sender;
  std::uint32_t seq;
  std::int64_t value;
  ringkernel::HlcTimestamp parsed_at;  // HLC time of the record at the parse stage
};
RINGKERNEL_MESSAGE(Parsed, 0x50495002)
struct Transformed {  // transform -> aggregate
  std::uint32_t sender;
  std::uint32_t seq;
  std::int64_t value;
  ringkernel::HlcTimestamp parsed_at;
  ringkernel::HlcTimestamp transformed_at;
  std::uint32_t from_parse;  // 1 when ctx.source_kernel() was "parse"
};
RINGKERNEL_MESSAGE(Transformed, 0x50495003)
struct Result {  // aggregate -> host
  std::uint32_t sender;
  std::uint32_t seq;
  std::int64_t value;
  std::int64_t running_total;  // of this sender's values so far
  ringkernel::HlcTimestamp parsed_at;
  ringkernel::HlcTimestamp transformed_at;
  ringkernel::HlcTimestamp aggregated_at;
  std::uint32_t sources_ok;  // 1 when transform heard from parse and aggregate from transform
};
RINGKERNEL_MESSAGE(Result, 0x50495004)

// Each stage forwards over K2K; a message the next stage does not take faults this stage
// (the host sees missing results and the fault).
template <class T>
void forward(ringkernel::HandlerContext& ctx, const std::string& next, const T& message) {
  const ringkernel::DeliveryReceipt r = ctx.send_to_kernel(next, message);
  if (!r.is_success())
    throw std::runtime_error(ctx.kernel_id() + ": delivery to '" + next + "' failed: " + ringkernel::to_string(r.status));
}

struct Parse {
  using input_type = Record;
  using output_type = void;
  std::string next = "transform";
  void operator()(ringkernel::HandlerContext& ctx, const Record& r) {
    char* end = nullptr;
    const long long v = std::strtoll(r.text, &end, 10);
    if (end == r.text || *end != '\0') throw std::runtime_error("parse: not a number");
    forward(ctx, next, Parsed{r.sender, r.seq, static_cast<std::int64_t>(v), ctx.timestamp()});
  }
};

struct Transform {
  using input_type = Parsed;
  using output_type = void;
  std::string next = "aggregate";
  void operator()(ringkernel::HandlerContext& ctx, const Parsed& p) {
    forward(ctx, next,
            Transformed{p.sender, p.seq, 3 * p.value + 1, p.parsed_at, ctx.timestamp(),
                        ctx.source_kernel() == "parse" ? 1u : 0u});
  }
};

struct Aggregate {
  using input_type = Transformed;
  using output_type = Result;
  std::int64_t totals[kMaxSenders] = {};
  Result operator()(ringkernel::HandlerContext& ctx, const Transformed& t) {
    if (t.sender >= kMaxSenders) throw std::runtime_error("aggregate: sender out of range");
    totals[t.sender] += t.value;
    const bool from_transform = ctx.source_kernel() == "transform";
    const std::uint32_t sources_ok = t.from_parse == 1 && from_transform ? 1u : 0u;
    return Result{t.sender, t.seq, t.value, totals[t.sender], t.parsed_at, t.transformed_at, ctx.timestamp(), sources_ok};
  }
};

/// What the host computes independently for record `seq` of `sender`.
std::int64_t raw_value(std::uint32_t sender, std::uint32_t seq) {
  return static_cast<std::int64_t>(sender) * 1000000 + static_cast<std::int64_t>(seq) * 7 - 500;
}
std::int64_t transformed_value(std::uint32_t sender, std::uint32_t seq) { return 3 * raw_value(sender, seq) + 1; }
}  // namespace stages

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
  std::printf("ringkernel %s pipeline\n\n", RINGKERNEL_VERSION_STRING);

  RuntimeConfig config;
  config.k2k.delivery_timeout_ms = 10000;  // a busy machine may stall a stage; wait rather than fail
  Runtime rt = Runtime::builder().backend(Backend::Cpu).config(config).build();
  const LaunchOptions small = LaunchOptions{}.with_queue_capacity(64);
  KernelHandle parse = rt.launch("parse", stages::Parse{}, small);
  KernelHandle transform = rt.launch("transform", stages::Transform{}, small);
  KernelHandle aggregate = rt.launch("aggregate", stages::Aggregate{}, small);

  constexpr std::uint32_t kSenders = 3, kPerSender = 2000, kTotal = kSenders * kPerSender;
  static_assert(kSenders <= stages::kMaxSenders, "the aggregate stage tracks at most kMaxSenders senders");
  std::printf("1. %u host threads feed %u records each into 'parse'; the host receives from 'aggregate'\n", kSenders,
              kPerSender);
  const auto start = Clock::now();
  std::vector<std::thread> feeders;
  for (std::uint32_t s = 0; s < kSenders; ++s)
    feeders.emplace_back([&parse, s] {
      for (std::uint32_t i = 0; i < kPerSender; ++i) {
        stages::Record r{s, i, {}};
        std::snprintf(r.text, sizeof r.text, "%lld", static_cast<long long>(stages::raw_value(s, i)));
        parse.send(r);  // Block: waits while the pipeline is full
      }
    });

  std::vector<std::vector<std::uint8_t>> seen(kSenders, std::vector<std::uint8_t>(kPerSender, 0));
  std::uint32_t next_seq[kSenders] = {};
  std::int64_t expected_total[kSenders] = {};
  HlcTimestamp last_parsed[kSenders] = {};
  std::uint32_t received = 0, duplicates = 0, out_of_order = 0, bad_values = 0, bad_totals = 0, bad_sources = 0,
                hlc_not_rising = 0, hlc_not_rising_per_sender = 0, bad_sender = 0;
  while (received < kTotal) {
    const std::optional<stages::Result> r = aggregate.receive<stages::Result>(10s);
    if (!r) break;
    ++received;
    if (r->sender >= kSenders || r->seq >= kPerSender) {
      ++bad_sender;
      continue;
    }
    if (seen[r->sender][r->seq]++ != 0) ++duplicates;
    if (r->seq != next_seq[r->sender]) ++out_of_order;
    next_seq[r->sender] = r->seq + 1;
    if (r->value != stages::transformed_value(r->sender, r->seq)) ++bad_values;
    expected_total[r->sender] += stages::transformed_value(r->sender, r->seq);
    if (r->running_total != expected_total[r->sender]) ++bad_totals;
    if (r->sources_ok != 1) ++bad_sources;
    if (!(r->parsed_at < r->transformed_at && r->transformed_at < r->aggregated_at)) ++hlc_not_rising;
    if (!(last_parsed[r->sender] < r->parsed_at)) ++hlc_not_rising_per_sender;
    last_parsed[r->sender] = r->parsed_at;
  }
  for (std::thread& f : feeders) f.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::uint32_t missing = 0;
  for (const auto& per_sender : seen)
    for (std::uint8_t n : per_sender) missing += n == 0 ? 1 : 0;

  std::printf("  %u results in %.3f s (%.0f records/s through 3 stages)\n", received, seconds, received / seconds);
  std::printf("  missing %u, duplicates %u, out of sender order %u, wrong values %u, wrong totals %u, "
              "wrong sources %u, HLC not rising along the pipeline %u / within a sender %u\n",
              missing, duplicates, out_of_order, bad_values, bad_totals, bad_sources, hlc_not_rising,
              hlc_not_rising_per_sender);
  check(received == kTotal && missing == 0 && duplicates == 0 && bad_sender == 0, "every record arrived exactly once");
  check(out_of_order == 0, "each sender's records arrived in the order it sent them");
  check(bad_values == 0 && bad_totals == 0, "values and per-sender running totals are right");
  check(bad_sources == 0, "transform heard only from 'parse', aggregate only from 'transform' (ctx.source_kernel)");
  check(hlc_not_rising == 0, "HLC: parse < transform < aggregate for every record");
  check(hlc_not_rising_per_sender == 0, "HLC: each sender's records were parsed at increasing times");

  std::printf("2. Counters\n");
  // A stage counts its message processed, and its receipt delivered, just after the next stage
  // got the message, so the host can see the last result a moment before the counters: wait
  // (briefly) for them to settle.
  auto settled = [&] {
    for (const KernelHandle* k : {&parse, &transform, &aggregate})
      if (k->status().messages_processed != kTotal) return false;
    return rt.k2k_broker().stats().messages_delivered == 2u * kTotal;
  };
  for (const auto until = Clock::now() + 2s; !settled() && Clock::now() < until;) std::this_thread::sleep_for(1ms);
  const K2KStats k2k = rt.k2k_broker().stats();
  std::printf("  K2KStats: delivered %llu, failures %llu, in flight %llu\n",
              static_cast<unsigned long long>(k2k.messages_delivered),
              static_cast<unsigned long long>(k2k.delivery_failures), static_cast<unsigned long long>(k2k.in_flight));
  for (const KernelHandle* k : {&parse, &transform, &aggregate}) {
    const KernelStatus s = k->status();
    std::printf("  %-10s %-7s received %llu, processed %llu, errors %llu, max latency %.1f us\n", s.id.c_str(),
                to_string(s.state), static_cast<unsigned long long>(s.messages_received),
                static_cast<unsigned long long>(s.messages_processed), static_cast<unsigned long long>(s.errors),
                static_cast<double>(s.max_latency_ns) / 1000.0);
  }
  check(k2k.messages_delivered == 2u * kTotal && k2k.delivery_failures == 0 && k2k.in_flight == 0,
        "K2K: two hops per record, no failures, nothing in flight");
  bool all_processed = true;
  for (const KernelHandle* k : {&parse, &transform, &aggregate}) {
    const KernelStatus s = k->status();
    all_processed = all_processed && s.state == KernelState::Active && s.errors == 0 &&
                    s.messages_received == kTotal && s.messages_processed == kTotal;
  }
  check(all_processed, "each stage received and processed every record, no faults");

  rt.shutdown();
  std::printf("\n%s\n", failures == 0 ? "pipeline: all checks passed" : "pipeline: FAILED");
  return failures == 0 ? 0 : 1;
}
