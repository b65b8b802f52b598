// K2K receiver: Ping{seq, value} from the input link (ring 1) -> Pong{seq, value + 1, ring,
// messages seen}. Host messages (ring 0) are answered the same way.
#version 460
#include "ringkernel.glsl"

layout(set = 0, binding = 3, std430) buffer State {
  uint count;
} state;

bool rk_handle(RkMessage m) {
  state.count += 1u;
  rk_out_u32(0u, rk_u32(m, 0u));
  rk_out_u32(1u, rk_u32(m, 1u) + 1u);
  rk_out_u32(2u, m.ring);
  rk_out_u32(3u, state.count);
  rk_emit();
  return true;
}
