#!/usr/bin/env bash
# tests/consumers/install_pkgconfig.sh SOURCE_ROOT VERSION
# `meson install --destdir` lays out the package; check the layout, what ringkernel.pc says
# (-I to the header, -pthread, the version), and build the two-TU program with the flags
# pkg-config gives: once with the compiler alone, once as a Meson project whose dependency()
# finds ringkernel through pkg-config.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
src=$(cd "$1" && pwd)
version=$2
MESON_CMD=$(tool MESON meson)
PKG_CONFIG_CMD=$(tool PKG_CONFIG pkg-config)
cxx=$(command -v c++ || command -v g++ || command -v clang++ || true)
[ -n "$cxx" ] || skip "no C++ compiler on PATH"

dest="$tmp/dest"
prefix="$dest/usr/local"
step "meson install --destdir $dest (prefix /usr/local)"
meson_install "$src" "$dest"
(cd "$dest" && find . -type f | sort | sed 's/^/  /')
for f in include/ringkernel.hpp share/pkgconfig/ringkernel.pc share/ringkernel/ringkernelConfig.cmake \
         share/ringkernel/ringkernelConfigVersion.cmake; do
  [ -f "$prefix/$f" ] || { echo "FAILED: $f is not installed"; exit 1; }
done
extra=$(cd "$prefix" && find . -type f | sed 's|^\./||' | grep -v -E '^(include/ringkernel(_[a-z]+)?\.hpp|share/pkgconfig/ringkernel\.pc|share/ringkernel/ringkernelConfig(Version)?\.cmake)$' || true)
[ -z "$extra" ] || { echo "FAILED: unexpected installed files:"; echo "$extra"; exit 1; }
cmp "$src/ringkernel.hpp" "$prefix/include/ringkernel.hpp"

step "ringkernel.pc"
sed 's/^/  /' "$prefix/share/pkgconfig/ringkernel.pc"
export PKG_CONFIG_PATH="$prefix/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$dest"
modversion=$("$PKG_CONFIG_CMD" --modversion ringkernel)
cflags=$("$PKG_CONFIG_CMD" --cflags ringkernel)
libs=$("$PKG_CONFIG_CMD" --libs ringkernel)
echo "  with PKG_CONFIG_SYSROOT_DIR: --modversion: $modversion  --cflags: $cflags  --libs: $libs"
[ "$modversion" = "$version" ] || { echo "FAILED: version $modversion, expected $version"; exit 1; }
grep -q -- "-I$prefix/include" <<<"$cflags" || { echo "FAILED: --cflags lacks -I$prefix/include"; exit 1; }
grep -q -- "-pthread" <<<"$libs" || { echo "FAILED: --libs lacks -pthread"; exit 1; }
if "$PKG_CONFIG_CMD" --help 2>&1 | grep -q -- --define-prefix; then
  relocated=$(PKG_CONFIG_SYSROOT_DIR= "$PKG_CONFIG_CMD" --define-prefix --cflags ringkernel)
  echo "  with --define-prefix: --cflags: $relocated"
  grep -q -- "-I$prefix/include" <<<"$relocated" || { echo "FAILED: --define-prefix --cflags lacks -I$prefix/include"; exit 1; }
fi

step "compile with \$(pkg-config --cflags --libs ringkernel) and run"
app="$here/app"
# shellcheck disable=SC2086  # the flags are words
quiet "$tmp/cxx.log" "$cxx" -std=c++17 -Wall -Wextra -Werror $cflags '-DRINGKERNEL_CONSUMER_VIA="pkg-config"' \
  "$app/main.cpp" "$app/ringkernel_impl.cpp" $libs -o "$tmp/app-pkgconfig"
"$tmp/app-pkgconfig" "$version"

step "Meson project, dependency('ringkernel') found by pkg-config"
cp -r "$here/meson" "$tmp/meson"
cp -r "$here/app" "$tmp/app"
quiet "$tmp/meson.setup.log" "$MESON_CMD" setup "$tmp/meson-build" "$tmp/meson" --wrap-mode=nofallback \
  -Dfallback=false -Dexpected_version="$version"
grep -E "ringkernel dependency:" "$tmp/meson.setup.log" | sed 's/^/  /'
grep -q "ringkernel dependency: type pkgconfig" "$tmp/meson.setup.log" ||
  { echo "FAILED: ringkernel was not found through pkg-config"; exit 1; }
quiet "$tmp/meson.compile.log" "$MESON_CMD" compile -C "$tmp/meson-build"
quiet "$tmp/meson.test.log" "$MESON_CMD" test -C "$tmp/meson-build" --print-errorlogs
grep -E "^consumer \(" "$tmp/meson-build/meson-logs/testlog.txt" | sed 's/^/  /'

echo "meson install + pkg-config: ok"
