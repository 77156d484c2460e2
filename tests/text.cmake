# Text: tokenizer (SPEC.md section 2) and the prompt.
groot_c_test(test_tokenizer ${CMAKE_CURRENT_SOURCE_DIR}/test_tokenizer.c)
groot_c_test(test_prompt ${CMAKE_CURRENT_SOURCE_DIR}/test_prompt.c)
# `groot tokenize` in-process, built from its own sources so that it is
# checked without the rest of the CLI.
groot_c_test(test_tokenizer_cli ${CMAKE_CURRENT_SOURCE_DIR}/test_tokenizer_cli.c
  ${CMAKE_SOURCE_DIR}/tools/cmd_tokenize.c ${CMAKE_SOURCE_DIR}/tools/cli.c)
target_include_directories(test_tokenizer_cli PRIVATE ${CMAKE_SOURCE_DIR}/tools)

# Throughput benchmark (not a test): bench_tokenizer [eagle2_hg_model dir]
add_executable(bench_tokenizer ${CMAKE_SOURCE_DIR}/bench/bench_tokenizer.c)
target_link_libraries(bench_tokenizer PRIVATE groot_lib)
target_include_directories(bench_tokenizer PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_definitions(bench_tokenizer PRIVATE GROOT_ASSETS_DIR="${CMAKE_SOURCE_DIR}/assets")

if(GROOT_FUZZ)
  # libFuzzer target (clang only), built from the text sources themselves so
  # that they carry the fuzzer's coverage instrumentation. Run it from the
  # build dir:  ./tests/fuzz_tokenizer -max_total_time=30
  add_executable(fuzz_tokenizer ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_tokenizer.c
    ${CMAKE_SOURCE_DIR}/src/text/tokenizer.c ${CMAKE_SOURCE_DIR}/src/text/bpe.c
    ${CMAKE_SOURCE_DIR}/src/text/nfc.c ${CMAKE_SOURCE_DIR}/src/text/prompt.c ${CMAKE_SOURCE_DIR}/src/core/error.c
    ${CMAKE_SOURCE_DIR}/src/io/json_util.c)
  target_include_directories(fuzz_tokenizer PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src
    ${CJSON_INCLUDE_DIR})
  target_link_libraries(fuzz_tokenizer PRIVATE PkgConfig::PCRE2 PkgConfig::UTF8PROC ${CJSON_LIBRARY} m)
  target_compile_definitions(fuzz_tokenizer PRIVATE GROOT_ASSETS_DIR="${CMAKE_SOURCE_DIR}/assets")
  target_compile_options(fuzz_tokenizer PRIVATE -g -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined)
  target_link_options(fuzz_tokenizer PRIVATE -fsanitize=fuzzer,address,undefined)
endif()
