// K2K sender: Ping{seq, value} from a host -> Ping{seq, value * 3} on the output link (device
// memory; the host never sees it). No host output.
#version 460
#include "ringkernel.glsl"

bool rk_handle(RkMessage m) {
  if (rk_link_room() == 0u) return false;  // retried once the receiver made room
  rk_link_u32(0u, rk_u32(m, 0u));
  rk_link_u32(1u, rk_u32(m, 1u) * 3u);
  rk_link_u32(2u, 0u);
  rk_link_u32(3u, 0u);
  rk_link_send();
  return true;
}
