/*
 * routes.c - the bootstrap REST API: dispatch, authentication and the
 * endpoint handlers. Every rejection is a JSON error and is decided before
 * anything is written to the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fb/codec.h"
#include "fb/digest.h"
#include "fb/log.h"
#include "fb/timeutil.h"
#include "fb/random.h"
#include "fb/validate.h"
#include "server.h"

#define DEFAULT_LIST_LIMIT 50
#define REGISTER_SAMPLE 20

typedef void (*handler_fn)(struct bs_server *, struct bs_request *, struct bs_reply *);

/*
 * CERT_SELF: like CERT, but the handler checks the pin inside its own
 * statement (one round trip fewer on the busiest route).
 */
enum access { OPEN, CERT, CERT_SELF, ADMIN };

struct route {
	const char *method;
	const char *path; /* ending in '/': a prefix, the rest is a parameter */
	handler_fn fn;
	enum access access;
	const char *label; /* metrics */
};

/* Maps a store result onto the reply: 0 for BS_STORE_OK, else -1 with the error reply set. */
static int
store_result(struct bs_server *s, int rc, struct bs_reply *rep, const char *not_found)
{
	switch (rc) {
	case BS_STORE_OK:
		return 0;
	case BS_STORE_NOT_FOUND:
		bs_reply_error(rep, 404, "not_found", "%s", not_found);
		return -1;
	case BS_STORE_PIN_MISMATCH:
		bs_reply_error(rep, 403, "certificate_mismatch",
			       "this email is pinned to another certificate");
		return -1;
	case BS_STORE_UNAVAILABLE:
		bs_metrics_db_error(&s->metrics);
		bs_reply_error(rep, 503, "db_unavailable", "database unavailable, retry later");
		rep->retry_after_s = 5;
		return -1;
	default:
		bs_metrics_db_error(&s->metrics);
		bs_reply_error(rep, 500, "db_error", "database error");
		return -1;
	}
}

/* Parses the body as JSON; on failure sets a 400 reply and returns NULL. */
static json_t *
body_json(struct bs_request *req, struct bs_reply *rep)
{
	struct cm_err err;
	json_t *j;

	if (req->body == NULL) {
		bs_reply_error(rep, 400, "bad_request", "a JSON body is required");
		return NULL;
	}
	if ((j = cm_json_parse(req->body, req->body_len, CM_MAX_BODY, &err)) == NULL)
		bs_reply_error(rep, 400, "bad_request", "%s", err.msg);
	return j;
}

/* The body or query email must be the certificate's own: 0, or -1 with a 403 set. */
static int
check_callers_email(struct bs_request *req, const char *email, struct bs_reply *rep)
{
	if (req->cert_email != NULL && strcmp(req->cert_email, email) == 0)
		return 0;
	bs_reply_error(rep, 403, "email_mismatch",
		       "email does not match the client certificate (%s)",
		       req->cert_email != NULL ? req->cert_email : "no email in certificate");
	return -1;
}

/* A query parameter, or NULL (MHD bounds it by the connection's memory). */
static const char *
query_arg(struct bs_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* Reads ?limit= (default DEFAULT_LIST_LIMIT, at most max) into *out: 0, or -1 with a 400 set. */
static int
query_limit(struct bs_request *req, int64_t max, int64_t *out, struct bs_reply *rep)
{
	const char *v = query_arg(req, "limit");
	char *end;
	long long n;

	*out = DEFAULT_LIST_LIMIT < max ? DEFAULT_LIST_LIMIT : max;
	if (v == NULL)
		return 0;
	n = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < 1 || n > max) {
		bs_reply_error(rep, 400, "bad_request", "limit: expected an integer in 1..%lld",
			       (long long)max);
		return -1;
	}
	*out = n;
	return 0;
}

static bool
in_list(char **list, size_t len, const char *fingerprint)
{
	for (size_t i = 0; i < len; i++)
		if (strcmp(list[i], fingerprint) == 0)
			return true;
	return false;
}

/*
 * The whitelist is on when --whitelist is given or the table has entries;
 * then a fingerprint must be in the file or the table. Returns a store code.
 */
static int
check_whitelist(struct bs_server *s, const char *fingerprint, bool *allowed)
{
	int64_t entries = 0;
	bool listed = false;
	int rc;

	*allowed = in_list(s->whitelist, s->whitelist_len, fingerprint);
	if (*allowed)
		return BS_STORE_OK;
	rc = bs_store_whitelist_check(bs_server_store(s), fingerprint, &entries, &listed);
	*allowed = listed || (s->whitelist == NULL && entries == 0);
	return rc;
}

static void
reply_peers(struct bs_reply *rep, struct cm_bootstrap_peerlist *l)
{
	rep->status = 200;
	rep->json = cm_bootstrap_peerlist_encode(l);
	cm_bootstrap_peerlist_clear(l);
}

static void
do_register(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	struct cm_register_request r;
	struct cm_register_response resp = {0};
	char peer_id[CM_UUID_TEXT_LEN + 1], *sample = NULL;
	struct cm_err err;
	size_t len;
	json_t *j;
	int rc;

	if ((j = body_json(req, rep)) == NULL)
		return;
	rc = cm_register_request_decode(j, &r, &err);
	json_decref(j);
	if (rc != 0) {
		bs_reply_error(rep, 400, "bad_request", "%s", err.msg);
		return;
	}
	if (check_callers_email(req, r.email, rep) != 0)
		goto end;
	if (r.is_broadcasting && r.socket_addresses.len == 0) {
		bs_reply_error(rep, 400, "bad_request",
			       "socket_addresses: a broadcasting registration needs an address");
		goto end;
	}
	if (r.is_broadcasting) {
		bool allowed;
		if (store_result(s, check_whitelist(s, req->fingerprint, &allowed), rep, "") != 0)
			goto end;
		if (!allowed) {
			bs_reply_error(rep, 403, "not_whitelisted", "Not whitelisted as bootstrap node");
			goto end;
		}
	}
	if (r.peer_id != NULL)
		snprintf(peer_id, sizeof(peer_id), "%s", r.peer_id);
	else
		cm_uuid_generate(peer_id);
	rc = bs_store_register(bs_server_store(s), &r, peer_id, req->fingerprint,
			       cm_cert_pem(req->cert), &s->timing, &resp.expires_at_ms);
	if (store_result(s, rc, rep, "") != 0)
		goto end;
	/* Pinning mode: the first successful registration pins the certificate. */
	if (s->cfg->client_ca_file == NULL)
		bs_store_check_pin(bs_server_store(s), r.email, req->fingerprint, true);
	rc = bs_store_list_online_json(bs_server_store(s), r.email, NULL, false, REGISTER_SAMPLE,
				       &s->timing, &sample);
	if (rc != BS_STORE_OK)
		log_warnx("%s: no bootstrap sample for %s (store %d)", __func__, r.email, rc);
	rep->status = 200;
	resp.peer_id = peer_id;
	resp.heartbeat_interval_s = s->cfg->heartbeat_interval_s;
	/* The sample PostgreSQL built (bs_store_list_online_json) goes in as it is. */
	rep->text = cm_register_response_text(&resp, sample != NULL ? sample : "[]", &len);
	resp.peer_id = NULL;
	if (rep->text == NULL)
		rep->status = 500;
	free(sample);
	log_info("%s: %s registered (%s, %zu repositories)", __func__, r.email,
		 r.is_broadcasting ? "broadcasting" : "silent", r.repositories.len);
	cm_register_response_clear(&resp);
end:
	cm_register_request_clear(&r);
}

static void
do_legacy_ready(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	rep->deprecation = true;
	do_register(s, req, rep);
}

/* Checks the request and hands the update to the batcher (bs_route_heartbeat_done answers). */
static void
do_heartbeat(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	struct cm_heartbeat_request h;
	struct cm_err err;
	json_t *j;
	int rc;

	if ((j = body_json(req, rep)) == NULL)
		return;
	rc = cm_heartbeat_request_decode(j, &h, &err);
	json_decref(j);
	if (rc != 0) {
		bs_reply_error(rep, 400, "bad_request", "%s", err.msg);
		return;
	}
	/* Pinning mode: the statement itself requires the registering certificate. */
	if (check_callers_email(req, h.email, rep) == 0) {
		if (bs_batcher_job_set(req->job, h.email,
				       s->cfg->client_ca_file == NULL ? req->fingerprint : NULL) == 0)
			rep->deferred = true;
		else
			bs_reply_error(rep, 500, "internal", "cannot queue the heartbeat");
	}
	cm_heartbeat_request_clear(&h);
}

void
bs_route_heartbeat_done(struct bs_server *s, const struct bs_store_heartbeat *hb,
			struct bs_reply *rep)
{
	int rc = hb->rc;

	rep->route = "heartbeat";
	/* No row took it: another certificate holds the email's pin, or nothing is registered. */
	if (rc == BS_STORE_NOT_FOUND && hb->fingerprint != NULL) {
		int pin = bs_store_check_pin(bs_server_store(s), hb->email, hb->fingerprint, false);

		if (pin != BS_STORE_OK)
			rc = pin;
	}
	if (store_result(s, rc, rep, "no live registration for this email") == 0) {
		rep->status = 200;
		rep->json = cm_status_encode("ok", hb->expires_at_ms);
	}
}

/* Reads and checks ?email=; sets a 400 and returns NULL when missing or invalid. */
static const char *
query_email(struct bs_request *req, struct bs_reply *rep)
{
	const char *email = query_arg(req, "email");

	if (email == NULL || !cm_valid_email(email, strlen(email))) {
		bs_reply_error(rep, 400, "bad_request", "email: a valid ?email= is required");
		return NULL;
	}
	return email;
}

static void
do_unregister(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	const char *email = query_email(req, rep);
	int rc;

	if (email == NULL || check_callers_email(req, email, rep) != 0)
		return;
	rc = bs_store_unregister(bs_server_store(s), email);
	if (store_result(s, rc, rep, "no registration for this email") != 0)
		return;
	log_info("%s: %s unregistered", __func__, email);
	rep->status = 200;
	rep->json = cm_status_encode("unregistered", -1);
}

static void
do_peers(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	struct cm_bootstrap_peerlist l;
	int64_t limit;
	int rc;

	if (query_limit(req, CM_MAX_BOOTSTRAP_PEERS, &limit, rep) != 0)
		return;
	rc = bs_store_list_online(bs_server_store(s), req->cert_email, NULL, false, limit,
				  &s->timing, &l);
	if (store_result(s, rc, rep, "") == 0)
		reply_peers(rep, &l);
}

/* Splits ?repositories=a,b into names, each checked: 0, or -1 with a 400 set. */
static int
query_repositories(struct bs_request *req, struct cm_strlist *out, struct bs_reply *rep)
{
	const char *v = query_arg(req, "repositories");
	const char *p, *comma;

	memset(out, 0, sizeof(*out));
	if (v == NULL || *v == '\0') {
		bs_reply_error(rep, 400, "bad_request", "repositories: ?repositories=a,b is required");
		return -1;
	}
	for (p = v;; p = comma + 1) {
		size_t len;
		char name[CM_MAX_REPO_NAME + 1];
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (!cm_valid_repo_name(p, len) || out->len >= CM_MAX_REPOSITORIES) {
			bs_reply_error(rep, 400, "bad_request",
				       "repositories[%zu]: not a valid repository name, or more than "
				       "%d names",
				       out->len, CM_MAX_REPOSITORIES);
			cm_strlist_clear(out);
			return -1;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		cm_strlist_append(out, name);
		if (comma == NULL)
			return 0;
	}
}

static void
do_discover(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	struct cm_strlist repos;
	int64_t limit;
	int rc;

	if (query_limit(req, CM_MAX_BOOTSTRAP_PEERS, &limit, rep) != 0 ||
	    query_repositories(req, &repos, rep) != 0)
		return;
	rc = bs_store_list_online_json(bs_server_store(s), NULL, &repos, true, limit, &s->timing,
				       &rep->text);
	cm_strlist_clear(&repos);
	if (store_result(s, rc, rep, "") == 0)
		rep->status = 200;
}

/*
 * Feedback counts from registered peers only (older than feedback_min_age_s,
 * with the certificate they registered), once per reporter and peer per
 * window, feedback_per_ip per window from one address; a report is its
 * address's vote, the mean follows the votes' median, and whatever arrives,
 * a peer's score moves a bounded amount per window (bs_store_feedback).
 */
static void
do_feedback(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	const struct bs_feedback_policy policy = {s->cfg->feedback_min_age_s,
						  s->cfg->feedback_window_s,
						  s->cfg->feedback_vote_age_s};
	struct cm_feedback_request f;
	struct cm_err err;
	char pair[2 * CM_MAX_EMAIL + 2], key[CM_FINGERPRINT_LEN + 1], voter[BS_ADDR_KEY_LEN];
	int64_t retry_ms = 0;
	bool clamped = false;
	json_t *j;
	int rc;

	if ((j = body_json(req, rep)) == NULL)
		return;
	rc = cm_feedback_request_decode(j, &f, &err);
	json_decref(j);
	if (rc != 0) {
		bs_reply_error(rep, 400, "bad_request", "%s", err.msg);
		return;
	}
	if (req->cert_email == NULL || strcmp(req->cert_email, f.email) == 0) {
		bs_reply_error(rep, 400, "bad_request", "email: feedback is about another peer");
		goto end;
	}
	if (!bs_ratelimit_take(s->feedback_ip, req->addr, cm_time_mono_ms(), &retry_ms)) {
		bs_server_refused(s, BS_REFUSE_FEEDBACK_PER_IP,
				  "feedback refused from %s: over %lld reports per %lld s from that "
				  "address (feedback-per-ip)",
				  req->addr, (long long)s->cfg->feedback_per_ip,
				  (long long)s->cfg->feedback_window_s);
		bs_reply_error(rep, 429, "feedback_throttled", "too many reports from your address");
		rep->retry_after_s = (int)((retry_ms + 999) / 1000);
		goto end;
	}
	/* One sample per reporter and target per window (per replica). */
	snprintf(pair, sizeof(pair), "%s\n%s", req->cert_email, f.email);
	if (cm_sha256_hex(pair, strlen(pair), key) != 0) {
		bs_reply_error(rep, 500, "internal", "cannot hash the feedback pair");
		goto end;
	}
	if (!bs_ratelimit_take(s->feedback_throttle, key, cm_time_mono_ms(), &retry_ms)) {
		bs_server_refused(s, BS_REFUSE_FEEDBACK_PAIR,
				  "feedback refused from %s about %s: one report per %lld s "
				  "(feedback-window)",
				  req->cert_email, f.email, (long long)s->cfg->feedback_window_s);
		bs_reply_error(rep, 429, "feedback_throttled",
			       "one feedback sample per peer per %lld s",
			       (long long)s->cfg->feedback_window_s);
		rep->retry_after_s = (int)((retry_ms + 999) / 1000);
		goto end;
	}
	/* One vote per IPv4 address or IPv6 /48, however many certificates report from it. */
	bs_addr_net_key(req->addr, voter);
	rc = bs_store_feedback(bs_server_store(s), req->cert_email, req->fingerprint, voter,
			       f.email, f.latency_ms, &policy, &clamped);
	if (rc == BS_STORE_NOT_ELIGIBLE) {
		bs_server_refused(s, BS_REFUSE_FEEDBACK_REPORTER,
				  "feedback refused from %s (%s): not registered with this "
				  "certificate for %lld s (feedback-min-age)",
				  req->cert_email, req->addr, (long long)s->cfg->feedback_min_age_s);
		bs_reply_error(rep, 403, "reporter_not_eligible",
			       "feedback counts from peers registered with this certificate for at "
			       "least %lld s",
			       (long long)s->cfg->feedback_min_age_s);
		goto end;
	}
	if (store_result(s, rc, rep, "no live registration for this email") == 0) {
		if (clamped)
			bs_server_refused(s, BS_REFUSE_FEEDBACK_CLAMPED,
					  "feedback about %s at its bound: a score moves at most "
					  "4.2 points per %lld s (feedback-window)",
					  f.email, (long long)s->cfg->feedback_window_s);
		rep->status = 200;
		rep->json = cm_status_encode("ok", -1);
	}
end:
	cm_feedback_request_clear(&f);
}

static void
do_legacy_lookup(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	struct cm_bootstrap_peer p;
	const char *email = query_email(req, rep);
	int rc;

	rep->deprecation = true;
	if (email == NULL)
		return;
	rc = bs_store_lookup(bs_server_store(s), email, &p);
	if (store_result(s, rc, rep, "no registration for this email") != 0)
		return;
	rep->status = 200;
	rep->json = cm_bootstrap_peer_encode(&p);
	cm_bootstrap_peer_clear(&p);
}

static void
do_legacy_list(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	struct cm_bootstrap_peerlist l;
	int rc;

	(void)req;
	rep->deprecation = true;
	rc = bs_store_list_online(bs_server_store(s), NULL, NULL, false, CM_MAX_BOOTSTRAP_PEERS,
				  &s->timing, &l);
	if (store_result(s, rc, rep, "") == 0)
		reply_peers(rep, &l);
}

static void
do_healthz(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	(void)s;
	(void)req;
	rep->status = 200;
	rep->json = cm_status_encode("ok", -1);
}

static void
do_readyz(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	(void)req;
	if (store_result(s, bs_store_ping(bs_server_store(s)), rep, "") == 0) {
		rep->status = 200;
		rep->json = cm_status_encode("ready", -1);
	}
}

static void
do_metrics(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	int64_t online = -1, stale = -1;

	(void)req;
	if (bs_store_count(bs_server_store(s), &s->timing, &online, &stale) != BS_STORE_OK)
		online = stale = -1;
	rep->text = bs_metrics_render(&s->metrics, online, stale);
	rep->status = rep->text != NULL ? 200 : 500;
	rep->content_type = "text/plain; version=0.0.4";
}

static void
do_admin_registrations(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	struct cm_admin_registrationlist l;
	int rc;

	(void)req;
	rc = bs_store_admin_list(bs_server_store(s), &s->timing, &l);
	if (store_result(s, rc, rep, "") != 0)
		return;
	rep->status = 200;
	rep->json = cm_admin_registrationlist_encode(&l);
	cm_admin_registrationlist_clear(&l);
}

static void
do_admin_whitelist_list(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	struct cm_whitelist l;
	int rc;

	(void)req;
	rc = bs_store_whitelist_list(bs_server_store(s), &l);
	if (store_result(s, rc, rep, "") != 0)
		return;
	rep->status = 200;
	rep->json = cm_whitelist_encode(&l);
	cm_whitelist_clear(&l);
}

static void
do_admin_whitelist_add(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	struct cm_whitelist_entry w;
	struct cm_err err;
	json_t *j;
	int rc;

	if ((j = body_json(req, rep)) == NULL)
		return;
	rc = cm_whitelist_entry_decode(j, &w, &err);
	json_decref(j);
	if (rc != 0) {
		bs_reply_error(rep, 400, "bad_request", "%s", err.msg);
		return;
	}
	rc = bs_store_whitelist_add(bs_server_store(s), w.fingerprint, w.note);
	if (store_result(s, rc, rep, "") == 0) {
		log_info("%s: %s whitelisted %s", __func__, req->cert_email, w.fingerprint);
		rep->status = 200;
		rep->json = cm_status_encode("whitelisted", -1);
	}
	cm_whitelist_entry_clear(&w);
}

static void
do_admin_whitelist_remove(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	const char *fp = query_arg(req, "fingerprint");
	int rc;

	if (fp == NULL || !cm_valid_fingerprint(fp, strlen(fp))) {
		bs_reply_error(rep, 400, "bad_request",
			       "fingerprint: ?fingerprint= with 64 lower-case hex digits is required");
		return;
	}
	rc = bs_store_whitelist_remove(bs_server_store(s), fp);
	if (store_result(s, rc, rep, "not on the whitelist") != 0)
		return;
	log_info("%s: %s removed %s from the whitelist", __func__, req->cert_email, fp);
	rep->status = 200;
	rep->json = cm_status_encode("removed", -1);
}

static void
do_admin_pin_reset(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	const char *email = req->path + strlen("/api/admin/pins/");
	int rc;

	if (!cm_valid_email(email, strlen(email))) {
		bs_reply_error(rep, 400, "bad_request", "email: /api/admin/pins/EMAIL");
		return;
	}
	rc = bs_store_pin_reset(bs_server_store(s), email);
	if (store_result(s, rc, rep, "no pin for this email") != 0)
		return;
	log_info("%s: %s reset the pin of %s", __func__, req->cert_email, email);
	rep->status = 200;
	rep->json = cm_status_encode("pin_reset", -1);
}

static const struct route routes[] = {
	{"POST", "/api/bootstrap/register", do_register, CERT, "register"},
	{"POST", "/api/bootstrap/heartbeat", do_heartbeat, CERT_SELF, "heartbeat"},
	{"DELETE", "/api/bootstrap/unregister", do_unregister, CERT, "unregister"},
	{"GET", "/api/bootstrap/peers", do_peers, CERT, "peers"},
	{"GET", "/api/bootstrap/discover", do_discover, CERT, "discover"},
	{"POST", "/api/bootstrap/feedback", do_feedback, CERT, "feedback"},
	{"POST", "/api/relay/broadcast/ready", do_legacy_ready, CERT, "relay_ready"},
	{"GET", "/api/relay/broadcast/lookup", do_legacy_lookup, CERT, "relay_lookup"},
	{"GET", "/api/relay/broadcast/list", do_legacy_list, CERT, "relay_list"},
	{"GET", "/api/admin/registrations", do_admin_registrations, ADMIN, "admin_registrations"},
	{"GET", "/api/admin/whitelist", do_admin_whitelist_list, ADMIN, "admin_whitelist"},
	{"POST", "/api/admin/whitelist", do_admin_whitelist_add, ADMIN, "admin_whitelist"},
	{"DELETE", "/api/admin/whitelist", do_admin_whitelist_remove, ADMIN, "admin_whitelist"},
	{"DELETE", "/api/admin/pins/", do_admin_pin_reset, ADMIN, "admin_pins"},
	{"GET", "/healthz", do_healthz, OPEN, "healthz"},
	{"GET", "/readyz", do_readyz, OPEN, "readyz"},
	{"GET", "/metrics", do_metrics, OPEN, "metrics"},
};

/* Authentication shared by every API route: 0, or -1 with the reply set. */
static int
authenticate(struct bs_server *s, struct bs_request *req, struct bs_reply *rep, bool check_pin)
{
	int64_t retry_ms = 0;

	if (req->cert == NULL) {
		bs_reply_error(rep, 401, "certificate_required", "a client certificate is required");
		return -1;
	}
	if (!req->cert_trusted) {
		bs_reply_error(rep, 403, "certificate_untrusted",
			       "the client certificate does not chain to the configured CA");
		return -1;
	}
	if (!bs_ratelimit_take(s->ratelimit, req->fingerprint, cm_time_mono_ms(), &retry_ms)) {
		bs_server_refused(s, BS_REFUSE_RATE_PER_CERT,
				  "rate limited %s (%s): over %lld requests/s with one certificate "
				  "(rate-limit)",
				  req->cert_email != NULL ? req->cert_email : req->fingerprint, req->addr,
				  (long long)s->cfg->rate_limit);
		bs_reply_error(rep, 429, "rate_limited", "too many requests");
		rep->retry_after_s = (int)((retry_ms + 999) / 1000);
		return -1;
	}
	/* Pinning mode: a pinned email must present its pinned certificate, reads included. */
	if (check_pin && s->cfg->client_ca_file == NULL && req->cert_email != NULL &&
	    store_result(s, bs_store_check_pin(bs_server_store(s), req->cert_email,
					       req->fingerprint, false),
			 rep, "") != 0)
		return -1;
	return 0;
}

/* True when the request carries a JSON Content-Type (parameters such as charset allowed). */
static bool
is_json(const char *content_type)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	return content_type != NULL && strncasecmp(content_type, want, n) == 0 &&
	       (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

static bool
path_matches(const struct route *r, const char *path)
{
	size_t n = strlen(r->path);

	if (r->path[n - 1] == '/')
		return strncmp(r->path, path, n) == 0 && path[n] != '\0';
	return strcmp(r->path, path) == 0;
}

void
bs_route(struct bs_server *s, struct bs_request *req, struct bs_reply *rep)
{
	const struct route *match = NULL, *same_path = NULL;
	char net[BS_ADDR_KEY_LEN];
	size_t allow_len = 0;
	int64_t retry_ms = 0;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!path_matches(&routes[i], req->path))
			continue;
		if (same_path == NULL)
			same_path = &routes[i];
		if (strcmp(routes[i].method, req->method) == 0)
			match = &routes[i];
		allow_len += snprintf(rep->allow_buf + allow_len, sizeof(rep->allow_buf) - allow_len,
				      "%s%s", allow_len ? ", " : "", routes[i].method);
	}
	if (same_path == NULL) {
		rep->route = "not_found";
		bs_reply_error(rep, 404, "not_found", "no such endpoint");
		return;
	}
	rep->route = same_path->label;
	/*
	 * Per address before anything else, open routes included (/metrics and
	 * /readyz ask the database): fresh certificates cost an attacker nothing,
	 * addresses do.
	 */
	if (!bs_ratelimit_take(s->ratelimit_ip, req->addr, cm_time_mono_ms(), &retry_ms)) {
		bs_server_refused(s, BS_REFUSE_RATE_PER_IP,
				  "rate limited %s: over %lld requests/s from that address "
				  "(rate-limit-per-ip)",
				  req->addr, (long long)s->cfg->rate_limit_per_ip);
		bs_reply_error(rep, 429, "rate_limited", "too many requests from your address");
		rep->retry_after_s = (int)((retry_ms + 999) / 1000);
		return;
	}
	/* The /64s of one /48 share a bucket too: a site holds 65,536 of them. */
	bs_addr_net_key(req->addr, net);
	if (strcmp(net, req->addr) != 0 &&
	    !bs_ratelimit_take(s->ratelimit_net, net, cm_time_mono_ms(), &retry_ms)) {
		bs_server_refused(s, BS_REFUSE_RATE_PER_NET,
				  "rate limited %s: over %lld requests/s from %s "
				  "(rate-limit-per-net)",
				  req->addr, (long long)s->cfg->rate_limit_per_net, net);
		bs_reply_error(rep, 429, "rate_limited", "too many requests from your network");
		rep->retry_after_s = (int)((retry_ms + 999) / 1000);
		return;
	}
	if (match == NULL) {
		rep->allow = rep->allow_buf;
		bs_reply_error(rep, 405, "method_not_allowed", "use %s", rep->allow_buf);
		return;
	}
	if (req->body_too_large) {
		bs_reply_error(rep, 413, "body_too_large", "request body larger than %d bytes",
			       CM_MAX_BODY);
		return;
	}
	if (strcmp(match->method, "POST") == 0 && !is_json(req->content_type)) {
		bs_reply_error(rep, 415, "unsupported_media_type",
			       "Content-Type must be application/json");
		return;
	}
	if (match->access != OPEN && authenticate(s, req, rep, match->access != CERT_SELF) != 0)
		return;
	if (match->access == ADMIN && !in_list(s->admins, s->admins_len, req->fingerprint)) {
		bs_reply_error(rep, 403, "not_admin", "this certificate is not an administrator");
		return;
	}
	match->fn(s, req, rep);
}
