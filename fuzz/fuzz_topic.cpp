// fuzz_topic.cpp — libFuzzer target for Topic::parse and Topic::matches.
// SPDX-License-Identifier: MIT
//
// Input: FILTER '\n' NAME (without a newline, the whole input is both). Properties:
//  * parse never crashes; it fails only with ErrorCode::InvalidTopic, and it accepts exactly
//    the strings a separate, level-splitting reference validator accepts;
//  * an accepted topic keeps its text, and is_filter() says whether it holds a wildcard;
//  * for an accepted filter, matches(NAME) equals a reference matcher written independently
//    (split both into levels, compare level by level);
//  * a topic that is not a filter matches exactly its own text.
// Any violated property calls std::abort(), which libFuzzer reports as a crash.

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace rk = ringkernel;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_topic: property violated: %s\n", what);
  std::abort();
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == '/') out.emplace_back(); else out.back().push_back(c);
  }
  return out;
}

bool is_wild(const std::string& level) { return level == "+" || level == "*" || level == "#"; }

// Reference grammar: non-empty, <= 65535 bytes, no NUL, no empty level, wildcard characters
// only as a whole level, '#' only last.
bool reference_valid(std::string_view s, bool& filter) {
  filter = false;
  if (s.empty() || s.size() > 65535 || s.find('\0') != std::string_view::npos) return false;
  const std::vector<std::string> levels = split(s);
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const std::string& l = levels[i];
    if (l.empty()) return false;
    if (is_wild(l)) {
      filter = true;
      if (l == "#" && i + 1 != levels.size()) return false;
      continue;
    }
    if (l.find_first_of("+*#") != std::string::npos) return false;
  }
  return true;
}

bool reference_match(std::string_view filter, std::string_view name) {
  bool name_is_filter = false;
  if (!reference_valid(name, name_is_filter) || name_is_filter) return false;
  const std::vector<std::string> f = split(filter), n = split(name);
  if (name[0] == '$' && is_wild(f[0])) return false;
  std::size_t i = 0;
  for (; i < f.size(); ++i) {
    if (f[i] == "#") return true;
    if (i >= n.size()) return false;
    if (f[i] != "+" && f[i] != "*" && f[i] != n[i]) return false;
  }
  return i == n.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nl = input.find('\n');
  const std::string_view filter_text = nl == std::string_view::npos ? input : input.substr(0, nl);
  const std::string_view name = nl == std::string_view::npos ? input : input.substr(nl + 1);

  bool ref_filter = false;
  const bool ref_ok = reference_valid(filter_text, ref_filter);
  rk::Result<rk::Topic> parsed = rk::Topic::parse(filter_text);
  if (parsed.ok() != ref_ok) fail("parse disagrees with the reference grammar");
  if (!parsed.ok()) {
    if (parsed.code() != rk::ErrorCode::InvalidTopic) fail("parse failed with a code other than InvalidTopic");
    if (parsed.message().empty()) fail("parse failed without a message");
    return 0;
  }
  const rk::Topic& t = parsed.value();
  if (t.str() != filter_text) fail("accepted topic changed its text");
  if (t.is_filter() != ref_filter) fail("is_filter disagrees with the reference");
  if (t.is_filter()) {
    if (t.matches(name) != reference_match(filter_text, name)) fail("matches disagrees with the reference matcher");
  } else {
    if (t.matches(name) != (name == filter_text)) fail("a topic name must match exactly itself");
    if (!t.matches(filter_text)) fail("a topic name does not match itself");
  }
  return 0;
}
