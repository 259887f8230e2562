/* httpclient.c - libcurl multi on libevent (see httpclient.h). */
#include "net/httpclient.h"

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fb/log.h"

struct hc_call {
	struct hc_client *c;
	struct hc_call *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	struct evbuffer *answer;
	size_t max_answer;
	bool too_big;
	char content_range[128]; /* "bytes a-b/n" of a 206; "" when none came */
	char date[64];           /* the Date header; "" when none came */
	char errbuf[CURL_ERROR_SIZE];
	hc_done_fn done;
	void *arg;
};

struct hc_client {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct event *idle; /* HC_IDLE_CLOSE_MS after the last call: drops the connections */
	struct hc_call *calls;
};

/* A curl socket's event, kept as curl's socket pointer. */
struct hc_sock {
	struct event *ev;
};

static void check_done(struct hc_client *c);

static void
sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hc_client *c = arg;
	int running, flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, fd, flags, &running);
	check_done(c);
}

static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct hc_client *c = arg;
	struct hc_sock *s = sockp;
	short kind = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			event_free(s->ev);
			free(s);
		}
		curl_multi_assign(c->multi, fd, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		curl_multi_assign(c->multi, fd, s);
	} else {
		event_free(s->ev);
	}
	s->ev = event_new(c->base, fd, kind, sock_event_cb, c);
	if (s->ev == NULL)
		return -1;
	event_add(s->ev, NULL);
	return 0;
}

static void
timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hc_client *c = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct hc_client *c = arg;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

	(void)multi;
	if (timeout_ms < 0)
		evtimer_del(c->timer);
	else
		evtimer_add(c->timer, &tv);
	return 0;
}

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct hc_call *call = arg;
	size_t len = size * n, have = evbuffer_get_length(call->answer);

	if (len > call->max_answer || have > call->max_answer - len) {
		call->too_big = true;
		return 0; /* anything but len aborts the transfer */
	}
	return evbuffer_add(call->answer, data, len) == 0 ? len : 0;
}

/* A header's value, trimmed, into out (size n); one longer than any honest one is left out. */
static void
header_keep(const char *v, size_t vlen, char *out, size_t n)
{
	while (vlen > 0 && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	if (vlen >= n)
		vlen = 0;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
}

/*
 * Keeps Content-Range (web seeds check what a 206 holds) and Date (the
 * server's clock, for a skew check); ignores the rest.
 */
static size_t
header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct hc_call *call = arg;
	const struct {
		const char *name;
		char *out;
		size_t size;
	} kept[] = {
		{"content-range:", call->content_range, sizeof(call->content_range)},
		{"date:", call->date, sizeof(call->date)},
	};
	size_t len = size * n;

	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		size_t nlen = strlen(kept[i].name);

		if (len > nlen && strncasecmp(data, kept[i].name, nlen) == 0)
			header_keep(data + nlen, len - nlen, kept[i].out, kept[i].size);
	}
	return len;
}

static void
call_unlink(struct hc_call *call)
{
	if (call->prev != NULL)
		call->prev->next = call->next;
	else
		call->c->calls = call->next;
	if (call->next != NULL)
		call->next->prev = call->prev;
}

static void
call_free(struct hc_call *call)
{
	if (call->easy != NULL) {
		curl_multi_remove_handle(call->c->multi, call->easy);
		curl_easy_cleanup(call->easy);
	}
	curl_slist_free_all(call->headers);
	if (call->answer != NULL)
		evbuffer_free(call->answer);
	free(call);
}

/* Hands one finished transfer to its callback, then frees it. */
static void
finish(struct hc_call *call, CURLcode rc)
{
	struct hc_result r = {0};

	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &r.status);
	call_unlink(call);
	r.too_big = call->too_big;
	r.content_range = call->content_range[0] != '\0' ? call->content_range : NULL;
	if (call->date[0] != '\0') {
		time_t t = curl_getdate(call->date, NULL);

		r.date_ms = t > 0 ? (int64_t)t * 1000 : 0;
	}
	if (call->too_big)
		r.err = "answer too large";
	else if (rc != CURLE_OK)
		r.err = call->errbuf[0] != '\0' ? call->errbuf : curl_easy_strerror(rc);
	/* A NUL after the answer, not counted: callers may read it as a string. */
	if (evbuffer_add(call->answer, "", 1) == 0) {
		r.body_len = evbuffer_get_length(call->answer) - 1;
		r.body = (const char *)evbuffer_pullup(call->answer, -1);
	}
	if (r.body == NULL && r.err == NULL)
		r.err = "out of memory";
	call->done(&r, call->arg);
	call_free(call);
}

/*
 * A multi of ours: its sockets and timer on c's loop, HC_MAX_HOST_CONNECTIONS.
 * NULL when out of memory.
 */
static CURLM *
multi_new(struct hc_client *c)
{
	CURLM *m = curl_multi_init();

	if (m == NULL)
		return NULL;
	curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(m, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(m, CURLMOPT_TIMERDATA, c);
	/*
	 * One connection per server, busy or idle: requests that meet wait their
	 * turn on it (they are small), so the agents behind one address hold one
	 * connection each, not one per request that ever overlapped.
	 */
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, HC_MAX_HOST_CONNECTIONS);
	return m;
}

/*
 * Nothing asked for HC_IDLE_CLOSE_MS: the connections go. libcurl closes an
 * idle one only when a later request finds it dead, and each kept its TLS
 * session, credentials and trust list (about 60 KB), though a server closes
 * an idle connection before the next heartbeat comes (30 s each). A new
 * multi is how libcurl lets them go.
 */
static void
idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hc_client *c = arg;
	CURLM *m;

	(void)fd;
	(void)what;
	if (c->calls != NULL || (m = multi_new(c)) == NULL)
		return;
	curl_multi_cleanup(c->multi);
	c->multi = m;
}

/* The last call has gone: the idle timer starts. */
static void
note_idle(struct hc_client *c)
{
	struct timeval tv = {HC_IDLE_CLOSE_MS / 1000, HC_IDLE_CLOSE_MS % 1000 * 1000};

	if (c->calls == NULL)
		evtimer_add(c->idle, &tv);
}

/* Collects finished transfers. */
static void
check_done(struct hc_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct hc_call *call;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&call);
		finish(call, m->data.result);
	}
	note_idle(c);
}

struct hc_client *
hc_new(struct event_base *base)
{
	struct hc_client *c;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("%s: cannot set up libcurl", __func__);
		return NULL;
	}
	c->base = base;
	if ((c->multi = multi_new(c)) == NULL ||
	    (c->timer = evtimer_new(base, timer_event_cb, c)) == NULL ||
	    (c->idle = evtimer_new(base, idle_cb, c)) == NULL) {
		log_warnx("%s: out of memory", __func__);
		hc_free(c);
		return NULL;
	}
	return c;
}

void
hc_free(struct hc_client *c)
{
	if (c == NULL)
		return;
	while (c->calls != NULL) {
		struct hc_call *call = c->calls;

		call_unlink(call);
		call_free(call);
	}
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->idle != NULL)
		event_free(c->idle);
	free(c);
}

/* The easy handle for req, its answer written into call. Returns 0 or -1. */
static int
call_setup(struct hc_call *call, const struct hc_request *req)
{
	CURL *e = call->easy;

	for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		struct curl_slist *h = curl_slist_append(call->headers, req->headers[i]);

		if (h == NULL)
			return -1;
		call->headers = h;
	}
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, req->allow_http ? "http,https" : "https");
	curl_easy_setopt(e, CURLOPT_PRIVATE, call);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	curl_easy_setopt(e, CURLOPT_SSLCERT, req->cert_file);
	curl_easy_setopt(e, CURLOPT_SSLKEY, req->key_file);
	if (req->ca_file != NULL) {
		curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file);
		/* Only that CA (flashback-agent.ini(5)): without this libcurl also
		 * parses the whole system directory (/etc/ssl/certs) on every
		 * handshake: 6.7 MB at peak and 4 MB kept, most of an idle agent's heap. */
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	}
	if (req->bind_ip != NULL) {
		char iface[80];

		/* "host!": an address, never taken for an interface name. */
		snprintf(iface, sizeof(iface), "host!%s", req->bind_ip);
		if (curl_easy_setopt(e, CURLOPT_INTERFACE, iface) != CURLE_OK)
			return -1;
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		if (curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body) != CURLE_OK)
			return -1;
	}
	return 0;
}

int
hc_start(struct hc_client *c, const struct hc_request *req, hc_done_fn done, void *arg)
{
	struct hc_call *call = calloc(1, sizeof(*call));

	if (call == NULL)
		return -1;
	call->c = c;
	call->max_answer = req->max_answer_bytes;
	call->done = done;
	call->arg = arg;
	call->next = c->calls;
	if (c->calls != NULL)
		c->calls->prev = call;
	c->calls = call;
	if ((call->answer = evbuffer_new()) == NULL || (call->easy = curl_easy_init()) == NULL ||
	    call_setup(call, req) != 0 || curl_multi_add_handle(c->multi, call->easy) != CURLM_OK) {
		log_warnx("%s: %s %s: cannot start the request", __func__, req->method, req->url);
		call_unlink(call);
		call_free(call);
		return -1;
	}
	return 0;
}

void
hc_cancel(struct hc_client *c, const void *arg)
{
	struct hc_call *call = c->calls, *next;

	for (; call != NULL; call = next) {
		next = call->next;
		if (call->arg == arg) {
			call_unlink(call);
			call_free(call);
		}
	}
	note_idle(c);
}

char *
hc_url_escape(const char *value)
{
	char *esc = curl_easy_escape(NULL, value, 0), *out;

	if (esc == NULL)
		return NULL;
	out = strdup(esc);
	curl_free(esc);
	return out;
}
