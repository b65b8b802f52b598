// The same computation as MixCpu in test_vulkan.cpp: a running FNV-style hash of every input
// (state), 16 rounds per message; the reply is the hash after this message.
#version 460
#include "ringkernel.glsl"

layout(set = 0, binding = 3, std430) buffer State {
  uint acc;
} state;

bool rk_handle(RkMessage m) {
  uint x = rk_u32(m, 1u);
  uint h = state.acc;
  for (uint r = 0u; r < 16u; ++r) {
    h = (h ^ x) * 16777619u;
    x = (x >> 3u) | (x << 29u);
  }
  state.acc = h;
  rk_out_u32(0u, rk_u32(m, 0u));
  rk_out_u32(1u, h);
  rk_out_u32(2u, 0u);
  rk_out_u32(3u, 0u);
  rk_emit();
  return true;
}
