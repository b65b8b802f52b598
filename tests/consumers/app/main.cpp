// Usage: consumer_app [EXPECTED_VERSION]
// Launches a kernel on the CPU backend, calls it, and checks the answers and the version the
// build picked up. Prints one line and exits 0 on success, 1 on any failure.
#include <chrono>
#include <cstdio>
#include <cstring>

#include "messages.hpp"
#include "ringkernel.hpp"

#ifndef RINGKERNEL_CONSUMER_VIA
#define RINGKERNEL_CONSUMER_VIA "plain compiler"  // set by each build to say how it found ringkernel
#endif

int main(int argc, char** argv) {
  const char* expected = argc > 1 ? argv[1] : RINGKERNEL_VERSION_STRING;
  if (std::strcmp(expected, RINGKERNEL_VERSION_STRING) != 0 ||
      std::strcmp(app::implementation_tu_version(), RINGKERNEL_VERSION_STRING) != 0) {
    std::printf("consumer (%s): FAIL: version %s, implementation TU %s, expected %s\n", RINGKERNEL_CONSUMER_VIA,
                RINGKERNEL_VERSION_STRING, app::implementation_tu_version(), expected);
    return 1;
  }
  ringkernel::Runtime rt = ringkernel::Runtime::builder().backend(ringkernel::Backend::Cpu).build();
  ringkernel::KernelHandle k =
      rt.launch("squarer", app::Squarer{}, ringkernel::LaunchOptions{}.with_queue_capacity(64));
  std::int64_t sum = 0, calls = 0;
  for (std::int64_t x = 1; x <= 4; ++x) {
    const app::Reply r = k.call<app::Reply>(app::Request{x}, std::chrono::seconds(10));
    sum += r.square;
    calls = r.calls;
  }
  rt.shutdown();
  const bool ok = sum == 1 + 4 + 9 + 16 && calls == 4 && k.status().messages_processed == 4;
  std::printf("consumer (%s): %s, ringkernel %s, sum of squares %lld after %lld calls\n", RINGKERNEL_CONSUMER_VIA,
              ok ? "ok" : "FAIL", RINGKERNEL_VERSION_STRING, static_cast<long long>(sum),
              static_cast<long long>(calls));
  return ok ? 0 : 1;
}
