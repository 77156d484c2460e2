# libFuzzer targets for every parser that reads untrusted bytes (clang only).
# As in text.cmake, each target is built from the parser sources themselves so
# that they carry the fuzzer's coverage instrumentation and the sanitizers;
# the sources are compiled once, into two static libraries shared by the
# targets. scripts/test.sh runs every build-fuzz/tests/fuzz_* for a bounded
# time with tests/fuzz/corpus/<name without fuzz_> as its seed corpus:
#   ./tests/fuzz_safetensors -max_total_time=30 -rss_limit_mb=2048 corpus/ ../tests/fuzz/corpus/safetensors
if(GROOT_FUZZ)
  set(GROOT_FUZZ_FLAGS -g -fsanitize=address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer -Wno-unknown-pragmas)

  # The library's file parsers: safetensors, config.json, metadata.json, data
  # configs and the transform plans built from the last two.
  add_library(groot_fuzz_lib STATIC
    ${CMAKE_SOURCE_DIR}/src/core/error.c ${CMAKE_SOURCE_DIR}/src/backend/backend.c
    ${CMAKE_SOURCE_DIR}/src/io/json_util.c ${CMAKE_SOURCE_DIR}/src/io/safetensors.c
    ${CMAKE_SOURCE_DIR}/src/model/config.c ${CMAKE_SOURCE_DIR}/src/policy/metadata.c
    ${CMAKE_SOURCE_DIR}/src/policy/data_config.c ${CMAKE_SOURCE_DIR}/src/policy/normalize.c
    ${CMAKE_SOURCE_DIR}/src/policy/rotation.c)
  target_include_directories(groot_fuzz_lib PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src
    ${CJSON_INCLUDE_DIR})
  target_compile_options(groot_fuzz_lib PRIVATE ${GROOT_FUZZ_FLAGS} -fsanitize=fuzzer-no-link)
  target_compile_definitions(groot_fuzz_lib PRIVATE GROOT_ASSETS_DIR="${CMAKE_SOURCE_DIR}/assets")
  # The backend registry in backend.c (gr_dtype_size lives there) names the
  # compute backends: those come, uninstrumented, from the library itself.
  target_link_libraries(groot_fuzz_lib PUBLIC ${CJSON_LIBRARY} m groot_lib)

  # The server's decoders and its request path (without the transports'
  # sockets: http_server.c holds the /act exchange, callable without one).
  set(GROOT_FUZZ_SERVER_DIR ${CMAKE_SOURCE_DIR}/tools/server)
  add_library(groot_fuzz_server STATIC
    ${GROOT_FUZZ_SERVER_DIR}/npy.c ${GROOT_FUZZ_SERVER_DIR}/json_numpy.c
    ${GROOT_FUZZ_SERVER_DIR}/msgpack_codec.c ${GROOT_FUZZ_SERVER_DIR}/protocol.c
    ${GROOT_FUZZ_SERVER_DIR}/http_server.c ${GROOT_FUZZ_SERVER_DIR}/server_error.c)
  target_include_directories(groot_fuzz_server PUBLIC ${CMAKE_SOURCE_DIR}/tools ${MSGPACK_INCLUDE_DIR}
    ${CJSON_INCLUDE_DIR})
  target_compile_options(groot_fuzz_server PRIVATE ${GROOT_FUZZ_FLAGS} -fsanitize=fuzzer-no-link)
  target_link_libraries(groot_fuzz_server PUBLIC groot_fuzz_lib PkgConfig::ZMQ ${MSGPACK_LIBRARY}
    PkgConfig::MHD ${CJSON_LIBRARY})

  function(groot_fuzz_target name lib)
    add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${name}.c)
    target_link_libraries(${name} PRIVATE ${lib})
    target_compile_definitions(${name} PRIVATE GROOT_ASSETS_DIR="${CMAKE_SOURCE_DIR}/assets"
      GROOT_TEST_DATA="${GROOT_TEST_DATA}" GROOT_FUZZ_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus")
    target_compile_options(${name} PRIVATE ${GROOT_FUZZ_FLAGS} -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  endfunction()

  groot_fuzz_target(fuzz_safetensors groot_fuzz_lib)
  groot_fuzz_target(fuzz_json_config groot_fuzz_lib)
  groot_fuzz_target(fuzz_metadata groot_fuzz_lib)
  groot_fuzz_target(fuzz_data_config groot_fuzz_lib)
  groot_fuzz_target(fuzz_npy groot_fuzz_server)
  groot_fuzz_target(fuzz_msgpack groot_fuzz_server)
  groot_fuzz_target(fuzz_json_numpy groot_fuzz_server)
endif()
