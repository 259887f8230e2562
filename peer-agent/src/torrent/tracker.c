/*
 * tracker.c - the HTTP tracker client (see tracker.h): the announce URL
 * built from struct tr_announce, sent through net/httpclient (plain http
 * allowed: most trackers are), and the answer parsed by tr_tracker_parse,
 * which takes compact "peers" (BEP 23), "peers6" (BEP 7) and the old list
 * of dictionaries, never more than TR_TRACKER_MAX_PEERS of them.
 */
#include "torrent/tracker.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/bencode.h"
#include "fb/buf.h"
#include "fb/log.h"
#include "net/httpclient.h"

#define ANNOUNCE_TIMEOUT_MS 30000
#define ANSWER_MAX_VALUES   16384 /* a list of 200 dictionaries is ~1,000 values */
#define INTERVAL_DEFAULT_S  1800

void
tr_tracker_answer_clear(struct tr_tracker_answer *a)
{
	free(a->peers);
	free(a->failure);
	memset(a, 0, sizeof(*a));
}

/* Appends a compact address (4 or 16 bytes, then the port) unless it is full or the port is 0. */
static void
add_compact(struct tr_tracker_answer *out, int family, const unsigned char *b)
{
	struct tr_peer_addr *p = &out->peers[out->npeers];
	size_t alen = family == AF_INET ? 4 : 16;
	int port = b[alen] << 8 | b[alen + 1];

	if (out->npeers >= TR_TRACKER_MAX_PEERS || port == 0)
		return;
	if (inet_ntop(family, b, p->ip, sizeof(p->ip)) == NULL)
		return;
	p->port = port;
	out->npeers++;
}

static int
parse_compact(const struct cm_bval *v, int family, struct tr_tracker_answer *out,
              struct cm_err *err)
{
	size_t step = family == AF_INET ? 6 : 18;

	if (v->len % step != 0) {
		cm_err_set(err, "tracker answer: %s is %zu bytes, not a multiple of %zu",
		           family == AF_INET ? "peers" : "peers6", v->len, step);
		return -1;
	}
	for (size_t i = 0; i < v->len && out->npeers < TR_TRACKER_MAX_PEERS; i += step)
		add_compact(out, family, v->s + i);
	return 0;
}

/* The old form: a list of {"ip": text, "port": int}; names that are not numeric addresses are
 * skipped. */
static int
parse_dicts(const struct cm_bval *v, struct tr_tracker_answer *out, struct cm_err *err)
{
	for (size_t i = 0; i < v->len && out->npeers < TR_TRACKER_MAX_PEERS; i++) {
		const struct cm_bval *d = &v->items[i], *ip, *port;
		unsigned char b[18];
		char text[64];

		if (d->kind != CM_BDICT || (ip = cm_bdict_get(d, "ip")) == NULL ||
		    (port = cm_bdict_get(d, "port")) == NULL || ip->kind != CM_BSTR ||
		    port->kind != CM_BINT) {
			cm_err_set(err, "tracker answer: peers[%zu] is not {ip, port}", i);
			return -1;
		}
		if (port->i < 1 || port->i > 65535 || ip->len >= sizeof(text))
			continue;
		memcpy(text, ip->s, ip->len);
		text[ip->len] = '\0';
		if (inet_pton(AF_INET, text, b) == 1) {
			b[4] = (unsigned char)(port->i >> 8);
			b[5] = (unsigned char)port->i;
			add_compact(out, AF_INET, b);
		} else if (inet_pton(AF_INET6, text, b) == 1) {
			b[16] = (unsigned char)(port->i >> 8);
			b[17] = (unsigned char)port->i;
			add_compact(out, AF_INET6, b);
		}
	}
	return 0;
}

int
tr_tracker_parse(const void *body, size_t len, struct tr_tracker_answer *out, struct cm_err *err)
{
	struct cm_blimits lim = {
	    .max_bytes = TR_TRACKER_MAX_ANSWER, .max_depth = 8, .max_values = ANSWER_MAX_VALUES};
	struct cm_err derr = {{0}};
	struct cm_bdoc *d;
	const struct cm_bval *root, *v, *peers, *peers6;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len > TR_TRACKER_MAX_ANSWER) {
		cm_err_set(err, "tracker answer: longer than %d bytes", TR_TRACKER_MAX_ANSWER);
		return -1;
	}
	if ((d = cm_bdecode(body, len, &lim, &derr)) == NULL) {
		cm_err_set(err, "tracker answer: not bencode: %s", derr.msg);
		return -1;
	}
	root = cm_bdoc_root(d);
	if (root->kind != CM_BDICT) {
		cm_err_set(err, "tracker answer: not a dictionary");
		goto end;
	}
	if ((v = cm_bdict_get(root, "failure reason")) != NULL) {
		if (v->kind != CM_BSTR || (out->failure = malloc(v->len + 1)) == NULL) {
			cm_err_set(err, "tracker answer: failure reason is not a string");
			goto end;
		}
		/* shown in logs and the API: control bytes (and NULs) become '?' */
		for (size_t i = 0; i < v->len; i++)
			out->failure[i] = v->s[i] < ' ' || v->s[i] == 0x7f ? '?' : (char)v->s[i];
		out->failure[v->len] = '\0';
		rc = 0;
		goto end;
	}
	out->interval_s = INTERVAL_DEFAULT_S;
	if ((v = cm_bdict_get(root, "interval")) != NULL) {
		if (v->kind != CM_BINT) {
			cm_err_set(err, "tracker answer: interval is not an integer");
			goto end;
		}
		out->interval_s = v->i < 60 ? 60 : v->i > 3600 ? 3600 : (int)v->i;
	}
	peers = cm_bdict_get(root, "peers");
	peers6 = cm_bdict_get(root, "peers6");
	if (peers == NULL && peers6 == NULL) {
		cm_err_set(err, "tracker answer: neither peers nor peers6");
		goto end;
	}
	if ((peers != NULL && peers->kind != CM_BSTR && peers->kind != CM_BLIST) ||
	    (peers6 != NULL && peers6->kind != CM_BSTR)) {
		cm_err_set(err, "tracker answer: peers of the wrong type");
		goto end;
	}
	if ((out->peers = calloc(TR_TRACKER_MAX_PEERS, sizeof(*out->peers))) == NULL) {
		cm_err_set(err, "out of memory");
		goto end;
	}
	if (peers != NULL && (peers->kind == CM_BSTR ? parse_compact(peers, AF_INET, out, err)
	                                             : parse_dicts(peers, out, err)) != 0)
		goto end;
	if (peers6 != NULL && parse_compact(peers6, AF_INET6, out, err) != 0)
		goto end;
	rc = 0;
end:
	cm_bdoc_free(d);
	if (rc != 0)
		tr_tracker_answer_clear(out);
	return rc;
}

/* ---- announcing ---- */

struct announce_call {
	struct hc_client *hc;
	tr_announce_fn fn;
	void *arg;
	struct announce_call *prev, *next;
};

/* The announces in flight, so tr_tracker_cancel finds a caller's (the loop is one thread). */
static struct announce_call *inflight;

static void
call_unlink(struct announce_call *call)
{
	if (call->prev != NULL)
		call->prev->next = call->next;
	else
		inflight = call->next;
	if (call->next != NULL)
		call->next->prev = call->prev;
}

/* Appends n bytes percent-escaped (all but RFC 3986's unreserved ones): an info hash is any 20
 * bytes. */
static int
escape_bytes(char **url, size_t *len, const unsigned char *b, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		char e[4] = {'%', hex[b[i] >> 4], hex[b[i] & 15], '\0'};
		int plain = (b[i] >= 'a' && b[i] <= 'z') || (b[i] >= 'A' && b[i] <= 'Z') ||
		            (b[i] >= '0' && b[i] <= '9') ||
		            (b[i] != 0 && strchr("-._~", b[i]) != NULL);

		if (plain)
			e[0] = (char)b[i], e[1] = '\0';
		if (cm_buf_append(url, len, 4096, e, strlen(e)) != 0)
			return -1;
	}
	return 0;
}

/* The announce URL; caller frees. NULL when it does not fit. */
static char *
announce_url(const char *base, const struct tr_announce *a)
{
	char *url = NULL;
	size_t len = 0;

	if (cm_buf_printf(&url, &len, 4096, "%s%cinfo_hash=", base,
	                  strchr(base, '?') != NULL ? '&' : '?') != 0 ||
	    escape_bytes(&url, &len, a->info_hash, TR_HASH_LEN) != 0 ||
	    cm_buf_printf(&url, &len, 4096, "&peer_id=") != 0 ||
	    escape_bytes(&url, &len, a->peer_id, TR_HASH_LEN) != 0 ||
	    cm_buf_printf(&url, &len, 4096,
	                  "&port=%d&uploaded=%" PRIu64 "&downloaded=%" PRIu64 "&left=%" PRIu64
	                  "&compact=1&numwant=%d%s%s",
	                  a->port, a->uploaded, a->downloaded, a->left,
	                  a->numwant < 0 ? 0 : a->numwant, a->event != NULL ? "&event=" : "",
	                  a->event != NULL ? a->event : "") != 0) {
		free(url);
		return NULL;
	}
	return url;
}

static void
announce_done(const struct hc_result *r, void *arg)
{
	struct announce_call *call = arg;
	struct tr_tracker_answer a;
	struct cm_err err = {{0}};
	char why[CM_ERR_MSG];

	call_unlink(call);

	if (r->err != NULL) {
		snprintf(why, sizeof(why), "tracker: %s", r->err);
		call->fn(call->arg, NULL, why);
	} else if (r->status != 200) {
		snprintf(why, sizeof(why), "tracker: HTTP status %ld", r->status);
		call->fn(call->arg, NULL, why);
	} else if (tr_tracker_parse(r->body, r->body_len, &a, &err) != 0) {
		call->fn(call->arg, NULL, err.msg);
	} else {
		call->fn(call->arg, &a, NULL);
		tr_tracker_answer_clear(&a);
	}
	free(call);
}

int
tr_tracker_announce(struct hc_client *hc, const char *url, const struct tr_announce *a,
                    tr_announce_fn fn, void *arg)
{
	struct announce_call *call;
	struct hc_request req = {0};
	char *full;

	/* a client without a port is silent: it never tells a tracker where it is */
	if (a->port < 1 || a->port > 65535 ||
	    (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
		log_warnx("%s: %s: not an http(s) tracker, or no port to announce", __func__, url);
		return -1;
	}
	if ((full = announce_url(url, a)) == NULL || (call = calloc(1, sizeof(*call))) == NULL) {
		log_warnx("%s: %s: announce URL too long or out of memory", __func__, url);
		free(full);
		return -1;
	}
	call->hc = hc;
	call->fn = fn;
	call->arg = arg;
	req.method = "GET";
	req.url = full;
	req.allow_http = true;
	req.bind_ip = a->bind_ip;
	req.timeout_ms = ANNOUNCE_TIMEOUT_MS;
	req.max_answer_bytes = TR_TRACKER_MAX_ANSWER;
	if (hc_start(hc, &req, announce_done, call) != 0) {
		free(call);
		free(full);
		return -1;
	}
	free(full);
	call->next = inflight;
	if (inflight != NULL)
		inflight->prev = call;
	inflight = call;
	return 0;
}

void
tr_tracker_cancel(struct hc_client *hc, const void *arg)
{
	struct announce_call *call = inflight, *next;

	for (; call != NULL; call = next) {
		next = call->next;
		if (call->hc == hc && call->arg == arg) {
			hc_cancel(hc, call);
			call_unlink(call);
			free(call);
		}
	}
}
