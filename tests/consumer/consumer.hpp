// Declarations shared by the consumer_link test's translation units, the way a user's
// project shares a message type between files.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ringkernel.hpp"

namespace consumer {

struct Reading {
  std::uint64_t sensor;
  double value;
};
// Declared in a header included by several TUs: its type-id function is inline (constexpr),
// so this must link without duplicate symbols.
RINGKERNEL_MESSAGE(Reading, 0x5EA5)

// impl.cpp
std::uint32_t checksum_in_impl_tu(const void* data, std::size_t size);
// plain.cpp
int run_plain_checks();
// alone.cpp
int alone_tu_answer();

}  // namespace consumer
