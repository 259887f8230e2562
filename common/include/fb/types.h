/*
 * types.h - the wire objects of Flashback peer discovery.
 *
 * Every string member is owned by the struct that holds it (heap, NUL
 * terminated) and released by that type's *_clear. Optional strings
 * are NULL when absent. Times are milliseconds since the Unix epoch (UTC);
 * on the wire they are RFC 3339 strings with milliseconds ("...T12:00:00.000Z").
 */
#ifndef FB_TYPES_H
#define FB_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/limits.h"
#include "fb/validate.h"

#define CM_PROTOCOL_VERSION 1
#define CM_PEER_STORE_VERSION 1 /* of the agent's peers.json */

enum cm_peer_status { CM_PEER_ONLINE, CM_PEER_STALE, CM_PEER_OFFLINE };

/* A growable list of owned strings. */
struct cm_strlist {
	char **items;
	size_t len;
};

/* RepositorySummary: {name, description?} */
struct cm_repository {
	char *name;
	char *description; /* NULL when absent */
};

struct cm_repolist {
	struct cm_repository *items;
	size_t len;
};

/*
 * A torrent a peer seeds, as its signed record announces it:
 * {info_hash, name, size, sha256}.
 */
struct cm_torrent_summary {
	char *info_hash; /* CM_INFO_HASH_LEN lower-case hex digits: the v1 btih */
	char *name;      /* 1..CM_MAX_TORRENT_NAME bytes, no control characters */
	int64_t size;    /* bytes of content, 0..CM_MAX_SAFE_INTEGER */
	char *sha256;    /* CM_SHA256_HEX_LEN lower-case hex digits: what the seeder hashed */
};

struct cm_torrentlist {
	struct cm_torrent_summary *items;
	size_t len;
};

/* capabilities: {max_peers, supports_torrent, bandwidth_estimate (bytes/s)} */
struct cm_capabilities {
	int64_t max_peers;          /* 1..CM_MAX_MAX_PEERS */
	bool supports_torrent;
	int64_t bandwidth_estimate; /* bytes per second, >= 0 */
};

#define CM_CAPABILITIES_DEFAULT_MAX_PEERS 8

/*
 * POST /api/bootstrap/register body. port is 0 when absent, which only a
 * non-broadcasting registration may do; a non-broadcasting registration
 * carries no socket addresses.
 */
struct cm_register_request {
	char *email;
	char *peer_id; /* NULL: the server generates one */
	struct cm_strlist socket_addresses;
	int port;
	struct cm_repolist repositories;
	bool is_broadcasting; /* default true */
	bool has_capabilities;
	struct cm_capabilities capabilities;
};

/*
 * One peer as the bootstrap server lists it. The scores are only present in
 * discover answers; performance_score is null there until feedback exists.
 * port is 0 (not written) only for a registration without addresses, which
 * the legacy lookup can show.
 */
struct cm_bootstrap_peer {
	char *email;
	char *peer_id;
	struct cm_strlist socket_addresses;
	int port;
	struct cm_repolist repositories;
	char *public_certificate; /* PEM */
	bool has_availability_score;
	double availability_score; /* 0..100 */
	bool has_performance_score; /* false: null or absent */
	double performance_score;   /* 0..100 */
};

struct cm_bootstrap_peerlist {
	struct cm_bootstrap_peer *items;
	size_t len;
};

/* POST /api/bootstrap/heartbeat body: {email}. */
struct cm_heartbeat_request {
	char *email;
};

/* POST /api/bootstrap/feedback body: {email, latency_ms}, about another peer. */
struct cm_feedback_request {
	char *email;
	int64_t latency_ms; /* 0..CM_MAX_LATENCY_MS */
};

/* One row of GET /api/admin/registrations: every unexpired registration. */
struct cm_admin_registration {
	struct cm_bootstrap_peer peer;
	char *fingerprint;
	bool is_broadcasting;
	enum cm_peer_status state; /* online or stale */
	int64_t registered_at_ms;
	int64_t last_heartbeat_ms;
	int64_t expires_at_ms;
};

struct cm_admin_registrationlist {
	struct cm_admin_registration *items;
	size_t len;
};

/* A whitelist entry: {fingerprint, note?, added_at}; also the POST body (no added_at). */
struct cm_whitelist_entry {
	char *fingerprint; /* 64 lower-case hex digits */
	char *note;        /* NULL when absent; <= CM_MAX_NOTE bytes */
	int64_t added_at_ms;
};

struct cm_whitelist {
	struct cm_whitelist_entry *items;
	size_t len;
};

/* 200 answer of POST /api/bootstrap/register. */
struct cm_register_response {
	char *status; /* "registered" */
	char *peer_id;
	int64_t expires_at_ms;
	int64_t heartbeat_interval_s;
	struct cm_bootstrap_peerlist bootstrap_peers;
};

/*
 * The record a peer signs about itself. socket_addresses is empty (and not
 * written) for a non-broadcasting peer; port is 0 when absent, which only a
 * non-broadcasting record may do. torrents are the torrents it seeds (empty:
 * not written, so records without any sign as before); torrent_port is its
 * peer-wire port, 0 (not written) for none and always for a silent peer,
 * which seeds only over connections it dials itself. relays are the emails
 * of the relays holding a reservation for it (empty: not written);
 * relay_port is the port it relays on, 0 (not written) for none and always
 * for a silent peer.
 */
struct cm_peer_record {
	char *email;
	char *peer_id;
	int64_t seq; /* 0..CM_MAX_SAFE_INTEGER; higher replaces lower */
	int64_t issued_at_ms;
	bool is_broadcasting;
	bool is_bootstrap;
	bool leaving;
	struct cm_strlist socket_addresses;
	int port;
	struct cm_repolist repositories;
	struct cm_capabilities capabilities;
	struct cm_torrentlist torrents;
	int torrent_port;
	struct cm_strlist relays;
	int relay_port;
};

/*
 * {record, public_certificate, signature}. canonical holds the canonical JSON
 * of the record exactly as it was received (unknown fields included), so the
 * signature can be checked and the record passed on unchanged; it is NULL for
 * a record built locally and not yet signed.
 */
struct cm_signed_record {
	struct cm_peer_record record;
	char *public_certificate; /* PEM */
	char *signature;          /* base64 */
	char *canonical;
};

struct cm_signed_recordlist {
	struct cm_signed_record *items;
	size_t len;
};

enum cm_peer_state { CM_STATE_DISCOVERED, CM_STATE_CONNECTED, CM_STATE_STALE };
enum cm_peer_source {
	CM_SOURCE_NONE, /* plain PeerInfo: no source/found_in_ms written */
	CM_SOURCE_TABLE,
	CM_SOURCE_GOSSIP,
	CM_SOURCE_BOOTSTRAP,
	CM_SOURCE_RELAY
};

/* PeerInfo as the agent's control API reports it. */
struct cm_peer_info {
	char *email;
	char *peer_id;
	char *public_certificate;
	struct cm_strlist socket_addresses; /* always written; [] for silent peers */
	int port;                           /* 0: none */
	bool is_broadcasting;
	bool is_bootstrap;
	enum cm_peer_status peer_status;
	enum cm_peer_state state;
	struct cm_repolist repositories;
	double availability_score; /* 0..100 */
	double performance_score;  /* 0..100 */
	double score;              /* 0..100 */
	int64_t bandwidth_estimate;
	int64_t discovered_at_ms;
	int64_t last_seen_ms;
	int64_t expires_at_ms;
	int64_t peer_count;
	int64_t gossip_received_count;
	enum cm_peer_source source; /* discover answers only */
	int64_t found_in_ms;        /* discover answers only */
	int torrent_port;           /* 0: none (not written) */
	struct cm_torrentlist torrents; /* what its record announces; empty: not written */
	struct cm_strlist reachable_via; /* its record's relays; always written, [] for none */
	char *via;                  /* relay of our gossip session with it; NULL: direct or none */
	int relay_port;             /* 0: none (not written) */
};

enum cm_msg_type {
	CM_MSG_PEER_ANNOUNCEMENT,
	CM_MSG_PEER_REQUEST,
	CM_MSG_PEER_LIST_RESPONSE,
	CM_MSG_HEARTBEAT
};

struct cm_peer_announcement {
	struct cm_signed_record origin;
};

/*
 * Anti-entropy summary: "send me the records that changed in your table
 * after your version since, except those this Bloom filter holds". The
 * filter holds the requester's recent (email, seq) keys, hashed with seed,
 * so only what is missing crosses the wire, never the whole table.
 */
struct cm_digest {
	int64_t since; /* the responder's table version last received; 0: none */
	int64_t seed;  /* salts the hashes so false positives differ per round */
	int k;         /* hash functions, 1..CM_MAX_BLOOM_K */
	char *bloom;   /* base64 of the filter's bits (8 per byte, LSB first) */
	/*
	 * Records issued before this (ms since the epoch) are not wanted: the
	 * requester was in sync then. 0 (absent on the wire): every record.
	 */
	int64_t issued_after_ms;
	/*
	 * The requester's table changed lately: a responder whose own did not
	 * may be missing that news, and asks back (docs/protocol.md section 5).
	 * false (absent on the wire): nothing lately.
	 */
	bool recent;
	/*
	 * The requester verifies a record of a peer it holds with the
	 * certificate it holds: the answer may carry such records in refreshes,
	 * without their certificates. false (absent on the wire): every record
	 * comes whole, in peers.
	 */
	bool certless;
};

/* Who seeds this torrent: {info_hash}. */
struct cm_torrent_search {
	char *info_hash; /* CM_INFO_HASH_LEN lower-case hex digits */
};

/*
 * An empty repositories list asks for peers of any repository. With a digest
 * it is an anti-entropy round; repositories then narrow what is sent. A
 * torrent search asks for the seeders of one torrent and comes alone: the
 * decoder refuses it next to repositories or a digest.
 */
struct cm_peer_request {
	struct cm_strlist repositories;
	bool has_digest;
	struct cm_digest digest;
	bool has_torrent_search;
	struct cm_torrent_search torrent_search;
};

/* version: in answers to a digest, the responder's table version covered. */
struct cm_peer_list_response {
	char *request_id;
	struct cm_signed_recordlist peers;
	/* Records without their certificate, for a digest that said certless. */
	struct cm_signed_recordlist refreshes;
	bool has_version;
	int64_t version;
};

struct cm_heartbeat {
	bool is_alive;
	bool is_bootstrap;
	int64_t peer_count;
};

/* {v, id, type, ttl, timestamp, sender{email, peer_id}, payload} */
struct cm_envelope {
	int v;
	char *id;
	enum cm_msg_type type;
	int ttl; /* 0..CM_MAX_TTL */
	int64_t timestamp_ms;
	char *sender_email;
	char *sender_peer_id;
	union {
		struct cm_peer_announcement announcement;
		struct cm_peer_request request;
		struct cm_peer_list_response list_response;
		struct cm_heartbeat heartbeat;
	} payload;
};

/* What cm_announcement_peek reads of a frame: enough to tell a duplicate. */
struct cm_envelope_peek {
	int v;
	char id[CM_UUID_TEXT_LEN + 1];
	enum cm_msg_type type;
	int ttl;
	int64_t timestamp_ms;
	/* payload.origin: its record's email and seq, and whether it carries its certificate */
	char email[CM_MAX_EMAIL + 1];
	int64_t seq;
	bool has_certificate;
};

/* {status, expires_at?}: the short success answer (heartbeat, unregister, ...). */
struct cm_status {
	char *status;
	bool has_expires_at;
	int64_t expires_at_ms;
};

/* Every error answer: {error: message, code: slug}. */
struct cm_error_body {
	char *error;
	char *code;
};

/* Counters by name, {name: count, ...} on the wire (in the order kept here). */
struct cm_counter {
	char *name;
	int64_t count;
};

struct cm_counterlist {
	struct cm_counter *items;
	size_t len;
};

struct cm_intlist {
	int64_t *items;
	size_t len;
};

/* The agent's gossip statistics (status.gossip). */
struct cm_gossip_stats {
	int64_t received;
	struct cm_counterlist verdicts; /* by engine verdict name */
	int64_t records_applied;
	int64_t forwarded;
	int64_t sent;
	int64_t stripped_addresses;
	int64_t anti_entropy_rounds;
	int64_t requests_answered;
	int64_t refreshes_pulled; /* records applied from anti-entropy answers without certificates */
	int64_t sessions_open;
	struct cm_counterlist closed_by_code; /* "1000".."1015": sessions ended with it */
	int64_t handshake_failures;
	int64_t pin_failures;
	int64_t bytes_in;
	int64_t bytes_out;
	struct cm_counterlist limits; /* docs/security.md: how often each limit bit, by name */
};

/* status.bootstrap: the registration's state; url and expires_at are null when unknown. */
struct cm_agent_bootstrap {
	char *state;
	char *url;
	bool has_expires_at;
	int64_t expires_at_ms;
};

/* GET /api/v1/status (and the answer of broadcast on/off). */
struct cm_agent_status {
	char *email;
	char *peer_id;
	bool broadcasting;
	struct cm_agent_bootstrap bootstrap;
	int64_t neighbours;
	int64_t known_peers;
	char *version;
	bool is_bootstrap;
	int64_t listen_port; /* -1: no listener */
	struct cm_repolist repositories; /* ours: what broadcasting announces */
	struct cm_gossip_stats gossip;
};

/* A PeerInfo array: the peers, discover and lookup answers. */
struct cm_peer_infolist {
	struct cm_peer_info *items;
	size_t len;
};

/* POST /api/v1/broadcast body: {repositories?}; an empty body is none. */
struct cm_broadcast_request {
	bool has_repositories;
	struct cm_repolist repositories;
};

/* One peers[] item of the agent's peer store (DIR/peers.json). */
struct cm_store_entry {
	struct cm_signed_record rec; /* "signed" */
	char *fingerprint;
	int64_t discovered_at_ms;
	int64_t last_seen_ms;
};

struct cm_store_entrylist {
	struct cm_store_entry *items;
	size_t len;
};

/* One pins[] item of the peer store: a pin kept apart from the entries. */
struct cm_store_pin {
	char *email;
	char *fingerprint;
	bool verified; /* proven by direct contact */
};

/*
 * The peer store document {version, saved_at, peers, pins?}. Decoding keeps
 * peers and pins as the JSON arrays they are (a bad item is skipped, not the
 * whole file).
 */
struct cm_peer_store {
	int version;
	int64_t saved_at_ms;
	struct json_t *peers;
	bool has_pins;
	struct json_t *pins;
};

/* What the topology tool reads of a PeerInfo: {email?, state?}, nothing checked. */
struct cm_peer_link {
	char *email;
	char *state;
};

struct cm_peer_linklist {
	struct cm_peer_link *items;
	size_t len;
};

/* peer-agent topology --json: the summary of one analysis. */
struct cm_topology_summary {
	int64_t nodes;
	int64_t edges;
	int64_t components;
	int64_t largest_component;
	bool partitioned;
	int64_t degree_min;
	double degree_avg; /* written rounded to three decimals */
	int64_t degree_max;
	int64_t diameter_estimate;
	struct cm_intlist degree_histogram;
};

enum cm_torrent_state {
	CM_TORRENT_CHECKING,
	CM_TORRENT_DOWNLOADING,
	CM_TORRENT_SEEDING,
	CM_TORRENT_PAUSED,
	CM_TORRENT_ERROR
};

/* One file of a multi-file torrent: {path (relative to the torrent's folder), sha256}. */
struct cm_torrent_file {
	char *path;
	char *sha256;
};

struct cm_torrent_filelist {
	struct cm_torrent_file *items;
	size_t len;
};

/* TorrentStatus: one torrent as the control API shows it (GET /api/v1/torrents...). */
struct cm_torrent_status {
	char *info_hash;
	char *name; /* NULL (written null) while the metadata is unknown */
	int64_t size; /* bytes; 0 while unknown */
	enum cm_torrent_state state;
	double progress; /* 0..1 of verified pieces */
	int64_t peers;   /* peer-wire sessions and web seeds in use */
	int64_t download_rate; /* bytes/s */
	int64_t upload_rate;
	int64_t downloaded; /* payload bytes */
	int64_t uploaded;
	char *path;         /* the file or folder on disk, final name */
	char *sha256;       /* of the whole content; NULL (written null) while unknown */
	char *magnet;
	char *torrent_file; /* the .torrent written; NULL (written null) while unknown */
	char *error;        /* state "error" only: why; NULL: not written */
	struct cm_torrent_filelist files; /* multi-file only; empty: not written */
};

struct cm_torrent_statuslist {
	struct cm_torrent_status *items;
	size_t len;
};

/* TorrentCreated: the answer of POST /api/v1/torrents {path, name?}. */
struct cm_torrent_created {
	char *info_hash;
	char *sha256; /* of the file; NULL (written null) for a folder: each file's is in files */
	char *name;
	int64_t size;
	int64_t piece_length;
	char *magnet;
	char *torrent_file;
	struct cm_torrent_filelist files; /* multi-file only: each file's SHA-256; empty: not written */
};

/*
 * POST /api/v1/torrents body, one of two shapes: create {path, name?} (path
 * set), or get {magnet | info_hash | torrent_file, dest} (exactly one of the
 * three, and dest). torrent_file is a local path of a .torrent. The decoder
 * refuses every other mix.
 */
struct cm_torrent_add_request {
	char *path;
	char *name;
	char *magnet;
	char *info_hash;
	char *torrent_file;
	char *dest;
};

/*
 * RelayStatus: GET /api/v1/relay (docs/protocol.md section 7). Reservations
 * we hold and grant, circuits of ours and circuits we relay, and counters
 * since start. Times are wall clock ms (RFC 3339 on the wire).
 */
enum cm_relay_service { CM_RELAY_GOSSIP, CM_RELAY_TORRENT };

/* A reservation we hold on relay; expires_at only once granted (not pending). */
struct cm_relay_held {
	char *relay;
	bool pending;
	int64_t since_ms;
	bool has_expires_at;
	int64_t expires_at_ms;
};

/* A reservation we grant to peer. */
struct cm_relay_served {
	char *peer;
	int64_t since_ms;
	int64_t expires_at_ms;
};

/* A circuit of ours: peer the far end, through relay; inbound: the far end dialled. */
struct cm_relay_circuit {
	char *peer;
	char *relay;
	enum cm_relay_service service;
	bool inbound;
	bool pending;
	int64_t since_ms;
	int64_t bytes;
};

/* A circuit we relay: peer the dialer, target the reserved end. */
struct cm_relay_circuit_served {
	char *peer;
	char *target;
	enum cm_relay_service service;
	bool pending;
	int64_t since_ms;
	int64_t bytes;
};

struct cm_relay_heldlist {
	struct cm_relay_held *items;
	size_t len;
};
struct cm_relay_servedlist {
	struct cm_relay_served *items;
	size_t len;
};
struct cm_relay_circuitlist {
	struct cm_relay_circuit *items;
	size_t len;
};
struct cm_relay_circuit_servedlist {
	struct cm_relay_circuit_served *items;
	size_t len;
};

/* Circuits and reservations refused, by the limit that refused them. */
struct cm_relay_refused {
	int64_t no_reservation, max_reservations, not_allowed, max_circuits;
	int64_t per_peer, per_address, rate, bad_request;
};

/* Joined circuits closed by a limit. */
struct cm_relay_closed {
	int64_t byte_cap, lifetime;
};

struct cm_relay_status {
	struct cm_relay_heldlist reservations_held;
	struct cm_relay_servedlist reservations_served;
	struct cm_relay_circuitlist circuits;
	struct cm_relay_circuit_servedlist circuits_served;
	bool serving;
	int relay_port; /* 0: not serving */
	/* serving */
	int64_t reservations_granted, reservations_renewed, reservations_refused;
	int64_t circuits_opened, circuits_closed;
	struct cm_relay_refused refused;
	int64_t join_timeouts;
	struct cm_relay_closed closed;
	int64_t bytes_relayed;
	/* using */
	int64_t circuits_dialed, circuits_accepted, circuit_failures;
	int64_t bytes_carried;
};

/* The relay port's line protocol (docs/protocol.md section 7): one object per line. */
enum cm_relay_op {
	CM_RELAY_RESERVE,
	CM_RELAY_RESERVED,
	CM_RELAY_CONNECT,
	CM_RELAY_INVITE,
	CM_RELAY_JOIN,
	CM_RELAY_DECLINE,
	CM_RELAY_JOINED,
	CM_RELAY_PING,
	CM_RELAY_PONG,
	CM_RELAY_ERROR
};

#define CM_RELAY_CIRCUIT_LEN 32 /* lower-case hex digits of a circuit id */
#define CM_MAX_RELAY_CODE 32
#define CM_MAX_RELAY_REASON 256
#define CM_MAX_RELAY_SERVICE 16

/*
 * One line. Which fields an op needs is checked by the decoder: reserved
 * expires_in_s; connect to and service; invite circuit, from and service;
 * join and decline circuit; error code. The rest are optional and ignored.
 */
struct cm_relay_msg {
	enum cm_relay_op op;
	char *to;
	char *from;
	char *circuit;
	char *service; /* "gossip" or "torrent", as the relay room names them */
	char *code;
	char *reason;
	int64_t expires_in_s;
	bool has_expires_in_s;
};

/* Names as they appear on the wire; NULL for an out-of-range value. */
const char *cm_msg_type_name(enum cm_msg_type t);
const char *cm_peer_status_name(enum cm_peer_status s);
const char *cm_peer_state_name(enum cm_peer_state s);
const char *cm_peer_source_name(enum cm_peer_source s);
/* "checking", "downloading", "seeding", "paused", "error" */
const char *cm_torrent_state_name(enum cm_torrent_state s);
/* "gossip", "torrent" */
const char *cm_relay_service_name(enum cm_relay_service s);
/* 0 and *out, or -1 for a name that is neither. */
int cm_relay_service_parse(const char *name, enum cm_relay_service *out);
/* "reserve", "reserved", "connect", "invite", "join", "decline", "joined", "ping", "pong", "error" */
const char *cm_relay_op_name(enum cm_relay_op op);

/* Lists: append takes a copy; return 0 or -1 on allocation failure. */
int cm_strlist_append(struct cm_strlist *l, const char *s);
void cm_strlist_clear(struct cm_strlist *l);
/* The n items joined with sep, as a new string the caller frees; NULL without memory. */
char *cm_join(const char *const *items, size_t n, const char *sep);
int cm_repolist_append(struct cm_repolist *l, const char *name, const char *description);
void cm_repolist_clear(struct cm_repolist *l);
int cm_torrentlist_append(struct cm_torrentlist *l, const char *info_hash, const char *name,
			  int64_t size, const char *sha256);
void cm_torrentlist_clear(struct cm_torrentlist *l);

/* Releases the members and zeroes the struct; the struct itself is the caller's. */
void cm_register_request_clear(struct cm_register_request *r);
void cm_heartbeat_request_clear(struct cm_heartbeat_request *r);
void cm_feedback_request_clear(struct cm_feedback_request *r);
void cm_bootstrap_peer_clear(struct cm_bootstrap_peer *p);
void cm_bootstrap_peerlist_clear(struct cm_bootstrap_peerlist *l);
void cm_register_response_clear(struct cm_register_response *r);
void cm_peer_record_clear(struct cm_peer_record *r);
void cm_admin_registrationlist_clear(struct cm_admin_registrationlist *l);
void cm_whitelist_entry_clear(struct cm_whitelist_entry *w);
void cm_whitelist_clear(struct cm_whitelist *l);
void cm_signed_record_clear(struct cm_signed_record *s);
void cm_signed_recordlist_clear(struct cm_signed_recordlist *l);
void cm_peer_info_clear(struct cm_peer_info *p);
void cm_envelope_clear(struct cm_envelope *e);


/* Deep copies; return 0 or -1 (dst is left cleared on failure). */
int cm_peer_record_copy(struct cm_peer_record *dst, const struct cm_peer_record *src);
int cm_signed_record_copy(struct cm_signed_record *dst, const struct cm_signed_record *src);

#endif
