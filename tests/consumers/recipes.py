#!/usr/bin/env python3
"""tests/consumers/recipes.py SOURCE_ROOT

Checks the package recipes that cannot be run here (neither vcpkg nor Conan is installed):
  1. packaging/conan/conanfile.py and test_package/conanfile.py compile (py_compile);
  2. the vcpkg manifest is valid JSON with the name, version and the cuda/vulkan features, and
     the port has its portfile and usage files;
  3. the Conan recipe runs against minimal stand-ins for the `conan` modules it imports: its
     attributes, export_sources() + package() lay out include/ringkernel.hpp and
     licenses/LICENSE, requirements() per option, and package_info() gives the CMake names
     that ringkernelConfig.cmake gives (ringkernel::ringkernel, ::cuda, ::vulkan).
The stand-ins model only what the recipe calls; `conan create packaging/conan` is the real test
where Conan is available.
"""
import filecmp
import fnmatch
import importlib.util
import json
import os
import py_compile
import shutil
import sys
import tempfile
import types

sys.dont_write_bytecode = True  # importing the recipe must leave no __pycache__ in the source tree
failures = 0


def check(ok, what):
    global failures
    print(f"  [{' ok ' if ok else 'FAIL'}] {what}")
    if not ok:
        failures += 1


def install_conan_stand_ins():
    """Registers fake `conan`, `conan.errors`, `conan.tools.*` modules in sys.modules."""

    class ConanException(Exception):
        pass

    class ConanInvalidConfiguration(ConanException):
        pass

    class ConanFile:
        pass

    def copy(conanfile, pattern, src, dst, keep_path=True, excludes=None, ignore_case=True):
        # As conan.tools.files.copy: `pattern` is matched (fnmatch) against paths relative to src.
        copied = []
        for root, dirs, files in os.walk(src):
            dirs[:] = [d for d in dirs if not d.startswith(("build", ".git"))]
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), src)
                matches = fnmatch.fnmatch(rel.lower(), pattern.lower()) if ignore_case else fnmatch.fnmatchcase(rel, pattern)
                if not matches:
                    continue
                target = os.path.join(dst, rel if keep_path else name)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(os.path.join(root, name), target)
                copied.append(target)
        return copied

    def check_min_cppstd(conanfile, cppstd):
        have = str(conanfile.settings.get_safe("compiler.cppstd")).replace("gnu", "")
        if int(have) < int(cppstd):
            raise ConanInvalidConfiguration(f"needs C++{cppstd}, compiler.cppstd is {have}")

    def basic_layout(conanfile, src_folder="."):
        conanfile.layout_src_folder = src_folder

    modules = {
        "conan": {"ConanFile": ConanFile},
        "conan.errors": {"ConanException": ConanException, "ConanInvalidConfiguration": ConanInvalidConfiguration},
        "conan.tools": {},
        "conan.tools.build": {"check_min_cppstd": check_min_cppstd, "can_run": lambda conanfile: True},
        "conan.tools.files": {"copy": copy},
        "conan.tools.layout": {"basic_layout": basic_layout},
        "conan.tools.cmake": {"CMake": object, "cmake_layout": lambda conanfile: None},
    }
    for name, attrs in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules[name] = module
    return ConanInvalidConfiguration


class Values(dict):
    """self.options / self.settings: attribute access plus get_safe()."""

    def __getattr__(self, name):
        return self.get(name)

    def get_safe(self, name, default=None):
        return self.get(name, default)


class Component:
    def __init__(self):
        self.properties = {}
        self.requires = []
        self.system_libs = []
        self.bindirs = ["bin"]
        self.libdirs = ["lib"]

    def set_property(self, key, value):
        self.properties[key] = value


class CppInfo(Component):
    def __init__(self):
        super().__init__()
        self.components = {}

    def __getattr__(self, name):
        raise AttributeError(name)


class Components(dict):
    def __missing__(self, key):
        self[key] = Component()
        return self[key]


def make_recipe(module, recipe_dir, work, options, os_name="Linux"):
    recipe = module.RingkernelConan()
    recipe.recipe_folder = recipe_dir
    recipe.export_sources_folder = os.path.join(work, "export_source")
    recipe.source_folder = recipe.export_sources_folder
    recipe.package_folder = os.path.join(work, "package")
    recipe.options = Values(options)
    recipe.settings = Values({"os": os_name, "compiler.cppstd": "17"})
    recipe.required = []
    recipe.requires = lambda ref: recipe.required.append(ref)
    recipe.cpp_info = CppInfo()
    recipe.cpp_info.components = Components()
    return recipe


def main():
    root = os.path.abspath(sys.argv[1])
    conan_dir = os.path.join(root, "packaging", "conan")
    port_dir = os.path.join(root, "packaging", "vcpkg", "ports", "ringkernel")

    print("1. py_compile")
    for path in (os.path.join(conan_dir, "conanfile.py"), os.path.join(conan_dir, "test_package", "conanfile.py")):
        try:
            with tempfile.TemporaryDirectory() as d:
                py_compile.compile(path, cfile=os.path.join(d, "x.pyc"), doraise=True)
            check(True, f"compiles: {os.path.relpath(path, root)}")
        except py_compile.PyCompileError as e:
            check(False, f"compiles: {os.path.relpath(path, root)}: {e}")
    for name in ("CMakeLists.txt", "test_package.cpp"):
        check(os.path.isfile(os.path.join(conan_dir, "test_package", name)), f"test_package/{name} exists")

    print("2. vcpkg port")
    with open(os.path.join(port_dir, "vcpkg.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    check(manifest.get("name") == "ringkernel", "vcpkg.json name is ringkernel")
    check(bool(manifest.get("version")), f"vcpkg.json has a version ({manifest.get('version')})")
    check(manifest.get("license") == "MIT", "vcpkg.json license is MIT")
    check(sorted(manifest.get("features", {})) == ["cuda", "vulkan"], "vcpkg.json features are cuda and vulkan")
    for name in ("portfile.cmake", "usage"):
        check(os.path.isfile(os.path.join(port_dir, name)), f"port has {name}")
    check(os.path.isfile(os.path.join(root, "LICENSE")), "LICENSE exists (the port's copyright, the recipe's licenses/)")

    print("3. Conan recipe against stand-ins for conan")
    invalid = install_conan_stand_ins()
    spec = importlib.util.spec_from_file_location("ringkernel_conanfile", os.path.join(conan_dir, "conanfile.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls = module.RingkernelConan
    check(cls.name == "ringkernel", "name = ringkernel")
    check(cls.package_type == "header-library", "package_type = header-library")
    check(cls.license == "MIT", "license = MIT")
    check(set(cls.options) == {"cuda", "vulkan"} and cls.default_options == {"cuda": False, "vulkan": False},
          "options cuda and vulkan, both off by default")

    with tempfile.TemporaryDirectory() as work:
        recipe = make_recipe(module, conan_dir, work, {"cuda": False, "vulkan": False})
        recipe.layout()
        recipe.export_sources()
        recipe.validate()
        recipe.package()
        pkg = recipe.package_folder
        headers = sorted(os.listdir(os.path.join(pkg, "include")))
        expected = sorted(f for f in os.listdir(root) if fnmatch.fnmatch(f, "ringkernel*.hpp"))
        check(headers == expected, f"package has include/{', include/'.join(headers)}")
        check(filecmp.cmp(os.path.join(root, "ringkernel.hpp"), os.path.join(pkg, "include", "ringkernel.hpp"),
                          shallow=False), "include/ringkernel.hpp is the checkout's header")
        check(os.path.isfile(os.path.join(pkg, "licenses", "LICENSE")), "package has licenses/LICENSE")
        check(sorted(os.listdir(pkg)) == ["include", "licenses"], f"package holds only include/ and licenses/ ({sorted(os.listdir(pkg))})")
        recipe.requirements()
        check(recipe.required == [], "no requirements without options")
        recipe.package_info()
        info = recipe.cpp_info
        check(info.properties.get("cmake_file_name") == "ringkernel", "cmake_file_name ringkernel (find_package(ringkernel))")
        core = info.components.get("core")
        check(core is not None and core.properties.get("cmake_target_name") == "ringkernel::ringkernel",
              "component core is ringkernel::ringkernel")
        check(core is not None and core.properties.get("pkg_config_name") == "ringkernel", "core's pkg-config name is ringkernel")
        check(core is not None and "pthread" in core.system_libs and core.libdirs == [] and core.bindirs == [],
              "core: pthread, no lib or bin dirs")
        check(set(info.components) == {"core"}, "no GPU components without options")

        recipe.settings = Values({"os": "Linux", "compiler.cppstd": "14"})
        try:
            recipe.validate()
            check(False, "C++14 is refused")
        except invalid:
            check(True, "C++14 is refused")

        for backend, target, deps in (("cuda", "ringkernel::cuda", []),
                                      ("vulkan", "ringkernel::vulkan", ["vulkan-headers", "volk"])):
            recipe = make_recipe(module, conan_dir, work, {"cuda": backend == "cuda", "vulkan": backend == "vulkan"})
            recipe.requirements()
            names = [ref.split("/")[0] for ref in recipe.required]
            check(names == deps, f"{backend}=True requires {deps or 'nothing'} ({recipe.required})")
            has_header = os.path.isfile(os.path.join(root, f"ringkernel_{backend}.hpp"))
            try:
                recipe.package_info()
                comp = recipe.cpp_info.components.get(backend)
                check(has_header and comp is not None and comp.properties.get("cmake_target_name") == target,
                      f"{backend}=True gives component {target}")
            except invalid as e:
                check(not has_header, f"{backend}=True refused while ringkernel_{backend}.hpp does not exist: {e}")

    print(f"recipes: {'ok' if failures == 0 else f'{failures} check(s) failed'}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
