#!/usr/bin/env bash
# tests/compile_matrix.sh SOURCE_ROOT: compiles tests/compile_matrix.cpp with every available
# compiler (g++, clang++) in C++17 and C++20 with warnings as errors. Fails on any diagnostic.
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
[ "$tried" -gt 0 ] || { echo "no compiler found"; exit 1; }
exit $status
