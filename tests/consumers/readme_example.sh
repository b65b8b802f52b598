#!/usr/bin/env bash
# tests/consumers/readme_example.sh SOURCE_ROOT
# Every ```cpp block of README.md that is a whole program (it has `int main(`) is extracted,
# compiled next to a copy of the header with warnings as errors, and run; it must exit 0.
# Fails if the README has no such block.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
src=$(cd "$1" && pwd)
cxx=$(command -v c++ || command -v g++ || command -v clang++ || true)
[ -n "$cxx" ] || skip "no C++ compiler on PATH"

cp "$src"/ringkernel*.hpp "$tmp/"
# Split the README's ```cpp blocks into block-N.cpp, recording each block's first line number.
awk -v dir="$tmp" '
  /^```cpp[[:space:]]*$/ { n++; inside = 1; file = dir "/block-" n ".cpp"; print NR + 1 > (dir "/block-" n ".line"); next }
  /^```/ && inside { inside = 0; close(file); next }
  inside { print > file }
' "$src/README.md"

programs=0
for f in "$tmp"/block-*.cpp; do
  [ -e "$f" ] || continue
  grep -q 'int main(' "$f" || continue
  programs=$((programs + 1))
  line=$(cat "${f%.cpp}.line")
  step "README.md line $line: $(grep -c '' "$f")-line program"
  quiet "$tmp/compile-$programs.log" "$cxx" -std=c++17 -Wall -Wextra -Wpedantic -Werror -pthread -I "$tmp" \
    "$f" -o "$tmp/program-$programs"
  if out=$(cd "$tmp" && timeout 60 "./program-$programs" 2>&1); then
    [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/  /'
    echo "  exit 0"
  else
    rc=$?
    printf '%s\n' "$out" | sed 's/^/  /'
    echo "FAILED: README.md line $line: the program exited $rc"
    exit 1
  fi
done
[ "$programs" -gt 0 ] || { echo "FAILED: README.md has no \`\`\`cpp block with int main("; exit 1; }
echo "README examples: ok ($programs program(s))"
