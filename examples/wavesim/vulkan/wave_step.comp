// wave_step.comp — one WaveSim time step over every cell of every tile: u[n+1] = wave_cell(...)
// (solver.hpp), written over u[n-1]. `precise` forbids fusing or reordering the arithmetic
// (SPIR-V NoContraction), so the result is the CPU's -ffp-contract=off expression, bit for bit
// where the device rounds as IEEE 754 binary32 and keeps denormals.
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
  const float u = cur[i];
  const float west = cur[i - 1u];
  const float east = cur[i + 1u];
  const float north = cur[i - stride];
  const float south = cur[i + stride];
  const float a = coef[y * ws.width + x];
  const float prev = next[i];
  // wave_cell, term for term.
  precise float lap = ((west + east) + (north + south)) - 4.0 * u;
  precise float result = a * (2.0 * u + ws.k2 * lap) - (2.0 * a - 1.0) * prev;
  next[i] = result;
}
