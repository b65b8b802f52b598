#!/usr/bin/env bash
# tests/compile_matrix.sh SOURCE_ROOT: compiles tests/compile_matrix.cpp with every available
# compiler (g++, clang++) in C++17 and C++20 with warnings as errors, and
# tests/compile_matrix_vulkan.cpp the same way where volk.h is installed. Fails on any diagnostic.
set -uo pipefail
root=$1
status=0
tried=0
for cxx in g++ clang++; do
  command -v "$cxx" >/dev/null || { echo "skip: $cxx not installed"; continue; }
  for std in c++17 c++20; do
    tried=$((tried + 1))
    if out=$("$cxx" -std=$std -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I "$root" \
        "$root/tests/compile_matrix.cpp" 2>&1); then
      echo "ok: $cxx -std=$std"
    else
      echo "FAIL: $cxx -std=$std"; echo "$out" | head -40; status=1
    fi
  done
done
# The Vulkan header too, where its toolkit (Vulkan headers + volk.h) is installed.
for cxx in g++ clang++; do
  command -v "$cxx" >/dev/null || continue
  if ! echo '#include <volk.h>' | "$cxx" -std=c++17 -fsyntax-only -x c++ - 2>/dev/null; then
    echo "skip: $cxx has no volk.h (ringkernel_vulkan.hpp not compiled)"
    continue
  fi
  for std in c++17 c++20; do
    if out=$("$cxx" -std=$std -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I "$root" \
        "$root/tests/compile_matrix_vulkan.cpp" 2>&1); then
      echo "ok: $cxx -std=$std ringkernel_vulkan.hpp"
    else
      echo "FAIL: $cxx -std=$std ringkernel_vulkan.hpp"; echo "$out" | head -40; status=1
    fi
  done
done
[ "$tried" -gt 0 ] || { echo "no compiler found"; exit 1; }
exit $status
