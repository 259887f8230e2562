/*
 * server.c - the HTTPS front of the bootstrap server (libmicrohttpd + GnuTLS).
 *
 * MHD runs a pool of epoll threads; a connection that drips its headers
 * occupies a socket, not a thread. Bodies are collected up to CM_MAX_BODY and
 * the rest is discarded, so an oversized body costs no memory. A heartbeat
 * suspends its connection while the batcher runs it, so no worker waits on
 * the database for it. The client certificate is requested on every
 * connection (MEM_TRUST) but not required by the handshake: the routes
 * decide (401/403).
 *
 * Connections are counted per client address by the server itself (not by
 * MHD, whose refusals nobody saw): the accept policy refuses those far over
 * --max-conns-per-ip or --max-connections, and the few just over them are
 * accepted to be told why (503 and Connection: close) before they close.
 * Every refusal is counted and logged (bs_server_refused).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fb/buf.h"
#include "fb/codec.h"
#include "fb/file.h"
#include "fb/limits.h"
#include "fb/log.h"
#include "fb/random.h"
#include "fb/timeutil.h"
#include "server.h"

#define BS_MAX_HEADERS_BYTES (16 * 1024)
/* MHD's per-connection pool: room for 16 KiB of headers and the read buffer. */
#define BS_CONNECTION_MEMORY (64 * 1024)
/*
 * Connections over a limit that are still accepted, to answer 503 and close:
 * per address, and in all. Beyond these the accept policy refuses at once.
 */
#define BS_CONNS_ANSWERED_PER_IP 8
#define BS_CONNS_ANSWERED_TOTAL 64
#define BS_OVERLOAD_RETRY_S 5
/* How long stopping waits for resumed connections to be answered. */
#define BS_STOP_WAIT_MS 2000
#define BS_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Per-request state kept by MHD between calls. */
struct pending {
	char *body;
	size_t len;
	bool too_large;
	bool deferred; /* suspended until the batcher has run job */
	int64_t started_us;
	struct bs_batcher_job job;
};

static pthread_key_t store_key;
static pthread_once_t store_once = PTHREAD_ONCE_INIT;

static void
store_destroy(void *p)
{
	bs_store_free(p);
}

static void
store_key_init(void)
{
	pthread_key_create(&store_key, store_destroy);
}

struct bs_store *
bs_server_store(struct bs_server *s)
{
	struct bs_store *st;

	pthread_once(&store_once, store_key_init);
	if ((st = pthread_getspecific(store_key)) == NULL) {
		st = bs_store_new(s->cfg->database);
		pthread_setspecific(store_key, st);
	}
	return st;
}

void
bs_reply_error(struct bs_reply *r, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(r->json);
	r->status = status;
	r->json = cm_error_body_encode(msg, code);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum MHD_Result
count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	size_t *total = cls;

	(void)kind;
	*total += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/*
 * The client certificate of a connection, parsed once: a certificate cannot
 * change within a TLS connection, and parsing it (ASN.1) cost more than the
 * rest of a keep-alive request.
 */
struct conn_identity {
	bool read;
	struct cm_cert *cert;
	bool trusted;
	char addr[BS_ADDR_KEY_LEN];
	bool counted;          /* in s->conns */
	enum bs_refusal over;  /* accepted just over a connection limit; BS_REFUSE_COUNT: not */
	int64_t open_from_addr; /* connections from addr when accepted */
};

/* The client's address key of a connection. */
static void
conn_addr(struct MHD_Connection *conn, char out[BS_ADDR_KEY_LEN])
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	bs_addr_key(info != NULL ? info->client_addr : NULL, out);
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
	      enum MHD_ConnectionNotificationCode toe)
{
	struct bs_server *s = cls;
	struct conn_identity *ci = *socket_context;
	int64_t total = 0;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		if ((ci = calloc(1, sizeof(*ci))) == NULL)
			return;
		conn_addr(conn, ci->addr);
		ci->over = BS_REFUSE_COUNT;
		if ((ci->open_from_addr = bs_conncount_add(s->conns, ci->addr, &total)) >= 0) {
			ci->counted = true;
			if (ci->open_from_addr > s->cfg->max_conns_per_ip)
				ci->over = BS_REFUSE_CONNS_PER_IP_503;
			else if (total > s->cfg->max_connections)
				ci->over = BS_REFUSE_CONNS_TOTAL_503;
		}
		*socket_context = ci;
	} else if (ci != NULL) {
		if (ci->counted)
			bs_conncount_del(s->conns, ci->addr);
		cm_cert_free(ci->cert);
		free(ci);
		*socket_context = NULL;
	}
}

/*
 * Before TLS: refuses a connection far over a limit (those just over it are
 * accepted to be answered 503, see on_connection and answer). Concurrent
 * accepts on other threads may each pass: the limits hold within a few.
 */
static enum MHD_Result
on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct bs_server *s = cls;
	char key[BS_ADDR_KEY_LEN];
	int64_t n, total;

	(void)addrlen;
	bs_addr_key(addr, key);
	n = bs_conncount_get(s->conns, key, &total);
	if (n >= s->cfg->max_conns_per_ip + BS_CONNS_ANSWERED_PER_IP) {
		bs_server_refused(s, BS_REFUSE_CONNS_PER_IP,
				  "refused a connection from %s: %lld open from that address "
				  "(max-conns-per-ip %lld)",
				  key, (long long)n, (long long)s->cfg->max_conns_per_ip);
		return MHD_NO;
	}
	if (total >= s->cfg->max_connections + BS_CONNS_ANSWERED_TOTAL) {
		bs_server_refused(s, BS_REFUSE_CONNS_TOTAL,
				  "refused a connection from %s: %lld open in all (max-connections %lld)",
				  key, (long long)total, (long long)s->cfg->max_connections);
		return MHD_NO;
	}
	return MHD_YES;
}

void
bs_server_refused(struct bs_server *s, enum bs_refusal r, const char *fmt, ...)
{
	char msg[512];
	uint64_t since = 0;
	va_list ap;

	if (!bs_metrics_refused(&s->metrics, r, cm_time_mono_ms(), &since))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (since > 1)
		log_warnx("%s (%llu like it in the last %d s)", msg, (unsigned long long)since,
			  BS_REFUSAL_LOG_INTERVAL_MS / 1000);
	else
		log_warnx("%s", msg);
}

/* The identity kept for a connection; NULL when on_connection had no memory for it. */
static struct conn_identity *
conn_identity(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info != NULL ? info->socket_context : NULL;
}

/* Reads the client certificate of the connection, if any, into req. */
static void
read_client_cert(struct bs_server *s, struct bs_request *req)
{
	const union MHD_ConnectionInfo *info;
	const gnutls_datum_t *peers;
	unsigned int n = 0, status = 1;
	struct conn_identity *ci = conn_identity(req->conn);
	gnutls_session_t sess;

	if (ci == NULL || !ci->read) {
		struct conn_identity fresh = {.read = true};

		info = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		sess = info != NULL ? info->tls_session : NULL;
		peers = sess != NULL ? gnutls_certificate_get_peers(sess, &n) : NULL;
		if (peers != NULL && n > 0 &&
		    (fresh.cert = cm_cert_from_der(peers[0].data, peers[0].size, NULL)) != NULL) {
			/* CA mode: the session's trust list is the CA, so GnuTLS can check the chain. */
			fresh.trusted = s->cfg->client_ca_file == NULL ||
					(gnutls_certificate_verify_peers2(sess, &status) == 0 &&
					 status == 0);
		}
		if (ci == NULL) {
			/* No place to keep it: this request owns it (freed in answer). */
			req->owned_cert = fresh.cert;
			ci = &fresh;
		} else {
			ci->read = true;
			ci->cert = fresh.cert;
			ci->trusted = fresh.trusted;
		}
		req->cert = ci->cert;
		req->cert_trusted = ci->trusted;
	} else {
		req->cert = ci->cert;
		req->cert_trusted = ci->trusted;
	}
	if (req->cert != NULL) {
		req->cert_email = cm_cert_email(req->cert);
		req->fingerprint = cm_cert_fingerprint(req->cert);
	}
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, struct bs_reply *rep)
{
	struct MHD_Response *resp;
	char *text, num[16];
	enum MHD_Result ret;

	text = rep->json != NULL ? cm_json_dump(rep->json) : rep->text;
	if (rep->json != NULL)
		free(rep->text);
	rep->text = NULL;
	if (text == NULL)
		text = strdup("{\"error\":\"out of memory\",\"code\":\"internal\"}");
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				rep->content_type != NULL ? rep->content_type : "application/json");
	if (rep->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rep->allow);
	if (rep->retry_after_s > 0) {
		snprintf(num, sizeof(num), "%d", rep->retry_after_s);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num);
	}
	if (rep->deprecation)
		MHD_add_response_header(resp, "Deprecation", "true");
	if (rep->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, (unsigned int)rep->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Queues the answer, counts it and releases what the reply holds. */
static enum MHD_Result
finish(struct bs_server *s, struct MHD_Connection *conn, const char *url, const char *method,
       struct pending *p, struct bs_reply *rep)
{
	enum MHD_Result ret = send_reply(conn, rep);

	bs_metrics_request(&s->metrics, rep->route, rep->status, now_us() - p->started_us);
	/* A refusal has its own, rate-limited, line. */
	if (rep->status >= 500 && !rep->refusal)
		log_warnx("%s: %s %s -> %d", __func__, method, url, rep->status);
	else
		log_debug("%s: %s %s -> %d", __func__, method, url, rep->status);
	json_decref(rep->json);
	free(rep->text);
	return ret;
}

/* Called under the batcher's lock, before the job can be done. */
static void
suspend(void *conn)
{
	MHD_suspend_connection(conn);
}

/* The batcher ran the job: the connection's worker answers it (on_request). */
static void
resume(struct bs_batcher_job *job)
{
	MHD_resume_connection(job->arg);
}

/* Runs the route for a complete request and queues its answer, or hands it to the batcher. */
static enum MHD_Result
answer(struct bs_server *s, struct MHD_Connection *conn, const char *url, const char *method,
       struct pending *p)
{
	struct bs_request req = {.conn = conn, .method = method, .path = url, .body = p->body,
				 .body_len = p->len, .body_too_large = p->too_large,
				 .job = &p->job};
	struct bs_reply rep = {.status = 500, .route = "unknown"};
	struct conn_identity *ci = conn_identity(conn);
	size_t header_bytes = 0;

	if (ci != NULL)
		memcpy(req.addr, ci->addr, sizeof(req.addr));
	else
		conn_addr(conn, req.addr);
	req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_CONTENT_TYPE);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &header_bytes);
	if (ci != NULL && ci->over != BS_REFUSE_COUNT) {
		/* Accepted over a connection limit only to say so. */
		rep.route = "rejected";
		rep.close = true;
		rep.refusal = true;
		rep.retry_after_s = BS_OVERLOAD_RETRY_S;
		if (ci->over == BS_REFUSE_CONNS_PER_IP_503) {
			bs_reply_error(&rep, 503, "too_many_connections",
				       "more than %lld connections from your address",
				       (long long)s->cfg->max_conns_per_ip);
			bs_server_refused(s, ci->over,
					  "answered 503 to %s: %lld connections open from that "
					  "address (max-conns-per-ip %lld)",
					  req.addr, (long long)ci->open_from_addr,
					  (long long)s->cfg->max_conns_per_ip);
		} else {
			bs_reply_error(&rep, 503, "overloaded", "the server is at its connection limit");
			bs_server_refused(s, ci->over,
					  "answered 503 to %s: over max-connections %lld", req.addr,
					  (long long)s->cfg->max_connections);
		}
	} else if (header_bytes > BS_MAX_HEADERS_BYTES) {
		rep.route = "rejected";
		bs_reply_error(&rep, 431, "headers_too_large", "request headers larger than %d bytes",
			       BS_MAX_HEADERS_BYTES);
	} else {
		read_client_cert(s, &req);
		bs_route(s, &req, &rep);
	}
	cm_cert_free(req.owned_cert);
	if (rep.deferred) {
		p->job.done = resume;
		p->job.arg = conn;
		/* Counted before it can be suspended, so stopping never misses it. */
		atomic_fetch_add(&s->suspended, 1);
		if (bs_batcher_submit(s->batcher, &p->job, suspend, conn) == 0) {
			p->deferred = true;
			return MHD_YES;
		}
		/* Stopping: no more batches. */
		atomic_fetch_sub(&s->suspended, 1);
		p->job.hb.rc = BS_STORE_UNAVAILABLE;
		bs_route_heartbeat_done(s, &p->job.hb, &rep);
	}
	return finish(s, conn, url, method, p, &rep);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct bs_server *s = cls;
	struct pending *p = *con_cls;

	(void)version;
	if (p == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			return MHD_NO;
		p->started_us = now_us();
		*con_cls = p;
		return MHD_YES;
	}
	if (p->deferred) {
		/* Resumed: the batcher has run the heartbeat. */
		struct bs_reply rep = {.status = 500};

		p->deferred = false;
		atomic_fetch_sub(&s->suspended, 1);
		bs_route_heartbeat_done(s, &p->job.hb, &rep);
		return finish(s, conn, url, method, p, &rep);
	}
	if (*upload_data_size > 0) {
		if (!p->too_large &&
		    cm_buf_append(&p->body, &p->len, CM_MAX_BODY, upload_data, *upload_data_size) != 0) {
			if (errno == ENOMEM)
				return MHD_NO;
			/* Keep reading to the end, storing nothing more: the answer is 413. */
			p->too_large = true;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return answer(s, conn, url, method, p);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct bs_server *s = cls;
	struct pending *p = *con_cls;

	(void)conn;
	(void)toe;
	if (p != NULL) {
		/* Resumed, but closed before its answer: no longer waited for. */
		if (p->deferred)
			atomic_fetch_sub(&s->suspended, 1);
		free(p->body);
		free(p);
		*con_cls = NULL;
	}
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("mhd: %s", msg);
}

/* Reads a whole small file (a PEM, at most 1 MiB) into a new string. */
static char *
slurp(const char *path, struct cm_err *err)
{
	char *buf;
	size_t len;

	return cm_file_read(path, 1024 * 1024, &buf, &len, err) == 0 ? buf : NULL;
}

int
bs_server_start(struct bs_server *s, struct cm_err *err)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS |
			     MHD_USE_ERROR_LOG | MHD_USE_TURBO |
			     MHD_ALLOW_SUSPEND_RESUME;
	char *cert = NULL, *key = NULL, *trust = NULL;
	int rc = -1;

	if (inet_pton(AF_INET, s->cfg->listen_host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)s->cfg->listen_port);
	} else if (inet_pton(AF_INET6, s->cfg->listen_host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)s->cfg->listen_port);
		flags |= MHD_USE_IPv6;
	} else {
		cm_err_set(err, "listen: bad address %s", s->cfg->listen_host);
		return -1;
	}
	if ((s->batcher = bs_batcher_new(s->cfg->database, &s->timing, &s->metrics)) == NULL) {
		cm_err_set(err, "cannot start the heartbeat batcher");
		return -1;
	}
	if ((cert = slurp(s->cfg->cert_file, err)) == NULL ||
	    (key = slurp(s->cfg->key_file, err)) == NULL)
		goto end;
	/*
	 * MHD asks for a client certificate only when given a trust list. CA mode
	 * trusts the CA; pinning mode passes our own certificate, which clients
	 * ignore when choosing theirs (self-signed ones are still sent).
	 */
	if ((trust = slurp(s->cfg->client_ca_file != NULL ? s->cfg->client_ca_file
							   : s->cfg->cert_file,
			   err)) == NULL)
		goto end;
	/* The logger goes first so MHD's own start-up messages reach it too. */
	s->daemon = MHD_start_daemon(
		flags, (uint16_t)s->cfg->listen_port, on_accept, s, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_HTTPS_MEM_CERT, cert,
		MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_TRUST, trust,
		MHD_OPTION_HTTPS_PRIORITIES, BS_TLS_PRIORITIES, MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned int)s->cfg->threads, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)BS_CONNECTION_MEMORY,
		/* A backstop only: MHD splits it between its threads and refuses silently. */
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)(2 * (s->cfg->max_connections + BS_CONNS_ANSWERED_TOTAL)),
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)s->cfg->conn_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
		s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
	if (s->daemon == NULL) {
		cm_err_set(err, "cannot listen on %s:%d (in use, or bad certificate/key)",
			   s->cfg->listen_host, s->cfg->listen_port);
		goto end;
	}
	rc = 0;
end:
	/* MHD keeps pointers to the PEM strings for the daemon's lifetime. */
	if (rc != 0) {
		free(cert);
		free(key);
		free(trust);
	} else {
		s->pem_cert = cert;
		s->pem_key = key;
		s->pem_trust = trust;
	}
	return rc;
}

void
bs_server_stop(struct bs_server *s)
{
	/* Every queued heartbeat is answered first: MHD must not stop with a suspended connection. */
	bs_batcher_stop(s->batcher);
	for (int i = 0; i < BS_STOP_WAIT_MS && atomic_load(&s->suspended) > 0; i++)
		usleep(1000);
	if (s->daemon != NULL)
		MHD_stop_daemon(s->daemon);
	s->daemon = NULL;
	bs_batcher_free(s->batcher);
	s->batcher = NULL;
	free(s->pem_cert);
	free(s->pem_key);
	free(s->pem_trust);
	s->pem_cert = s->pem_key = s->pem_trust = NULL;
}

/* Normalises one line to 64 lower-case hex digits; false when it is not a fingerprint. */
static bool
parse_fingerprint(const char *line, char out[CM_FINGERPRINT_LEN + 1])
{
	size_t n = 0;

	for (const char *p = line; *p != '\0' && *p != '\n' && *p != '#'; p++) {
		if (*p == ':' || *p == ' ' || *p == '\t' || *p == '\r')
			continue;
		if (!isxdigit((unsigned char)*p) || n >= CM_FINGERPRINT_LEN)
			return false;
		out[n++] = (char)tolower((unsigned char)*p);
	}
	out[n] = '\0';
	return n == CM_FINGERPRINT_LEN;
}

static bool
blank_or_comment(const char *line)
{
	while (*line == ' ' || *line == '\t' || *line == '\r')
		line++;
	return *line == '\0' || *line == '\n' || *line == '#';
}

/* Reads a fingerprint list file (at most 1 MiB) into a new array (*out, *len). */
static int
load_fingerprints(const char *path, char ***out, size_t *len, struct cm_err *err)
{
	char fp[CM_FINGERPRINT_LEN + 1], *text = NULL;
	const char *line, *next;
	size_t text_len;
	int lineno = 0, rc = -1;

	*len = 0;
	if ((*out = calloc(1, sizeof(char *))) == NULL) {
		cm_err_set(err, "%s: out of memory", path);
		return -1;
	}
	if (cm_file_read(path, 1024 * 1024, &text, &text_len, err) != 0)
		return -1;
	for (line = text; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		next = next != NULL ? next + 1 : line + strlen(line);
		lineno++;
		if (blank_or_comment(line))
			continue;
		if (!parse_fingerprint(line, fp)) {
			cm_err_set(err, "%s:%d: not a SHA-256 fingerprint", path, lineno);
			goto end;
		}
		char **grown = realloc(*out, (*len + 1) * sizeof(char *));
		if (grown == NULL || (grown[*len] = strdup(fp)) == NULL) {
			cm_err_set(err, "%s: out of memory", path);
			if (grown != NULL)
				*out = grown;
			goto end;
		}
		*out = grown;
		(*len)++;
	}
	rc = 0;
end:
	free(text);
	return rc;
}

static void
free_list(char **l, size_t n)
{
	for (size_t i = 0; l != NULL && i < n; i++)
		free(l[i]);
	free(l);
}

int
bs_server_load_lists(struct bs_server *s, const struct bs_config *cfg, struct cm_err *err)
{
	if (cfg->whitelist_file != NULL &&
	    load_fingerprints(cfg->whitelist_file, &s->whitelist, &s->whitelist_len, err) != 0)
		return -1;
	if (cfg->admin_fingerprints_file != NULL &&
	    load_fingerprints(cfg->admin_fingerprints_file, &s->admins, &s->admins_len, err) != 0)
		return -1;
	return 0;
}

int
bs_server_init(struct bs_server *s, struct bs_config *cfg)
{
	struct cm_hash_key key;

	s->cfg = cfg;
	s->timing = (struct bs_store_timing){cfg->ttl_s, cfg->stale_after_s,
					     cfg->heartbeat_interval_s};
	bs_metrics_init(&s->metrics);
	/* Rate limit keys come from clients: a random key keeps them from colliding. */
	if (cm_random_hash_key(&key) != 0)
		return -1;
	s->ratelimit = bs_ratelimit_new("rate-limit", (double)cfg->rate_limit,
					(double)(cfg->rate_limit * BS_RATE_BURST_FACTOR),
					BS_RATELIMIT_MAX_KEYS, &key);
	s->ratelimit_ip = bs_ratelimit_new("rate-limit-per-ip", (double)cfg->rate_limit_per_ip,
					   (double)(cfg->rate_limit_per_ip * BS_RATE_BURST_FACTOR),
					   BS_RATELIMIT_MAX_KEYS, &key);
	s->ratelimit_net = bs_ratelimit_new("rate-limit-per-net", (double)cfg->rate_limit_per_net,
					    (double)(cfg->rate_limit_per_net * BS_RATE_BURST_FACTOR),
					    BS_RATELIMIT_MAX_KEYS, &key);
	/* One report per reporter and peer per window; feedback_per_ip per window per address. */
	s->feedback_throttle = bs_ratelimit_new("feedback-window",
						1.0 / (double)cfg->feedback_window_s, 1.0,
						BS_RATELIMIT_MAX_KEYS, &key);
	s->feedback_ip = bs_ratelimit_new("feedback-per-ip",
					  (double)cfg->feedback_per_ip /
						  (double)cfg->feedback_window_s,
					  (double)cfg->feedback_per_ip, BS_RATELIMIT_MAX_KEYS, &key);
	s->conns = bs_conncount_new(&key);
	return s->ratelimit != NULL && s->ratelimit_ip != NULL && s->ratelimit_net != NULL &&
			       s->feedback_throttle != NULL &&
			       s->feedback_ip != NULL && s->conns != NULL
		       ? 0
		       : -1;
}

void
bs_server_clear(struct bs_server *s)
{
	if (s->cfg != NULL)
		bs_metrics_destroy(&s->metrics);
	bs_ratelimit_free(s->ratelimit);
	bs_ratelimit_free(s->ratelimit_ip);
	bs_ratelimit_free(s->ratelimit_net);
	bs_ratelimit_free(s->feedback_throttle);
	bs_ratelimit_free(s->feedback_ip);
	bs_conncount_free(s->conns);
	free_list(s->whitelist, s->whitelist_len);
	free_list(s->admins, s->admins_len);
	memset(s, 0, sizeof(*s));
}
