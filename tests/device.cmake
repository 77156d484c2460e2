# GPU correctness checks: they skip (77) where groot has no CUDA device, as in
# CI; scripts/device_check.sh runs them (and the 3B parity) on one.
add_executable(check_device ${CMAKE_CURRENT_SOURCE_DIR}/check_device.c ${CMAKE_CURRENT_SOURCE_DIR}/test_util.c)
target_link_libraries(check_device PRIVATE groot_lib)
target_include_directories(check_device PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(check_device PRIVATE GROOT_TEST_DATA="${GROOT_TEST_DATA}"
  GROOT_ASSETS_DIR="${CMAKE_SOURCE_DIR}/assets" GROOT_BINARY_DIR="${CMAKE_BINARY_DIR}")
add_test(NAME cuda_golden_fp32 COMMAND check_device golden fp32 1e-4)
add_test(NAME cuda_golden_tf32 COMMAND check_device golden tf32 2e-3)
add_test(NAME cuda_batch_rule COMMAND check_device batch ${GROOT_TEST_DATA}/goldens/tiny/checkpoint)
add_test(NAME cuda_bucket COMMAND check_device bucket ${GROOT_TEST_DATA}/goldens/tiny/checkpoint)
set_tests_properties(cuda_golden_fp32 cuda_golden_tf32 cuda_batch_rule cuda_bucket PROPERTIES SKIP_RETURN_CODE 77)
