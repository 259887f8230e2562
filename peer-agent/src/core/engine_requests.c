/*
 * engine_requests.c - PEER_REQUEST and PEER_LIST_RESPONSE: the requests we
 * wait answers for, our answers to others' (the sharing rules), anti-entropy
 * with its Bloom filter, and discovery of repositories' hosts and torrents'
 * seeders. Pure: no sockets, no clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/base64.h"
#include "fb/codec.h"
#include "fb/validate.h"
#include "core/engine_internal.h"

#define BLOOM_BITS_PER_KEY 10 /* with 7 hashes: about 1 % false positives */
#define BLOOM_K 7
/* Room for the envelope around the records of one PEER_LIST_RESPONSE frame. */
#define FRAME_OVERHEAD 1024

/* Bloom filter over (email, seq) keys */

/*
 * 64-bit FNV-1a: docs/protocol.md fixes it (and its offset basis) as the
 * filter's hash, so both ends agree. Unkeyed, which is fine here: a filter
 * only summarises records, it is no table an attacker could fill.
 */
#define FNV1A_OFFSET 14695981039346656037ULL
#define FNV1A_PRIME 1099511628211ULL

static uint64_t
fnv1a(const void *data, size_t len, uint64_t h)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * FNV1A_PRIME;
	return h;
}

static void
record_hashes(const char *email, int64_t seq, int64_t seed, uint64_t *h1, uint64_t *h2)
{
	unsigned char le_seed[8], le_seq[8];
	uint64_t h;

	/* Little-endian whatever the host, as the protocol fixes it. */
	for (int i = 0; i < 8; i++) {
		le_seed[i] = (unsigned char)((uint64_t)seed >> (8 * i));
		le_seq[i] = (unsigned char)((uint64_t)seq >> (8 * i));
	}
	h = fnv1a(le_seed, sizeof(le_seed), FNV1A_OFFSET);
	h = fnv1a(email, strlen(email) + 1, h);
	h = fnv1a(le_seq, sizeof(le_seq), h);
	*h1 = h;
	/* A second, independent-enough hash for double hashing (splitmix64 finaliser). */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	*h2 = h | 1;
}

static void
bloom_add(unsigned char *bits, size_t nbits, int k, const char *email, int64_t seq,
	  int64_t seed)
{
	uint64_t h1, h2;

	record_hashes(email, seq, seed, &h1, &h2);
	for (int i = 0; i < k; i++) {
		size_t b = (size_t)((h1 + (uint64_t)i * h2) % nbits);

		bits[b / 8] |= (unsigned char)(1u << (b % 8));
	}
}

static bool
bloom_has(const unsigned char *bits, size_t nbits, int k, const char *email, int64_t seq,
	  int64_t seed)
{
	uint64_t h1, h2;

	record_hashes(email, seq, seed, &h1, &h2);
	for (int i = 0; i < k; i++) {
		size_t b = (size_t)((h1 + (uint64_t)i * h2) % nbits);

		if (!(bits[b / 8] & (1u << (b % 8))))
			return false;
	}
	return true;
}

/* Pending requests */

static struct pending *
pending_get(struct engine *e, const char *id, uint64_t nb)
{
	for (size_t i = 0; i < e->npending; i++)
		if (e->pending[i].nb == nb && strcmp(e->pending[i].id, id) == 0)
			return &e->pending[i];
	return NULL;
}

static void
pending_drop(struct engine *e, size_t i)
{
	cm_strlist_clear(&e->pending[i].emails);
	cm_strlist_clear(&e->pending[i].repos);
	e->pending[i] = e->pending[--e->npending];
}

/* A new pending entry (the oldest makes room at ENGINE_MAX_PENDING), or NULL (out of memory). */
static struct pending *
pending_add(struct engine *e, const char *id, uint64_t nb, bool ae, int64_t now_ms)
{
	struct pending *p;

	if (e->npending == ENGINE_MAX_PENDING) {
		size_t oldest = 0;

		for (size_t i = 1; i < e->npending; i++)
			if (e->pending[i].created_ms < e->pending[oldest].created_ms)
				oldest = i;
		pending_drop(e, oldest);
	} else if (e->npending == e->cappending) {
		size_t cap = e->cappending == 0 ? 4 : 2 * e->cappending;

		if (cap > ENGINE_MAX_PENDING)
			cap = ENGINE_MAX_PENDING;
		if ((p = realloc(e->pending, cap * sizeof(*p))) == NULL)
			return NULL;
		e->pending = p;
		e->cappending = cap;
	}
	p = &e->pending[e->npending++];
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->nb = nb;
	p->anti_entropy = ae;
	p->created_ms = now_ms;
	return p;
}

/* Forgets requests older than request_timeout_ms. */
void
eng_pending_expire(struct engine *e, int64_t now_ms)
{
	for (size_t i = e->npending; i-- > 0;)
		if (now_ms - e->pending[i].created_ms > e->cfg.request_timeout_ms)
			pending_drop(e, i);
}

/* Answers */

/* What a requester may receive: the sharing rules, repositories, the digest. */
struct answer_filter {
	const struct peertable *table;
	bool requester_broadcasting;
	const char *requester_email;
	const struct cm_strlist *repos;
	const unsigned char *bloom;
	size_t bloom_bits;
	int k;
	int64_t seed;
	int64_t now_ms;
	int64_t expire_ms;
	int64_t issued_after_ms; /* 0: any */
	bool certless;           /* the digest said certless: some records may go bare */
	int64_t bare_before_ms;  /* then entries held since before this go bare */
	bool any_repo;           /* no repository named */
	uint64_t mark;           /* else: peertable_mark_hosting's mark of the hosts */
};

/* The rules every answered record meets, whoever it is about. */
static bool
record_passes(const struct cm_signed_record *rec, const struct answer_filter *f)
{
	const struct cm_peer_record *r = &rec->record;

	if (f->requester_email != NULL && strcmp(r->email, f->requester_email) == 0)
		return false;
	if (f->now_ms - r->issued_at_ms > f->expire_ms || r->issued_at_ms < f->issued_after_ms)
		return false;
	return f->bloom == NULL ||
	       !bloom_has(f->bloom, f->bloom_bits, f->k, r->email, r->seq, f->seed);
}

/*
 * Does e go without its certificate, for a requester that holds it? A peer we
 * have held for a while, and to a silent requester every peer but an attested
 * bootstrap one: it is given no other whole, but it may hold them.
 */
static bool
entry_bare(const struct peertable_entry *e, const struct answer_filter *f)
{
	if (!f->certless)
		return false;
	return e->discovered_at_ms < f->bare_before_ms ||
	       (!f->requester_broadcasting && !peertable_entry_bootstrap(f->table, e, f->now_ms));
}

/*
 * A table entry, repositories aside: for a silent requester only a bootstrap
 * peer a trusted server attested; a record that merely claims it could be
 * anyone's, collecting silent peers' addresses. A bare refresh tells no one
 * of anybody new: only a requester holding the peer can verify it.
 */
static bool
entry_allowed(const struct peertable_entry *e, const struct answer_filter *f)
{
	if (e->offline)
		return false;
	if (!f->requester_broadcasting && !f->certless &&
	    !peertable_entry_bootstrap(f->table, e, f->now_ms))
		return false;
	return record_passes(&e->rec, f);
}

/*
 * A seeder a torrent search may be told of: a broadcasting one to anyone (its
 * record carries the addresses it published), a silent one only to a
 * broadcasting requester, as the repository rule has it (a silent seeder's
 * record names it, never an address). So a silent requester is told only of
 * broadcasting seeders, the ones it can dial.
 */
static bool
seeder_allowed(const struct peertable_entry *e, const struct answer_filter *f)
{
	if (e->offline)
		return false;
	if (!f->requester_broadcasting && !e->rec.record.is_broadcasting)
		return false;
	return record_passes(&e->rec, f);
}

/* entry_allowed, and hosts a named repository (the index marked it). */
static bool
entry_passes(const struct peertable_entry *e, void *arg)
{
	const struct answer_filter *f = arg;

	return (f->any_repo || peertable_entry_marked(e, f->mark)) && entry_allowed(e, f);
}

/* Gathers entries that pass, up to max. */
struct gather {
	const struct answer_filter *f;
	const struct peertable_entry **out;
	size_t n, max;
};

static bool
gather_passing(const struct peertable_entry *e, void *arg)
{
	struct gather *g = arg;

	if (entry_allowed(e, g->f))
		g->out[g->n++] = e;
	return g->n < g->max;
}

static bool
gather_seeders(const struct peertable_entry *e, void *arg)
{
	struct gather *g = arg;

	if (seeder_allowed(e, g->f))
		g->out[g->n++] = e;
	return g->n < g->max;
}

/*
 * A rough upper bound of a record's size in a frame (JSON escaping
 * included); bare: without its certificate.
 */
static size_t
record_frame_size(const struct cm_signed_record *r, bool bare)
{
	size_t n = 64;

	n += r->canonical != NULL ? strlen(r->canonical) : 2048;
	n += r->public_certificate != NULL && !bare ? strlen(r->public_certificate) * 2 : 0;
	n += r->signature != NULL ? strlen(r->signature) : 0;
	return n;
}

/*
 * How many of recs (n; bare[i]: without its certificate, bare may be NULL)
 * one answer takes: records while their bytes stay within limit (at most
 * answer_max_bytes) and the list limit, and always the first one (no record
 * is over a frame's room), so a digest exchange never stalls on a big one.
 */
static size_t
answer_fits(const struct engine *e, const struct cm_signed_record *const *recs,
	    const bool *bare, size_t n, size_t limit)
{
	size_t k = 0, bytes = 0;

	if (limit > e->cfg.answer_max_bytes)
		limit = e->cfg.answer_max_bytes;
	if (limit > CM_MAX_FRAME - FRAME_OVERHEAD)
		limit = CM_MAX_FRAME - FRAME_OVERHEAD;
	while (k < n && k < CM_MAX_LIST_PEERS &&
	       (k == 0 || bytes + record_frame_size(recs[k], bare != NULL && bare[k]) <= limit)) {
		bytes += record_frame_size(recs[k], bare != NULL && bare[k]);
		k++;
	}
	return k;
}

/*
 * Sends recs (n, within answer_fits) to neighbour as one PEER_LIST_RESPONSE
 * for request_id, those marked bare (bare may be NULL) in its refreshes,
 * without their certificates. Returns the frame's length (0: not sent).
 */
static size_t
send_list(struct engine *e, struct engine_actions *out, uint64_t neighbour,
	  const char *request_id, const struct cm_signed_record *const *recs, const bool *bare,
	  size_t n, bool has_version, uint64_t version, int64_t now_ms, struct engine_rng *rng)
{
	struct cm_envelope env;
	struct cm_signed_record *batch;
	char id[CM_UUID_TEXT_LEN + 1];
	size_t len, sent = 0, whole = 0, nbare = 0;
	char *frame;

	if ((batch = calloc(n + 1, sizeof(*batch))) == NULL)
		return 0;
	/* shallow: borrowed for encoding only; the whole ones, then the bare ones, in order */
	for (size_t i = 0; i < n; i++)
		if (bare == NULL || !bare[i])
			batch[whole++] = *recs[i];
	for (size_t i = 0; bare != NULL && i < n; i++)
		if (bare[i]) {
			batch[whole + nbare] = *recs[i];
			batch[whole + nbare++].public_certificate = NULL;
		}
	eng_envelope_init(e, &env, CM_MSG_PEER_LIST_RESPONSE, 1, now_ms, rng, id);
	env.payload.list_response.request_id = (char *)request_id;
	env.payload.list_response.peers.items = batch;
	env.payload.list_response.peers.len = whole;
	env.payload.list_response.refreshes.items = batch + whole;
	env.payload.list_response.refreshes.len = nbare;
	env.payload.list_response.has_version = has_version;
	env.payload.list_response.version = (int64_t)version;
	if ((frame = eng_encode_frame(&env, &len)) != NULL) {
		if (eng_queue_send(e, out, neighbour, frame, len) == 0)
			sent = len;
		free(frame);
	}
	free(batch);
	return sent;
}

/*
 * Our own record joins an answer when it passes the same filter (we know our
 * is_bootstrap); in a torrent search's, when we seed it, on the seeders' terms.
 */
static size_t
add_self_if_passes(struct engine *e, const struct answer_filter *f, const char *info_hash,
		   const struct cm_signed_record **recs, size_t k)
{
	const struct cm_peer_record *r = &e->self.record;
	bool torrent = info_hash != NULL, any = !torrent && f->any_repo;

	if (!e->has_self || r->leaving ||
	    (!f->requester_broadcasting && !(torrent ? r->is_broadcasting : r->is_bootstrap)) ||
	    !record_passes(&e->self, f))
		return k;
	for (size_t i = 0; !torrent && !any && i < f->repos->len; i++)
		for (size_t j = 0; !any && j < r->repositories.len; j++)
			any = strcmp(r->repositories.items[j].name, f->repos->items[i]) == 0;
	for (size_t j = 0; torrent && !any && j < r->torrents.len; j++)
		any = strcmp(r->torrents.items[j].info_hash, info_hash) == 0;
	if (any)
		recs[k++] = &e->self;
	return k;
}

/*
 * The table's entries an answer to req may carry, up to max, into entries;
 * *next receives the table version a digest's answer covers. Returns how many.
 */
static size_t
gather_answer(struct engine *e, struct answer_filter *f, const struct cm_peer_request *req,
	      size_t max, const struct peertable_entry **entries, uint64_t *next)
{
	const char *const *names = (const char *const *)req->repositories.items;
	struct gather g = {f, entries, 0, max};
	const struct peertable_entry *pe;
	size_t cursor = 0;

	if (req->has_digest) {
		if (!f->any_repo)
			f->mark = peertable_mark_hosting(e->table, names, req->repositories.len);
		g.n = peertable_changes_since(e->table, (uint64_t)req->digest.since, max,
					      entry_passes, f, entries, next);
	} else if (max == 0) {
		return 0;
	} else if (req->has_torrent_search) {
		/* Through the torrent index: the cost is the seeders, not the table. */
		peertable_each_seeding(e->table, req->torrent_search.info_hash, gather_seeders, &g);
	} else if (!f->any_repo) {
		/* Through the index: the cost is the hosts, not the table. */
		peertable_each_hosting(e->table, names, req->repositories.len, gather_passing, &g);
	} else {
		while (g.n < max && (pe = peertable_next(e->table, &cursor)) != NULL)
			if (entry_passes(pe, f))
				entries[g.n++] = pe;
	}
	return g.n;
}

bool
eng_answer_request(struct engine *e, struct nb *n, const struct cm_envelope *env,
		   int64_t now_ms, struct engine_rng *rng, struct engine_actions *out)
{
	struct bucket *budget = &n->rate.answer_bytes;
	const struct cm_peer_request *req = &env->payload.request;
	const struct peertable_entry *requester = peertable_get(e->table, n->email);
	struct answer_filter f = {
		.table = e->table,
		.requester_broadcasting = requester != NULL && requester->rec.record.is_broadcasting,
		.requester_email = n->email,
		.repos = &req->repositories,
		.now_ms = now_ms,
		.expire_ms = e->cfg.expire_ms,
		.any_repo = req->repositories.len == 0,
	};
	unsigned char *bloom = NULL;
	size_t max, k = 0, bloom_len = 0;
	const struct peertable_entry **entries;
	const struct cm_signed_record **recs;
	bool *bare = NULL;
	uint64_t next = peertable_version(e->table);
	bool answered = true;

	if (req->has_digest) {
		if (cm_base64_decode(req->digest.bloom, strlen(req->digest.bloom), &bloom, &bloom_len,
				     NULL) != 0 ||
		    bloom_len == 0) {
			free(bloom);
			return true;
		}
		f.bloom = bloom;
		f.bloom_bits = bloom_len * 8;
		f.k = req->digest.k;
		f.seed = req->digest.seed;
		f.issued_after_ms = req->digest.issued_after_ms;
		/*
		 * A peer we have held for a while the requester holds too, most
		 * likely (it was in sync then): its refresh goes bare.
		 */
		if (req->digest.certless) {
			f.certless = true;
			f.bare_before_ms = now_ms - e->cfg.ae_fresh_ms;
			n->pulls_refreshes = true;
		}
		max = e->cfg.ae_max_records;
	} else {
		max = e->cfg.request_max_records;
	}
	entries = calloc(max + 1, sizeof(*entries));
	recs = calloc(max + 2, sizeof(*recs));
	bare = calloc(max + 2, sizeof(*bare));
	if (entries != NULL && recs != NULL && bare != NULL) {
		size_t ne = gather_answer(e, &f, req, max, entries, &next), fit, fit_max, room;

		for (size_t i = 0; i < ne; i++) {
			bare[k] = entry_bare(entries[i], &f);
			recs[k++] = &entries[i]->rec;
		}
		k = add_self_if_passes(e, &f,
				       req->has_torrent_search ? req->torrent_search.info_hash : NULL,
				       recs, k);
		/* What our answers to n may still weigh: a burst of requests cannot pile them up. */
		eng_bucket_refill(budget, &e->cfg.rate_answer_bytes, now_ms);
		room = budget->tokens > 0 ? (size_t)budget->tokens : 0;
		if (k > 0 && record_frame_size(recs[0], bare[0]) > room) {
			e->stats.answers_limited++;
			answered = false;
			goto cleanup;
		}
		fit_max = answer_fits(e, recs, bare, k, SIZE_MAX);
		fit = answer_fits(e, recs, bare, k, room);
		if (fit < k) {
			/* Cut: the digest's next exchange asks from the last record sent. */
			if (fit < ne) /* fit >= 1: the first record always goes */
				next = entries[fit - 1]->version;
			e->stats.answers_cut += fit_max < k;
			e->stats.answers_limited += fit < fit_max;
		}
		budget->tokens -= (double)send_list(e, out, n->id, env->id, recs, bare, fit,
						    req->has_digest, next, now_ms, rng);
		e->stats.requests_answered++;
		/*
		 * News at the requester while our table stood still: the push may
		 * have missed us, and our own rounds are slow now. Ask back.
		 */
		if (req->has_digest && req->digest.recent && !eng_ae_recent(e, now_ms))
			eng_anti_entropy_with(e, n, now_ms, rng, out);
	}
cleanup:
	free(entries);
	free(recs);
	free(bare);
	free(bloom);
	return answered;
}

/* Answers to our requests */

/* Whether rec hosts a repository p asked for, or seeds the torrent it searched. */
static bool
answers(const struct cm_signed_record *rec, const struct pending *p)
{
	const struct cm_peer_record *r = &rec->record;

	for (size_t i = 0; p->info_hash[0] != '\0' && i < r->torrents.len; i++)
		if (strcmp(r->torrents.items[i].info_hash, p->info_hash) == 0)
			return true;
	for (size_t i = 0; i < p->repos.len; i++)
		for (size_t j = 0; j < r->repositories.len; j++)
			if (strcmp(r->repositories.items[j].name, p->repos.items[i]) == 0)
				return true;
	return false;
}

/*
 * The bare refreshes of an anti-entropy answer, each checked with the
 * certificate we hold for its peer. One of a peer we do not hold is dropped;
 * while the table has room, n->want_whole asks for them whole next time (a
 * silent agent is answered whole only about bootstrap peers: it asks again
 * only for a record that claims to be one).
 */
static void
receive_bare(struct engine *e, struct nb *n, const struct cm_peer_list_response *lr,
	     int64_t now_ms, struct engine_actions *out)
{
	for (size_t i = 0; i < lr->refreshes.len; i++) {
		struct cm_signed_record rec = lr->refreshes.items[i]; /* shallow */
		const struct peertable_entry *held = peertable_get(e->table, rec.record.email);
		char fp[CM_FINGERPRINT_LEN + 1];
		enum engine_verdict v;

		if (rec.public_certificate != NULL)
			continue; /* whole ones belong in peers */
		if (held == NULL || held->rec.public_certificate == NULL) {
			n->want_whole = n->want_whole ||
					(!peertable_full(e->table) &&
					 (!e->has_self || e->self.record.is_broadcasting ||
					  rec.record.is_bootstrap));
			continue;
		}
		if ((rec.public_certificate = strdup(held->rec.public_certificate)) == NULL)
			return;
		v = eng_check_record(e, &rec, now_ms, NULL, fp);
		if (v == ENGINE_ACCEPTED &&
		    eng_apply_record(e, &rec, fp, NULL, false, now_ms) == ENGINE_ACCEPTED)
			e->stats.refreshes_pulled++;
		free(rec.public_certificate);
		if (v == ENGINE_DROP_SIGNATURE && eng_bad_signature(e, n, out))
			return;
	}
}

/*
 * The first answer to a request of ours consumes it: later ones are dropped
 * (a discovery request stays until engine_request_take, for its emails).
 */
enum engine_verdict
eng_receive_list(struct engine *e, struct nb *n, const struct cm_envelope *env, int64_t now_ms,
		 struct engine_actions *out)
{
	const struct cm_peer_list_response *lr = &env->payload.list_response;
	struct pending *p = pending_get(e, lr->request_id, n->id);
	const struct peertable_entry *held;

	if (p == NULL)
		return ENGINE_DROP_UNSOLICITED;
	if (p->answered)
		return ENGINE_DROP_ANSWERED;
	p->answered = true;
	for (size_t i = 0; i < lr->peers.len; i++) {
		const struct cm_signed_record *rec = &lr->peers.items[i];
		char fp[CM_FINGERPRINT_LEN + 1];
		enum engine_verdict v = eng_check_record(e, rec, now_ms, NULL, fp);
		bool wanted = !p->anti_entropy && p->wanted < ENGINE_WANTED_MAX && answers(rec, p);

		if (v == ENGINE_ACCEPTED) {
			v = eng_apply_record(e, rec, fp, NULL, wanted, now_ms);
			p->wanted += wanted;
		}
		else if (v == ENGINE_DROP_SIGNATURE && eng_bad_signature(e, n, out))
			break;
		if (v != ENGINE_ACCEPTED && v != ENGINE_DROP_OLD)
			continue;
		if (!p->anti_entropy && p->emails.len < e->cfg.request_max_records &&
		    (held = peertable_get(e->table, rec->record.email)) != NULL &&
		    (p->info_hash[0] == '\0' || peertable_entry_torrent(held, p->info_hash) != NULL))
			cm_strlist_append(&p->emails, rec->record.email);
	}
	if (p->anti_entropy)
		receive_bare(e, n, lr, now_ms, out);
	/* A bare refresh we could not check: the next digest asks for the same records whole. */
	if (p->anti_entropy && lr->has_version && !n->want_whole)
		n->since = (uint64_t)lr->version;
	if (p->anti_entropy)
		pending_drop(e, (size_t)(p - e->pending));
	return ENGINE_ACCEPTED;
}

/* Anti-entropy */

/* Keys of our records changed after our version mark, plus our own record. */
struct bloom_build {
	unsigned char *bits;
	size_t nbits;
	int64_t seed;
};

static bool
bloom_collect(const struct peertable_entry *pe, void *arg)
{
	struct bloom_build *b = arg;

	bloom_add(b->bits, b->nbits, BLOOM_K, pe->rec.record.email, pe->rec.record.seq, b->seed);
	return false;
}

bool
eng_ae_recent(const struct engine *e, int64_t now_ms)
{
	return e->last_change_ms != 0 && now_ms - e->last_change_ms < e->cfg.ae_hot_ms;
}

static bool
ae_pending_with(const struct engine *e, uint64_t nb)
{
	for (size_t i = 0; i < e->npending; i++)
		if (e->pending[i].anti_entropy && e->pending[i].nb == nb && !e->pending[i].answered)
			return true;
	return false;
}

/* One digest exchange with n: our digest now, its answer later (eng_receive_list). */
static void
digest_to(struct engine *e, struct nb *n, int64_t now_ms, struct engine_rng *rng,
	  struct engine_actions *out)
{
	size_t nkeys, nbytes;
	const struct peertable_entry *held;
	struct bloom_build b;
	struct cm_envelope env;
	char id[CM_UUID_TEXT_LEN + 1];
	uint64_t next;
	char *frame;
	size_t len;

	/*
	 * The filter holds what changed here since the exchange before the last
	 * one with this neighbour: what it changed since then is most likely
	 * among it, and older news is rare.
	 */
	nkeys = (size_t)(peertable_version(e->table) - n->mark_prev) + 1;
	if (nkeys > peertable_count(e->table) + 1)
		nkeys = peertable_count(e->table) + 1;
	held = peertable_get(e->table, n->email);
	nbytes = (nkeys * BLOOM_BITS_PER_KEY + 7) / 8;
	if (nbytes < 8)
		nbytes = 8;
	if (nbytes > CM_MAX_BLOOM_BYTES)
		nbytes = CM_MAX_BLOOM_BYTES;
	b.nbits = nbytes * 8;
	b.seed = (int64_t)(eng_rng_u64(rng) & (uint64_t)CM_MAX_SAFE_INTEGER);
	if ((b.bits = calloc(1, nbytes)) == NULL)
		return;
	peertable_changes_since(e->table, n->mark_prev, SIZE_MAX, bloom_collect, &b, NULL, &next);
	/* The neighbour's own record, as we hold it: else every answer would carry it again. */
	if (held != NULL)
		bloom_collect(held, &b);
	eng_envelope_init(e, &env, CM_MSG_PEER_REQUEST, 1, now_ms, rng, id);
	env.payload.request.has_digest = true;
	env.payload.request.digest.since = (int64_t)n->since;
	/*
	 * Once in sync, only recent records are wanted. Without this, a
	 * newcomer that pulled the whole table would offer all of it back to
	 * every neighbour as its own changes (the simulator's churn runs: about
	 * 200 MB per newcomer at 10k nodes).
	 */
	if (e->assumed_synced ||
	    (e->timers_started && now_ms - e->started_ms >= e->cfg.ae_warm_ms)) {
		env.payload.request.digest.issued_after_ms = now_ms - e->cfg.ae_fresh_ms;
		/* In sync, we hold what the neighbour held a while: its refreshes may come bare. */
		env.payload.request.digest.certless = e->cfg.pull_refreshes && !n->want_whole;
		n->want_whole = false;
	}
	env.payload.request.digest.recent = eng_ae_recent(e, now_ms);
	env.payload.request.digest.seed = b.seed;
	env.payload.request.digest.k = BLOOM_K;
	env.payload.request.digest.bloom = cm_base64_encode(b.bits, nbytes);
	free(b.bits);
	if (env.payload.request.digest.bloom == NULL)
		return;
	frame = eng_encode_frame(&env, &len);
	free(env.payload.request.digest.bloom);
	if (frame == NULL)
		return;
	eng_queue_send(e, out, n->id, frame, len);
	free(frame);
	pending_add(e, id, n->id, true, now_ms);
	n->mark_prev = n->mark_last;
	n->mark_last = peertable_version(e->table);
	e->stats.anti_entropy_rounds++;
}

void
eng_anti_entropy(struct engine *e, int64_t now_ms, struct engine_rng *rng,
		 struct engine_actions *out)
{
	size_t authed = engine_neighbour_count(e), pick;

	if (authed == 0)
		return;
	pick = eng_rng_below(rng, authed);
	for (size_t i = 0; i < e->nnbs; i++)
		if (e->nbs[i].authed && pick-- == 0) {
			digest_to(e, &e->nbs[i], now_ms, rng, out);
			return;
		}
}

void
eng_anti_entropy_with(struct engine *e, struct nb *n, int64_t now_ms, struct engine_rng *rng,
		      struct engine_actions *out)
{
	if (n->authed && !n->closing && !ae_pending_with(e, n->id))
		digest_to(e, n, now_ms, rng, out);
}

/* Discovery */

/*
 * req to up to k random authenticated neighbours, or to the one neighbour
 * *to under the request id already in id (when id is not empty: answers
 * join that request), one pending entry per asked neighbour under the one
 * request id (a torrent search's remembers info_hash). Returns how many
 * were asked.
 */
static int
ask_neighbours(struct engine *e, const struct cm_peer_request *req, int k, const uint64_t *to,
	       int64_t now_ms, struct engine_rng *rng, char id[CM_UUID_TEXT_LEN + 1],
	       struct engine_actions *out)
{
	struct cm_envelope env;
	char joined[CM_UUID_TEXT_LEN + 1];
	char *frame;
	size_t len, before = out->len;
	int asked = 0;

	snprintf(joined, sizeof(joined), "%s", to != NULL ? id : "");
	id[0] = '\0';
	if (!e->has_self || engine_neighbour_count(e) == 0)
		return 0;
	if (to != NULL && (engine_neighbour_email(e, *to) == NULL ||
			   (joined[0] != '\0' && pending_get(e, joined, *to) != NULL))) {
		snprintf(id, CM_UUID_TEXT_LEN + 1, "%s", joined);
		return 0;
	}
	eng_envelope_init(e, &env, CM_MSG_PEER_REQUEST, 1, now_ms, rng, id);
	if (joined[0] != '\0')
		snprintf(id, CM_UUID_TEXT_LEN + 1, "%s", joined);
	env.payload.request = *req;
	if ((frame = eng_encode_frame(&env, &len)) == NULL)
		return 0;
	if (to != NULL)
		eng_queue_send(e, out, *to, frame, len);
	else
		eng_send_random(e, out, frame, len, k, 0, rng);
	free(frame);
	for (size_t i = before; i < out->len; i++) {
		struct pending *p = pending_add(e, id, out->items[i].neighbour, false, now_ms);

		/* Out of memory: the request went, its answer will be dropped as unsolicited. */
		if (p != NULL && req->has_torrent_search)
			snprintf(p->info_hash, sizeof(p->info_hash), "%s",
				 req->torrent_search.info_hash);
		/* Out of memory here: its answers are applied like gossip. */
		for (size_t r = 0; p != NULL && r < req->repositories.len; r++)
			if (cm_strlist_append(&p->repos, req->repositories.items[r]) != 0)
				cm_strlist_clear(&p->repos);
		asked++;
	}
	return asked;
}

int
engine_request(struct engine *e, const struct cm_strlist *repos, int k, int64_t now_ms,
	       struct engine_rng *rng, char id_out[CM_UUID_TEXT_LEN + 1],
	       struct engine_actions *out)
{
	struct cm_peer_request req = {.repositories = *repos};

	return ask_neighbours(e, &req, k, NULL, now_ms, rng, id_out, out);
}

int
engine_request_to(struct engine *e, const struct cm_strlist *repos, uint64_t neighbour,
		  int64_t now_ms, struct engine_rng *rng, char id[CM_UUID_TEXT_LEN + 1],
		  struct engine_actions *out)
{
	struct cm_peer_request req = {.repositories = *repos};

	return ask_neighbours(e, &req, 1, &neighbour, now_ms, rng, id, out);
}

int
engine_ask_torrent(struct engine *e, const char *info_hash, int k, int64_t now_ms,
		   struct engine_rng *rng, char id_out[CM_UUID_TEXT_LEN + 1],
		   struct engine_actions *out)
{
	struct cm_peer_request req = {.has_torrent_search = true,
				      .torrent_search.info_hash = (char *)info_hash};

	id_out[0] = '\0';
	if (info_hash == NULL || !cm_valid_hex_digest(info_hash, strlen(info_hash), CM_INFO_HASH_LEN))
		return -1;
	return ask_neighbours(e, &req, k, NULL, now_ms, rng, id_out, out);
}

int
engine_request_take(struct engine *e, const char *id, struct cm_strlist *emails)
{
	bool found = false;

	for (size_t i = e->npending; i-- > 0;) {
		struct pending *p = &e->pending[i];

		if (strcmp(p->id, id) != 0)
			continue;
		found = true;
		for (size_t j = 0; j < p->emails.len; j++) {
			bool dup = false;

			for (size_t m = 0; m < emails->len && !dup; m++)
				dup = strcmp(emails->items[m], p->emails.items[j]) == 0;
			if (!dup)
				cm_strlist_append(emails, p->emails.items[j]);
		}
		pending_drop(e, i);
	}
	return found ? 0 : -1;
}
