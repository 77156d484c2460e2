/*
 * Tuning knobs read from the environment (GROOT_*), checked where they are
 * read: a value the knob does not know is an error naming the variable and
 * what it takes, never a silent fallback to the default.
 */
#ifndef GR_CORE_ENV_H
#define GR_CORE_ENV_H

#include "core/error.h"

/* *index = the position of name's value among choices[0..n), or -1 when
 * the variable is unset or empty. */
groot_status gr_env_choice(const char *name, const char *const *choices, int n, int *index, gr_error *err);

/* *value = name's value as a whole number in [lo, hi], left alone when the
 * variable is unset or empty. */
groot_status gr_env_int(const char *name, long lo, long hi, long *value, gr_error *err);

#endif
