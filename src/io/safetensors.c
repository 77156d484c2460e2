#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/half.h"
#include "io/json_util.h"

/* The reference implementation refuses headers above 100 MB; a real one for a
 * 3B model is a few hundred KB, so anything bigger is corruption or hostility. */
#define ST_MAX_HEADER 100000000ull

/* Conversion is memory-bound and a parallel region costs tens of microseconds
 * (far more on a loaded machine): threads only pay off on big tensors. */
#define ST_PARALLEL_MIN (1 << 20)

/* ------------------------------------------------------------ dtypes --- */

int gr_st_dtype_from_name(const char *name)
{
    for (int t = 0; t < GR_DTYPE_COUNT; t++)
        if (strcmp(name, gr_dtype_name((gr_dtype)t)) == 0)
            return t;
    return -1;
}

/* Dtypes the format defines that this library does not read: worth telling
 * apart from garbage, since the file itself is fine. */
static int is_other_st_dtype(const char *name)
{
    static const char *const known[] = {"F64", "I64", "U64", "I16", "U16", "U32", "I8",
                                        "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4",
                                        "F6_E2M3", "F6_E3M2"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i]) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------ reading --- */

static groot_status tensor_fail(gr_error *err, groot_status status, const char *path,
                                const char *tensor, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static groot_status tensor_fail(gr_error *err, groot_status status, const char *path,
                                const char *tensor, const char *fmt, ...)
{
    char detail[GR_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return gr_fail(err, status, "safetensors '%s': tensor '%s': %s", path, tensor, detail);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const gr_st_tensor *)a)->name, ((const gr_st_tensor *)b)->name);
}

typedef struct span {
    size_t begin, end;
    const char *name;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Fills t from one header entry; data_size bounds the offsets. */
static groot_status parse_entry(const char *path, const cJSON *entry, size_t data_size,
                                gr_st_tensor *t, size_t *begin_out, gr_error *err)
{
    const char *name = entry->string;
    if (!cJSON_IsObject(entry))
        return tensor_fail(err, GROOT_ERR_FORMAT, path, name, "entry must be a JSON object");

    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(dt) || !dt->valuestring)
        return tensor_fail(err, GROOT_ERR_FORMAT, path, name, "missing or non-string 'dtype'");
    int dtype = gr_st_dtype_from_name(dt->valuestring);
    if (dtype < 0) {
        if (is_other_st_dtype(dt->valuestring))
            return tensor_fail(err, GROOT_ERR_UNSUPPORTED, path, name,
                               "dtype %s is not supported (BF16, F16, F32, I32, U8 are)",
                               dt->valuestring);
        return tensor_fail(err, GROOT_ERR_FORMAT, path, name, "unknown dtype '%.64s'",
                           dt->valuestring);
    }
    t->dtype = (gr_dtype)dtype;

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (!cJSON_IsArray(shape))
        return tensor_fail(err, GROOT_ERR_FORMAT, path, name, "missing or non-array 'shape'");
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > GR_ST_MAX_DIMS)
        return tensor_fail(err, GROOT_ERR_FORMAT, path, name, "%d dimensions (at most %d)",
                           ndim, GR_ST_MAX_DIMS);
    t->ndim = ndim;
    /* numel * element size must fit in a size_t; checking the byte count after
     * every multiplication keeps each step from overflowing. */
    size_t esize = gr_dtype_size(t->dtype);
    size_t bytes = esize;
    int overflow = 0, d = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape)
    {
        long long v;
        if (!gr_json_as_size(dim, &v))
            return tensor_fail(err, GROOT_ERR_FORMAT, path, name,
                               "shape entry %d is not a non-negative integer", d);
        t->shape[d++] = v;
        if (v != 0 && bytes > SIZE_MAX / (size_t)v)
            overflow = 1;
        else
            bytes *= (size_t)v;
    }
    if (overflow)
        return tensor_fail(err, GROOT_ERR_FORMAT, path, name, "shape too large (overflow)");
    t->numel = (int64_t)(bytes / esize);
    t->nbytes = bytes;

    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    long long b, e;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !gr_json_as_size(cJSON_GetArrayItem(offs, 0), &b) ||
        !gr_json_as_size(cJSON_GetArrayItem(offs, 1), &e))
        return tensor_fail(err, GROOT_ERR_FORMAT, path, name,
                           "'data_offsets' must be [begin, end] of non-negative integers");
    if (b > e)
        return tensor_fail(err, GROOT_ERR_FORMAT, path, name,
                           "data_offsets [%lld, %lld]: begin after end", b, e);
    if ((unsigned long long)e > data_size)
        return tensor_fail(err, GROOT_ERR_FORMAT, path, name,
                           "data_offsets [%lld, %lld] run past the data section (%zu bytes)", b,
                           e, data_size);
    if ((size_t)(e - b) != bytes)
        return tensor_fail(err, GROOT_ERR_FORMAT, path, name,
                           "data_offsets [%lld, %lld] span %lld bytes but shape and dtype %s "
                           "need %zu",
                           b, e, e - b, gr_dtype_name(t->dtype), bytes);
    *begin_out = (size_t)b;
    return GROOT_OK;
}

/* Parses and validates the header; on failure f keeps whatever it got, for
 * gr_st_close to free. */
static groot_status parse_header(gr_st_file *f, gr_error *err)
{
    const unsigned char *base = f->map;
    if (f->map_size < 8)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "safetensors '%s': %zu bytes is too short for the 8-byte header length",
                       f->path, f->map_size);
    unsigned long long n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | base[i];
    if (n > f->map_size - 8)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "safetensors '%s': header length %llu runs past the end of the file "
                       "(%zu bytes): truncated or not a safetensors file",
                       f->path, n, f->map_size);
    if (n > ST_MAX_HEADER)
        return gr_fail(err, GROOT_ERR_FORMAT,
                       "safetensors '%s': header length %llu exceeds the %llu-byte limit", f->path,
                       n, ST_MAX_HEADER);
    size_t data_size = f->map_size - 8 - (size_t)n;
    const char *data = (const char *)base + 8 + n;

    cJSON *root;
    if (gr_json_parse((const char *)base + 8, (size_t)n, f->path, &root, err) != GROOT_OK)
        return gr_error_prefix(err, "safetensors header");
    groot_status s = GROOT_OK;
    span *spans = NULL;
    if (!cJSON_IsObject(root)) {
        s = gr_fail(err, GROOT_ERR_FORMAT, "safetensors '%s': header must be a JSON object",
                    f->path);
        goto done;
    }

    int total = cJSON_GetArraySize(root);
    f->tensors = calloc(total ? (size_t)total : 1, sizeof *f->tensors);
    spans = malloc((total ? (size_t)total : 1) * sizeof *spans);
    if (!f->tensors || !spans) {
        s = gr_fail(err, GROOT_ERR_NOMEM, "safetensors '%s': out of memory for %d tensors",
                    f->path, total);
        goto done;
    }
    const cJSON *entry;
    cJSON_ArrayForEach(entry, root)
    {
        if (!entry->string) {
            s = gr_fail(err, GROOT_ERR_FORMAT, "safetensors '%s': entry without a name", f->path);
            goto done;
        }
        if (strcmp(entry->string, "__metadata__") == 0)
            continue;
        gr_st_tensor *t = &f->tensors[f->count];
        size_t begin = 0;
        s = parse_entry(f->path, entry, data_size, t, &begin, err);
        if (s != GROOT_OK)
            goto done;
        t->name = strdup(entry->string);
        if (!t->name) {
            s = gr_fail(err, GROOT_ERR_NOMEM, "safetensors '%s': out of memory", f->path);
            goto done;
        }
        t->data = data + begin;
        spans[f->count] = (span){begin, begin + t->nbytes, t->name};
        f->count++;
    }

    /* Sorted by begin, any overlap shows up between neighbours once the
     * furthest end seen so far is carried along. Empty tensors occupy nothing. */
    qsort(spans, (size_t)f->count, sizeof *spans, cmp_span);
    size_t reach = 0;
    const char *reach_name = NULL;
    for (int i = 0; i < f->count; i++) {
        if (spans[i].begin == spans[i].end)
            continue;
        if (reach_name && spans[i].begin < reach) {
            s = tensor_fail(err, GROOT_ERR_FORMAT, f->path, spans[i].name,
                            "data [%zu, %zu) overlaps tensor '%s' (ending at %zu)", spans[i].begin,
                            spans[i].end, reach_name, reach);
            goto done;
        }
        reach = spans[i].end;
        reach_name = spans[i].name;
    }

    qsort(f->tensors, (size_t)f->count, sizeof *f->tensors, cmp_tensor_name);
    for (int i = 1; i < f->count; i++) {
        if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) == 0) {
            s = tensor_fail(err, GROOT_ERR_FORMAT, f->path, f->tensors[i].name,
                            "appears twice in the header");
            goto done;
        }
    }
done:
    free(spans);
    cJSON_Delete(root);
    return s;
}

groot_status gr_st_open(const char *path, gr_st_file **out, gr_error *err)
{
    *out = NULL;
    gr_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory opening '%s'", path);
    }
    /* O_NONBLOCK: opening a FIFO must not hang before fstat can refuse it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        groot_status s =
            gr_fail(err, GROOT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
        gr_st_close(f);
        return s;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        gr_st_close(f);
        return gr_fail(err, GROOT_ERR_IO, "'%s' is not a regular file", path);
    }
    f->map_size = (size_t)st.st_size;
    if (f->map_size > 0) {
        void *m = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            gr_st_close(f);
            return gr_fail(err, GROOT_ERR_IO, "cannot map '%s': %s", path, strerror(e));
        }
        f->map = m;
    }
    close(fd); /* the mapping keeps the file */

    groot_status s = parse_header(f, err);
    if (s != GROOT_OK) {
        gr_st_close(f);
        return s;
    }
    *out = f;
    return GROOT_OK;
}

void gr_st_close(gr_st_file *f)
{
    if (!f)
        return;
    if (f->tensors) {
        for (int i = 0; i < f->count; i++)
            free(f->tensors[i].name);
        free(f->tensors);
    }
    if (f->map)
        munmap(f->map, f->map_size);
    free(f->path);
    free(f);
}

const gr_st_tensor *gr_st_find(const gr_st_file *f, const char *name)
{
    if (!f || !name || f->count == 0)
        return NULL;
    gr_st_tensor key = {.name = (char *)name};
    return bsearch(&key, f->tensors, (size_t)f->count, sizeof *f->tensors, cmp_tensor_name);
}

void gr_st_release(const gr_st_file *f, const gr_st_tensor *t)
{
    if (!f || !t || !f->map || t->nbytes == 0)
        return;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return;
    /* Only pages wholly inside the tensor: a neighbour sharing the edge pages
     * may still be wanted. The mapping is read-only, so the pages come back
     * from the file if touched again. */
    uintptr_t lo = (uintptr_t)t->data, hi = lo + t->nbytes;
    uintptr_t first = (lo + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    uintptr_t last = hi / (uintptr_t)page * (uintptr_t)page;
    if (last > first)
        madvise((void *)first, last - first, MADV_DONTNEED);
}

groot_status gr_st_to_f32(const gr_st_tensor *t, float *dst, gr_error *err)
{
    /* Bytes are gathered with memcpy: a file's offsets need not be aligned. */
    const unsigned char *src = t->data;
    int64_t n = t->numel;
    switch (t->dtype) {
    case GR_F32:
        if (n > 0)
            memcpy(dst, src, (size_t)n * 4);
        return GROOT_OK;
    case GR_BF16:
#pragma omp parallel for schedule(static) if (n >= ST_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = gr_bf16_to_f32(h);
        }
        return GROOT_OK;
    case GR_F16:
#pragma omp parallel for schedule(static) if (n >= ST_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = gr_f16_to_f32(h);
        }
        return GROOT_OK;
    default:
        return gr_fail(err, GROOT_ERR_UNSUPPORTED,
                       "tensor '%s': dtype %s cannot be converted to float32", t->name,
                       gr_dtype_name(t->dtype));
    }
}

/* ------------------------------------------------------------ writing --- */

typedef struct wtensor {
    char *name;
    gr_dtype dtype;
    int ndim;
    int64_t shape[GR_ST_MAX_DIMS];
    void *data;
    size_t nbytes;
} wtensor;

struct gr_st_writer {
    wtensor *items;
    int count, cap;
    size_t data_size;
};

groot_status gr_st_writer_create(gr_st_writer **out, gr_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory creating a safetensors writer");
    return GROOT_OK;
}

static void writer_reset(gr_st_writer *w)
{
    for (int i = 0; i < w->count; i++) {
        free(w->items[i].name);
        free(w->items[i].data);
    }
    w->count = 0;
    w->data_size = 0;
}

void gr_st_writer_destroy(gr_st_writer *w)
{
    if (!w)
        return;
    writer_reset(w);
    free(w->items);
    free(w);
}

size_t gr_st_writer_data_size(const gr_st_writer *w) { return w->data_size; }

int gr_st_writer_count(const gr_st_writer *w) { return w->count; }

void gr_st_writer_tensor(const gr_st_writer *w, int i, gr_st_tensor *out)
{
    const wtensor *it = &w->items[i];
    memset(out, 0, sizeof *out);
    out->name = it->name;
    out->dtype = it->dtype;
    out->ndim = it->ndim;
    memcpy(out->shape, it->shape, sizeof it->shape);
    out->numel = (int64_t)(it->nbytes / gr_dtype_size(it->dtype));
    out->data = it->data;
    out->nbytes = it->nbytes;
}

/* Validates a new tensor and appends it with an uninitialized buffer of the
 * right size, for the caller to fill. */
static groot_status writer_append(gr_st_writer *w, const char *name, gr_dtype dtype, int ndim,
                                  const int64_t *shape, wtensor **out, gr_error *err)
{
    if (!name)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "safetensors writer: tensor name is NULL");
    if (strcmp(name, "__metadata__") == 0)
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "safetensors writer: '__metadata__' is reserved, not a tensor name");
    if ((int)dtype < 0 || dtype >= GR_DTYPE_COUNT)
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "safetensors writer: tensor '%s': bad dtype %d",
                       name, (int)dtype);
    if (ndim < 0 || ndim > GR_ST_MAX_DIMS || (ndim > 0 && !shape))
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "safetensors writer: tensor '%s': %d dimensions (0 to %d allowed)", name,
                       ndim, GR_ST_MAX_DIMS);
    size_t bytes = gr_dtype_size(dtype);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return gr_fail(err, GROOT_ERR_INVALID_ARG,
                           "safetensors writer: tensor '%s': dimension %d is negative (%lld)",
                           name, d, (long long)shape[d]);
        if (shape[d] != 0 && bytes > SIZE_MAX / (uint64_t)shape[d])
            return gr_fail(err, GROOT_ERR_INVALID_ARG,
                           "safetensors writer: tensor '%s': shape too large", name);
        bytes *= (size_t)shape[d];
    }
    if (w->count == w->cap) {
        int cap = w->cap ? w->cap * 2 : 64;
        wtensor *grown = realloc(w->items, (size_t)cap * sizeof *grown);
        if (!grown)
            return gr_fail(err, GROOT_ERR_NOMEM, "safetensors writer: out of memory");
        w->items = grown;
        w->cap = cap;
    }
    wtensor *t = &w->items[w->count];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->data = malloc(bytes ? bytes : 1);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return gr_fail(err, GROOT_ERR_NOMEM,
                       "safetensors writer: out of memory for tensor '%s' (%zu bytes)", name,
                       bytes);
    }
    t->dtype = dtype;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        t->shape[d] = shape[d];
    t->nbytes = bytes;
    w->count++;
    w->data_size += bytes;
    *out = t;
    return GROOT_OK;
}

groot_status gr_st_writer_add(gr_st_writer *w, const char *name, gr_dtype dtype, int ndim,
                              const int64_t *shape, const void *data, gr_error *err)
{
    wtensor *t = NULL;
    GR_TRY(writer_append(w, name, dtype, ndim, shape, &t, err));
    if (t->nbytes) {
        if (!data) {
            free(t->name);
            free(t->data);
            w->count--;
            w->data_size -= t->nbytes;
            return gr_fail(err, GROOT_ERR_INVALID_ARG,
                           "safetensors writer: tensor '%s': data is NULL", name);
        }
        memcpy(t->data, data, t->nbytes);
    }
    return GROOT_OK;
}

groot_status gr_st_writer_add_f32(gr_st_writer *w, const char *name, gr_dtype dtype, int ndim,
                                  const int64_t *shape, const float *data, gr_error *err)
{
    if (dtype != GR_F32 && dtype != GR_BF16 && dtype != GR_F16)
        return gr_fail(err, GROOT_ERR_INVALID_ARG,
                       "safetensors writer: tensor '%s': cannot convert float32 to %s",
                       name ? name : "(null)", gr_dtype_name(dtype));
    wtensor *t = NULL;
    GR_TRY(writer_append(w, name, dtype, ndim, shape, &t, err));
    size_t n = t->nbytes / gr_dtype_size(dtype);
    if (n && !data) {
        free(t->name);
        free(t->data);
        w->count--;
        w->data_size -= t->nbytes;
        return gr_fail(err, GROOT_ERR_INVALID_ARG, "safetensors writer: tensor '%s': data is NULL",
                       name);
    }
    if (dtype == GR_F32) {
        if (n)
            memcpy(t->data, data, n * 4);
    } else {
        uint16_t *dst = t->data;
        int bf16 = dtype == GR_BF16;
#pragma omp parallel for schedule(static) if (n >= ST_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++)
            dst[i] = bf16 ? gr_f32_to_bf16(data[i]) : gr_f32_to_f16(data[i]);
    }
    return GROOT_OK;
}

/* A growable text buffer for the header. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            sb_put(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static int cmp_wname(const void *a, const void *b)
{
    const wtensor *x = *(const wtensor *const *)a, *y = *(const wtensor *const *)b;
    return strcmp(x->name, y->name);
}

/* Widest elements first, then by name: with the data section 8-byte aligned
 * and no gaps (readers such as the reference's reject gaps), every tensor then
 * starts at a multiple of its element size. */
static int cmp_wlayout(const void *a, const void *b)
{
    const wtensor *x = *(const wtensor *const *)a, *y = *(const wtensor *const *)b;
    size_t sx = gr_dtype_size(x->dtype), sy = gr_dtype_size(y->dtype);
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Closes f and removes the partial file, but only if it is a regular one:
 * the path may be a device such as /dev/full. */
static groot_status write_fail(FILE *f, int regular, const char *path, const char *what,
                               gr_error *err)
{
    int e = errno;
    if (f)
        fclose(f);
    if (regular)
        unlink(path);
    return gr_fail(err, GROOT_ERR_IO, "cannot write '%s': %s: %s", path, what,
                   e ? strerror(e) : "write error");
}

static groot_status writer_write(gr_st_writer *w, const char *path, gr_error *err)
{
    int n = w->count;
    wtensor **by_name = malloc((n ? (size_t)n : 1) * sizeof *by_name);
    wtensor **by_layout = malloc((n ? (size_t)n : 1) * sizeof *by_layout);
    size_t *offset = malloc((n ? (size_t)n : 1) * sizeof *offset);
    sbuf hb = {0};
    groot_status s = GROOT_OK;
    if (!by_name || !by_layout || !offset) {
        s = gr_fail(err, GROOT_ERR_NOMEM, "writing '%s': out of memory", path);
        goto done;
    }
    for (int i = 0; i < n; i++)
        by_name[i] = by_layout[i] = &w->items[i];
    qsort(by_name, (size_t)n, sizeof *by_name, cmp_wname);
    for (int i = 1; i < n; i++) {
        if (strcmp(by_name[i - 1]->name, by_name[i]->name) == 0) {
            s = gr_fail(err, GROOT_ERR_INVALID_ARG, "writing '%s': tensor '%s' added twice", path,
                        by_name[i]->name);
            goto done;
        }
    }
    qsort(by_layout, (size_t)n, sizeof *by_layout, cmp_wlayout);
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        offset[by_layout[i] - w->items] = pos;
        pos += by_layout[i]->nbytes;
    }

    sb_str(&hb, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        const wtensor *t = by_name[i];
        char num[64];
        sb_put(&hb, ",", 1);
        sb_json_string(&hb, t->name);
        sb_str(&hb, ":{\"dtype\":\"");
        sb_str(&hb, gr_dtype_name(t->dtype));
        sb_str(&hb, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t->shape[d]);
            sb_str(&hb, num);
        }
        size_t off = offset[t - w->items];
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", off, off + t->nbytes);
        sb_str(&hb, num);
    }
    sb_put(&hb, "}", 1);
    /* Spaces after the JSON are allowed; they put the data on an 8-byte boundary. */
    while (!hb.failed && hb.len % 8)
        sb_put(&hb, " ", 1);
    if (hb.failed) {
        s = gr_fail(err, GROOT_ERR_NOMEM, "writing '%s': out of memory for the header", path);
        goto done;
    }

    FILE *f = fopen(path, "wb");
    if (!f) {
        s = gr_fail(err, GROOT_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
        goto done;
    }
    struct stat st;
    int regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((unsigned long long)hb.len >> (8 * i));
    errno = 0;
    if (fwrite(len8, 1, 8, f) != 8 || fwrite(hb.p, 1, hb.len, f) != hb.len) {
        s = write_fail(f, regular, path, "header", err);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const wtensor *t = by_layout[i];
        if (t->nbytes && fwrite(t->data, 1, t->nbytes, f) != t->nbytes) {
            char what[300];
            snprintf(what, sizeof what, "tensor '%.200s'", t->name);
            s = write_fail(f, regular, path, what, err);
            goto done;
        }
    }
    if (fflush(f) != 0) {
        s = write_fail(f, regular, path, "flush", err);
        goto done;
    }
    if (fclose(f) != 0)
        s = write_fail(NULL, regular, path, "close", err);
done:
    free(hb.p);
    free(offset);
    free(by_layout);
    free(by_name);
    return s;
}

groot_status gr_st_writer_write(gr_st_writer *w, const char *path, gr_error *err)
{
    GR_TRY(writer_write(w, path, err));
    writer_reset(w);
    return GROOT_OK;
}

groot_status gr_st_writer_write_keep(gr_st_writer *w, const char *path, gr_error *err)
{
    return writer_write(w, path, err);
}
