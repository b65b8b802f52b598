// cuda_solver.hpp — WaveSim's CUDA backend: every tile's fields in device memory, the halos
// exchanged on the device, the same wave_cell arithmetic as the CPU (IEEE round-to-nearest
// intrinsics, never fused), and a persistent cooperative kernel with one grid-wide barrier per
// step for grids whose work fits in the co-resident blocks; per-step launches otherwise. See
// README.md, "The CUDA backend".
// SPDX-License-Identifier: MIT
//
// Plain C++: callers compiled by g++ include it. The implementation, cuda_solver.cu, is the one
// nvcc translation unit of WaveSim (built where Meson finds nvcc: WAVESIM_HAVE_CUDA=1); it also
// carries ringkernel_cuda.hpp's implementation (RINGKERNEL_CUDA_IMPLEMENTATION), so the program
// that links it defines RINGKERNEL_IMPLEMENTATION for the core in one of its own TUs and does not
// compile ringkernel_cuda.hpp's implementation a second time.
#pragma once

#include "scene.hpp"
#include "solver.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace wavesim {

/// How the CUDA solver runs its steps.
enum class CudaMode : std::uint8_t {
  /// Persistent when the device supports cooperative launch and the grid's work items fit in
  /// the co-resident blocks at most kCudaItemsPerBlock each; per-step launches otherwise.
  Auto = 0,
  /// One cooperative kernel per batch of steps (cudaLaunchCooperativeKernel), a grid-wide
  /// barrier between steps. Refused (InvalidArgument) where the device has no cooperative launch.
  Persistent = 1,
  /// One ordinary kernel launch per step (stream order separates the steps).
  PerStep = 2,
};

/// "auto", "persistent", "per-step".
const char* to_string(CudaMode mode) noexcept;

/// Cells per work item (one thread each): a 32 x 8 rectangle of one tile, clipped at its edges.
constexpr int kCudaItemWidth = 32;
constexpr int kCudaItemHeight = 8;
/// CudaMode::Auto stays persistent while every co-resident block has at most this many work
/// items per step; beyond it a step is long enough (tens of µs) that a launch per step costs
/// little, and each block of a per-step launch owns one item.
constexpr int kCudaItemsPerBlock = 8;

/// Knobs of the CUDA solver beyond SolverOptions (benchmarks sweep them). Value type.
struct CudaTuning {
  CudaMode mode = CudaMode::Auto;
  /// Persistent mode: co-resident blocks per SM to launch (0: as many as the occupancy
  /// calculator allows). Fewer blocks make the grid barrier cheaper and give each more items.
  int blocks_per_sm = 0;
};

/// The CUDA solver: the grid cut into tiles as the CPU backend cuts it (uneven splits allowed),
/// each tile's u[n], u[n-1] and a kept with a one-cell halo border in device memory for the
/// whole run. A step computes every cell of every tile; a thread that computes an edge cell of
/// a tile writes it straight into the neighbouring tile's halo border of the new field (a
/// device-to-device halo message), and the step ends at a grid-wide barrier (persistent) or at
/// the kernel's end (per-step), after which every tile holds all its halos. Point and sine
/// sources are added by the thread that computes their cell, in scene order; their values come
/// from the host's source_value (double, then float), uploaded once per batch of steps: that
/// table (4 bytes per source per step) is the only data that crosses during a run; the fields
/// leave the device only for field().
/// Device: `options.device` (a CUDA ordinal), or -1 for the first usable one.
/// Throws SceneError/CflError for an invalid scene, ringkernel::Error(InvalidArgument) for a bad
/// split or CudaMode::Persistent where it cannot run, ringkernel::Error(BackendUnavailable) when
/// there is no usable CUDA device (the message says why), ringkernel::CudaError naming the CUDA
/// call that failed, ringkernel::Error(Timeout) for a batch that does not finish in 120 s.
/// Not thread-safe (one thread drives it, as every Solver).
std::unique_ptr<Solver> make_cuda_solver(const Scene& scene, const SolverOptions& options = SolverOptions{},
                                         const CudaTuning& tuning = CudaTuning{});

/// Registers the CUDA backend with make_solver / `--backend cuda` (thread-safe; idempotent).
/// `--backend auto` picks it when a usable CUDA device is present.
void register_cuda_backend();

/// Why device `device` (-1: any) cannot run the CUDA solver ("" when it can): no driver, no
/// device, an ordinal out of range, a program not built for the device's architecture. Never throws.
std::string cuda_unavailable_reason(int device = -1);

/// The device the solver would use for `device` (-1: the first usable), as "NAME (sm_XY, N SMs)".
/// Throws as make_cuda_solver does when there is none.
std::string cuda_device_name(int device = -1);

/// The CUDA solver's tables (tiles, halo targets, work items, sources) and its per-thread step
/// code run on the host, one simulated thread after another, for `steps` steps: what the kernels
/// would compute, without a GPU. Tests check the solver's layout against the CPU with it on any
/// machine; only the device's execution (and the intrinsics' rounding, IEEE 754 like the host's)
/// is left to the GPU test. Throws as make_cuda_solver does for a bad scene or split.
Field cuda_emulate_on_host(const Scene& scene, const SolverOptions& options, std::uint64_t steps);

// ---- peers for wavesim_bench (same device, same grid, same run) ------------------------------

/// A timed run on the device. Value type.
struct CudaTiming {
  std::uint64_t steps = 0;
  double seconds = 0;  ///< device time between CUDA events around the steps
  Field field;         ///< the result (empty for the roofline)
};

/// The plain loop: the scene on one padded grid (no tiles, no halos), one kernel launch per
/// step evaluating the same wave_cell arithmetic. `warmup` untimed steps first. Scenes with
/// point or sine sources are refused (InvalidArgument); an impulse is an initial condition.
CudaTiming cuda_plain_loop(const Scene& scene, std::uint64_t warmup, std::uint64_t steps, int device = -1);

/// The roofline: a streaming kernel with the scheme's traffic (read u[n], u[n-1], a; write
/// u[n+1] over u[n-1]: kBytesPerCell = 16 bytes per cell) over arrays of `cells` cells, one
/// launch per step, without the stencil's neighbours or arithmetic.
CudaTiming cuda_roofline(std::int64_t cells, std::uint64_t warmup, std::uint64_t steps, int device = -1);

}  // namespace wavesim
