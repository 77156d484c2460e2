# The model layer: the whole network against the reference goldens, input
# validation and checkpoint errors, through the public API.
groot_c_test(test_golden ${CMAKE_CURRENT_SOURCE_DIR}/test_golden.c)
