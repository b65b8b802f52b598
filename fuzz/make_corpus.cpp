// make_corpus.cpp — writes the seed corpora of the fuzz targets.
// SPDX-License-Identifier: MIT
//
//     make_corpus OUT_DIR        writes OUT_DIR/{envelope,hlc,topic,scene,baseline}/*
//
// The output is deterministic (fixed timestamps; message ids come from a fresh process's
// counter), so `make_corpus fuzz/corpus` reproduces the committed files byte for byte, and
// fuzz/run.sh warns when they drift apart (e.g. after a wire-format change).

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

namespace rk = ringkernel;
namespace rb = ringkernel::bench;
namespace fs = std::filesystem;

namespace corpus {
struct Ping {
  std::uint64_t seq;
  std::uint32_t flags;
  std::uint32_t spare;
};
RINGKERNEL_MESSAGE(Ping, 1)
}  // namespace corpus

namespace {

using Bytes = std::vector<std::uint8_t>;

// 2026-01-01T00:00:00Z in microseconds since the epoch.
constexpr std::uint64_t kEpoch2026 = 1767225600000000ull;
constexpr std::uint64_t kPhysicalMax = (std::uint64_t{1} << (64 - rk::HlcClock::logical_bits)) - 1;

int g_written = 0;

void write_file(const fs::path& dir, const std::string& name, const Bytes& bytes) {
  const fs::path path = dir / name;
  std::FILE* f = std::fopen(path.string().c_str(), "wb");
  if (f == nullptr || (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) ||
      std::fclose(f) != 0) {
    std::fprintf(stderr, "make_corpus: cannot write %s\n", path.string().c_str());
    std::exit(1);
  }
  ++g_written;
}

Bytes pattern(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + 31 * i);
  return b;
}

Bytes envelope(std::uint64_t type_id, const Bytes& payload, std::uint64_t physical) {
  rk::MessageHeader h =
      rk::MessageHeader::create(type_id, 1, 2, payload.size(), rk::HlcTimestamp{physical, 0, 1});
  return rk::MessageEnvelope(h, payload).to_bytes();
}

void make_envelopes(const fs::path& dir) {
  for (std::size_t n : {0u, 1u, 17u, 300u}) {
    write_file(dir, "valid-payload-" + std::to_string(n) + ".bin",
               envelope(100 + n, pattern(n, static_cast<std::uint8_t>(n)), kEpoch2026 + n));
  }
  write_file(dir, "valid-default.bin", rk::MessageEnvelope().to_bytes());

  {  // a typed message
    const corpus::Ping ping{42, 0x5a5a5a5au, 0};
    write_file(dir, "valid-typed-ping.bin",
               rk::MessageEnvelope::from_message(ping, 3, 4, rk::HlcTimestamp{kEpoch2026, 7, 3}).to_bytes());
  }
  {  // every header field set: priority, correlation, large ids, extreme timestamp
    rk::MessageHeader h = rk::MessageHeader::create(0xFFFFFFFFFFFFFFFFull, 0x0102030405060708ull,
                                                    0x8070605040302010ull, 8,
                                                    rk::HlcTimestamp{kPhysicalMax, 4095, 0xFFFFFFFFu});
    h.priority = static_cast<std::uint8_t>(rk::Priority::Critical);
    h.correlation_id = 0xDEADBEEFCAFEF00Dull;
    write_file(dir, "valid-all-fields.bin", rk::MessageEnvelope(h, pattern(8, 0xF0)).to_bytes());
  }

  const Bytes base = envelope(7, pattern(17, 1), kEpoch2026);
  {  // truncated inside the header and inside the payload
    write_file(dir, "truncated-header.bin", Bytes(base.begin(), base.begin() + 200));
    write_file(dir, "truncated-payload.bin", Bytes(base.begin(), base.end() - 5));
  }
  {  // trailing garbage after a valid message
    Bytes b = base;
    b.push_back(0);
    write_file(dir, "trailing-byte.bin", b);
  }
  {  // each header check once
    Bytes b = base;
    b[0] ^= 0x20;  // 'R' -> 'r'
    write_file(dir, "bad-magic.bin", b);
    b = base;
    b[4] = 2;  // version 2
    write_file(dir, "bad-version.bin", b);
    b = base;
    b[7] = 1;  // reserved_a
    write_file(dir, "bad-reserved.bin", b);
    b = base;
    b[255] = 0x80;  // last reserved byte
    write_file(dir, "bad-reserved-tail.bin", b);
    b = base;
    b[72] ^= 0x01;  // checksum field
    write_file(dir, "bad-checksum.bin", b);
    b = base;
    b[base.size() - 1] ^= 0x40;  // last payload byte
    write_file(dir, "bad-payload-bit.bin", b);
    b = base;
    b[48] = 18;  // payload_size one too big
    write_file(dir, "bad-size.bin", b);
    b = base;
    b[48 + 7] = 0x01;  // payload_size far above the limit
    write_file(dir, "bad-size-huge.bin", b);
  }
  write_file(dir, "empty.bin", Bytes());
}

Bytes ts_bytes(std::initializer_list<rk::HlcTimestamp> ts) {
  Bytes out;
  for (const rk::HlcTimestamp& t : ts) {
    std::uint8_t b[16];
    t.pack().to_bytes(b);
    out.insert(out.end(), b, b + 16);
  }
  return out;
}

void make_hlc(const fs::path& dir) {
  using T = rk::HlcTimestamp;
  write_file(dir, "one-zero.bin", ts_bytes({T{0, 0, 0}}));
  write_file(dir, "one-max.bin", Bytes(16, 0xFF));
  write_file(dir, "one-2026.bin", ts_bytes({T{kEpoch2026, 3, 9}}));
  write_file(dir, "one-top-of-range.bin", ts_bytes({T{kPhysicalMax, 0, 1}}));
  write_file(dir, "one-logical-carry.bin", ts_bytes({T{kEpoch2026, 4095, 2}}));
  write_file(dir, "two-physical-order.bin", ts_bytes({T{kEpoch2026, 9, 9}, T{kEpoch2026 + 1, 0, 0}}));
  write_file(dir, "two-logical-order.bin", ts_bytes({T{kEpoch2026, 1, 9}, T{kEpoch2026, 2, 0}}));
  write_file(dir, "two-node-order.bin", ts_bytes({T{kEpoch2026, 5, 1}, T{kEpoch2026, 5, 2}}));
  write_file(dir, "two-equal.bin", ts_bytes({T{kEpoch2026, 5, 5}, T{kEpoch2026, 5, 5}}));
  write_file(dir, "two-descending.bin", ts_bytes({T{kEpoch2026 + 10, 0, 0}, T{kEpoch2026, 4095, 0xFFFFFFFFu}}));
  write_file(dir, "two-sign-bit.bin",
             ts_bytes({T{0x7FFFFFFFFFFFFFFFull, 0x7FFFFFFFu, 0x7FFFFFFFu}, T{0x8000000000000000ull, 0x80000000u, 0}}));
  write_file(dir, "size-0.bin", Bytes());
  write_file(dir, "size-15.bin", Bytes(15, 0x11));
  write_file(dir, "size-17.bin", Bytes(17, 0x22));
}

}  // namespace

// Topic seeds: FILTER '\n' NAME, covering each wildcard, the '$' rule and invalid filters.
void make_topics(const fs::path& dir) {
  auto text = [](const std::string& t) { return Bytes(t.begin(), t.end()); };
  write_file(dir, "plus.txt", text("sensors/+/temperature\nsensors/kitchen/temperature"));
  write_file(dir, "hash-parent.txt", text("sport/#\nsport"));
  write_file(dir, "dollar.txt", text("#\n$SYS/uptime"));
  write_file(dir, "star.txt", text("a/*/c\na/b/c"));
  write_file(dir, "empty-level.txt", text("a//b\na/b"));
  write_file(dir, "hash-middle.txt", text("a/#/b\na/x/b"));
  write_file(dir, "plain.txt", text("plain/topic\nplain/topic"));
  write_file(dir, "short.txt", text("+/+\na"));
}

// WaveSim scene seeds: every keyword, both boundaries, each source kind, and typical mistakes.
void make_scenes(const fs::path& dir) {
  auto text = [](const std::string& t) { return Bytes(t.begin(), t.end()); };
  write_file(dir, "double-slit.txt",
             text("grid 64 64\nspacing 0.01\nspeed 343\ncourant 0.5\nboundary absorbing 8\n"
                  "wall 24 0 26 28\nwall 24 30 26 34\nwall 24 36 26 64\nsource sine 12 32 2000 1\n"));
  write_file(dir, "closed-box.txt", text("# a closed box\r\ngrid 16 12\nboundary reflecting\ndt 1e-5\nsource impulse 8 6 1 1.5\n"));
  write_file(dir, "absorber-point.txt", text("grid 32 32\nboundary absorbing 4\nabsorber 20 4 28 28 0.5\nsource point 8 16 3000 -2\n"));
  write_file(dir, "cfl-violation.txt", text("grid 16 16\ncourant 0.75\n"));
  write_file(dir, "nyquist.txt", text("grid 16 16\nboundary reflecting\nsource sine 4 4 40000 1\n"));
  write_file(dir, "bad-args.txt", text("grid 16\nwall 1 2 3\n"));
  write_file(dir, "bad-number.txt", text("speed 1e400\nspacing nan\n"));
  write_file(dir, "source-in-wall.txt", text("grid 16 16\nboundary reflecting\nwall 2 2 8 8\nsource sine 4 4 1000 1\n"));
}

// Baseline files (bench::Baseline JSON): valid ones from the writer itself, and one of each
// kind of malformation the reader must reject.
void make_baselines(const fs::path& dir) {
  auto text = [](const std::string& t) { return Bytes(t.begin(), t.end()); };
  rb::Baseline two("v1.0.0");
  two.add(rb::BaselineEntry{"spsc/u64 single/ringkernel", 10000000, 137700000.0, 0.0726, 0.0012, 7});
  two.add(rb::BaselineEntry{"hlc/tick 1 thread", 1000000, 1.25e8, 0.008, 0.0, 1});
  write_file(dir, "valid-two.json", text(two.to_json()));
  write_file(dir, "valid-empty.json", text(rb::Baseline("empty").to_json()));
  rb::Baseline odd("caf\xC3\xA9 \"quoted\"");
  odd.add(rb::BaselineEntry{"tab\tnewline\n\xF0\x9F\x98\x80", 18446744073709551615ull, 1e-300, 1e300, 5e-324, 1});
  write_file(dir, "valid-escapes.json", text(odd.to_json()));
  const std::string head =
      "{\"format\": \"ringkernel-bench-baseline\", \"format_version\": 1, \"version\": \"v\", \"entries\": [";
  const std::string entry =
      "{\"workload_id\": \"w\", \"size\": 10, \"throughput_ops\": 1.5, \"mean_time_secs\": 1, "
      "\"std_dev_secs\": 0, \"samples\": 3}";
  write_file(dir, "bad-trailing-comma.json", text(head + entry + ",]}"));
  write_file(dir, "bad-duplicate-key.json", text("{\"format\": 1, \"format\": 2}"));
  write_file(dir, "bad-duplicate-entry.json", text(head + entry + ", " + entry + "]}"));
  write_file(dir, "bad-unknown-key.json", text(head + "], \"extra\": null}"));
  write_file(dir, "bad-surrogate.json", text("{\"version\": \"\\ud800\"}"));
  write_file(dir, "bad-utf8.json", text("{\"version\": \"\xC0\xAF\"}"));
  write_file(dir, "bad-number.json", text(head + "{\"size\": 1e400}]}"));
  write_file(dir, "bad-deep.json", text(std::string(40, '[') + std::string(40, ']')));
  write_file(dir, "bad-truncated.json", text(head + entry.substr(0, 30)));
  // Found by fuzz_baseline: a NUL (\u0000) in an unknown key once cut the error text short in what().
  write_file(dir, "bad-nul-in-key.json", text(head + "], \"a\\u0000b\": 1}"));
  // Found by fuzz_baseline: the same, for a duplicate key.
  write_file(dir, "bad-nul-in-duplicate-key.json", text("{\"a\\u0000b\": \"v\", \"a\\u0000b\": 1}"));
  write_file(dir, "bad-nul-in-duplicate-id.json",
             text(head + "{\"workload_id\": \"w\\u0000\", \"size\": 1, \"throughput_ops\": 1, \"mean_time_secs\": 1, "
                         "\"std_dev_secs\": 0, \"samples\": 1}, {\"workload_id\": \"w\\u0000\", \"size\": 1, "
                         "\"throughput_ops\": 1, \"mean_time_secs\": 1, \"std_dev_secs\": 0, \"samples\": 1}]}"));
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR   (writes OUT_DIR/envelope, OUT_DIR/hlc, OUT_DIR/topic, OUT_DIR/scene, OUT_DIR/baseline)\n", argv[0]);
    return 2;
  }
  try {
    const fs::path root(argv[1]);
    fs::create_directories(root / "envelope");
    fs::create_directories(root / "hlc");
    fs::create_directories(root / "topic");
    fs::create_directories(root / "baseline");
    make_envelopes(root / "envelope");
    make_hlc(root / "hlc");
    make_topics(root / "topic");
    fs::create_directories(root / "scene");
    make_scenes(root / "scene");
    make_baselines(root / "baseline");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_corpus: %s\n", e.what());
    return 1;
  }
  std::printf("make_corpus: wrote %d files under %s\n", g_written, argv[1]);
  return 0;
}
