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

#endif
