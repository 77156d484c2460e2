/*
 * Whether OpenBLAS runs the kernels this CPU can: a DYNAMIC_ARCH build
 * chooses by CPU family and model when it loads, and a model newer than its
 * tables gets the generic SSE3 kernels. The sgemm of a 1024-cube measured
 * on such a Xeon (family 6 model 207, OpenBLAS 0.3.21): 34-38 GFLOP/s as
 * detected, 164-219 with SkylakeX chosen.
 */
#include <stdlib.h>
#include <strings.h>

#include <cblas.h>

#include "backend/cpu/cpu_backend.h"
#include "groot.h"

const char *gr_blas_core_advice(const char *detected, int avx512, int avx2_fma, int env_chose)
{
    /* OpenBLAS's names for kernels without AVX2 (and its "Unknown"). */
    static const char *const older[] = {"Prescott", "Core2",     "Penryn",   "Dunnington",   "Nehalem", "Atom",
                                        "Sandybridge", "Katmai", "Coppermine", "Northwood",  "Banias",  "Barcelona",
                                        "Opteron",  "Opteron_SSE3", "Bobcat", "Bulldozer",    "Nano",    "Unknown"};
    if (env_chose || !detected)
        return NULL;
    int old = 0;
    for (size_t i = 0; i < sizeof older / sizeof older[0] && !old; i++)
        old = strcasecmp(detected, older[i]) == 0;
    if (!old)
        return NULL;
    return avx512 ? "SkylakeX" : avx2_fma ? "Haswell" : NULL;
}

const char *groot_cpu_kernels_advice(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    const int avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return gr_blas_core_advice(openblas_get_corename(), avx512, avx2_fma, getenv("OPENBLAS_CORETYPE") != NULL);
#else
    return NULL;
#endif
}
