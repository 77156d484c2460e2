groot_c_test(test_policy_e2e ${CMAKE_CURRENT_SOURCE_DIR}/test_policy_e2e.c)
