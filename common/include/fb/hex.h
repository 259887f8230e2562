/*
 * hex.h - the one hex encoder and decoder (lower-case out, either case in),
 * and the one percent-decoder (URLs, queries, magnet links). Pure.
 */
#ifndef FB_HEX_H
#define FB_HEX_H

#include <stdbool.h>
#include <stddef.h>

#include "fb/err.h"

/* Writes 2 * len lower-case hex digits and a NUL into out. */
void cm_hex_encode(const void *data, size_t len, char *out);

/*
 * Decodes exactly 2 * out_len hex digits of s (len bytes) into out.
 * Returns 0, or -1 with err set on a wrong length or a non-hex character.
 */
int cm_hex_decode(const char *s, size_t len, void *out, size_t out_len, struct cm_err *err);

/*
 * Percent-decodes the n bytes at s into out (at most out_max bytes with the
 * NUL written after them; '+' is a space when plus_is_space, as in a query).
 * The result may hold NUL bytes: *out_len says how long it is. Returns 0, or
 * -1 on a bad escape or when out is too small.
 */
int cm_percent_decode(const char *s, size_t n, bool plus_is_space, char *out, size_t out_max,
		      size_t *out_len);

#endif
