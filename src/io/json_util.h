/*
 * Small helpers over cJSON for reading configuration files, so that every
 * error says which file and which key (as a dotted path from the root,
 * "action_head_cfg.diffusion_model_cfg.num_attention_heads") went wrong.
 *
 * Key paths are dotted; a path is looked up from the object given, and
 * `file` is only used for messages.
 */
#ifndef GR_IO_JSON_UTIL_H
#define GR_IO_JSON_UTIL_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/error.h"

/* Reads a whole file into a NUL-terminated buffer (free() it). len may be NULL.
 * GROOT_ERR_IO naming the path when it cannot be read. */
groot_status gr_read_file(const char *path, char **text, size_t *len, gr_error *err);

/* Parses text as JSON; errors (GROOT_ERR_FORMAT) give `what` (a file name) and
 * the line and column of the problem. */
groot_status gr_json_parse(const char *text, size_t len, const char *what, cJSON **out,
                           gr_error *err);

/* Reads and parses a file whose top level must be an object. */
groot_status gr_json_load_object(const char *path, cJSON **out, gr_error *err);

/* The item at a dotted key path, or NULL when any step is absent. A JSON null
 * counts as present here. */
const cJSON *gr_json_at(const cJSON *obj, const char *keypath);

/* 1 when the key is absent or null. */
int gr_json_is_absent(const cJSON *obj, const char *keypath);

/* Required values: GROOT_ERR_FORMAT naming file and key when absent, null or of
 * the wrong type. Integers must be integral numbers within int range. */
groot_status gr_json_get_int(const cJSON *obj, const char *keypath, const char *file, int *out,
                             gr_error *err);
groot_status gr_json_get_double(const cJSON *obj, const char *keypath, const char *file,
                                double *out, gr_error *err);
groot_status gr_json_get_bool(const cJSON *obj, const char *keypath, const char *file, int *out,
                              gr_error *err);
/* *out points into obj (valid while obj lives). */
groot_status gr_json_get_string(const cJSON *obj, const char *keypath, const char *file,
                                const char **out, gr_error *err);

/* Optional values: absent or null gives def; present with the wrong type is an error. */
groot_status gr_json_get_int_or(const cJSON *obj, const char *keypath, const char *file, int def,
                                int *out, gr_error *err);
groot_status gr_json_get_bool_or(const cJSON *obj, const char *keypath, const char *file,
                                 int def, int *out, gr_error *err);
groot_status gr_json_get_string_or(const cJSON *obj, const char *keypath, const char *file,
                                   const char *def, const char **out, gr_error *err);

/* A JSON number that is a whole value in [0, 2^53] (exactly representable), as
 * used for sizes and offsets. Returns 0 when it is not. */
int gr_json_as_size(const cJSON *item, long long *out);

#endif
