"""Conan 2 recipe for ringkernel (header-only).

From a ringkernel checkout:

    conan create packaging/conan                       # builds and runs test_package
    conan create packaging/conan -o "ringkernel/*:vulkan=True"

then, in a consumer's conanfile: ``requires = "ringkernel/0.1.0"`` with the ``CMakeDeps`` and
``CMakeToolchain`` generators, and in CMake ``find_package(ringkernel CONFIG REQUIRED)`` +
``target_link_libraries(app PRIVATE ringkernel::ringkernel)`` (``ringkernel::cuda`` /
``ringkernel::vulkan`` with those options) — the names the installed ringkernelConfig.cmake
gives, so a CMakeLists.txt works the same with Conan, vcpkg or ``meson install``.

The recipe exports the headers of the checkout it lives in (two directories up). A recipe for
a package index would fetch a release archive in ``source()`` instead.
"""
import os

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy
from conan.tools.layout import basic_layout

required_conan_version = ">=2.0"


class RingkernelConan(ConanFile):
    name = "ringkernel"
    version = "0.1.0"
    description = ("Persistent GPU/CPU actors on lock-free rings, ordered by Hybrid Logical Clocks: "
                   "a header-only C++17 library")
    license = "MIT"
    url = "https://example.invalid/ringkernel"
    homepage = "https://example.invalid/ringkernel"
    topics = ("actors", "gpu", "cuda", "vulkan", "lock-free", "ring-buffer", "hybrid-logical-clock",
              "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "cuda": [True, False],    # ringkernel::cuda component (ringkernel_cuda.hpp; CUDA toolkit from the system)
        "vulkan": [True, False],  # ringkernel::vulkan component (ringkernel_vulkan.hpp, volk, Vulkan headers)
    }
    default_options = {"cuda": False, "vulkan": False}
    no_copy_source = True

    # Relative to this recipe: the checkout's root.
    _root = os.path.join("..", "..")

    def export_sources(self):
        root = os.path.join(self.recipe_folder, self._root)
        copy(self, "ringkernel*.hpp", src=root, dst=self.export_sources_folder, keep_path=False)
        copy(self, "LICENSE", src=root, dst=self.export_sources_folder, keep_path=False)

    def layout(self):
        basic_layout(self, src_folder=".")

    def requirements(self):
        if self.options.vulkan:
            self.requires("vulkan-headers/[>=1.3.239 <2]")
            self.requires("volk/[>=1.3.239 <2]")

    def package_id(self):
        # One package for every configuration: the headers do not depend on settings, and the
        # options only decide which components (and requirements) consumers get.
        self.info.clear()

    def validate(self):
        if self.settings.get_safe("compiler.cppstd"):
            check_min_cppstd(self, 17)

    def source(self):
        pass  # the sources are the exported headers

    def build(self):
        pass  # header-only

    def package(self):
        copy(self, "LICENSE", src=self.source_folder, dst=os.path.join(self.package_folder, "licenses"))
        copy(self, "ringkernel*.hpp", src=self.source_folder, dst=os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "ringkernel")
        self.cpp_info.set_property("cmake_target_name", "ringkernel::all")
        self.cpp_info.set_property("pkg_config_name", "ringkernel_all")

        core = self.cpp_info.components["core"]
        core.set_property("cmake_target_name", "ringkernel::ringkernel")
        core.set_property("pkg_config_name", "ringkernel")
        core.bindirs = []
        core.libdirs = []
        if self.settings.os in ("Linux", "FreeBSD"):
            core.system_libs = ["pthread"]

        # A backend's component exists only where its header was packaged (as in ringkernelConfig.cmake).
        for backend in ("cuda", "vulkan"):
            header = os.path.join(self.package_folder, "include", f"ringkernel_{backend}.hpp")
            if self.options.get_safe(backend) and not os.path.isfile(header):
                raise ConanInvalidConfiguration(
                    f"option {backend}=True needs ringkernel_{backend}.hpp, which ringkernel {self.version} "
                    "does not have yet")

        if self.options.cuda:
            cuda = self.cpp_info.components["cuda"]
            cuda.set_property("cmake_target_name", "ringkernel::cuda")
            cuda.requires = ["core"]
            cuda.bindirs = []
            cuda.libdirs = []
            # The CUDA toolkit is not a Conan package: link CUDA::cudart from
            # find_package(CUDAToolkit) in the consumer, which compiles the .cu files with nvcc.

        if self.options.vulkan:
            vulkan = self.cpp_info.components["vulkan"]
            vulkan.set_property("cmake_target_name", "ringkernel::vulkan")
            vulkan.requires = ["core", "vulkan-headers::vulkan-headers", "volk::volk"]
            vulkan.bindirs = []
            vulkan.libdirs = []
            if self.settings.os in ("Linux", "FreeBSD"):
                vulkan.system_libs = ["dl"]
