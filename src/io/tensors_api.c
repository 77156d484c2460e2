/* The public groot_tensors_* API (include/groot.h) over io/safetensors. A set
 * is either a file opened for reading or a writer collecting tensors. */
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

struct groot_tensors {
    gr_handle h; /* first, so groot_errmsg can read any handle */
    gr_st_file *file;     /* read mode */
    gr_st_writer *writer; /* write mode */
    /* Write mode: writer indices sorted by name, rebuilt after an add. */
    int *order;
    int order_valid;
};

static groot_tensors *new_set(void)
{
    groot_tensors *t = calloc(1, sizeof *t);
    if (t)
        gr_handle_init(&t->h);
    return t;
}

groot_status groot_tensors_open(const char *path, groot_tensors **out)
{
    groot_tensors *t = new_set();
    *out = t;
    if (!t)
        return GROOT_ERR_NOMEM;
    if (!path)
        return gr_fail(&t->h.err, GROOT_ERR_INVALID_ARG, "groot_tensors_open: path is NULL");
    return gr_st_open(path, &t->file, &t->h.err);
}

groot_status groot_tensors_create(groot_tensors **out)
{
    groot_tensors *t = new_set();
    *out = t;
    if (!t)
        return GROOT_ERR_NOMEM;
    return gr_st_writer_create(&t->writer, &t->h.err);
}

void groot_tensors_close(groot_tensors *t)
{
    if (!t)
        return;
    gr_st_close(t->file);
    gr_st_writer_destroy(t->writer);
    free(t->order);
    free(t);
}

static int to_public(gr_dtype d, groot_dtype *out)
{
    switch (d) {
    case GR_F32: *out = GROOT_F32; return 1;
    case GR_BF16: *out = GROOT_BF16; return 1;
    case GR_F16: *out = GROOT_F16; return 1;
    case GR_I32: *out = GROOT_I32; return 1;
    case GR_U8: *out = GROOT_U8; return 1;
    default: return 0;
    }
}

static int from_public(groot_dtype d, gr_dtype *out)
{
    switch (d) {
    case GROOT_F32: *out = GR_F32; return 1;
    case GROOT_BF16: *out = GR_BF16; return 1;
    case GROOT_F16: *out = GR_F16; return 1;
    case GROOT_I32: *out = GR_I32; return 1;
    case GROOT_U8: *out = GR_U8; return 1;
    default: return 0;
    }
}

static const char *public_dtype_name(groot_dtype d)
{
    static const char *const names[] = {"F32", "BF16", "F16", "I32", "U8",
                                        "F64", "I64", "I16", "I8", "BOOL"};
    return (unsigned)d < sizeof names / sizeof names[0] ? names[d] : "unknown";
}

/* Write mode keeps tensors in insertion order; names are listed sorted, as a
 * file's are, through an index sorted on demand. */
typedef struct named {
    const char *name;
    int index;
} named;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

static int ensure_order(groot_tensors *t)
{
    if (t->order_valid)
        return 1;
    int n = gr_st_writer_count(t->writer);
    named *tmp = malloc((n ? (size_t)n : 1) * sizeof *tmp);
    int *order = realloc(t->order, (n ? (size_t)n : 1) * sizeof *order);
    if (order)
        t->order = order;
    if (!tmp || !order) {
        free(tmp);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        gr_st_tensor ti;
        gr_st_writer_tensor(t->writer, i, &ti);
        tmp[i] = (named){ti.name, i};
    }
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_named);
    for (int i = 0; i < n; i++)
        order[i] = tmp[i].index;
    free(tmp);
    t->order_valid = 1;
    return 1;
}

int groot_tensors_count(const groot_tensors *t)
{
    if (!t)
        return 0;
    if (t->file)
        return t->file->count;
    if (t->writer)
        return gr_st_writer_count(t->writer);
    return 0;
}

const char *groot_tensors_name(const groot_tensors *t, int i)
{
    if (!t || i < 0 || i >= groot_tensors_count(t))
        return NULL;
    if (t->file)
        return t->file->tensors[i].name;
    /* Sorting caches into the set; the const in the signature is about the
     * tensors, not this index. */
    groot_tensors *m = (groot_tensors *)t;
    if (!ensure_order(m))
        return NULL;
    gr_st_tensor ti;
    gr_st_writer_tensor(t->writer, m->order[i], &ti);
    return ti.name;
}

/* The tensor called name in either mode, or 0. */
static int lookup(groot_tensors *t, const char *name, gr_st_tensor *out)
{
    if (t->file) {
        const gr_st_tensor *f = gr_st_find(t->file, name);
        if (f)
            *out = *f;
        return f != NULL;
    }
    if (!t->writer || !ensure_order(t))
        return 0;
    int lo = 0, hi = gr_st_writer_count(t->writer);
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        gr_st_writer_tensor(t->writer, t->order[mid], out);
        int c = strcmp(out->name, name);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

groot_status groot_tensors_get(groot_tensors *t, const char *name, groot_dtype *dtype, int *ndim,
                               int64_t shape[GROOT_MAX_DIMS], const void **data)
{
    if (!t)
        return GROOT_ERR_INVALID_ARG;
    gr_error_clear(&t->h.err);
    if (!name)
        return gr_fail(&t->h.err, GROOT_ERR_INVALID_ARG, "groot_tensors_get: name is NULL");
    if (!t->file && !t->writer)
        return gr_fail(&t->h.err, GROOT_ERR_INVALID_ARG,
                       "groot_tensors_get: the set failed to open");
    gr_st_tensor st;
    if (!lookup(t, name, &st))
        return gr_fail(&t->h.err, GROOT_ERR_INVALID_ARG, "no tensor '%s' in %s%s%s", name,
                       t->file ? "'" : "the set", t->file ? t->file->path : "",
                       t->file ? "'" : "");
    groot_dtype pd;
    if (!to_public(st.dtype, &pd))
        return gr_fail(&t->h.err, GROOT_ERR_INTERNAL, "tensor '%s' has an unmapped dtype", name);
    if (dtype)
        *dtype = pd;
    if (ndim)
        *ndim = st.ndim;
    if (shape) {
        for (int d = 0; d < GROOT_MAX_DIMS; d++)
            shape[d] = d < st.ndim ? st.shape[d] : 0;
    }
    if (data)
        *data = st.data;
    return GROOT_OK;
}

groot_status groot_tensors_add(groot_tensors *t, const char *name, groot_dtype dtype, int ndim,
                               const int64_t *shape, const void *data)
{
    if (!t)
        return GROOT_ERR_INVALID_ARG;
    gr_error_clear(&t->h.err);
    if (!t->writer)
        return gr_fail(&t->h.err, GROOT_ERR_INVALID_ARG,
                       "groot_tensors_add: the set was opened for reading, not created");
    gr_dtype d;
    if (!from_public(dtype, &d))
        return gr_fail(&t->h.err, GROOT_ERR_UNSUPPORTED,
                       "groot_tensors_add: tensor '%s': dtype %s is not supported (F32, BF16, "
                       "F16, I32, U8 are)",
                       name ? name : "(null)", public_dtype_name(dtype));
    /* Names must stay unique for the file to be readable; catching it here
     * names the caller's mistake at the call that makes it. */
    for (int i = 0, n = gr_st_writer_count(t->writer); name && i < n; i++) {
        gr_st_tensor existing;
        gr_st_writer_tensor(t->writer, i, &existing);
        if (strcmp(existing.name, name) == 0)
            return gr_fail(&t->h.err, GROOT_ERR_INVALID_ARG,
                           "groot_tensors_add: tensor '%s' is already in the set", name);
    }
    groot_status s = gr_st_writer_add(t->writer, name, d, ndim, shape, data, &t->h.err);
    if (s == GROOT_OK)
        t->order_valid = 0;
    return s;
}

groot_status groot_tensors_write(groot_tensors *t, const char *path)
{
    if (!t)
        return GROOT_ERR_INVALID_ARG;
    gr_error_clear(&t->h.err);
    if (!t->writer)
        return gr_fail(&t->h.err, GROOT_ERR_INVALID_ARG,
                       "groot_tensors_write: the set was opened for reading, not created");
    if (!path)
        return gr_fail(&t->h.err, GROOT_ERR_INVALID_ARG, "groot_tensors_write: path is NULL");
    return gr_st_writer_write_keep(t->writer, path, &t->h.err);
}
