// vulkan_solver.hpp — WaveSim's Vulkan backend: every tile's fields in device buffers, the
// halos exchanged on the device, compute shaders evaluating the same wave_cell expression as the
// CPU (vulkan/*.comp, compiled to SPIR-V by glslc at build time). See README.md, "The Vulkan
// backend".
// SPDX-License-Identifier: MIT
//
// Built only where Meson finds the Vulkan toolkit and glslc (WAVESIM_HAVE_VULKAN=1). The program
// that links it compiles ringkernel_vulkan.hpp's implementation in one TU (RINGKERNEL_IMPLEMENTATION).
#pragma once

#include "scene.hpp"
#include "solver.hpp"

#include <memory>
#include <string>

namespace wavesim {

/// The Vulkan solver: the grid cut into tiles_x x tiles_y tiles (uneven splits allowed) as the
/// CPU backend cuts it, each tile's u[n] and u[n-1] kept with a one-cell halo border in device
/// buffers for the whole run. Each step is three compute passes recorded back to back in one
/// command buffer (many steps per submission): halo exchange (every tile's border copied from
/// its neighbours' edges, device to device), the stencil over every cell of every tile, and the
/// point/sine sources. The host uploads only the sources' values for the steps of a
/// submission (a few floats per step); the fields leave the device only for field().
/// Device: `options.device` (a ringkernel Vulkan ordinal), or -1 for the first usable one.
/// Throws SceneError/CflError for an invalid scene, ringkernel::Error(BackendUnavailable) when
/// there is no Vulkan loader or no usable device (the message says which and why),
/// ringkernel::Error(InvalidArgument) for a bad split or a grid larger than the device's
/// storage-buffer limit, and ringkernel::Error(VulkanFailure) naming the Vulkan call that failed.
/// Not thread-safe (one thread drives it, as every Solver); several solvers may share a device.
std::unique_ptr<Solver> make_vulkan_solver(const Scene& scene, const SolverOptions& options = SolverOptions{});

/// The Vulkan roofline for wavesim_bench: the same solver (split, buffers, passes, submissions)
/// with wave_stream.comp in place of the stencil — the scheme's 16 bytes per cell of traffic
/// without its arithmetic. Its field is not a wave solution. Throws as make_vulkan_solver.
std::unique_ptr<Solver> make_vulkan_roofline_solver(const Scene& scene, const SolverOptions& options = SolverOptions{});

/// Registers the Vulkan backend with make_solver / `--backend vulkan` (thread-safe; idempotent).
/// `--backend auto` passes it over when no usable Vulkan device is a GPU (lavapipe, a CPU
/// implementation, is slower than the CPU backend), so auto stays on the CPU there.
void register_vulkan_backend();

/// Why auto must not pick Vulkan here, or "" when a usable non-CPU Vulkan device exists.
std::string vulkan_auto_refusal();

/// The device the solver would use for `device` (-1: the first usable), as "NAME (TYPE)"; throws
/// as make_vulkan_solver does when there is none.
std::string vulkan_device_name(int device = -1);

}  // namespace wavesim
