// fabric_bench — the messaging fabric on the CPU backend:
//   (a) K2K one-hop latency between two kernels: kernel A sends to kernel B with
//       ctx.send_to_kernel(), B answers A the same way. One-way latency is B's receive time minus
//       A's send time (one steady clock, one machine); round trip is measured at A.
//   (b) pipeline throughput: host -> parse -> scale -> aggregate over K2K -> host.
//   (c) pub/sub fan-out: the host publishes on one topic to 1, 8 and 64 subscriber kernels;
//       publishes/s and deliveries/s until every subscriber has handled every message.
// Prints a table and writes JSON (--json PATH). --quick: a short run for the test suite, which
// checks the counts (every message arrived), not the figures. Exit 1 if a check failed.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace fb {
struct Ping {
  std::uint64_t seq;
  std::int64_t sent_ns;
};
RINGKERNEL_MESSAGE(Ping, 0xFB01)
struct Item {
  std::uint64_t seq;
  std::uint64_t value;
};
RINGKERNEL_MESSAGE(Item, 0xFB02)
struct Tick {
  std::uint64_t seq;
};
RINGKERNEL_MESSAGE(Tick, 0xFB03)

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double percentile(std::vector<double> v, double p) {  // linear interpolation between closest ranks
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = p / 100.0 * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}
std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}
int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    std::printf("CHECK FAILED: %s\n", what.c_str());
    ++failures;
  }
}

struct Latency {
  double one_way_p50, one_way_p99, rtt_p50, rtt_p99;
  std::size_t samples;
};
Latency k2k_latency(std::size_t rounds) {
  ringkernel::Runtime rt = ringkernel::Runtime::builder().backend(ringkernel::Backend::Cpu).build();
  auto one_way = std::make_shared<std::vector<double>>();
  auto rtt = std::make_shared<std::vector<double>>();
  std::atomic<bool> done{false};
  rt.launch("b", [one_way](ringkernel::KernelContext& ctx) {
    while (!ctx.should_terminate())
      if (auto p = ctx.receive<Ping>(std::chrono::milliseconds(5))) {
        one_way->push_back(static_cast<double>(now_ns() - p->sent_ns));
        (void)ctx.send_to_kernel("a", *p);
      }
  });
  rt.launch("a", [rounds, rtt, &done](ringkernel::KernelContext& ctx) {
    const std::size_t warm = rounds / 10;
    for (std::size_t i = 0; i < warm + rounds && !ctx.should_terminate(); ++i) {
      const std::int64_t t0 = now_ns();
      if (!ctx.send_to_kernel("b", Ping{i, t0}).is_success()) break;
      std::optional<Ping> back;
      while (!back && !ctx.should_terminate()) back = ctx.receive<Ping>(std::chrono::milliseconds(100));
      if (i >= warm && back) rtt->push_back(static_cast<double>(now_ns() - t0));
    }
    done = true;
    while (!ctx.should_terminate()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  rt.shutdown();
  check(rtt->size() == rounds, "k2k latency: every round trip completed");
  std::vector<double> ow(one_way->begin() + static_cast<std::ptrdiff_t>(std::min(one_way->size(), rounds / 10)), one_way->end());
  return Latency{percentile(ow, 50), percentile(ow, 99), percentile(*rtt, 50), percentile(*rtt, 99), rtt->size()};
}

struct ForwardTo {
  using input_type = Item;
  using output_type = void;
  std::string next;
  std::shared_ptr<std::atomic<std::uint64_t>> lost;
  void operator()(ringkernel::HandlerContext& ctx, const Item& it) {
    if (!ctx.send_to_kernel(next, Item{it.seq, it.value + 1}).is_success()) lost->fetch_add(1);
  }
};
struct Last {
  using input_type = Item;
  using output_type = Item;
  Item operator()(const Item& it) { return Item{it.seq, it.value + 1}; }
};
double pipeline(std::uint64_t n) {
  ringkernel::Runtime rt = ringkernel::Runtime::builder().backend(ringkernel::Backend::Cpu).build();
  auto lost = std::make_shared<std::atomic<std::uint64_t>>(0);
  const auto opts = ringkernel::LaunchOptions{}.with_queue_capacity(1024);
  auto last = rt.launch("aggregate", Last{}, opts);
  rt.launch("scale", ForwardTo{"aggregate", lost}, opts);
  auto first = rt.launch("parse", ForwardTo{"scale", lost}, opts);
  std::atomic<std::uint64_t> got{0}, wrong{0};
  std::thread drain([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      auto it = last.receive<Item>(std::chrono::seconds(10));
      if (!it) break;
      wrong += it->seq != i || it->value != i + 3;
      ++got;
    }
  });
  const std::int64_t t0 = now_ns();
  for (std::uint64_t i = 0; i < n; ++i) first.send(Item{i, i});
  drain.join();
  const double secs = static_cast<double>(now_ns() - t0) / 1e9;
  rt.shutdown();
  check(got == n && wrong == 0 && lost->load() == 0, "pipeline: every item arrived once, in order, right value");
  return static_cast<double>(n) / secs;
}

struct Count {
  using input_type = Tick;
  using output_type = void;
  std::shared_ptr<std::atomic<std::uint64_t>> handled;
  void operator()(const Tick&) { handled->fetch_add(1, std::memory_order_relaxed); }
};
struct Fanout {
  int subscribers;
  std::uint64_t messages;
  double publishes_per_s, deliveries_per_s;
};
Fanout fanout(int subscribers, std::uint64_t messages) {
  ringkernel::RuntimeConfig cfg;
  cfg.pubsub.delivery_timeout = std::chrono::seconds(5);
  ringkernel::Runtime rt = ringkernel::Runtime::builder().backend(ringkernel::Backend::Cpu).config(cfg).build();
  auto handled = std::make_shared<std::atomic<std::uint64_t>>(0);
  for (int s = 0; s < subscribers; ++s) {
    const std::string id = "sub" + std::to_string(s);
    rt.launch(id, Count{handled}, ringkernel::LaunchOptions{}.with_queue_capacity(4096));
    rt.pubsub().subscribe(ringkernel::Topic(s % 2 == 0 ? "bench/+/tick" : "bench/#"), id);
  }
  const ringkernel::Topic topic("bench/a/tick");
  const std::uint64_t expect = messages * static_cast<std::uint64_t>(subscribers);
  std::uint64_t delivered = 0;
  const std::int64_t t0 = now_ns();
  for (std::uint64_t i = 0; i < messages; ++i) delivered += rt.pubsub().publish_message(topic, "host", Tick{i});
  while (handled->load() < delivered) std::this_thread::yield();
  const double secs = static_cast<double>(now_ns() - t0) / 1e9;
  rt.shutdown();
  check(delivered == expect && handled->load() == expect,
        "fan-out " + std::to_string(subscribers) + ": every subscriber handled every message");
  return Fanout{subscribers, messages, static_cast<double>(messages) / secs, static_cast<double>(delivered) / secs};
}
}  // namespace fb

int main(int argc, char** argv) {
  bool quick = false;
  std::string json = "fabric_bench.json";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--json PATH]\n", argv[0]);
      return 2;
    }
  }
  const std::size_t rounds = quick ? 2000 : 20000;
  const std::uint64_t items = quick ? 50000 : 1000000;
  const int reps = quick ? 1 : 3;
  std::printf("ringkernel %s fabric_bench (%s)  cpu: %s  nproc: %u\n\n", RINGKERNEL_VERSION_STRING, quick ? "quick" : "full",
              fb::cpu_model().c_str(), std::thread::hardware_concurrency());

  std::vector<fb::Latency> lat;
  for (int r = 0; r < reps; ++r) lat.push_back(fb::k2k_latency(rounds));
  std::sort(lat.begin(), lat.end(), [](const fb::Latency& a, const fb::Latency& b) { return a.rtt_p50 < b.rtt_p50; });
  const fb::Latency& L = lat[lat.size() / 2];
  std::printf("(a) K2K between two loop kernels, ns (run with the median round-trip p50 of %d; %zu samples)\n", reps, L.samples);
  std::printf("    one hop   p50 %8.0f   p99 %8.0f\n", L.one_way_p50, L.one_way_p99);
  std::printf("    round trip p50 %8.0f   p99 %8.0f\n\n", L.rtt_p50, L.rtt_p99);

  std::vector<double> tput;
  for (int r = 0; r < reps; ++r) tput.push_back(fb::pipeline(items));
  std::sort(tput.begin(), tput.end());
  std::printf("(b) pipeline host -> parse -> scale -> aggregate -> host over K2K, %llu items: %.3f M items/s (median of %d; min %.3f, max %.3f)\n\n",
              static_cast<unsigned long long>(items), tput[tput.size() / 2] / 1e6, reps, tput.front() / 1e6, tput.back() / 1e6);

  std::printf("(c) pub/sub fan-out, one topic, median of %d\n", reps);
  std::printf("    subscribers  messages   publishes/s   deliveries/s\n");
  std::vector<fb::Fanout> fan;
  for (int subs : {1, 8, 64}) {
    const std::uint64_t msgs = (quick ? 2000 : 50000) / static_cast<std::uint64_t>(subs == 64 ? 8 : 1);
    std::vector<fb::Fanout> runs;
    for (int r = 0; r < reps; ++r) runs.push_back(fb::fanout(subs, msgs));
    std::sort(runs.begin(), runs.end(), [](const fb::Fanout& a, const fb::Fanout& b) { return a.deliveries_per_s < b.deliveries_per_s; });
    fan.push_back(runs[runs.size() / 2]);
    std::printf("    %11d  %8llu  %12.0f  %13.0f\n", subs, static_cast<unsigned long long>(msgs), fan.back().publishes_per_s,
                fan.back().deliveries_per_s);
  }

  std::FILE* f = std::fopen(json.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot write %s\n", json.c_str());
    return 2;
  }
  std::fprintf(f, "{\n  \"benchmark\": \"fabric_bench\",\n  \"ringkernel_version\": \"%s\",\n  \"mode\": \"%s\",\n",
               RINGKERNEL_VERSION_STRING, quick ? "quick" : "full");
  std::fprintf(f, "  \"machine\": {\"cpu_model\": \"%s\", \"nproc\": %u},\n", fb::cpu_model().c_str(), std::thread::hardware_concurrency());
  std::fprintf(f, "  \"k2k_latency_ns\": {\"one_hop_p50\": %.0f, \"one_hop_p99\": %.0f, \"round_trip_p50\": %.0f, \"round_trip_p99\": %.0f, \"samples\": %zu},\n",
               L.one_way_p50, L.one_way_p99, L.rtt_p50, L.rtt_p99, L.samples);
  std::fprintf(f, "  \"pipeline_items_per_s\": {\"median\": %.0f, \"min\": %.0f, \"max\": %.0f, \"items\": %llu},\n",
               tput[tput.size() / 2], tput.front(), tput.back(), static_cast<unsigned long long>(items));
  std::fprintf(f, "  \"fanout\": [");
  for (std::size_t i = 0; i < fan.size(); ++i)
    std::fprintf(f, "%s\n    {\"subscribers\": %d, \"messages\": %llu, \"publishes_per_s\": %.0f, \"deliveries_per_s\": %.0f}",
                 i ? "," : "", fan[i].subscribers, static_cast<unsigned long long>(fan[i].messages), fan[i].publishes_per_s,
                 fan[i].deliveries_per_s);
  std::fprintf(f, "\n  ],\n  \"ok\": %s\n}\n", fb::failures == 0 ? "true" : "false");
  std::fclose(f);
  std::printf("\nchecks: %s\njson: %s\n", fb::failures == 0 ? "every message arrived: ok" : "FAILED", json.c_str());
  return fb::failures == 0 ? 0 : 1;
}
