/*
 * engine.h - the gossip rules (docs/protocol.md: the hello in §1, messages in §4), pure.
 *
 * The engine takes frames from neighbours, the current time and a random
 * source, updates the peer table and answers with actions: send this frame to
 * that neighbour, close that neighbour's connection with this code. It opens
 * no socket and reads no clock; the daemon drives it from libevent and the
 * simulator from a virtual clock. now_ms is wall-clock time in ms since the
 * Unix epoch (records and envelopes carry wall-clock timestamps).
 *
 * Neighbours are identified by an opaque id chosen by the caller. Both sides
 * of a new session first send their own signed PEER_ANNOUNCEMENT (the hello);
 * a neighbour is authenticated once its first frame is a PEER_ANNOUNCEMENT of
 * its own record whose certificate fingerprint equals the TLS certificate's
 * fingerprint given to engine_neighbour_up. Any other first frame closes the
 * session with 1008. Frames from unauthenticated neighbours are not applied.
 */
#ifndef PA_ENGINE_H
#define PA_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/hash.h"
#include "fb/identity.h"
#include "fb/types.h"
#include "fb/validate.h"
#include "core/peertable.h"

/* RFC 6455 close codes the engine asks for. */
#define ENGINE_CLOSE_INVALID 1007 /* invalid JSON or envelope */
#define ENGINE_CLOSE_POLICY 1008  /* authentication or policy */

/* A token bucket: per_s tokens a second, at most burst; a frame takes one. */
struct engine_rate {
	double per_s;
	double burst;
};

/* Message kinds with a bucket of their own per neighbour. */
enum engine_kind {
	ENGINE_KIND_ANNOUNCEMENT = 0,
	ENGINE_KIND_REQUEST,
	ENGINE_KIND_LIST,
	ENGINE_KIND_HEARTBEAT,
	ENGINE_KIND_COUNT
};

struct engine_config {
	int fanout;                 /* 3: neighbours a new announcement is forwarded to */
	int ttl;                    /* hops of our own announcements */
	double duplicate_forward_p; /* 0.05: chance a duplicate is forwarded again */
	int64_t max_future_ms;      /* 30 s: envelopes dated later than now + this are dropped */
	int64_t expire_ms;          /* records issued longer ago are never accepted nor passed on */
	/* Timers; 0 turns one off (the simulator's baseline has no anti-entropy). */
	int64_t heartbeat_ms;       /* HEARTBEAT to each neighbour every heartbeat_ms */
	int64_t reannounce_ms;      /* own record re-announced (seq + 1) every reannounce_ms */
	int64_t anti_entropy_ms;    /* digest exchange with one random neighbour every ... */
	/*
	 * ... while the table changed in the last ae_hot_ms (10 s); after that the
	 * interval doubles each round up to ae_idle_ms (16 s), and the first change
	 * brings it back. ae_idle_ms <= anti_entropy_ms keeps it constant.
	 */
	int64_t ae_hot_ms;
	int64_t ae_idle_ms;
	size_t seen_max;            /* ids remembered for duplicate detection */
	int64_t seen_max_age_ms;    /* and for how long */
	size_t ae_max_records;      /* records in one anti-entropy answer (all its frames) */
	int64_t ae_warm_ms;         /* 300 s: after this long up, a digest asks only for ... */
	int64_t ae_fresh_ms;        /* 60 s: ... records issued in the last ae_fresh_ms */
	size_t request_max_records; /* records in one answer to a repository request */
	int64_t request_timeout_ms; /* pending discovery requests are forgotten after this */
	bool verify_signatures;     /* true; only the simulator may turn it off */
	/*
	 * true: refreshes travel by anti-entropy, bare (docs/protocol.md,
	 * re-announcement). false, the rule before it, for the simulator's
	 * comparison: a refresh is pushed on to fanout neighbours, digests
	 * never say certless.
	 */
	bool pull_refreshes;
	/*
	 * What one neighbour may send, per kind (engine_kind); frames over the
	 * limit are dropped (ENGINE_DROP_RATE). Frames over the limit take from
	 * rate_overdraft too: once it is empty the session is closed with 1008.
	 */
	struct engine_rate rate[ENGINE_KIND_COUNT];
	struct engine_rate rate_overdraft;
	/*
	 * Bytes, not frames: what one neighbour's frames may weigh (charged
	 * before parsing; over it, a frame is dropped as ENGINE_DROP_RATE and
	 * takes from rate_overdraft), and what our answers to its requests may
	 * weigh (an answer is cut to what is left; none when not even one
	 * record fits). Tokens are bytes.
	 */
	struct engine_rate rate_bytes_in;
	struct engine_rate rate_answer_bytes;
	/*
	 * The rate state (every bucket, the overdraft, bad signatures) of the
	 * last rate_memory_max identities whose sessions ended, restored when
	 * the same email authenticates again within rate_memory_ms.
	 */
	size_t rate_memory_max;
	int64_t rate_memory_ms;
	int max_bad_signatures;     /* 3: records failing their signature before a session is closed */
	size_t answer_max_bytes;    /* 255 KiB: records of one answer (one frame, at least one record) */
};

void engine_config_default(struct engine_config *cfg);

/* Randomness comes from the caller: next() returns 64 uniformly random bits. */
struct engine_rng {
	uint64_t (*next)(void *ctx);
	void *ctx;
};

enum engine_action_kind { ENGINE_SEND, ENGINE_CLOSE };

struct engine_action {
	enum engine_action_kind kind;
	uint64_t neighbour;
	char *frame; /* ENGINE_SEND: one JSON envelope (owned by the action list) */
	size_t frame_len;
	/*
	 * ENGINE_SEND: a forwarded announcement, which the caller may drop when
	 * the neighbour is slow to read (gossip has other paths; a full send
	 * queue closes the session). Call engine_forward_dropped for each.
	 */
	bool droppable;
	int close_code;   /* ENGINE_CLOSE: RFC 6455 code */
	char reason[64];  /* ENGINE_CLOSE: short reason for the close frame and logs */
};

/* Actions appended by the engine; the caller performs them, then clears. */
struct engine_actions {
	struct engine_action *items;
	size_t len;
	size_t cap;
};

void engine_actions_clear(struct engine_actions *a);

/* What became of one received frame; counted per verdict in engine_stats. */
enum engine_verdict {
	ENGINE_ACCEPTED = 0,   /* applied (and forwarded where the rules say so) */
	ENGINE_DUPLICATE,      /* id already seen */
	ENGINE_DROP_TTL,       /* ttl <= 0 */
	ENGINE_DROP_FUTURE,    /* timestamp > now + max_future_ms */
	ENGINE_DROP_SIGNATURE, /* a record's signature does not verify */
	ENGINE_DROP_PIN,       /* certificate differs from the one pinned for the email */
	ENGINE_DROP_EXPIRED,   /* record issued longer than expire_ms ago */
	ENGINE_DROP_OLD,       /* record seq not newer than the one held */
	ENGINE_DROP_LIMIT,     /* a size limit is broken */
	ENGINE_DROP_INVALID,   /* not a valid envelope: connection closed with 1007 */
	ENGINE_DROP_AUTH,      /* hello missing or not matching TLS: closed with 1008 */
	ENGINE_DROP_UNKNOWN,   /* from a neighbour the engine does not know */
	ENGINE_DROP_UNSOLICITED, /* an answer to no request of ours to that neighbour */
	ENGINE_DROP_NO_CERT,   /* a refresh without certificate for a peer not held */
	ENGINE_DROP_RATE,      /* over the neighbour's rate for this kind of frame */
	ENGINE_DROP_ANSWERED,  /* a further answer to a request already answered */
	ENGINE_DROP_RECORD_INVALID, /* a record the rules refuse: silent yet with addresses or a torrent port */
	ENGINE_VERDICT_COUNT
};

const char *engine_verdict_name(enum engine_verdict v);

struct engine_stats {
	uint64_t received;                        /* frames given to engine_receive */
	uint64_t verdicts[ENGINE_VERDICT_COUNT];
	uint64_t records_applied;                 /* inserted or replaced table entries */
	uint64_t forwarded;                       /* announcement frames forwarded */
	uint64_t sent;                            /* every frame queued for sending */
	uint64_t stripped_addresses;              /* silent records refused: addresses or a torrent port */
	uint64_t anti_entropy_rounds;
	uint64_t requests_answered;
	uint64_t refreshes_pulled;     /* records applied from an answer's refreshes (no certificate) */
	uint64_t closed_rate;          /* sessions closed for staying over their rate */
	uint64_t closed_bad_signatures; /* sessions closed after max_bad_signatures */
	uint64_t answers_cut;          /* answers cut short by answer_max_bytes */
	uint64_t answers_limited;      /* answers cut short or refused by rate_answer_bytes */
	uint64_t rates_restored;       /* sessions given back their identity's rate state */
	uint64_t forwards_dropped;     /* forwards the caller dropped (engine_forward_dropped) */
};

struct engine;

/*
 * table is borrowed and must outlive the engine; id is borrowed (our key and
 * certificate, used to sign our own record). NULL on failure.
 */
struct engine *engine_new(const struct engine_config *cfg, struct peertable *table,
			  const struct cm_identity *id);
void engine_free(struct engine *e);

/*
 * Sets our own record from tmpl (email must be the identity's; seq and
 * issued_at are chosen here: seq = max(previous + 1, now_ms) so it grows
 * across restarts) and announces it to every authenticated neighbour. Called
 * at start and whenever broadcasting, addresses, repositories or the torrents
 * seeded change. A silent record is signed without addresses, port,
 * torrent_port and relay_port whatever tmpl holds. Returns 0, or -1 (also
 * when the signed record would be over CM_MAX_SIGNED_RECORD, which receivers
 * refuse: the previous record stays).
 */
int engine_set_self(struct engine *e, const struct cm_peer_record *tmpl, int64_t now_ms,
		    struct engine_rng *rng, struct engine_actions *out);

/* Our current signed record, or NULL before engine_set_self. */
const struct cm_signed_record *engine_self(const struct engine *e);

/*
 * A session is up. tls_fingerprint is the remote TLS certificate's. Queues
 * our hello (own announcement) to it. Returns 0 or -1.
 */
int engine_neighbour_up(struct engine *e, uint64_t id, bool inbound, const char *tls_fingerprint,
			int64_t now_ms, struct engine_rng *rng, struct engine_actions *out);

/* The session is gone (marks the peer not connected in the table). */
void engine_neighbour_down(struct engine *e, uint64_t id, int64_t now_ms);

/*
 * Anti-entropy with neighbour id starts from here: its table up to version
 * their_version and ours as it is now count as exchanged, the engine counts
 * as in sync (as if up for ae_warm_ms), and the neighbour as one that pulls
 * refreshes (of this version and in sync too, when pull_refreshes). The
 * simulator uses it to begin from a converged network instead of replaying
 * its history.
 */
void engine_assume_synced(struct engine *e, uint64_t id, uint64_t their_version);

/*
 * Verifies rec as the engine does (a fingerprint only when signature checks
 * are off) and gives its certificate's fingerprint. The simulator uses it to
 * seed tables with what gossip would have brought. Returns 0 or -1.
 */
int engine_record_fingerprint(const struct engine *e, const struct cm_signed_record *rec,
			      char fp[CM_FINGERPRINT_LEN + 1]);

/* Authenticated neighbours, and a neighbour's email once authenticated (else NULL). */
size_t engine_neighbour_count(const struct engine *e);
const char *engine_neighbour_email(const struct engine *e, uint64_t id);

/*
 * One text frame from neighbour from. Applies what the rules allow, queues
 * forwards, answers and closes. Never fails on bad input: it says what
 * happened in the verdict.
 */
enum engine_verdict engine_receive(struct engine *e, uint64_t from, const char *frame,
				   size_t len, int64_t now_ms, struct engine_rng *rng,
				   struct engine_actions *out);

/*
 * Runs what is due at now_ms: heartbeats, re-announcement, anti-entropy,
 * table expiry, forgetting old requests and seen ids. Returns the ms until
 * the next thing is due (>= 1).
 */
int64_t engine_tick(struct engine *e, int64_t now_ms, struct engine_rng *rng,
		    struct engine_actions *out);

/*
 * Records of one answer to engine_request or engine_ask_torrent that host
 * what it asked for, and that a full table makes room for: a lookup wants a
 * few hosts, and a neighbour that names hundreds (minted identities) must
 * not empty the table with them. Others are applied like gossip.
 */
#define ENGINE_WANTED_MAX 16

/*
 * Discovery: a PEER_REQUEST for repos to up to k random authenticated
 * neighbours. id_out receives the request id. Returns how many neighbours
 * were asked (0: none to ask).
 */
int engine_request(struct engine *e, const struct cm_strlist *repos, int k, int64_t now_ms,
		   struct engine_rng *rng, char id_out[CM_UUID_TEXT_LEN + 1],
		   struct engine_actions *out);

/*
 * Discovery by key: the PEER_REQUEST of engine_request to neighbour alone (a
 * session dialled to one of peertable_nearest's peers). When id is not
 * empty the answer joins that request (engine_request's id), so one
 * engine_request_take gathers both; else id receives a new one. Returns 1,
 * or 0 when neighbour is not authenticated or was already asked under id.
 */
int engine_request_to(struct engine *e, const struct cm_strlist *repos, uint64_t neighbour,
		      int64_t now_ms, struct engine_rng *rng, char id[CM_UUID_TEXT_LEN + 1],
		      struct engine_actions *out);

/*
 * Discovery of a torrent's seeders: a PEER_REQUEST {torrent_search:
 * {info_hash}} to up to k random authenticated neighbours, answered with the
 * signed records of the seeders they know (broadcasting ones to anyone,
 * silent ones only to a broadcasting requester), which the table applies.
 * The answers' emails come with engine_request_take (only records that list
 * info_hash); peertable_torrent_seeders then gives their addresses and
 * ports. id_out receives the request id. Returns how many neighbours were
 * asked (0: none to ask), or -1 when info_hash is not 40 lower-case hex
 * digits. It costs the neighbours what any PEER_REQUEST does (their request
 * bucket, their answer byte budget) and shares ENGINE_MAX_PENDING.
 */
int engine_ask_torrent(struct engine *e, const char *info_hash, int k, int64_t now_ms,
		       struct engine_rng *rng, char id_out[CM_UUID_TEXT_LEN + 1],
		       struct engine_actions *out);

/*
 * Emails of the peers received so far in answers to request id (appended to
 * *emails, which the caller clears), and forgets the request. Returns 0, or
 * -1 when the id is unknown.
 */
int engine_request_take(struct engine *e, const char *id, struct cm_strlist *emails);

/* A graceful leave: our record with leaving = true, to every neighbour. */
int engine_leave(struct engine *e, int64_t now_ms, struct engine_rng *rng,
		 struct engine_actions *out);

/* The caller dropped a droppable send: counted in engine_stats. */
void engine_forward_dropped(struct engine *e);

const struct engine_stats *engine_stats(const struct engine *e);

#endif
