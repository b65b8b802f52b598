// Messages: ids, crc32c, MessageHeader, MessageEnvelope (round trips and rejection of every
// corruption), typed messages (RINGKERNEL_MESSAGE), Result.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ringkernel.hpp"
#include "test_support.hpp"

using ringkernel::CorrelationId;
using ringkernel::ErrorCode;
using ringkernel::HlcTimestamp;
using ringkernel::MessageEnvelope;
using ringkernel::MessageHeader;
using ringkernel::MessageId;
using ringkernel::Priority;
using ringkernel::Result;
using rk_test::error_code_of;

namespace rk_msg_test {
struct Ping {
  std::uint64_t seq;
  double value;
  std::uint32_t tag;
  std::uint32_t pad;  // explicit, so that no indeterminate padding bytes travel
};
RINGKERNEL_MESSAGE(Ping, 0x1001)

struct Pong {
  std::uint64_t seq;
};
RINGKERNEL_MESSAGE(Pong, 0x1002)

struct SameSizeAsPong {  // same size, different type id
  std::uint64_t other;
};
RINGKERNEL_MESSAGE(SameSizeAsPong, 0x1003)

struct NotDeclared {
  int x;
};
}  // namespace rk_msg_test

// A message declared in the global namespace is found too (argument-dependent lookup through
// MessageTag<T>).
struct GlobalMsg {
  std::int32_t a, b;
};
RINGKERNEL_MESSAGE(GlobalMsg, 77)

using rk_msg_test::Ping;
using rk_msg_test::Pong;

namespace {

static_assert(ringkernel::is_message_v<Ping> && ringkernel::is_message_v<Pong> && ringkernel::is_message_v<GlobalMsg>,
              "declared messages");
static_assert(!ringkernel::is_message_v<rk_msg_test::NotDeclared> && !ringkernel::is_message_v<int>,
              "undeclared types are not messages");
static_assert(ringkernel::message_type_id<Ping>() == 0x1001 && ringkernel::message_type_id<Pong>() == 0x1002 &&
                  ringkernel::message_type_id<GlobalMsg>() == 77,
              "type ids");

// ---- header layout (the wire format) -------------------------------------------------------
static_assert(sizeof(MessageHeader) == 256 && MessageHeader::wire_size == 256, "256-byte header");
static_assert(std::is_standard_layout<MessageHeader>::value && std::is_trivially_copyable<MessageHeader>::value,
              "copied as bytes");
static_assert(offsetof(MessageHeader, magic) == 0 && offsetof(MessageHeader, version) == 4 &&
                  offsetof(MessageHeader, priority) == 6 && offsetof(MessageHeader, reserved_a) == 7 &&
                  offsetof(MessageHeader, type_id) == 8 && offsetof(MessageHeader, source_kernel) == 16 &&
                  offsetof(MessageHeader, dest_kernel) == 24 && offsetof(MessageHeader, message_id) == 32 &&
                  offsetof(MessageHeader, correlation_id) == 40 && offsetof(MessageHeader, payload_size) == 48 &&
                  offsetof(MessageHeader, timestamp) == 56 && offsetof(MessageHeader, checksum) == 72 &&
                  offsetof(MessageHeader, reserved_b) == 76 && offsetof(MessageHeader, reserved) == 80,
              "wire offsets");
static_assert(static_cast<int>(Priority::Low) == 64 && static_cast<int>(Priority::Normal) == 128 &&
                  static_cast<int>(Priority::High) == 192 && static_cast<int>(Priority::Critical) == 255,
              "named priorities");

constexpr std::size_t kChecksumOffset = offsetof(MessageHeader, checksum);
constexpr std::size_t kPayloadSizeOffset = offsetof(MessageHeader, payload_size);

// Bitwise CRC-32C reference (reflected polynomial 0x82F63B78), independent of the header's
// table-driven and SSE4.2 paths.
std::uint32_t crc32c_reference(const std::uint8_t* p, std::size_t n, std::uint32_t crc = 0) {
  std::uint32_t c = ~crc;
  for (std::size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) ? 0x82F63B78u : 0u);
  }
  return ~c;
}

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

HlcTimestamp some_time() { return HlcTimestamp{1700000000123456ull, 42, 7}; }

MessageEnvelope make_envelope(std::size_t payload_size, std::uint64_t seed = 1) {
  std::vector<std::uint8_t> payload = random_bytes(payload_size, seed);
  MessageHeader h = MessageHeader::create(0xABCDEF, 3, 4, payload.size(), some_time());
  h.correlation_id = 0x1122334455667788ull;
  h.priority = 200;
  return MessageEnvelope(h, std::move(payload));
}

// Recomputes the checksum of a wire form in place, so that a test of one validation rule is
// not caught by the checksum instead.
void reseal(std::vector<std::uint8_t>& bytes) {
  MessageHeader h;
  std::memcpy(static_cast<void*>(&h), bytes.data(), sizeof h);
  const std::size_t n = bytes.size() - sizeof h;
  h.checksum = h.compute_checksum(bytes.data() + sizeof h, n);
  std::memcpy(bytes.data() + kChecksumOffset, &h.checksum, sizeof h.checksum);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Both parse forms reject the bytes with InvalidMessage: parse() without throwing,
// from_raw_bytes() by throwing ringkernel::Error. The bytes are copied into an allocation of
// exactly `size` bytes, so that a read past the end is caught by AddressSanitizer.
// Returns parse's message (lower case) for checks on the reason.
std::string expect_invalid(const std::uint8_t* data, std::size_t size) {
  std::unique_ptr<std::uint8_t[]> exact(new std::uint8_t[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(exact.get(), data, size);
  std::string why;
  bool parse_ok = true;
  ErrorCode parse_code = ErrorCode::Ok;
  CHECK_NOTHROW({
    Result<MessageEnvelope> r = MessageEnvelope::parse(exact.get(), size);
    parse_ok = r.ok();
    parse_code = r.code();
    why = r.message();
  });
  CHECK_FALSE(parse_ok);
  CHECK(parse_code == ErrorCode::InvalidMessage);
  CHECK_FALSE(why.empty());
  CHECK(error_code_of([&] { (void)MessageEnvelope::from_raw_bytes(exact.get(), size); }) == ErrorCode::InvalidMessage);
  return lower(why);
}
std::string expect_invalid(const std::vector<std::uint8_t>& bytes) {
  CHECK(error_code_of([&] { (void)MessageEnvelope::from_raw_bytes(bytes); }) == ErrorCode::InvalidMessage);
  return expect_invalid(bytes.data(), bytes.size());
}

// Silent version for loops over thousands of corruptions: true when both forms reject with
// InvalidMessage.
bool rejected(const std::vector<std::uint8_t>& bytes) {
  Result<MessageEnvelope> r = MessageEnvelope::parse(bytes.data(), bytes.size());
  if (r.ok() || r.code() != ErrorCode::InvalidMessage) return false;
  return error_code_of([&] { (void)MessageEnvelope::from_raw_bytes(bytes); }) == ErrorCode::InvalidMessage;
}

bool same_header(const MessageHeader& a, const MessageHeader& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST_SUITE("message") {

// ---- ids ----------------------------------------------------------------------------------

TEST_CASE("MessageId and CorrelationId: unique and nonzero from several threads") {
  constexpr int kThreads = 4;
  const std::size_t per_thread = rk_test::scaled(50000);
  std::vector<std::vector<std::uint64_t>> msg(kThreads), corr(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      msg[t].reserve(per_thread);
      corr[t].reserve(per_thread);
      for (std::size_t i = 0; i < per_thread; ++i) {
        msg[t].push_back(MessageId::generate().value);
        corr[t].push_back(CorrelationId::generate().value);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (auto* ids : {&msg, &corr}) {
    std::vector<std::uint64_t> all;
    for (auto& v : *ids) all.insert(all.end(), v.begin(), v.end());
    REQUIRE(all.size() == kThreads * per_thread);
    CHECK(std::count(all.begin(), all.end(), std::uint64_t{0}) == 0);
    std::sort(all.begin(), all.end());
    CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
  }
  CHECK(CorrelationId::none().is_none());
  CHECK(CorrelationId::none().value == 0u);
  CHECK_FALSE(CorrelationId::generate().is_none());
  const MessageId a = MessageId::generate(), b = MessageId::generate();
  CHECK(a != b);
  CHECK(a == a);
}

// ---- crc32c -------------------------------------------------------------------------------

TEST_CASE("crc32c check value and edge cases") {
  const char* check = "123456789";
  CHECK(ringkernel::crc32c(check, 9) == 0xE3069283u);
  CHECK(ringkernel::crc32c(nullptr, 0) == 0u);
  CHECK(ringkernel::crc32c(check, 0) == 0u);
  // RFC 3720 (iSCSI) B.4 test vectors.
  std::uint8_t zeros[32] = {}, ones[32];
  std::memset(ones, 0xFF, sizeof ones);
  std::uint8_t inc[32], dec[32];
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<std::uint8_t>(i);
    dec[i] = static_cast<std::uint8_t>(31 - i);
  }
  CHECK(ringkernel::crc32c(zeros, 32) == 0x8A9136AAu);
  CHECK(ringkernel::crc32c(ones, 32) == 0x62A8AB43u);
  CHECK(ringkernel::crc32c(inc, 32) == 0x46DD794Eu);
  CHECK(ringkernel::crc32c(dec, 32) == 0x113FDB5Cu);
}

TEST_CASE("crc32c matches a bitwise reference at every length and alignment") {
  const std::vector<std::uint8_t> buf = random_bytes(600, 5);
  int errors = 0;
  for (std::size_t offset = 0; offset < 8; ++offset)
    for (std::size_t n = 0; n + offset <= 520; ++n)
      if (ringkernel::crc32c(buf.data() + offset, n) != crc32c_reference(buf.data() + offset, n)) ++errors;
  CHECK(errors == 0);
}

TEST_CASE("incremental crc32c equals one-shot") {
  const std::vector<std::uint8_t> buf = random_bytes(300, 6);
  const std::uint32_t whole = ringkernel::crc32c(buf.data(), buf.size());
  CHECK(whole == crc32c_reference(buf.data(), buf.size()));
  int errors = 0;
  for (std::size_t split = 0; split <= buf.size(); ++split) {
    const std::uint32_t first = ringkernel::crc32c(buf.data(), split);
    if (ringkernel::crc32c(buf.data() + split, buf.size() - split, first) != whole) ++errors;
  }
  for (std::size_t a = 0; a <= buf.size(); a += 7)
    for (std::size_t b = a; b <= buf.size(); b += 13) {
      std::uint32_t c = ringkernel::crc32c(buf.data(), a);
      c = ringkernel::crc32c(buf.data() + a, b - a, c);
      c = ringkernel::crc32c(buf.data() + b, buf.size() - b, c);
      if (c != whole) ++errors;
    }
  // Byte by byte.
  std::uint32_t c = 0;
  for (std::uint8_t byte : buf) c = ringkernel::crc32c(&byte, 1, c);
  if (c != whole) ++errors;
  CHECK(errors == 0);
}

// ---- MessageHeader ------------------------------------------------------------------------

TEST_CASE("MessageHeader::create fills every field and a fresh message id") {
  const HlcTimestamp ts = some_time();
  const MessageHeader h = MessageHeader::create(0x55, 10, 20, 123, ts);
  CHECK(h.magic == MessageHeader::magic_value);
  CHECK(h.magic == 0x484D4B52u);
  CHECK(h.version == MessageHeader::current_version);
  CHECK(h.version == 1u);
  CHECK(h.priority == static_cast<std::uint8_t>(Priority::Normal));
  CHECK(h.type_id == 0x55u);
  CHECK(h.source_kernel == 10u);
  CHECK(h.dest_kernel == 20u);
  CHECK(h.payload_size == 123u);
  CHECK(h.timestamp == ts);
  CHECK(h.correlation_id == 0u);
  CHECK(h.message_id != 0u);
  CHECK(h.reserved_a == 0u);
  CHECK(h.reserved_b == 0u);
  CHECK(std::all_of(std::begin(h.reserved), std::end(h.reserved), [](std::uint8_t b) { return b == 0; }));

  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(MessageHeader::create(1, 0, 0, 0, ts).message_id);
  CHECK(std::count(ids.begin(), ids.end(), std::uint64_t{0}) == 0);
  std::sort(ids.begin(), ids.end());
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  CHECK(std::find(ids.begin(), ids.end(), h.message_id) == ids.end());
}

TEST_CASE("compute_checksum is CRC-32C of the header with a zero checksum field, then the payload") {
  const std::vector<std::uint8_t> payload = random_bytes(77, 9);
  MessageHeader h = MessageHeader::create(9, 1, 2, payload.size(), some_time());
  h.checksum = 0xDEADBEEF;  // ignored by the computation
  MessageHeader zeroed = h;
  zeroed.checksum = 0;
  std::vector<std::uint8_t> image(sizeof zeroed);
  std::memcpy(image.data(), &zeroed, sizeof zeroed);
  image.insert(image.end(), payload.begin(), payload.end());
  CHECK(h.compute_checksum(payload.data(), payload.size()) == crc32c_reference(image.data(), image.size()));
  CHECK(h.compute_checksum(nullptr, 0) == crc32c_reference(image.data(), sizeof zeroed));

  MessageEnvelope env(h, payload);
  CHECK(env.header().checksum == crc32c_reference(image.data(), image.size()));
}

// ---- round trips --------------------------------------------------------------------------

TEST_CASE("typed message round trip via RINGKERNEL_MESSAGE, from_message and as<T>") {
  const Ping ping{0x0102030405060708ull, 3.25, 0xCAFEu, 0};
  const HlcTimestamp ts = some_time();
  const MessageEnvelope env = MessageEnvelope::from_message(ping, 5, 6, ts);
  CHECK(env.header().type_id == 0x1001u);
  CHECK(env.header().source_kernel == 5u);
  CHECK(env.header().dest_kernel == 6u);
  CHECK(env.header().payload_size == sizeof(Ping));
  CHECK(env.header().timestamp == ts);
  CHECK(env.header().message_id != 0u);
  CHECK(env.payload().size() == sizeof(Ping));
  CHECK(env.total_size() == 256 + sizeof(Ping));
  CHECK(std::memcmp(env.payload().data(), &ping, sizeof ping) == 0);

  const Ping direct = env.as<Ping>();
  CHECK(direct.seq == ping.seq);
  CHECK(direct.value == ping.value);
  CHECK(direct.tag == ping.tag);

  const std::vector<std::uint8_t> bytes = env.to_bytes();
  REQUIRE(bytes.size() == env.total_size());
  const MessageEnvelope back = MessageEnvelope::from_raw_bytes(bytes);
  CHECK(same_header(back.header(), env.header()));
  const Ping parsed = back.as<Ping>();
  CHECK(parsed.seq == ping.seq);
  CHECK(parsed.value == ping.value);
  CHECK(parsed.tag == ping.tag);

  const MessageEnvelope back2 = MessageEnvelope::from_raw_bytes(bytes.data(), bytes.size());
  CHECK(back2.as<Ping>().seq == ping.seq);

  const MessageEnvelope g = MessageEnvelope::from_message(GlobalMsg{-1, 2}, 0, 0, ts);
  CHECK(g.header().type_id == 77u);
  CHECK(MessageEnvelope::from_raw_bytes(g.to_bytes()).as<GlobalMsg>().a == -1);
}

TEST_CASE("as<T>() with the wrong type throws InvalidMessage") {
  const MessageEnvelope env = MessageEnvelope::from_message(Pong{42}, 1, 2, some_time());
  CHECK(env.as<Pong>().seq == 42u);
  CHECK(error_code_of([&] { (void)env.as<Ping>(); }) == ErrorCode::InvalidMessage);  // other type and size
  CHECK(error_code_of([&] { (void)env.as<rk_msg_test::SameSizeAsPong>(); }) ==
        ErrorCode::InvalidMessage);  // same size, other type id
  CHECK(error_code_of([&] { (void)env.as<GlobalMsg>(); }) == ErrorCode::InvalidMessage);

  // Right type id, wrong size (a raw envelope claiming to be a Ping).
  MessageHeader h = MessageHeader::create(ringkernel::message_type_id<Ping>(), 0, 0, 3, some_time());
  const MessageEnvelope wrong_size(h, std::vector<std::uint8_t>{1, 2, 3});
  CHECK(error_code_of([&] { (void)wrong_size.as<Ping>(); }) == ErrorCode::InvalidMessage);
}

TEST_CASE("raw header + payload round trip, empty to 1 MiB") {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{255},
                        std::size_t{4096}, std::size_t{1} << 20}) {
    CAPTURE(n);
    const std::vector<std::uint8_t> payload = random_bytes(n, n + 3);
    MessageHeader h = MessageHeader::create(42, 1, 2, payload.size(), some_time());
    h.priority = 255;
    h.correlation_id = CorrelationId::generate().value;
    const MessageEnvelope env(h, payload);
    CHECK(env.payload() == payload);
    CHECK(env.total_size() == 256 + n);
    CHECK(env.header().priority == 255u);
    CHECK(env.header().correlation_id == h.correlation_id);
    CHECK(env.header().message_id == h.message_id);

    const std::vector<std::uint8_t> bytes = env.to_bytes();
    REQUIRE(bytes.size() == env.total_size());
    // The wire form is the header's bytes, then the payload.
    CHECK(std::memcmp(bytes.data(), &env.header(), 256) == 0);
    CHECK(std::equal(payload.begin(), payload.end(), bytes.begin() + 256));
    // Little-endian magic: "RKMH".
    CHECK(bytes[0] == 'R');
    CHECK(bytes[1] == 'K');
    CHECK(bytes[2] == 'M');
    CHECK(bytes[3] == 'H');

    const MessageEnvelope a = MessageEnvelope::from_raw_bytes(bytes);
    const MessageEnvelope b = MessageEnvelope::from_raw_bytes(bytes.data(), bytes.size());
    const Result<MessageEnvelope> c = MessageEnvelope::parse(bytes.data(), bytes.size());
    REQUIRE(c.ok());
    for (const MessageEnvelope* e : {&a, &b, &c.value()}) {
      CHECK(same_header(e->header(), env.header()));
      CHECK(e->payload() == payload);
      CHECK(e->to_bytes() == bytes);
    }
  }
}

TEST_CASE("default envelope is valid; write_to checks the room") {
  const MessageEnvelope empty;
  CHECK(empty.total_size() == 256u);
  CHECK(empty.payload().empty());
  CHECK(empty.header().magic == MessageHeader::magic_value);
  const std::vector<std::uint8_t> bytes = empty.to_bytes();
  CHECK(bytes.size() == 256u);
  CHECK(MessageEnvelope::parse(bytes.data(), bytes.size()).ok());

  const MessageEnvelope env = make_envelope(10);
  std::vector<std::uint8_t> out(env.total_size() + 4, 0xEE);
  CHECK_FALSE(env.write_to(out.data(), env.total_size() - 1));
  CHECK_FALSE(env.write_to(nullptr, out.size()));
  REQUIRE(env.write_to(out.data(), out.size()));
  CHECK(std::equal(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(env.total_size()), env.to_bytes().begin()));
  CHECK(out[env.total_size()] == 0xEE);  // nothing written past total_size()
}

TEST_CASE("a copied envelope is an independent deep copy") {
  std::unique_ptr<MessageEnvelope> original(new MessageEnvelope(make_envelope(32)));
  const std::vector<std::uint8_t> bytes = original->to_bytes();
  const MessageEnvelope copy = *original;
  original.reset();
  CHECK(copy.to_bytes() == bytes);
}

// ---- construction errors ------------------------------------------------------------------

TEST_CASE("constructor: payload_size != payload.size() throws InvalidMessage") {
  MessageHeader h = MessageHeader::create(1, 0, 0, 5, some_time());
  CHECK(error_code_of([&] { MessageEnvelope e(h, std::vector<std::uint8_t>(4)); }) == ErrorCode::InvalidMessage);
  CHECK(error_code_of([&] { MessageEnvelope e(h, std::vector<std::uint8_t>(6)); }) == ErrorCode::InvalidMessage);
  CHECK(error_code_of([&] { MessageEnvelope e(h, std::vector<std::uint8_t>()); }) == ErrorCode::InvalidMessage);
  CHECK(error_code_of([&] { MessageEnvelope e(h, std::vector<std::uint8_t>(5)); }) == ErrorCode::Ok);

  MessageHeader bad = h;
  bad.magic = 0;
  CHECK(error_code_of([&] { MessageEnvelope e(bad, std::vector<std::uint8_t>(5)); }) == ErrorCode::InvalidMessage);
  bad = h;
  bad.version = 2;
  CHECK(error_code_of([&] { MessageEnvelope e(bad, std::vector<std::uint8_t>(5)); }) == ErrorCode::InvalidMessage);
  bad = h;
  bad.reserved[100] = 1;
  CHECK(error_code_of([&] { MessageEnvelope e(bad, std::vector<std::uint8_t>(5)); }) == ErrorCode::InvalidMessage);
  bad = h;
  bad.reserved_a = 1;
  CHECK(error_code_of([&] { MessageEnvelope e(bad, std::vector<std::uint8_t>(5)); }) == ErrorCode::InvalidMessage);
  bad = h;
  bad.reserved_b = 1;
  CHECK(error_code_of([&] { MessageEnvelope e(bad, std::vector<std::uint8_t>(5)); }) == ErrorCode::InvalidMessage);

  // A stale checksum in the given header is replaced, not trusted.
  MessageHeader stale = h;
  stale.checksum = 0x12345678;
  const MessageEnvelope ok(stale, std::vector<std::uint8_t>(5, 9));
  CHECK(MessageEnvelope::parse(ok.to_bytes().data(), ok.total_size()).ok());
}

// ---- rejection of corruptions -------------------------------------------------------------

TEST_CASE("truncation at every length is rejected") {
  const MessageEnvelope env = make_envelope(13);
  const std::vector<std::uint8_t> bytes = env.to_bytes();
  REQUIRE(bytes.size() == 256u + 13u);
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    CAPTURE(len);
    const std::string why = expect_invalid(bytes.data(), len);
    if (len < 256)
      CHECK(why.find("truncated") != std::string::npos);
    else
      CHECK(why.find("size") != std::string::npos);
  }
  // Also through the vector overload.
  std::size_t not_rejected = 0;
  for (std::size_t len = 0; len < bytes.size(); ++len)
    if (!rejected(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len))))
      ++not_rejected;
  CHECK(not_rejected == 0u);
  CHECK(expect_invalid(nullptr, 0).find("truncated") != std::string::npos);
  CHECK(MessageEnvelope::parse(nullptr, 300).code() == ErrorCode::InvalidMessage);
}

TEST_CASE("trailing bytes are rejected") {
  const MessageEnvelope env = make_envelope(13);
  std::vector<std::uint8_t> bytes = env.to_bytes();
  bytes.push_back(0);
  CHECK(expect_invalid(bytes).find("size") != std::string::npos);
  bytes.resize(bytes.size() + 100, 0);
  expect_invalid(bytes);
  // Even for an empty payload: 257 bytes.
  std::vector<std::uint8_t> empty = MessageEnvelope().to_bytes();
  empty.push_back(0);
  expect_invalid(empty);
}

TEST_CASE("bad magic is rejected (even with a matching checksum)") {
  const std::vector<std::uint8_t> good = make_envelope(13).to_bytes();
  for (std::size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    std::vector<std::uint8_t> bytes = good;
    bytes[i] ^= 0x20;
    CHECK(expect_invalid(bytes).find("magic") != std::string::npos);
    reseal(bytes);
    CHECK(expect_invalid(bytes).find("magic") != std::string::npos);
  }
  std::vector<std::uint8_t> swapped = good;  // big-endian magic
  std::reverse(swapped.begin(), swapped.begin() + 4);
  reseal(swapped);
  expect_invalid(swapped);
}

TEST_CASE("bad version is rejected (even with a matching checksum)") {
  const std::vector<std::uint8_t> good = make_envelope(13).to_bytes();
  for (std::uint16_t v : {std::uint16_t{0}, std::uint16_t{2}, std::uint16_t{0x100}, std::uint16_t{0xFFFF}}) {
    CAPTURE(v);
    std::vector<std::uint8_t> bytes = good;
    std::memcpy(bytes.data() + offsetof(MessageHeader, version), &v, sizeof v);
    reseal(bytes);
    CHECK(expect_invalid(bytes).find("version") != std::string::npos);
  }
}

TEST_CASE("payload_size that does not match the length is rejected") {
  const std::vector<std::uint8_t> good = make_envelope(13).to_bytes();
  for (std::uint64_t size : {std::uint64_t{0}, std::uint64_t{12}, std::uint64_t{14}, std::uint64_t{1000}}) {
    CAPTURE(size);
    std::vector<std::uint8_t> bytes = good;
    std::memcpy(bytes.data() + kPayloadSizeOffset, &size, sizeof size);
    expect_invalid(bytes);
    reseal(bytes);  // checksum consistent with the changed field: the size check must catch it
    CHECK(expect_invalid(bytes).find("size") != std::string::npos);
  }
}

TEST_CASE("payload_size above max_payload_size is rejected") {
  static_assert(MessageHeader::max_payload_size == RINGKERNEL_MAX_PAYLOAD_SIZE, "limit");
  const std::vector<std::uint8_t> good = make_envelope(13).to_bytes();
  // Header-only buffers with absurd sizes: rejected without overflow or reading past the end.
  for (std::uint64_t size : {MessageHeader::max_payload_size + 1, std::uint64_t{1} << 63,
                             ~std::uint64_t{0}, ~std::uint64_t{0} - 255}) {
    CAPTURE(size);
    std::vector<std::uint8_t> bytes(good.begin(), good.begin() + 256);
    std::memcpy(bytes.data() + kPayloadSizeOffset, &size, sizeof size);
    reseal(bytes);
    CHECK(expect_invalid(bytes).find("exceeds") != std::string::npos);
  }

  // A complete message one byte over the limit, with a correct checksum, is still rejected;
  // one exactly at the limit is accepted.
  {
    std::vector<std::uint8_t> big(256 + MessageHeader::max_payload_size + 1, 0);
    std::copy(good.begin(), good.begin() + 256, big.begin());
    const std::uint64_t size = MessageHeader::max_payload_size + 1;
    std::memcpy(big.data() + kPayloadSizeOffset, &size, sizeof size);
    reseal(big);
    CHECK(expect_invalid(big).find("exceeds") != std::string::npos);
  }
  {
    MessageHeader h = MessageHeader::create(1, 0, 0, MessageHeader::max_payload_size, some_time());
    const MessageEnvelope at_limit(h, std::vector<std::uint8_t>(MessageHeader::max_payload_size, 0x5A));
    const std::vector<std::uint8_t> bytes = at_limit.to_bytes();
    CHECK(MessageEnvelope::parse(bytes.data(), bytes.size()).ok());
  }
  MessageHeader over = MessageHeader::create(1, 0, 0, MessageHeader::max_payload_size + 1, some_time());
  CHECK(error_code_of([&] {
          MessageEnvelope e(over, std::vector<std::uint8_t>(MessageHeader::max_payload_size + 1));
        }) == ErrorCode::InvalidMessage);
}

TEST_CASE("nonzero reserved bytes are rejected (each one, even with a matching checksum)") {
  const std::vector<std::uint8_t> good = make_envelope(13).to_bytes();
  std::vector<std::size_t> positions = {offsetof(MessageHeader, reserved_a)};
  for (std::size_t i = 0; i < 4; ++i) positions.push_back(offsetof(MessageHeader, reserved_b) + i);
  for (std::size_t i = 0; i < 176; ++i) positions.push_back(offsetof(MessageHeader, reserved) + i);
  std::size_t not_rejected = 0, wrong_reason = 0;
  for (std::size_t pos : positions) {
    for (std::uint8_t value : {std::uint8_t{1}, std::uint8_t{0x80}}) {
      std::vector<std::uint8_t> bytes = good;
      bytes[pos] = value;
      reseal(bytes);
      Result<MessageEnvelope> r = MessageEnvelope::parse(bytes.data(), bytes.size());
      if (!rejected(bytes)) ++not_rejected;
      if (lower(r.message()).find("reserved") == std::string::npos) ++wrong_reason;
    }
  }
  CHECK(positions.size() == 181u);
  CHECK(not_rejected == 0u);
  CHECK(wrong_reason == 0u);
}

TEST_CASE("every single-bit flip in the payload is rejected") {
  const std::vector<std::uint8_t> good = make_envelope(13).to_bytes();
  std::size_t not_rejected = 0, wrong_reason = 0;
  for (std::size_t pos = 256; pos < good.size(); ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<std::uint8_t> bytes = good;
      bytes[pos] ^= static_cast<std::uint8_t>(1u << bit);
      if (!rejected(bytes)) ++not_rejected;
      if (lower(MessageEnvelope::parse(bytes.data(), bytes.size()).message()).find("checksum") == std::string::npos)
        ++wrong_reason;
    }
    // And a whole flipped byte.
    std::vector<std::uint8_t> bytes = good;
    bytes[pos] = static_cast<std::uint8_t>(~bytes[pos]);
    if (!rejected(bytes)) ++not_rejected;
  }
  CHECK(not_rejected == 0u);
  CHECK(wrong_reason == 0u);
}

TEST_CASE("every single-bit flip anywhere in the header is rejected") {
  for (std::size_t payload : {std::size_t{0}, std::size_t{13}, sizeof(Ping)}) {
    CAPTURE(payload);
    const std::vector<std::uint8_t> good =
        payload == sizeof(Ping) ? MessageEnvelope::from_message(Ping{1, 2.0, 3, 0}, 1, 2, some_time()).to_bytes()
                                : make_envelope(payload).to_bytes();
    REQUIRE(MessageEnvelope::parse(good.data(), good.size()).ok());
    std::size_t not_rejected = 0;
    for (std::size_t pos = 0; pos < 256; ++pos) {
      for (int bit = 0; bit < 8; ++bit) {
        std::vector<std::uint8_t> bytes = good;
        bytes[pos] ^= static_cast<std::uint8_t>(1u << bit);
        if (!rejected(bytes)) {
          ++not_rejected;
          MESSAGE("flip of bit " << bit << " of header byte " << pos << " was accepted");
        }
      }
      std::vector<std::uint8_t> bytes = good;
      bytes[pos] = static_cast<std::uint8_t>(~bytes[pos]);
      if (!rejected(bytes)) ++not_rejected;
    }
    CHECK(not_rejected == 0u);
  }
}

TEST_CASE("a flipped checksum field, or a checksum of another message, is rejected") {
  const std::vector<std::uint8_t> a = make_envelope(13, 1).to_bytes();
  const std::vector<std::uint8_t> b = make_envelope(13, 2).to_bytes();
  std::vector<std::uint8_t> mixed = a;
  std::copy(b.begin() + kChecksumOffset, b.begin() + kChecksumOffset + 4, mixed.begin() + kChecksumOffset);
  CHECK(expect_invalid(mixed).find("checksum") != std::string::npos);
  std::vector<std::uint8_t> zero = a;
  std::fill(zero.begin() + kChecksumOffset, zero.begin() + kChecksumOffset + 4, 0);
  expect_invalid(zero);
  // Swapping two payload bytes keeps the byte multiset but must change the CRC.
  std::vector<std::uint8_t> swapped = a;
  std::swap(swapped[256], swapped[257]);
  if (swapped != a) expect_invalid(swapped);
}

TEST_CASE("random garbage is rejected without crashing") {
  std::mt19937_64 rng(31337);
  std::size_t accepted = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::uint8_t> bytes = random_bytes(rng() % 600, rng());
    if (bytes.size() >= 8 && i % 2 == 0) {  // plausible start: right magic and version
      const std::uint32_t magic = MessageHeader::magic_value;
      const std::uint16_t version = 1;
      std::memcpy(bytes.data(), &magic, 4);
      std::memcpy(bytes.data() + 4, &version, 2);
    }
    if (MessageEnvelope::parse(bytes.data(), bytes.size()).ok()) ++accepted;
  }
  CHECK(accepted == 0u);
}

// ---- Result -------------------------------------------------------------------------------

TEST_CASE("Result holds a value or an error") {
  Result<int> ok(5);
  CHECK(ok.ok());
  CHECK(static_cast<bool>(ok));
  CHECK(ok.code() == ErrorCode::Ok);
  CHECK(ok.message().empty());
  CHECK(ok.value() == 5);
  Result<int> bad(ErrorCode::InvalidMessage, "no");
  CHECK_FALSE(bad.ok());
  CHECK(bad.code() == ErrorCode::InvalidMessage);
  CHECK(bad.message() == "no");
  CHECK(error_code_of([&] { (void)bad.value(); }) == ErrorCode::InvalidMessage);
  CHECK(error_code_of([&] { (void)std::move(bad).value(); }) == ErrorCode::InvalidMessage);
  const Result<std::string> moved(std::string(100, 'x'));
  CHECK(moved.value().size() == 100u);
}

}  // TEST_SUITE("message")
