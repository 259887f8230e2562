/* engine.c - the gossip rules (see engine.h). Pure: no sockets, no clock. */
#include "core/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/base64.h"
#include "fb/codec.h"
#include "fb/digest.h"
#include "fb/hash.h"
#include "fb/hex.h"
#include "fb/timeutil.h"

#define ENGINE_MAX_PENDING 64
#define BLOOM_BITS_PER_KEY 10 /* with 7 hashes: about 1 % false positives */
#define BLOOM_K 7
/* Room for the envelope around the records of one PEER_LIST_RESPONSE frame. */
#define FRAME_OVERHEAD 1024

struct nb {
	uint64_t id;
	bool inbound;
	bool authed;
	bool has_tls_fp;
	char tls_fp[CM_FINGERPRINT_LEN + 1];
	char *email;
	uint64_t since;       /* its table version our last digest answer covered */
	uint64_t mark_prev;   /* our table version at the exchange before the last */
	uint64_t mark_last;   /* our table version at the last exchange */
};

struct pending {
	char id[CM_UUID_TEXT_LEN + 1];
	int64_t created_ms;
	uint64_t nb;
	bool anti_entropy;
	struct cm_strlist emails; /* discovery: who answered records */
};

/* A set of 128-bit ids, open addressing; {0, 0} marks an empty slot. */
struct idset {
	uint64_t (*keys)[2];
	size_t cap, len;
};

struct engine {
	struct engine_config cfg;
	struct peertable *table;
	const struct cm_identity *id;
	bool has_self;
	struct cm_signed_record self;
	char *self_text;   /* self as JSON text, with its certificate: every hello carries it */
	char self_fp[CM_FINGERPRINT_LEN + 1];

	struct nb *nbs;
	size_t nnbs, capnbs;

	struct pending pending[ENGINE_MAX_PENDING];
	size_t npending;

	/* Two generations: an id is remembered for between half and all of the limits. */
	struct idset seen_cur, seen_prev;
	int64_t seen_started_ms;

	bool timers_started;
	int64_t started_ms; /* first tick */
	bool assumed_synced; /* engine_assume_synced: in sync from the start */
	int64_t next_heartbeat_ms, next_reannounce_ms, next_ae_ms, next_expire_ms;
	int64_t next_table_expire_ms;
	struct engine_stats stats;
};

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
	cfg->seen_max = 65536;
	cfg->seen_max_age_ms = 600 * 1000LL;
	cfg->ae_max_records = 256;
	cfg->ae_warm_ms = 300 * 1000LL;
	cfg->ae_fresh_ms = 60 * 1000LL;
	cfg->request_max_records = 256;
	cfg->request_timeout_ms = 10 * 1000LL;
	cfg->verify_signatures = true;
	cfg->hash_key = (struct cm_hash_key){0, 0};
}

static const char *const verdict_names[ENGINE_VERDICT_COUNT] = {
	"accepted",  "duplicate", "ttl",     "future",  "signature", "pin",
	"expired",   "old",       "limit",   "invalid", "auth",      "unknown_neighbour",
	"unsolicited", "unknown_certificate",
};

const char *
engine_verdict_name(enum engine_verdict v)
{
	return (unsigned)v < ENGINE_VERDICT_COUNT ? verdict_names[v] : "?";
}

/* Randomness */

static uint64_t
rng_u64(struct engine_rng *rng)
{
	return rng->next(rng->ctx);
}

/* Uniform in [0, n), n > 0. */
static size_t
rng_below(struct engine_rng *rng, size_t n)
{
	return (size_t)(rng_u64(rng) % n);
}

static bool
rng_chance(struct engine_rng *rng, double p)
{
	return (double)(rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0) < p;
}

/* A version 4 UUID from the caller's randomness, so runs are reproducible. */
static void
rng_uuid(struct engine_rng *rng, char out[CM_UUID_TEXT_LEN + 1])
{
	uint64_t a = rng_u64(rng), b = rng_u64(rng);

	a = (a & ~0xF000ULL) | 0x4000ULL;
	b = (b & ~(3ULL << 62)) | (2ULL << 62);
	snprintf(out, CM_UUID_TEXT_LEN + 1, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
		 (unsigned)((a >> 16) & 0xFFFF), (unsigned)(a & 0xFFFF), (unsigned)(b >> 48),
		 (unsigned long long)(b & 0xFFFFFFFFFFFFULL));
}

/* Seen ids */

/* The 128 bits of a UUID's hex digits (the codec checked its form); never {0, 0}. */
static void
uuid_key(const char *s, uint64_t key[2])
{
	char digits[32];
	unsigned char raw[16];
	size_t n = 0;

	for (; *s != '\0' && n < sizeof(digits); s++)
		if (*s != '-')
			digits[n++] = *s;
	key[0] = key[1] = 0;
	if (cm_hex_decode(digits, n, raw, sizeof(raw), NULL) == 0)
		for (int i = 0; i < 8; i++) {
			key[0] = key[0] << 8 | raw[i];
			key[1] = key[1] << 8 | raw[8 + i];
		}
	if (key[0] == 0 && key[1] == 0)
		key[1] = 1;
}

/* Keyed, since ids come from the network: nobody can send ids that share a probe chain. */
static size_t
idset_slot(const struct idset *s, const struct cm_hash_key *hk, const uint64_t key[2])
{
	size_t i = (size_t)(cm_siphash(hk, key, 2 * sizeof(*key)) & (s->cap - 1));

	while ((s->keys[i][0] != 0 || s->keys[i][1] != 0) &&
	       (s->keys[i][0] != key[0] || s->keys[i][1] != key[1]))
		i = (i + 1) & (s->cap - 1);
	return i;
}

static bool
idset_has(const struct idset *s, const struct cm_hash_key *hk, const uint64_t key[2])
{
	size_t i;

	if (s->cap == 0)
		return false;
	i = idset_slot(s, hk, key);
	return s->keys[i][0] != 0 || s->keys[i][1] != 0;
}

static int
idset_add(struct idset *s, const struct cm_hash_key *hk, const uint64_t key[2])
{
	size_t i;

	if ((s->len + 1) * 2 > s->cap) {
		struct idset bigger = {.cap = s->cap == 0 ? 64 : s->cap * 2};

		if ((bigger.keys = calloc(bigger.cap, sizeof(*bigger.keys))) == NULL)
			return -1;
		for (size_t j = 0; j < s->cap; j++) {
			if (s->keys[j][0] != 0 || s->keys[j][1] != 0) {
				i = idset_slot(&bigger, hk, s->keys[j]);
				bigger.keys[i][0] = s->keys[j][0];
				bigger.keys[i][1] = s->keys[j][1];
				bigger.len++;
			}
		}
		free(s->keys);
		*s = bigger;
	}
	i = idset_slot(s, hk, key);
	if (s->keys[i][0] == 0 && s->keys[i][1] == 0) {
		s->keys[i][0] = key[0];
		s->keys[i][1] = key[1];
		s->len++;
	}
	return 0;
}

static void
idset_free(struct idset *s)
{
	free(s->keys);
	memset(s, 0, sizeof(*s));
}

static bool
seen_has(const struct engine *e, const char *id)
{
	uint64_t key[2];

	uuid_key(id, key);
	return idset_has(&e->seen_cur, &e->cfg.hash_key, key) ||
	       idset_has(&e->seen_prev, &e->cfg.hash_key, key);
}

static void
seen_rotate_if_due(struct engine *e, int64_t now_ms)
{
	if (e->seen_cur.len * 2 < e->cfg.seen_max &&
	    now_ms - e->seen_started_ms < e->cfg.seen_max_age_ms / 2)
		return;
	idset_free(&e->seen_prev);
	e->seen_prev = e->seen_cur;
	memset(&e->seen_cur, 0, sizeof(e->seen_cur));
	e->seen_started_ms = now_ms;
}

static void
seen_add(struct engine *e, const char *id, int64_t now_ms)
{
	uint64_t key[2];

	seen_rotate_if_due(e, now_ms);
	uuid_key(id, key);
	idset_add(&e->seen_cur, &e->cfg.hash_key, key);
}

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
static int
queue_send(struct engine *e, struct engine_actions *out, uint64_t neighbour, const char *frame,
	   size_t len)
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

/* Encodes env into a new frame string the caller frees; NULL on failure. */
static char *
encode_frame(const struct cm_envelope *env, size_t *len)
{
	return cm_json_dump_take(cm_envelope_encode(env), len);
}

/* An envelope from us with a fresh id; payload left for the caller. */
static void
envelope_init(struct engine *e, struct cm_envelope *env, enum cm_msg_type type, int ttl,
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

/* Is any authenticated neighbour other than except silent? */
static bool
any_silent_nb(const struct engine *e, uint64_t except)
{
	for (size_t i = 0; i < e->nnbs; i++)
		if (e->nbs[i].authed && e->nbs[i].id != except && nb_silent(e, &e->nbs[i]))
			return true;
	return false;
}

/*
 * Sends one encoded frame to up to k random authenticated neighbours other
 * than except; silent neighbours get silent_frame instead when it is not NULL.
 */
static size_t
send_random2(struct engine *e, struct engine_actions *out, const char *frame, size_t len,
	     const char *silent_frame, size_t silent_len, int k, uint64_t except,
	     struct engine_rng *rng)
{
	uint64_t *ids = malloc((e->nnbs + 1) * sizeof(*ids));
	size_t n = 0, sent = 0;

	if (ids == NULL)
		return 0;
	for (size_t i = 0; i < e->nnbs; i++)
		if (e->nbs[i].authed && e->nbs[i].id != except)
			ids[n++] = e->nbs[i].id;
	for (size_t i = 0; i < n && (int)i < k; i++) {
		size_t j = i + rng_below(rng, n - i);
		uint64_t t = ids[i];

		ids[i] = ids[j];
		ids[j] = t;
		if (silent_frame != NULL && nb_silent(e, nb_get(e, ids[i])) ?
			    queue_send(e, out, ids[i], silent_frame, silent_len) == 0 :
			    queue_send(e, out, ids[i], frame, len) == 0)
			sent++;
	}
	free(ids);
	return sent;
}

static size_t
send_random(struct engine *e, struct engine_actions *out, const char *frame, size_t len, int k,
	    uint64_t except, struct engine_rng *rng)
{
	return send_random2(e, out, frame, len, NULL, 0, k, except, rng);
}

/* Verification */

/*
 * Checks a signed record and gives its certificate fingerprint. Without
 * signature checks (the simulator at scale) the fingerprint is the SHA-256
 * of the PEM text, still one per certificate.
 */
static int
verify_record(const struct engine *e, const struct cm_signed_record *rec,
	      char fp[CM_FINGERPRINT_LEN + 1])
{
	struct cm_err err;

	if (e->cfg.verify_signatures)
		return cm_record_verify(rec, fp, &err);
	if (rec->public_certificate == NULL)
		return -1;
	return cm_sha256_hex(rec->public_certificate, strlen(rec->public_certificate), fp);
}

int
engine_record_fingerprint(const struct engine *e, const struct cm_signed_record *rec,
			  char fp[CM_FINGERPRINT_LEN + 1])
{
	return verify_record(e, rec, fp);
}

/*
 * The checks every received record goes through before it may touch the
 * table: cheap ones first, so a known record costs no signature check.
 * verified_fp, when not NULL, is the fingerprint of a signature already
 * checked (a hello's). Returns ENGINE_ACCEPTED with fp filled, or the
 * verdict that drops it.
 */
static enum engine_verdict
check_record(struct engine *e, const struct cm_signed_record *rec, int64_t now_ms,
	     const char *verified_fp, char fp[CM_FINGERPRINT_LEN + 1])
{
	const struct cm_peer_record *r = &rec->record;
	const struct peertable_entry *held;
	const char *pinned;

	if (r->issued_at_ms > now_ms + e->cfg.max_future_ms)
		return ENGINE_DROP_FUTURE;
	if (now_ms - r->issued_at_ms > e->cfg.expire_ms)
		return ENGINE_DROP_EXPIRED;
	if (e->has_self && strcmp(r->email, e->self.record.email) == 0)
		return ENGINE_DROP_OLD;
	held = peertable_get(e->table, r->email);
	if (held != NULL && r->seq <= held->rec.record.seq)
		return ENGINE_DROP_OLD;
	if (verified_fp != NULL)
		memcpy(fp, verified_fp, CM_FINGERPRINT_LEN + 1);
	else if (verify_record(e, rec, fp) != 0)
		return ENGINE_DROP_SIGNATURE;
	pinned = peertable_pinned(e->table, r->email);
	if (pinned != NULL && strcmp(pinned, fp) != 0)
		return ENGINE_DROP_PIN;
	return ENGINE_ACCEPTED;
}

/* Applies a checked record. Returns the verdict for it. */
static enum engine_verdict
apply_record(struct engine *e, const struct cm_signed_record *rec, const char *fp, int64_t now_ms)
{
	size_t stripped = 0;
	enum peertable_result r = peertable_apply(e->table, rec, fp, now_ms, &stripped);

	e->stats.stripped_addresses += stripped;
	switch (r) {
	case PEERTABLE_INSERTED:
	case PEERTABLE_REPLACED:
		e->stats.records_applied++;
		return ENGINE_ACCEPTED;
	case PEERTABLE_FULL:
		/* No room here, but the record is valid: others may keep it. */
		return ENGINE_ACCEPTED;
	case PEERTABLE_OLD:
	case PEERTABLE_SELF:
		return ENGINE_DROP_OLD;
	case PEERTABLE_EXPIRED:
		return ENGINE_DROP_EXPIRED;
	case PEERTABLE_PIN_MISMATCH:
		return ENGINE_DROP_PIN;
	case PEERTABLE_ERROR:
		break;
	}
	return ENGINE_DROP_LIMIT;
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
	e->id = id;
	return e;
}

void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->nnbs; i++)
		free(e->nbs[i].email);
	free(e->nbs);
	for (size_t i = 0; i < e->npending; i++)
		cm_strlist_clear(&e->pending[i].emails);
	idset_free(&e->seen_cur);
	idset_free(&e->seen_prev);
	cm_signed_record_clear(&e->self);
	free(e->self_text);
	free(e);
}

const struct engine_stats *
engine_stats(const struct engine *e)
{
	return &e->stats;
}

const struct cm_signed_record *
engine_self(const struct engine *e)
{
	return e->has_self ? &e->self : NULL;
}

/* Our certificates' PEM and signatures' base64 lengths (ECDSA P-256, see identity.c). */
#define SIM_CERT_PEM_LEN 583
#define SIM_SIGNATURE_LEN 96
#define SIM_FILLER "MIIBkTCCATegAwIBAgIUXk2sZ1+e3tLGj0n9kq3bYb0v7hAwCgYIKoZIzj0EAwIw"

/*
 * Signs rec as ours. Without an identity (the simulator with checks off) the
 * record carries a placeholder certificate naming the email (as long as a
 * real one) and no real signature; verify_record then only fingerprints it.
 */
static int
sign_self(struct engine *e, const struct cm_peer_record *rec, struct cm_signed_record *out)
{
	struct cm_err err;
	json_t *j;
	char pem[CM_MAX_EMAIL + 1024], sig[SIM_SIGNATURE_LEN + 1];
	int n;

	if (e->id != NULL)
		return cm_record_sign(rec, e->id, out, &err);
	memset(out, 0, sizeof(*out));
	/* As long as our real ones, so the simulator counts real bytes. */
	n = snprintf(pem, sizeof(pem), "-----BEGIN CERTIFICATE-----\n%s\n", rec->email);
	while (n > 0 && (size_t)n + 26 + 2 < SIM_CERT_PEM_LEN && (size_t)n + 65 < sizeof(pem)) {
		int line = (int)(SIM_CERT_PEM_LEN - 26 - 1 - (size_t)n);

		n += snprintf(pem + n, sizeof(pem) - (size_t)n, "%.*s\n", line < 64 ? line : 64,
			      SIM_FILLER);
	}
	snprintf(pem + n, sizeof(pem) - (size_t)n, "-----END CERTIFICATE-----\n");
	memset(sig, 'A', SIM_SIGNATURE_LEN);
	sig[SIM_SIGNATURE_LEN] = '\0';
	j = cm_peer_record_encode(rec);
	if (j == NULL)
		return -1;
	out->canonical = cm_json_canonical(j, &err);
	json_decref(j);
	out->public_certificate = strdup(pem);
	out->signature = strdup(sig);
	if (out->canonical == NULL || out->public_certificate == NULL || out->signature == NULL ||
	    cm_peer_record_copy(&out->record, rec) != 0) {
		cm_signed_record_clear(out);
		return -1;
	}
	return 0;
}

/* Re-signs our record with seq + 1 (at least now_ms, so it grows across restarts). */
static int
resign_self(struct engine *e, const struct cm_peer_record *tmpl, int64_t now_ms)
{
	struct cm_peer_record rec;
	struct cm_signed_record signed_rec;
	int64_t seq = e->has_self ? e->self.record.seq + 1 : 0;
	size_t len;

	if (cm_peer_record_copy(&rec, tmpl) != 0)
		return -1;
	if (seq < now_ms)
		seq = now_ms;
	rec.seq = seq;
	rec.issued_at_ms = now_ms;
	if (!rec.is_broadcasting) {
		cm_strlist_clear(&rec.socket_addresses);
		rec.port = 0;
	}
	if (sign_self(e, &rec, &signed_rec) != 0) {
		cm_peer_record_clear(&rec);
		return -1;
	}
	cm_peer_record_clear(&rec);
	if (verify_record(e, &signed_rec, e->self_fp) != 0) {
		cm_signed_record_clear(&signed_rec);
		return -1;
	}
	cm_signed_record_clear(&e->self);
	e->self = signed_rec;
	e->has_self = true;
	free(e->self_text);
	e->self_text = cm_json_dump_take(cm_signed_record_encode(&e->self), &len);
	return 0;
}

/*
 * Our announcement to every authenticated neighbour (or only to one: to != 0).
 * A refresh (with_cert false) leaves the certificate out: receivers verify it
 * with the one they hold, which more than halves the standing cost.
 */
static int
announce_self(struct engine *e, uint64_t to, bool with_cert, int64_t now_ms,
	      struct engine_rng *rng, struct engine_actions *out)
{
	struct cm_envelope env;
	char id[CM_UUID_TEXT_LEN + 1];
	char *frame;
	size_t len;

	envelope_init(e, &env, CM_MSG_PEER_ANNOUNCEMENT, e->cfg.ttl, now_ms, rng, id);
	env.payload.announcement.origin = e->self;
	if (with_cert && e->self_text != NULL) {
		/* Our record is written out once, not for every hello. */
		frame = cm_announcement_text(&env, e->self_text, &len);
	} else {
		if (!with_cert)
			env.payload.announcement.origin.public_certificate = NULL;
		frame = encode_frame(&env, &len);
	}
	if (frame == NULL)
		return -1;
	seen_add(e, id, now_ms);
	if (to != 0) {
		queue_send(e, out, to, frame, len);
	} else {
		for (size_t i = 0; i < e->nnbs; i++)
			if (e->nbs[i].authed)
				queue_send(e, out, e->nbs[i].id, frame, len);
	}
	free(frame);
	return 0;
}

int
engine_set_self(struct engine *e, const struct cm_peer_record *tmpl, int64_t now_ms,
		struct engine_rng *rng, struct engine_actions *out)
{
	if (tmpl->email == NULL ||
	    (e->id != NULL && strcmp(tmpl->email, cm_identity_email(e->id)) != 0))
		return -1;
	if (resign_self(e, tmpl, now_ms) != 0)
		return -1;
	e->next_reannounce_ms = e->cfg.reannounce_ms > 0 ? now_ms + e->cfg.reannounce_ms : INT64_MAX;
	return announce_self(e, 0, true, now_ms, rng, out);
}

int
engine_leave(struct engine *e, int64_t now_ms, struct engine_rng *rng, struct engine_actions *out)
{
	struct cm_peer_record tmpl;
	int rc;

	if (!e->has_self || cm_peer_record_copy(&tmpl, &e->self.record) != 0)
		return -1;
	tmpl.leaving = true;
	rc = resign_self(e, &tmpl, now_ms);
	cm_peer_record_clear(&tmpl);
	return rc == 0 ? announce_self(e, 0, true, now_ms, rng, out) : -1;
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
	if (tls_fingerprint != NULL) {
		n->has_tls_fp = true;
		snprintf(n->tls_fp, sizeof(n->tls_fp), "%s", tls_fingerprint);
	}
	/* The hello: our own record, straight to this neighbour only. */
	return announce_self(e, id, true, now_ms, rng, out);
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
				peertable_set_connected(e->table, e->nbs[i].email, false, now_ms);
		}
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
	e->pending[i] = e->pending[--e->npending];
}

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
	}
	p = &e->pending[e->npending++];
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->nb = nb;
	p->anti_entropy = ae;
	p->created_ms = now_ms;
	return p;
}

/* Answers */

/* What a requester may receive: the sharing rules, repositories, the digest. */
struct answer_filter {
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
};

static bool
record_passes(const struct cm_signed_record *rec, const struct answer_filter *f)
{
	const struct cm_peer_record *r = &rec->record;
	bool any = f->repos == NULL || f->repos->len == 0;

	/* A silent requester learns bootstrap peers only. */
	if (!f->requester_broadcasting && !r->is_bootstrap)
		return false;
	if (f->requester_email != NULL && strcmp(r->email, f->requester_email) == 0)
		return false;
	if (f->now_ms - r->issued_at_ms > f->expire_ms || r->issued_at_ms < f->issued_after_ms)
		return false;
	for (size_t i = 0; !any && i < f->repos->len; i++)
		for (size_t j = 0; !any && j < r->repositories.len; j++)
			any = strcmp(r->repositories.items[j].name, f->repos->items[i]) == 0;
	if (!any)
		return false;
	return f->bloom == NULL ||
	       !bloom_has(f->bloom, f->bloom_bits, f->k, r->email, r->seq, f->seed);
}

static bool
entry_passes(const struct peertable_entry *e, void *arg)
{
	return !e->offline && record_passes(&e->rec, arg);
}

/* A rough upper bound of a record's size in a frame (JSON escaping included). */
static size_t
record_frame_size(const struct cm_signed_record *r)
{
	size_t n = 64;

	n += r->canonical != NULL ? strlen(r->canonical) : 2048;
	n += r->public_certificate != NULL ? strlen(r->public_certificate) * 2 : 0;
	n += r->signature != NULL ? strlen(r->signature) : 0;
	return n;
}

/*
 * Sends recs to neighbour as PEER_LIST_RESPONSEs with request_id, split so
 * every frame stays within the frame and list limits. At least one frame goes
 * out, so an empty answer still tells the requester the version.
 */
static void
send_list(struct engine *e, struct engine_actions *out, uint64_t neighbour,
	  const char *request_id, const struct cm_signed_record *const *recs, size_t n,
	  bool has_version, uint64_t version, int64_t now_ms, struct engine_rng *rng)
{
	size_t i = 0;

	do {
		struct cm_envelope env;
		struct cm_signed_record *batch;
		char id[CM_UUID_TEXT_LEN + 1];
		size_t k = 0, bytes = FRAME_OVERHEAD, len;
		char *frame;

		batch = calloc(n - i + 1, sizeof(*batch));
		if (batch == NULL)
			return;
		while (i < n && k < CM_MAX_LIST_PEERS &&
		       bytes + record_frame_size(recs[i]) <= CM_MAX_FRAME) {
			bytes += record_frame_size(recs[i]);
			batch[k++] = *recs[i++]; /* shallow: borrowed for encoding only */
		}
		if (k == 0 && i < n) /* one record that cannot fit: never happens within limits */
			i++;
		envelope_init(e, &env, CM_MSG_PEER_LIST_RESPONSE, 1, now_ms, rng, id);
		env.payload.list_response.request_id = (char *)request_id;
		env.payload.list_response.peers.items = batch;
		env.payload.list_response.peers.len = k;
		env.payload.list_response.has_version = has_version;
		env.payload.list_response.version = (int64_t)version;
		if ((frame = encode_frame(&env, &len)) != NULL) {
			queue_send(e, out, neighbour, frame, len);
			free(frame);
		}
		free(batch);
	} while (i < n);
}

/* Our own record joins an answer when it passes the same filter. */
static size_t
add_self_if_passes(struct engine *e, const struct answer_filter *f,
		   const struct cm_signed_record **recs, size_t k)
{
	if (e->has_self && !e->self.record.leaving && record_passes(&e->self, f))
		recs[k++] = &e->self;
	return k;
}

static void
answer_request(struct engine *e, struct nb *n, const struct cm_envelope *env, int64_t now_ms,
	       struct engine_rng *rng, struct engine_actions *out)
{
	const struct cm_peer_request *req = &env->payload.request;
	const struct peertable_entry *requester = peertable_get(e->table, n->email);
	struct answer_filter f = {
		.requester_broadcasting = requester != NULL && requester->rec.record.is_broadcasting,
		.requester_email = n->email,
		.repos = &req->repositories,
		.now_ms = now_ms,
		.expire_ms = e->cfg.expire_ms,
	};
	unsigned char *bloom = NULL;
	size_t max, k = 0, bloom_len = 0;
	const struct peertable_entry **entries;
	const struct cm_signed_record **recs;
	uint64_t next = peertable_version(e->table);

	if (req->has_digest) {
		if (cm_base64_decode(req->digest.bloom, strlen(req->digest.bloom), &bloom, &bloom_len,
				     NULL) != 0 ||
		    bloom_len == 0) {
			free(bloom);
			return;
		}
		f.bloom = bloom;
		f.bloom_bits = bloom_len * 8;
		f.k = req->digest.k;
		f.seed = req->digest.seed;
		f.issued_after_ms = req->digest.issued_after_ms;
		max = e->cfg.ae_max_records;
	} else {
		max = e->cfg.request_max_records;
	}
	entries = calloc(max + 1, sizeof(*entries));
	recs = calloc(max + 2, sizeof(*recs));
	if (entries != NULL && recs != NULL) {
		size_t ne;

		if (req->has_digest) {
			ne = peertable_changes_since(e->table, (uint64_t)req->digest.since, max,
						     entry_passes, &f, entries, &next);
		} else {
			size_t cursor = 0;
			const struct peertable_entry *pe;

			ne = 0;
			while (ne < max && (pe = peertable_next(e->table, &cursor)) != NULL)
				if (entry_passes(pe, &f))
					entries[ne++] = pe;
		}
		for (size_t i = 0; i < ne; i++)
			recs[k++] = &entries[i]->rec;
		k = add_self_if_passes(e, &f, recs, k);
		send_list(e, out, n->id, env->id, recs, k, req->has_digest, next, now_ms, rng);
		e->stats.requests_answered++;
	}
	free(entries);
	free(recs);
	free(bloom);
}

/* Receiving */

/*
 * Passes a received announcement on: the frame as parsed (tree), with ttl - 1
 * and ourselves as sender; everything else, unknown fields included, as it came.
 * A refresh goes to a silent neighbour with cert (the one we hold) put back:
 * anti-entropy gives a silent peer bootstrap peers only, so it cannot pull a
 * record it missed and must be able to verify what is pushed to it.
 */
static void
forward(struct engine *e, const struct cm_envelope *env, json_t *tree, const char *cert,
	uint64_t from, struct engine_rng *rng, struct engine_actions *out)
{
	char *frame, *silent_frame = NULL;
	size_t len, silent_len = 0;

	if (env->ttl - 1 <= 0 || !e->has_self ||
	    (frame = cm_envelope_forward(tree, env->ttl - 1, e->self.record.email,
					 e->self.record.peer_id, &len)) == NULL)
		return;
	/* Written only when some neighbour needs it: refreshes are the steady state's traffic. */
	if (cert != NULL && any_silent_nb(e, from))
		silent_frame = cm_envelope_forward_with_certificate(tree, cert, &silent_len);
	e->stats.forwarded += send_random2(e, out, frame, len, silent_frame, silent_len,
					   e->cfg.fanout, from, rng);
	free(frame);
	free(silent_frame);
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
	if (verify_record(e, rec, fp) != 0) {
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
	return ENGINE_ACCEPTED;
}

/* hello_fp: the fingerprint authenticate verified when this is the session's hello, else NULL. */
static enum engine_verdict
receive_announcement(struct engine *e, struct nb *n, struct cm_envelope *env, json_t *tree,
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
	v = check_record(e, rec, now_ms, hello_fp, fp);
	if (v == ENGINE_ACCEPTED)
		v = apply_record(e, rec, fp, now_ms);
	/* Only news travels on. */
	if (v == ENGINE_ACCEPTED)
		forward(e, env, tree, refresh ? rec->public_certificate : NULL, n->id, rng, out);
	if (refresh) {
		free(rec->public_certificate);
		rec->public_certificate = NULL;
	}
	if (hello_fp != NULL) {
		/* The hello's peer is now a direct neighbour, whatever its record's news. */
		peertable_set_connected(e->table, n->email, true, now_ms);
		if (v == ENGINE_DROP_OLD)
			v = ENGINE_ACCEPTED;
	}
	return v;
}

static enum engine_verdict
receive_list(struct engine *e, struct nb *n, const struct cm_envelope *env, int64_t now_ms)
{
	const struct cm_peer_list_response *lr = &env->payload.list_response;
	struct pending *p = pending_get(e, lr->request_id, n->id);

	if (p == NULL)
		return ENGINE_DROP_UNSOLICITED;
	for (size_t i = 0; i < lr->peers.len; i++) {
		const struct cm_signed_record *rec = &lr->peers.items[i];
		char fp[CM_FINGERPRINT_LEN + 1];
		enum engine_verdict v = check_record(e, rec, now_ms, NULL, fp);

		if (v == ENGINE_ACCEPTED)
			v = apply_record(e, rec, fp, now_ms);
		if (v != ENGINE_ACCEPTED && v != ENGINE_DROP_OLD)
			continue;
		if (!p->anti_entropy && p->emails.len < e->cfg.request_max_records &&
		    peertable_get(e->table, rec->record.email) != NULL)
			cm_strlist_append(&p->emails, rec->record.email);
	}
	if (p->anti_entropy && lr->has_version)
		n->since = (uint64_t)lr->version;
	return ENGINE_ACCEPTED;
}

enum engine_verdict
engine_receive(struct engine *e, uint64_t from, const char *frame, size_t len, int64_t now_ms,
	       struct engine_rng *rng, struct engine_actions *out)
{
	struct nb *n = nb_get(e, from);
	struct cm_envelope env;
	json_t *tree = NULL;
	struct cm_err err;
	enum engine_verdict v;
	char hello_fp[CM_FINGERPRINT_LEN + 1];
	bool hello = false;

	e->stats.received++;
	if (n == NULL) {
		v = ENGINE_DROP_UNKNOWN;
		goto done;
	}
	if (len > CM_MAX_FRAME) {
		queue_close(out, from, 1009, "frame too big");
		v = ENGINE_DROP_LIMIT;
		goto done;
	}
	if (cm_envelope_from_frame_tree(frame, len, &env, &tree, &err) != 0) {
		queue_close(out, from, ENGINE_CLOSE_INVALID, err.msg);
		v = ENGINE_DROP_INVALID;
		goto done;
	}
	if (!n->authed) {
		if ((v = authenticate(e, n, &env, now_ms, hello_fp, out)) != ENGINE_ACCEPTED)
			goto free_env;
		hello = true;
	}
	if (env.ttl <= 0) {
		v = ENGINE_DROP_TTL;
		goto free_env;
	}
	if (env.timestamp_ms > now_ms + e->cfg.max_future_ms) {
		v = ENGINE_DROP_FUTURE;
		goto free_env;
	}
	if (seen_has(e, env.id)) {
		if (env.type == CM_MSG_PEER_ANNOUNCEMENT &&
		    rng_chance(rng, e->cfg.duplicate_forward_p))
			forward(e, &env, tree, NULL, from, rng, out);
		v = ENGINE_DUPLICATE;
		goto free_env;
	}
	peertable_note_gossip(e->table, n->email);
	switch (env.type) {
	case CM_MSG_PEER_ANNOUNCEMENT:
		v = receive_announcement(e, n, &env, tree, hello ? hello_fp : NULL, now_ms, rng, out);
		break;
	case CM_MSG_HEARTBEAT:
		peertable_note_heartbeat(e->table, n->email, env.payload.heartbeat.peer_count,
					 now_ms);
		v = ENGINE_ACCEPTED;
		break;
	case CM_MSG_PEER_REQUEST:
		answer_request(e, n, &env, now_ms, rng, out);
		v = ENGINE_ACCEPTED;
		break;
	case CM_MSG_PEER_LIST_RESPONSE:
		v = receive_list(e, n, &env, now_ms);
		break;
	default:
		v = ENGINE_DROP_INVALID;
	}
	/* Only what passed is remembered: a forged copy must not shadow the real id. */
	if (v == ENGINE_ACCEPTED || v == ENGINE_DROP_OLD)
		seen_add(e, env.id, now_ms);
free_env:
	cm_envelope_clear(&env);
	json_decref(tree);
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
		envelope_init(e, &env, CM_MSG_HEARTBEAT, 1, now_ms, rng, id);
		env.payload.heartbeat.is_alive = true;
		env.payload.heartbeat.is_bootstrap = e->self.record.is_bootstrap;
		env.payload.heartbeat.peer_count = (int64_t)peertable_count(e->table);
		if ((frame = encode_frame(&env, &len)) != NULL) {
			queue_send(e, out, e->nbs[i].id, frame, len);
			free(frame);
		}
	}
}

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

static void
anti_entropy(struct engine *e, int64_t now_ms, struct engine_rng *rng,
	     struct engine_actions *out)
{
	size_t authed = engine_neighbour_count(e), pick, nkeys, nbytes;
	const struct peertable_entry *held;
	struct nb *n = NULL;
	struct bloom_build b;
	struct cm_envelope env;
	char id[CM_UUID_TEXT_LEN + 1];
	uint64_t next;
	char *frame;
	size_t len;

	if (authed == 0)
		return;
	pick = rng_below(rng, authed);
	for (size_t i = 0; i < e->nnbs && n == NULL; i++)
		if (e->nbs[i].authed && pick-- == 0)
			n = &e->nbs[i];
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
	b.seed = (int64_t)(rng_u64(rng) & (uint64_t)CM_MAX_SAFE_INTEGER);
	if ((b.bits = calloc(1, nbytes)) == NULL)
		return;
	peertable_changes_since(e->table, n->mark_prev, SIZE_MAX, bloom_collect, &b, NULL, &next);
	/* The neighbour's own record, as we hold it: else every answer would carry it again. */
	if (held != NULL)
		bloom_collect(held, &b);
	envelope_init(e, &env, CM_MSG_PEER_REQUEST, 1, now_ms, rng, id);
	env.payload.request.has_digest = true;
	env.payload.request.digest.since = (int64_t)n->since;
	/*
	 * Once in sync, only recent records are wanted. Without this, a
	 * newcomer that pulled the whole table would offer all of it back to
	 * every neighbour as its own changes (the simulator's churn runs: about
	 * 200 MB per newcomer at 10k nodes).
	 */
	if (e->assumed_synced || now_ms - e->started_ms >= e->cfg.ae_warm_ms)
		env.payload.request.digest.issued_after_ms = now_ms - e->cfg.ae_fresh_ms;
	env.payload.request.digest.seed = b.seed;
	env.payload.request.digest.k = BLOOM_K;
	env.payload.request.digest.bloom = cm_base64_encode(b.bits, nbytes);
	free(b.bits);
	if (env.payload.request.digest.bloom == NULL)
		return;
	frame = encode_frame(&env, &len);
	free(env.payload.request.digest.bloom);
	if (frame == NULL)
		return;
	queue_send(e, out, n->id, frame, len);
	free(frame);
	pending_add(e, id, n->id, true, now_ms);
	n->mark_prev = n->mark_last;
	n->mark_last = peertable_version(e->table);
	e->stats.anti_entropy_rounds++;
}

static int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

int64_t
engine_tick(struct engine *e, int64_t now_ms, struct engine_rng *rng, struct engine_actions *out)
{
	int64_t next;

	if (!e->timers_started) {
		e->timers_started = true;
		e->started_ms = now_ms;
		/* First tick: spread the timers so that neighbours do not beat in step. */
		e->next_heartbeat_ms = now_ms + (int64_t)rng_below(rng, (size_t)e->cfg.heartbeat_ms + 1);
		e->next_ae_ms = now_ms + (int64_t)rng_below(rng, (size_t)e->cfg.anti_entropy_ms + 1);
		e->next_expire_ms = now_ms;
		if (!e->has_self)
			e->next_reannounce_ms = now_ms + e->cfg.reannounce_ms;
		/* A timer with no interval is off (the seed's algorithm has no anti-entropy). */
		if (e->cfg.heartbeat_ms <= 0)
			e->next_heartbeat_ms = INT64_MAX;
		if (e->cfg.anti_entropy_ms <= 0)
			e->next_ae_ms = INT64_MAX;
		if (e->cfg.reannounce_ms <= 0)
			e->next_reannounce_ms = INT64_MAX;
	}
	if (now_ms >= e->next_heartbeat_ms) {
		if (e->has_self)
			send_heartbeats(e, now_ms, rng, out);
		e->next_heartbeat_ms = now_ms + e->cfg.heartbeat_ms;
	}
	if (now_ms >= e->next_reannounce_ms) {
		if (e->has_self && !e->self.record.leaving) {
			struct cm_peer_record tmpl;

			if (cm_peer_record_copy(&tmpl, &e->self.record) == 0) {
				if (resign_self(e, &tmpl, now_ms) == 0)
					announce_self(e, 0, false, now_ms, rng, out);
				cm_peer_record_clear(&tmpl);
			}
		}
		e->next_reannounce_ms = now_ms + e->cfg.reannounce_ms;
	}
	if (now_ms >= e->next_ae_ms) {
		if (e->has_self)
			anti_entropy(e, now_ms, rng, out);
		e->next_ae_ms = now_ms + e->cfg.anti_entropy_ms;
	}
	if (now_ms >= e->next_expire_ms) {
		/* Entries live for expire_ms: a scan every hundredth of that is precise enough. */
		if (now_ms >= e->next_table_expire_ms) {
			peertable_expire(e->table, now_ms);
			e->next_table_expire_ms = now_ms + (e->cfg.expire_ms / 100 > 1000
								    ? e->cfg.expire_ms / 100
								    : 1000);
		}
		for (size_t i = e->npending; i-- > 0;)
			if (now_ms - e->pending[i].created_ms > e->cfg.request_timeout_ms)
				pending_drop(e, i);
		seen_rotate_if_due(e, now_ms);
		e->next_expire_ms = now_ms + 1000;
	}
	next = min64(min64(e->next_heartbeat_ms, e->next_reannounce_ms),
		     min64(e->next_ae_ms, e->next_expire_ms)) -
	       now_ms;
	return next < 1 ? 1 : next;
}

/* Discovery */

int
engine_request(struct engine *e, const struct cm_strlist *repos, int k, int64_t now_ms,
	       struct engine_rng *rng, char id_out[CM_UUID_TEXT_LEN + 1],
	       struct engine_actions *out)
{
	struct cm_envelope env;
	char *frame;
	size_t len, before = out->len;
	int asked = 0;

	id_out[0] = '\0';
	if (!e->has_self || engine_neighbour_count(e) == 0)
		return 0;
	envelope_init(e, &env, CM_MSG_PEER_REQUEST, 1, now_ms, rng, id_out);
	env.payload.request.repositories = *repos;
	if ((frame = encode_frame(&env, &len)) == NULL)
		return 0;
	send_random(e, out, frame, len, k, 0, rng);
	free(frame);
	/* One pending entry per asked neighbour, all under the same request id. */
	for (size_t i = before; i < out->len; i++) {
		pending_add(e, id_out, out->items[i].neighbour, false, now_ms);
		asked++;
	}
	return asked;
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
