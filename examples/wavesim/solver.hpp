// solver.hpp — WaveSim's numerical scheme, its single-grid reference solver, and the tiled
// solver built from ring-kernel actors.
// SPDX-License-Identifier: MIT
//
// The scheme
// ----------
// The scalar wave equation p_tt = c^2 (p_xx + p_yy), with a damping term where the scene asks
// for it, p_tt + gamma p_t = c^2 lap p, discretised by second-order centred differences in
// time and space (leapfrog, 5-point Laplacian) on a uniform grid (dx = dy):
//
//     (1 + g) u[n+1] = 2 u[n] - (1 - g) u[n-1] + K^2 L u[n],     K = c dt / dx,  g = gamma dt / 2
//     L u(i,j) = (u(i-1,j) + u(i+1,j)) + (u(i,j-1) + u(i,j+1)) - 4 u(i,j)
//
// Written with the per-cell coefficient a = 1 / (1 + g) in [0, 1], that is
//
//     u[n+1] = a (2 u[n] + K^2 L u[n]) - (2a - 1) u[n-1]                           (wave_cell)
//
// a = 1 in free space (the undamped scheme), 0 < a < 1 in the absorbing sponge and in absorber
// regions, and a = 0 in a wall: there u[n+1] = u[n-1], so a wall cell that starts at 0 stays
// exactly 0 (a pressure-release reflector). Outside the grid u = 0 (Dirichlet).
//
// Stability (CFL): undamped, the scheme is stable iff K^2 * max eigenvalue of -L <= 4; the
// eigenvalues of -L are below 8 in 2-D, so K <= 1/sqrt(2). Scene::validate() enforces it.
//
// What is conserved: with a = 1 everywhere (a closed box, walls allowed), the discrete energy
//
//     E[n+1/2] = sum_i (u_i[n+1] - u_i[n])^2 + K^2 sum_edges (u_p[n+1] - u_q[n+1]) (u_p[n] - u_q[n])
//
// (edges between neighbouring cells, and from each edge cell to the zero outside) is exactly
// constant in exact arithmetic, and positive when K < 1/sqrt(2). Damping removes
// sum_i g_i (u_i[n+1] - u_i[n-1])^2 >= 0 per step, so with a sponge E never increases once
// the sources stop. In float32 E drifts only by rounding (tests/test_wavesim.cpp bounds it).
//
// Memory traffic per cell and step: read u[n] (4 B; its neighbours come from cache), read
// u[n-1] and a (8 B), write u[n+1] over u[n-1] (4 B): 16 bytes (kBytesPerCell).
#pragma once

#include "ringkernel.hpp"
#include "scene.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

/// Pointer aliasing hint for the stencil rows (every supported compiler, nvcc included).
#define WAVESIM_RESTRICT __restrict

namespace wavesim {

/// Bytes of memory traffic per cell update (see the scheme above); the roofline uses it.
constexpr std::size_t kBytesPerCell = 16;

/// One cell update: u[n+1] from u[n] (`u`), its four neighbours, u[n-1] (`prev`), the cell's
/// coefficient `a` and K^2 (`k2`). Every solver (reference, tiles, a GPU port) uses exactly this
/// expression, in this order, so their results agree bit for bit.
RINGKERNEL_HD inline float wave_cell(float u, float prev, float west, float east, float north, float south, float a,
                                     float k2) {
  const float lap = ((west + east) + (north + south)) - 4.0f * u;
  return a * (2.0f * u + k2 * lap) - (2.0f * a - 1.0f) * prev;
}

/// One row of updates on padded storage (row stride `stride`, one halo cell on every side):
/// `next_prev[x]` holds u[n-1] on entry and u[n+1] on return, for x in [0, n). `cur` points at
/// the row's first cell of u[n] (north = cur - stride, south = cur + stride). Vectorisable.
inline void wave_row(float* WAVESIM_RESTRICT next_prev, const float* WAVESIM_RESTRICT cur,
                     const float* WAVESIM_RESTRICT coef, int n, std::ptrdiff_t stride, float k2) {
  const float* WAVESIM_RESTRICT north = cur - stride;
  const float* WAVESIM_RESTRICT south = cur + stride;
  for (int x = 0; x < n; ++x)
    next_prev[x] = wave_cell(cur[x], next_prev[x], cur[x - 1], cur[x + 1], north[x], south[x], coef[x], k2);
}

/// The value a point or sine source adds to its cell when step `step` (the new u[step]) is
/// computed; 0 for an impulse. Same in every solver.
float source_value(const Source& source, std::uint64_t step, double dt);

/// The scene's per-cell coefficients a (row-major, width x height): 1 free, (0, 1) damped, 0 wall.
std::vector<float> build_coefficients(const Scene& scene);

/// A snapshot of the pressure field: u[n] (`cur`) and u[n-1] (`prev`), row-major. Value type.
struct Field {
  int width = 0;
  int height = 0;
  std::uint64_t step = 0;   ///< n
  std::vector<float> cur;   ///< u[n]
  std::vector<float> prev;  ///< u[n-1]
};

/// The initial field of a scene: impulse sources as Gaussian bumps at rest (u[0] = u[-1]).
Field initial_field(const Scene& scene);

/// E[n-1/2] of the scheme (see above) for a field, in double precision; `k2` = K^2.
double discrete_energy(const Field& field, double k2);

/// Called by Solver::advance with the step reached so far (every tile at least that far).
using ProgressFn = std::function<void(std::uint64_t step)>;

/// A wave solver over one scene. Not thread-safe: one thread drives it.
class Solver {
 public:
  virtual ~Solver() = default;
  /// Where it runs ("cpu", "reference").
  virtual std::string backend_name() const = 0;
  /// How the grid is split ("4 x 4 tiles", "single grid").
  virtual std::string layout() const = 0;
  /// Advances `steps` steps, calling `progress` now and then. Throws ringkernel::Error when
  /// the computation fails (a tile kernel faulted or stalled).
  virtual void advance(std::uint64_t steps, const ProgressFn& progress = {}) = 0;
  /// Steps done so far.
  virtual std::uint64_t step() const = 0;
  /// The field now (for a tiled solver: gathered from the tiles).
  virtual Field field() const = 0;
};

/// The single-grid reference: a plain loop over the whole grid with explicit boundary checks,
/// written separately from the tiles' padded storage and halo exchange. The tests compare the
/// tiled solver against it. Throws SceneError/CflError for an invalid scene.
std::unique_ptr<Solver> make_reference_solver(const Scene& scene);

// ---- the tile-kernel interface --------------------------------------------------------------

/// A side of a tile; the halo beyond it comes from the neighbour on that side.
enum class Side : std::uint8_t { North = 0, South = 1, West = 2, East = 3 };
constexpr int kSides = 4;

/// Where a tile sits in the grid. Value type.
struct TileGeometry {
  int index = 0;       ///< row-major tile number
  int tx = 0, ty = 0;  ///< tile column and row
  int x0 = 0, y0 = 0;  ///< first cell
  int width = 0, height = 0;
  /// Length of the edge on `side` (width for North/South, height for West/East).
  int edge_length(Side side) const noexcept { return side == Side::North || side == Side::South ? width : height; }
};

/// What a tile kernel starts from. Value type.
struct TileSetup {
  TileGeometry geometry;
  std::vector<float> coef;  ///< the tile's coefficients, row-major width x height
  std::vector<float> cur;   ///< u[0] of the tile, row-major
  std::vector<float> prev;  ///< u[-1] of the tile, row-major
  std::vector<Source> sources;  ///< point and sine sources inside the tile, in tile coordinates
  float k2 = 0;             ///< K^2
  double dt = 0;            ///< seconds per step
};

/// The compute half of one tile: its field storage and the stencil, behind an interface a GPU
/// backend implements with device buffers. The actor half (TileActor in solver.cpp: halo
/// messages over K2K, step counting, reports) is the same for every backend.
/// Used by one thread at a time (the tile's kernel worker, or the host while the tile is idle).
class TileKernel {
 public:
  virtual ~TileKernel() = default;
  /// Which backend ("cpu").
  virtual const char* backend_name() const noexcept = 0;
  /// Copies `count` values of the tile's edge on `side` of u[n], starting `offset` cells along it.
  virtual void read_edge(Side side, int offset, int count, float* out) const = 0;
  /// Sets the halo beyond `side` (the neighbour's edge of u[n]), `count` values from `offset`.
  virtual void write_halo(Side side, int offset, int count, const float* in) = 0;
  /// Advances u[n] -> u[n+1] (n = `step`), adding the tile's sources for step n+1. The halos
  /// of every side with a neighbour must hold the neighbours' u[n] edges.
  virtual void step(std::uint64_t step) = 0;
  /// Copies the tile's u[n] and u[n-1] into row-major arrays with row stride `stride` floats.
  virtual void read_fields(float* cur, float* prev, std::ptrdiff_t stride) const = 0;
};

/// The CPU tile kernel: structure-of-arrays (u[n], u[n-1] padded by one halo cell, a), rows
/// updated by wave_row. Throws ringkernel::Error(InvalidArgument) for an inconsistent setup.
std::unique_ptr<TileKernel> make_cpu_tile_kernel(TileSetup setup);

/// How to split the grid and where to run. Value type.
struct SolverOptions {
  ringkernel::Backend backend = ringkernel::Backend::Auto;
  int tiles_x = 0;  ///< 0 (with tiles_y 0): pick from the core count
  int tiles_y = 0;
  /// GPU backends: the device ordinal (ringkernel's order: discrete GPUs first); -1 picks the
  /// first usable device. The CPU backend ignores it.
  int device = -1;
};

/// Makes the tile kernels of one backend. Value type.
struct TileBackend {
  /// Shown in the summary line ("cpu", "cuda").
  const char* name = "cpu";
  /// The ringkernel backend the tile actors (TileActor, a host-side message handler) are
  /// launched on. A tile kernel that drives device buffers from those actors keeps
  /// Backend::Cpu here; the actor body is a CPU body, which Runtime::launch refuses on another
  /// backend's runtime.
  ringkernel::Backend runtime_backend = ringkernel::Backend::Cpu;
  /// Builds one tile's kernel from its setup (called once per tile by make_solver).
  std::unique_ptr<TileKernel> (*make_kernel)(TileSetup setup) = nullptr;
  /// Instead of make_kernel: builds the whole solver, for a backend that keeps every tile on
  /// its device and exchanges the halos there (the Vulkan backend, vulkan_solver.hpp).
  /// make_solver calls it with the validated scene, the options and the resolved split.
  std::unique_ptr<Solver> (*make_solver)(const Scene& scene, const SolverOptions& options, int tiles_x,
                                         int tiles_y) = nullptr;
  /// Why `--backend auto` must pass this backend over on this machine (e.g. its only device is
  /// a CPU implementation such as lavapipe), or "" when auto may pick it. Null: always eligible.
  std::string (*auto_refusal)() = nullptr;
};

/// Registers the tile backend for `kind` (thread-safe; a later one replaces an earlier one).
/// Throws ringkernel::Error(InvalidArgument) for Backend::Auto or neither factory.
/// The CPU backend is always registered; a GPU build adds its own before calling make_solver.
void register_tile_backend(ringkernel::Backend kind, const TileBackend& backend);
/// The backends registered now, best first (CUDA, Vulkan, CPU).
std::vector<ringkernel::Backend> available_backends();
/// Auto -> the best available backend whose auto_refusal (if any) is empty (the CPU is always
/// eligible); any other kind is returned as it is if registered, else
/// ringkernel::Error(BackendUnavailable) saying which backends this build has.
ringkernel::Backend resolve_backend(ringkernel::Backend requested);

/// The tile split `options` ask for (resolving 0 x 0 from the core count, at least 8 cells a side).
/// Throws ringkernel::Error(InvalidArgument) for a split the grid cannot hold.
void choose_tiles(const Scene& scene, const SolverOptions& options, int& tiles_x, int& tiles_y);

/// The tiled solver: the grid cut into tiles_x x tiles_y tiles (uneven splits allowed), each a
/// ring kernel launched on a ringkernel Runtime of the chosen backend, with its state kept in
/// the kernel; neighbours exchange halos as K2K messages, and a tile computes step n+1 once it
/// has every halo of step n. Throws SceneError/CflError for an invalid scene,
/// ringkernel::Error(BackendUnavailable) for a backend not in this build, (InvalidArgument) for
/// a bad split.
std::unique_ptr<Solver> make_solver(const Scene& scene, const SolverOptions& options = SolverOptions{});

/// "auto", "cpu", "cuda", "vulkan".
const char* backend_label(ringkernel::Backend backend) noexcept;
/// Parses "auto", "cpu", "cuda", "vulkan". Throws ringkernel::Error(InvalidArgument) otherwise.
ringkernel::Backend parse_backend(const std::string& name);

}  // namespace wavesim
