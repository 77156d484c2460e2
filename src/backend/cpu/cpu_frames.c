/*
 * Camera frames to pixels on the host: the image layer's crop + resize and
 * normalization, a batch's frames side by side (each with its own resizer
 * and resized frame), a lone frame on one thread (the resize spreads a large
 * one over a few of its own).
 */
#include <omp.h>
#include <stdlib.h>

#include "backend/cpu/cpu_backend.h"

void gr_cpu_frames_free(gr_cpu_backend *cb)
{
    for (int t = 0; t < GR_CPU_FRAME_THREADS; t++) {
        gr_resizer_free(&cb->resizers[t]);
        free(cb->frames[t]);
        cb->frames[t] = NULL;
    }
    cb->frame_cap = 0;
}

static groot_status frame_to_pixels(gr_cpu_backend *cb, const gr_frame_job *j, int size, gr_tensor *pixels, int t,
                                    gr_error *err)
{
    GR_TRY(gr_image_resize_window(&cb->resizers[t], j->rgb, j->height, j->width, j->top, j->left, j->crop_h,
                                  j->crop_w, size, size, cb->frames[t], err));
    gr_image_to_pixels(cb->frames[t], size, size, (float *)pixels->data + j->row * pixels->ld);
    return GROOT_OK;
}

groot_status gr_cpu_frames_to_pixels(gr_backend *be, int n, const gr_frame_job *jobs, int size, gr_tensor *pixels)
{
    gr_cpu_backend *cb = gr_cpu(be);
    GR_TRY(gr_frame_jobs_check(be, "frames_to_pixels", n, jobs, size, pixels));
    const size_t bytes = (size_t)size * size * 3;
    if (bytes > cb->frame_cap) {
        for (int t = 0; t < GR_CPU_FRAME_THREADS; t++) {
            uint8_t *f = realloc(cb->frames[t], bytes);
            if (!f)
                return gr_fail(&be->err, GROOT_ERR_NOMEM, "frames_to_pixels: a %dx%d frame buffer", size, size);
            cb->frames[t] = f;
        }
        cb->frame_cap = bytes;
    }
    int threads = cb->threads < GR_CPU_FRAME_THREADS ? cb->threads : GR_CPU_FRAME_THREADS;
    threads = n < threads ? n : threads;
    if (threads <= 1) {
        for (int i = 0; i < n; i++)
            GR_TRY(frame_to_pixels(cb, &jobs[i], size, pixels, 0, &be->err));
        return GROOT_OK;
    }
    /* The first failure in order is the one reported, as if run one by one. */
    int first_bad = n;
#pragma omp parallel for num_threads(threads) schedule(dynamic)
    for (int i = 0; i < n; i++) {
        gr_error e;
        gr_error_clear(&e);
        if (frame_to_pixels(cb, &jobs[i], size, pixels, omp_get_thread_num(), &e) != GROOT_OK) {
#pragma omp critical(cpu_frame_error)
            if (i < first_bad) {
                first_bad = i;
                be->err = e;
            }
        }
    }
    return first_bad < n ? be->err.status : GROOT_OK;
}
