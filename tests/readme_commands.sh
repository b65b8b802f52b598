#!/usr/bin/env bash
# tests/readme_commands.sh SOURCE_ROOT: the README opens with exactly the two commands that
# .ci/run executes (it extracts them from the README's first code block): check that block.
set -uo pipefail
root=$1
first_line=$(head -1 "$root/README.md")
[ "$first_line" = '```sh' ] || { echo "README.md must open with a \`\`\`sh block, found: $first_line"; exit 1; }
mapfile -t cmds < <(awk '/^```/ {n++; next} n == 1' "$root/README.md" | sed '/^[[:space:]]*$/d')
[ "${#cmds[@]}" -eq 2 ] || { echo "README's first block must hold exactly 2 commands, found ${#cmds[@]}"; exit 1; }
case "${cmds[0]}" in
  "apt-get update && apt-get install -y "*" && meson setup build "*"build/examples/"*) ;;
  "apt-get update && apt-get install -y "*" && meson setup build && "*"build/examples/"*) ;;
  *) echo "command 1 must update apt, install, set up 'build' and run an example: ${cmds[0]}"; exit 1 ;;
esac
case "${cmds[1]}" in
  "meson test -C build"*) ;;
  *) echo "command 2 must run the test suite with 'meson test -C build': ${cmds[1]}"; exit 1 ;;
esac
for pkg in g++ meson ninja-build doctest-dev; do
  grep -qw -- "$pkg" <<<"${cmds[0]}" || { echo "command 1 does not install $pkg"; exit 1; }
done
grep -q "awk '/^\`\`\`/ {n++; next} n == 1' README.md" "$root/.ci/run" ||
  { echo ".ci/run no longer extracts the README's commands the same way"; exit 1; }
echo "README commands: ok"
printf '  1: %s\n  2: %s\n' "${cmds[0]}" "${cmds[1]}"
