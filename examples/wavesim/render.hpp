// render.hpp — WaveSim's pictures: the pressure field in a diverging colour map, with the
// scene's walls, absorbers and sources drawn over it, written as PNG (Debian's libstb-dev).
// SPDX-License-Identifier: MIT
#pragma once

#include "scene.hpp"
#include "solver.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace wavesim {

/// An 8-bit RGB image, row-major, 3 bytes a pixel. Value type.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;
};

/// The scale render_field() uses when given none: the 99.5th percentile of |u[n]| over the
/// cells that are not walls (at least 1e-6), so a few hot cells near a source do not wash out
/// the rest.
float auto_scale(const Scene& scene, const Field& field);

/// Draws u[n]: negative blue, zero near-black, positive orange, |p| / scale mapped through a
/// square root so faint wavefronts stay visible; walls light grey, absorbers tinted green,
/// sources marked white. `scale` <= 0: auto_scale(). One pixel per cell.
Image render_field(const Scene& scene, const Field& field, float scale = 0);

/// Writes `image` as a PNG file. Throws std::runtime_error naming the path if it cannot.
void write_png(const std::string& path, const Image& image);

}  // namespace wavesim
