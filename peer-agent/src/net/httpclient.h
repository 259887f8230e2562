/*
 * httpclient.h - HTTPS requests on the libevent loop: libcurl multi (the
 * GnuTLS build) driven by the loop's socket and timer events, so no call
 * blocks. Plain http:// only where a request says so (BitTorrent trackers
 * and web seeds, which are mostly plain HTTP); bootstrap servers stay https. Each request names its method, URL, headers, body, TLS files,
 * timeout and answer cap; its callback runs once, later, from the loop.
 * Which server to ask and what to do with the answer is the caller's.
 */
#ifndef PA_HTTPCLIENT_H
#define PA_HTTPCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct hc_client;

struct hc_request {
	const char *method;             /* "GET", "POST", "DELETE"... */
	const char *url;                /* https://, or http:// too when allow_http */
	bool allow_http;                /* false: a plain http:// URL (or redirect) is refused */
	const char *const *headers;     /* "Name: value" lines, NULL-terminated; NULL: none */
	const char *body;               /* NULL: none; copied */
	size_t body_len;
	const char *ca_file;            /* verifies the server; NULL: the system's trust */
	const char *cert_file;          /* our client certificate and key (PEM) */
	const char *key_file;
	const char *bind_ip;            /* source address (numeric); NULL: the system's choice */
	int64_t timeout_ms;             /* the whole transfer, waiting for the connection included */
	size_t max_answer_bytes;        /* a longer answer fails the request */
};

/*
 * The outcome, borrowed: valid during the callback only. status is the HTTP
 * status received (0 when none), even when err says the transfer failed
 * after it; body holds what arrived, NUL-terminated.
 */
struct hc_result {
	long status;
	const char *body;
	size_t body_len;
	const char *err; /* NULL when the answer came whole; else why not */
	bool too_big;    /* the answer passed max_answer_bytes (err says so too) */
	const char *content_range; /* the last Content-Range header's value; NULL: none */
	int64_t date_ms;           /* the Date header, Unix ms (whole seconds); 0: none or unreadable */
};

typedef void (*hc_done_fn)(const struct hc_result *r, void *arg);

/* Connections a client holds to one server (host and port) at once, busy or idle. */
#define HC_MAX_HOST_CONNECTIONS 1L
/* A client with no request for this long closes its idle connections. */
#define HC_IDLE_CLOSE_MS 5000

/* NULL on failure (logged). */
struct hc_client *hc_new(struct event_base *base);
/* Cancels the requests in flight without running their callbacks. */
void hc_free(struct hc_client *c);

/* Starts req. Returns 0 (done runs later, exactly once, unless hc_free comes first) or -1. */
int hc_start(struct hc_client *c, const struct hc_request *req, hc_done_fn done, void *arg);

/* Cancels, without running their callbacks, the requests in flight started with arg. */
void hc_cancel(struct hc_client *c, const void *arg);

/* value escaped for a URL's query; caller frees. NULL on failure. */
char *hc_url_escape(const char *value);

#endif
