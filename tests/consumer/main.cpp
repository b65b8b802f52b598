// consumer_link: links three ordinary TUs (main.cpp, plain.cpp, alone.cpp) with one
// implementation TU (impl.cpp) — the way a user's program is put together — and runs a few
// checks in each. Exit status 0 on success.
#include <cstdio>
#include <string>

#include "consumer.hpp"
#include "ringkernel.hpp"

int main() {
  int failures = consumer::run_plain_checks();
  if (consumer::alone_tu_answer() != 42) {
    std::fprintf(stderr, "main.cpp: alone.cpp gave the wrong answer\n");
    ++failures;
  }
  // Declared in consumer.hpp, used from a second TU.
  const consumer::Reading r{1, 2.0};
  const auto env = ringkernel::MessageEnvelope::from_message(r, 0, 0, ringkernel::HlcTimestamp::now(1));
  if (env.header().type_id != ringkernel::message_type_id<consumer::Reading>() ||
      env.header().type_id != 0x5EA5u) {
    std::fprintf(stderr, "main.cpp: wrong type id\n");
    ++failures;
  }
  if (std::string(ringkernel::to_string(ringkernel::ErrorCode::ClockDrift)) != "ClockDrift") {
    std::fprintf(stderr, "main.cpp: to_string\n");
    ++failures;
  }
  if (std::string(RINGKERNEL_VERSION_STRING).empty()) ++failures;
  if (failures != 0) {
    std::fprintf(stderr, "consumer_link: %d check(s) failed\n", failures);
    return 1;
  }
  std::printf("consumer_link: ok\n");
  return 0;
}
