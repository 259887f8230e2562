/* digest.c - SHA-256 and SHA-1 through GnuTLS (see digest.h). */
#include "fb/digest.h"

#include <gnutls/crypto.h>

#include "fb/hex.h"

int
cm_sha256(const void *data, size_t len, unsigned char out[CM_SHA256_BYTES])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, out) == 0 ? 0 : -1;
}

int
cm_sha256_hex(const void *data, size_t len, char out[2 * CM_SHA256_BYTES + 1])
{
	unsigned char d[CM_SHA256_BYTES];

	if (cm_sha256(data, len, d) != 0)
		return -1;
	cm_hex_encode(d, sizeof(d), out);
	return 0;
}

int
cm_sha1(const void *data, size_t len, unsigned char out[CM_SHA1_BYTES])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA1, data, len, out) == 0 ? 0 : -1;
}
