/*
 * store.c - registrations in PostgreSQL.
 *
 * Rows come back as JSON built by the database (json_build_object) and go
 * through the common codec, so the server never writes a wire object by hand.
 * Every statement is a single round trip and atomic on its own, except
 * heartbeats, which go out in pipelined batches (bs_store_heartbeats).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "fb/log.h"
#include "migrations.h"
#include "store.h"
#include "sql.h"

/* Advisory lock keys, as SQL literals: one migrator and one sweeper across replicas. */
#define MIGRATE_LOCK_KEY "4722366482869645213"
#define SWEEP_LOCK_KEY "4722366482869645214"
#define CONNECT_TIMEOUT_S "3"
#define STATEMENT_TIMEOUT "SET statement_timeout = '5s'"


/*
 * The hot-path statements are prepared once per connection: planning the
 * discover query took longer than running it.
 */
enum stmt { ST_PIN_READ, ST_PIN_INSERT, ST_REGISTER, ST_HEARTBEAT, ST_HEARTBEAT_PINNED,
	    ST_LIST_SCORED, ST_LIST_SAMPLE, ST_WHITELIST_CHECK, ST_COUNT };

static const struct {
	const char *name;
	const char *sql;
	int nparams;
} stmts[ST_COUNT] = {
	[ST_PIN_READ] = {"pin_read", BS_SQL_PIN_READ, 1},
	[ST_PIN_INSERT] = {"pin_insert", BS_SQL_PIN_INSERT, 2},
	[ST_REGISTER] = {"register", BS_SQL_REGISTER, 11},
	[ST_HEARTBEAT] = {"heartbeat", BS_SQL_HEARTBEAT, 2},
	[ST_HEARTBEAT_PINNED] = {"heartbeat_pinned", BS_SQL_HEARTBEAT_PINNED, 3},
	[ST_LIST_SCORED] = {"list_scored", BS_SQL_LIST_SCORED, 5},
	[ST_LIST_SAMPLE] = {"list_sample", BS_SQL_LIST_SAMPLE, 4},
	[ST_WHITELIST_CHECK] = {"whitelist_check", BS_SQL_WHITELIST_CHECK, 1},
};

struct bs_store {
	char *conninfo;
	PGconn *conn;
	bool prepared[ST_COUNT]; /* on the current connection */
};

struct bs_store *
bs_store_new(const char *conninfo)
{
	struct bs_store *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	if (conninfo != NULL && (st->conninfo = strdup(conninfo)) == NULL) {
		free(st);
		return NULL;
	}
	return st;
}

void
bs_store_free(struct bs_store *st)
{
	if (st == NULL)
		return;
	if (st->conn != NULL)
		PQfinish(st->conn);
	free(st->conninfo);
	free(st);
}

/* Makes sure there is a live connection; reconnects when the last one broke. */
static int
ensure_conn(struct bs_store *st)
{
	const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *vals[] = {st->conninfo, CONNECT_TIMEOUT_S, "bootstrap-server", NULL};
	PGresult *res;

	if (st->conn != NULL && PQstatus(st->conn) == CONNECTION_OK)
		return 0;
	if (st->conn != NULL)
		PQfinish(st->conn);
	/* expand_dbname=1: "dbname" may hold a whole conninfo string or URI; without one, skip it. */
	st->conn = st->conninfo != NULL ? PQconnectdbParams(keys, vals, 1)
					: PQconnectdbParams(keys + 1, vals + 1, 0);
	if (PQstatus(st->conn) != CONNECTION_OK) {
		log_warnx("%s: %s", __func__, PQerrorMessage(st->conn));
		PQfinish(st->conn);
		st->conn = NULL;
		return -1;
	}
	res = PQexec(st->conn, STATEMENT_TIMEOUT);
	PQclear(res);
	memset(st->prepared, 0, sizeof(st->prepared));
	return 0;
}

/* Prepares statement stmt on the current connection unless it is: 0, or -1 (logged). */
static int
prepare(struct bs_store *st, enum stmt stmt)
{
	PGresult *res;

	if (st->prepared[stmt])
		return 0;
	res = PQprepare(st->conn, stmts[stmt].name, stmts[stmt].sql, stmts[stmt].nparams, NULL);
	st->prepared[stmt] = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!st->prepared[stmt])
		log_warnx("%s: %s: %s", __func__, stmts[stmt].name, PQresultErrorMessage(res));
	PQclear(res);
	return st->prepared[stmt] ? 0 : -1;
}

/* Runs sql, or the prepared statement stmt (>= 0) of that text. */
static PGresult *
run(struct bs_store *st, const char *sql, int stmt, int nparams, const char *const *params,
    int *rc)
{
	PGresult *res = NULL;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (ensure_conn(st) != 0) {
			*rc = BS_STORE_UNAVAILABLE;
			return NULL;
		}
		res = stmt >= 0 && prepare(st, (enum stmt)stmt) == 0
			      ? PQexecPrepared(st->conn, stmts[stmt].name, nparams, params, NULL, NULL, 0)
			      : PQexecParams(st->conn, sql, nparams, NULL, params, NULL, NULL, 0);
		ExecStatusType s = PQresultStatus(res);
		if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
			*rc = BS_STORE_OK;
			return res;
		}
		if (PQstatus(st->conn) == CONNECTION_OK) {
			log_warnx("%s: %s", __func__, PQresultErrorMessage(res));
			PQclear(res);
			*rc = BS_STORE_ERROR;
			return NULL;
		}
		PQclear(res);
		res = NULL;
	}
	log_warnx("%s: lost the database connection", __func__);
	*rc = BS_STORE_UNAVAILABLE;
	return NULL;
}

/*
 * Runs one parameterised statement. A connection that died since its last use
 * (a database restart) is re-opened and the statement tried once more; every
 * statement here is safe to repeat. *rc is OK, UNAVAILABLE or ERROR.
 */
static PGresult *
query(struct bs_store *st, const char *sql, int nparams, const char *const *params, int *rc)
{
	return run(st, sql, -1, nparams, params, rc);
}

/* The same for a hot-path statement, prepared on first use on each connection. */
static PGresult *
query_prepared(struct bs_store *st, enum stmt which, const char *const *params, int *rc)
{
	return run(st, stmts[which].sql, (int)which, stmts[which].nparams, params, rc);
}

int
bs_store_ping(struct bs_store *st)
{
	int rc;
	PGresult *res = query(st, "SELECT 1", 0, NULL, &rc);

	PQclear(res);
	return rc;
}

/* Reads column 0 of row 0 as milliseconds. */
static int64_t
cell_ms(PGresult *res)
{
	return strtoll(PQgetvalue(res, 0, 0), NULL, 10);
}

/* Runs a trusted multi-statement text (a migration file, BEGIN, COMMIT) on the live connection. */
static int
exec_script(struct bs_store *st, const char *sql, struct cm_err *err, const char *what)
{
	PGresult *res = PQexec(st->conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		cm_err_set(err, "%s: %s", what, PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

/* Applies one migration and records it, in one transaction. */
static int
apply_migration(struct bs_store *st, const struct cm_embedded *m, struct cm_err *err)
{
	const char *params[1] = {m->name};
	PGresult *res;
	int ok;

	log_info("%s: applying %s", __func__, m->name);
	if (exec_script(st, "BEGIN", err, m->name) != 0)
		return -1;
	if (exec_script(st, m->data, err, m->name) != 0)
		goto rollback;
	res = PQexecParams(st->conn, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, NULL,
			   params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok || exec_script(st, "COMMIT", err, m->name) != 0)
		goto rollback;
	return 0;
rollback:
	PQclear(PQexec(st->conn, "ROLLBACK"));
	if (err != NULL && err->msg[0] == '\0')
		cm_err_set(err, "%s: could not record it", m->name);
	return -1;
}

int
bs_store_migrate(struct bs_store *st, struct cm_err *err)
{
	const char *params[1];
	PGresult *res;
	int rc = 0;

	if (err != NULL)
		err->msg[0] = '\0';
	if (ensure_conn(st) != 0) {
		cm_err_set(err, "database unreachable");
		return -1;
	}
	/* Session lock: replicas may start together; one migrates while the others wait. */
	if (exec_script(st, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, "lock") != 0 ||
	    exec_script(st,
			"CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, "
			"applied_at timestamptz NOT NULL DEFAULT now())",
			err, "schema_migrations") != 0)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < bs_migrations_count; i++) {
		params[0] = bs_migrations[i].name;
		res = PQexecParams(st->conn, "SELECT 1 FROM schema_migrations WHERE name = $1", 1,
				   NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			cm_err_set(err, "schema_migrations: %s", PQresultErrorMessage(res));
			rc = -1;
		} else if (PQntuples(res) == 0) {
			rc = apply_migration(st, &bs_migrations[i], err);
		}
		PQclear(res);
	}
	PQclear(PQexec(st->conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
	return rc;
}

int
bs_store_check_pin(struct bs_store *st, const char *email, const char *fingerprint, bool pin)
{
	const char *params[2] = {email, fingerprint};
	PGresult *res;
	int rc;

	/* Insert-if-absent, then read whichever pin won: two replicas racing agree. */
	res = query_prepared(st, pin ? ST_PIN_INSERT : ST_PIN_READ, params, &rc);
	if (rc != BS_STORE_OK)
		return rc;
	if (PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), fingerprint) != 0)
		rc = BS_STORE_PIN_MISMATCH;
	PQclear(res);
	return rc;
}

/* Text form of a PostgreSQL array of the list's strings: {"a","b"} with quoting. */
static char *
pg_text_array(const struct cm_strlist *l)
{
	size_t cap = 3;
	char *out, *p;

	for (size_t i = 0; i < l->len; i++)
		cap += 2 * strlen(l->items[i]) + 3;
	if ((out = malloc(cap)) == NULL)
		return NULL;
	p = out;
	*p++ = '{';
	for (size_t i = 0; i < l->len; i++) {
		if (i > 0)
			*p++ = ',';
		*p++ = '"';
		for (const char *s = l->items[i]; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				*p++ = '\\';
			*p++ = *s;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

int
bs_store_register(struct bs_store *st, const struct cm_register_request *req, const char *peer_id,
		  const char *fingerprint, const char *cert_pem, const struct bs_store_timing *t,
		  int64_t *expires_at_ms)
{
	struct cm_strlist names = {0};
	char ttl[24], port[16], *addrs = NULL, *repos = NULL, *caps = NULL, *name_arr = NULL;
	json_t *j;
	PGresult *res = NULL;
	int rc = BS_STORE_ERROR;

	for (size_t i = 0; i < req->repositories.len; i++)
		if (cm_strlist_append(&names, req->repositories.items[i].name) != 0)
			goto end;
	j = json_array();
	for (size_t i = 0; j != NULL && i < req->repositories.len; i++)
		json_array_append_new(j, cm_repository_encode(&req->repositories.items[i]));
	repos = cm_json_dump_take(j, NULL);
	if (req->has_capabilities) {
		caps = cm_json_dump_take(cm_capabilities_encode(&req->capabilities), NULL);
		if (caps == NULL)
			goto end;
	}
	addrs = pg_text_array(&req->socket_addresses);
	name_arr = pg_text_array(&names);
	if (repos == NULL || addrs == NULL || name_arr == NULL)
		goto end;
	snprintf(ttl, sizeof(ttl), "%lld", (long long)t->ttl_s);
	snprintf(port, sizeof(port), "%d", req->port);
	const char *params[] = {req->email,
				peer_id,
				fingerprint,
				cert_pem,
				req->is_broadcasting ? "t" : "f",
				addrs,
				req->port != 0 ? port : NULL,
				repos,
				caps,
				ttl,
				name_arr};
	res = query_prepared(st, ST_REGISTER, params, &rc);
	if (rc == BS_STORE_OK)
		*expires_at_ms = cell_ms(res);
end:
	PQclear(res);
	cm_strlist_clear(&names);
	free(addrs);
	free(repos);
	free(caps);
	free(name_arr);
	return rc;
}

/*
 * Sends the heartbeats hb[0..n) and one Sync, then reads every answer: the
 * database runs them back to back as one implicit transaction and commits
 * once, instead of waking up for each. Returns OK (every hb[i].rc set; the
 * commit is confirmed), ERROR (a statement failed, so all were rolled back)
 * or UNAVAILABLE (the connection broke: whether it committed is unknown).
 * On ERROR, *retry_alone says whether running each alone may fare better.
 * n is small (a batch), so blocking mode cannot fill both socket buffers.
 */
static int
pipeline_heartbeats(struct bs_store *st, struct bs_store_heartbeat **hb, size_t n, const char *ttl,
		    bool *retry_alone)
{
	PGconn *c = st->conn;
	PGresult *res;
	int rc = BS_STORE_OK;
	size_t i;

	if (PQenterPipelineMode(c) != 1)
		return BS_STORE_UNAVAILABLE;
	for (i = 0; i < n; i++) {
		enum stmt which = hb[i]->fingerprint != NULL ? ST_HEARTBEAT_PINNED : ST_HEARTBEAT;
		const char *params[3] = {hb[i]->email, ttl, hb[i]->fingerprint};

		if (PQsendQueryPrepared(c, stmts[which].name, stmts[which].nparams, params, NULL,
					NULL, 0) != 1)
			break;
	}
	if (i < n || PQpipelineSync(c) != 1) {
		PQexitPipelineMode(c);
		return BS_STORE_UNAVAILABLE;
	}
	/* Each statement's result is followed by a NULL; the Sync's comes last. */
	for (i = 0; i < n && PQstatus(c) == CONNECTION_OK; i++) {
		if ((res = PQgetResult(c)) == NULL)
			break;
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			hb[i]->rc = PQntuples(res) > 0 ? BS_STORE_OK : BS_STORE_NOT_FOUND;
			if (hb[i]->rc == BS_STORE_OK)
				hb[i]->expires_at_ms = cell_ms(res);
		} else {
			if (PQresultStatus(res) == PGRES_FATAL_ERROR && PQstatus(c) == CONNECTION_OK) {
				const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

				log_warnx("%s: %s", __func__, PQresultErrorMessage(res));
				/* Class 57 (a timeout, a cancel, a shutdown) would stop each alone too. */
				*retry_alone = state == NULL || strncmp(state, "57", 2) != 0;
			}
			rc = BS_STORE_ERROR;
		}
		PQclear(res);
		PQclear(PQgetResult(c));
	}
	res = i == n && PQstatus(c) == CONNECTION_OK ? PQgetResult(c) : NULL;
	if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		rc = BS_STORE_UNAVAILABLE;
	PQclear(res);
	if (PQexitPipelineMode(c) != 1 || PQstatus(c) != CONNECTION_OK)
		rc = BS_STORE_UNAVAILABLE;
	return rc;
}

static int
by_email(const void *a, const void *b)
{
	return strcmp((*(struct bs_store_heartbeat *const *)a)->email,
		      (*(struct bs_store_heartbeat *const *)b)->email);
}

/*
 * Email order: batches of two replicas then lock their rows in the same
 * order and cannot deadlock. When a statement fails the rest was rolled
 * back with it, so each is run again alone, unless the failure was a timeout
 * or a cancel, which would only repeat (n timeouts in a row); a broken
 * connection is re-opened and the batch tried once more, as run() does for
 * single statements.
 */
void
bs_store_heartbeats(struct bs_store *st, struct bs_store_heartbeat **hb, size_t n,
		    const struct bs_store_timing *t)
{
	char ttl[24];
	int rc = BS_STORE_UNAVAILABLE;
	bool retry_alone = true;

	snprintf(ttl, sizeof(ttl), "%lld", (long long)t->ttl_s);
	qsort(hb, n, sizeof(*hb), by_email);
	for (int attempt = 0; attempt < 2 && rc == BS_STORE_UNAVAILABLE; attempt++) {
		if (ensure_conn(st) != 0)
			break;
		if (prepare(st, ST_HEARTBEAT) != 0 || prepare(st, ST_HEARTBEAT_PINNED) != 0)
			rc = PQstatus(st->conn) == CONNECTION_OK ? BS_STORE_ERROR : BS_STORE_UNAVAILABLE;
		else
			rc = pipeline_heartbeats(st, hb, n, ttl, &retry_alone);
		if (rc == BS_STORE_UNAVAILABLE) {
			/* Unread results may be left in it: the next attempt starts on a new one. */
			PQfinish(st->conn);
			st->conn = NULL;
		}
	}
	if (rc == BS_STORE_ERROR && n > 1 && retry_alone) {
		for (size_t i = 0; i < n; i++)
			bs_store_heartbeats(st, &hb[i], 1, t);
		return;
	}
	if (rc == BS_STORE_UNAVAILABLE)
		log_warnx("%s: lost the database connection", __func__);
	for (size_t i = 0; rc != BS_STORE_OK && i < n; i++)
		hb[i]->rc = rc;
}

int
bs_store_unregister(struct bs_store *st, const char *email)
{
	const char *params[1] = {email};
	PGresult *res;
	int rc;

	/* An expired row is deleted too (the sweeper need not wait), but was not registered. */
	res = query(st, "DELETE FROM registrations WHERE email = $1 RETURNING expires_at > now()", 1,
		    params, &rc);
	if (rc == BS_STORE_OK && (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), "t") != 0))
		rc = BS_STORE_NOT_FOUND;
	PQclear(res);
	return rc;
}

/*
 * The JSON of one bootstrap peer, built by the database. Scores: availability
 * is heartbeats received over heartbeats expected since the window started
 * (the registration itself is the first); performance maps the feedback mean
 * latency onto 100 at <= 10 ms down to 0 at >= 2000 ms on a log scale, null
 * without feedback. $HB is the heartbeat interval parameter.
 */
/* A timestamptz as the codec's RFC 3339 UTC text with milliseconds. */
#define RFC3339_SQL(col)                                                                           \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Decodes rows of peer JSON (column 0) into out. */
static int
rows_to_peers(PGresult *res, struct cm_bootstrap_peerlist *out)
{
	int n = PQntuples(res);
	struct cm_err err;

	memset(out, 0, sizeof(*out));
	if ((out->items = calloc((size_t)n + 1, sizeof(*out->items))) == NULL)
		return BS_STORE_ERROR;
	for (int i = 0; i < n; i++) {
		if (cm_bootstrap_peer_from_text(PQgetvalue(res, i, 0), &out->items[out->len],
						&err) != 0) {
			/* A row the codec refuses is not served; say which. */
			log_warnx("%s: stored row not served: %s", __func__, err.msg);
			continue;
		}
		out->len++;
	}
	return BS_STORE_OK;
}

/* Runs the online list; *res is the result (column 0: one peer's JSON per row). */
static int
list_query(struct bs_store *st, const char *exclude_email, const struct cm_strlist *repositories,
	   bool with_scores, int64_t limit, const struct bs_store_timing *t, PGresult **res)
{
	char stale[24], lim[24], hb[24], *repo_arr = NULL;
	int rc;

	*res = NULL;
	if (repositories != NULL && repositories->len > 0 &&
	    (repo_arr = pg_text_array(repositories)) == NULL)
		return BS_STORE_ERROR;
	/* Scores are for discover, which always names repositories: the join starts there. */
	if (with_scores && repo_arr == NULL)
		return BS_STORE_ERROR;
	snprintf(stale, sizeof(stale), "%lld", (long long)t->stale_after_s);
	snprintf(lim, sizeof(lim), "%lld", (long long)limit);
	snprintf(hb, sizeof(hb), "%lld", (long long)t->heartbeat_interval_s);
	const char *params[] = {stale, lim, exclude_email, repo_arr, hb};
	*res = query_prepared(st, with_scores ? ST_LIST_SCORED : ST_LIST_SAMPLE, params, &rc);
	free(repo_arr);
	return rc;
}

int
bs_store_list_online(struct bs_store *st, const char *exclude_email,
		     const struct cm_strlist *repositories, bool with_scores, int64_t limit,
		     const struct bs_store_timing *t, struct cm_bootstrap_peerlist *out)
{
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = list_query(st, exclude_email, repositories, with_scores, limit, t, &res);
	if (rc == BS_STORE_OK)
		rc = rows_to_peers(res, out);
	PQclear(res);
	return rc;
}

int
bs_store_list_online_json(struct bs_store *st, const char *exclude_email,
			  const struct cm_strlist *repositories, bool with_scores, int64_t limit,
			  const struct bs_store_timing *t, char **json)
{
	PGresult *res;
	size_t len = 3, at = 0;
	int rc, n;

	*json = NULL;
	rc = list_query(st, exclude_email, repositories, with_scores, limit, t, &res);
	if (rc != BS_STORE_OK)
		return rc;
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		len += (size_t)PQgetlength(res, i, 0) + 1;
	if ((*json = malloc(len)) == NULL) {
		PQclear(res);
		return BS_STORE_ERROR;
	}
	(*json)[at++] = '[';
	for (int i = 0; i < n; i++) {
		size_t l = (size_t)PQgetlength(res, i, 0);

		if (i > 0)
			(*json)[at++] = ',';
		memcpy(*json + at, PQgetvalue(res, i, 0), l);
		at += l;
	}
	(*json)[at++] = ']';
	(*json)[at] = '\0';
	PQclear(res);
	return BS_STORE_OK;
}

int
bs_store_lookup(struct bs_store *st, const char *email, struct cm_bootstrap_peer *out)
{
	const char *params[1] = {email};
	struct cm_bootstrap_peerlist l;
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	res = query(st,
		    "SELECT json_strip_nulls(json_build_object(" PEER_JSON_BASE "))::text"
		    " FROM registrations r WHERE r.email = $1 AND r.expires_at > now()",
		    1, params, &rc);
	if (rc == BS_STORE_OK)
		rc = rows_to_peers(res, &l);
	PQclear(res);
	if (rc != BS_STORE_OK)
		return rc;
	if (l.len == 0) {
		cm_bootstrap_peerlist_clear(&l);
		return BS_STORE_NOT_FOUND;
	}
	*out = l.items[0];
	memset(&l.items[0], 0, sizeof(l.items[0]));
	cm_bootstrap_peerlist_clear(&l);
	return BS_STORE_OK;
}

/* The reporter's live registration with its certificate, at least min_age_s old. */
static int
feedback_reporter(struct bs_store *st, const char *email, const char *fingerprint,
		  int64_t min_age_s)
{
	char age[24];
	const char *params[3] = {email, fingerprint, age};
	PGresult *res;
	int rc;

	snprintf(age, sizeof(age), "%lld", (long long)min_age_s);
	res = query(st,
		    "SELECT registered_at <= now() - make_interval(secs => $3::bigint)"
		    " FROM registrations"
		    " WHERE email = $1 AND fingerprint = $2 AND expires_at > now()",
		    3, params, &rc);
	if (rc == BS_STORE_OK && (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), "t") != 0))
		rc = BS_STORE_NOT_ELIGIBLE;
	PQclear(res);
	return rc;
}

/* Where the mean's window begins: the mean itself when the window has run out. */
#define FEEDBACK_NEW_WINDOW "f.window_start <= now() - make_interval(secs => $3::bigint)"
#define FEEDBACK_BASE "(CASE WHEN " FEEDBACK_NEW_WINDOW " THEN f.latency_ms ELSE f.window_latency END)"
/* An exponential mean with weight 0.2 for the votes' median, kept within the window's bound. */
#define FEEDBACK_MEAN(old, base)                                                                   \
	"LEAST(GREATEST(0.8 * " old " + 0.2 * $2::double precision, " base                        \
	" / " BS_FEEDBACK_STEP_SQL "), " base " * " BS_FEEDBACK_STEP_SQL ")"
#define FEEDBACK_LIVE_VOTE "voted_at > now() - make_interval(secs => $4::bigint)"

/*
 * Records voter's vote (its latest report) about email, drops email's votes
 * older than vote_age_s, and returns in *median the median of the live votes,
 * one per voter, taken over log latencies (for two votes: their geometric
 * mean). NOT_FOUND when email has no live registration and no live votes.
 */
static int
feedback_vote(struct bs_store *st, const char *voter, const char *email, const char *lat,
	      int64_t vote_age_s, char median[32])
{
	char age[24];
	const char *params[4] = {email, voter, lat, age};
	PGresult *res;
	int rc;

	snprintf(age, sizeof(age), "%lld", (long long)vote_age_s);
	res = query(st,
		    "WITH expired AS (DELETE FROM feedback_votes WHERE email = $1 AND voter <> $2"
		    " AND NOT " FEEDBACK_LIVE_VOTE "),"
		    " v AS (INSERT INTO feedback_votes (email, voter, latency_ms)"
		    " SELECT $1, $2, $3::double precision FROM registrations"
		    " WHERE email = $1 AND expires_at > now()"
		    " ON CONFLICT (email, voter) DO UPDATE SET latency_ms = EXCLUDED.latency_ms,"
		    " voted_at = now() RETURNING latency_ms)"
		    " SELECT exp(percentile_cont(0.5) WITHIN GROUP (ORDER BY ln(GREATEST(l, 1.0))))"
		    " FROM (SELECT latency_ms AS l FROM feedback_votes WHERE email = $1"
		    " AND voter <> $2 AND " FEEDBACK_LIVE_VOTE
		    " UNION ALL SELECT latency_ms FROM v) AS votes",
		    4, params, &rc);
	if (rc == BS_STORE_OK) {
		if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
			rc = BS_STORE_NOT_FOUND;
		else
			snprintf(median, 32, "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return rc;
}

int
bs_store_feedback(struct bs_store *st, const char *reporter_email, const char *reporter_fp,
		  const char *voter, const char *email, int64_t latency_ms,
		  const struct bs_feedback_policy *p, bool *clamped)
{
	char lat[24], window[24], median[32];
	const char *params[3] = {email, median, window};
	PGresult *res;
	int rc;

	*clamped = false;
	if ((rc = feedback_reporter(st, reporter_email, reporter_fp, p->min_age_s)) != BS_STORE_OK)
		return rc;
	snprintf(lat, sizeof(lat), "%lld", (long long)latency_ms);
	if ((rc = feedback_vote(st, voter, email, lat, p->vote_age_s, median)) != BS_STORE_OK)
		return rc;
	snprintf(window, sizeof(window), "%lld", (long long)p->window_s);
	res = query(st,
		    "INSERT INTO feedback AS f (email, latency_ms, samples, window_start,"
		    " window_latency)"
		    " SELECT $1, " FEEDBACK_MEAN(BS_FEEDBACK_PRIOR_SQL, BS_FEEDBACK_PRIOR_SQL)
		    ", 1, now(), " BS_FEEDBACK_PRIOR_SQL " FROM registrations"
		    " WHERE email = $1 AND expires_at > now()"
		    " ON CONFLICT (email) DO UPDATE SET"
		    " latency_ms = " FEEDBACK_MEAN("f.latency_ms", FEEDBACK_BASE) ","
		    " window_latency = " FEEDBACK_BASE ","
		    " window_start = CASE WHEN " FEEDBACK_NEW_WINDOW " THEN now()"
		    " ELSE f.window_start END,"
		    " samples = f.samples + 1, updated_at = now()"
		    " RETURNING latency_ms = window_latency * " BS_FEEDBACK_STEP_SQL
		    " OR latency_ms = window_latency / " BS_FEEDBACK_STEP_SQL,
		    3, params, &rc);
	if (rc == BS_STORE_OK) {
		if (PQntuples(res) == 0)
			rc = BS_STORE_NOT_FOUND;
		else
			*clamped = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	}
	PQclear(res);
	return rc;
}

int
bs_store_sweep_lock(struct bs_store *st, bool *locked)
{
	PGresult *res;
	int rc;

	res = query(st, "SELECT pg_try_advisory_lock(" SWEEP_LOCK_KEY ")", 0, NULL, &rc);
	*locked = rc == BS_STORE_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

int
bs_store_sweep_batch(struct bs_store *st, int64_t batch_rows, int64_t *deleted)
{
	char batch[24];
	const char *params[1] = {batch};
	PGresult *res;
	int rc;

	snprintf(batch, sizeof(batch), "%lld", (long long)batch_rows);
	res = query(st,
		    "DELETE FROM registrations WHERE email IN (SELECT email FROM"
		    " registrations WHERE expires_at <= now() LIMIT $1::bigint"
		    " FOR UPDATE SKIP LOCKED)",
		    1, params, &rc);
	*deleted = rc == BS_STORE_OK ? strtoll(PQcmdTuples(res), NULL, 10) : 0;
	PQclear(res);
	return rc;
}

void
bs_store_sweep_unlock(struct bs_store *st)
{
	PQclear(PQexec(st->conn, "SELECT pg_advisory_unlock(" SWEEP_LOCK_KEY ")"));
}

int
bs_store_count(struct bs_store *st, const struct bs_store_timing *t, int64_t *online,
	       int64_t *stale)
{
	char secs[24];
	const char *params[1] = {secs};
	PGresult *res;
	int rc;

	snprintf(secs, sizeof(secs), "%lld", (long long)t->stale_after_s);
	res = query(st,
		    "SELECT count(*) FILTER (WHERE last_heartbeat > now() - make_interval(secs =>"
		    " $1::bigint)), count(*) FILTER (WHERE last_heartbeat <= now() -"
		    " make_interval(secs => $1::bigint)) FROM registrations WHERE expires_at > now()",
		    1, params, &rc);
	if (rc == BS_STORE_OK) {
		*online = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		*stale = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	}
	PQclear(res);
	return rc;
}

int
bs_store_admin_list(struct bs_store *st, const struct bs_store_timing *t,
		    struct cm_admin_registrationlist *out)
{
	char stale[24], lim[24];
	const char *params[2] = {stale, lim};
	struct cm_err err;
	PGresult *res;
	int rc, n;

	memset(out, 0, sizeof(*out));
	snprintf(stale, sizeof(stale), "%lld", (long long)t->stale_after_s);
	snprintf(lim, sizeof(lim), "%d", CM_MAX_ADMIN_ROWS);
	res = query(st,
		    "SELECT json_strip_nulls(json_build_object(" PEER_JSON_BASE ","
		    " 'fingerprint', r.fingerprint, 'is_broadcasting', r.is_broadcasting,"
		    " 'state', CASE WHEN r.last_heartbeat > now() - make_interval(secs =>"
		    " $1::bigint) THEN 'online' ELSE 'stale' END,"
		    " 'registered_at', " RFC3339_SQL("r.registered_at") ","
		    " 'last_heartbeat', " RFC3339_SQL("r.last_heartbeat") ","
		    " 'expires_at', " RFC3339_SQL("r.expires_at") "))::text"
		    " FROM registrations r WHERE r.expires_at > now() ORDER BY r.email"
		    " LIMIT $2::bigint",
		    2, params, &rc);
	if (rc != BS_STORE_OK)
		return rc;
	n = PQntuples(res);
	if ((out->items = calloc((size_t)n + 1, sizeof(*out->items))) == NULL)
		rc = BS_STORE_ERROR;
	for (int i = 0; rc == BS_STORE_OK && i < n; i++) {
		if (cm_admin_registration_from_text(PQgetvalue(res, i, 0), &out->items[out->len],
						    &err) == 0)
			out->len++;
		else
			log_warnx("%s: stored row not served: %s", __func__, err.msg);
	}
	PQclear(res);
	return rc;
}

int
bs_store_whitelist_list(struct bs_store *st, struct cm_whitelist *out)
{
	PGresult *res;
	int rc, n;

	memset(out, 0, sizeof(*out));
	res = query(st,
		    "SELECT fingerprint, note, (extract(epoch FROM added_at) * 1000)::bigint"
		    " FROM whitelist ORDER BY added_at, fingerprint",
		    0, NULL, &rc);
	if (rc != BS_STORE_OK)
		return rc;
	n = PQntuples(res);
	if ((out->items = calloc((size_t)n + 1, sizeof(*out->items))) == NULL)
		rc = BS_STORE_ERROR;
	for (int i = 0; rc == BS_STORE_OK && i < n; i++) {
		struct cm_whitelist_entry *w = &out->items[out->len++];
		w->fingerprint = strdup(PQgetvalue(res, i, 0));
		w->note = PQgetisnull(res, i, 1) ? NULL : strdup(PQgetvalue(res, i, 1));
		w->added_at_ms = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		if (w->fingerprint == NULL)
			rc = BS_STORE_ERROR;
	}
	PQclear(res);
	if (rc != BS_STORE_OK)
		cm_whitelist_clear(out);
	return rc;
}

int
bs_store_whitelist_add(struct bs_store *st, const char *fingerprint, const char *note)
{
	const char *params[2] = {fingerprint, note};
	int rc;

	PQclear(query(st,
		      "INSERT INTO whitelist (fingerprint, note) VALUES ($1, $2)"
		      " ON CONFLICT (fingerprint) DO UPDATE SET note = EXCLUDED.note",
		      2, params, &rc));
	return rc;
}

/* Runs a DELETE with one parameter; NOT_FOUND when it removed nothing. */
static int
delete_one(struct bs_store *st, const char *sql, const char *param)
{
	const char *params[1] = {param};
	PGresult *res;
	int rc;

	res = query(st, sql, 1, params, &rc);
	if (rc == BS_STORE_OK && strcmp(PQcmdTuples(res), "0") == 0)
		rc = BS_STORE_NOT_FOUND;
	PQclear(res);
	return rc;
}

int
bs_store_whitelist_remove(struct bs_store *st, const char *fingerprint)
{
	return delete_one(st, "DELETE FROM whitelist WHERE fingerprint = $1", fingerprint);
}

int
bs_store_pin_reset(struct bs_store *st, const char *email)
{
	return delete_one(st, "DELETE FROM pins WHERE email = $1", email);
}

int
bs_store_whitelist_check(struct bs_store *st, const char *fingerprint, int64_t *entries,
			 bool *listed)
{
	const char *params[1] = {fingerprint};
	PGresult *res;
	int rc;

	res = query_prepared(st, ST_WHITELIST_CHECK, params, &rc);
	if (rc == BS_STORE_OK) {
		*entries = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		*listed = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	}
	PQclear(res);
	return rc;
}
