/*
 * engine_internal.h - what the engine's files share; callers use engine.h.
 *
 * engine.c: lifecycle, neighbours, actions, receiving and timers.
 * engine_records.c: record checks, our own record, seen envelope ids.
 * engine_requests.c: requests and their answers, anti-entropy, discovery.
 */
#ifndef PA_ENGINE_INTERNAL_H
#define PA_ENGINE_INTERNAL_H

#include "core/engine.h"
#include "fb/codec.h"
#include "fb/map.h"

/*
 * Requests awaiting answers: 32 discoveries of the control API x (3
 * neighbours + 10 peers asked by key), and anti-entropy.
 */
#define ENGINE_MAX_PENDING 448

struct bucket {
	double tokens;
	int64_t last_ms;
};

/*
 * What a neighbour may still send. Kept per identity across its sessions
 * (struct rate_memory): a reconnect does not refill it.
 */
struct rate_state {
	struct bucket buckets[ENGINE_KIND_COUNT];
	struct bucket overdraft;
	struct bucket bytes_in;     /* frame bytes, charged before a frame is parsed */
	struct bucket answer_bytes; /* bytes of our answers to its requests */
	int bad_signatures;
};

/* The rate state of a neighbour whose session ended, by email. */
struct rate_memory {
	char *email; /* the map's key */
	struct rate_state st;
	int64_t saved_ms;
};

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
	struct rate_state rate;
	bool closing;         /* the engine asked to close it: nothing more is applied */
	bool pulls_refreshes; /* its digests say certless: it pulls refreshes, none is pushed to it */
	bool want_whole;      /* a refresh it sent us was of a peer we lack: ask whole next time */
};

struct pending {
	char id[CM_UUID_TEXT_LEN + 1];
	int64_t created_ms;
	uint64_t nb;
	bool anti_entropy;
	bool answered;            /* its first answer came: later ones are dropped */
	struct cm_strlist emails; /* discovery: who answered records */
	struct cm_strlist repos;  /* discovery: the repositories asked for (none: any) */
	size_t wanted;            /* records its answers had room made for (ENGINE_WANTED_MAX) */
	char info_hash[CM_INFO_HASH_LEN + 1]; /* a torrent search: "" for other requests */
};

/* A set of 128-bit ids, open addressing; {0, 0} marks an empty slot. */
struct idset {
	uint64_t (*keys)[2];
	size_t cap, len;
};

struct engine {
	struct engine_config cfg;
	struct peertable *table;
	struct cm_hash_key hash_key; /* the table's: keys the seen-id set */
	const struct cm_identity *id;
	bool has_self;
	struct cm_signed_record self;
	char *self_text;   /* self as JSON text, with its certificate: every hello carries it */
	char self_fp[CM_FINGERPRINT_LEN + 1];

	struct nb *nbs;
	size_t nnbs, capnbs;

	struct cm_map *rate_memory; /* email -> struct rate_memory, at most rate_memory_max */

	/*
	 * Grown on demand up to ENGINE_MAX_PENDING: an engine waits on one or
	 * two requests at a time, and 128 held in place cost 16 KiB each
	 * (a quarter of a simulated node).
	 */
	struct pending *pending;
	size_t npending, cappending;

	/* Two generations: an id is remembered for between half and all of the limits. */
	struct idset seen_cur, seen_prev;
	int64_t seen_started_ms;

	bool timers_started;
	int64_t started_ms; /* first tick */
	bool assumed_synced; /* engine_assume_synced: in sync from the start */
	int64_t next_heartbeat_ms, next_reannounce_ms, next_ae_ms, next_expire_ms;
	int64_t next_table_expire_ms;
	uint64_t ae_version;       /* the table's version when the timers last looked */
	int64_t last_change_ms;    /* when they saw it change; 0: never */
	int64_t ae_interval_ms;    /* the anti-entropy interval now (ae_hot_ms, ae_idle_ms) */
	struct engine_stats stats;
};

/* Randomness */

static inline uint64_t
eng_rng_u64(struct engine_rng *rng)
{
	return rng->next(rng->ctx);
}

/* Uniform in [0, n), n > 0. */
static inline size_t
eng_rng_below(struct engine_rng *rng, size_t n)
{
	return (size_t)(eng_rng_u64(rng) % n);
}

/* engine.c: actions */

/* Queues a copy of frame for neighbour. */
int eng_queue_send(struct engine *e, struct engine_actions *out, uint64_t neighbour,
		   const char *frame, size_t len);
/* Queues a close of neighbour n and ignores what it sends from then on. */
void eng_close(struct engine_actions *out, struct nb *n, int code, const char *reason);
/* Counts a record from n whose signature failed; true when n is now being closed for it. */
bool eng_bad_signature(struct engine *e, struct nb *n, struct engine_actions *out);
/* Refills b by the time since its last use, up to r's burst. */
void eng_bucket_refill(struct bucket *b, const struct engine_rate *r, int64_t now_ms);
/* Encodes env into a new frame string the caller frees; NULL on failure. */
char *eng_encode_frame(const struct cm_envelope *env, size_t *len);
/* An envelope from us with a fresh id; payload left for the caller. */
void eng_envelope_init(struct engine *e, struct cm_envelope *env, enum cm_msg_type type, int ttl,
		       int64_t now_ms, struct engine_rng *rng, char id[CM_UUID_TEXT_LEN + 1]);
/* Sends frame to up to k random authenticated neighbours other than except. */
size_t eng_send_random(struct engine *e, struct engine_actions *out, const char *frame,
		       size_t len, int k, uint64_t except, struct engine_rng *rng);

/* engine_records.c: seen ids */

/*
 * An envelope id, bound to the announced record (its email and seq; email
 * NULL for other frames): a frame reusing a genuine id with another record
 * is no duplicate of it.
 */
bool eng_seen_has(const struct engine *e, const char *id, const char *email, int64_t seq);
void eng_seen_add(struct engine *e, const char *id, const struct cm_signed_record *rec,
		  int64_t now_ms);
void eng_seen_rotate_if_due(struct engine *e, int64_t now_ms);
void eng_seen_free(struct engine *e);

/* engine_records.c: verification */

int eng_verify_record(const struct engine *e, const struct cm_signed_record *rec,
		      char fp[CM_FINGERPRINT_LEN + 1]);
enum engine_verdict eng_check_record(struct engine *e, const struct cm_signed_record *rec,
				     int64_t now_ms, const char *verified_fp,
				     char fp[CM_FINGERPRINT_LEN + 1]);
enum engine_verdict eng_apply_record(struct engine *e, const struct cm_signed_record *rec,
				     const char *fp, const struct nb *hello, bool wanted,
				     int64_t now_ms);

/* engine_records.c: our own record */

int eng_resign_self(struct engine *e, const struct cm_peer_record *tmpl, int64_t now_ms);
int eng_announce_self(struct engine *e, uint64_t to, bool with_cert, int64_t now_ms,
		      struct engine_rng *rng, struct engine_actions *out);

/* engine_requests.c */

void eng_pending_expire(struct engine *e, int64_t now_ms);
/* False: refused, our answers to n are over rate_answer_bytes. */
bool eng_answer_request(struct engine *e, struct nb *n, const struct cm_envelope *env,
			int64_t now_ms, struct engine_rng *rng, struct engine_actions *out);
enum engine_verdict eng_receive_list(struct engine *e, struct nb *n, const struct cm_envelope *env,
				     int64_t now_ms, struct engine_actions *out);
/* A digest exchange with a random neighbour (the timer's round). */
void eng_anti_entropy(struct engine *e, int64_t now_ms, struct engine_rng *rng,
		      struct engine_actions *out);
/* ... with n, unless one with n is waiting for its answer. */
void eng_anti_entropy_with(struct engine *e, struct nb *n, int64_t now_ms, struct engine_rng *rng,
			   struct engine_actions *out);
/* The table changed within the last ae_hot_ms. */
bool eng_ae_recent(const struct engine *e, int64_t now_ms);

#endif
