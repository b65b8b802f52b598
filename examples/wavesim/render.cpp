// render.cpp — colour map and PNG output (stb_image_write from Debian's libstb-dev).
// SPDX-License-Identifier: MIT
#include "render.hpp"

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace wavesim {

namespace {
struct Rgb {
  float r, g, b;
};
Rgb mix(Rgb a, Rgb b, float t) { return Rgb{a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }

// Background, then a saturated and a light colour for each sign.
constexpr Rgb kZero{12, 14, 24};
constexpr Rgb kNegMid{40, 110, 235};
constexpr Rgb kNegHigh{205, 232, 255};
constexpr Rgb kPosMid{240, 110, 25};
constexpr Rgb kPosHigh{255, 244, 205};
constexpr Rgb kWall{208, 208, 214};
constexpr Rgb kAbsorberTint{30, 120, 60};

Rgb colour(float v) {
  const float m = std::sqrt(std::min(1.0f, std::fabs(v)));
  const Rgb mid = v < 0 ? kNegMid : kPosMid, high = v < 0 ? kNegHigh : kPosHigh;
  return m < 0.7f ? mix(kZero, mid, m / 0.7f) : mix(mid, high, (m - 0.7f) / 0.3f);
}
std::uint8_t byte(float c) { return static_cast<std::uint8_t>(std::lround(std::min(255.0f, std::max(0.0f, c)))); }
}  // namespace

float auto_scale(const Scene& scene, const Field& field) {
  const std::vector<float> coef = build_coefficients(scene);
  std::vector<float> mags;
  mags.reserve(field.cur.size());
  for (std::size_t i = 0; i < field.cur.size(); ++i)
    if (coef[i] != 0.0f) mags.push_back(std::fabs(field.cur[i]));
  if (mags.empty()) return 1e-6f;
  const std::size_t k = static_cast<std::size_t>(0.995 * static_cast<double>(mags.size() - 1));
  std::nth_element(mags.begin(), mags.begin() + static_cast<std::ptrdiff_t>(k), mags.end());
  return std::max(1e-6f, mags[k]);
}

Image render_field(const Scene& scene, const Field& field, float scale) {
  if (field.width != scene.width || field.height != scene.height ||
      field.cur.size() != static_cast<std::size_t>(scene.cells()))
    throw std::invalid_argument("wavesim: the field does not match the scene's grid");
  if (!(scale > 0)) scale = auto_scale(scene, field);
  Image img;
  img.width = field.width;
  img.height = field.height;
  img.rgb.resize(static_cast<std::size_t>(img.width) * img.height * 3);
  std::vector<Rgb> px(static_cast<std::size_t>(img.width) * img.height);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = colour(field.cur[i] / scale);
  for (const Absorber& a : scene.absorbers)
    for (int y = a.area.y0; y < a.area.y1; ++y)
      for (int x = a.area.x0; x < a.area.x1; ++x) {
        Rgb& p = px[static_cast<std::size_t>(y) * img.width + x];
        p = mix(p, kAbsorberTint, 0.45f);
      }
  for (const Rect& r : scene.walls)
    for (int y = r.y0; y < r.y1; ++y)
      for (int x = r.x0; x < r.x1; ++x) px[static_cast<std::size_t>(y) * img.width + x] = kWall;
  for (const Source& s : scene.sources)  // a small white ring around each source cell
    for (int dy = -2; dy <= 2; ++dy)
      for (int dx = -2; dx <= 2; ++dx) {
        const int x = s.x + dx, y = s.y + dy, d2 = dx * dx + dy * dy;
        if (x < 0 || y < 0 || x >= img.width || y >= img.height || d2 < 3 || d2 > 5) continue;
        px[static_cast<std::size_t>(y) * img.width + x] = Rgb{255, 255, 255};
      }
  for (std::size_t i = 0; i < px.size(); ++i) {
    img.rgb[3 * i] = byte(px[i].r);
    img.rgb[3 * i + 1] = byte(px[i].g);
    img.rgb[3 * i + 2] = byte(px[i].b);
  }
  return img;
}

void write_png(const std::string& path, const Image& image) {
  if (image.width <= 0 || image.height <= 0 || image.rgb.size() != static_cast<std::size_t>(image.width) * image.height * 3)
    throw std::invalid_argument("wavesim: cannot write an empty or inconsistent image to " + path);
  if (stbi_write_png(path.c_str(), image.width, image.height, 3, image.rgb.data(), image.width * 3) == 0)
    throw std::runtime_error("wavesim: cannot write PNG file '" + path + "'");
}

}  // namespace wavesim
