// pub_sub — topic publish/subscribe between kernels, with MQTT 3.1.1 topic filters:
//   1. four subscriber kernels, each with its filter(s):
//        temperatures  sensors/+/temperature           '+' is exactly one level
//        all_sensors   sensors/#                       '#' is the parent level and any depth below
//        kitchen       sensors/kitchen/*  and  sensors/kitchen/temperature
//                                                      '*' is ringkernel's synonym of '+'; two filters
//                                                      matching one publish still deliver it once
//        everything    #                               all but '$' topics (MQTT 4.7.2)
//   2. a host (PubSubBroker::publish_message) and a publisher kernel (ctx.publish) each publish on
//      seven topics, a few times each,
//   3. each subscriber counts what it got, per topic and per sender (host or kernel); the counts are
//      compared with a match table written out by hand from the MQTT rules, not with Topic::matches,
//   4. invalid filters and publishing to a filter are refused with ErrorCode::InvalidTopic,
//   5. PubSubStats add up.
// Exits non-zero if a check fails.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace ps {
constexpr std::uint32_t kTopics = 7;
/// The published topics; a Reading carries its topic's index so a subscriber can count per topic.
const char* const kTopicNames[kTopics] = {
    "sensors/kitchen/temperature",  // 0
    "sensors/kitchen/humidity",     // 1
    "sensors/garage/temperature",   // 2
    "sensors/garage/door/state",    // 3  two levels below sensors/garage
    "sensors",                      // 4  the parent level itself
    "actuators/kitchen/light",      // 5  not a sensor
    "$SYS/broker/load",             // 6  a '$' topic: wildcards at the first level skip it
};

struct Reading {
  std::uint32_t topic;  // index into kTopicNames
  std::uint32_t seq;
  double value;
};
RINGKERNEL_MESSAGE(Reading, 0x50530001)
/// Host -> publisher kernel: publish `rounds` readings on every topic.
struct PublishRounds {
  std::uint32_t rounds;
};
RINGKERNEL_MESSAGE(PublishRounds, 0x50530002)
/// Publisher kernel -> host: how many subscriber deliveries its publishes made.
struct Published {
  std::uint32_t publishes;
  std::uint32_t deliveries;
};
RINGKERNEL_MESSAGE(Published, 0x50530003)
/// Host -> subscriber: report your counts.
struct Report {
  std::uint32_t unused;
};
RINGKERNEL_MESSAGE(Report, 0x50530004)
struct Counts {
  std::uint32_t per_topic[kTopics];
  std::uint32_t from_host;       // publishes with no source kernel
  std::uint32_t from_publisher;  // publishes whose source kernel was "publisher"
  std::uint32_t from_other;      // anything else (should stay 0)
  std::uint32_t out_of_order;    // a reading whose seq was not above the previous one from that sender and topic
};
RINGKERNEL_MESSAGE(Counts, 0x50530005)

/// A subscriber: a loop kernel, since it takes two message types (readings and the host's Report).
void subscriber(ringkernel::KernelContext& ctx) {
  Counts counts{};
  std::int64_t last_seq[2][kTopics];  // per sender (0 host, 1 publisher) and topic
  for (auto& row : last_seq)
    for (auto& s : row) s = -1;
  while (!ctx.should_terminate()) {
    const std::optional<ringkernel::MessageEnvelope> m = ctx.receive_envelope(std::chrono::milliseconds(50));
    if (!m) continue;
    if (m->header().type_id == ringkernel::message_type_id<Report>()) {
      ctx.send(counts);  // correlated with the Report, so the host can call() for it
      continue;
    }
    const Reading r = m->as<Reading>();
    const std::string from = ctx.last_source_kernel();
    int sender = 0;
    if (from.empty()) {
      ++counts.from_host;
    } else if (from == "publisher") {
      ++counts.from_publisher;
      sender = 1;
    } else {
      ++counts.from_other;
    }
    if (r.topic >= kTopics) continue;
    ++counts.per_topic[r.topic];
    if (static_cast<std::int64_t>(r.seq) <= last_seq[sender][r.topic]) ++counts.out_of_order;
    last_seq[sender][r.topic] = r.seq;
  }
}

/// Publishes from inside a kernel with ctx.publish(topic, message).
struct Publisher {
  using input_type = PublishRounds;
  using output_type = Published;
  Published operator()(ringkernel::HandlerContext& ctx, const PublishRounds& job) {
    Published out{0, 0};
    for (std::uint32_t round = 0; round < job.rounds; ++round)
      for (std::uint32_t t = 0; t < kTopics; ++t) {
        out.deliveries += static_cast<std::uint32_t>(
            ctx.publish(ringkernel::Topic(kTopicNames[t]), Reading{t, round, 100.0 + round}));
        ++out.publishes;
      }
    return out;
  }
};
}  // namespace ps

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
  if (!ok) ++failures;
}

struct Subscriber {
  const char* id;
  std::vector<const char*> filters;
  bool expected[ps::kTopics];  // by hand, from MQTT 3.1.1 section 4.7
};
// clang-format off
const Subscriber kSubscribers[] = {
    //                                                                  kit/temp kit/hum gar/temp gar/door sensors actuator $SYS
    {"temperatures", {"sensors/+/temperature"},                         {true,    false,  true,    false,   false,  false,   false}},
    {"all_sensors",  {"sensors/#"},                                     {true,    true,   true,    true,    true,   false,   false}},
    {"kitchen",      {"sensors/kitchen/*", "sensors/kitchen/temperature"}, {true, true,   false,   false,   false,  false,   false}},
    {"everything",   {"#"},                                             {true,    true,   true,    true,    true,   true,    false}},
};
// clang-format on
}  // namespace

int main() {
  using namespace ringkernel;
  using namespace std::chrono_literals;
  std::printf("ringkernel %s pub_sub\n\n", RINGKERNEL_VERSION_STRING);
  Runtime rt = Runtime::builder().backend(Backend::Cpu).build();
  PubSubBroker& broker = rt.pubsub();

  std::printf("1. Subscribers\n");
  std::vector<KernelHandle> subs;
  for (const Subscriber& s : kSubscribers) {
    subs.push_back(rt.launch(s.id, ps::subscriber));
    for (const char* f : s.filters) {
      const Topic filter(f);
      broker.subscribe(filter, s.id);
      std::printf("  %-13s %-30s %s\n", s.id, f, filter.is_filter() ? "(filter)" : "(exact name)");
    }
  }
  KernelHandle publisher = rt.launch("publisher", ps::Publisher{});

  // The hand-written table and the library's matcher must agree.
  bool table_agrees = true;
  for (const Subscriber& s : kSubscribers)
    for (std::uint32_t t = 0; t < ps::kTopics; ++t) {
      bool any = false;
      for (const char* f : s.filters) any = any || Topic(f).matches(ps::kTopicNames[t]);
      if (any != s.expected[t]) {
        std::printf("  %s on %s: Topic::matches says %d, MQTT says %d\n", s.id, ps::kTopicNames[t], any, s.expected[t]);
        table_agrees = false;
      }
    }
  check(table_agrees, "Topic::matches agrees with the MQTT match table for every subscriber and topic");

  std::printf("2. Publishing: the host %u times and the publisher kernel %u times on each of %u topics\n", 5u, 3u,
              ps::kTopics);
  constexpr std::uint32_t kHostRounds = 5, kKernelRounds = 3;
  std::size_t host_deliveries = 0;
  for (std::uint32_t round = 0; round < kHostRounds; ++round)
    for (std::uint32_t t = 0; t < ps::kTopics; ++t)
      host_deliveries += broker.publish_message(Topic(ps::kTopicNames[t]), "host", ps::Reading{t, round, 20.0 + t});
  const ps::Published by_kernel = publisher.call<ps::Published>(ps::PublishRounds{kKernelRounds}, 10s);

  std::size_t matches_per_round = 0;
  std::uint32_t unmatched_topics = 0;
  for (std::uint32_t t = 0; t < ps::kTopics; ++t) {
    std::size_t n = 0;
    for (const Subscriber& s : kSubscribers) n += s.expected[t] ? 1 : 0;
    matches_per_round += n;
    unmatched_topics += n == 0 ? 1 : 0;
  }
  std::printf("  host: %zu deliveries; publisher kernel: %u publishes, %u deliveries\n", host_deliveries,
              by_kernel.publishes, by_kernel.deliveries);
  check(host_deliveries == kHostRounds * matches_per_round, "host publishes reached the expected number of kernels");
  check(by_kernel.publishes == kKernelRounds * ps::kTopics && by_kernel.deliveries == kKernelRounds * matches_per_round,
        "kernel publishes reached the expected number of kernels");

  std::printf("3. What each subscriber got (publishes are already in the inboxes, so Report comes after them)\n");
  std::printf("  %-13s", "");
  for (const char* label : {"kit/temp", "kit/hum", "gar/temp", "gar/door", "sensors", "actuator", "$SYS"})
    std::printf(" %8s  ", label);
  std::printf("  host kernel\n");
  bool counts_right = true, senders_right = true, ordered = true;
  for (std::size_t i = 0; i < subs.size(); ++i) {
    const ps::Counts c = subs[i].call<ps::Counts>(ps::Report{0}, 10s);
    std::uint32_t expected_total = 0;
    std::printf("  %-13s", kSubscribers[i].id);
    for (std::uint32_t t = 0; t < ps::kTopics; ++t) {
      const std::uint32_t want = kSubscribers[i].expected[t] ? kHostRounds + kKernelRounds : 0;
      expected_total += want;
      std::printf(" %8u%s", c.per_topic[t], c.per_topic[t] == want ? "  " : " !");
      counts_right = counts_right && c.per_topic[t] == want;
    }
    std::printf("  %4u %6u\n", c.from_host, c.from_publisher);
    senders_right = senders_right && c.from_other == 0 &&
                    c.from_host == expected_total / (kHostRounds + kKernelRounds) * kHostRounds &&
                    c.from_publisher == expected_total / (kHostRounds + kKernelRounds) * kKernelRounds;
    ordered = ordered && c.out_of_order == 0;
  }
  check(counts_right, "every subscriber got exactly the topics its filters match, once per publish");
  check(senders_right, "source kernel: empty for host publishes, 'publisher' for kernel publishes");
  check(ordered, "per sender and topic, readings arrived in publish order");

  std::printf("4. Invalid filters and names\n");
  for (const char* bad : {"sensors/#/temperature", "sensors/kitch+", "sensors//temperature", ""}) {
    const Result<Topic> parsed = Topic::parse(bad);
    std::printf("  '%s': %s\n", bad, parsed ? "accepted" : parsed.message().c_str());
    check(!parsed && parsed.code() == ErrorCode::InvalidTopic, "refused with InvalidTopic");
  }
  bool refused = false;
  try {
    broker.publish_message(Topic("sensors/+/temperature"), "host", ps::Reading{0, 0, 0.0});
  } catch (const Error& e) {
    std::printf("  publish to a filter: %s\n", e.what());
    refused = e.code() == ErrorCode::InvalidTopic;
  }
  check(refused, "publishing to a filter throws Error(InvalidTopic)");

  std::printf("5. Counters\n");
  const PubSubStats st = broker.stats();
  std::printf("  PubSubStats: subscriptions %zu, published %llu, deliveries %llu, failures %llu, unmatched %llu\n",
              st.subscriptions, static_cast<unsigned long long>(st.messages_published),
              static_cast<unsigned long long>(st.deliveries), static_cast<unsigned long long>(st.delivery_failures),
              static_cast<unsigned long long>(st.unmatched));
  constexpr std::uint32_t kRounds = kHostRounds + kKernelRounds;
  check(st.subscriptions == 5 && st.messages_published == kRounds * ps::kTopics &&
            st.deliveries == kRounds * matches_per_round && st.delivery_failures == 0 &&
            st.unmatched == kRounds * unmatched_topics,
        "5 subscriptions; 56 publishes; deliveries as the table says; no failures; the $SYS publishes unmatched");
  check(broker.unsubscribe_all("kitchen") == 2 && broker.stats().subscriptions == 3,
        "unsubscribe_all removes both of the kitchen's subscriptions");
  check(broker.publish_message(Topic("sensors/kitchen/humidity"), "host", ps::Reading{1, 99, 0.0}) == 2,
        "after that, sensors/kitchen/humidity reaches only all_sensors and everything");

  rt.shutdown();
  std::printf("\n%s\n", failures == 0 ? "pub_sub: all checks passed" : "pub_sub: FAILED");
  return failures == 0 ? 0 : 1;
}
