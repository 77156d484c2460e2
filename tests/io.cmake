# io layer and config loading: safetensors reading/writing, checkpoints, config.json.
groot_c_test(test_safetensors ${CMAKE_CURRENT_SOURCE_DIR}/test_safetensors.c)
groot_c_test(test_checkpoint ${CMAKE_CURRENT_SOURCE_DIR}/test_checkpoint.c)
groot_c_test(test_config ${CMAKE_CURRENT_SOURCE_DIR}/test_config.c)
