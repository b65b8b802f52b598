// Messaging fabric: topic grammar and matching (a table of filter/name pairs, valid and
// invalid), K2K routing (direct, 3 hops, loops ending at max_hops), a receipt for success and
// for each failure status, per-sender FIFO under 4 concurrent sending kernels, pub/sub fan-out
// and backpressure, and causality (HLC) as a property over random pipelines.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ringkernel.hpp"
#include "test_support.hpp"

using ringkernel::BackpressureStrategy;
using ringkernel::DeliveryReceipt;
using ringkernel::DeliveryStatus;
using ringkernel::ErrorCode;
using ringkernel::HandlerContext;
using ringkernel::HlcTimestamp;
using ringkernel::K2KConfig;
using ringkernel::KernelContext;
using ringkernel::LaunchOptions;
using ringkernel::MessageEnvelope;
using ringkernel::Runtime;
using ringkernel::RuntimeConfig;
using ringkernel::Topic;
using rk_test::error_code_of;
using rk_test::scaled;
using std::chrono::milliseconds;

namespace ringkernel {
static doctest::String toString(DeliveryStatus s) { return to_string(s); }
}  // namespace ringkernel

namespace fabric_test {
struct Token {
  std::uint32_t sender;
  std::uint32_t seq;
};
struct Other {
  double x;
};
struct Hop {  // a message and the timestamp of the message that caused it
  std::uint64_t chain;
  std::uint32_t depth;
  std::uint32_t pad;
  std::uint64_t cause_physical;
  std::uint32_t cause_logical;
  std::uint32_t cause_node;
};
RINGKERNEL_MESSAGE(Token, 0xFAB01)
RINGKERNEL_MESSAGE(Other, 0xFAB02)
RINGKERNEL_MESSAGE(Hop, 0xFAB03)
}  // namespace fabric_test

namespace {
using fabric_test::Hop;
using fabric_test::Other;
using fabric_test::Token;

// A kernel that counts Tokens per sender and checks per-sender order.
struct Sink {
  using input_type = Token;
  using output_type = void;
  struct Shared {
    std::mutex mu;
    std::map<std::uint32_t, std::uint32_t> next;  // sender -> next expected seq
    std::atomic<std::uint64_t> got{0};
    std::atomic<std::uint64_t> out_of_order{0};
  };
  std::shared_ptr<Shared> shared;
  void operator()(HandlerContext&, const Token& t) {
    std::lock_guard<std::mutex> lk(shared->mu);
    auto& n = shared->next[t.sender];
    if (t.seq != n) shared->out_of_order.fetch_add(1);
    n = t.seq + 1;
    shared->got.fetch_add(1);
  }
};

template <class Pred>
bool wait_until(Pred pred, milliseconds limit = milliseconds(10000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

std::atomic<int> host_source_wrong{0};
// Forwards each Token to "collector" over K2K; a host sent it, so it has no source kernel.
struct Forward {
  using input_type = Token;
  using output_type = void;
  void operator()(HandlerContext& ctx, const Token& t) {
    if (!ctx.source_kernel().empty()) host_source_wrong.fetch_add(1);
    ctx.send_to_kernel("collector", t);
  }
};

MessageEnvelope token_env(std::uint32_t sender, std::uint32_t seq) {
  return MessageEnvelope::from_message(Token{sender, seq}, 0, 0, HlcTimestamp{});
}
}  // namespace

TEST_SUITE("fabric") {

TEST_CASE("topics: a matching table of filters and names, MQTT 3.1.1 rules, '*' as '+'") {
  struct Row {
    const char* filter;
    const char* name;
    bool match;
  };
  const Row rows[] = {
      {"sport/tennis/player1", "sport/tennis/player1", true},
      {"sport/tennis/player1", "sport/tennis/player2", false},
      {"sport/tennis/player1/#", "sport/tennis/player1", true},  // '#' matches the parent
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/tennis/player1/#", "sport/tennis", false},
      {"sport/#", "sport", true},
      {"#", "sport/tennis", true},
      {"#", "a", true},
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/tennis/+", "sport/tennis", false},
      {"sport/+", "sport", false},
      {"+/+", "a/b", true},
      {"+/+", "a", false},
      {"+", "a", true},
      {"+", "a/b", false},
      {"+/tennis/#", "sport/tennis/player1", true},
      {"+/tennis/#", "sport/tennis", true},
      {"+/tennis/#", "sport/golf", false},
      {"sensors/*/temperature", "sensors/kitchen/temperature", true},
      {"sensors/*/temperature", "sensors/kitchen/humidity", false},
      {"sensors/*/temperature", "sensors/a/b/temperature", false},
      {"sensors/+/+", "sensors/a/b", true},
      {"a/+/c/#", "a/b/c", true},
      {"a/+/c/#", "a/b/c/d/e", true},
      {"a/+/c/#", "a/b/d", false},
      {"#", "$SYS/uptime", false},           // wildcards first never match '$' topics
      {"+/uptime", "$SYS/uptime", false},
      {"$SYS/#", "$SYS/uptime", true},
      {"$SYS/+", "$SYS/uptime", true},
      {"Sport", "sport", false},             // case-sensitive
      {"a/b", "a/b/c", false},
      {"a/b/c", "a/b", false},
      {"a/#", "a/b/+", false},               // a filter is not a topic name
      {"a/+", "a//b", false},                // invalid names never match
      {"#", "/a", false},
  };
  int n = 0;
  for (const Row& r : rows) {
    CAPTURE(r.filter);
    CAPTURE(r.name);
    const Topic f(r.filter);
    CHECK(f.matches(r.name) == r.match);
    ++n;
  }
  CHECK(n >= 30);
  CHECK(Topic("a/+/c").is_filter());
  CHECK(Topic("a/*").is_filter());
  CHECK(Topic("#").is_filter());
  CHECK_FALSE(Topic("a/b/c").is_filter());
  CHECK(Topic("a/b") == Topic("a/b"));
}

TEST_CASE("topics: invalid filters and names are rejected with InvalidTopic saying why") {
  const char* bad[] = {"", "/", "a/", "/a", "a//b", "a/#/b", "a#", "#a", "a/b#", "a/+b", "+a/b", "a/*x",
                       "sport/tennis#", "##", "a/++/b", "a/b/#/"};
  for (const char* t : bad) {
    CAPTURE(t);
    auto r = Topic::parse(t);
    CHECK_FALSE(r.ok());
    CHECK(r.code() == ErrorCode::InvalidTopic);
    CHECK(r.message().find("topic '") != std::string::npos);
    CHECK(error_code_of([&] { Topic x(t); (void)x; }) == ErrorCode::InvalidTopic);
  }
  CHECK(Topic::parse(std::string("a\0b", 3)).code() == ErrorCode::InvalidTopic);
  CHECK(Topic::parse(std::string(70000, 'x')).code() == ErrorCode::InvalidTopic);
  CHECK(Topic::parse("a/#/b").message().find("last level") != std::string::npos);
  CHECK(Topic::parse("a//b").message().find("empty") != std::string::npos);
  const char* good[] = {"a", "a/b", "a/+/c", "a/#", "#", "+", "*", "$SYS/x", "a b/c d", "ü/ñ"};
  for (const char* t : good) {
    CAPTURE(t);
    CHECK(Topic::parse(t).ok());
  }
}

TEST_CASE("k2k: every launched kernel with K2K enabled is registered until it terminates") {
  Runtime rt = Runtime::builder().backend(ringkernel::Backend::Cpu).build();
  auto shared = std::make_shared<Sink::Shared>();
  auto a = rt.launch("a", Sink{shared});
  auto b = rt.launch("b", Sink{shared}, LaunchOptions{}.with_k2k(false));
  auto c = rt.launch("c", Sink{shared});
  ringkernel::K2KBroker& k2k = rt.k2k_broker();
  CHECK(k2k.registered_kernels() == std::vector<std::string>{"a", "c"});
  CHECK(k2k.is_registered("a"));
  CHECK_FALSE(k2k.is_registered("b"));
  c.terminate();
  CHECK(k2k.registered_kernels() == std::vector<std::string>{"a"});
  CHECK(k2k.stats().registered_endpoints == 1);
  CHECK(error_code_of([&] { k2k.add_route("", "a"); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { k2k.add_route("a", "a"); }) == ErrorCode::InvalidArgument);
  k2k.add_route("svc", "a");
  k2k.add_route("svc", "c");  // replaces
  CHECK(k2k.routes().size() == 1);
  CHECK(k2k.routes()[0].second == "c");
  CHECK(k2k.remove_route("svc"));
  CHECK_FALSE(k2k.remove_route("svc"));
  CHECK(error_code_of([&] {
          Runtime::builder().config([] { RuntimeConfig c; c.k2k.max_hops = 0; return c; }()).build();
        }) == ErrorCode::InvalidArgument);
}

TEST_CASE("k2k: direct delivery, 3-hop routing with trace, and a route loop ending at max_hops") {
  RuntimeConfig cfg;
  cfg.k2k.enable_tracing = true;
  cfg.k2k.max_hops = 4;
  Runtime rt = Runtime::builder().backend(ringkernel::Backend::Cpu).config(cfg).build();
  auto shared = std::make_shared<Sink::Shared>();
  auto dst = rt.launch("dst", Sink{shared});
  ringkernel::K2KBroker& k2k = rt.k2k_broker();

  DeliveryReceipt direct = k2k.send("host", "dst", token_env(1, 0));
  CHECK(direct.status == DeliveryStatus::Delivered);
  CHECK(direct.is_success());
  CHECK_FALSE(direct.is_failure());
  CHECK(direct.hops == 1);
  CHECK(direct.delivered_to == "dst");
  CHECK(direct.trace == std::vector<std::string>{"host", "dst"});
  CHECK(direct.message_id.value != 0);
  CHECK(direct.timestamp != HlcTimestamp{});

  k2k.add_route("front", "middle");
  k2k.add_route("middle", "dst");
  DeliveryReceipt routed = k2k.send("host", "front", token_env(1, 1));
  CHECK(routed.status == DeliveryStatus::Delivered);
  CHECK(routed.hops == 3);
  CHECK(routed.delivered_to == "dst");
  CHECK(routed.trace == std::vector<std::string>{"host", "front", "middle", "dst"});

  k2k.add_route("loop1", "loop2");
  k2k.add_route("loop2", "loop1");
  const auto t0 = std::chrono::steady_clock::now();
  DeliveryReceipt looped = k2k.send("host", "loop1", token_env(1, 2));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  CHECK(looped.status == DeliveryStatus::HopLimitExceeded);
  CHECK(looped.is_failure());
  CHECK(looped.hops == cfg.k2k.max_hops);
  CHECK(looped.trace.size() == cfg.k2k.max_hops + 1);

  CHECK(wait_until([&] { return shared->got.load() == 2; }));
  const ringkernel::K2KStats st = k2k.stats();
  CHECK(st.messages_delivered == 2);
  CHECK(st.delivery_failures == 1);
  CHECK(st.routes_configured == 4);
  CHECK(st.in_flight == 0);
}

TEST_CASE("k2k: a receipt for each failure status") {
  RuntimeConfig cfg;
  cfg.k2k.delivery_timeout_ms = 20;
  cfg.k2k.max_pending_messages = 4;
  Runtime rt = Runtime::builder().backend(ringkernel::Backend::Cpu).config(cfg).build();
  auto shared = std::make_shared<Sink::Shared>();
  ringkernel::K2KBroker& k2k = rt.k2k_broker();

  SUBCASE("NoRoute: unknown name, K2K disabled, or a route to nowhere") {
    rt.launch("hidden", Sink{shared}, LaunchOptions{}.with_k2k(false));
    CHECK(k2k.send("host", "nobody", token_env(0, 0)).status == DeliveryStatus::NoRoute);
    CHECK(k2k.send("host", "hidden", token_env(0, 0)).status == DeliveryStatus::NoRoute);
    k2k.add_route("svc", "ghost");
    CHECK(k2k.send("host", "svc", token_env(0, 0)).status == DeliveryStatus::NoRoute);
  }
  SUBCASE("QueueFull under Reject, Timeout under Block (paused kernels)") {
    auto rej = rt.launch("rej", Sink{shared},
                         LaunchOptions{}.with_queue_capacity(2).with_backpressure(BackpressureStrategy::Reject)
                             .without_auto_activate());
    auto blk = rt.launch("blk", Sink{shared},
                         LaunchOptions{}.with_queue_capacity(2).with_backpressure(BackpressureStrategy::Block)
                             .without_auto_activate());
    for (int i = 0; i < 2; ++i) {
      CHECK(k2k.send("host", "rej", token_env(0, static_cast<std::uint32_t>(i))).status == DeliveryStatus::Delivered);
      CHECK(k2k.send("host", "blk", token_env(0, static_cast<std::uint32_t>(i))).status == DeliveryStatus::Delivered);
    }
    CHECK(k2k.send("host", "rej", token_env(0, 2)).status == DeliveryStatus::QueueFull);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(k2k.send("host", "blk", token_env(0, 2)).status == DeliveryStatus::Timeout);
    CHECK(std::chrono::steady_clock::now() - t0 >= milliseconds(15));
    CHECK(k2k.stats().in_flight == 4);
    rej.activate();
    blk.activate();
    CHECK(wait_until([&] { return shared->got.load() == 4; }));
    CHECK(k2k.stats().in_flight == 0);
  }
  SUBCASE("QueueFull at max_pending_messages K2K messages waiting, host sends unaffected") {
    auto k = rt.launch("k", Sink{shared}, LaunchOptions{}.with_queue_capacity(64).without_auto_activate());
    for (std::uint32_t i = 0; i < 4; ++i) CHECK(k2k.send("host", "k", token_env(0, i)).is_success());
    CHECK(k2k.send("host", "k", token_env(0, 4)).status == DeliveryStatus::QueueFull);
    k.send(Token{9, 0});
    CHECK(k.status().queue_depth == 5);
  }
  SUBCASE("NotActive: terminated or faulted destination") {
    auto gone = rt.launch("gone", Sink{shared});
    gone.terminate();
    DeliveryReceipt r = k2k.send("host", "gone", token_env(0, 0));
    CHECK(r.status == DeliveryStatus::NotActive);
    CHECK(r.delivered_to == "gone");
  }
  SUBCASE("Rejected: wrong message type for a message handler, or a clock far ahead") {
    rt.launch("typed", Sink{shared});
    CHECK(k2k.send("host", "typed", MessageEnvelope::from_message(Other{1.0}, 0, 0, HlcTimestamp{})).status ==
          DeliveryStatus::Rejected);
    HlcTimestamp future = rt.clock().now();
    future.physical += 3600ull * 1000 * 1000;  // an hour ahead, max drift is 60 s
    CHECK(k2k.send("host", "typed", MessageEnvelope::from_message(Token{0, 0}, 0, 0, future)).status ==
          DeliveryStatus::Rejected);
  }
  CHECK(ringkernel::is_pending(DeliveryStatus::Pending));
  CHECK_FALSE(ringkernel::is_failure(DeliveryStatus::Pending));
  CHECK(std::string(ringkernel::to_string(DeliveryStatus::HopLimitExceeded)) == "HopLimitExceeded");
}

TEST_CASE("k2k: per-sender FIFO from 4 sending kernels into one receiver") {
  Runtime rt = Runtime::builder().backend(ringkernel::Backend::Cpu).build();
  auto shared = std::make_shared<Sink::Shared>();
  rt.launch("receiver", Sink{shared}, LaunchOptions{}.with_queue_capacity(256));
  const std::uint32_t per_sender = static_cast<std::uint32_t>(scaled(20000));
  std::atomic<std::uint64_t> failures{0};
  std::vector<ringkernel::KernelHandle> senders;
  for (std::uint32_t s = 0; s < 4; ++s) {
    senders.push_back(rt.launch("sender" + std::to_string(s), [s, per_sender, &failures](KernelContext& ctx) {
      std::uint32_t seq = 0;
      while (seq < per_sender && !ctx.should_terminate()) {
        if (!ctx.send_to_kernel("receiver", Token{s, seq}).is_success()) failures.fetch_add(1);
        ++seq;
      }
      while (!ctx.should_terminate()) std::this_thread::sleep_for(milliseconds(1));
    }));
  }
  CHECK(wait_until([&] { return shared->got.load() == 4ull * per_sender; }, milliseconds(60000)));
  CHECK(failures.load() == 0);
  CHECK(shared->out_of_order.load() == 0);
  CHECK(shared->next.size() == 4);
  for (auto& kv : shared->next) CHECK(kv.second == per_sender);
  rt.shutdown();
}

TEST_CASE("k2k: inside kernels: send_to_kernel, source_kernel, try_receive_from_kernel by sender") {
  Runtime rt = Runtime::builder().backend(ringkernel::Backend::Cpu).build();
  std::atomic<int> from_a{0}, from_b{0}, from_host{0};
  std::atomic<bool> ok_order{true};
  std::atomic<bool> ready{false};
  auto collector = rt.launch("collector", [&](KernelContext& ctx) {
    // Wait until everything is queued, then take b's messages first, then a's, then the host's.
    while (!ready.load() && !ctx.should_terminate()) std::this_thread::sleep_for(milliseconds(1));
    std::uint32_t expect = 0;
    while (auto t = ctx.try_receive_from_kernel<Token>("b")) {
      if (t->sender != 2 || t->seq != expect++) ok_order = false;
      if (ctx.last_source_kernel() != "b") ok_order = false;
      ++from_b;
    }
    expect = 0;
    while (auto t = ctx.try_receive_from_kernel<Token>()) {
      if (t->sender != 1 || t->seq != expect++) ok_order = false;
      ++from_a;
    }
    while (auto t = ctx.receive<Token>(milliseconds(1))) {
      if (t->sender != 0 || !ctx.last_source_kernel().empty()) ok_order = false;
      ++from_host;
    }
    while (!ctx.should_terminate()) std::this_thread::sleep_for(milliseconds(1));
  }, LaunchOptions{}.with_queue_capacity(64));
  auto a = rt.launch("a", Forward{});
  auto b = rt.launch("b", Forward{});
  for (std::uint32_t i = 0; i < 5; ++i) {
    collector.send(Token{0, i});
    a.send(Token{1, i});
    b.send(Token{2, i});
  }
  CHECK(wait_until([&] { return collector.status().queue_depth == 15; }));
  ready = true;
  CHECK(wait_until([&] { return from_host.load() == 5; }));
  CHECK(from_a.load() == 5);
  CHECK(from_b.load() == 5);
  CHECK(ok_order.load());
  CHECK(host_source_wrong.load() == 0);
  CHECK(collector.status().messages_processed == 15);
  rt.shutdown();
}

TEST_CASE("pubsub: fan-out by filter, once per kernel, counts and stats") {
  Runtime rt = Runtime::builder().backend(ringkernel::Backend::Cpu).build();
  ringkernel::PubSubBroker& ps = rt.pubsub();
  auto s_all = std::make_shared<Sink::Shared>();
  auto s_temp = std::make_shared<Sink::Shared>();
  auto s_kitchen = std::make_shared<Sink::Shared>();
  rt.launch("all", Sink{s_all});
  rt.launch("temp", Sink{s_temp});
  rt.launch("kitchen", Sink{s_kitchen});
  ps.subscribe(Topic("sensors/#"), "all");
  ps.subscribe(Topic("sensors/+/temperature"), "all");  // overlaps: still one copy
  ps.subscribe(Topic("sensors/+/temperature"), "temp");
  const auto kid = ps.subscribe(Topic("sensors/kitchen/*"), "kitchen");
  CHECK(error_code_of([&] { ps.subscribe(Topic("x"), "nobody"); }) == ErrorCode::KernelNotFound);
  CHECK(error_code_of([&] { ps.publish_message(Topic("sensors/+"), "host", Token{0, 0}); }) == ErrorCode::InvalidTopic);

  std::uint32_t seq = 0;
  CHECK(ps.publish_message(Topic("sensors/kitchen/temperature"), "host", Token{0, seq++}) == 3);
  CHECK(ps.publish_message(Topic("sensors/garage/temperature"), "host", Token{0, seq++}) == 2);
  CHECK(ps.publish_message(Topic("sensors/kitchen/humidity"), "host", Token{0, seq++}) == 2);
  CHECK(ps.publish_message(Topic("sensors"), "host", Token{0, seq++}) == 1);
  CHECK(ps.publish_message(Topic("other/kitchen/temperature"), "host", Token{0, seq++}) == 0);
  CHECK(ps.unsubscribe(kid));
  CHECK_FALSE(ps.unsubscribe(kid));
  CHECK(ps.publish_message(Topic("sensors/kitchen/humidity"), "host", Token{0, seq++}) == 1);

  CHECK(wait_until([&] { return s_all->got.load() == 5 && s_temp->got.load() == 2 && s_kitchen->got.load() == 2; }));
  const ringkernel::PubSubStats st = ps.stats();
  CHECK(st.subscriptions == 3);
  CHECK(st.messages_published == 6);
  CHECK(st.deliveries == 9);
  CHECK(st.delivery_failures == 0);
  CHECK(st.unmatched == 1);
  CHECK(ps.unsubscribe_all("all") == 2);
  CHECK(ps.subscriptions().size() == 1);
}

TEST_CASE("pubsub: a full subscriber is counted as a failure; others still get the message") {
  RuntimeConfig cfg;
  cfg.pubsub.delivery_timeout = milliseconds(5);
  Runtime rt = Runtime::builder().backend(ringkernel::Backend::Cpu).config(cfg).build();
  auto shared = std::make_shared<Sink::Shared>();
  auto slow = rt.launch("slow", Sink{shared}, LaunchOptions{}.with_queue_capacity(1).without_auto_activate());
  rt.launch("fast", Sink{shared});
  rt.pubsub().subscribe(Topic("t"), "slow");
  rt.pubsub().subscribe(Topic("#"), "fast");
  CHECK(rt.pubsub().publish_message(Topic("t"), "host", Token{0, 0}) == 2);
  CHECK(rt.pubsub().publish_message(Topic("t"), "host", Token{0, 1}) == 1);  // slow's inbox is full
  CHECK(rt.pubsub().stats().delivery_failures == 1);
  slow.activate();
  CHECK(wait_until([&] { return shared->got.load() == 3; }));
}

TEST_CASE("causality: along random K2K pipelines every message is stamped after its cause") {
  // Property: each kernel forwards what it receives; a message's HLC timestamp is greater than
  // the timestamp of the message that caused it, at every hop, across random topologies.
  std::mt19937 rng(20261123);
  const int rounds = static_cast<int>(scaled(12));
  for (int round = 0; round < rounds; ++round) {
    Runtime rt = Runtime::builder().backend(ringkernel::Backend::Cpu).node_id(static_cast<std::uint32_t>(round)).build();
    const int stages = 2 + static_cast<int>(rng() % 4);
    std::vector<int> width(static_cast<std::size_t>(stages));
    for (int& w : width) w = 1 + static_cast<int>(rng() % 3);
    std::atomic<std::uint64_t> violations{0};
    std::atomic<std::uint64_t> arrived{0};
    // Kernel names: s<stage>_<i>. Each forwards to a random kernel of the next stage; the last
    // stage only checks.
    std::vector<std::vector<std::string>> names(static_cast<std::size_t>(stages));
    for (int s = stages - 1; s >= 0; --s) {
      for (int i = 0; i < width[static_cast<std::size_t>(s)]; ++i) {
        const std::string name = "s" + std::to_string(s) + "_" + std::to_string(i);
        names[static_cast<std::size_t>(s)].push_back(name);
        const std::vector<std::string> next = s + 1 < stages ? names[static_cast<std::size_t>(s + 1)]
                                                             : std::vector<std::string>{};
        const std::uint32_t seed = static_cast<std::uint32_t>(rng());
        rt.launch(name, [next, seed, &violations, &arrived](KernelContext& ctx) {
          std::mt19937 local(seed);
          while (!ctx.should_terminate()) {
            auto env = ctx.receive_envelope(milliseconds(5));
            if (!env) continue;
            const Hop h = env->as<Hop>();
            const HlcTimestamp mine = env->header().timestamp;
            const HlcTimestamp cause{h.cause_physical, h.cause_logical, h.cause_node};
            if (!(cause < mine)) violations.fetch_add(1);
            if (next.empty()) {
              arrived.fetch_add(1);
              continue;
            }
            if (local() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(local() % 200));
            Hop out = h;
            out.depth = h.depth + 1;
            out.cause_physical = mine.physical;
            out.cause_logical = mine.logical;
            out.cause_node = mine.node_id;
            if (!ctx.send_to_kernel(next[local() % next.size()], out).is_success()) violations.fetch_add(1000000);
          }
        }, LaunchOptions{}.with_queue_capacity(256));
      }
    }
    const int messages = 50 + static_cast<int>(rng() % 100);
    for (int m = 0; m < messages; ++m) {
      const HlcTimestamp cause = rt.clock().tick();
      Hop h{static_cast<std::uint64_t>(m), 0, 0, cause.physical, cause.logical, cause.node_id};
      const std::string& first = names[0][rng() % names[0].size()];
      CHECK(rt.k2k_broker().send_message("host", first, h).is_success());
    }
    CHECK(wait_until([&] { return arrived.load() == static_cast<std::uint64_t>(messages); }));
    CHECK(violations.load() == 0);
    rt.shutdown();
  }
}

}  // TEST_SUITE
