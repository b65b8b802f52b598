#!/usr/bin/env bash
# expect_fail.sh COMPILER [ARGS...] -- FILE PATTERN
#
# Compiles FILE with the compiler command before `--` and passes (exit 0) only when the
# compilation FAILS and its output contains PATTERN (a fixed string). Fails (exit 1) when FILE
# compiles, or when it fails for another reason than the expected diagnostic.
set -u

usage() { echo "usage: $0 COMPILER [ARGS...] -- FILE PATTERN" >&2; exit 2; }

cmd=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  cmd+=("$1")
  shift
done
[ $# -eq 3 ] || usage   # "--" FILE PATTERN
[ ${#cmd[@]} -gt 0 ] || usage
file=$2
pattern=$3
[ -f "$file" ] || { echo "expect_fail: no such file: $file" >&2; exit 2; }

echo "expect_fail: ${cmd[*]} $file"
output=$("${cmd[@]}" "$file" 2>&1)
status=$?
if [ $status -eq 0 ]; then
  printf '%s\n' "$output"
  echo "expect_fail: FAIL: $file compiled, but it must not" >&2
  exit 1
fi
if ! printf '%s\n' "$output" | grep -qF -- "$pattern"; then
  printf '%s\n' "$output"
  echo "expect_fail: FAIL: $file did not compile (status $status), but the output lacks \"$pattern\"" >&2
  exit 1
fi
echo "expect_fail: ok: $file failed to compile with \"$pattern\""
exit 0
