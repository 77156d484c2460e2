/* Built instead of backend/cuda when CMake found no CUDA compiler. */
#include "backend/backend.h"

groot_status gr_backend_cuda_create(int num_threads, gr_backend **out, gr_error *err)
{
    (void)num_threads;
    *out = NULL;
    return gr_fail(err, GROOT_ERR_UNSUPPORTED, "this groot was built without CUDA (no nvcc at configure time)");
}
