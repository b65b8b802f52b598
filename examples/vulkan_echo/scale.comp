// The example's kernel: Sample{id, value (float)} -> Scaled{id, value * gain, running count,
// running sum}; gain is the first word of the kernel's state, set by the host at launch.
#version 460
#include "ringkernel.glsl"

layout(set = 0, binding = 3, std430) buffer State {
  float gain;
  uint count;
  float sum;
} state;

bool rk_handle(RkMessage m) {
  const float scaled = rk_f32(m, 1u) * state.gain;
  state.count += 1u;
  state.sum += scaled;
  rk_out_u32(0u, rk_u32(m, 0u));
  rk_out_f32(1u, scaled);
  rk_out_u32(2u, state.count);
  rk_out_f32(3u, state.sum);
  rk_emit();
  return true;
}
