// Conan test_package: one translation unit with the implementation, one kernel, one call.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <chrono>
#include <cstdio>

struct Ping {
  int n;
};
RINGKERNEL_MESSAGE(Ping, 0x7E57)

struct Echo {
  using input_type = Ping;
  using output_type = Ping;
  RINGKERNEL_HD Ping operator()(const Ping& p) { return Ping{p.n + 1}; }
};

int main() {
  auto rt = ringkernel::Runtime::builder().backend(ringkernel::Backend::Cpu).build();
  auto k = rt.launch("echo", Echo{});
  const Ping reply = k.call<Ping>(Ping{41}, std::chrono::seconds(10));
  std::printf("ringkernel %s test_package: %s\n", RINGKERNEL_VERSION_STRING, reply.n == 42 ? "ok" : "FAIL");
  return reply.n == 42 ? 0 : 1;
}
