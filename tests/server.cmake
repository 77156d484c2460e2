# groot serve: codec and protocol unit tests (C), and end-to-end client tests
# (Python, the way robot code talks to the reference server).
set(GROOT_SERVER_DIR ${CMAKE_SOURCE_DIR}/tools/server)

function(groot_server_c_test name)
  groot_c_test(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE PkgConfig::ZMQ ${MSGPACK_LIBRARY} PkgConfig::MHD ${CJSON_LIBRARY})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tools ${MSGPACK_INCLUDE_DIR} ${CJSON_INCLUDE_DIR})
endfunction()

groot_server_c_test(test_npy_codec test_npy_codec.c ${GROOT_SERVER_DIR}/npy.c ${GROOT_SERVER_DIR}/json_numpy.c
  ${GROOT_SERVER_DIR}/server_error.c)
groot_server_c_test(test_msgpack_codec test_msgpack_codec.c
  ${GROOT_SERVER_DIR}/msgpack_codec.c ${GROOT_SERVER_DIR}/npy.c ${GROOT_SERVER_DIR}/json_numpy.c
  ${GROOT_SERVER_DIR}/protocol.c ${GROOT_SERVER_DIR}/http_server.c ${GROOT_SERVER_DIR}/zmq_server.c
  ${GROOT_SERVER_DIR}/server_error.c)

# End to end against a synthesized tiny checkpoint. Exit 77 (skip) only when
# pyzmq, msgpack or numpy cannot be imported.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME server_client
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/server/client_test.py
      --groot $<TARGET_FILE:groot> --work ${CMAKE_CURRENT_BINARY_DIR}/server_client)
  set_tests_properties(server_client PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
  # The soak measures resident memory, which a sanitizer's allocator inflates by design.
  if(NOT GROOT_SANITIZE)
  add_test(NAME server_soak
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/server/soak.py
      --groot $<TARGET_FILE:groot> --work ${CMAKE_CURRENT_BINARY_DIR}/server_soak)
  set_tests_properties(server_soak PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1800)
  endif()
endif()
