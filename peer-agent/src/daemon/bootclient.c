/* bootclient.c - the bootstrap REST client, on the HTTP client of net/ (see bootclient.h). */
#include "daemon/bootclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "fb/log.h"
#include "fb/timeutil.h"
#include "net/httpclient.h"

#define BC_MAX_ANSWER (1024 * 1024) /* a list of CM_MAX_BOOTSTRAP_PEERS fits well within */

struct bc_call {
	struct bc_client *c;
	struct bc_call *next;
	char method[8];
	char *path_query; /* "/api/...?..." */
	char *body;       /* NULL: none */
	size_t first_url, tries;
	const char *answer; /* the last attempt's, borrowed during its callback */
	size_t answer_len;
	int64_t started_ms;
	bc_done_fn done;
	void *arg;
};

struct bc_client {
	struct hc_client *http;
	char **urls;
	size_t nurls, current;
	char *ca_file, *cert_file, *key_file;
	char *bind_ip; /* NULL: the system's choice */
	int64_t timeout_ms;
	struct bc_call *calls;
	size_t pending;
};

static void
call_free(struct bc_call *call)
{
	free(call->path_query);
	free(call->body);
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

static void attempt_done(const struct hc_result *r, void *arg);

/* Starts one attempt of call against the URL tries after its first. Returns 0 or -1. */
static int
attempt(struct bc_call *call)
{
	static const char *const json_only[] = {"Accept: application/json", NULL};
	static const char *const json_both[] = {"Accept: application/json",
						"Content-Type: application/json", NULL};
	struct bc_client *c = call->c;
	const char *base = c->urls[(call->first_url + call->tries) % c->nurls];
	size_t len = strlen(base) + strlen(call->path_query) + 1;
	char *url = malloc(len);
	struct hc_request req = {
		.method = call->method,
		.url = url,
		.headers = call->body != NULL ? json_both : json_only,
		.body = call->body,
		.body_len = call->body != NULL ? strlen(call->body) : 0,
		.ca_file = c->ca_file,
		.cert_file = c->cert_file,
		.key_file = c->key_file,
		.bind_ip = c->bind_ip,
		.timeout_ms = c->timeout_ms,
		.max_answer_bytes = BC_MAX_ANSWER,
	};
	int rc;

	if (url == NULL)
		return -1;
	snprintf(url, len, "%s%s", base, call->path_query);
	call->started_ms = call->tries == 0 ? cm_time_mono_ms() : call->started_ms;
	rc = hc_start(c->http, &req, attempt_done, call);
	free(url);
	return rc;
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

/* One attempt ended: answer, or move on to the next URL. */
static void
attempt_done(const struct hc_result *r, void *arg)
{
	struct bc_call *call = arg;
	struct bc_client *c = call->c;
	bool failover = (r->err != NULL && !r->too_big) || r->status >= 500;

	if (failover && call->tries + 1 < c->nurls) {
		log_warnx("%s: %s: %s; trying the next server", __func__,
			  c->urls[(call->first_url + call->tries) % c->nurls],
			  r->err != NULL ? r->err : "server error");
		call->tries++;
		if (attempt(call) == 0)
			return;
	}
	/* The next calls start where this one succeeds. */
	if (r->err == NULL && r->status < 500)
		c->current = (call->first_url + call->tries) % c->nurls;
	call->answer = r->body;
	call->answer_len = r->body_len;
	finish(call, r->err != NULL ? 0 : r->status, r->err);
}

struct bc_client *
bc_new(struct event_base *base, const struct bc_config *cfg)
{
	struct bc_client *c;

	if (cfg->nurls == 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
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
	    (cfg->bind_ip != NULL && (c->bind_ip = strdup(cfg->bind_ip)) == NULL) ||
	    (c->cert_file = strdup(cfg->cert_file)) == NULL ||
	    (c->key_file = strdup(cfg->key_file)) == NULL ||
	    (c->http = hc_new(base)) == NULL)
		goto fail;
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
	/* First the transfers, so no callback names a call freed below. */
	hc_free(c->http);
	while (c->calls != NULL) {
		struct bc_call *call = c->calls;

		call_unlink(call);
		call_free(call);
	}
	for (size_t i = 0; c->urls != NULL && i < c->nurls; i++)
		free(c->urls[i]);
	free(c->urls);
	free(c->ca_file);
	free(c->bind_ip);
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
	call->next = c->calls;
	c->calls = call;
	c->pending++;
	if (attempt(call) != 0) {
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
	char *esc = hc_url_escape(value), *out = NULL;
	size_t len;

	if (esc == NULL)
		return NULL;
	len = strlen(prefix) + strlen(esc) + strlen(suffix) + 1;
	if ((out = malloc(len)) != NULL)
		snprintf(out, len, "%s%s%s", prefix, esc, suffix);
	free(esc);
	return out;
}

int
bc_register(struct bc_client *c, const struct cm_register_request *req, bc_done_fn done,
	    void *arg)
{
	char *body = cm_json_dump_take(cm_register_request_encode(req), NULL);

	if (body == NULL)
		return -1;
	return start(c, "POST", strdup("/api/bootstrap/register"), body, done, arg);
}

int
bc_heartbeat(struct bc_client *c, const char *email, bc_done_fn done, void *arg)
{
	struct cm_heartbeat_request hb = {.email = (char *)email};
	char *body = cm_json_dump_take(cm_heartbeat_request_encode(&hb), NULL);

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
	char *body = cm_json_dump_take(cm_feedback_request_encode(&fb), NULL);

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
