/*
 * torrent_internal.h - what the client's files share: the client, its
 * torrents and their peer-wire sessions. client.c holds the API and the
 * loop's timers, torrent.c a torrent's pieces and states, peer.c a session's
 * socket and messages, peer_ext.c BEP 10 and BEP 9, store.c what survives a
 * restart.
 */
#ifndef TR_TORRENT_INTERNAL_H
#define TR_TORRENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "fb/hash.h"
#include "fb/map.h"
#include "fb/ratemap.h"
#include "fb/timeutil.h"
#include "torrent/choke.h"
#include "torrent/hasher.h"
#include "torrent/picker.h"
#include "torrent/storage.h"
#include "torrent/torrent.h"
#include "torrent/wire.h"

/* glibc's sys/queue.h lacks the BSD iteration that survives removing the element. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                                                 \
	for ((var) = TAILQ_FIRST(head); (var) && ((tvar) = TAILQ_NEXT(var, field), 1);             \
	     (var) = (tvar))
#endif

struct event;
struct evbuffer;
struct hc_client;
struct tcp_listener;
struct tr_httpd;
struct tr_webseed;

#define TR_PEER_MAX_REQUESTS    512 /* requests a peer may have queued with us */
#define TR_INFLIGHT_MAX         (TR_QUEUE_MAX + 16)
#define TR_HANDSHAKE_TIMEOUT_MS 10000
#define TR_IDLE_TIMEOUT_MS      120000 /* nothing received for this long: close */
#define TR_KEEPALIVE_MS         60000
#define TR_WRITE_TIMEOUT_MS     30000 /* output queued and none of it taken for this long: close */
#define TR_SNUB_MS              30000 /* requests outstanding and no block for this long */
#define TR_SEND_HIGH            (4u << 20)    /* output bytes queued before we stop serving */
#define TR_SEND_MAX             (8u << 20)    /* output a session may hold: then it does not read */
#define TR_MAX_WASTED           (16u << 20)   /* payload bytes received unasked before we close */
#define TR_READ_CHUNK           (256u * 1024) /* bytes read from a socket at once */
#define TR_MAX_CANDIDATES       200           /* addresses remembered per torrent */
#define TR_MAX_DIAL_FAILS       5
#define TR_HALF_OPEN            8 /* dials in progress at once */
#define TR_MAX_BANNED           4096
#define TR_RATE_SLOTS           5 /* seconds the rates average over */
#define TR_PIECE_WHO            8 /* contributors of a piece remembered for hash failures */
#define TR_WANT_PEERS_MS        60000
#define TR_CHECK_SLICE          (8u << 20) /* bytes hashed per loop turn while checking */
#define TR_MD_PIECE             16384      /* BEP 9 metadata piece */
#define TR_MD_TIMEOUT_MS        15000
#define TR_MD_QUEUE             4   /* a peer's metadata requests held at once; more are rejected */
#define TR_MD_UNASKED_MAX       4   /* metadata pieces received unasked before we close */
#define TR_REFILL_MS            100 /* the rate limits' budgets are given this often */
#define TR_MAX_PARTIAL_BYTES    (64u << 20) /* piece buffers of one torrent at once */
#define TR_PENDING_MAX          16          /* inbound sessions before their handshake, at once */
#define TR_ACCEPT_RATE          4           /* accepts a second per IPv4 address or IPv6 /64 */
#define TR_ACCEPT_BURST         8
#define TR_ACCEPT_TABLE_MAX     4096  /* addresses whose accept rate is remembered */
#define TR_USELESS_MS           20000 /* no interest either way this long: evictable */
#define TR_GROUP_LEN            46    /* an address group: IPv4 address, IPv6 /64 prefix */
#define TR_NAME_LEN             320   /* a peer in logs: "ip:port", or an adopted one's label */

struct tr_rate {
	uint64_t slot[TR_RATE_SLOTS];
	int pos;
};
void tr_rate_add(struct tr_rate *r, uint64_t n);
void tr_rate_tick(struct tr_rate *r);
int64_t tr_rate_get(const struct tr_rate *r);

struct tr_torrent;

struct tr_peer {
	uint64_t id;
	struct tr_client *c;
	struct tr_torrent *t; /* NULL until an incoming handshake names it */
	int fd;
	struct event *ev_read, *ev_write;
	struct evbuffer *in, *out;
	struct tr_peer_addr addr; /* zero when adopted */
	char name[TR_NAME_LEN];
	bool adopted; /* on a stream given to us (a relayed circuit): no address of its own */
	bool outgoing, connecting, got_handshake, dead;
	bool pending; /* inbound, its handshake not yet taken */
	char group[TR_GROUP_LEN]; /* "" when adopted */
	int64_t last_useful_ms; /* interest shown either way or a block moved */
	bool am_choking, am_interested, peer_choking, peer_interested, snubbed;
	bool seed;
	bool read_paused; /* the download rate limit's budget ran out */
	unsigned char peer_id[20];
	bool ext;               /* BEP 10 on both sides */
	uint8_t ut_metadata;    /* the peer's id for ut_metadata; 0: none */
	uint32_t metadata_size; /* what the peer said; 0: unknown */
	unsigned char *bf;      /* its bitfield: bf_len bytes */
	uint32_t bf_len;
	uint32_t have_count; /* bits set in bf */
	bool counted;        /* bf counted into the picker's availability */
	struct tr_block inflight[TR_INFLIGHT_MAX];
	uint32_t ninflight;
	struct tr_block *reqs; /* its requests to us, a ring of TR_PEER_MAX_REQUESTS */
	uint32_t req_head, nreqs;
	uint32_t md_inflight;          /* our metadata requests it has not answered */
	uint32_t md_unasked;           /* metadata pieces it sent that we had not asked it for */
	int32_t md_queue[TR_MD_QUEUE]; /* its metadata requests waiting for upload budget */
	uint32_t md_nqueue;
	int64_t connected_ms, last_recv_ms, last_send_ms, last_block_ms;
	int64_t last_drain_ms;         /* the socket last took output, or had none queued */
	uint64_t downloaded, uploaded; /* payload */
	uint64_t wasted; /* payload received that we had not asked for (or cancelled) */
	struct tr_rate rin, rout;
	int hashfails;
	TAILQ_ENTRY(tr_peer) all;  /* the client's sessions */
	TAILQ_ENTRY(tr_peer) link; /* its torrent's sessions */
};
TAILQ_HEAD(tr_peer_list, tr_peer);

struct tr_candidate {
	struct tr_peer_addr addr;
	int fails;
	int64_t next_ms; /* not dialled before */
	bool connected;
};

/* One tracker of a torrent: when to announce next. */
struct tr_announce_slot {
	int64_t next_ms;
	bool busy, started, completed;
};

/* An announce in flight: the torrent is looked up again by hex when it answers. */
struct tr_ticket {
	struct tr_client *c;
	char hex[TR_HEX_LEN + 1];
	size_t idx;
	TAILQ_ENTRY(tr_ticket) link;
};
TAILQ_HEAD(tr_ticket_list, tr_ticket);

struct tr_wseed {
	struct tr_torrent *t;
	struct tr_webseed *ws;
	int fails;
};

struct tr_piecebuf {
	unsigned char *data;
	uint64_t who[TR_PIECE_WHO];
	uint8_t nwho;
};

struct tr_torrent {
	struct tr_client *c;
	unsigned char ih[TR_HASH_LEN];
	char hex[TR_HEX_LEN + 1];
	bool has_meta;
	struct tr_meta meta;
	char *dest_dir;      /* where a download goes; NULL for a created torrent */
	char *root;          /* final path of the file or folder; NULL until known */
	char *name;          /* dn or meta name; NULL until known */
	char *expect_sha256; /* from the source; NULL: none */
	char *hint_sha256;   /* gossip's; NULL: none */
	char *magnet_src;    /* the magnet it came from (resume without metadata) */
	bool created;        /* hashed by us: the data is at root */
	bool trusted;        /* just hashed: the first check is skipped */
	bool paused;
	bool changed; /* a seeded file changed on disk: checked again at the next tick */
	enum tr_state state;
	char *error;
	struct tr_storage *st;
	struct tr_picker *pk;
	struct tr_piecebuf **pb; /* per piece; NULL unless blocks arrived */
	/* checking, then the SHA-256 of the finished files */
	uint32_t check_next;
	unsigned char *scratch;
	struct tr_sha256_job *shajob;
	char (*file_sha)[65]; /* meta.file_count; "" unknown */
	/* BEP 9 */
	unsigned char *md;
	uint32_t md_size;
	uint64_t md_from; /* the session that sent the metadata's pieces */
	bool md_mixed;    /* more than one did */
	bool md_solo;     /* a mixed set failed: one peer at a time, so a liar stands alone */
	uint8_t *md_got;
	int64_t *md_req_ms;
	uint64_t *md_who; /* per piece: the session asked for it; 0: nobody */
	/* peers */
	struct tr_peer_list peers;
	int npeers;
	int ninbound; /* of npeers: sessions the peer opened */
	struct tr_candidate cand[TR_MAX_CANDIDATES];
	size_t ncand;
	struct cm_strlist web_seeds, trackers;
	struct tr_announce_slot ann[TR_MAX_TRACKERS];
	struct tr_wseed *ws;
	size_t nws;
	struct tr_choke_state choke;
	int64_t last_choke_ms, last_want_ms;
	uint64_t downloaded, uploaded;
	struct tr_rate rin, rout;
	TAILQ_ENTRY(tr_torrent) link;
};
TAILQ_HEAD(tr_torrent_list, tr_torrent);

struct tr_creation {
	struct tr_client *c;
	struct tr_hasher *h;
	char *path, *name;
	tr_created_fn done;
	void *arg;
	struct event *ev; /* fires on the hasher's fd once its threads have ended */
	TAILQ_ENTRY(tr_creation) link;
};
TAILQ_HEAD(tr_creation_list, tr_creation);

struct tr_client {
	struct event_base *base;
	struct tr_config cfg; /* strings owned */
	struct tr_hooks hooks;
	void *ctx;
	unsigned char peer_id[20];
	struct tcp_listener *lst;
	struct hc_client *hc;   /* trackers and web seeds */
	struct tr_httpd *httpd; /* NULL when silent or without http_host */
	struct tr_ticket_list tickets;
	char *http_path; /* the path find_file lends the HTTP port */
	struct tr_torrent_list torrents;
	int ntorrents;
	struct cm_map *by_hash; /* hex -> torrent */
	struct tr_peer_list sessions;
	int nsessions, nhalfopen;
	int ninbound, npending; /* sessions peers opened; of them, before their handshake */
	struct cm_ratemap *accepts; /* accept buckets by address group */
	struct cm_map *banned;  /* ip -> char[46] (owned) */
	struct cm_hash_key key;
	struct event *tick, *work; /* every second; one slice of hashing */
	struct event *refill; /* the rate limits' budgets, every TR_REFILL_MS; NULL: no limit */
	int64_t up_budget, down_budget; /* bytes that may still move before the next refill */
	struct tr_creation_list creations;
	uint64_t rng;
	uint64_t next_peer_id;
	struct tr_stats stats;
};

/* peer.c */
/* A session on fd with the peer at addr, or, label non-NULL, an adopted one named label. */
struct tr_peer *tr_peer_new(struct tr_client *c, struct tr_torrent *t, int fd,
                            const struct tr_peer_addr *addr, bool outgoing, const char *label);
void tr_peer_close(struct tr_peer *p, const char *why);
void tr_peer_free(struct tr_peer *p);
void tr_peer_tick(struct tr_peer *p, int64_t now);
void tr_peer_send_have(struct tr_peer *p, uint32_t piece);
void tr_peer_set_choke(struct tr_peer *p, bool choke);
void tr_peer_update_interest(struct tr_peer *p);
void tr_peer_fill_requests(struct tr_peer *p);
void tr_peer_cancel_block(struct tr_peer *p, const struct tr_block *b);
void tr_peer_flush(struct tr_peer *p);
void tr_peer_got_meta(struct tr_peer *p);
/* The rate limits gave new budgets: paused reads resume, queued requests are served. */
void tr_peer_resume(struct tr_peer *p);
bool tr_peer_send(struct tr_peer *p, const void *data, size_t len);

/* peer_ext.c */
void tr_ext_send_handshake(struct tr_peer *p);
int tr_ext_handle(struct tr_peer *p, const struct tr_msg *m);
void tr_ext_request_metadata(struct tr_peer *p);
/* p leaves t: its metadata requests go to others (and its size with it). */
void tr_ext_peer_gone(struct tr_torrent *t, struct tr_peer *p);
/* Metadata requests unanswered in time: their peers are not asked again. */
void tr_ext_tick(struct tr_torrent *t, int64_t now);
/* Serves the metadata requests the upload budget held back. */
void tr_ext_serve(struct tr_peer *p);

/* torrent.c */
struct tr_torrent *tr_torrent_new(struct tr_client *c, const unsigned char ih[TR_HASH_LEN]);
void tr_torrent_free(struct tr_torrent *t);
int tr_torrent_set_meta(struct tr_torrent *t, struct tr_meta *m, struct cm_err *err);
int tr_torrent_open(struct tr_torrent *t, struct cm_err *err);
void tr_torrent_set_error(struct tr_torrent *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tr_torrent_block(struct tr_torrent *t, struct tr_peer *p, const struct tr_block *b,
                      struct evbuffer *data);
bool tr_torrent_work(struct tr_torrent *t);
/* A piece verified and written (by a peer's blocks or a web seed). */
void tr_torrent_piece_verified(struct tr_torrent *t, uint32_t piece);
void tr_torrent_tick(struct tr_torrent *t, int64_t now);
/* Dials the candidates due, within the caps. */
void tr_torrent_dial(struct tr_torrent *t, int64_t now);
void tr_torrent_add_candidate(struct tr_torrent *t, const struct tr_peer_addr *a);
void tr_torrent_peer_interested(struct tr_torrent *t, struct tr_peer *p);
/* We are complete: sessions with other seeds are of no use to either side. */
void tr_torrent_close_seeds(struct tr_torrent *t);
void tr_torrent_peer_gone(struct tr_torrent *t, struct tr_peer *p);
/* The inbound session of least use that a newcomer may take the place of; NULL: none. */
struct tr_peer *tr_torrent_evictable(struct tr_torrent *t, int64_t now);
bool tr_torrent_wanted(const struct tr_torrent *t);
/*
 * Before bytes [off, off+len) are served: false, and a check of the torrent
 * is due, when a file holding them changed since it was verified.
 */
bool tr_torrent_servable(struct tr_torrent *t, uint64_t off, uint64_t len);
void tr_torrent_status(const struct tr_torrent *t, struct tr_status *out);
char *tr_torrent_magnet(const struct tr_torrent *t);

/* client.c */
void tr_client_ban(struct tr_client *c, const char *ip, const char *why);
/* Bans p's address; an adopted p has none and is closed instead. */
void tr_client_ban_peer(struct tr_client *c, struct tr_peer *p, const char *why);
bool tr_client_banned(const struct tr_client *c, const char *ip);
int tr_client_dial(struct tr_client *c, struct tr_torrent *t, struct tr_candidate *cd);
void tr_client_kick(struct tr_client *c);
int tr_client_address_count(const struct tr_client *c, const char *ip);
/* The group addresses are counted by: an IPv4 address, an IPv6 /64 (one host's share). */
void tr_addr_group(const char *ip, char out[TR_GROUP_LEN]);
/* Inbound sessions of one torrent: the rest of max_peers_per_torrent is kept for our dials. */
int tr_client_inbound_max(const struct tr_client *c);
/* x.pe entries ("ip:port", "[ip6]:port") as candidates of t. */
void tr_client_add_peers_from(struct tr_torrent *t, const struct cm_strlist *peers);
/* A magnet's peers, trackers and web seeds join t's (those t has already are not added twice). */
void tr_torrent_add_magnet_sources(struct tr_torrent *t, const struct tr_magnet *mg);

/* client_http.c */
int tr_client_http_start(struct tr_client *c);
void tr_client_http_stop(struct tr_client *c);
void tr_torrent_announce(struct tr_torrent *t, int64_t now);
/* Tells the trackers we announced to that we leave (a removed torrent). */
void tr_torrent_announce_stopped(struct tr_torrent *t);
int tr_torrent_webseeds_open(struct tr_torrent *t);
void tr_torrent_webseeds_close(struct tr_torrent *t);
void tr_torrent_webseeds_work(struct tr_torrent *t);
int tr_torrent_webseeds_busy(const struct tr_torrent *t);

/* create.c */
/* Drops a creation (its threads joined) without calling its done. */
void tr_creation_free(struct tr_creation *cr);

/* store.c */
int tr_store_save(const struct tr_torrent *t);
int tr_store_save_torrent_file(struct tr_torrent *t);
int tr_store_load(struct tr_client *c);
void tr_store_remove(const struct tr_torrent *t);
char *tr_store_path(const struct tr_client *c, const char *hex, const char *ext);

#endif
