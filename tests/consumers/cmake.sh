#!/usr/bin/env bash
# tests/consumers/cmake.sh SOURCE_ROOT VERSION
# find_package(ringkernel CONFIG) against a `meson install --destdir` tree:
#   1. tests/consumers/cmake (CMAKE_PREFIX_PATH=<destdir>/usr/local): the targets defined, the
#      include directory and Threads, then build and run the two-TU program;
#   2. ringkernelConfigVersion.cmake and the components check (cmake/version_probe);
#   3. Conan's test_package CMakeLists.txt, which uses the same names;
#   4. the installed tree copied elsewhere still works (the config finds its prefix itself);
#   5. with ringkernel_cuda.hpp / ringkernel_vulkan.hpp present, ringkernel::cuda/vulkan are
#      defined exactly when their toolkit is found, and a required missing one says why.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
src=$(cd "$1" && pwd)
version=$2
MESON_CMD=$(tool MESON meson)
CMAKE_CMD=$(tool CMAKE cmake)
gen=()
if command -v ninja >/dev/null; then gen=(-G Ninja); fi

dest="$tmp/dest"
prefix="$dest/usr/local"
step "meson install --destdir $dest (prefix /usr/local)"
meson_install "$src" "$dest"
(cd "$prefix" && find . -type f -path './share/ringkernel/*' | sort | sed 's/^/  /')

# configure LABEL SOURCE_DIR BUILD_DIR ARGS...: configure, keep the log, show our STATUS lines.
configure() {
  local label=$1 s=$2 b=$3; shift 3
  quiet "$tmp/$label.configure.log" "$CMAKE_CMD" "${gen[@]}" -S "$s" -B "$b" -DCMAKE_BUILD_TYPE=Debug "$@"
  grep -E "^-- (ringkernel consumer|probe|gpu):" "$tmp/$label.configure.log" | sed 's/^/  /' || true
}
expect_line() {  # LABEL PATTERN
  grep -qF -- "$2" "$tmp/$1.configure.log" || { echo "FAILED: configure output lacks: $2"; exit 1; }
}

step "1. tests/consumers/cmake: find_package(ringkernel 0.1 CONFIG REQUIRED)"
configure consumer "$here/cmake" "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix"
expect_line consumer "target ringkernel::ringkernel defined"
expect_line consumer "ringkernel_DIR=$prefix/share/ringkernel version=$version"
expect_line consumer "include=$prefix/include link=Threads::Threads"
quiet "$tmp/consumer.build.log" "$CMAKE_CMD" --build "$tmp/consumer"
"$tmp/consumer/consumer_app" "$version"

step "2. version and components checks"
configure probe "$here/cmake/version_probe" "$tmp/probe" -DCMAKE_PREFIX_PATH="$prefix" -DEXPECT_VERSION="$version"

step "3. packaging/conan/test_package/CMakeLists.txt"
configure conan_test_package "$src/packaging/conan/test_package" "$tmp/conan_test_package" -DCMAKE_PREFIX_PATH="$prefix"
quiet "$tmp/conan_test_package.build.log" "$CMAKE_CMD" --build "$tmp/conan_test_package"
"$tmp/conan_test_package/test_package"

step "4. the installed tree copied to another prefix"
cp -a "$prefix" "$tmp/moved"
configure moved "$here/cmake" "$tmp/moved-build" -DCMAKE_PREFIX_PATH="$tmp/moved"
expect_line moved "include=$tmp/moved/include link=Threads::Threads"

step "5. optional targets, with stand-in GPU headers in a copy of the tree"
cp -a "$prefix" "$tmp/gpu"
for b in cuda vulkan; do
  [ -f "$tmp/gpu/include/ringkernel_$b.hpp" ] || echo "// stand-in for the test" >"$tmp/gpu/include/ringkernel_$b.hpp"
done
mkdir -p "$tmp/gpu-project"
cat >"$tmp/gpu-project/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(gpu_probe LANGUAGES CXX)
find_package(ringkernel CONFIG REQUIRED OPTIONAL_COMPONENTS cuda vulkan)
foreach(c cuda vulkan)
  if(TARGET ringkernel::${c})
    get_target_property(libs ringkernel::${c} INTERFACE_LINK_LIBRARIES)
    message(STATUS "gpu: ${c} defined=1 found=${ringkernel_${c}_FOUND} link=${libs}")
  else()
    message(STATUS "gpu: ${c} defined=0 found=${ringkernel_${c}_FOUND}")
  endif()
endforeach()
if(REQUIRE)
  find_package(ringkernel CONFIG REQUIRED COMPONENTS ${REQUIRE})
  message(STATUS "gpu: required ${REQUIRE} accepted")
endif()
CMAKE
configure gpu "$tmp/gpu-project" "$tmp/gpu-build" -DCMAKE_PREFIX_PATH="$tmp/gpu"
for b in cuda vulkan; do
  defined=$(grep -oE "gpu: $b defined=[01]" "$tmp/gpu.configure.log" | tail -c 2)
  if "$CMAKE_CMD" "${gen[@]}" -S "$tmp/gpu-project" -B "$tmp/gpu-build-$b" -DCMAKE_PREFIX_PATH="$tmp/gpu" \
      -DREQUIRE="$b" >"$tmp/gpu-$b.log" 2>&1; then
    accepted=1
    echo "  COMPONENTS $b required: accepted"
  else
    accepted=0
    reason=$(grep -oE "component $b: .*" "$tmp/gpu-$b.log" | head -1 || true)
    [ -n "$reason" ] || { echo "FAILED: a required missing $b gives no reason"; tail -30 "$tmp/gpu-$b.log"; exit 1; }
    echo "  COMPONENTS $b required: refused: $reason"
  fi
  [ "$defined" = "$accepted" ] || { echo "FAILED: $b target defined=$defined but required component accepted=$accepted"; exit 1; }
done

echo "cmake find_package: ok"
