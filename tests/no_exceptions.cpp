// no_exceptions: ringkernel built with -fno-exceptions -DRINGKERNEL_NO_EXCEPTIONS. Its own
// program (and its own implementation TU: this file), because the configuration selects a
// different inline ABI namespace. Checks the non-throwing forms return their error codes, and
// that a throwing API aborts instead of throwing. Plain checks, exit status 0 on success.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#if defined(__linux__) || defined(__APPLE__)
#include <sys/wait.h>
#include <unistd.h>
#define RK_HAVE_FORK 1
#endif

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#error "no_exceptions.cpp must be compiled with -fno-exceptions"
#endif

namespace {

int failures = 0;

#define EXPECT(cond)                                                                  \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "no_exceptions.cpp:%d: check failed: %s\n", __LINE__, #cond); \
      ++failures;                                                                     \
    }                                                                                 \
  } while (0)

std::uint64_t wall_micros() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

void check_parse() {
  using ringkernel::ErrorCode;
  using ringkernel::MessageEnvelope;
  std::vector<std::uint8_t> payload = {1, 2, 3, 4, 5};
  const auto header = ringkernel::MessageHeader::create(9, 1, 2, payload.size(), ringkernel::HlcTimestamp::now(1));
  const MessageEnvelope env(header, payload);
  const std::vector<std::uint8_t> bytes = env.to_bytes();

  auto good = MessageEnvelope::parse(bytes.data(), bytes.size());
  EXPECT(good.ok());
  EXPECT(good.code() == ErrorCode::Ok);
  EXPECT(good.ok() && good.value().payload() == payload);

  // Truncated, extra byte, flipped payload bit, bad magic: InvalidMessage, no exception.
  auto truncated = MessageEnvelope::parse(bytes.data(), bytes.size() - 1);
  EXPECT(!truncated.ok() && truncated.code() == ErrorCode::InvalidMessage && !truncated.message().empty());
  auto header_only = MessageEnvelope::parse(bytes.data(), 100);
  EXPECT(!header_only.ok() && header_only.code() == ErrorCode::InvalidMessage);
  std::vector<std::uint8_t> longer = bytes;
  longer.push_back(0);
  auto extra = MessageEnvelope::parse(longer.data(), longer.size());
  EXPECT(!extra.ok() && extra.code() == ErrorCode::InvalidMessage);
  std::vector<std::uint8_t> flipped = bytes;
  flipped[bytes.size() - 2] ^= 0x10;
  auto corrupt = MessageEnvelope::parse(flipped.data(), flipped.size());
  EXPECT(!corrupt.ok() && corrupt.code() == ErrorCode::InvalidMessage);
  std::vector<std::uint8_t> magic = bytes;
  magic[0] ^= 0xFF;
  auto bad_magic = MessageEnvelope::parse(magic.data(), magic.size());
  EXPECT(!bad_magic.ok() && bad_magic.code() == ErrorCode::InvalidMessage);
  auto null_data = MessageEnvelope::parse(nullptr, 0);
  EXPECT(!null_data.ok() && null_data.code() == ErrorCode::InvalidMessage);
}

void check_clock() {
  using ringkernel::ErrorCode;
  using ringkernel::HlcTimestamp;
  ringkernel::HlcClock clock(4);
  const HlcTimestamp t0 = clock.tick();
  const HlcTimestamp ahead{wall_micros() + 61ull * 1000000ull, 0, 5};
  auto drift = clock.try_update(ahead);
  EXPECT(!drift.ok());
  EXPECT(drift.code() == ErrorCode::ClockDrift);
  EXPECT(!drift.message().empty());
  const HlcTimestamp t1 = clock.tick();
  EXPECT(t1 > t0);
  EXPECT(t1 < ahead);  // left unchanged by the refused update

  const HlcTimestamp near{wall_micros() + 1000000ull, 7, 5};
  auto merged = clock.try_update(near);
  EXPECT(merged.ok());
  EXPECT(merged.ok() && merged.value() > near && merged.value() > t1);
}

#define RK_STR2(x) #x
#define RK_STR(x) RK_STR2(x)
void check_abi_namespace() {
  // The configuration is encoded in the inline namespace, so that TUs built with and without
  // RINGKERNEL_NO_EXCEPTIONS fail to link together instead of silently breaking the ODR.
  EXPECT(std::strstr(RK_STR(RINGKERNEL_ABI_NAMESPACE), "noexc") != nullptr);
}

void check_rings_and_inbox() {
  ringkernel::SpscRing<int> ring(4);
  EXPECT(ring.try_push(1));
  int out = 0;
  EXPECT(ring.try_pop(out) && out == 1);
  ringkernel::PriorityInbox<int> inbox(1, ringkernel::BackpressureStrategy::Reject);
  EXPECT(inbox.push(1) == ringkernel::EnqueueStatus::Enqueued);
  EXPECT(inbox.push(2) == ringkernel::EnqueueStatus::Full);
}

#if defined(RK_HAVE_FORK)
// Runs `f` in a child process; true when the child died of SIGABRT (a throwing API aborts
// under RINGKERNEL_NO_EXCEPTIONS).
template <class F>
bool aborts(F f) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    f();
    _exit(0);  // reached only if it did not abort
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return false;
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}
#endif

void check_aborts() {
#if defined(RK_HAVE_FORK)
  // A failed Result's value() raises: here that means abort, never UB or a silent value.
  EXPECT(aborts([] {
    auto r = ringkernel::MessageEnvelope::parse(nullptr, 0);
    (void)r.value();
  }));
  // The throwing forms abort too.
  EXPECT(aborts([] {
    const std::uint8_t junk[8] = {};
    (void)ringkernel::MessageEnvelope::from_raw_bytes(junk, sizeof junk);
  }));
  EXPECT(aborts([] { ringkernel::SpscRing<int> bad(3); }));
  // And the control: a valid call in a child exits normally.
  EXPECT(!aborts([] { ringkernel::SpscRing<int> good(4); }));
#endif
}

}  // namespace

int main() {
  check_parse();
  check_clock();
  check_abi_namespace();
  check_rings_and_inbox();
  check_aborts();
  if (failures != 0) {
    std::fprintf(stderr, "no_exceptions: %d check(s) failed\n", failures);
    return 1;
  }
  std::printf("no_exceptions: ok\n");
  return 0;
}
