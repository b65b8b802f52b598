// fuzz_baseline.cpp — libFuzzer target for bench::Baseline's strict JSON reader.
// SPDX-License-Identifier: MIT
//
// Input: any bytes, read as a baseline file. Properties:
//  * parse never crashes; it fails only with ErrorCode::InvalidArgument and a message that
//    starts with the reader's prefix and says where ("line L, column C: ...");
//  * from_json throws exactly when parse fails, with the same code and text;
//  * an accepted baseline is valid by its own rules (non-empty ids, positive finite figures,
//    samples >= 1, no duplicate (id, size)), and to_json() of it parses back to an equal
//    baseline whose to_json() is the same text (a fixed point after one round).
// Any violated property calls std::abort(), which libFuzzer reports as a crash.

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace rb = ringkernel::bench;

namespace {
[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_baseline: property violated: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ringkernel::Result<rb::Baseline> parsed = rb::Baseline::parse(text);

  bool threw = false;
  try {
    (void)rb::Baseline::from_json(text);
  } catch (const ringkernel::Error& e) {
    threw = true;
    if (parsed.ok()) fail("from_json threw but parse succeeded");
    if (e.code() != parsed.code() || parsed.message() != e.what()) fail("from_json and parse disagree on the error");
  } catch (...) {
    fail("from_json threw something other than ringkernel::Error");
  }
  if (!parsed.ok()) {
    if (!threw) fail("parse failed but from_json did not throw");
    if (parsed.code() != ringkernel::ErrorCode::InvalidArgument) fail("parse failed with a code other than InvalidArgument");
    if (parsed.message().rfind("bench::Baseline: malformed baseline JSON: line ", 0) != 0)
      fail("the error message lacks the prefix or the position");
    return 0;
  }

  const rb::Baseline& b = parsed.value();
  for (std::size_t i = 0; i < b.entries().size(); ++i) {
    const rb::BaselineEntry& e = b.entries()[i];
    if (e.workload_id.empty() || !(std::isfinite(e.throughput_ops) && e.throughput_ops > 0) ||
        !(std::isfinite(e.mean_time_secs) && e.mean_time_secs > 0) ||
        !(std::isfinite(e.std_dev_secs) && e.std_dev_secs >= 0) || e.samples == 0)
      fail("an accepted entry breaks the documented ranges");
    if (b.find(e.workload_id, e.size) != &e) fail("an accepted baseline holds a duplicate (workload, size)");
  }
  const std::string once = b.to_json();
  const ringkernel::Result<rb::Baseline> again = rb::Baseline::parse(once);
  if (!again.ok()) fail("to_json of an accepted baseline does not parse");
  if (!(again.value() == b)) fail("to_json/parse does not round-trip");
  if (again.value().to_json() != once) fail("to_json is not a fixed point after one round");
  return 0;
}
