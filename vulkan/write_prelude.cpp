// Writes ringkernel's GLSL prelude (vulkan::glsl_prelude()) to the path given, for glslc -I.
// Built by vulkan/meson.build; users of other build systems call vulkan::write_glsl_prelude.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel_vulkan.hpp"

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT.glsl\n", argv[0]);
    return 2;
  }
  try {
    ringkernel::vulkan::write_glsl_prelude(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
