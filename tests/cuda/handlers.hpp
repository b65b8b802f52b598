// Handlers and messages shared by the CUDA suites (cuda_host.cu, cuda_device.cu). Each functor
// is the same type on the CPU and CUDA backends: RINGKERNEL_HD call operators, trivially
// copyable state.
#pragma once

#include <cstdint>

#include "ringkernel.hpp"

namespace rk_cuda_test {

struct Ping {
  std::uint64_t seq;
  std::uint64_t sender;
};
RINGKERNEL_MESSAGE(Ping, 6001)
struct Pong {
  std::uint64_t seq;
  std::uint64_t sender;
  std::uint64_t count;  // messages the kernel had handled including this one
};
RINGKERNEL_MESSAGE(Pong, 6002)
struct Big {
  unsigned char bytes[512];
};
RINGKERNEL_MESSAGE(Big, 6003)

/// Echo with a running count: state that must persist on the device between messages.
struct Echo {
  using input_type = Ping;
  using output_type = Pong;
  std::uint64_t handled = 0;
  RINGKERNEL_HD Pong operator()(const Ping& p) {
    ++handled;
    return Pong{p.seq, p.sender, handled};
  }
};

/// A stateful fold whose result depends on message order: identical outputs on CPU and CUDA
/// show that the device ran the same function in the same order.
struct Mixer {
  using input_type = Ping;
  using output_type = Pong;
  std::uint64_t acc = 0x9E3779B97F4A7C15ull;
  RINGKERNEL_HD Pong operator()(const Ping& p) {
    acc = (acc ^ p.seq) * 0x100000001B3ull + (acc >> 29);
    return Pong{p.seq, p.sender, acc};
  }
};

/// Stateless: every thread of the grid may handle its own message.
struct Square {
  using input_type = Ping;
  using output_type = Pong;
  static constexpr bool ringkernel_parallel = true;
  RINGKERNEL_HD Pong operator()(const Ping& p) const { return Pong{p.seq, p.sender, p.seq * p.seq}; }
};

/// Stage 1 of a device pipeline: Ping -> Ping (seq + 1000).
struct AddThousand {
  using input_type = Ping;
  using output_type = Ping;
  RINGKERNEL_HD Ping operator()(const Ping& p) const { return Ping{p.seq + 1000, p.sender}; }
};

/// Takes a message too large for small max_message_size settings.
struct BigSink {
  using input_type = Big;
  using output_type = void;
  std::uint64_t seen = 0;
  RINGKERNEL_HD void operator()(const Big&) { ++seen; }
};

}  // namespace rk_cuda_test
