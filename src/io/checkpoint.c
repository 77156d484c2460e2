#include "io/checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/json_util.h"

#define INDEX_NAME "model.safetensors.index.json"
#define SINGLE_NAME "model.safetensors"

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* An index is data from elsewhere: a shard name must stay inside the
 * checkpoint directory. */
static int safe_shard_name(const char *name)
{
    return name[0] != '\0' && !strchr(name, '/') && !strchr(name, '\\') && !strstr(name, "..");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static groot_status add_shard(gr_checkpoint *c, const char *file, gr_error *err)
{
    char *path = join(c->dir, file);
    if (!path)
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory opening checkpoint '%s'", c->dir);
    gr_st_file *f;
    groot_status s = gr_st_open(path, &f, err);
    free(path);
    if (s != GROOT_OK)
        return s;
    c->shards[c->num_shards++] = f;
    return GROOT_OK;
}

/* Opens every distinct shard the index names, in name order, and checks that
 * each mapped tensor is really in its shard. */
static groot_status open_indexed(gr_checkpoint *c, const char *index_path, gr_error *err)
{
    cJSON *root;
    GR_TRY(gr_json_load_object(index_path, &root, err));
    groot_status s = GROOT_OK;
    const char **names = NULL;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    int n = cJSON_IsObject(map) ? cJSON_GetArraySize(map) : 0;
    if (!cJSON_IsObject(map) || n == 0) {
        s = gr_fail(err, GROOT_ERR_FORMAT, "'%s': 'weight_map' must be a non-empty object",
                    index_path);
        goto done;
    }
    names = malloc((size_t)n * sizeof *names);
    if (!names) {
        s = gr_fail(err, GROOT_ERR_NOMEM, "'%s': out of memory", index_path);
        goto done;
    }
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, map)
    {
        if (!cJSON_IsString(e) || !e->valuestring) {
            s = gr_fail(err, GROOT_ERR_FORMAT, "'%s': weight_map entry '%s' must be a file name",
                        index_path, e->string ? e->string : "");
            goto done;
        }
        if (!safe_shard_name(e->valuestring)) {
            s = gr_fail(err, GROOT_ERR_FORMAT,
                        "'%s': weight_map maps '%s' to '%s', which is not a plain file name in "
                        "the checkpoint directory",
                        index_path, e->string ? e->string : "", e->valuestring);
            goto done;
        }
        names[k++] = e->valuestring;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    int distinct = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || strcmp(names[i], names[distinct - 1]) != 0)
            names[distinct++] = names[i];

    c->shards = calloc((size_t)distinct, sizeof *c->shards);
    if (!c->shards) {
        s = gr_fail(err, GROOT_ERR_NOMEM, "'%s': out of memory", index_path);
        goto done;
    }
    for (int i = 0; i < distinct; i++) {
        s = add_shard(c, names[i], err);
        if (s != GROOT_OK) {
            gr_error_prefix(err, "checkpoint index '%s' names shard '%s'", index_path, names[i]);
            goto done;
        }
    }
    /* names[] is sorted like c->shards, so a shard is found by bsearch. */
    cJSON_ArrayForEach(e, map)
    {
        const char **hit = bsearch(&e->valuestring, names, (size_t)distinct, sizeof *names,
                                   cmp_str);
        const gr_st_file *shard = c->shards[hit - names];
        if (!gr_st_find(shard, e->string)) {
            s = gr_fail(err, GROOT_ERR_FORMAT,
                        "checkpoint index '%s' maps tensor '%s' to '%s', which does not hold it",
                        index_path, e->string, e->valuestring);
            goto done;
        }
    }
done:
    free(names);
    cJSON_Delete(root);
    return s;
}

groot_status gr_checkpoint_open(const char *dir, gr_checkpoint **out, gr_error *err)
{
    *out = NULL;
    gr_checkpoint *c = calloc(1, sizeof *c);
    char *index_path = NULL, *single_path = NULL;
    groot_status s = GROOT_OK;
    if (!c || !(c->dir = strdup(dir)) || !(index_path = join(dir, INDEX_NAME)) ||
        !(single_path = join(dir, SINGLE_NAME))) {
        s = gr_fail(err, GROOT_ERR_NOMEM, "out of memory opening checkpoint '%s'", dir);
        goto done;
    }
    if (file_exists(index_path)) {
        s = open_indexed(c, index_path, err);
    } else if (file_exists(single_path)) {
        c->shards = calloc(1, sizeof *c->shards);
        if (!c->shards)
            s = gr_fail(err, GROOT_ERR_NOMEM, "out of memory opening checkpoint '%s'", dir);
        else
            s = add_shard(c, SINGLE_NAME, err);
    } else {
        s = gr_fail(err, GROOT_ERR_IO, "checkpoint '%s': neither %s nor %s found", dir,
                    INDEX_NAME, SINGLE_NAME);
    }
done:
    free(index_path);
    free(single_path);
    if (s != GROOT_OK) {
        gr_checkpoint_close(c);
        return s;
    }
    *out = c;
    return GROOT_OK;
}

void gr_checkpoint_close(gr_checkpoint *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->num_shards; i++)
        gr_st_close(c->shards[i]);
    free(c->shards);
    free(c->dir);
    free(c);
}

const gr_st_tensor *gr_checkpoint_find(const gr_checkpoint *c, const char *name,
                                       const gr_st_file **file)
{
    for (int i = 0; i < c->num_shards; i++) {
        const gr_st_tensor *t = gr_st_find(c->shards[i], name);
        if (t) {
            if (file)
                *file = c->shards[i];
            return t;
        }
    }
    if (file)
        *file = NULL;
    return NULL;
}

/* "[a,b,c]" into buf; a shape too long for buf is cut short. */
static const char *shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t n = 0;
    for (int d = -1; d <= ndim && n < size; d++) {
        int w;
        if (d < 0)
            w = snprintf(buf + n, size - n, "[");
        else if (d == ndim)
            w = snprintf(buf + n, size - n, "]");
        else
            w = snprintf(buf + n, size - n, d ? ",%lld" : "%lld", (long long)shape[d]);
        n += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

groot_status gr_checkpoint_expect(const gr_checkpoint *c, const char *name, int ndim,
                                  const int64_t *shape, const gr_st_tensor **out, gr_error *err)
{
    const gr_st_file *file;
    const gr_st_tensor *t = gr_checkpoint_find(c, name, &file);
    if (out)
        *out = NULL;
    if (!t)
        return gr_fail(err, GROOT_ERR_FORMAT, "tensor '%s' not found in checkpoint '%s'", name,
                       c->dir);
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == shape[d];
    if (!same) {
        char got[160], want[160];
        return gr_fail(err, GROOT_ERR_FORMAT, "tensor '%s' in '%s': shape %s but expected %s",
                       name, file->path, shape_str(t->ndim, t->shape, got, sizeof got),
                       shape_str(ndim, shape, want, sizeof want));
    }
    if (out)
        *out = t;
    return GROOT_OK;
}
