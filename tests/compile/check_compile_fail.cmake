# Builds one EXCLUDE_FROM_ALL target that must not compile, and checks that it
# fails for the expected reason (the text of its static_assert), so that a
# failure for any other reason (a typo, a missing header) is not taken as a pass.
# Usage: cmake -DBUILD_DIR=... -DTARGET=... -DEXPECT=... -P check_compile_fail.cmake
foreach(var BUILD_DIR TARGET EXPECT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_compile_fail.cmake: ${var} is not set")
  endif()
endforeach()
execute_process(
  COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
  RESULT_VARIABLE result
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)
if(result EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled, but it must be rejected with:\n  ${EXPECT}")
endif()
string(FIND "${output}" "${EXPECT}" found)
if(found EQUAL -1)
  message(FATAL_ERROR "${TARGET} failed to compile, but not with the expected message:\n  ${EXPECT}\n"
                      "Compiler output:\n${output}")
endif()
message(STATUS "${TARGET} is rejected as expected: ${EXPECT}")
