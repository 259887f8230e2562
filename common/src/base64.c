/* base64.c - base64 through GnuTLS, into memory the caller frees with free() (see base64.h). */
#include "fb/base64.h"

#include <gnutls/gnutls.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A copy of d in malloc'd memory, NUL-terminated, and d freed. */
static unsigned char *
own_datum(gnutls_datum_t *d)
{
	unsigned char *copy = malloc((size_t)d->size + 1);

	if (copy != NULL) {
		memcpy(copy, d->data, d->size);
		copy[d->size] = '\0';
	}
	gnutls_free(d->data);
	d->data = NULL;
	return copy;
}

char *
cm_base64_encode(const void *data, size_t len)
{
	gnutls_datum_t in = {(unsigned char *)data, (unsigned int)len}, r = {NULL, 0};

	if (len > UINT_MAX / 2 || gnutls_base64_encode2(&in, &r) < 0)
		return NULL;
	return (char *)own_datum(&r);
}

int
cm_base64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len,
		 struct cm_err *err)
{
	gnutls_datum_t in = {(unsigned char *)s, (unsigned int)len}, r = {NULL, 0};

	*out = NULL;
	if (len > UINT_MAX || gnutls_base64_decode2(&in, &r) < 0) {
		cm_err_set(err, "not base64");
		return -1;
	}
	*out_len = r.size;
	if ((*out = own_datum(&r)) == NULL) {
		cm_err_set(err, "out of memory");
		return -1;
	}
	return 0;
}
