# Runs packaging/vcpkg/ports/ringkernel/portfile.cmake without vcpkg, in CMake script mode:
#   cmake -DPORT_DIR=<port> -DCURRENT_PACKAGES_DIR=<out> [-DFEATURES=cuda;vulkan] -P vcpkg_stubs.cmake
# vcpkg gives a portfile the variables PORT, VERSION (from vcpkg.json), FEATURES,
# CURRENT_PACKAGES_DIR, CURRENT_PORT_DIR and its helper functions; this sets the variables the
# same way and stands in for the helpers the port calls, checking what vcpkg would check of
# their arguments. Used by tests/consumers/vcpkg_port.sh.
cmake_minimum_required(VERSION 3.19)  # string(JSON)

foreach(v PORT_DIR CURRENT_PACKAGES_DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "vcpkg stub: -D${v}=... is required")
  endif()
endforeach()
file(READ "${PORT_DIR}/vcpkg.json" _manifest)
string(JSON PORT GET "${_manifest}" name)
string(JSON VERSION GET "${_manifest}" version)
set(CURRENT_PORT_DIR "${PORT_DIR}")
set(TARGET_TRIPLET "x64-linux")
if(NOT DEFINED FEATURES)
  set(FEATURES "")
endif()
list(PREPEND FEATURES core)  # vcpkg always lists "core"
foreach(_f IN LISTS FEATURES)
  if(NOT _f STREQUAL "core")
    string(JSON _desc ERROR_VARIABLE _err GET "${_manifest}" features ${_f} description)
    if(_err)
      message(FATAL_ERROR "vcpkg stub: feature '${_f}' is not declared in vcpkg.json")
    endif()
  endif()
endforeach()

# vcpkg_fixup_pkgconfig(): .pc files must sit in lib/pkgconfig or share/pkgconfig and must not
# name an absolute path (vcpkg rewrites prefix to ${pcfiledir}-relative; ours already is).
function(vcpkg_fixup_pkgconfig)
  file(GLOB_RECURSE _pcs RELATIVE "${CURRENT_PACKAGES_DIR}" "${CURRENT_PACKAGES_DIR}/*.pc")
  foreach(_pc IN LISTS _pcs)
    if(NOT _pc MATCHES "^(lib|share)/pkgconfig/[^/]+\\.pc$")
      message(FATAL_ERROR "vcpkg stub: ${_pc} is not in lib/pkgconfig or share/pkgconfig")
    endif()
    file(STRINGS "${CURRENT_PACKAGES_DIR}/${_pc}" _prefix REGEX "^prefix=")
    if(NOT _prefix MATCHES [[^prefix=\${pcfiledir}]])
      message(FATAL_ERROR "vcpkg stub: ${_pc} has an absolute prefix: ${_prefix}")
    endif()
  endforeach()
endfunction()

# vcpkg_install_copyright(FILE_LIST <files>...): concatenates them into share/<port>/copyright.
function(vcpkg_install_copyright)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "" "FILE_LIST")
  if(NOT arg_FILE_LIST)
    message(FATAL_ERROR "vcpkg stub: vcpkg_install_copyright needs FILE_LIST")
  endif()
  set(_text "")
  foreach(_file IN LISTS arg_FILE_LIST)
    if(NOT EXISTS "${_file}")
      message(FATAL_ERROR "vcpkg stub: copyright file ${_file} does not exist")
    endif()
    file(READ "${_file}" _part)
    string(APPEND _text "${_part}")
  endforeach()
  file(WRITE "${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright" "${_text}")
endfunction()

message(STATUS "vcpkg stub: ${PORT} ${VERSION}, features: ${FEATURES}")
include("${PORT_DIR}/portfile.cmake")

# What vcpkg's post-build checks would refuse for a header-only port.
foreach(_required include share/${PORT}/copyright)
  if(NOT EXISTS "${CURRENT_PACKAGES_DIR}/${_required}")
    message(FATAL_ERROR "vcpkg stub: ${_required} is missing")
  endif()
endforeach()
foreach(_forbidden debug/include debug/share bin lib/cmake)
  if(EXISTS "${CURRENT_PACKAGES_DIR}/${_forbidden}")
    message(FATAL_ERROR "vcpkg stub: ${_forbidden} must not exist")
  endif()
endforeach()
message(STATUS "vcpkg stub: portfile done")
