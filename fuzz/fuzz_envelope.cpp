// fuzz_envelope.cpp — libFuzzer target for MessageEnvelope::parse / from_raw_bytes.
// SPDX-License-Identifier: MIT
//
// Every input is used twice:
//
//  A. As wire bytes. parse() and both from_raw_bytes() overloads must agree (parse succeeds
//     iff neither throws; failures are Error with code InvalidMessage and the same sentence);
//     an accepted input must round-trip byte for byte through to_bytes()/write_to(), have
//     total_size() == size and header().payload_size == payload().size(), and its
//     serialization must parse again to the same bytes.
//
//  B. As a payload. A valid envelope is built around the first min(size, 4096) bytes (header
//     fields also taken from the input), serialized and parsed back (must succeed, same
//     bytes); then ONE bit, chosen deterministically from the input, is flipped, and parse()
//     must reject the result (magic/version/reserved/size checks or the CRC-32C, which
//     detects every single-bit error).
//
// Any violated property calls std::abort(), which libFuzzer reports as a crash.

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace rk = ringkernel;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_envelope: property violated: %s\n", what);
  std::abort();
}

#define FUZZ_CHECK(cond)                        \
  do {                                          \
    if (!(cond)) fail(#cond " (" __FILE__ ")"); \
  } while (0)

// FNV-1a 64: a deterministic, input-wide choice of values for path B.
std::uint64_t fnv1a(const std::uint8_t* data, std::size_t size, std::uint64_t seed) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (std::size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

bool same_bytes(const std::vector<std::uint8_t>& v, const std::uint8_t* data, std::size_t size) {
  return v.size() == size && (size == 0 || std::memcmp(v.data(), data, size) == 0);
}

// Properties of an envelope that parse() accepted from `data`.
void check_accepted(const rk::MessageEnvelope& env, const std::uint8_t* data, std::size_t size) {
  FUZZ_CHECK(env.total_size() == size);
  FUZZ_CHECK(env.header().payload_size == env.payload().size());
  FUZZ_CHECK(env.header().magic == rk::MessageHeader::magic_value);
  FUZZ_CHECK(env.header().version == rk::MessageHeader::current_version);
  FUZZ_CHECK(env.header().payload_size <= rk::MessageHeader::max_payload_size);
  FUZZ_CHECK(env.header().checksum == env.header().compute_checksum(env.payload().data(), env.payload().size()));

  const std::vector<std::uint8_t> out = env.to_bytes();
  FUZZ_CHECK(same_bytes(out, data, size));

  // write_to: refuses a short buffer, fills an exact one identically.
  std::vector<std::uint8_t> buf(size);
  FUZZ_CHECK(!env.write_to(buf.data(), size - 1));
  FUZZ_CHECK(env.write_to(buf.data(), buf.size()));
  FUZZ_CHECK(buf == out);

  rk::Result<rk::MessageEnvelope> again = rk::MessageEnvelope::parse(out.data(), out.size());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again.code() == rk::ErrorCode::Ok);
  FUZZ_CHECK(again.message().empty());
  FUZZ_CHECK(again.value().to_bytes() == out);
}

// Path A: the input as wire bytes.
void fuzz_wire(const std::uint8_t* data, std::size_t size) {
  rk::Result<rk::MessageEnvelope> parsed = rk::MessageEnvelope::parse(data, size);

  bool threw = false;
  std::string thrown_message;
  try {
    rk::MessageEnvelope env = rk::MessageEnvelope::from_raw_bytes(data, size);
    FUZZ_CHECK(parsed.ok());
    check_accepted(env, data, size);
    FUZZ_CHECK(env.to_bytes() == parsed.value().to_bytes());
  } catch (const rk::Error& e) {
    if (e.code() != rk::ErrorCode::InvalidMessage) fail("from_raw_bytes threw an Error whose code is not InvalidMessage");
    threw = true;
    thrown_message = e.what();
  } catch (...) {
    fail("from_raw_bytes threw something other than ringkernel::Error");
  }

  if (threw) {
    FUZZ_CHECK(!parsed.ok());
    FUZZ_CHECK(parsed.code() == rk::ErrorCode::InvalidMessage);
    FUZZ_CHECK(!parsed.message().empty());
    FUZZ_CHECK(parsed.message() == thrown_message);
    // value() on a failed Result raises the stored error.
    try {
      (void)parsed.value();
      fail("Result::value() on a failed parse did not throw");
    } catch (const rk::Error& e) {
      FUZZ_CHECK(e.code() == rk::ErrorCode::InvalidMessage);
      FUZZ_CHECK(thrown_message == e.what());
    }
  } else {
    FUZZ_CHECK(parsed.ok());
    FUZZ_CHECK(parsed.message().empty());
  }

  // The vector overload must decide the same way.
  const std::vector<std::uint8_t> copy(data, data + size);
  try {
    rk::MessageEnvelope env = rk::MessageEnvelope::from_raw_bytes(copy);
    FUZZ_CHECK(!threw);
    FUZZ_CHECK(same_bytes(env.to_bytes(), data, size));
  } catch (const rk::Error& e) {
    if (e.code() != rk::ErrorCode::InvalidMessage) fail("from_raw_bytes(vector) threw a code other than InvalidMessage");
    FUZZ_CHECK(threw);
  } catch (...) {
    fail("from_raw_bytes(vector) threw something other than ringkernel::Error");
  }
}

// Path B: the input as a payload, then a single-bit flip that parse() must reject.
void fuzz_bit_flip(const std::uint8_t* data, std::size_t size) {
  const std::size_t payload_size = size < 4096 ? size : 4096;
  const std::uint64_t h1 = fnv1a(data, size, 1);
  const std::uint64_t h2 = fnv1a(data, size, 2);

  const rk::HlcTimestamp ts{h1 >> 8, static_cast<std::uint32_t>(h2), static_cast<std::uint32_t>(h2 >> 32)};
  rk::MessageHeader header = rk::MessageHeader::create(h2 & 0xFFFF, h1 & 0xFF, (h1 >> 8) & 0xFF, payload_size, ts);
  header.priority = static_cast<std::uint8_t>(h1 >> 56);
  header.correlation_id = (h2 & 1u) != 0 ? 0 : h1;

  std::vector<std::uint8_t> bytes;
  try {
    const rk::MessageEnvelope env(header, std::vector<std::uint8_t>(data, data + payload_size));
    FUZZ_CHECK(env.total_size() == rk::MessageHeader::wire_size + payload_size);
    FUZZ_CHECK(env.payload().size() == payload_size);
    FUZZ_CHECK(payload_size == 0 || std::memcmp(env.payload().data(), data, payload_size) == 0);
    bytes = env.to_bytes();
  } catch (...) {
    fail("MessageEnvelope(header, payload) threw for a valid header");
  }

  rk::Result<rk::MessageEnvelope> ok = rk::MessageEnvelope::parse(bytes.data(), bytes.size());
  FUZZ_CHECK(ok.ok());
  check_accepted(ok.value(), bytes.data(), bytes.size());

  const std::uint64_t bit = fnv1a(data, size, 3) % (bytes.size() * 8);
  bytes[static_cast<std::size_t>(bit / 8)] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  rk::Result<rk::MessageEnvelope> flipped = rk::MessageEnvelope::parse(bytes.data(), bytes.size());
  if (flipped.ok()) {
    std::fprintf(stderr, "fuzz_envelope: flipping bit %llu (byte %llu) of a %zu-byte envelope went undetected\n",
                 static_cast<unsigned long long>(bit), static_cast<unsigned long long>(bit / 8), bytes.size());
    std::abort();
  }
  FUZZ_CHECK(flipped.code() == rk::ErrorCode::InvalidMessage);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_wire(data, size);
  fuzz_bit_flip(data, size);
  return 0;
}
