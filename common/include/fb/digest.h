/* digest.h - SHA-256 and SHA-1 for those who may not include GnuTLS (the pure core). */
#ifndef FB_DIGEST_H
#define FB_DIGEST_H

#include <stddef.h>

#define CM_SHA256_BYTES 32
#define CM_SHA1_BYTES 20

/* SHA-256 of len bytes of data into out. Returns 0 or -1. */
int cm_sha256(const void *data, size_t len, unsigned char out[CM_SHA256_BYTES]);

/* The same as 64 lower-case hex digits and a NUL (a certificate fingerprint's form). */
int cm_sha256_hex(const void *data, size_t len, char out[2 * CM_SHA256_BYTES + 1]);

/* SHA-1, for protocols that fix it (the WebSocket accept key, BitTorrent pieces). */
int cm_sha1(const void *data, size_t len, unsigned char out[CM_SHA1_BYTES]);

/*
 * A digest over bytes that come in parts (a file read in blocks, a piece
 * received in requests). The GnuTLS state stays behind a pointer, so the
 * struct may live on the stack of code that may not include GnuTLS.
 */
struct cm_digest_ctx {
	void *hd;      /* the library's state; NULL when not started or finished */
	size_t len;    /* bytes of the digest: CM_SHA1_BYTES or CM_SHA256_BYTES */
};

/* Start a digest. 0, or -1 (ctx left unstarted). */
int cm_sha1_init(struct cm_digest_ctx *ctx);
int cm_sha256_init(struct cm_digest_ctx *ctx);
/* Adds len bytes. 0 or -1. */
int cm_digest_update(struct cm_digest_ctx *ctx, const void *data, size_t len);
/* Writes ctx->len bytes into out and ends the digest (ctx may be started again). 0 or -1. */
int cm_digest_final(struct cm_digest_ctx *ctx, unsigned char *out);
/* Ends a digest without its result (an abandoned piece); an unstarted ctx is fine. */
void cm_digest_clear(struct cm_digest_ctx *ctx);

#endif
