#!/usr/bin/env bash
# tests/consumers/meson_subproject.sh SOURCE_ROOT VERSION
# The Meson subproject ways, on a temporary copy of tests/consumers/meson:
#   1. subprojects/ringkernel is a symlink to SOURCE_ROOT; dependency() names the fallback;
#   2. subprojects/ringkernel.wrap is a [wrap-file] whose archive (made here from SOURCE_ROOT) is
#      already in subprojects/packagecache, so nothing is downloaded; dependency() names no
#      fallback: the wrap's [provide] section resolves it.
# Each: meson setup (subproject forced), compile, run the program through `meson test`.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
src=$(cd "$1" && pwd)
version=$2
MESON_CMD=$(tool MESON meson)
tool NINJA ninja >/dev/null

consumer() {  # $1 = directory of the copy
  mkdir -p "$1"
  cp -r "$here/meson" "$1/meson"
  cp -r "$here/app" "$1/app"
  mkdir -p "$1/meson/subprojects"
}
build_and_run() {  # $1 = copy, $2 = label, remaining: setup options
  local dir=$1 label=$2; shift 2
  quiet "$tmp/$label.setup.log" "$MESON_CMD" setup "$dir/build" "$dir/meson" --force-fallback-for=ringkernel \
    -Dexpected_version="$version" "$@"
  grep -E "ringkernel dependency:|Subproject ringkernel" "$tmp/$label.setup.log" | sed 's/^/  /'
  grep -q "ringkernel dependency: type internal" "$tmp/$label.setup.log" ||
    { echo "FAILED: ringkernel was not taken from the subproject"; exit 1; }
  quiet "$tmp/$label.compile.log" "$MESON_CMD" compile -C "$dir/build"
  quiet "$tmp/$label.test.log" "$MESON_CMD" test -C "$dir/build" --print-errorlogs
  grep -E "^consumer \(" "$dir/build/meson-logs/testlog.txt" | sed 's/^/  /'
}

step "1. subprojects/ringkernel -> $src (symlink), dependency() with fallback"
consumer "$tmp/symlink"
ln -s "$src" "$tmp/symlink/meson/subprojects/ringkernel"
build_and_run "$tmp/symlink" symlink

step "2. subprojects/ringkernel.wrap ([wrap-file] + [provide]), dependency() without fallback"
consumer "$tmp/wrap"
stage="$tmp/stage/ringkernel-$version"
mkdir -p "$stage" "$tmp/wrap/meson/subprojects/packagecache"
# The release archive a wrap would download: the source tree without build trees or VCS data.
tar -C "$src" --exclude='./build*' --exclude='./_build*' --exclude=./.git --exclude=./fuzz-work \
  --exclude=./.carry --exclude=./.gl -cf - . | tar -C "$stage" -xf -
archive="ringkernel-$version.tar.gz"
tar -C "$tmp/stage" -czf "$tmp/wrap/meson/subprojects/packagecache/$archive" "ringkernel-$version"
hash=$(sha256sum "$tmp/wrap/meson/subprojects/packagecache/$archive" | cut -d' ' -f1)
cat > "$tmp/wrap/meson/subprojects/ringkernel.wrap" <<WRAP
[wrap-file]
directory = ringkernel-$version
source_url = https://example.invalid/ringkernel/$archive
source_filename = $archive
source_hash = $hash

[provide]
dependency_names = ringkernel
WRAP
sed 's/^/  /' "$tmp/wrap/meson/subprojects/ringkernel.wrap"
build_and_run "$tmp/wrap" wrap -Dfallback=false

echo "meson subproject: ok (symlink + fallback, wrap-file + provide)"
