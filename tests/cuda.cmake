# The CUDA backend against the CPU backend, op by op. Exits 77 (skipped)
# where no CUDA device is present, as in CI.
if(GROOT_HAVE_CUDA)
  groot_c_test(test_backend_cuda test_backend_cuda.c)
  set_tests_properties(test_backend_cuda PROPERTIES SKIP_RETURN_CODE 77)
endif()
