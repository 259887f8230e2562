/*
 * tls.h - a GnuTLS session over memory buffers: records are pulled from one
 * evbuffer and pushed to another, so the session never touches a socket and
 * never blocks. The caller moves the buffers' bytes (a bufferevent does).
 *
 * GnuTLS is never handed bytes past the end of the record it reads: what
 * follows the last record a peer sends before it leaves TLS on a connection
 * stays in the input buffer, for the caller to take (tls_session_recv_one).
 *
 * TLS 1.2 or 1.3 (1.3 only when asked), both sides with a certificate. A server session asks for
 * the client's certificate and requires one, any one: who it belongs to is
 * for the caller to decide (tls_session_peer_cert).
 */
#ifndef PA_TLS_H
#define PA_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fb/err.h"

struct evbuffer;
struct cm_cert;
struct tls_creds;
struct tls_session;

/* Our certificate and key (PEM files), shared by sessions. NULL on failure (logged). */
struct tls_creds *tls_creds_new(const char *cert_file, const char *key_file);
/* Only once no session made with it remains. */
void tls_creds_free(struct tls_creds *creds);

/*
 * A session reading records from in and writing them to out (both borrowed,
 * outliving the session). bytes_in and bytes_out, when non-NULL, count the
 * record bytes moved. NULL on failure.
 */
struct tls_session *tls_session_new(const struct tls_creds *creds, bool server,
				    struct evbuffer *in, struct evbuffer *out, uint64_t *bytes_in,
				    uint64_t *bytes_out);
void tls_session_free(struct tls_session *t);
/* TLS 1.3 only, where certificates travel encrypted; before the handshake. 0, or -1 (out of memory). */
int tls_session_require_tls13(struct tls_session *t);

/* Runs the handshake on what has arrived: 1 done, 0 wants more bytes, -1 failed (err). */
int tls_session_handshake(struct tls_session *t, struct cm_err *err);

/* The peer's certificate (the first of its chain); caller frees. NULL with err when none. */
struct cm_cert *tls_session_peer_cert(struct tls_session *t, struct cm_err *err);

/* Decrypts the next record with data into plain: 1, 0 when none is whole yet, -1 ended or broke. */
int tls_session_recv_one(struct tls_session *t, struct evbuffer *plain);
/* Decrypts every whole record waiting into plain. Returns 0, or -1 when the stream ended or broke. */
int tls_session_recv_all(struct tls_session *t, struct evbuffer *plain);

/* Encrypts up to one record of buf: the bytes taken, 0 when it cannot now, -1 on failure. */
ssize_t tls_session_send(struct tls_session *t, const void *buf, size_t len);
/* Encrypts all of buf. Returns 0 or -1. */
int tls_session_send_all(struct tls_session *t, const void *buf, size_t len);

/* Queues the close_notify alert: we send no more. */
void tls_session_bye(struct tls_session *t);

#endif
