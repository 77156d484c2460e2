# The CPU backend's ops against double-precision references.
groot_c_test(test_backend_cpu test_backend_cpu.c)
