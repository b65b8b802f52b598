#!/usr/bin/env bash
# tests/consumers/vcpkg_port.sh SOURCE_ROOT VERSION
# vcpkg cannot be installed here, so run the port's portfile.cmake in CMake script mode with
# stand-ins for the vcpkg helpers it calls (vcpkg_stubs.cmake), then check that:
#   1. it installs the same files as `meson install`, at the same relative paths, and the CMake
#      package files are byte-identical (same templates, same version);
#   2. tests/consumers/cmake builds and runs against the port's tree, and its relocatable
#      ringkernel.pc gives -I to the header and -pthread;
#   3. a feature whose header this version lacks (cuda, vulkan) fails with a clear message,
#      and one whose header exists installs it.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
src=$(cd "$1" && pwd)
version=$2
MESON_CMD=$(tool MESON meson)
CMAKE_CMD=$(tool CMAKE cmake)
port="$src/packaging/vcpkg/ports/ringkernel"

# The features whose headers exist, so that the port installs every header meson can install.
features=()
for feature in cuda vulkan; do
  if [ -f "$src/ringkernel_$feature.hpp" ]; then features+=("$feature"); fi
done
feature_list=$(IFS=';'; echo "${features[*]:-}")
step "run the portfile (features: ${feature_list:-none}) into $tmp/vcpkg"
quiet "$tmp/port.log" "$CMAKE_CMD" -DPORT_DIR="$port" -DCURRENT_PACKAGES_DIR="$tmp/vcpkg" -DFEATURES="$feature_list" \
  -P "$here/vcpkg_stubs.cmake"
grep -E "^-- vcpkg stub" "$tmp/port.log" | sed 's/^/  /'
(cd "$tmp/vcpkg" && find . -type f | sort | sed 's/^/  /')

step "1. same layout as meson install"
meson_install "$src" "$tmp/dest"
prefix="$tmp/dest/usr/local"
(cd "$prefix" && find . -type f | sort) >"$tmp/meson.files"
while read -r f; do
  [ -f "$tmp/vcpkg/$f" ] || { echo "FAILED: meson installs $f, the port does not"; exit 1; }
  case "$f" in
    *.pc) ;;  # absolute prefix (meson) vs ${pcfiledir} (port): compared by content below
    *) cmp "$prefix/$f" "$tmp/vcpkg/$f" || { echo "FAILED: $f differs between meson install and the port"; exit 1; } ;;
  esac
  echo "  same: $f"
done <"$tmp/meson.files"
for field in Name Version Libs Cflags; do
  a=$(grep "^$field:" "$prefix/share/pkgconfig/ringkernel.pc")
  b=$(grep "^$field:" "$tmp/vcpkg/share/pkgconfig/ringkernel.pc")
  [ "$a" = "$b" ] || { echo "FAILED: ringkernel.pc $field: meson '$a', port '$b'"; exit 1; }
done
echo "  ringkernel.pc: same Name, Version, Libs, Cflags"

step "2. tests/consumers/cmake against the port's tree"
gen=()
if command -v ninja >/dev/null; then gen=(-G Ninja); fi
quiet "$tmp/consumer.configure.log" "$CMAKE_CMD" "${gen[@]}" -S "$here/cmake" -B "$tmp/consumer" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_PREFIX_PATH="$tmp/vcpkg"
grep -E "^-- ringkernel consumer:" "$tmp/consumer.configure.log" | sed 's/^/  /'
grep -qF "include=$tmp/vcpkg/include link=Threads::Threads" "$tmp/consumer.configure.log" ||
  { echo "FAILED: the target does not point at the port's include directory"; exit 1; }
quiet "$tmp/consumer.build.log" "$CMAKE_CMD" --build "$tmp/consumer"
"$tmp/consumer/consumer_app" "$version"
if PKG_CONFIG_CMD=$(command -v "${PKG_CONFIG:-pkg-config}"); then
  flags=$(PKG_CONFIG_PATH="$tmp/vcpkg/share/pkgconfig" "$PKG_CONFIG_CMD" --cflags --libs ringkernel)
  echo "  pkg-config --cflags --libs: $flags"
  grep -q -- "-I$tmp/vcpkg/share/pkgconfig/../../include" <<<"$flags" || grep -q -- "-I$tmp/vcpkg/include" <<<"$flags" ||
    { echo "FAILED: the port's ringkernel.pc gives no -I to its include directory"; exit 1; }
  grep -q -- "-pthread" <<<"$flags" || { echo "FAILED: the port's ringkernel.pc lacks -pthread"; exit 1; }
else
  echo "  (pkg-config not installed: the port's ringkernel.pc is not queried)"
fi

step "3. features"
for feature in cuda vulkan; do
  if "$CMAKE_CMD" -DPORT_DIR="$port" -DCURRENT_PACKAGES_DIR="$tmp/vcpkg-$feature" -DFEATURES="$feature" \
      -P "$here/vcpkg_stubs.cmake" >"$tmp/port-$feature.log" 2>&1; then
    [ -f "$src/ringkernel_$feature.hpp" ] || { echo "FAILED: feature $feature succeeded without ringkernel_$feature.hpp"; exit 1; }
    cmp "$src/ringkernel_$feature.hpp" "$tmp/vcpkg-$feature/include/ringkernel_$feature.hpp"
    echo "  $feature: installs ringkernel_$feature.hpp"
  else
    [ ! -f "$src/ringkernel_$feature.hpp" ] || { echo "FAILED: feature $feature failed"; tail -20 "$tmp/port-$feature.log"; exit 1; }
    msg=$(grep -oE "feature '$feature' needs ringkernel_$feature.hpp[^\"]*" "$tmp/port-$feature.log" | head -1 || true)
    [ -n "$msg" ] || { echo "FAILED: feature $feature failed without the expected message"; tail -20 "$tmp/port-$feature.log"; exit 1; }
    echo "  $feature: refused, as this version has no ringkernel_$feature.hpp: $msg"
  fi
done

echo "vcpkg port: ok"
