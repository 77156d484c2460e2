# The model layer: the whole network against the reference goldens, input
# validation and checkpoint errors, through the public API.
groot_c_test(test_golden ${CMAKE_CURRENT_SOURCE_DIR}/test_golden.c)
# The same goldens with every prompt padded to a multiple of 16 rows (as on
# the GPU), so that CI checks the padding and its masks without one.
add_test(NAME test_golden_bucket16 COMMAND test_golden)
set_tests_properties(test_golden_bucket16 PROPERTIES ENVIRONMENT "GROOT_SEQ_BUCKET=16")

# Benchmark (not a test): bench_prompt_lengths MODEL_DIR [DEVICE] [PRECISION] [FIRST] [COUNT]
add_executable(bench_prompt_lengths ${CMAKE_SOURCE_DIR}/bench/bench_prompt_lengths.c)
target_link_libraries(bench_prompt_lengths PRIVATE groot_lib)
