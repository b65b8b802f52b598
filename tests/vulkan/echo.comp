// Echo kernel for test_vulkan.cpp and vulkan_bench: Ping{seq, value, flags, 0} ->
// Pong{seq, value * 2 + 1, dispatch index, messages seen (state)}. flags == 1: rk_fail(42).
#version 460
#include "ringkernel.glsl"

layout(set = 0, binding = 3, std430) buffer State {
  uint count;
  uint sum;
} state;

bool rk_handle(RkMessage m) {
  if (rk_u32(m, 2u) == 1u) {
    rk_fail(42);
    return false;
  }
  state.count += 1u;
  state.sum += rk_u32(m, 1u);
  rk_out_u32(0u, rk_u32(m, 0u));
  rk_out_u32(1u, rk_u32(m, 1u) * 2u + 1u);
  rk_out_u32(2u, rk_dispatch_index());
  rk_out_u32(3u, state.count);
  rk_emit();
  return true;
}
