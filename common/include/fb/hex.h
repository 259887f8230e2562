/* hex.h - the one hex encoder and decoder (lower-case out, either case in). Pure. */
#ifndef FB_HEX_H
#define FB_HEX_H

#include <stddef.h>

#include "fb/err.h"

/* Writes 2 * len lower-case hex digits and a NUL into out. */
void cm_hex_encode(const void *data, size_t len, char *out);

/*
 * Decodes exactly 2 * out_len hex digits of s (len bytes) into out.
 * Returns 0, or -1 with err set on a wrong length or a non-hex character.
 */
int cm_hex_decode(const char *s, size_t len, void *out, size_t out_len, struct cm_err *err);

#endif
