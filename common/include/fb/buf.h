/*
 * buf.h - the one growing, capped text buffer: *buf holds *len bytes and a
 * NUL, reallocated as it grows, never past max bytes. Pure (memory only), so
 * the core may build text with it; the HTTP clients and the server's body
 * reader collect network input in it.
 */
#ifndef FB_BUF_H
#define FB_BUF_H

#include <stddef.h>

/*
 * Appends n bytes of data. Returns 0, or -1 with nothing appended and errno
 * E2BIG (the result would pass max bytes) or ENOMEM.
 */
int cm_buf_append(char **buf, size_t *len, size_t max, const void *data, size_t n);

/* Appends printf-formatted text, with the same limits and errors. */
int cm_buf_printf(char **buf, size_t *len, size_t max, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
