#!/usr/bin/env bash
# fuzz/run.sh BUILD_DIR SECONDS_PER_TARGET
#
# Runs every libFuzzer target of a build configured with -Dfuzz=enabled for a bounded time,
# each starting from a scratch copy of its committed seed corpus (fuzz/corpus/<name>/ is
# never written). Work files, new inputs and crash artifacts go to BUILD_DIR/fuzz-work/.
# Prints one line per target and exits non-zero if any target crashed or failed to run.
set -euo pipefail

usage() {
  echo "usage: $0 BUILD_DIR SECONDS_PER_TARGET" >&2
  exit 2
}
[[ $# -eq 2 ]] || usage
build_dir=$1
secs=$2
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "$0: SECONDS_PER_TARGET must be a positive integer, got '$secs'" >&2; usage; }
[[ -d $build_dir ]] || { echo "$0: no build directory '$build_dir'" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir=$(cd "$build_dir" && pwd)
work=$build_dir/fuzz-work

# target name, corpus directory under fuzz/corpus, extra libFuzzer flags
targets=(
  "fuzz_envelope envelope -max_len=8192"
  "fuzz_hlc hlc -max_len=64"
  "fuzz_topic topic -max_len=512"
  "fuzz_scene scene -max_len=4096"
  "fuzz_baseline baseline -max_len=4096"
)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }
count_files() { find "$1" -type f | wc -l | tr -d ' '; }

mkdir -p "$work"

# The committed corpus should be what make_corpus writes; a mismatch is only a warning.
if [[ -x $build_dir/fuzz/make_corpus ]]; then
  rm -rf "$work/corpus-regen"
  if "$build_dir/fuzz/make_corpus" "$work/corpus-regen" </dev/null >/dev/null &&
    diff -r -q "$here/corpus" "$work/corpus-regen" >/dev/null; then
    echo "corpus: matches make_corpus output"
  else
    echo "corpus: WARNING: fuzz/corpus differs from make_corpus output (regenerate: rm -rf fuzz/corpus && $build_dir/fuzz/make_corpus fuzz/corpus)"
  fi
fi

failed=0
for spec in "${targets[@]}"; do
  read -r name corpus extra <<<"$spec"
  bin=$build_dir/fuzz/$name
  if [[ ! -x $bin ]]; then
    echo "$name: FAILED, no executable $bin (configure with CXX=clang++ -Dfuzz=enabled and build first)"
    failed=1
    continue
  fi
  tdir=$work/$name
  rm -rf "$tdir"
  mkdir -p "$tdir/corpus" "$tdir/artifacts"
  cp -R "$here/corpus/$corpus/." "$tdir/corpus/"
  seeds=$(count_files "$tdir/corpus")
  log=$tdir/fuzz.log

  start=$(date +%s)
  rc=0
  # shellcheck disable=SC2086 # $extra is a list of flags
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$tdir/artifacts/" $extra "$tdir/corpus" </dev/null >"$log" 2>&1 || rc=$?
  elapsed=$(($(date +%s) - start))

  runs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  cov=$(sed -n 's/^#[0-9]*[[:space:]]*DONE[[:space:]]*cov: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
  artifacts=$(find "$tdir/artifacts" -type f | sort)

  if [[ $rc -eq 0 && -n $runs && -z $artifacts ]]; then
    echo "$name: ok, $runs runs in $elapsed s (cov ${cov:-?}, corpus $seeds -> $(count_files "$tdir/corpus") files)"
    continue
  fi

  failed=1
  echo "$name: FAILED (exit $rc) after ${runs:-?} runs in $elapsed s; log: $log"
  echo "---- last lines of $log ----"
  tail -n 40 "$log" | sed 's/^/    /'
  echo "----"
  if [[ -n $artifacts ]]; then
    while IFS= read -r a; do
      echo "  artifact $a ($(wc -c <"$a" | tr -d ' ') bytes): $(hex "$a" | cut -c1-2048)"
      echo "  reproduce: $bin '$a'    minimize: $bin -minimize_crash=1 -runs=100000 '$a'"
    done <<<"$artifacts"
  fi
done

exit "$failed"
