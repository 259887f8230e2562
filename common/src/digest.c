/* digest.c - SHA-256 and SHA-1 through GnuTLS, at once or in parts (see digest.h). */
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

static int
digest_init(struct cm_digest_ctx *ctx, gnutls_digest_algorithm_t alg, size_t len)
{
	gnutls_hash_hd_t hd;

	ctx->hd = NULL;
	ctx->len = len;
	if (gnutls_hash_init(&hd, alg) != 0)
		return -1;
	ctx->hd = hd;
	return 0;
}

int
cm_sha1_init(struct cm_digest_ctx *ctx)
{
	return digest_init(ctx, GNUTLS_DIG_SHA1, CM_SHA1_BYTES);
}

int
cm_sha256_init(struct cm_digest_ctx *ctx)
{
	return digest_init(ctx, GNUTLS_DIG_SHA256, CM_SHA256_BYTES);
}

int
cm_digest_update(struct cm_digest_ctx *ctx, const void *data, size_t len)
{
	if (ctx->hd == NULL)
		return -1;
	return gnutls_hash(ctx->hd, data, len) == 0 ? 0 : -1;
}

int
cm_digest_final(struct cm_digest_ctx *ctx, unsigned char *out)
{
	if (ctx->hd == NULL)
		return -1;
	gnutls_hash_deinit(ctx->hd, out);
	ctx->hd = NULL;
	return 0;
}

void
cm_digest_clear(struct cm_digest_ctx *ctx)
{
	if (ctx->hd != NULL)
		gnutls_hash_deinit(ctx->hd, NULL);
	ctx->hd = NULL;
}
