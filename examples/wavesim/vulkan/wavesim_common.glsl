// wavesim_common.glsl — what WaveSim's three Vulkan passes share: the descriptor set and the
// push constants (vulkan_solver.cpp fills both; keep the two in step).
// SPDX-License-Identifier: MIT
//
// Storage: each tile's fields are a (width + 2) x (height + 2) block (a one-cell halo border,
// zero at the grid's edges) at its offset in `cur` and `next`; the host swaps the two buffers'
// roles every step by binding the other descriptor set. `coef` is the grid's a, row-major, no
// border. `layout_words` maps the grid to the tiles:
//   [0, width)                 per column x: tile column << 16 | x within that tile
//   [width, width + height)    per row y:    tile row << 16 | y within that tile
//   then per tile (row-major): its block's first index, its row stride (width + 2)
layout(set = 0, binding = 0, std430) buffer WsCur { float cur[]; };             // u[n]
layout(set = 0, binding = 1, std430) buffer WsNext { float next[]; };           // u[n-1] in, u[n+1] out
layout(set = 0, binding = 2, std430) readonly buffer WsCoef { float coef[]; };
layout(set = 0, binding = 3, std430) readonly buffer WsLayout { uint layout_words[]; };
layout(set = 0, binding = 4, std430) readonly buffer WsHalo { uvec2 halo_pairs[]; };   // (border index, edge index) in cur
layout(set = 0, binding = 5, std430) readonly buffer WsSourceCells { uint source_cells[]; };  // index in next
layout(set = 0, binding = 6, std430) readonly buffer WsSourceValues { float source_values[]; };  // [row * count + i]

layout(push_constant) uniform WsPush {
  uint width;    // grid cells
  uint height;
  uint tiles_x;
  uint count;    // halo pass: pairs; sources pass: sources
  float k2;      // K^2
  uint row;      // sources pass: the step's row of source_values
  uint pad0;
  uint pad1;
} ws;
