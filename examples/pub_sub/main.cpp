// pub_sub — topic publish/subscribe between kernels, with MQTT-style filters:
//   1. three subscriber kernels: "all" on `sensors/#`, "temperatures" on `sensors/+/temperature`,
//      "kitchen" on `sensors/kitchen/*` (`*` is a synonym of `+`),
//   2. the host publishes readings on several topics, and a "thermostat" kernel publishes from
//      inside its handler with ctx.publish(); publish() returns how many kernels got each one,
//   3. each subscriber counts what it got; the counts follow the filter rules exactly,
//   4. a filter cannot be published to, and a malformed topic is refused, with InvalidTopic.
// Exits non-zero if a check fails.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <tuple>

namespace pubsub_demo {
struct Reading {
  std::uint32_t room;  // 0 kitchen, 1 garage
  std::uint32_t kind;  // 0 temperature, 1 humidity
  float value;
};
RINGKERNEL_MESSAGE(Reading, 0xB0)

/// Counts what it receives; the count lives in a shared atomic so the host can read it.
struct Counter {
  using input_type = Reading;
  using output_type = void;
  std::shared_ptr<std::atomic<int>> got;
  void operator()(const Reading&) { got->fetch_add(1); }
};
/// Republishes kitchen temperatures above 25 degrees as an alert topic.
struct Thermostat {
  using input_type = Reading;
  using output_type = void;
  void operator()(ringkernel::HandlerContext& ctx, const Reading& r) {
    if (r.value > 25.0f) ctx.publish(ringkernel::Topic("sensors/kitchen/alert"), r);
  }
};
}  // namespace pubsub_demo

namespace {
int failures = 0;
void check(bool ok, const std::string& what) {
  std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what.c_str());
  if (!ok) ++failures;
}
}  // namespace

int main() {
  using namespace ringkernel;
  using pubsub_demo::Reading;
  std::printf("ringkernel %s pub_sub\n\n", RINGKERNEL_VERSION_STRING);
  Runtime rt = Runtime::builder().backend(Backend::Cpu).build();
  auto all = std::make_shared<std::atomic<int>>(0);
  auto temps = std::make_shared<std::atomic<int>>(0);
  auto kitchen = std::make_shared<std::atomic<int>>(0);
  rt.launch("all", pubsub_demo::Counter{all});
  rt.launch("temperatures", pubsub_demo::Counter{temps});
  rt.launch("kitchen", pubsub_demo::Counter{kitchen});
  rt.launch("thermostat", pubsub_demo::Thermostat{});
  PubSubBroker& ps = rt.pubsub();

  std::printf("1. subscriptions\n");
  ps.subscribe(Topic("sensors/#"), "all");
  ps.subscribe(Topic("sensors/+/temperature"), "temperatures");
  ps.subscribe(Topic("sensors/kitchen/*"), "kitchen");
  ps.subscribe(Topic("sensors/kitchen/temperature"), "thermostat");
  for (const auto& s : ps.subscriptions())
    std::printf("  #%llu %-28s -> %s\n", static_cast<unsigned long long>(std::get<0>(s).value),
                std::get<1>(s).str().c_str(), std::get<2>(s).c_str());

  std::printf("\n2. publishing\n");
  struct Pub {
    const char* topic;
    Reading r;
    std::size_t expect;  // kernels that must get it
  } pubs[] = {
      {"sensors/kitchen/temperature", {0, 0, 21.5f}, 4},  // all, temperatures, kitchen, thermostat
      {"sensors/kitchen/temperature", {0, 0, 27.0f}, 4},  // ... and the thermostat raises an alert
      {"sensors/garage/temperature", {1, 0, 12.0f}, 2},   // all, temperatures
      {"sensors/kitchen/humidity", {0, 1, 40.0f}, 2},     // all, kitchen
      {"sensors", {0, 0, 0.0f}, 1},                       // all: '#' matches the parent level
      {"actuators/kitchen/fan", {0, 0, 1.0f}, 0},         // nobody
  };
  for (const Pub& p : pubs) {
    const std::size_t n = ps.publish_message(Topic(p.topic), "host", p.r);
    std::printf("  %-28s -> %zu kernel(s)\n", p.topic, n);
    check(n == p.expect, std::string("published to ") + std::to_string(p.expect) + " kernel(s)");
  }

  // The thermostat's alert (sensors/kitchen/alert) reaches "all" and "kitchen" (not
  // "temperatures"). Wait for everything to be handled.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((all->load() < 6 || kitchen->load() < 4) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // nothing more may arrive

  std::printf("\n3. what each subscriber got\n");
  std::printf("  all %d, temperatures %d, kitchen %d\n", all->load(), temps->load(), kitchen->load());
  check(all->load() == 6, "'sensors/#' got all 5 host readings plus the thermostat's alert");
  check(temps->load() == 3, "'sensors/+/temperature' got the 3 temperatures");
  check(kitchen->load() == 4, "'sensors/kitchen/*' got the 3 kitchen readings plus the alert");

  std::printf("\n4. bad topics\n");
  ErrorCode filter_code = ErrorCode::Ok, bad_code = ErrorCode::Ok;
  try {
    ps.publish_message(Topic("sensors/+/temperature"), "host", Reading{0, 0, 1.0f});
  } catch (const Error& e) {
    filter_code = e.code();
    std::printf("  %s\n", e.what());
  }
  check(filter_code == ErrorCode::InvalidTopic, "publishing to a filter is refused");
  Result<Topic> bad = Topic::parse("sensors/#/temperature");
  bad_code = bad.code();
  std::printf("  %s\n", bad.message().c_str());
  check(bad_code == ErrorCode::InvalidTopic, "'#' in the middle is refused");

  const PubSubStats st = ps.stats();
  std::printf("\nPubSubStats: subscriptions %zu, published %llu, deliveries %llu, failures %llu, unmatched %llu\n",
              st.subscriptions, static_cast<unsigned long long>(st.messages_published),
              static_cast<unsigned long long>(st.deliveries), static_cast<unsigned long long>(st.delivery_failures),
              static_cast<unsigned long long>(st.unmatched));
  check(st.messages_published == 7 && st.deliveries == 15 && st.delivery_failures == 0 && st.unmatched == 1,
        "7 publishes (6 from the host, 1 alert), 15 deliveries, 1 unmatched");
  rt.shutdown();
  std::printf("\n%s\n", failures == 0 ? "pub_sub: all checks passed" : "pub_sub: FAILED");
  return failures == 0 ? 0 : 1;
}
