#!/usr/bin/env python3
"""tests/consumers/versions.py SOURCE_ROOT [MESON_PROJECT_VERSION]

One version everywhere: meson.build's project() version (and the version meson reports, when
given), the header's RINGKERNEL_VERSION_MAJOR/MINOR/PATCH, RINGKERNEL_VERSION_STRING and
RINGKERNEL_VERSION, the ABI namespace (v<major>_<minor>), the vcpkg manifest, the Conan recipe,
the newest release heading of CHANGELOG.md, and the version macros of any GPU header
(ringkernel_*.hpp) that defines its own.
"""
import ast
import json
import os
import re
import sys


def main():
    root = os.path.abspath(sys.argv[1])
    read = lambda *p: open(os.path.join(root, *p), encoding="utf-8").read()
    found = {}
    problems = []

    m = re.search(r"project\(\s*'ringkernel'.*?version\s*:\s*'([^']+)'", read("meson.build"), re.S)
    found["meson.build project(version:)"] = m.group(1) if m else None
    if len(sys.argv) > 2:
        found["meson.project_version()"] = sys.argv[2]

    header = read("ringkernel.hpp")
    parts = {k: re.search(rf"^#define RINGKERNEL_VERSION_{k} (\d+)\s*$", header, re.M) for k in ("MAJOR", "MINOR", "PATCH")}
    if all(parts.values()):
        major, minor, patch = (int(parts[k].group(1)) for k in ("MAJOR", "MINOR", "PATCH"))
        found["ringkernel.hpp RINGKERNEL_VERSION_MAJOR/MINOR/PATCH"] = f"{major}.{minor}.{patch}"
        packed = re.search(r"^#define RINGKERNEL_VERSION \\\n\s*\(RINGKERNEL_VERSION_MAJOR \* 10000 \+ "
                           r"RINGKERNEL_VERSION_MINOR \* 100 \+ RINGKERNEL_VERSION_PATCH\)", header, re.M)
        if not packed:
            problems.append("RINGKERNEL_VERSION is not MAJOR * 10000 + MINOR * 100 + PATCH")
        abi = re.search(r"^#define RINGKERNEL_ABI_NAMESPACE (v\d+_\d+)\s*$", header, re.M)
        if not abi or abi.group(1) != f"v{major}_{minor}":
            problems.append(f"ABI namespace {abi.group(1) if abi else '(none)'} is not v{major}_{minor}")
    else:
        problems.append("ringkernel.hpp lacks RINGKERNEL_VERSION_MAJOR/MINOR/PATCH")
    m = re.search(r'^#define RINGKERNEL_VERSION_STRING "([^"]+)"', header, re.M)
    found["ringkernel.hpp RINGKERNEL_VERSION_STRING"] = m.group(1) if m else None

    manifest = json.loads(read("packaging", "vcpkg", "ports", "ringkernel", "vcpkg.json"))
    found["packaging/vcpkg/ports/ringkernel/vcpkg.json"] = manifest.get("version")

    recipe = ast.parse(read("packaging", "conan", "conanfile.py"))
    conan_version = None
    for node in ast.walk(recipe):
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if (isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "version" for t in stmt.targets)
                        and isinstance(stmt.value, ast.Constant)):
                    conan_version = stmt.value.value
    found["packaging/conan/conanfile.py"] = conan_version

    m = re.search(r"^## \[(\d+\.\d+\.\d+)\]", read("CHANGELOG.md"), re.M)
    found["CHANGELOG.md newest release heading"] = m.group(1) if m else None

    for name in sorted(os.listdir(root)):
        if re.fullmatch(r"ringkernel_[a-z0-9]+\.hpp", name):
            text = read(name)
            tag = name[len("ringkernel_"):-len(".hpp")].upper()
            gpu = [re.search(rf"^#define RINGKERNEL_{tag}_VERSION_{k} (\d+)\s*$", text, re.M) for k in ("MAJOR", "MINOR", "PATCH")]
            if all(gpu):
                found[f"{name} RINGKERNEL_{tag}_VERSION_*"] = ".".join(g.group(1) for g in gpu)

    expected = found["meson.build project(version:)"]
    width = max(len(k) for k in found)
    for where, version in found.items():
        mark = "ok" if version == expected and version else "MISMATCH"
        print(f"  {where:<{width}}  {version}  {mark}")
        if mark != "ok":
            problems.append(f"{where} says {version}, meson.build says {expected}")
    for p in problems:
        print(f"FAIL: {p}")
    print(f"versions: {'ok, all ' + str(expected) if not problems else 'FAILED'}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
