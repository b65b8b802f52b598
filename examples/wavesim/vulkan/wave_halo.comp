// wave_halo.comp — WaveSim's halo exchange on the device: every tile border cell that faces a
// neighbour gets that neighbour's edge cell of u[n] (one pair per cell, built by the host once).
// Border cells at the grid's edge are not in the list: they stay 0 (the Dirichlet boundary).
// SPDX-License-Identifier: MIT
#version 460
layout(local_size_x = 256, local_size_y = 1, local_size_z = 1) in;
#include "wavesim_common.glsl"

void main() {
  const uint k = gl_GlobalInvocationID.x;
  if (k >= ws.count) return;
  const uvec2 p = halo_pairs[k];
  cur[p.x] = cur[p.y];
}
