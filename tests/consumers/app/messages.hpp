// The consumer program every packaging test builds — drop-in copy, Meson subproject and wrap,
// pkg-config, CMake find_package, the vcpkg port's layout — from two translation units, the way
// a user's program is put together: ringkernel_impl.cpp compiles the implementation once,
// main.cpp uses the API. This header is what both share.
#pragma once

#include <cstdint>

#include "ringkernel.hpp"

namespace app {

struct Request {
  std::int64_t x;
};
RINGKERNEL_MESSAGE(Request, 0xC0A1)

struct Reply {
  std::int64_t square;
  std::int64_t calls;
};
RINGKERNEL_MESSAGE(Reply, 0xC0A2)

/// A message handler whose data member is the kernel's persistent state.
struct Squarer {
  using input_type = Request;
  using output_type = Reply;
  std::int64_t calls = 0;
  RINGKERNEL_HD Reply operator()(const Request& r) { return Reply{r.x * r.x, ++calls}; }
};

/// Defined in ringkernel_impl.cpp: RINGKERNEL_VERSION_STRING as that TU saw it.
const char* implementation_tu_version();

}  // namespace app
