// scene.hpp — WaveSim's scene: the grid, the medium, the boundary, reflectors, absorbers and
// sources, and the strict parser of its small text format (see README.md, "Scene files").
// SPDX-License-Identifier: MIT
//
// The scene file is outside input: the parser accepts exactly the grammar below and rejects
// everything else with a SceneError naming the line and what is wrong; it never crashes and
// never allocates in proportion to a number it read (fuzz/fuzz_scene.cpp checks both).
//
//   # comment (to the end of the line), blank lines ignored, tokens separated by blanks
//   grid W H                     cells, 4..8192 each, W*H <= 64 Mi
//   spacing DX                   metres per cell (> 0)
//   speed C                      wave speed in m/s (> 0)
//   courant K                    c*dt/dx (> 0); the scheme is stable only for K <= 1/sqrt(2)
//   dt SECONDS                   time step instead of courant (K = C*dt/DX)
//   boundary absorbing [CELLS]   a damping sponge CELLS wide along the edges (default 16)
//   boundary reflecting          no sponge: the edges reflect (a closed box)
//   wall X0 Y0 X1 Y1             a reflector: cells X0 <= x < X1, Y0 <= y < Y1 held at p = 0
//   absorber X0 Y0 X1 Y1 G       a damping region, G in (0, 1] (per-step damping coefficient)
//   source point X Y FREQ AMP    one Ricker pulse (peak frequency FREQ Hz) injected at a cell
//   source sine X Y FREQ AMP     a continuous sine of FREQ Hz, ramped in over two periods
//   source impulse X Y AMP R     an initial Gaussian bump of radius R cells (zero velocity)
#pragma once

#include "ringkernel.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wavesim {

/// Largest grid side, and largest cell count, a scene may ask for.
constexpr int kMaxGridSide = 8192;
constexpr std::int64_t kMaxCells = std::int64_t{64} * 1024 * 1024;
/// Most walls + absorbers + sources in one scene (bounds the parser's memory).
constexpr std::size_t kMaxSceneItems = 4096;
/// The 2-D CFL limit of the leapfrog scheme: the Courant number c*dt/dx must not exceed it.
constexpr double kCflLimit = 0.70710678118654752440;  // 1/sqrt(2)

/// A half-open cell rectangle [x0, x1) x [y0, y1). Value type.
struct Rect {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool contains(int x, int y) const noexcept { return x >= x0 && x < x1 && y >= y0 && y < y1; }
};

/// A damping region: a per-step damping coefficient `strength` in (0, 1]. Value type.
struct Absorber {
  Rect area;
  double strength = 0.5;
};

/// What a source emits.
enum class SourceKind : std::uint8_t {
  Point = 0,    ///< one Ricker pulse centred at t = 1.5/frequency, added at one cell each step
  Sine = 1,     ///< a continuous sine, ramped in over its first two periods, added at one cell each step
  Impulse = 2,  ///< an initial Gaussian bump of pressure (radius cells), at rest; nothing added later
};
/// Stable name ("point", "sine", "impulse").
const char* to_string(SourceKind kind) noexcept;

/// One source. Value type.
struct Source {
  SourceKind kind = SourceKind::Sine;
  int x = 0, y = 0;
  double frequency_hz = 0;  ///< Point, Sine
  double amplitude = 1;
  double radius = 0;        ///< Impulse, in cells
};

/// How the grid's outer edge behaves.
enum class Boundary : std::uint8_t {
  Absorbing = 0,   ///< a sponge layer damps waves before they reach the edge
  Reflecting = 1,  ///< the edge is a pressure-release (p = 0) wall: a closed box
};

/// A complete scene. Value type; validate() checks it as a whole.
struct Scene {
  int width = 256;
  int height = 256;
  double spacing_m = 0.01;   ///< dx = dy
  double speed_m_s = 343.0;  ///< c
  double courant = 0.5;      ///< c*dt/dx, used unless dt_s > 0
  double dt_s = 0;           ///< explicit time step; 0: derived from courant
  Boundary boundary = Boundary::Absorbing;
  int sponge_cells = 16;
  std::vector<Rect> walls;
  std::vector<Absorber> absorbers;
  std::vector<Source> sources;

  /// The Courant number c*dt/dx in effect.
  double courant_number() const noexcept { return dt_s > 0 ? speed_m_s * dt_s / spacing_m : courant; }
  /// The time step in seconds.
  double time_step() const noexcept { return dt_s > 0 ? dt_s : courant * spacing_m / speed_m_s; }
  /// width * height.
  std::int64_t cells() const noexcept { return std::int64_t{width} * height; }
  /// Throws SceneError (line 0) for a scene that cannot run: grid out of range, CFL violated
  /// (CflError), items outside the grid, a source inside a wall, a frequency above Nyquist,
  /// a sponge wider than a third of the grid.
  void validate() const;
};

/// A scene that cannot be parsed or cannot run. `line()` is the 1-based line of the scene
/// text (0: the scene as a whole). Code ErrorCode::InvalidArgument.
class SceneError : public ringkernel::Error {
 public:
  SceneError(int line, const std::string& message)
      : ringkernel::Error(ringkernel::ErrorCode::InvalidArgument, message), line_(line) {}
  int line() const noexcept { return line_; }

 private:
  int line_;
};

/// The Courant number breaks the 2-D CFL bound (a SceneError at line 0).
class CflError : public SceneError {
 public:
  explicit CflError(const std::string& message) : SceneError(0, message) {}
};

/// Parses scene text on top of `base` (later lines override earlier settings; walls, absorbers
/// and sources add up). `origin` names the text in messages ("room.scene"). Does not call
/// validate(). Throws SceneError ("room.scene:3: wall needs 4 integers X0 Y0 X1 Y1, got 3").
Scene parse_scene(std::string_view text, const Scene& base = Scene{}, std::string_view origin = "scene");

/// The scene as scene text that parse_scene() reads back to an equal scene (numbers printed
/// with 17 significant digits).
std::string format_scene(const Scene& scene);

/// The scene the README's command shows when no scene is given: a double slit on a 256 x 256
/// grid lit by a 2 kHz sine from the left, with an absorbing edge.
Scene default_scene();

}  // namespace wavesim
