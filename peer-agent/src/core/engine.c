/*
 * engine.c - the gossip rules (see engine.h): lifecycle, neighbours, the
 * actions queued for the caller, receiving and dispatching frames, timers.
 * Records and seen ids are in engine_records.c, requests and answers in
 * engine_requests.c. Pure: no sockets, no clock.
 */
#include "core/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "core/engine_internal.h"

void
engine_config_default(struct engine_config *cfg)
{
	cfg->fanout = 3;
	cfg->ttl = 12;
	cfg->duplicate_forward_p = 0.05;
	cfg->max_future_ms = 30 * 1000LL;
	cfg->expire_ms = 10800 * 1000LL;
	cfg->heartbeat_ms = 30 * 1000LL;
	cfg->reannounce_ms = 3600 * 1000LL;
	cfg->anti_entropy_ms = 1000LL;
	cfg->ae_hot_ms = 10 * 1000LL;
	cfg->ae_idle_ms = 16 * 1000LL;
	cfg->seen_max = 65536;
	cfg->seen_max_age_ms = 600 * 1000LL;
	cfg->ae_max_records = 256;
	cfg->ae_warm_ms = 300 * 1000LL;
	cfg->ae_fresh_ms = 60 * 1000LL;
	cfg->pull_refreshes = true;
	cfg->request_max_records = 256;
	cfg->request_timeout_ms = 10 * 1000LL;
	cfg->verify_signatures = true;
	/*
	 * Rates far above honest traffic (docs/security.md): a neighbour
	 * forwards each news once, asks one anti-entropy digest every
	 * anti_entropy_ms from a random neighbour, beats every heartbeat_ms.
	 */
	cfg->rate[ENGINE_KIND_ANNOUNCEMENT] = (struct engine_rate){50, 500};
	cfg->rate[ENGINE_KIND_REQUEST] = (struct engine_rate){2, 8};
	cfg->rate[ENGINE_KIND_LIST] = (struct engine_rate){8, 40};
	cfg->rate[ENGINE_KIND_HEARTBEAT] = (struct engine_rate){1, 10};
	/*
	 * 100 frames over the rate, given back over an hour: a neighbour that
	 * stays over its rate, by however little, is closed within minutes.
	 */
	cfg->rate_overdraft = (struct engine_rate){100.0 / 3600.0, 100};
	/*
	 * Bytes: honest gossip is a few KB/s per neighbour and an anti-entropy
	 * answer a second at most (docs/performance.md). Answers stay at half
	 * what a receiver takes in; a burst of either stays under half the
	 * send queue (1 MiB), so a neighbour cannot fill it with what it asks.
	 */
	cfg->rate_bytes_in = (struct engine_rate){256 * 1024, 1024 * 1024};
	cfg->rate_answer_bytes = (struct engine_rate){128 * 1024, 512 * 1024};
	cfg->rate_memory_max = 1024;
	cfg->rate_memory_ms = 3600 * 1000LL;
	cfg->max_bad_signatures = 3;
	cfg->answer_max_bytes = 255 * 1024;
}

static const char *const verdict_names[ENGINE_VERDICT_COUNT] = {
	"accepted",  "duplicate", "ttl",     "future",  "signature", "pin",
	"expired",   "old",       "limit",   "invalid", "auth",      "unknown_neighbour",
	"unsolicited", "unknown_certificate", "rate", "answered", "record_invalid",
};

const char *
engine_verdict_name(enum engine_verdict v)
{
	return (unsigned)v < ENGINE_VERDICT_COUNT ? verdict_names[v] : "?";
}

/* Randomness */

static bool
rng_chance(struct engine_rng *rng, double p)
{
	return (double)(eng_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0) < p;
}

/* A version 4 UUID from the caller's randomness, so runs are reproducible. */
static void
rng_uuid(struct engine_rng *rng, char out[CM_UUID_TEXT_LEN + 1])
{
	uint64_t a = eng_rng_u64(rng), b = eng_rng_u64(rng);

	a = (a & ~0xF000ULL) | 0x4000ULL;
	b = (b & ~(3ULL << 62)) | (2ULL << 62);
	snprintf(out, CM_UUID_TEXT_LEN + 1, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
		 (unsigned)((a >> 16) & 0xFFFF), (unsigned)(a & 0xFFFF), (unsigned)(b >> 48),
		 (unsigned long long)(b & 0xFFFFFFFFFFFFULL));
}

/* Neighbours */

static const struct nb *
nb_get_const(const struct engine *e, uint64_t id)
{
	for (size_t i = 0; i < e->nnbs; i++)
		if (e->nbs[i].id == id)
			return &e->nbs[i];
	return NULL;
}

static struct nb *
nb_get(struct engine *e, uint64_t id)
{
	return (struct nb *)nb_get_const(e, id);
}

/* Actions */

void
engine_actions_clear(struct engine_actions *a)
{
	for (size_t i = 0; i < a->len; i++)
		free(a->items[i].frame);
	free(a->items);
	memset(a, 0, sizeof(*a));
}

static struct engine_action *
action_new(struct engine_actions *a)
{
	if (a->len == a->cap) {
		size_t cap = a->cap == 0 ? 8 : a->cap * 2;
		struct engine_action *items = realloc(a->items, cap * sizeof(*items));

		if (items == NULL)
			return NULL;
		a->items = items;
		a->cap = cap;
	}
	memset(&a->items[a->len], 0, sizeof(a->items[0]));
	return &a->items[a->len++];
}

/* Queues a copy of frame for neighbour. */
int
eng_queue_send(struct engine *e, struct engine_actions *out, uint64_t neighbour,
	       const char *frame, size_t len)
{
	struct engine_action *a = action_new(out);

	if (a == NULL || (a->frame = malloc(len + 1)) == NULL) {
		if (a != NULL)
			out->len--;
		return -1;
	}
	memcpy(a->frame, frame, len + 1);
	a->kind = ENGINE_SEND;
	a->neighbour = neighbour;
	a->frame_len = len;
	e->stats.sent++;
	return 0;
}

static void
queue_close(struct engine_actions *out, uint64_t neighbour, int code, const char *reason)
{
	struct engine_action *a = action_new(out);
	size_t len;

	if (a == NULL)
		return;
	a->kind = ENGINE_CLOSE;
	a->neighbour = neighbour;
	a->close_code = code;
	/* Cut to fit a close frame: the reason is for logs, not for parsing. */
	len = strlen(reason);
	if (len >= sizeof(a->reason))
		len = sizeof(a->reason) - 1;
	memcpy(a->reason, reason, len);
	a->reason[len] = '\0';
}

void
eng_close(struct engine_actions *out, struct nb *n, int code, const char *reason)
{
	if (n->closing)
		return;
	n->closing = true;
	queue_close(out, n->id, code, reason);
}

bool
eng_bad_signature(struct engine *e, struct nb *n, struct engine_actions *out)
{
	if (++n->rate.bad_signatures < e->cfg.max_bad_signatures)
		return false;
	if (!n->closing)
		e->stats.closed_bad_signatures++;
	eng_close(out, n, ENGINE_CLOSE_POLICY, "too many bad signatures");
	return true;
}

/* Rate limits */

void
eng_bucket_refill(struct bucket *b, const struct engine_rate *r, int64_t now_ms)
{
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * r->per_s / 1000.0;
		if (b->tokens > r->burst)
			b->tokens = r->burst;
	}
	b->last_ms = now_ms;
}

/* Refills b by the time since its last use; takes cost tokens if there are as many. */
static bool
bucket_take(struct bucket *b, const struct engine_rate *r, double cost, int64_t now_ms)
{
	eng_bucket_refill(b, r, now_ms);
	if (b->tokens < cost)
		return false;
	b->tokens -= cost;
	return true;
}

static void
rate_fill(const struct engine *e, struct rate_state *st, int64_t now_ms)
{
	memset(st, 0, sizeof(*st));
	for (int k = 0; k < ENGINE_KIND_COUNT; k++)
		st->buckets[k] = (struct bucket){e->cfg.rate[k].burst, now_ms};
	st->overdraft = (struct bucket){e->cfg.rate_overdraft.burst, now_ms};
	st->bytes_in = (struct bucket){e->cfg.rate_bytes_in.burst, now_ms};
	st->answer_bytes = (struct bucket){e->cfg.rate_answer_bytes.burst, now_ms};
}

static void
rate_memory_free(struct rate_memory *m)
{
	if (m == NULL)
		return;
	free(m->email);
	free(m);
}

/* Forgets what is older than rate_memory_ms, then the oldest until there is room for one more. */
static void
rate_memory_trim(struct engine *e, int64_t now_ms)
{
	for (;;) {
		struct rate_memory *m, *oldest = NULL;
		size_t cursor = 0;

		while ((m = cm_map_next(e->rate_memory, &cursor)) != NULL)
			if (oldest == NULL || m->saved_ms < oldest->saved_ms)
				oldest = m;
		if (oldest == NULL || (now_ms - oldest->saved_ms <= e->cfg.rate_memory_ms &&
				       cm_map_len(e->rate_memory) < e->cfg.rate_memory_max))
			return;
		cm_map_del(e->rate_memory, oldest->email);
		rate_memory_free(oldest);
	}
}

/* Remembers the rate state of n, whose session ends, under its email. */
static void
rate_save(struct engine *e, const struct nb *n, int64_t now_ms)
{
	struct rate_memory *m;

	if (!n->authed || n->email == NULL || e->cfg.rate_memory_max == 0)
		return;
	if ((m = cm_map_get(e->rate_memory, n->email)) == NULL) {
		rate_memory_trim(e, now_ms);
		if ((m = calloc(1, sizeof(*m))) == NULL || (m->email = strdup(n->email)) == NULL ||
		    cm_map_put(e->rate_memory, m->email, m) != 0) {
			rate_memory_free(m);
			return;
		}
	}
	m->st = n->rate;
	m->saved_ms = now_ms;
}

/*
 * n just authenticated: the rate state its identity had when its last
 * session ended comes back (the buckets refill with the time since), but
 * not this session's hello, which it has paid for already.
 */
static void
rate_restore(struct engine *e, struct nb *n, int64_t now_ms)
{
	struct rate_memory *m = cm_map_get(e->rate_memory, n->email);
	double hello_bytes;

	if (m == NULL)
		return;
	if (now_ms - m->saved_ms <= e->cfg.rate_memory_ms) {
		hello_bytes = e->cfg.rate_bytes_in.burst - n->rate.bytes_in.tokens;
		n->rate = m->st;
		eng_bucket_refill(&n->rate.bytes_in, &e->cfg.rate_bytes_in, now_ms);
		n->rate.bytes_in.tokens -= hello_bytes;
		e->stats.rates_restored++;
	}
	cm_map_del(e->rate_memory, n->email);
	rate_memory_free(m);
}

static enum engine_kind
kind_of(enum cm_msg_type type)
{
	switch (type) {
	case CM_MSG_PEER_REQUEST:
		return ENGINE_KIND_REQUEST;
	case CM_MSG_PEER_LIST_RESPONSE:
		return ENGINE_KIND_LIST;
	case CM_MSG_HEARTBEAT:
		return ENGINE_KIND_HEARTBEAT;
	default:
		return ENGINE_KIND_ANNOUNCEMENT;
	}
}

/* A frame over a limit takes from the overdraft: once it is spent, n is closed. */
static void
over_rate(struct engine *e, struct nb *n, int64_t now_ms, struct engine_actions *out)
{
	if (bucket_take(&n->rate.overdraft, &e->cfg.rate_overdraft, 1.0, now_ms))
		return;
	if (!n->closing)
		e->stats.closed_rate++;
	eng_close(out, n, ENGINE_CLOSE_POLICY, "over the rate limit");
}

/*
 * Takes a token for a frame of type from n. False: over the limit, the frame
 * is dropped; a neighbour that stays over it (its overdraft spent) is closed.
 */
static bool
rate_allows(struct engine *e, struct nb *n, enum cm_msg_type type, int64_t now_ms,
	    struct engine_actions *out)
{
	enum engine_kind k = kind_of(type);

	if (bucket_take(&n->rate.buckets[k], &e->cfg.rate[k], 1.0, now_ms))
		return true;
	over_rate(e, n, now_ms, out);
	return false;
}

/* Encodes env into a new frame string the caller frees; NULL on failure. */
char *
eng_encode_frame(const struct cm_envelope *env, size_t *len)
{
	return cm_json_dump_take(cm_envelope_encode(env), len);
}

/* An envelope from us with a fresh id; payload left for the caller. */
void
eng_envelope_init(struct engine *e, struct cm_envelope *env, enum cm_msg_type type, int ttl,
		  int64_t now_ms, struct engine_rng *rng, char id[CM_UUID_TEXT_LEN + 1])
{
	memset(env, 0, sizeof(*env));
	rng_uuid(rng, id);
	env->v = CM_PROTOCOL_VERSION;
	env->id = id;
	env->type = type;
	env->ttl = ttl;
	env->timestamp_ms = now_ms;
	env->sender_email = e->self.record.email;
	env->sender_peer_id = e->self.record.peer_id;
}

/* Is neighbour n silent (its record, held since its hello, does not broadcast)? */
static bool
nb_silent(const struct engine *e, const struct nb *n)
{
	const struct peertable_entry *pe = n->email != NULL ? peertable_get(e->table, n->email) : NULL;

	return pe != NULL && !pe->rec.record.is_broadcasting;
}

/*
 * Is any authenticated neighbour other than except silent (when silent), and
 * one whose digests do not say certless (when pushed_to)?
 */
static bool
any_nb(const struct engine *e, uint64_t except, bool silent, bool pushed_to)
{
	for (size_t i = 0; i < e->nnbs; i++)
		if (e->nbs[i].authed && e->nbs[i].id != except &&
		    (!pushed_to || !e->nbs[i].pulls_refreshes) && (!silent || nb_silent(e, &e->nbs[i])))
			return true;
	return false;
}

/*
 * Sends one encoded frame to up to k random authenticated neighbours other
 * than except; silent neighbours get silent_frame instead when it is not
 * NULL. A pick that pulls refreshes gets nothing when skip_pullers.
 */
static size_t
send_random2(struct engine *e, struct engine_actions *out, const char *frame, size_t len,
	     const char *silent_frame, size_t silent_len, int k, uint64_t except, bool droppable,
	     bool skip_pullers, struct engine_rng *rng)
{
	uint64_t *ids = malloc((e->nnbs + 1) * sizeof(*ids));
	size_t n = 0, sent = 0;

	if (ids == NULL)
		return 0;
	for (size_t i = 0; i < e->nnbs; i++)
		if (e->nbs[i].authed && e->nbs[i].id != except)
			ids[n++] = e->nbs[i].id;
	for (size_t i = 0; i < n && (int)i < k; i++) {
		size_t j = i + eng_rng_below(rng, n - i);
		uint64_t t = ids[i];
		const struct nb *to;

		ids[i] = ids[j];
		ids[j] = t;
		to = nb_get(e, ids[i]);
		if (skip_pullers && to->pulls_refreshes)
			continue;
		if (silent_frame != NULL && nb_silent(e, to) ?
			    eng_queue_send(e, out, ids[i], silent_frame, silent_len) != 0 :
			    eng_queue_send(e, out, ids[i], frame, len) != 0)
			continue;
		out->items[out->len - 1].droppable = droppable;
		sent++;
	}
	free(ids);
	return sent;
}

size_t
eng_send_random(struct engine *e, struct engine_actions *out, const char *frame, size_t len,
		int k, uint64_t except, struct engine_rng *rng)
{
	return send_random2(e, out, frame, len, NULL, 0, k, except, false, false, rng);
}

/* Lifecycle */

struct engine *
engine_new(const struct engine_config *cfg, struct peertable *table, const struct cm_identity *id)
{
	struct engine *e;

	if (table == NULL || (id == NULL && cfg->verify_signatures))
		return NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->cfg = *cfg;
	if (e->cfg.fanout < 1)
		e->cfg.fanout = 1;
	if (e->cfg.seen_max < 2)
		e->cfg.seen_max = 2;
	e->table = table;
	/* The seen ids come from the network: keyed like the table's maps. */
	e->hash_key = *peertable_hash_key(table);
	e->id = id;
	if ((e->rate_memory = cm_map_new(CM_MAP_STR, &e->hash_key)) == NULL) {
		free(e);
		return NULL;
	}
	return e;
}

void
engine_free(struct engine *e)
{
	struct rate_memory *m;
	size_t cursor;

	if (e == NULL)
		return;
	for (size_t i = 0; i < e->nnbs; i++)
		free(e->nbs[i].email);
	free(e->nbs);
	cursor = 0;
	while ((m = cm_map_next(e->rate_memory, &cursor)) != NULL)
		rate_memory_free(m);
	cm_map_free(e->rate_memory);
	for (size_t i = 0; i < e->npending; i++) {
		cm_strlist_clear(&e->pending[i].emails);
		cm_strlist_clear(&e->pending[i].repos);
	}
	eng_seen_free(e);
	free(e->pending);
	cm_signed_record_clear(&e->self);
	free(e->self_text);
	free(e);
}

const struct engine_stats *
engine_stats(const struct engine *e)
{
	return &e->stats;
}

void
engine_forward_dropped(struct engine *e)
{
	e->stats.forwards_dropped++;
}

int
engine_neighbour_up(struct engine *e, uint64_t id, bool inbound, const char *tls_fingerprint,
		    int64_t now_ms, struct engine_rng *rng, struct engine_actions *out)
{
	struct nb *n;

	if (!e->has_self || id == 0 || nb_get(e, id) != NULL)
		return -1;
	if (e->nnbs == e->capnbs) {
		size_t cap = e->capnbs == 0 ? 8 : e->capnbs * 2;
		struct nb *nbs = realloc(e->nbs, cap * sizeof(*nbs));

		if (nbs == NULL)
			return -1;
		e->nbs = nbs;
		e->capnbs = cap;
	}
	n = &e->nbs[e->nnbs++];
	memset(n, 0, sizeof(*n));
	n->id = id;
	n->inbound = inbound;
	rate_fill(e, &n->rate, now_ms);
	if (tls_fingerprint != NULL) {
		n->has_tls_fp = true;
		snprintf(n->tls_fp, sizeof(n->tls_fp), "%s", tls_fingerprint);
	}
	/* The hello: our own record, straight to this neighbour only. */
	return eng_announce_self(e, id, true, now_ms, rng, out);
}

void
engine_neighbour_down(struct engine *e, uint64_t id, int64_t now_ms)
{
	for (size_t i = 0; i < e->nnbs; i++) {
		if (e->nbs[i].id != id)
			continue;
		if (e->nbs[i].authed && e->nbs[i].email != NULL) {
			bool other = false;

			/* Two sessions with one peer (both dialled): it stays connected. */
			for (size_t j = 0; j < e->nnbs; j++)
				other |= j != i && e->nbs[j].authed &&
					 strcmp(e->nbs[j].email, e->nbs[i].email) == 0;
			if (!other)
				peertable_set_connected(e->table, e->nbs[i].email, false,
							!e->nbs[i].inbound, now_ms);
		}
		rate_save(e, &e->nbs[i], now_ms);
		free(e->nbs[i].email);
		e->nbs[i] = e->nbs[--e->nnbs];
		return;
	}
}

void
engine_assume_synced(struct engine *e, uint64_t id, uint64_t their_version)
{
	struct nb *n = nb_get(e, id);

	if (n == NULL)
		return;
	n->since = their_version;
	n->mark_prev = n->mark_last = peertable_version(e->table);
	n->pulls_refreshes = e->cfg.pull_refreshes;
	e->assumed_synced = true;
}

size_t
engine_neighbour_count(const struct engine *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->nnbs; i++)
		n += e->nbs[i].authed;
	return n;
}

const char *
engine_neighbour_email(const struct engine *e, uint64_t id)
{
	const struct nb *n = nb_get_const(e, id);

	return n != NULL && n->authed ? n->email : NULL;
}

/* Receiving */

/*
 * Passes a received announcement on, written anew from what was decoded and
 * verified (the signed record's own text, the envelope's known fields) with
 * ttl - 1 and ourselves as sender: nothing unsigned that came with it travels.
 * A refresh (cert: the certificate we hold, which env's origin carries for
 * the check) goes without it, except to a silent neighbour, which must be
 * able to verify what is pushed to it. With pull_refreshes it goes only to
 * the picks whose digests do not say certless (agents of an earlier
 * version): the others pull it by anti-entropy, each about once, where a push
 * reached each about 3.4 times.
 */
static void
forward(struct engine *e, const struct cm_envelope *env, const char *cert, uint64_t from,
	int fanout, struct engine_rng *rng, struct engine_actions *out)
{
	bool pull = cert != NULL && e->cfg.pull_refreshes;
	struct cm_envelope fwd;
	char *frame, *silent_frame = NULL;
	size_t len, silent_len = 0;

	if (env->ttl - 1 <= 0 || !e->has_self || (pull && !any_nb(e, from, false, true)))
		return;
	fwd = *env; /* shallow: borrowed for encoding only */
	fwd.ttl = env->ttl - 1;
	fwd.sender_email = e->self.record.email;
	fwd.sender_peer_id = e->self.record.peer_id;
	/* Written only when some neighbour needs it: refreshes are the steady state's traffic. */
	if (cert != NULL && any_nb(e, from, true, pull))
		silent_frame = eng_encode_frame(&fwd, &silent_len);
	if (cert != NULL)
		fwd.payload.announcement.origin.public_certificate = NULL;
	if ((frame = eng_encode_frame(&fwd, &len)) != NULL)
		e->stats.forwarded += send_random2(e, out, frame, len, silent_frame, silent_len,
						   fanout, from, true, pull, rng);
	free(frame);
	free(silent_frame);
}

/*
 * A duplicate passed on again (duplicate_forward_p): the copy it forwards is
 * the table's, verified when it was accepted, never the bytes that came with
 * the duplicate (anyone can send a forged copy under a genuine id and seq).
 * head: the duplicate's envelope (its payload is not read); whole: it came
 * with its certificate. Nothing when the table holds another seq by now.
 */
static void
forward_held(struct engine *e, const struct cm_envelope *head, const char *email, int64_t seq,
	     bool whole, uint64_t from, struct engine_rng *rng, struct engine_actions *out)
{
	const struct peertable_entry *held = peertable_get(e->table, email);
	struct cm_envelope copy;

	if (held == NULL || held->rec.record.seq != seq || held->rec.public_certificate == NULL)
		return;
	copy = *head; /* shallow: borrowed for encoding only */
	copy.payload.announcement.origin = held->rec;
	/* Whole when the duplicate came whole, else as a refresh (see forward). */
	forward(e, &copy, whole ? NULL : held->rec.public_certificate, from, e->cfg.fanout, rng,
		out);
}

/* The first frame of a session: the peer's own signed announcement, matching its TLS certificate. */
static enum engine_verdict
authenticate(struct engine *e, struct nb *n, const struct cm_envelope *env, int64_t now_ms,
	     char fp[CM_FINGERPRINT_LEN + 1], struct engine_actions *out)
{
	const struct cm_signed_record *rec = &env->payload.announcement.origin;
	const char *pinned;

	if (env->type != CM_MSG_PEER_ANNOUNCEMENT ||
	    strcmp(rec->record.email, env->sender_email) != 0) {
		queue_close(out, n->id, ENGINE_CLOSE_POLICY, "first frame must announce the sender");
		return ENGINE_DROP_AUTH;
	}
	if (eng_verify_record(e, rec, fp) != 0) {
		queue_close(out, n->id, ENGINE_CLOSE_POLICY, "hello signature invalid");
		return ENGINE_DROP_AUTH;
	}
	if (n->has_tls_fp && strcmp(fp, n->tls_fp) != 0) {
		queue_close(out, n->id, ENGINE_CLOSE_POLICY, "certificate differs from TLS");
		return ENGINE_DROP_AUTH;
	}
	pinned = peertable_pinned(e->table, rec->record.email);
	if (pinned != NULL && strcmp(pinned, fp) != 0) {
		queue_close(out, n->id, ENGINE_CLOSE_POLICY, "certificate differs from pin");
		return ENGINE_DROP_PIN;
	}
	if (e->has_self && strcmp(rec->record.email, e->self.record.email) == 0) {
		queue_close(out, n->id, ENGINE_CLOSE_POLICY, "connected to ourselves");
		return ENGINE_DROP_AUTH;
	}
	if (now_ms - rec->record.issued_at_ms > e->cfg.expire_ms ||
	    rec->record.issued_at_ms > now_ms + e->cfg.max_future_ms) {
		queue_close(out, n->id, ENGINE_CLOSE_POLICY, "hello record out of date");
		return ENGINE_DROP_AUTH;
	}
	if ((n->email = strdup(rec->record.email)) == NULL)
		return ENGINE_DROP_LIMIT;
	n->authed = true;
	rate_restore(e, n, now_ms);
	return ENGINE_ACCEPTED;
}

/* Does the table hold rec itself (not refused for want of room)? */
static bool
held_as(const struct engine *e, const struct cm_signed_record *rec)
{
	const struct peertable_entry *held = peertable_get(e->table, rec->record.email);

	return held != NULL && held->rec.record.seq == rec->record.seq;
}

/* hello_fp: the fingerprint authenticate verified when this is the session's hello, else NULL. */
static enum engine_verdict
receive_announcement(struct engine *e, struct nb *n, struct cm_envelope *env,
		     const char *hello_fp, int64_t now_ms, struct engine_rng *rng,
		     struct engine_actions *out)
{
	struct cm_signed_record *rec = &env->payload.announcement.origin;
	char fp[CM_FINGERPRINT_LEN + 1];
	bool refresh = rec->public_certificate == NULL;
	enum engine_verdict v;

	if (refresh) {
		const struct peertable_entry *held = peertable_get(e->table, rec->record.email);

		/* A refresh of a peer we do not hold cannot be verified: anti-entropy brings it whole. */
		if (held == NULL || held->rec.public_certificate == NULL)
			return ENGINE_DROP_NO_CERT;
		if ((rec->public_certificate = strdup(held->rec.public_certificate)) == NULL)
			return ENGINE_DROP_LIMIT;
	}
	v = eng_check_record(e, rec, now_ms, hello_fp, fp);
	if (v == ENGINE_ACCEPTED)
		v = eng_apply_record(e, rec, fp, hello_fp != NULL ? n : NULL, false, now_ms);
	else if (v == ENGINE_DROP_SIGNATURE)
		eng_bad_signature(e, n, out);
	/*
	 * Only news travels on. A newcomer's hello goes to every neighbour of
	 * the peers it dialled: two hops reach most of the network at once, for
	 * a few dozen copies more per join, and fanout takes over from there.
	 * A record a full table refused is news only while fresh: an older one
	 * (the hello of a peer that has been up a while, dialling for a lookup)
	 * reached every table with room when it was issued, and passing it on
	 * would walk it through every full table of the network again.
	 */
	if (v == ENGINE_ACCEPTED && (held_as(e, rec) || now_ms - rec->record.issued_at_ms <=
								 e->cfg.ae_fresh_ms))
		forward(e, env, refresh ? rec->public_certificate : NULL, n->id,
			hello_fp != NULL ? (int)e->nnbs : e->cfg.fanout, rng, out);
	if (refresh) {
		free(rec->public_certificate);
		rec->public_certificate = NULL;
	}
	if (hello_fp != NULL && v == ENGINE_DROP_RECORD_INVALID) {
		eng_close(out, n, ENGINE_CLOSE_POLICY, "hello record invalid");
	} else if (hello_fp != NULL) {
		/* The hello's peer is now a direct neighbour, whatever its record's news. */
		peertable_set_connected(e->table, n->email, true, !n->inbound, now_ms);
		if (v == ENGINE_DROP_OLD)
			v = ENGINE_ACCEPTED;
	}
	return v;
}

/* An envelope's ttl and timestamp, checked after its rate: ENGINE_ACCEPTED or the drop. */
static enum engine_verdict
envelope_timely(const struct engine *e, int ttl, int64_t timestamp_ms, int64_t now_ms)
{
	if (ttl <= 0)
		return ENGINE_DROP_TTL;
	if (timestamp_ms > now_ms + e->cfg.max_future_ms)
		return ENGINE_DROP_FUTURE;
	return ENGINE_ACCEPTED;
}

/*
 * An announcement seen already, told from a look at the frame
 * (cm_announcement_peek) instead of its decode: the checks engine_receive
 * makes before its seen-id check, in its order, then the duplicate's rule.
 * ENGINE_VERDICT_COUNT when the look cannot tell (a hello, a frame the look
 * does not read, an id not seen): the full decode decides. A duplicate is
 * not decoded, so one whose other members are invalid is dropped like any
 * duplicate rather than closing the session; nothing of it is kept or sent.
 */
static enum engine_verdict
receive_seen(struct engine *e, struct nb *n, const char *frame, size_t len, int64_t now_ms,
	     struct engine_rng *rng, struct engine_actions *out)
{
	struct cm_envelope_peek pk;
	struct cm_envelope head = {0};
	enum engine_verdict v;

	if (!n->authed || cm_announcement_peek(frame, len, &pk) != 0 ||
	    !eng_seen_has(e, pk.id, pk.email, pk.seq))
		return ENGINE_VERDICT_COUNT;
	if (!rate_allows(e, n, pk.type, now_ms, out))
		return ENGINE_DROP_RATE;
	if ((v = envelope_timely(e, pk.ttl, pk.timestamp_ms, now_ms)) != ENGINE_ACCEPTED)
		return v;
	if (rng_chance(rng, e->cfg.duplicate_forward_p)) {
		head.v = pk.v;
		head.id = pk.id;
		head.type = pk.type;
		head.ttl = pk.ttl;
		head.timestamp_ms = pk.timestamp_ms;
		forward_held(e, &head, pk.email, pk.seq, pk.has_certificate, n->id, rng, out);
	}
	return ENGINE_DUPLICATE;
}

enum engine_verdict
engine_receive(struct engine *e, uint64_t from, const char *frame, size_t len, int64_t now_ms,
	       struct engine_rng *rng, struct engine_actions *out)
{
	struct nb *n = nb_get(e, from);
	struct cm_envelope env;
	const struct cm_signed_record *announced;
	struct cm_err err;
	enum engine_verdict v;
	char hello_fp[CM_FINGERPRINT_LEN + 1];
	bool hello = false;

	e->stats.received++;
	if (n == NULL || n->closing) {
		v = ENGINE_DROP_UNKNOWN;
		goto done;
	}
	if (len > CM_MAX_FRAME) {
		queue_close(out, from, 1009, "frame too big");
		v = ENGINE_DROP_LIMIT;
		goto done;
	}
	/* Before parsing: a flood costs us its bytes only. */
	if (!bucket_take(&n->rate.bytes_in, &e->cfg.rate_bytes_in, (double)len, now_ms)) {
		over_rate(e, n, now_ms, out);
		v = ENGINE_DROP_RATE;
		goto done;
	}
	/* Most frames of a converged network are duplicates: they cost a scan, not a decode. */
	if ((v = receive_seen(e, n, frame, len, now_ms, rng, out)) != ENGINE_VERDICT_COUNT)
		goto done;
	if (cm_envelope_from_frame(frame, len, &env, &err) != 0) {
		queue_close(out, from, ENGINE_CLOSE_INVALID, err.msg);
		v = ENGINE_DROP_INVALID;
		goto done;
	}
	if (!n->authed) {
		if ((v = authenticate(e, n, &env, now_ms, hello_fp, out)) != ENGINE_ACCEPTED)
			goto free_env;
		hello = true;
	} else if (!rate_allows(e, n, env.type, now_ms, out)) {
		v = ENGINE_DROP_RATE;
		goto free_env;
	}
	if ((v = envelope_timely(e, env.ttl, env.timestamp_ms, now_ms)) != ENGINE_ACCEPTED)
		goto free_env;
	announced = env.type == CM_MSG_PEER_ANNOUNCEMENT ? &env.payload.announcement.origin : NULL;
	if (eng_seen_has(e, env.id, announced != NULL ? announced->record.email : NULL,
			 announced != NULL ? announced->record.seq : 0)) {
		if (announced != NULL && rng_chance(rng, e->cfg.duplicate_forward_p))
			forward_held(e, &env, announced->record.email, announced->record.seq,
				     announced->public_certificate != NULL, from, rng, out);
		v = ENGINE_DUPLICATE;
		goto free_env;
	}
	peertable_note_gossip(e->table, n->email);
	switch (env.type) {
	case CM_MSG_PEER_ANNOUNCEMENT:
		v = receive_announcement(e, n, &env, hello ? hello_fp : NULL, now_ms, rng, out);
		break;
	case CM_MSG_HEARTBEAT:
		peertable_note_heartbeat(e->table, n->email, env.payload.heartbeat.peer_count,
					 now_ms);
		v = ENGINE_ACCEPTED;
		break;
	case CM_MSG_PEER_REQUEST:
		v = eng_answer_request(e, n, &env, now_ms, rng, out) ? ENGINE_ACCEPTED
								      : ENGINE_DROP_RATE;
		break;
	case CM_MSG_PEER_LIST_RESPONSE:
		v = eng_receive_list(e, n, &env, now_ms, out);
		break;
	default:
		v = ENGINE_DROP_INVALID;
	}
	/*
	 * Only a record verified and applied is remembered, with its id: a copy
	 * judged old unchecked, or another record under the id, must not shadow
	 * the real one. Other frames are never forwarded, so nothing to remember.
	 */
	if (announced != NULL && v == ENGINE_ACCEPTED)
		eng_seen_add(e, env.id, announced, now_ms);
	/*
	 * A new neighbour's table at once, as Serf's push-pull on join: waiting
	 * for the timer to pick it leaves a newcomer with its hellos only.
	 */
	if (hello && v == ENGINE_ACCEPTED && n->authed && e->cfg.anti_entropy_ms > 0)
		eng_anti_entropy_with(e, n, now_ms, rng, out);
free_env:
	cm_envelope_clear(&env);
done:
	e->stats.verdicts[v]++;
	return v;
}

/* Timers */

static void
send_heartbeats(struct engine *e, int64_t now_ms, struct engine_rng *rng,
		struct engine_actions *out)
{
	struct cm_envelope env;
	char id[CM_UUID_TEXT_LEN + 1];
	char *frame;
	size_t len;

	for (size_t i = 0; i < e->nnbs; i++) {
		if (!e->nbs[i].authed)
			continue;
		eng_envelope_init(e, &env, CM_MSG_HEARTBEAT, 1, now_ms, rng, id);
		env.payload.heartbeat.is_alive = true;
		env.payload.heartbeat.is_bootstrap = e->self.record.is_bootstrap;
		env.payload.heartbeat.peer_count = (int64_t)peertable_count(e->table);
		if ((frame = eng_encode_frame(&env, &len)) != NULL) {
			eng_queue_send(e, out, e->nbs[i].id, frame, len);
			free(frame);
		}
	}
}

static int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/*
 * Rounds come every anti_entropy_ms while the table changes; once it has
 * stood still for ae_hot_ms they slow down, doubling up to ae_idle_ms: an
 * idle network costs little, and news finds the short interval again
 * (engine_tick) and asks idle neighbours back (digest.recent).
 */
static int64_t
ae_next_interval(struct engine *e, int64_t now_ms)
{
	int64_t base = e->cfg.anti_entropy_ms;

	if (e->cfg.ae_idle_ms <= base || eng_ae_recent(e, now_ms))
		e->ae_interval_ms = base;
	else
		e->ae_interval_ms = min64(e->cfg.ae_idle_ms, 2 * (e->ae_interval_ms > base
									? e->ae_interval_ms
									: base));
	return e->ae_interval_ms;
}

int64_t
engine_tick(struct engine *e, int64_t now_ms, struct engine_rng *rng, struct engine_actions *out)
{
	int64_t next;

	if (!e->timers_started) {
		e->timers_started = true;
		e->started_ms = now_ms;
		/* First tick: spread the timers so that neighbours do not beat in step. */
		e->next_heartbeat_ms =
			now_ms + (int64_t)eng_rng_below(rng, (size_t)e->cfg.heartbeat_ms + 1);
		e->next_ae_ms = now_ms + (int64_t)eng_rng_below(rng, (size_t)e->cfg.anti_entropy_ms + 1);
		e->next_expire_ms = now_ms;
		if (!e->has_self)
			e->next_reannounce_ms = now_ms + e->cfg.reannounce_ms;
		/* A timer with no interval is off (the seed's algorithm has no anti-entropy). */
		if (e->cfg.heartbeat_ms <= 0)
			e->next_heartbeat_ms = INT64_MAX;
		if (e->cfg.anti_entropy_ms <= 0)
			e->next_ae_ms = INT64_MAX;
		/* A start is news: the table is new, rounds come often at first. */
		e->ae_version = peertable_version(e->table);
		e->last_change_ms = now_ms;
		e->ae_interval_ms = e->cfg.anti_entropy_ms;
		if (e->cfg.reannounce_ms <= 0)
			e->next_reannounce_ms = INT64_MAX;
	}
	if (now_ms >= e->next_heartbeat_ms) {
		if (e->has_self)
			send_heartbeats(e, now_ms, rng, out);
		/* Sessions up are re-told to the table: one that has lasted proves its pin. */
		for (size_t i = 0; i < e->nnbs; i++)
			if (e->nbs[i].authed && e->nbs[i].email != NULL)
				peertable_set_connected(e->table, e->nbs[i].email, true,
							!e->nbs[i].inbound, now_ms);
		e->next_heartbeat_ms = now_ms + e->cfg.heartbeat_ms;
	}
	if (now_ms >= e->next_reannounce_ms) {
		if (e->has_self && !e->self.record.leaving) {
			struct cm_peer_record tmpl;

			if (cm_peer_record_copy(&tmpl, &e->self.record) == 0) {
				if (eng_resign_self(e, &tmpl, now_ms) == 0)
					eng_announce_self(e, 0, false, now_ms, rng, out);
				cm_peer_record_clear(&tmpl);
			}
		}
		e->next_reannounce_ms = now_ms + e->cfg.reannounce_ms;
	}
	if (peertable_version(e->table) != e->ae_version) {
		e->ae_version = peertable_version(e->table);
		e->last_change_ms = now_ms;
		/* News: back to the short interval at once. */
		e->ae_interval_ms = e->cfg.anti_entropy_ms;
		if (e->cfg.anti_entropy_ms > 0 && e->next_ae_ms - now_ms > e->cfg.anti_entropy_ms)
			e->next_ae_ms = now_ms + e->cfg.anti_entropy_ms;
	}
	if (now_ms >= e->next_ae_ms) {
		if (e->has_self)
			eng_anti_entropy(e, now_ms, rng, out);
		e->next_ae_ms = now_ms + ae_next_interval(e, now_ms);
	}
	if (now_ms >= e->next_expire_ms) {
		/* Entries live for expire_ms: a scan every hundredth of that is precise enough. */
		if (now_ms >= e->next_table_expire_ms) {
			peertable_expire(e->table, now_ms);
			e->next_table_expire_ms = now_ms + (e->cfg.expire_ms / 100 > 1000
								    ? e->cfg.expire_ms / 100
								    : 1000);
		}
		eng_pending_expire(e, now_ms);
		eng_seen_rotate_if_due(e, now_ms);
		e->next_expire_ms = now_ms + 1000;
	}
	next = min64(min64(e->next_heartbeat_ms, e->next_reannounce_ms),
		     min64(e->next_ae_ms, e->next_expire_ms)) -
	       now_ms;
	return next < 1 ? 1 : next;
}
