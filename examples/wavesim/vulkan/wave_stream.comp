// wave_stream.comp — the Vulkan roofline for wavesim_bench: the same cells, indexing and buffers
// as wave_step.comp and the scheme's memory traffic (read u[n], u[n-1] and a, write u[n+1] over
// u[n-1]: 16 bytes per cell), without the stencil's neighbours and arithmetic. What it
// reaches is the bandwidth the device gives this access pattern.
// SPDX-License-Identifier: MIT
#version 460
layout(local_size_x = 64, local_size_y = 4, local_size_z = 1) in;
#include "wavesim_common.glsl"

void main() {
  const uint x = gl_GlobalInvocationID.x;
  const uint y = gl_GlobalInvocationID.y;
  if (x >= ws.width || y >= ws.height) return;
  const uint col = layout_words[x];
  const uint row = layout_words[ws.width + y];
  const uint tile = (row >> 16) * ws.tiles_x + (col >> 16);
  const uint base = layout_words[ws.width + ws.height + 2u * tile];
  const uint stride = layout_words[ws.width + ws.height + 2u * tile + 1u];
  const uint i = base + ((row & 0xFFFFu) + 1u) * stride + (col & 0xFFFFu) + 1u;
  next[i] = coef[y * ws.width + x] * cur[i] - next[i];
}
