/* tls.c - GnuTLS sessions driven through evbuffers (see tls.h). */
#include "net/tls.h"

#include <errno.h>
#include <event2/buffer.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>

#include "fb/identity.h"
#include "fb/log.h"

#define TLS_PRIORITY   "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define TLS13_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"
#define RECV_CHUNK     16384 /* one TLS record's plaintext at most */
#define RECORD_HEADER  5     /* type, version, length (2 bytes, big-endian) */

struct tls_creds {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
};

struct tls_session {
	gnutls_session_t gs;
	struct evbuffer *in, *out;
	uint64_t *bytes_in, *bytes_out;
	size_t rec_left; /* bytes of the record being read not yet handed to GnuTLS */
};

struct tls_creds *
tls_creds_new(const char *cert_file, const char *key_file)
{
	struct tls_creds *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL)
		return NULL;
	if (gnutls_certificate_allocate_credentials(&c->cred) < 0 ||
	    gnutls_priority_init(&c->prio, TLS_PRIORITY, NULL) < 0) {
		log_warnx("%s: cannot set up TLS", __func__);
		goto fail;
	}
	rc = gnutls_certificate_set_x509_key_file(c->cred, cert_file, key_file,
						  GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		log_warnx("%s: %s / %s: %s", __func__, cert_file, key_file, gnutls_strerror(rc));
		goto fail;
	}
	return c;
fail:
	tls_creds_free(c);
	return NULL;
}

void
tls_creds_free(struct tls_creds *c)
{
	if (c == NULL)
		return;
	if (c->prio != NULL)
		gnutls_priority_deinit(c->prio);
	if (c->cred != NULL)
		gnutls_certificate_free_credentials(c->cred);
	free(c);
}

/* GnuTLS I/O over the buffers: never blocks. */

static ssize_t
tls_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct tls_session *t = p;

	if (evbuffer_add(t->out, data, len) != 0) {
		gnutls_transport_set_errno(t->gs, ENOMEM);
		return -1;
	}
	if (t->bytes_out != NULL)
		*t->bytes_out += len;
	return (ssize_t)len;
}

/*
 * What GnuTLS may take now: never past the end of the record it is reading, so
 * that what follows a record stays in the buffer until that record has been
 * handled (the relay's last record on a connection is followed by bytes that
 * are not its records: tls.h).
 */
static size_t
tls_pullable(struct tls_session *t)
{
	size_t have = evbuffer_get_length(t->in);

	if (t->rec_left == 0) {
		uint8_t h[RECORD_HEADER];

		if (have < RECORD_HEADER)
			return 0;
		evbuffer_copyout(t->in, h, sizeof(h));
		t->rec_left = RECORD_HEADER + ((size_t)h[3] << 8 | h[4]);
	}
	return have < t->rec_left ? have : t->rec_left;
}

static ssize_t
tls_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct tls_session *t = p;
	size_t can = tls_pullable(t);
	int n;

	if (can == 0) {
		gnutls_transport_set_errno(t->gs, EAGAIN);
		return -1;
	}
	n = evbuffer_remove(t->in, data, len < can ? len : can);
	if (n > 0) {
		t->rec_left -= (size_t)n;
		if (t->bytes_in != NULL)
			*t->bytes_in += (uint64_t)n;
	}
	return n;
}

/* GnuTLS asks whether data is waiting; the buffer answers without waiting. */
static int
tls_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	(void)ms;
	return tls_pullable(p) > 0 ? 1 : 0;
}

struct tls_session *
tls_session_new(const struct tls_creds *creds, bool server, struct evbuffer *in,
		struct evbuffer *out, uint64_t *bytes_in, uint64_t *bytes_out)
{
	struct tls_session *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if (gnutls_init(&t->gs, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK) < 0) {
		free(t);
		return NULL;
	}
	t->in = in;
	t->out = out;
	t->bytes_in = bytes_in;
	t->bytes_out = bytes_out;
	gnutls_priority_set(t->gs, creds->prio);
	gnutls_credentials_set(t->gs, GNUTLS_CRD_CERTIFICATE, creds->cred);
	if (server) {
		/* Any certificate will do here; the caller ties it to a peer. */
		gnutls_certificate_server_set_request(t->gs, GNUTLS_CERT_REQUIRE);
		gnutls_certificate_send_x509_rdn_sequence(t->gs, 1);
	}
	gnutls_transport_set_ptr(t->gs, t);
	gnutls_transport_set_push_function(t->gs, tls_push);
	gnutls_transport_set_pull_function(t->gs, tls_pull);
	gnutls_transport_set_pull_timeout_function(t->gs, tls_pull_timeout);
	return t;
}

/*
 * A priority cache of its own, freed with the session: a cache is 8 KB, and
 * only relayed circuits ask for TLS 1.3 alone, so no credentials keep one.
 */
int
tls_session_require_tls13(struct tls_session *t)
{
	return gnutls_priority_set_direct(t->gs, TLS13_PRIORITY, NULL) < 0 ? -1 : 0;
}

void
tls_session_free(struct tls_session *t)
{
	if (t == NULL)
		return;
	gnutls_deinit(t->gs);
	free(t);
}

int
tls_session_handshake(struct tls_session *t, struct cm_err *err)
{
	int rc = gnutls_handshake(t->gs);

	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
		return 0;
	if (rc < 0) {
		cm_err_set(err, "TLS handshake: %s", gnutls_strerror(rc));
		return -1;
	}
	return 1;
}

struct cm_cert *
tls_session_peer_cert(struct tls_session *t, struct cm_err *err)
{
	const gnutls_datum_t *certs;
	unsigned n = 0;
	struct cm_cert *c;
	struct cm_err perr;

	certs = gnutls_certificate_get_peers(t->gs, &n);
	if (certs == NULL || n == 0) {
		cm_err_set(err, "no certificate from the peer");
		return NULL;
	}
	if ((c = cm_cert_from_der(certs[0].data, certs[0].size, &perr)) == NULL)
		cm_err_set(err, "peer certificate: %s", perr.msg);
	return c;
}

int
tls_session_recv_one(struct tls_session *t, struct evbuffer *plain)
{
	char buf[RECV_CHUNK];

	for (;;) {
		ssize_t n = gnutls_record_recv(t->gs, buf, sizeof(buf));

		if (n > 0) {
			evbuffer_add(plain, buf, (size_t)n);
			return 1;
		}
		/* A record without data (a ticket, say) may be followed by one with. */
		if ((n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) && tls_pullable(t) > 0)
			continue;
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			return 0;
		return -1;
	}
}

int
tls_session_recv_all(struct tls_session *t, struct evbuffer *plain)
{
	int rc;

	while ((rc = tls_session_recv_one(t, plain)) > 0)
		;
	return rc;
}

ssize_t
tls_session_send(struct tls_session *t, const void *buf, size_t len)
{
	ssize_t n = gnutls_record_send(t->gs, buf, len);

	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
		return 0;
	return n < 0 ? -1 : n;
}

int
tls_session_send_all(struct tls_session *t, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = gnutls_record_send(t->gs, p, len);

		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
tls_session_bye(struct tls_session *t)
{
	gnutls_bye(t->gs, GNUTLS_SHUT_WR);
}
