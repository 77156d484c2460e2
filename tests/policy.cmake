# Camera preprocessing, .npy files, data configs, metadata and the
# state/action transforms (src/image, src/policy numeric parts).
groot_c_test(test_image ${CMAKE_CURRENT_LIST_DIR}/test_image.c)
groot_c_test(test_npy ${CMAKE_CURRENT_LIST_DIR}/test_npy.c)
groot_c_test(test_transforms ${CMAKE_CURRENT_LIST_DIR}/test_transforms.c)
