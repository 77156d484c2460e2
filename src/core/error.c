#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

groot_status gr_fail(gr_error *err, groot_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

groot_status gr_error_prefix(gr_error *err, const char *fmt, ...)
{
    if (!err)
        return GROOT_ERR_INTERNAL;
    char prefix[GR_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (n < 0)
        return err->status;
    /* Room for both parts; the result is cut to the message size. */
    char joined[2 * GR_ERRMSG_MAX + 2];
    snprintf(joined, sizeof joined, "%s: %s", prefix, err->msg);
    size_t len = strlen(joined);
    if (len >= sizeof err->msg)
        len = sizeof err->msg - 1;
    memcpy(err->msg, joined, len);
    err->msg[len] = '\0';
    return err->status;
}

void gr_error_clear(gr_error *err)
{
    if (err) {
        err->status = GROOT_OK;
        err->msg[0] = '\0';
    }
}

void gr_handle_init(gr_handle *h)
{
    h->magic = GR_HANDLE_MAGIC;
    gr_error_clear(&h->err);
}

const char *groot_status_name(groot_status s)
{
    switch (s) {
    case GROOT_OK: return "GROOT_OK";
    case GROOT_ERR_IO: return "GROOT_ERR_IO";
    case GROOT_ERR_FORMAT: return "GROOT_ERR_FORMAT";
    case GROOT_ERR_INVALID_ARG: return "GROOT_ERR_INVALID_ARG";
    case GROOT_ERR_NOMEM: return "GROOT_ERR_NOMEM";
    case GROOT_ERR_UNSUPPORTED: return "GROOT_ERR_UNSUPPORTED";
    case GROOT_ERR_DEVICE: return "GROOT_ERR_DEVICE";
    case GROOT_ERR_INTERNAL: return "GROOT_ERR_INTERNAL";
    }
    return "GROOT_ERR_UNKNOWN";
}

const char *groot_errmsg(const void *handle)
{
    const gr_handle *h = handle;
    if (!h)
        return "no handle (out of memory?)";
    if (h->magic != GR_HANDLE_MAGIC)
        return "not a groot handle";
    return h->err.msg;
}
