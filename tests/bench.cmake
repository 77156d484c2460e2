# groot bench: every component times and floors on the tiny golden model
# (CPU), argument errors, and one FLOP/byte count checked by hand.
groot_c_test(test_bench ${CMAKE_CURRENT_LIST_DIR}/test_bench.c)
