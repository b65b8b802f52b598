// wavesim_scenes.hpp — scenes shared by the WaveSim test TUs (test_wavesim, test_wavesim_vulkan).
// SPDX-License-Identifier: MIT
#pragma once

#include "scene.hpp"

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

}  // namespace wavesim_test
