# Runs the mismatch program on two ranks: both must exit non-zero, each printing the reason.
execute_process(COMMAND ${MPIEXEC} ${FLAGS} ${PROGRAM}
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output TIMEOUT 9)
message("${output}")
if(result EQUAL 0)
  message(FATAL_ERROR "mpiexec exited 0; both ranks should have failed")
endif()
set(reason "rank 1 runs with lr = 0.2 but rank 0 with lr = 0.1")
foreach(rank 0 1)
  string(FIND "${output}" "rank ${rank} stopped: loom::DataParallel: ${reason}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "rank ${rank} did not report: ${reason}")
  endif()
endforeach()
