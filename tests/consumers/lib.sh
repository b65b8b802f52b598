# Sourced by the consumer/packaging test scripts in this folder. Gives:
#   $tmp             a fresh temporary directory, removed on exit (KEEP_TMP=1 keeps it)
#   skip MSG         prints "SKIP: MSG" and exits 77, which meson counts as skipped
#   tool VAR NAME    the path of tool NAME: $VAR if tests/meson.build set it, else NAME from
#                    PATH; skips the test when neither exists
#   step MSG         prints a progress line
#   quiet LOG CMD..  runs CMD with output to LOG; on failure prints the log's tail and exits 1
#   meson_install SRC DESTDIR
#                    configures SRC with every optional part disabled and installs it under
#                    DESTDIR (prefix /usr/local), as a packager would
# Nothing is written outside $tmp.
set -euo pipefail

skip() { echo "SKIP: $*" >&2; exit 77; }
step() { echo "--- $*"; }

tool() {
  local var=$1 name=$2 path
  path=${!var:-}
  if [ -z "$path" ]; then path=$(command -v "$name" 2>/dev/null || true); fi
  if [ -z "$path" ] || [ ! -x "$path" ]; then skip "$name not found (install it to run this test)"; fi
  printf '%s\n' "$path"
}

quiet() {
  local log=$1; shift
  if ! "$@" >"$log" 2>&1; then
    echo "FAILED: $*"
    tail -n 60 "$log"
    exit 1
  fi
}

meson_install() {
  local src=$1 destdir=$2 build
  build=$(mktemp -d "$tmp/meson-install-build.XXXX")
  quiet "$build.setup.log" "$MESON_CMD" setup "$build" "$src" --prefix=/usr/local \
    -Dtests=disabled -Dexamples=disabled -Dbench=disabled -Dfuzz=disabled -Dcuda=disabled -Dvulkan=disabled -Dpython=disabled
  quiet "$build.install.log" "$MESON_CMD" install -C "$build" --destdir "$destdir"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ringkernel-test.XXXXXX")
if [ "${KEEP_TMP:-0}" = 1 ]; then
  echo "(keeping $tmp)"
else
  trap 'rm -rf "$tmp"' EXIT
fi
