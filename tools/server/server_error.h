/*
 * The server's error convention: functions take a caller's message buffer
 * (err, errsz; either may be NULL/0) and return -1 with the message in it.
 */
#ifndef GROOT_SERVER_ERROR_H
#define GROOT_SERVER_ERROR_H

#include <stddef.h>

/* Formats the message into err (when there is room) and returns -1. */
int srv_fail(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
