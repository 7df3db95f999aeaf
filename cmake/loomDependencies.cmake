# Finds loom's dependencies and mends known packaging quirks. Used by loom's own build and by
# the installed loomConfig.cmake, so that consumers see exactly the dependencies loom saw.
#
#   loom_find_dependencies(KOKKOSKERNELS <ON|OFF|AUTO> BLAS <ON|OFF|AUTO> MPI <ON|OFF>)
#
# Sets LOOM_HAVE_KOKKOSKERNELS and LOOM_HAVE_BLAS (ON/OFF) in the caller's scope.
include_guard(GLOBAL)

# Debian's Kokkos (a Trilinos/TriBITS build) declares Kokkos::kokkos with an include directory
# that does not exist; its headers are in Kokkos_INCLUDE_DIRS. Replace missing directories.
function(_loom_mend_kokkos_target)
  get_target_property(_dirs Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
  if(NOT _dirs)
    return()
  endif()
  set(_kept)
  set(_missing FALSE)
  foreach(_dir IN LISTS _dirs)
    if(_dir MATCHES "^\\$<" OR EXISTS "${_dir}")
      list(APPEND _kept "${_dir}")
    else()
      set(_missing TRUE)
    endif()
  endforeach()
  if(_missing)
    foreach(_dir IN LISTS Kokkos_INCLUDE_DIRS)
      get_filename_component(_dir "${_dir}" REALPATH)
      list(APPEND _kept "${_dir}")
    endforeach()
    set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_kept}")
  endif()
endfunction()

# A KokkosKernels is usable only when it was built against the Kokkos found here. Upstream
# packages find their Kokkos through find_dependency, which returns the one already found;
# a Trilinos (TriBITS) KokkosKernels carries its own Kokkos and fits only that one.
function(_loom_kokkoskernels_fits _result)
  set(${_result} FALSE PARENT_SCOPE)
  if(TARGET Kokkos::kokkoskernels)
    set(${_result} TRUE PARENT_SCOPE)
  elseif(KokkosKernels_LIBRARIES AND DEFINED Kokkos_INSTALL_DIR
         AND "${Kokkos_INSTALL_DIR}" STREQUAL "${KokkosKernels_INSTALL_DIR}")
    set(${_result} TRUE PARENT_SCOPE)
  endif()
endfunction()

macro(loom_find_dependencies)
  cmake_parse_arguments(_LOOM_DEP "" "KOKKOSKERNELS;BLAS;MPI" "" ${ARGN})
  find_package(Kokkos 3.4 REQUIRED CONFIG)
  _loom_mend_kokkos_target()
  find_package(Boost 1.74 REQUIRED CONFIG)
  find_package(ZLIB REQUIRED)
  if(_LOOM_DEP_MPI)
    find_package(MPI REQUIRED COMPONENTS CXX)
  endif()

  set(LOOM_HAVE_KOKKOSKERNELS OFF)
  if(NOT _LOOM_DEP_KOKKOSKERNELS STREQUAL "OFF")
    find_package(KokkosKernels QUIET CONFIG)
    if(KokkosKernels_FOUND)
      _loom_kokkoskernels_fits(_loom_kk_fits)
      if(_loom_kk_fits)
        set(LOOM_HAVE_KOKKOSKERNELS ON)
      endif()
    endif()
    if(_LOOM_DEP_KOKKOSKERNELS STREQUAL "ON" AND NOT LOOM_HAVE_KOKKOSKERNELS)
      message(FATAL_ERROR "loom: LOOM_ENABLE_KOKKOSKERNELS=ON but no KokkosKernels built against "
                          "the Kokkos in ${Kokkos_DIR} was found; set KokkosKernels_ROOT or "
                          "configure with -DLOOM_ENABLE_KOKKOSKERNELS=OFF")
    endif()
  endif()
  if(LOOM_HAVE_KOKKOSKERNELS AND NOT TARGET loom::KokkosKernels)
    add_library(loom::KokkosKernels INTERFACE IMPORTED)
    if(TARGET Kokkos::kokkoskernels)
      set_target_properties(loom::KokkosKernels PROPERTIES
                            INTERFACE_LINK_LIBRARIES Kokkos::kokkoskernels)
    else()
      set(_loom_kk_dirs)
      foreach(_dir IN LISTS KokkosKernels_INCLUDE_DIRS)
        get_filename_component(_dir "${_dir}" REALPATH)
        list(APPEND _loom_kk_dirs "${_dir}")
      endforeach()
      set_target_properties(loom::KokkosKernels PROPERTIES
                            INTERFACE_LINK_LIBRARIES "${KokkosKernels_LIBRARIES}"
                            INTERFACE_INCLUDE_DIRECTORIES "${_loom_kk_dirs}")
    endif()
  endif()

  set(LOOM_HAVE_BLAS OFF)
  if(NOT LOOM_HAVE_KOKKOSKERNELS AND NOT _LOOM_DEP_BLAS STREQUAL "OFF")
    find_package(BLAS QUIET)
    if(BLAS_FOUND AND TARGET BLAS::BLAS)
      set(LOOM_HAVE_BLAS ON)
    elseif(_LOOM_DEP_BLAS STREQUAL "ON")
      message(FATAL_ERROR "loom: LOOM_ENABLE_BLAS=ON but no BLAS library was found; install one "
                          "(Debian: libopenblas-dev) or configure with -DLOOM_ENABLE_BLAS=OFF")
    endif()
  endif()
endmacro()
