#include "io/json_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

groot_status gr_read_file(const char *path, char **text, size_t *len, gr_error *err)
{
    *text = NULL;
    if (len)
        *len = 0;
    /* O_NONBLOCK: opening a FIFO must not hang before fstat can refuse it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return gr_fail(err, GROOT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return gr_fail(err, GROOT_ERR_IO, "'%s' is not a regular file", path);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return gr_fail(err, GROOT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    }
    /* Sized from fstat but read until EOF, so a file that changes size while
     * being read still yields what was actually read. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return gr_fail(err, GROOT_ERR_NOMEM, "out of memory reading '%s' (%zu bytes)", path, cap);
    }
    for (;;) {
        if (n + 1 == cap) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                fclose(f);
                return gr_fail(err, GROOT_ERR_NOMEM, "out of memory reading '%s'", path);
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return gr_fail(err, GROOT_ERR_IO, "error reading '%s'", path);
    }
    buf[n] = '\0';
    *text = buf;
    if (len)
        *len = n;
    return GROOT_OK;
}

groot_status gr_json_parse(const char *text, size_t len, const char *what, cJSON **out,
                           gr_error *err)
{
    const char *end = NULL;
    /* return_parse_end rather than cJSON_GetErrorPtr: the latter is global state. */
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        int line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        *out = NULL;
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': invalid JSON at line %d column %d", what,
                       line, col);
    }
    /* Only whitespace (and NULs some writers leave) may follow the value. */
    for (const char *p = end; p && p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\0') {
            cJSON_Delete(root);
            *out = NULL;
            return gr_fail(err, GROOT_ERR_FORMAT,
                           "'%s': invalid JSON: unexpected data after the value at byte %zu",
                           what, (size_t)(p - text));
        }
    }
    *out = root;
    return GROOT_OK;
}

groot_status gr_json_load_object(const char *path, cJSON **out, gr_error *err)
{
    char *text;
    size_t len;
    *out = NULL;
    GR_TRY(gr_read_file(path, &text, &len, err));
    cJSON *root;
    groot_status s = gr_json_parse(text, len, path, &root, err);
    free(text);
    if (s != GROOT_OK)
        return s;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': top level must be a JSON object", path);
    }
    *out = root;
    return GROOT_OK;
}

const cJSON *gr_json_at(const cJSON *obj, const char *keypath)
{
    const cJSON *cur = obj;
    const char *p = keypath;
    char seg[256];
    while (cur) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof seg)
            return NULL;
        memcpy(seg, p, n);
        seg[n] = '\0';
        if (!cJSON_IsObject(cur))
            return NULL;
        cur = cJSON_GetObjectItemCaseSensitive(cur, seg);
        if (!dot)
            return cur;
        p = dot + 1;
    }
    return NULL;
}

int gr_json_is_absent(const cJSON *obj, const char *keypath)
{
    const cJSON *it = gr_json_at(obj, keypath);
    return !it || cJSON_IsNull(it);
}

static const char *type_name(const cJSON *it)
{
    if (cJSON_IsNull(it)) return "null";
    if (cJSON_IsBool(it)) return "a boolean";
    if (cJSON_IsNumber(it)) return "a number";
    if (cJSON_IsString(it)) return "a string";
    if (cJSON_IsArray(it)) return "an array";
    if (cJSON_IsObject(it)) return "an object";
    return "invalid";
}

static groot_status required(const cJSON *obj, const char *keypath, const char *file,
                             const cJSON **it, gr_error *err)
{
    *it = gr_json_at(obj, keypath);
    if (!*it)
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': missing key '%s'", file, keypath);
    if (cJSON_IsNull(*it))
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': key '%s' is null", file, keypath);
    return GROOT_OK;
}

static groot_status as_int(const cJSON *it, const char *keypath, const char *file, int *out,
                           gr_error *err)
{
    if (!cJSON_IsNumber(it))
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': key '%s' must be an integer, not %s", file,
                       keypath, type_name(it));
    double d = it->valuedouble;
    if (!(d >= INT_MIN && d <= INT_MAX) || d != floor(d))
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': key '%s' must be an integer, not %g", file,
                       keypath, d);
    *out = (int)d;
    return GROOT_OK;
}

groot_status gr_json_get_int(const cJSON *obj, const char *keypath, const char *file, int *out,
                             gr_error *err)
{
    const cJSON *it;
    GR_TRY(required(obj, keypath, file, &it, err));
    return as_int(it, keypath, file, out, err);
}

groot_status gr_json_get_double(const cJSON *obj, const char *keypath, const char *file,
                                double *out, gr_error *err)
{
    const cJSON *it;
    GR_TRY(required(obj, keypath, file, &it, err));
    if (!cJSON_IsNumber(it))
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': key '%s' must be a number, not %s", file,
                       keypath, type_name(it));
    if (!isfinite(it->valuedouble))
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': key '%s' must be finite", file, keypath);
    *out = it->valuedouble;
    return GROOT_OK;
}

static groot_status as_bool(const cJSON *it, const char *keypath, const char *file, int *out,
                            gr_error *err)
{
    if (!cJSON_IsBool(it))
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': key '%s' must be true or false, not %s",
                       file, keypath, type_name(it));
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return GROOT_OK;
}

groot_status gr_json_get_bool(const cJSON *obj, const char *keypath, const char *file, int *out,
                              gr_error *err)
{
    const cJSON *it;
    GR_TRY(required(obj, keypath, file, &it, err));
    return as_bool(it, keypath, file, out, err);
}

static groot_status as_string(const cJSON *it, const char *keypath, const char *file,
                              const char **out, gr_error *err)
{
    if (!cJSON_IsString(it) || !it->valuestring)
        return gr_fail(err, GROOT_ERR_FORMAT, "'%s': key '%s' must be a string, not %s", file,
                       keypath, type_name(it));
    *out = it->valuestring;
    return GROOT_OK;
}

groot_status gr_json_get_string(const cJSON *obj, const char *keypath, const char *file,
                                const char **out, gr_error *err)
{
    const cJSON *it;
    GR_TRY(required(obj, keypath, file, &it, err));
    return as_string(it, keypath, file, out, err);
}

groot_status gr_json_get_int_or(const cJSON *obj, const char *keypath, const char *file, int def,
                                int *out, gr_error *err)
{
    const cJSON *it = gr_json_at(obj, keypath);
    if (!it || cJSON_IsNull(it)) {
        *out = def;
        return GROOT_OK;
    }
    return as_int(it, keypath, file, out, err);
}

groot_status gr_json_get_bool_or(const cJSON *obj, const char *keypath, const char *file,
                                 int def, int *out, gr_error *err)
{
    const cJSON *it = gr_json_at(obj, keypath);
    if (!it || cJSON_IsNull(it)) {
        *out = def;
        return GROOT_OK;
    }
    return as_bool(it, keypath, file, out, err);
}

groot_status gr_json_get_string_or(const cJSON *obj, const char *keypath, const char *file,
                                   const char *def, const char **out, gr_error *err)
{
    const cJSON *it = gr_json_at(obj, keypath);
    if (!it || cJSON_IsNull(it)) {
        *out = def;
        return GROOT_OK;
    }
    return as_string(it, keypath, file, out, err);
}

int gr_json_as_size(const cJSON *item, long long *out)
{
    if (!cJSON_IsNumber(item))
        return 0;
    double d = item->valuedouble;
    /* Beyond 2^53 a double no longer holds every integer: the value read may not
     * be the value written, so it cannot be trusted as a size or offset. */
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d))
        return 0;
    *out = (long long)d;
    return 1;
}
