/* base64.h - the one base64 (RFC 4648, padded) encoder and decoder, over GnuTLS. */
#ifndef FB_BASE64_H
#define FB_BASE64_H

#include <stddef.h>

#include "fb/err.h"

/* Returns the encoding of len bytes of data as a new string (caller frees), or NULL (no memory). */
char *cm_base64_encode(const void *data, size_t len);

/*
 * Decodes len bytes of s into *out (*out_len bytes, NUL-terminated for
 * convenience; the caller frees). Returns 0, or -1 with err set and *out NULL.
 */
int cm_base64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len,
		     struct cm_err *err);

#endif
