// compile_matrix_vulkan.cpp: ringkernel_vulkan.hpp with its implementation (and volk.c), compiled
// by tests/compile_matrix.sh with every compiler and standard when volk.h is installed.
#define RINGKERNEL_IMPLEMENTATION
#include "ringkernel_vulkan.hpp"

int main() {
  ringkernel::vulkan::KernelOptions options;
  options.with_iteration_budget(1024).with_idle_iterations(64).with_max_batch(8);
  return ringkernel::vulkan::glsl_prelude()[0] == '\0' || options.iteration_budget() != 1024;
}
