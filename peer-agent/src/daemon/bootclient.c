/* bootclient.c - the bootstrap REST client on libcurl multi and libevent (see bootclient.h). */
#include "daemon/bootclient.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "fb/log.h"
#include "fb/timeutil.h"
#include "daemon/fsutil.h"

#define BC_MAX_ANSWER (1024 * 1024) /* a list of CM_MAX_BOOTSTRAP_PEERS fits well within */

struct bc_call {
	struct bc_client *c;
	struct bc_call *next;
	CURL *easy;
	struct curl_slist *headers;
	char method[8];
	char *path_query; /* "/api/...?..." */
	char *body;       /* NULL: none */
	size_t first_url, tries;
	char *answer;
	size_t answer_len;
	bool too_big;
	char errbuf[CURL_ERROR_SIZE];
	int64_t started_ms;
	bc_done_fn done;
	void *arg;
};

struct bc_client {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	char **urls;
	size_t nurls, current;
	char *ca_file, *cert_file, *key_file;
	int64_t timeout_ms;
	struct bc_call *calls;
	size_t pending;
};

/* A curl socket's event, kept as curl's socket pointer. */
struct bc_sock {
	struct event *ev;
};

static void check_done(struct bc_client *c);

static void
sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bc_client *c = arg;
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
	struct bc_client *c = arg;
	struct bc_sock *s = sockp;
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
	struct bc_client *c = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct bc_client *c = arg;
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
	struct bc_call *call = arg;
	size_t len = size * n;
	int rc = pa_append_capped(&call->answer, &call->answer_len, BC_MAX_ANSWER, data, len);

	if (rc == -1)
		call->too_big = true;
	return rc == 0 ? len : 0; /* anything else aborts the transfer */
}

static void
call_free(struct bc_call *call)
{
	if (call->easy != NULL) {
		curl_multi_remove_handle(call->c->multi, call->easy);
		curl_easy_cleanup(call->easy);
	}
	curl_slist_free_all(call->headers);
	free(call->path_query);
	free(call->body);
	free(call->answer);
	free(call);
}

static void
call_unlink(struct bc_call *call)
{
	struct bc_call **pp = &call->c->calls;

	while (*pp != NULL && *pp != call)
		pp = &(*pp)->next;
	if (*pp == call)
		*pp = call->next;
	call->c->pending--;
}

/* Starts one attempt of call against the URL tries after its first. Returns 0 or -1. */
static int
attempt(struct bc_call *call)
{
	struct bc_client *c = call->c;
	const char *base = c->urls[(call->first_url + call->tries) % c->nurls];
	char *url;
	size_t len = strlen(base) + strlen(call->path_query) + 1;

	if (call->easy != NULL) {
		curl_multi_remove_handle(c->multi, call->easy);
		curl_easy_cleanup(call->easy);
	}
	free(call->answer);
	call->answer = NULL;
	call->answer_len = 0;
	call->too_big = false;
	call->errbuf[0] = '\0';
	if ((url = malloc(len)) == NULL || (call->easy = curl_easy_init()) == NULL) {
		free(url);
		return -1;
	}
	snprintf(url, len, "%s%s", base, call->path_query);
	curl_easy_setopt(call->easy, CURLOPT_URL, url);
	curl_easy_setopt(call->easy, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(call->easy, CURLOPT_PRIVATE, call);
	curl_easy_setopt(call->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(call->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(call->easy, CURLOPT_SSLCERT, c->cert_file);
	curl_easy_setopt(call->easy, CURLOPT_SSLKEY, c->key_file);
	if (c->ca_file != NULL)
		curl_easy_setopt(call->easy, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(call->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(call->easy, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(call->easy, CURLOPT_ERRORBUFFER, call->errbuf);
	curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, call->headers);
	curl_easy_setopt(call->easy, CURLOPT_CUSTOMREQUEST, call->method);
	if (call->body != NULL)
		curl_easy_setopt(call->easy, CURLOPT_POSTFIELDS, call->body);
	free(url);
	call->started_ms = call->tries == 0 ? cm_time_mono_ms() : call->started_ms;
	return curl_multi_add_handle(c->multi, call->easy) == CURLM_OK ? 0 : -1;
}

static void
finish(struct bc_call *call, long status, const char *err)
{
	struct bc_client *c = call->c;
	struct bc_result r = {0};
	struct cm_error_body eb = {0};
	struct cm_err perr;

	r.http_status = status;
	r.url = c->urls[(call->first_url + call->tries) % c->nurls];
	r.err = err;
	r.elapsed_ms = cm_time_mono_ms() - call->started_ms;
	if (call->answer_len > 0)
		r.body = cm_json_parse(call->answer, call->answer_len, BC_MAX_ANSWER, &perr);
	if (status >= 400 && r.err == NULL)
		r.err = r.body != NULL && cm_error_body_decode(r.body, &eb, &perr) == 0
				? eb.error
				: "error answer";
	call_unlink(call);
	if (call->done != NULL)
		call->done(&r, call->arg);
	cm_error_body_clear(&eb);
	json_decref(r.body);
	call_free(call);
}

/* Collects finished transfers: answer, or move on to the next URL. */
static void
check_done(struct bc_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct bc_call *call;
		long status = 0;
		bool failover;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&call);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		failover = (m->data.result != CURLE_OK && !call->too_big) || status >= 500;
		if (failover && call->tries + 1 < c->nurls) {
			log_warnx("%s: %s: %s; trying the next server", __func__,
				  c->urls[(call->first_url + call->tries) % c->nurls],
				  m->data.result != CURLE_OK ? call->errbuf : "server error");
			call->tries++;
			if (attempt(call) == 0) {
				/* The next calls start where this one succeeds. */
				continue;
			}
		}
		if (m->data.result == CURLE_OK && status < 500)
			c->current = (call->first_url + call->tries) % c->nurls;
		if (call->too_big)
			finish(call, 0, "answer too large");
		else if (m->data.result != CURLE_OK)
			finish(call, 0, call->errbuf[0] != '\0' ? call->errbuf
								 : curl_easy_strerror(m->data.result));
		else
			finish(call, status, NULL);
	}
}

struct bc_client *
bc_new(struct event_base *base, const struct bc_config *cfg)
{
	struct bc_client *c;

	if (cfg->nurls == 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->base = base;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
	c->urls = calloc(cfg->nurls, sizeof(*c->urls));
	c->nurls = cfg->nurls;
	if (c->urls == NULL)
		goto fail;
	for (size_t i = 0; i < cfg->nurls; i++) {
		size_t len = strlen(cfg->urls[i]);

		/* Tolerate a trailing slash: paths are appended as they are. */
		if ((c->urls[i] = strdup(cfg->urls[i])) == NULL)
			goto fail;
		if (len > 0 && c->urls[i][len - 1] == '/')
			c->urls[i][len - 1] = '\0';
	}
	if ((cfg->ca_file != NULL && (c->ca_file = strdup(cfg->ca_file)) == NULL) ||
	    (c->cert_file = strdup(cfg->cert_file)) == NULL ||
	    (c->key_file = strdup(cfg->key_file)) == NULL ||
	    (c->multi = curl_multi_init()) == NULL ||
	    (c->timer = evtimer_new(base, timer_event_cb, c)) == NULL)
		goto fail;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return c;
fail:
	log_warnx("%s: out of memory", __func__);
	bc_free(c);
	return NULL;
}

void
bc_free(struct bc_client *c)
{
	if (c == NULL)
		return;
	while (c->calls != NULL) {
		struct bc_call *call = c->calls;

		call_unlink(call);
		call_free(call);
	}
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	if (c->timer != NULL)
		event_free(c->timer);
	for (size_t i = 0; c->urls != NULL && i < c->nurls; i++)
		free(c->urls[i]);
	free(c->urls);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c);
}

size_t
bc_pending(const struct bc_client *c)
{
	return c->pending;
}

/* Starts a call; takes ownership of body (may be NULL). */
static int
start(struct bc_client *c, const char *method, char *path_query, char *body, bc_done_fn done,
      void *arg)
{
	struct bc_call *call = calloc(1, sizeof(*call));

	if (call == NULL || path_query == NULL) {
		free(call);
		free(path_query);
		free(body);
		return -1;
	}
	call->c = c;
	snprintf(call->method, sizeof(call->method), "%s", method);
	call->path_query = path_query;
	call->body = body;
	call->first_url = c->current;
	call->done = done;
	call->arg = arg;
	call->headers = curl_slist_append(NULL, "Accept: application/json");
	if (body != NULL)
		call->headers = curl_slist_append(call->headers, "Content-Type: application/json");
	call->next = c->calls;
	c->calls = call;
	c->pending++;
	if (call->headers == NULL || attempt(call) != 0) {
		call_unlink(call);
		call_free(call);
		return -1;
	}
	return 0;
}

/* "prefix" + URL-escaped value; caller frees. */
static char *
with_query(const char *prefix, const char *value, const char *suffix)
{
	char *esc = curl_easy_escape(NULL, value, 0), *out = NULL;
	size_t len;

	if (esc == NULL)
		return NULL;
	len = strlen(prefix) + strlen(esc) + strlen(suffix) + 1;
	if ((out = malloc(len)) != NULL)
		snprintf(out, len, "%s%s%s", prefix, esc, suffix);
	curl_free(esc);
	return out;
}

static char *
json_text(json_t *j)
{
	char *s = j != NULL ? cm_json_dump(j) : NULL;

	json_decref(j);
	return s;
}

int
bc_register(struct bc_client *c, const struct cm_register_request *req, bc_done_fn done,
	    void *arg)
{
	char *body = json_text(cm_register_request_encode(req));

	if (body == NULL)
		return -1;
	return start(c, "POST", strdup("/api/bootstrap/register"), body, done, arg);
}

int
bc_heartbeat(struct bc_client *c, const char *email, bc_done_fn done, void *arg)
{
	struct cm_heartbeat_request hb = {.email = (char *)email};
	char *body = json_text(cm_heartbeat_request_encode(&hb));

	if (body == NULL)
		return -1;
	return start(c, "POST", strdup("/api/bootstrap/heartbeat"), body, done, arg);
}

int
bc_unregister(struct bc_client *c, const char *email, bc_done_fn done, void *arg)
{
	return start(c, "DELETE", with_query("/api/bootstrap/unregister?email=", email, ""), NULL,
		     done, arg);
}

int
bc_peers(struct bc_client *c, int limit, bc_done_fn done, void *arg)
{
	char path[64];

	snprintf(path, sizeof(path), "/api/bootstrap/peers?limit=%d", limit);
	return start(c, "GET", strdup(path), NULL, done, arg);
}

int
bc_discover(struct bc_client *c, const struct cm_strlist *repos, int limit, bc_done_fn done,
	    void *arg)
{
	char *joined = cm_join((const char *const *)repos->items, repos->len, ","), suffix[32];
	int rc;

	if (joined == NULL)
		return -1;
	snprintf(suffix, sizeof(suffix), "&limit=%d", limit);
	rc = start(c, "GET", with_query("/api/bootstrap/discover?repositories=", joined, suffix),
		   NULL, done, arg);
	free(joined);
	return rc;
}

int
bc_feedback(struct bc_client *c, const char *email, int64_t latency_ms, bc_done_fn done,
	    void *arg)
{
	struct cm_feedback_request fb = {.email = (char *)email, .latency_ms = latency_ms};
	char *body = json_text(cm_feedback_request_encode(&fb));

	if (body == NULL)
		return -1;
	return start(c, "POST", strdup("/api/bootstrap/feedback"), body, done, arg);
}

int
bc_relay_lookup(struct bc_client *c, const char *email, bc_done_fn done, void *arg)
{
	return start(c, "GET", with_query("/api/relay/broadcast/lookup?email=", email, ""), NULL,
		     done, arg);
}
