// wave_sources.comp — WaveSim's point and sine sources: each adds its value for this step to its
// cell of u[n+1], in scene order by one invocation (two sources may share a cell; the CPU adds
// them in that order too). The values come from the host's source_value (double, then float).
// SPDX-License-Identifier: MIT
#version 460
layout(local_size_x = 1, local_size_y = 1, local_size_z = 1) in;
#include "wavesim_common.glsl"

void main() {
  for (uint s = 0u; s < ws.count; ++s) {
    const uint i = source_cells[s];
    precise float v = next[i] + source_values[ws.row * ws.count + s];
    next[i] = v;
  }
}
