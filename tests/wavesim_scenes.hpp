// wavesim_scenes.hpp — scenes and field comparisons shared by the WaveSim test TUs (test_wavesim,
// test_wavesim_vulkan, test_wavesim_cuda).
// SPDX-License-Identifier: MIT
#pragma once

#include "scene.hpp"
#include "solver.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>

namespace wavesim_test {

// A scene that exercises every feature: walls, an absorber, the sponge, all three sources.
inline wavesim::Scene busy_scene(int w, int h) {
  const std::string text = "grid " + std::to_string(w) + " " + std::to_string(h) +
                           "\n"
                           "spacing 0.01\nspeed 343\ncourant 0.6\n"
                           "boundary absorbing 4\n"
                           "wall 20 5 23 30\n"
                           "absorber 30 30 40 38 0.4\n"
                           "source sine 10 12 2500 1\n"
                           "source point 40 20 3000 -2\n"
                           "source impulse 30 15 1.5 2.5\n";
  return wavesim::parse_scene(text);
}

// Cells whose current or previous value differs bit for bit; SIZE_MAX when the shapes differ.
inline std::size_t differing(const wavesim::Field& a, const wavesim::Field& b) {
  if (a.cur.size() != b.cur.size() || a.prev.size() != b.prev.size()) return static_cast<std::size_t>(-1);
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.cur.size(); ++i)
    n += std::memcmp(&a.cur[i], &b.cur[i], sizeof(float)) != 0 || std::memcmp(&a.prev[i], &b.prev[i], sizeof(float)) != 0;
  return n;
}

// Same size, same step, same bits in both time levels.
inline bool same_bits(const wavesim::Field& a, const wavesim::Field& b) {
  return a.width == b.width && a.height == b.height && a.step == b.step && differing(a, b) == 0;
}

// The largest |pressure| of the current time level.
inline double peak(const wavesim::Field& f) {
  double m = 0;
  for (float v : f.cur) m = std::max(m, static_cast<double>(std::fabs(v)));
  return m;
}

}  // namespace wavesim_test
