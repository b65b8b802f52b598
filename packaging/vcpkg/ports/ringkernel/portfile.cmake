# vcpkg port for ringkernel (header-only), used as an overlay port from a ringkernel checkout:
#
#   vcpkg install ringkernel --overlay-ports=<checkout>/packaging/vcpkg/ports
#   vcpkg install "ringkernel[vulkan]" --overlay-ports=...      (features: cuda, vulkan)
#
# It installs from the checkout that contains it (four directories up), so what vcpkg installs
# is exactly that tree's headers. A registry port would fetch a release instead, e.g. with
# vcpkg_from_git(OUT_SOURCE_PATH SOURCE_PATH URL <repository> REF <tag commit>), and keep the rest.
#
# Layout, the same relative paths as `meson install` (tests/consumers/vcpkg_port.sh compares them):
#   include/ringkernel.hpp                      (+ ringkernel_cuda.hpp, ringkernel_vulkan.hpp per feature)
#   share/ringkernel/ringkernelConfig.cmake     from packaging/cmake/*.in, byte-identical to meson's
#   share/ringkernel/ringkernelConfigVersion.cmake
#   share/pkgconfig/ringkernel.pc               relocatable (${pcfiledir})
#   share/ringkernel/usage, share/ringkernel/copyright

get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../../.." ABSOLUTE)
if(NOT EXISTS "${SOURCE_PATH}/ringkernel.hpp")
  message(FATAL_ERROR "ringkernel port: no ringkernel.hpp in ${SOURCE_PATH}; use this port from a ringkernel checkout")
endif()

# The version in vcpkg.json must be the header's (tests/consumers/versions.py checks it too).
file(STRINGS "${SOURCE_PATH}/ringkernel.hpp" _rk_version_line REGEX "^#define RINGKERNEL_VERSION_STRING ")
string(REGEX REPLACE "^#define RINGKERNEL_VERSION_STRING \"([^\"]*)\".*" "\\1" _rk_header_version "${_rk_version_line}")
if(NOT _rk_header_version STREQUAL VERSION)
  message(FATAL_ERROR "ringkernel port: vcpkg.json says ${VERSION}, ringkernel.hpp says ${_rk_header_version}")
endif()

set(_rk_headers "${SOURCE_PATH}/ringkernel.hpp")
foreach(_rk_feature IN ITEMS cuda vulkan)
  if(_rk_feature IN_LIST FEATURES)
    if(NOT EXISTS "${SOURCE_PATH}/ringkernel_${_rk_feature}.hpp")
      message(FATAL_ERROR "ringkernel port: feature '${_rk_feature}' needs ringkernel_${_rk_feature}.hpp, "
                          "which this version of ringkernel does not have yet")
    endif()
    list(APPEND _rk_headers "${SOURCE_PATH}/ringkernel_${_rk_feature}.hpp")
  endif()
endforeach()
file(INSTALL ${_rk_headers} DESTINATION "${CURRENT_PACKAGES_DIR}/include")

set(RINGKERNEL_VERSION "${VERSION}")
foreach(_rk_file IN ITEMS ringkernelConfig.cmake ringkernelConfigVersion.cmake)
  configure_file("${SOURCE_PATH}/packaging/cmake/${_rk_file}.in"
                 "${CURRENT_PACKAGES_DIR}/share/${PORT}/${_rk_file}" @ONLY)
endforeach()

file(WRITE "${CURRENT_PACKAGES_DIR}/share/pkgconfig/ringkernel.pc"
"prefix=\${pcfiledir}/../..
includedir=\${prefix}/include

Name: ringkernel
Description: Persistent GPU/CPU actors on lock-free rings with Hybrid Logical Clocks (header-only)
Version: ${VERSION}
Libs: -pthread
Cflags: -I\${includedir}
")
vcpkg_fixup_pkgconfig()

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
