/*
 * Camera frames to pixels on the GPU (frames.cu). A call's frames come in
 * through the pinned staging buffer, only the rows their crop windows
 * cover; each resize axis's weight table is the image layer's own, made on
 * the host once per (input, output) length and kept on the device, so the
 * kernel repeats the host's arithmetic on the host's weights.
 */
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_kernels.h"
#include "image/image.h"

static void axis_free(struct gr_cuda_axis *a)
{
    cudaFree(a->w);
    cudaFree(a->bounds);
    memset(a, 0, sizeof *a);
}

void gr_cuda_frames_free(gr_cuda_backend *cb)
{
    cudaFree(cb->frames);
    cb->frames = NULL;
    cb->frames_cap = 0;
    for (int i = 0; i < GR_CUDA_AXES; i++)
        axis_free(&cb->axes[i]);
    cb->axes_next = 0;
}

/* The host-made table into slot a (empty): device memory, copied in order
 * on the stream (a pageable source is consumed before the call returns). */
static groot_status axis_upload(gr_cuda_backend *cb, struct gr_cuda_axis *a, int in, int out)
{
    gr_backend *be = &cb->base;
    const int taps = gr_image_axis_taps(in, out);
    const size_t wb = (size_t)taps * out * sizeof(float), bb = (size_t)out * 2 * sizeof(int);
    float *w = malloc(wb);
    int *b = malloc(bb);
    groot_status st = GROOT_OK;
    if (!w || !b) {
        st = gr_fail(&be->err, GROOT_ERR_NOMEM, "frames_to_pixels: resize table %d -> %d", in, out);
    } else {
        gr_image_axis_weights(in, out, taps, w, b);
        cudaError_t e = cudaMalloc((void **)&a->w, wb);
        if (e == cudaSuccess)
            e = cudaMalloc((void **)&a->bounds, bb);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(a->w, w, wb, cudaMemcpyHostToDevice, cb->stream);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(a->bounds, b, bb, cudaMemcpyHostToDevice, cb->stream);
        if (e != cudaSuccess) {
            axis_free(a);
            st = gr_cuda_fail(be, e, "frames_to_pixels", "resize table");
        } else {
            a->in = in;
            a->out = out;
            a->taps = taps;
        }
    }
    free(w);
    free(b);
    return st;
}

/* One axis of a resize; nothing (w NULL) where its length does not change.
 * keep: a table the caller holds for the same launch (the other axis),
 * which must not be the one replaced. */
static groot_status axis_table(gr_cuda_backend *cb, int in, int out, const float *keep, grk_axis *ax)
{
    memset(ax, 0, sizeof *ax);
    if (in == out)
        return GROOT_OK;
    struct gr_cuda_axis *a = NULL;
    for (int i = 0; i < GR_CUDA_AXES && !a; i++)
        if (cb->axes[i].w && cb->axes[i].in == in && cb->axes[i].out == out)
            a = &cb->axes[i];
    if (!a) {
        if (keep && cb->axes[cb->axes_next].w == keep)
            cb->axes_next = (cb->axes_next + 1) % GR_CUDA_AXES;
        a = &cb->axes[cb->axes_next];
        cb->axes_next = (cb->axes_next + 1) % GR_CUDA_AXES;
        if (a->w) {
            /* Queued kernels may still read the table this slot held. */
            GR_CUDA_TRY(&cb->base, cudaStreamSynchronize(cb->stream), "frames_to_pixels", "sync");
            axis_free(a);
        }
        GR_TRY(axis_upload(cb, a, in, out));
    }
    *ax = (grk_axis){a->w, a->bounds, a->taps};
    return GROOT_OK;
}

static size_t crop_rows_bytes(const gr_frame_job *j)
{
    return ((size_t)j->crop_h * j->width * 3 + 255) & ~(size_t)255;
}

groot_status gr_cuda_frames_to_pixels(gr_backend *be, int n, const gr_frame_job *jobs, int size, gr_tensor *pixels)
{
    gr_cuda_backend *cb = gr_cuda(be);
    GR_TRY(gr_frame_jobs_check(be, "frames_to_pixels", n, jobs, size, pixels));
    if (cb->capturing)
        return gr_fail(&be->err, GROOT_ERR_UNSUPPORTED,
                       "cuda frames_to_pixels: not allowed inside run_recorded (frames are host data)");
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += crop_rows_bytes(&jobs[i]);
    if (total > cb->frames_cap) {
        /* Queued kernels may still read the frames of a call before. */
        GR_CUDA_TRY(be, cudaStreamSynchronize(cb->stream), "frames_to_pixels", "sync");
        cudaFree(cb->frames);
        cb->frames = NULL;
        cb->frames_cap = 0;
        GR_CUDA_TRY(be, cudaMalloc((void **)&cb->frames, total), "frames_to_pixels", "frame buffer");
        cb->frames_cap = total;
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const gr_frame_job *j = &jobs[i];
        const int64_t row_bytes = (int64_t)j->width * 3;
        gr_tensor rows = gr_tensor_dense(cb->frames + off, GR_U8, j->crop_h, row_bytes);
        GR_TRY(be->ops->upload(be, &rows, j->rgb + (size_t)j->top * row_bytes, GR_U8));
        grk_axis ax, ay;
        GR_TRY(axis_table(cb, j->crop_w, size, NULL, &ax));
        GR_TRY(axis_table(cb, j->crop_h, size, ax.w, &ay));
        float *out = (float *)pixels->data + j->row * pixels->ld;
        GR_CUDA_TRY(be, grk_frame_to_pixels(cb->frames + off + (size_t)j->left * 3, row_bytes, ax, ay, size, out,
                                            cb->stream),
                    "frames_to_pixels", "launch");
        off += crop_rows_bytes(j);
    }
    return GROOT_OK;
}
