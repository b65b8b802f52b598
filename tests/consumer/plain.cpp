// Includes ringkernel.hpp plainly (no RINGKERNEL_IMPLEMENTATION) and uses the out-of-line API
// (HLC, envelopes, crc32c) and the templates (rings, inbox): every call must resolve to the
// single definition in impl.cpp at link time.
#include <cstdio>
#include <vector>

#include "consumer.hpp"
#include "ringkernel.hpp"

namespace consumer {

#define CONSUMER_EXPECT(cond)                                                     \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "plain.cpp:%d: check failed: %s\n", __LINE__, #cond); \
      ++failures;                                                                \
    }                                                                            \
  } while (0)

int run_plain_checks() {
  int failures = 0;

  ringkernel::HlcClock clock(3);
  const ringkernel::HlcTimestamp a = clock.tick();
  const ringkernel::HlcTimestamp b = clock.tick();
  CONSUMER_EXPECT(b > a);
  CONSUMER_EXPECT(clock.update(b).node_id == 3u);

  const Reading r{7, 21.5};
  const auto env = ringkernel::MessageEnvelope::from_message(r, 1, 2, clock.tick());
  const std::vector<std::uint8_t> bytes = env.to_bytes();
  const auto back = ringkernel::MessageEnvelope::from_raw_bytes(bytes);
  CONSUMER_EXPECT(back.as<Reading>().sensor == 7u);
  CONSUMER_EXPECT(back.as<Reading>().value == 21.5);
  CONSUMER_EXPECT(back.header().type_id == 0x5EA5u);
  std::vector<std::uint8_t> broken = bytes;
  broken.back() ^= 1u;
  CONSUMER_EXPECT(!ringkernel::MessageEnvelope::parse(broken.data(), broken.size()).ok());

  // The same function, compiled in this TU and in the implementation TU, gives the same value.
  CONSUMER_EXPECT(ringkernel::crc32c("123456789", 9) == 0xE3069283u);
  CONSUMER_EXPECT(checksum_in_impl_tu("123456789", 9) == 0xE3069283u);

  ringkernel::SpscRing<Reading> spsc(4);
  ringkernel::MpscRing<int> mpsc(4);
  ringkernel::MpmcRing<int> mpmc(4);
  CONSUMER_EXPECT(spsc.try_push(r));
  CONSUMER_EXPECT(mpsc.try_push(1));
  CONSUMER_EXPECT(mpmc.try_push(2));
  Reading out{};
  int i = 0, j = 0;
  CONSUMER_EXPECT(spsc.try_pop(out) && out.sensor == 7u);
  CONSUMER_EXPECT(mpsc.try_pop(i) && i == 1);
  CONSUMER_EXPECT(mpmc.try_pop(j) && j == 2);

  ringkernel::PriorityInbox<int> inbox(2, ringkernel::BackpressureStrategy::Reject);
  inbox.push(1, ringkernel::Priority::Low);
  inbox.push(2, ringkernel::Priority::High);
  CONSUMER_EXPECT(inbox.push(3) == ringkernel::EnqueueStatus::Full);
  CONSUMER_EXPECT(inbox.drain() == std::vector<int>({2, 1}));

  try {
    ringkernel::SpscRing<int> bad(3);
    ++failures;  // must have thrown
  } catch (const ringkernel::Error& e) {
    CONSUMER_EXPECT(e.code() == ringkernel::ErrorCode::InvalidArgument);
  }
  return failures;
}

}  // namespace consumer
