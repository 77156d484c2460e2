# Checkpoint synthesis (groot_synth) and the model description: the tiny
# preset against the golden checkpoint, reproducibility, and the 3B plan.
groot_c_test(test_synth ${CMAKE_CURRENT_LIST_DIR}/test_synth.c)
groot_c_test(test_synth_forward ${CMAKE_CURRENT_SOURCE_DIR}/test_synth_forward.c)
add_dependencies(test_synth_forward groot)
