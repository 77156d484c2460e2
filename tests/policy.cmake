# Camera preprocessing, .npy files, data configs, metadata and the
# state/action transforms (src/image, src/policy numeric parts).
groot_c_test(test_image ${CMAKE_CURRENT_LIST_DIR}/test_image.c)
groot_c_test(test_npy ${CMAKE_CURRENT_LIST_DIR}/test_npy.c)
groot_c_test(test_transforms ${CMAKE_CURRENT_LIST_DIR}/test_transforms.c)

# Benchmark (not a test): bench_policy MODEL_DIR [DEVICE] [PRECISION] [H] [W] [ITERS]
add_executable(bench_policy ${CMAKE_SOURCE_DIR}/bench/bench_policy.c)
target_link_libraries(bench_policy PRIVATE groot_lib)
