/*
 * upgrade.h - the HTTP/1.1 Upgrade handshake that opens a WebSocket (RFC 6455
 * section 4), parsed and built on byte buffers. No sockets, no event loop, no
 * allocation: callable on any buffer, so it can be fuzzed and reused.
 *
 * A parser is given what has arrived so far. It answers "need more" (0) until
 * a whole header block (up to the empty line) is there, then the block's
 * length, or -1 with the reason in err. Everything is bounded: the block by
 * UPGRADE_MAX_BYTES, its lines by UPGRADE_MAX_HEADERS.
 *
 * The server accepts exactly one path and requires one subprotocol; offered
 * extensions (permessage-deflate...) are declined by naming none in the answer.
 */
#ifndef PA_UPGRADE_H
#define PA_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/err.h"

#define UPGRADE_MAX_BYTES 8192 /* one request or response, the empty line included */
#define UPGRADE_MAX_HEADERS 64 /* header lines in one block */
#define UPGRADE_NONCE_LEN 16   /* random bytes behind a Sec-WebSocket-Key */
#define UPGRADE_KEY_LEN 24     /* base64 of the nonce */
#define UPGRADE_ACCEPT_LEN 28  /* base64 of a SHA-1 */

struct upgrade_request {
	char key[UPGRADE_KEY_LEN + 1]; /* Sec-WebSocket-Key, to answer with its accept */
	bool extensions_offered;       /* Sec-WebSocket-Extensions was sent (and is declined) */
	int status; /* when refused: the HTTP status to answer (400, 404, 405, 426, 431) */
};

/*
 * Parses a client's Upgrade request for path with subprotocol among those it
 * offers. Returns the block's length (> 0), 0 when buf holds no whole block
 * yet, or -1 when refused: err says why and req->status what to answer.
 */
int upgrade_parse_request(const void *buf, size_t len, const char *path, const char *subprotocol,
			  struct upgrade_request *req, struct cm_err *err);

/*
 * Checks a server's answer to our request: 101, accept (from
 * upgrade_accept_key of our key), exactly our subprotocol, no extension.
 * Returns the block's length (> 0), 0 when more is needed, -1 when refused (err).
 */
int upgrade_parse_response(const void *buf, size_t len, const char *accept,
			   const char *subprotocol, struct cm_err *err);

/* Sec-WebSocket-Key from UPGRADE_NONCE_LEN random bytes. Returns 0 or -1. */
int upgrade_key_from_nonce(const uint8_t *nonce, char key[UPGRADE_KEY_LEN + 1]);

/* Sec-WebSocket-Accept for key: base64(SHA-1(key + the RFC's GUID)). Returns 0 or -1. */
int upgrade_accept_key(const char *key, char accept[UPGRADE_ACCEPT_LEN + 1]);

/*
 * Builders: each writes a NUL-terminated header block into buf and returns its
 * length, or -1 when it does not fit in cap.
 */
int upgrade_build_request(char *buf, size_t cap, const char *host, const char *path,
			  const char *key, const char *subprotocol);
int upgrade_build_response(char *buf, size_t cap, const char *accept, const char *subprotocol);
/* A refusal with status (from upgrade_request.status) that closes the connection. */
int upgrade_build_refusal(char *buf, size_t cap, int status);

#endif
