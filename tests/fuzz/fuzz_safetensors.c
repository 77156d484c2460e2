/* libFuzzer target for the safetensors reader: any bytes as a file must give
 * either a validated file or an error, never a crash or a leak; every tensor
 * of a file that opens must be found by name, lie inside the mapping, and
 * (when small) convert to float32.
 *   fuzz_safetensors -max_total_time=30 [corpus dir] */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io/safetensors.h"

/* Bigger tensors are checked for bounds but not converted. */
#define MAX_CONVERT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An anonymous in-memory file: gr_st_open maps it like any other. */
    int fd = memfd_create("fuzz.safetensors", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    gr_error err = {0};
    gr_st_file *f = NULL;
    groot_status st = gr_st_open(path, &f, &err);
    close(fd);
    if (st != GROOT_OK) {
        if (f || !err.msg[0])
            abort();
        return 0;
    }
    float *buf = malloc(MAX_CONVERT * sizeof *buf);
    if (!buf)
        abort();
    for (int i = 0; i < f->count; i++) {
        const gr_st_tensor *t = &f->tensors[i];
        if (gr_st_find(f, t->name) != t)
            abort();
        const unsigned char *lo = f->map, *p = t->data;
        if (t->nbytes && (p < lo + 8 || p + t->nbytes > lo + f->map_size))
            abort();
        if (t->numel * (int64_t)gr_dtype_size(t->dtype) != (int64_t)t->nbytes)
            abort();
        if (t->numel <= MAX_CONVERT) {
            gr_error e2 = {0};
            groot_status cs = gr_st_to_f32(t, buf, &e2);
            int convertible = t->dtype == GR_F32 || t->dtype == GR_BF16 || t->dtype == GR_F16;
            if ((cs == GROOT_OK) != convertible)
                abort();
        }
    }
    if (gr_st_find(f, "\x01 not a tensor name") != NULL)
        abort();
    free(buf);
    gr_st_close(f);
    return 0;
}
