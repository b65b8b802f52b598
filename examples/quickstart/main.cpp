// quickstart — the core building blocks of ringkernel in one small program:
//   1. a Hybrid Logical Clock on two nodes exchanging timestamps,
//   2. a typed message in a checksummed envelope, to bytes and back, and a corrupted copy rejected,
//   3. an SPSC ring carrying messages between two threads,
//   4. a priority inbox with a backpressure strategy.
// It checks every result and exits non-zero if one is wrong, so it doubles as a smoke test.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <cstdio>
#include <thread>

namespace demo {
/// A request a sensor kernel might receive: trivially copyable, so it travels as raw bytes.
struct Reading {
  std::uint32_t sensor;
  float celsius;
};
RINGKERNEL_MESSAGE(Reading, 0x5EAD)
}  // namespace demo

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
  if (!ok) ++failures;
}
}  // namespace

int main() {
  using namespace ringkernel;
  std::printf("ringkernel %s quickstart\n\n", RINGKERNEL_VERSION_STRING);

  // 1. Hybrid Logical Clocks: node 2 receives a message stamped by node 1 and merges its clock,
  //    so whatever node 2 does next is ordered after what node 1 did.
  std::printf("1. Hybrid Logical Clock\n");
  HlcClock node1(1), node2(2);
  const HlcTimestamp sent = node1.tick();
  const HlcTimestamp received = node2.update(sent);
  const HlcTimestamp after = node2.tick();
  std::printf("  node 1 sends at   {%llu us, %u, node %u}\n", static_cast<unsigned long long>(sent.physical),
              sent.logical, sent.node_id);
  std::printf("  node 2 merges to  {%llu us, %u, node %u}\n", static_cast<unsigned long long>(received.physical),
              received.logical, received.node_id);
  check(sent < received && received < after, "receive is ordered after send, next tick after receive");
  check(HlcTimestamp::unpack(after.pack()) == after, "128-bit pack/unpack round trip");

  // 2. Envelopes: a typed message, checksummed, to bytes and back; one flipped bit is caught.
  std::printf("2. Message envelope\n");
  const auto envelope = MessageEnvelope::from_message(demo::Reading{7, 21.5f}, /*source*/ 1, /*dest*/ 2, node1.tick());
  std::vector<std::uint8_t> wire = envelope.to_bytes();
  const demo::Reading back = MessageEnvelope::from_raw_bytes(wire).as<demo::Reading>();
  std::printf("  %zu bytes on the wire (256-byte header + %zu-byte payload), crc32c 0x%08x\n", wire.size(),
              envelope.payload().size(), static_cast<unsigned>(envelope.header().checksum));
  check(back.sensor == 7 && back.celsius == 21.5f, "typed message survives the round trip");
  wire[MessageHeader::wire_size + 2] ^= 0x10;  // one bit in the payload
  const Result<MessageEnvelope> bad = MessageEnvelope::parse(wire.data(), wire.size());
  std::printf("  corrupted copy: %s\n", bad.message().c_str());
  check(!bad && bad.code() == ErrorCode::InvalidMessage, "a flipped payload bit is rejected");

  // 3. SPSC ring: a producer thread streams readings to this thread through 64 slots.
  std::printf("3. SPSC ring between two threads\n");
  constexpr std::uint32_t kCount = 100000;
  SpscRing<demo::Reading> ring(64);
  std::thread producer([&] {
    for (std::uint32_t i = 0; i < kCount; ++i)
      while (!ring.try_push(demo::Reading{i, static_cast<float>(i)})) std::this_thread::yield();
  });
  std::uint32_t expected = 0;
  bool in_order = true;
  demo::Reading r{};
  while (expected < kCount) {
    if (ring.try_pop(r)) {
      in_order = in_order && r.sensor == expected;
      ++expected;
    } else {
      std::this_thread::yield();
    }
  }
  producer.join();
  std::printf("  %u readings through a %zu-slot ring\n", kCount, ring.capacity());
  check(in_order && ring.empty(), "every reading arrived once, in order");

  // 4. Priority inbox: Critical jumps the queue; under DropOldest a full inbox evicts the
  //    oldest message of the lowest priority, and counts it.
  std::printf("4. Priority inbox with backpressure\n");
  PriorityInbox<int> inbox(3, BackpressureStrategy::DropOldest);
  inbox.push(1, Priority::Low);
  inbox.push(2, Priority::Normal);
  inbox.push(3, Priority::Low);
  const EnqueueStatus st = inbox.push(4, Priority::Critical);  // full: drops 1 (oldest Low)
  std::vector<int> order = inbox.drain();
  std::printf("  served:");
  for (int v : order) std::printf(" %d", v);
  const InboxStats stats = inbox.stats();
  std::printf("   (enqueued %llu, dropped %llu)\n", static_cast<unsigned long long>(stats.enqueued),
              static_cast<unsigned long long>(stats.dropped));
  check(st == EnqueueStatus::EnqueuedDroppedOldest && order == std::vector<int>{4, 2, 3} && stats.dropped == 1,
        "priority order and an exactly counted drop");

  std::printf("\n%s\n", failures == 0 ? "quickstart: all checks passed" : "quickstart: FAILED");
  return failures == 0 ? 0 : 1;
}
