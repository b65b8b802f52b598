#!/usr/bin/env bash
# tests/consumers/dropin.sh SOURCE_ROOT VERSION
# The drop-in way: copy only the header(s) into an empty directory next to a two-TU program and
# build it with the compiler alone (no build system), with g++ and with clang++ when present.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
src=$1
version=$2

step "copy the headers and the program into $tmp/app"
mkdir -p "$tmp/app"
cp "$src"/ringkernel*.hpp "$tmp/app/"
cp "$here/app/main.cpp" "$here/app/ringkernel_impl.cpp" "$here/app/messages.hpp" "$tmp/app/"
ls "$tmp/app"

built=0
for cxx in g++ clang++; do
  if ! command -v "$cxx" >/dev/null; then echo "skip: $cxx not installed"; continue; fi
  step "$cxx: compile two TUs separately, link, run"
  (
    cd "$tmp/app"
    quiet "$tmp/$cxx.log" sh -c "$cxx -std=c++17 -Wall -Wextra -Wpedantic -Werror -pthread -c main.cpp -o main.o &&
      $cxx -std=c++17 -Wall -Wextra -Wpedantic -Werror -pthread -c ringkernel_impl.cpp -o impl.o &&
      $cxx -pthread main.o impl.o -o app-$cxx"
    ./"app-$cxx" "$version"
  )
  built=$((built + 1))
done
[ "$built" -gt 0 ] || skip "neither g++ nor clang++ is installed"
echo "drop-in: ok ($built compiler(s))"
