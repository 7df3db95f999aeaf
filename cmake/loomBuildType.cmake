# Optimisation for builds that choose none. Installed with loom and used by loomConfig.cmake.
#
# A single-config build with an empty CMAKE_BUILD_TYPE compiles without -O: loom's kernels are
# templates compiled in the consumer's translation units, and they then run about 3x slower
# than in a Release build, with nothing to say so. loom_default_optimization(<target>) makes
# <target>'s usage requirements add -O3 to the C++ sources of every target that links it, but
# only when
#   - that target's configuration is empty (multi-config generators always have one),
#   - the compiler takes GCC-style flags (GNU, Clang, AppleClang, IntelLLVM), and
#   - CMAKE_CXX_FLAGS (from CXXFLAGS, say) names no -O level of its own.
# A build type the consumer chose, Debug included, is left as it is, and so are the global
# flags. The configure step says once when it applies.
include_guard(GLOBAL)

# loom_default_optimization(<target> [BUILD_INTERFACE]): BUILD_INTERFACE limits the option to
# the build tree, so that install(EXPORT) does not record it (loomConfig.cmake adds it there).
function(loom_default_optimization target)
  cmake_parse_arguments(_O "BUILD_INTERFACE" "" "" ${ARGN})
  get_property(_multi_config GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
  if(_multi_config OR CMAKE_BUILD_TYPE OR CMAKE_CXX_FLAGS MATCHES "(^| )-O")
    return()
  endif()
  set(_option
      "$<$<AND:$<COMPILE_LANGUAGE:CXX>,$<STREQUAL:$<CONFIG>,>,$<CXX_COMPILER_ID:GNU,Clang,AppleClang,IntelLLVM>>:-O3>")
  if(_O_BUILD_INTERFACE)
    set(_option "$<BUILD_INTERFACE:${_option}>")
  endif()
  get_property(_options TARGET ${target} PROPERTY INTERFACE_COMPILE_OPTIONS)
  if(NOT _option IN_LIST _options)  # find_package(loom) may run more than once
    set_property(TARGET ${target} APPEND PROPERTY INTERFACE_COMPILE_OPTIONS "${_option}")
  endif()
  get_property(_told GLOBAL PROPERTY _loom_default_optimization_told)
  if(NOT _told)
    set_property(GLOBAL PROPERTY _loom_default_optimization_told TRUE)
    message(STATUS "loom: no CMAKE_BUILD_TYPE, so targets that link loom::loom get -O3 (without "
                   "it loom runs about 3x slower); set CMAKE_BUILD_TYPE (Release, Debug, ...) "
                   "to choose yourself")
  endif()
endfunction()
