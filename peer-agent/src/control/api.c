/*
 * api.c - the control API (api.h): the Host check and the page's paths
 * first (ui.c), then the route table, the token check, one handler per
 * route and the JSON documents they answer, each built in one function.
 */
#include "control/api.h"
#include "control/api_internal.h"
#include "control/ui.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "fb/codec.h"
#include "fb/log.h"
#include "fb/score.h"
#include "fb/timeutil.h"

int64_t
ctl_now_ms(void)
{
	return cm_time_wall_ms();
}

/* Replies */

void
ctl_reply_json(struct evhttp_request *req, int status, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *text = cm_json_dump_take(body, NULL);

	if (buf == NULL || text == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		free(text);
		if (buf != NULL)
			evbuffer_free(buf);
		return;
	}
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, status,
			  status == 201   ? "Created"
			  : status == 202 ? "Accepted"
			  : status == 200 ? "OK"
					  : "Error",
			  buf);
	evbuffer_free(buf);
	free(text);
}

void
ctl_reply_error(struct evhttp_request *req, int status, const char *msg, const char *code)
{
	ctl_reply_json(req, status, cm_error_body_encode(msg, code));
}

json_t *
ctl_body_json(struct evhttp_request *req, bool *failed)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct cm_err err = {0};
	char *body;
	json_t *j;

	*failed = false;
	if (len == 0)
		return NULL;
	if ((body = malloc(len + 1)) == NULL) {
		*failed = true;
		ctl_reply_error(req, 500, "out of memory", "internal");
		return NULL;
	}
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	j = cm_json_parse(body, len, CM_MAX_BODY, &err);
	free(body);
	if (j == NULL) {
		*failed = true;
		ctl_reply_error(req, 400, err.msg, "bad_json");
	}
	return j;
}

/* Documents */

/* How often each limit of docs/security.md bit, under the names that page uses. Returns 0 or -1. */
static int
limit_counters(const struct ctl_status *st, struct cm_counterlist *out)
{
	const struct tp_stats *ts = st->transport;
	const struct engine_stats *es = st->engine;
	const struct peertable_stats *ps = st->table;
	const struct {
		const char *name;
		uint64_t n;
	} c[] = {
		{"refused_rate", ts->refused_rate},
		{"refused_per_address", ts->refused_per_address},
		{"refused_per_prefix", ts->refused_per_prefix},
		{"pending_evicted", ts->pending_evicted},
		{"inbound_evicted", ts->inbound_evicted},
		{"hello_timeouts", ts->hello_timeouts},
		{"send_queue_overflows", ts->send_queue_overflows},
		{"pongs_ignored", ts->pongs_ignored},
		{"closed_rate", es->closed_rate},
		{"closed_bad_signatures", es->closed_bad_signatures},
		{"answers_cut", es->answers_cut},
		{"answers_limited", es->answers_limited},
		{"rates_restored", es->rates_restored},
		{"forwards_dropped", es->forwards_dropped},
		{"table_evicted", ps->evicted},
		{"table_refused_full", ps->refused_full},
		{"pins_dropped", ps->pins_dropped},
		{"pins_refused", ps->pins_refused},
		{"pins_metered", ps->pins_metered},
		{"proofs_capped", ps->proofs_capped},
		{"silent_with_addresses", ps->refused_silent},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (cm_counterlist_append(out, c[i].name, (int64_t)c[i].n) != 0)
			return -1;
	return 0;
}

int
ctl_gossip_stats(const struct ctl_status *st, struct cm_gossip_stats *out)
{
	const struct engine_stats *es = st->engine;
	const struct tp_stats *ts = st->transport;
	char code[8];

	for (int v = 0; v < ENGINE_VERDICT_COUNT; v++)
		if (cm_counterlist_append(&out->verdicts, engine_verdict_name((enum engine_verdict)v),
					  (int64_t)es->verdicts[v]) != 0)
			return -1;
	for (int c = 0; c < 16; c++) {
		if (ts->closed_by_code[c] == 0)
			continue;
		snprintf(code, sizeof(code), "%d", 1000 + c);
		if (cm_counterlist_append(&out->closed_by_code, code,
					  (int64_t)ts->closed_by_code[c]) != 0)
			return -1;
	}
	if (ts->closed_full > 0) {
		snprintf(code, sizeof(code), "%d", TP_CLOSE_FULL);
		if (cm_counterlist_append(&out->closed_by_code, code, (int64_t)ts->closed_full) != 0)
			return -1;
	}
	out->received = (int64_t)es->received;
	out->records_applied = (int64_t)es->records_applied;
	out->forwarded = (int64_t)es->forwarded;
	out->sent = (int64_t)es->sent;
	out->stripped_addresses = (int64_t)es->stripped_addresses;
	out->anti_entropy_rounds = (int64_t)es->anti_entropy_rounds;
	out->requests_answered = (int64_t)es->requests_answered;
	out->refreshes_pulled = (int64_t)es->refreshes_pulled;
	out->sessions_open = (int64_t)st->sessions_open;
	out->handshake_failures = (int64_t)ts->handshake_failures;
	out->pin_failures = (int64_t)ts->pin_failures;
	out->bytes_in = (int64_t)ts->bytes_in;
	out->bytes_out = (int64_t)ts->bytes_out;
	return limit_counters(st, &out->limits);
}

/* The status document; its strings are borrowed from the daemon for the encoder. */
static json_t *
status_json(struct ctl *c)
{
	struct ctl_status st = {0};
	struct cm_agent_status doc = {0};
	json_t *j = NULL;

	c->ops->status(c->ctx, &st);
	doc.email = (char *)st.email;
	doc.peer_id = (char *)st.peer_id;
	doc.broadcasting = st.broadcasting;
	doc.bootstrap.state = (char *)st.bootstrap_state;
	doc.bootstrap.url = st.bootstrap_url[0] != '\0' ? (char *)st.bootstrap_url : NULL;
	doc.bootstrap.has_expires_at = st.has_expires;
	doc.bootstrap.expires_at_ms = st.expires_ms;
	doc.neighbours = (int64_t)st.neighbours;
	doc.known_peers = (int64_t)st.known_peers;
	doc.version = FB_VERSION;
	doc.is_bootstrap = st.is_bootstrap;
	doc.listen_port = st.listen_port;
	doc.repositories = *st.repositories;
	if (ctl_gossip_stats(&st, &doc.gossip) == 0)
		j = cm_agent_status_encode(&doc);
	cm_gossip_stats_clear(&doc.gossip);
	return j;
}

void
ctl_info_via(struct ctl *c, struct cm_peer_info *info)
{
	const char *via = c->ops->session_via != NULL && info->state == CM_STATE_CONNECTED
				  ? c->ops->session_via(c->ctx, info->email)
				  : NULL;

	/* Out of memory leaves it out: the PeerInfo is still true without it. */
	if (via != NULL)
		info->via = strdup(via);
}

/*
 * PeerInfo array of the table entries hosting any of repos (all when none),
 * only those named in only when it is given. NULL when out of memory.
 */
json_t *
ctl_table_infos(struct ctl *c, const struct cm_strlist *repos, enum cm_peer_source src,
	    int64_t found_in_ms, const struct cm_strlist *only)
{
	struct cm_peer_info *infos;
	struct cm_peer_infolist kept = {0};
	size_t n;
	json_t *arr = NULL;

	if (peertable_snapshot(c->cfg.table, (const char *const *)repos->items, repos->len,
			       ctl_now_ms(), &infos, &n) != 0)
		return NULL;
	/* The kept entries are moved to the front of infos: the list borrows them. */
	for (size_t i = 0; i < n; i++) {
		bool keep = only == NULL;

		for (size_t j = 0; only != NULL && j < only->len && !keep; j++)
			keep = strcmp(only->items[j], infos[i].email) == 0;
		/* The table shows peers that left; discovery does not offer them. */
		if (!keep || (src != CM_SOURCE_NONE && infos[i].peer_status == CM_PEER_OFFLINE))
			continue;
		infos[i].source = src;
		infos[i].found_in_ms = found_in_ms;
		ctl_info_via(c, &infos[i]);
		if (i != kept.len) {
			struct cm_peer_info t = infos[kept.len];

			infos[kept.len] = infos[i];
			infos[i] = t;
		}
		kept.len++;
	}
	kept.items = infos;
	arr = cm_peer_infolist_encode(&kept);
	peertable_info_free(infos, n);
	return arr;
}

/* An empty PeerInfo array: nobody found. */
json_t *
ctl_no_infos(void)
{
	struct cm_peer_infolist none = {0};

	return cm_peer_infolist_encode(&none);
}

/* A bootstrap listing as PeerInfo: what the server knows, scored by it. NULL when out of memory. */
static json_t *
bootstrap_infos(const struct cm_bootstrap_peerlist *l, enum cm_peer_source src,
		int64_t found_in_ms, const char *only_email)
{
	struct cm_peer_infolist list = {calloc(l->len + 1, sizeof(struct cm_peer_info)), 0};
	int64_t now = ctl_now_ms();
	json_t *arr;

	if (list.items == NULL)
		return NULL;
	/* The infos borrow the listing's strings for the encoder. */
	for (size_t i = 0; i < l->len; i++) {
		const struct cm_bootstrap_peer *p = &l->items[i];
		struct cm_peer_info *info = &list.items[list.len];

		if (only_email != NULL && strcmp(p->email, only_email) != 0)
			continue;
		info->email = p->email;
		info->peer_id = p->peer_id;
		info->public_certificate = p->public_certificate;
		info->socket_addresses = p->socket_addresses;
		info->port = p->port;
		info->is_broadcasting = p->socket_addresses.len > 0;
		info->is_bootstrap = info->is_broadcasting;
		info->peer_status = CM_PEER_ONLINE;
		info->state = CM_STATE_DISCOVERED;
		info->repositories = p->repositories;
		info->availability_score = p->has_availability_score ? p->availability_score : 100;
		info->performance_score = p->has_performance_score ? p->performance_score : 50;
		info->score = cm_score(info->availability_score, info->performance_score);
		info->discovered_at_ms = now;
		info->last_seen_ms = now;
		info->expires_at_ms = now;
		info->source = src;
		info->found_in_ms = found_in_ms;
		list.len++;
	}
	arr = cm_peer_infolist_encode(&list);
	free(list.items);
	return arr;
}

/* Pending answers */

void
ctl_op_free(struct op *o)
{
	struct op **pp = &o->c->ops_pending;

	while (*pp != NULL && *pp != o)
		pp = &(*pp)->next;
	if (*pp == o) {
		*pp = o->next;
		o->c->nops--;
	}
	/* The connection outlives the op: it must not call back into freed memory. */
	if (o->req != NULL)
		evhttp_connection_set_closecb(evhttp_request_get_connection(o->req), NULL, NULL);
	if (o->timer != NULL)
		event_free(o->timer);
	cm_strlist_clear(&o->repos);
	free(o->email);
	free(o);
}

int64_t
ctl_op_elapsed(const struct op *o)
{
	return cm_time_mono_ms() - o->started_ms;
}

void
ctl_op_finish(struct op *o, json_t *arr)
{
	struct evhttp_request *req = o->req;

	ctl_op_free(o);
	if (req == NULL)
		json_decref(arr);
	else if (arr != NULL)
		ctl_reply_json(req, 200, arr);
	else
		ctl_reply_error(req, 500, "could not build the answer", "internal");
}

/* The client went away: the answer has nowhere to go. */
static void
op_conn_closed(struct evhttp_connection *conn, void *arg)
{
	struct op *o = arg;

	(void)conn;
	o->req = NULL;
}

/* True (and answered 503) when CTL_MAX_PENDING_OPS requests already wait on the network. */
bool
ctl_ops_full(struct ctl *c, struct evhttp_request *req)
{
	if (c->nops < CTL_MAX_PENDING_OPS)
		return false;
	c->ops_refused++;
	/* At the 1st, 2nd, 4th... refusal: a client in a loop must not fill the log. */
	if ((c->ops_refused & (c->ops_refused - 1)) == 0)
		log_info("control API: %d requests already wait on the network, one refused with 503 "
			 "(%llu so far)",
			 CTL_MAX_PENDING_OPS, (unsigned long long)c->ops_refused);
	ctl_reply_error(req, 503, "too many requests waiting on the network; try again shortly",
		    "busy");
	return true;
}

struct op *
ctl_op_new(struct ctl *c, struct evhttp_request *req)
{
	struct op *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->c = c;
	o->req = req;
	o->started_ms = cm_time_mono_ms();
	o->next = c->ops_pending;
	c->ops_pending = o;
	c->nops++;
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), op_conn_closed, o);
	return o;
}

/* Discovery: the table, then gossip, then the bootstrap servers */

static void
discover_bootstrap_done(void *arg, const struct cm_bootstrap_peerlist *l)
{
	struct op *o = arg;

	ctl_op_finish(o, l != NULL ? bootstrap_infos(l, CM_SOURCE_BOOTSTRAP, ctl_op_elapsed(o), NULL)
			       : ctl_no_infos());
}

static void
discover_fallback(struct op *o)
{
	struct ctl *c = o->c;

	if (c->ops->bootstrap_discover(c->ctx, &o->repos, discover_bootstrap_done, o) == 0)
		return;
	ctl_op_finish(o, ctl_no_infos());
}

static void
discover_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct op *o = arg;
	struct cm_strlist emails = {0};
	json_t *arr;

	(void)fd;
	(void)what;
	o->c->ops->gossip_take(o->c->ctx, o->request_id, &emails);
	arr = emails.len > 0 ? ctl_table_infos(o->c, &o->repos, CM_SOURCE_GOSSIP, ctl_op_elapsed(o), &emails)
			     : NULL;
	cm_strlist_clear(&emails);
	if (arr != NULL && json_array_size(arr) > 0) {
		ctl_op_finish(o, arr);
		return;
	}
	json_decref(arr);
	discover_fallback(o);
}

/* Splits a comma-separated query value into repository names. Returns 0 or -1. */
static int
split_repos(const char *v, struct cm_strlist *out)
{
	char *copy = strdup(v != NULL ? v : ""), *save = NULL;

	if (copy == NULL)
		return -1;
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (!cm_valid_repo_name(tok, strlen(tok)) || out->len >= CM_MAX_REPOSITORIES ||
		    cm_strlist_append(out, tok) != 0) {
			free(copy);
			return -1;
		}
	}
	free(copy);
	return 0;
}

static void
api_discover(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
	     const char *path_rest)
{
	struct op *o;
	json_t *arr;

	(void)path_rest;
	if (ctl_ops_full(c, req))
		return;
	if ((o = ctl_op_new(c, req)) == NULL) {
		ctl_reply_error(req, 500, "out of memory", "internal");
		return;
	}
	if (split_repos(evhttp_find_header(q, "repositories"), &o->repos) != 0 || o->repos.len == 0) {
		ctl_op_free(o);
		ctl_reply_error(req, 400, "repositories: a comma-separated list of repository names",
			    "bad_query");
		return;
	}
	arr = ctl_table_infos(c, &o->repos, CM_SOURCE_TABLE, ctl_op_elapsed(o), NULL);
	if (arr != NULL && json_array_size(arr) > 0) {
		ctl_op_finish(o, arr);
		return;
	}
	json_decref(arr);
	if (c->ops->gossip_ask(c->ctx, &o->repos, DISCOVER_ASK, o->request_id) > 0) {
		o->timer = evtimer_new(c->base, discover_wait_cb, o);
		if (o->timer != NULL) {
			struct timeval tv = {DISCOVER_WAIT_MS / 1000, (DISCOVER_WAIT_MS % 1000) * 1000};

			evtimer_add(o->timer, &tv);
			return;
		}
	}
	discover_fallback(o);
}

/* Lookup: the table, then a bootstrap listing, then the legacy relay */

static void
lookup_relay_done(void *arg, const struct cm_bootstrap_peerlist *l)
{
	struct op *o = arg;

	ctl_op_finish(o, l != NULL ? bootstrap_infos(l, CM_SOURCE_RELAY, ctl_op_elapsed(o), o->email)
			       : ctl_no_infos());
}

static void
lookup_bootstrap_done(void *arg, const struct cm_bootstrap_peerlist *l)
{
	struct op *o = arg;
	struct ctl *c = o->c;

	if (l != NULL) {
		json_t *arr = bootstrap_infos(l, CM_SOURCE_BOOTSTRAP, ctl_op_elapsed(o), o->email);

		if (arr == NULL || json_array_size(arr) > 0) {
			ctl_op_finish(o, arr);
			return;
		}
		json_decref(arr);
	}
	/* The seed's migration path: gossip first, the legacy relay last. */
	if (c->ops->relay_lookup(c->ctx, o->email, lookup_relay_done, o) != 0)
		ctl_op_finish(o, ctl_no_infos());
}

/* The table's entry for email as a PeerInfo array of one. */
static json_t *
table_info_one(struct ctl *c, const struct peertable_entry *e)
{
	struct cm_peer_info info;
	struct cm_peer_infolist list = {&info, 0};
	json_t *arr;

	if (peertable_entry_info(c->cfg.table, e, ctl_now_ms(), &info) == 0) {
		info.source = CM_SOURCE_TABLE;
		info.found_in_ms = 0;
		ctl_info_via(c, &info);
		list.len = 1;
	}
	arr = cm_peer_infolist_encode(&list);
	if (list.len == 1)
		cm_peer_info_clear(&info);
	return arr;
}

static void
api_lookup(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q, const char *path_rest)
{
	const char *email = evhttp_find_header(q, "email");
	const struct peertable_entry *e;
	struct op *o;

	(void)path_rest;
	if (email == NULL || !cm_valid_email(email, strlen(email))) {
		ctl_reply_error(req, 400, "email: a valid email address is required", "bad_query");
		return;
	}
	if ((e = peertable_get(c->cfg.table, email)) != NULL) {
		ctl_reply_json(req, 200, table_info_one(c, e));
		return;
	}
	if (!c->cfg.has_bootstrap) {
		ctl_reply_json(req, 200, ctl_no_infos());
		return;
	}
	if (ctl_ops_full(c, req))
		return;
	if ((o = ctl_op_new(c, req)) == NULL || (o->email = strdup(email)) == NULL ||
	    c->ops->bootstrap_peers(c->ctx, lookup_bootstrap_done, o) != 0) {
		if (o != NULL)
			ctl_op_free(o);
		ctl_reply_error(req, 500, "cannot ask the bootstrap servers", "internal");
	}
}

/* The other routes */

static void
api_status(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q, const char *path_rest)
{
	(void)path_rest;
	(void)q;
	ctl_reply_json(req, 200, status_json(c));
}

static void
api_peers(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q, const char *path_rest)
{
	struct cm_strlist repos = {0};
	const char *r = evhttp_find_header(q, "repository");

	(void)path_rest;
	if (r != NULL && !cm_valid_repo_name(r, strlen(r)))
		ctl_reply_error(req, 400, "repository: not a valid repository name", "bad_query");
	else if (r != NULL && cm_strlist_append(&repos, r) != 0)
		ctl_reply_error(req, 500, "out of memory", "internal");
	else
		ctl_reply_json(req, 200, ctl_table_infos(c, &repos, CM_SOURCE_NONE, 0, NULL));
	cm_strlist_clear(&repos);
}

static void
api_broadcast_on(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
		 const char *path_rest)
{
	struct cm_err err = {0};
	struct cm_broadcast_request br = {0};
	bool failed = false;
	json_t *j = ctl_body_json(req, &failed);
	int rc = 0;

	(void)path_rest;
	(void)q;
	if (failed)
		return;
	/* An empty body names no repositories: broadcast what we host. */
	if (j != NULL)
		rc = cm_broadcast_request_decode(j, &br, &err);
	json_decref(j);
	if (rc != 0) {
		ctl_reply_error(req, 400, err.msg, "bad_body");
		return;
	}
	rc = c->ops->broadcast_on(c->ctx, br.has_repositories ? &br.repositories : NULL);
	cm_broadcast_request_clear(&br);
	if (rc != 0) {
		ctl_reply_error(req, 409, "broadcasting needs [gossip] listen in agent.ini",
			    "no_listener");
		return;
	}
	ctl_reply_json(req, 200, status_json(c));
}

static void
api_broadcast_off(struct ctl *c, struct evhttp_request *req, struct evkeyvalq *q,
		  const char *path_rest)
{
	(void)path_rest;
	(void)q;
	c->ops->broadcast_off(c->ctx);
	ctl_reply_json(req, 200, status_json(c));
}

struct route {
	enum evhttp_cmd_type method;
	const char *method_name; /* for Allow */
	const char *path;        /* ending in '/': that prefix and a rest (an info hash) */
	handler_fn fn;
};

/* Exact paths before the prefixes that would also match them. */
static const struct route routes[] = {
	{EVHTTP_REQ_GET, "GET", "/api/v1/status", api_status},
	{EVHTTP_REQ_GET, "GET", "/api/v1/peers", api_peers},
	{EVHTTP_REQ_GET, "GET", "/api/v1/discover", api_discover},
	{EVHTTP_REQ_GET, "GET", "/api/v1/lookup", api_lookup},
	{EVHTTP_REQ_POST, "POST", "/api/v1/broadcast", api_broadcast_on},
	{EVHTTP_REQ_DELETE, "DELETE", "/api/v1/broadcast", api_broadcast_off},
	{EVHTTP_REQ_GET, "GET", "/api/v1/torrents", ctl_api_torrents},
	{EVHTTP_REQ_POST, "POST", "/api/v1/torrents", ctl_api_torrent_add},
	{EVHTTP_REQ_GET, "GET", "/api/v1/torrents/search", ctl_api_torrent_search},
	{EVHTTP_REQ_GET, "GET", "/api/v1/torrents/", ctl_api_torrent_get},
	{EVHTTP_REQ_DELETE, "DELETE", "/api/v1/torrents/", ctl_api_torrent_remove},
	{EVHTTP_REQ_GET, "GET", "/api/v1/relay", ctl_api_relay},
	{EVHTTP_REQ_GET, "GET", "/api/v1/metrics", ctl_api_metrics},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Whether route r serves path; *rest gets what follows a prefix route ("" for exact ones). */
static bool
route_matches(const struct route *r, const char *path, const char **rest)
{
	size_t n = strlen(r->path);

	if (r->path[n - 1] != '/') {
		*rest = "";
		return strcmp(r->path, path) == 0;
	}
	/* A prefix route needs a rest of one segment: "/api/v1/torrents/<hash>". */
	if (strncmp(r->path, path, n) != 0 || path[n] == '\0' || strchr(path + n, '/') != NULL)
		return false;
	*rest = path + n;
	return true;
}

/* Constant time, so the token cannot be guessed byte by byte. */
static bool
token_ok(const struct ctl *c, const char *header)
{
	size_t n = strlen(c->token), m;
	unsigned char diff = 0;

	if (header == NULL || strncmp(header, "Bearer ", 7) != 0)
		return false;
	header += 7;
	m = strlen(header);
	if (m != n)
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(header[i] ^ c->token[i]);
	return diff == 0;
}

/* A known path asked with another method: 405 with the methods it has. */
static bool
reply_not_allowed(struct evhttp_request *req, const char *path)
{
	char allow[64] = "";
	size_t at = 0;
	int n;

	for (size_t i = 0; i < NROUTES; i++) {
		const char *rest;

		if (!route_matches(&routes[i], path, &rest))
			continue;
		n = snprintf(allow + at, sizeof(allow) - at, "%s%s", at > 0 ? ", " : "",
			     routes[i].method_name);
		if (n < 0 || (size_t)n >= sizeof(allow) - at)
			break; /* the route table names a few short methods: never in practice */
		at += (size_t)n;
	}
	if (at == 0)
		return false;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	ctl_reply_error(req, 405, "method not allowed", "method_not_allowed");
	return true;
}

static void
api_cb(struct evhttp_request *req, void *arg)
{
	struct ctl *c = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct evkeyvalq q;
	const char *rest = "";
	size_t i;

	ctl_ui_add_security_headers(req);
	/* Before anything else: a page of another site, its name rebound to 127.0.0.1, stops here. */
	if (!ctl_ui_host_ok(evhttp_find_header(evhttp_request_get_input_headers(req), "Host"),
			    c->host, c->cfg.port)) {
		ctl_reply_error(req, 421, "the Host header must name this API's own address and port",
			    "wrong_host");
		return;
	}
	if (path == NULL)
		path = "";
	/* The page's files hold no data: no token, so the page can load and then ask for one. */
	if (strncmp(path, "/api/", 5) != 0 && strcmp(path, "/api") != 0) {
		const struct cm_embedded *f = ctl_ui_file(path);

		if (f == NULL) {
			ctl_reply_error(req, 404, "no such page", "not_found");
		} else if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD) {
			ctl_ui_serve(req, f);
		} else {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
			ctl_reply_error(req, 405, "method not allowed", "method_not_allowed");
		}
		return;
	}
	if (!token_ok(c, evhttp_find_header(evhttp_request_get_input_headers(req),
					    "Authorization"))) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer");
		ctl_reply_error(req, 401, "a valid Bearer token (DIR/api.token) is required",
			    "unauthorized");
		return;
	}
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		ctl_reply_error(req, 400, "malformed query string", "bad_query");
		return;
	}
	for (i = 0; i < NROUTES; i++)
		if (routes[i].method == m && route_matches(&routes[i], path, &rest))
			break;
	if (i < NROUTES)
		routes[i].fn(c, req, &q, rest);
	else if (!reply_not_allowed(req, path))
		ctl_reply_error(req, 404, "no such endpoint", "not_found");
	evhttp_clear_headers(&q);
}

struct ctl *
ctl_new(struct event_base *base, const struct ctl_config *cfg, const struct ctl_ops *ops,
	void *ctx)
{
	struct ctl *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->token = strdup(cfg->token)) == NULL ||
	    (c->host = strdup(cfg->host)) == NULL) {
		if (c != NULL)
			free(c->token);
		free(c);
		return NULL;
	}
	c->cfg = *cfg;
	c->cfg.token = c->token;
	c->cfg.host = c->host;
	c->ops = ops;
	c->ctx = ctx;
	c->base = base;
	c->http = evhttp_new(base);
	if (c->http == NULL || evhttp_bind_socket(c->http, cfg->host, (uint16_t)cfg->port) != 0) {
		log_errx("control API: cannot listen on %s port %d: %s", cfg->host, cfg->port,
			 strerror(errno));
		ctl_free(c);
		return NULL;
	}
	evhttp_set_max_body_size(c->http, CM_MAX_BODY);
	evhttp_set_max_headers_size(c->http, 16 * 1024);
	evhttp_set_timeout(c->http, 30);
	/* Every method reaches api_cb, so a wrong one gets a JSON 405 with Allow. */
	evhttp_set_allowed_methods(c->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
						    EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(c->http, api_cb, c);
	return c;
}

void
ctl_free(struct ctl *c)
{
	if (c == NULL)
		return;
	while (c->ops_pending != NULL) {
		struct evhttp_request *req = c->ops_pending->req;

		ctl_op_free(c->ops_pending);
		if (req != NULL)
			ctl_reply_error(req, 503, "shutting down", "unavailable");
	}
	if (c->http != NULL)
		evhttp_free(c->http);
	free(c->token);
	free(c->host);
	free(c);
}
