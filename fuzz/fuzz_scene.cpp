// fuzz_scene.cpp — libFuzzer target for WaveSim's scene parser (examples/wavesim/scene.cpp),
// the one parser of the showcase that reads outside input.
// SPDX-License-Identifier: MIT
//
// Input: scene text. Properties:
//  * parse_scene never crashes and fails only with wavesim::SceneError, code InvalidArgument,
//    a non-empty message starting with the origin, and a line number within the text (0 only
//    for the whole-text size limit);
//  * an accepted scene printed by format_scene parses back to the same scene, field by field;
//  * validate() either accepts it or throws SceneError (CflError included);
//  * a valid scene of at most 4096 cells runs: the reference solver's field stays finite over
//    a few steps (the CFL check and the Nyquist check keep it bounded).
// Any violated property calls std::abort(), which libFuzzer reports as a crash.

#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel.hpp"

#include "scene.hpp"
#include "solver.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_scene: property violated: %s\n", what);
  std::abort();
}

bool same(const wavesim::Scene& a, const wavesim::Scene& b) {
  auto rect_eq = [](const wavesim::Rect& x, const wavesim::Rect& y) {
    return x.x0 == y.x0 && x.y0 == y.y0 && x.x1 == y.x1 && x.y1 == y.y1;
  };
  if (a.width != b.width || a.height != b.height || a.spacing_m != b.spacing_m || a.speed_m_s != b.speed_m_s ||
      a.dt_s != b.dt_s || (a.dt_s == 0 && a.courant != b.courant) || a.boundary != b.boundary ||
      (a.boundary == wavesim::Boundary::Absorbing && a.sponge_cells != b.sponge_cells) || a.walls.size() != b.walls.size() ||
      a.absorbers.size() != b.absorbers.size() || a.sources.size() != b.sources.size())
    return false;
  for (std::size_t i = 0; i < a.walls.size(); ++i)
    if (!rect_eq(a.walls[i], b.walls[i])) return false;
  for (std::size_t i = 0; i < a.absorbers.size(); ++i)
    if (!rect_eq(a.absorbers[i].area, b.absorbers[i].area) || a.absorbers[i].strength != b.absorbers[i].strength) return false;
  for (std::size_t i = 0; i < a.sources.size(); ++i) {
    const wavesim::Source &x = a.sources[i], &y = b.sources[i];
    if (x.kind != y.kind || x.x != y.x || x.y != y.y || x.amplitude != y.amplitude) return false;
    if (x.kind == wavesim::SourceKind::Impulse ? x.radius != y.radius : x.frequency_hz != y.frequency_hz) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n';
  wavesim::Scene scene;
  try {
    scene = wavesim::parse_scene(text, wavesim::Scene{}, "fuzz");
  } catch (const wavesim::SceneError& e) {
    const std::string m = e.what();
    if (e.code() != ringkernel::ErrorCode::InvalidArgument) fail("SceneError with a code other than InvalidArgument");
    if (m.rfind("fuzz", 0) != 0) fail("error message does not start with the origin");
    if (e.line() < 0 || static_cast<std::size_t>(e.line()) > lines) fail("error line outside the text");
    if (m.size() > 600) fail("error message unreasonably long");
    return 0;
  } catch (...) {
    fail("parse_scene threw something other than SceneError");
  }
  try {
    const wavesim::Scene back = wavesim::parse_scene(wavesim::format_scene(scene), wavesim::Scene{}, "format");
    if (!same(scene, back)) fail("format_scene does not read back to the same scene");
  } catch (...) {
    fail("format_scene wrote text that parse_scene refuses");
  }
  try {
    scene.validate();
  } catch (const wavesim::SceneError&) {
    return 0;
  } catch (...) {
    fail("validate threw something other than SceneError");
  }
  if (scene.cells() <= 4096) {
    auto solver = wavesim::make_reference_solver(scene);
    solver->advance(4);
    const wavesim::Field f = solver->field();
    for (float v : f.cur)
      if (!std::isfinite(v)) fail("a valid scene produced a non-finite field");
  }
  return 0;
}
