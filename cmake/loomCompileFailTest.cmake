# Runs one compile-fail test (see loom_add_compile_fail_test in loomTesting.cmake), in script
# mode: cmake -D TEST_FILE=<parameters.cmake> -D CONFIG=<config> -P loomCompileFailTest.cmake
#
# The parameters file sets BINARY_DIR, OK_TARGET, KO_TARGET, PASS_REGEX, ABSENT (regexes, one
# list element each) and MAX_ERRORS. The test passes only if
#   1. the ok twin builds,
#   2. the ko build fails,
#   3. its output matches PASS_REGEX,
#   4. it prints at most MAX_ERRORS lines that contain "error:" (the diagnostic is the whole
#      story; "note:" and "In instantiation of" lines are context and do not count), and
#   5. it matches none of the ABSENT regexes (messages that would mislead after it).
# The regexes see the output with the compilers' spellings of template arguments made one:
# integer suffixes dropped (nvcc's layer_index<0UL> reads layer_index<0>) and "> >" closed up
# to ">>" (g++'s Shape<1, 28, 28> > reads Shape<1, 28, 28>>; "> >" in a regex reads ">>" too).
cmake_minimum_required(VERSION 3.23)

include(${TEST_FILE})
set(_config)
if(CONFIG)
  set(_config --config ${CONFIG})
endif()

# Prints the build output held in output_variable as it is, then fails with the reason.
function(_loom_fail output_variable reason)
  message("---- build output ----\n${${output_variable}}\n---- end of build output ----")
  message(FATAL_ERROR "loom compile-fail test ${KO_TARGET}: ${reason}")
endfunction()

# 1. The ok twin builds: the ko build then fails for the reason the test names.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --target ${OK_TARGET} ${_config}
                OUTPUT_VARIABLE _ok_output ERROR_VARIABLE _ok_output RESULT_VARIABLE _ok_result)
if(NOT _ok_result EQUAL 0)
  _loom_fail(_ok_output "the ok twin ${OK_TARGET} does not build, so the ko build proves nothing")
endif()

# 2. The ko build fails.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --target ${KO_TARGET} ${_config}
                OUTPUT_VARIABLE _output ERROR_VARIABLE _output RESULT_VARIABLE _result)
if(_result EQUAL 0)
  _loom_fail(_output "the build succeeded; it must fail with LOOM_SHOULD_FAIL_TO_BUILD")
endif()

# One spelling of template arguments for the regexes (see above). Twice, because a boundary
# character consumed by one match cannot start the next (1UL,2UL).
set(_normal "${_output}")
foreach(_pass 1 2)
  string(REGEX REPLACE "([^A-Za-z0-9_.][0-9]+)([uU][lL]*|[lL]+[uU]?)([^A-Za-z0-9_.])" "\\1\\3"
                       _normal "${_normal}")
endforeach()
string(REPLACE "> >" ">>" _normal "${_normal}")
string(REPLACE "> >" ">>" _normal "${_normal}")

# 3. The expected diagnostic.
string(REPLACE "> >" ">>" _pass_regex "${PASS_REGEX}")
if(NOT _normal MATCHES "${_pass_regex}")
  _loom_fail(_output "the output does not match \"${PASS_REGEX}\"")
endif()

# 4. At most MAX_ERRORS error lines. The output becomes a list of lines: list separators and
# brackets step aside for control characters while it is one.
string(ASCII 1 _semicolon)
string(ASCII 2 _open)
string(ASCII 3 _close)
string(REPLACE ";" "${_semicolon}" _lines "${_output}")
string(REPLACE "[" "${_open}" _lines "${_lines}")
string(REPLACE "]" "${_close}" _lines "${_lines}")
string(REPLACE "\n" ";" _lines "${_lines}")
set(_errors 0)
set(_error_lines)
foreach(_line IN LISTS _lines)
  if(_line MATCHES "error:")
    math(EXPR _errors "${_errors} + 1")
    string(APPEND _error_lines "  ${_line}\n")
  endif()
endforeach()
string(REPLACE "${_semicolon}" ";" _error_lines "${_error_lines}")
string(REPLACE "${_open}" "[" _error_lines "${_error_lines}")
string(REPLACE "${_close}" "]" _error_lines "${_error_lines}")
if(_errors GREATER MAX_ERRORS)
  _loom_fail(_output "${_errors} lines contain \"error:\", at most ${MAX_ERRORS} may: after a \
failed check, compile on with a stand-in so that nothing else fires (STYLE.md, \"Fail once\"). \
The error lines:\n${_error_lines}")
endif()

# 5. Nothing misleading after it.
foreach(_absent IN LISTS ABSENT)
  string(REPLACE "> >" ">>" _absent_regex "${_absent}")
  if(_normal MATCHES "${_absent_regex}")
    _loom_fail(_output "the output matches \"${_absent}\", which must not follow this diagnostic")
  endif()
endforeach()

message(STATUS "${KO_TARGET}: fails to build as it should, ${_errors} error line(s):\n"
               "${_error_lines}")
