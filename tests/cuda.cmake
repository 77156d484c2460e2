# The CUDA backend against the CPU backend, op by op. Exits 77 (skipped)
# where no CUDA device is present, as in CI.
if(GROOT_HAVE_CUDA)
  groot_c_test(test_backend_cuda test_backend_cuda.c)
  set_tests_properties(test_backend_cuda PROPERTIES SKIP_RETURN_CODE 77)
endif()

# Benchmark (not a test): gemm_tma_trace [SHAPE] times groot's Hopper GEMM
# on the model's shapes, alone and in chains, with per-CTA timestamps.
if(GROOT_HAVE_CUDA)
  add_executable(gemm_tma_trace ${CMAKE_SOURCE_DIR}/bench/gemm_tma_trace.cu)
  target_include_directories(gemm_tma_trace PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/src/backend/cuda)
  target_compile_definitions(gemm_tma_trace PRIVATE GRK_TMA_TRACE=4096)
  target_compile_options(gemm_tma_trace PRIVATE -gencode=arch=compute_90a,code=sm_90a -O3)
  target_link_libraries(gemm_tma_trace PRIVATE CUDA::cudart_static)
  # Probe: one SM's intake through the TMA unit, with nothing else to do.
  add_executable(tma_intake ${CMAKE_SOURCE_DIR}/bench/tma_intake.cu)
  target_include_directories(tma_intake PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/src/backend/cuda)
  target_compile_options(tma_intake PRIVATE -gencode=arch=compute_90a,code=sm_90a -O3)
  target_link_libraries(tma_intake PRIVATE CUDA::cudart_static)
  # Probe: one DiT step's 64 GEMMs as one persistent kernel against the chain of launches.
  add_executable(dit_stream ${CMAKE_SOURCE_DIR}/bench/dit_stream.cu)
  target_include_directories(dit_stream PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/src/backend/cuda)
  target_compile_options(dit_stream PRIVATE -gencode=arch=compute_90a,code=sm_90a -O3)
  target_link_libraries(dit_stream PRIVATE CUDA::cudart_static)
endif()

# Probe (not a test): cublas_pdl_probe checks that cuBLASLt's kernels wait
# behind a programmatic edge (src/backend/cuda/graph_pdl.c relies on it).
if(GROOT_HAVE_CUDA)
  add_executable(cublas_pdl_probe ${CMAKE_SOURCE_DIR}/bench/cublas_pdl_probe.cu)
  target_compile_options(cublas_pdl_probe PRIVATE -gencode=arch=compute_90a,code=sm_90a)
  target_link_libraries(cublas_pdl_probe PRIVATE CUDA::cudart_static CUDA::cublasLt)
endif()

# Benchmark (not a test): attention_sweep times every block shape of the
# tensor-core attention on the model's attention calls, with per-block
# timestamps of the chosen one.
if(GROOT_HAVE_CUDA)
  add_executable(attention_sweep ${CMAKE_SOURCE_DIR}/bench/attention_sweep.cu)
  target_include_directories(attention_sweep PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/src/backend/cuda)
  target_compile_options(attention_sweep PRIVATE -gencode=arch=compute_90a,code=sm_90a -O3)
  target_link_libraries(attention_sweep PRIVATE CUDA::cudart_static)
endif()

# Probe (not a test): cublas_config_sweep times every cuBLASLt tile and
# cluster configuration of the backbone's GEMM shapes against its heuristic.
if(GROOT_HAVE_CUDA)
  add_executable(cublas_config_sweep ${CMAKE_SOURCE_DIR}/bench/cublas_config_sweep.cu)
  target_compile_options(cublas_config_sweep PRIVATE -gencode=arch=compute_90a,code=sm_90a -O3)
  target_link_libraries(cublas_config_sweep PRIVATE CUDA::cudart_static CUDA::cublasLt)
  # Probe: the residual GEMMs as K-sliced batched calls, reduced in the norm.
  add_executable(cublas_splitk_probe ${CMAKE_SOURCE_DIR}/bench/cublas_splitk_probe.cu)
  target_compile_options(cublas_splitk_probe PRIVATE -gencode=arch=compute_90a,code=sm_90a -O3)
  target_link_libraries(cublas_splitk_probe PRIVATE CUDA::cudart_static CUDA::cublasLt)
endif()
