/*
 * codec.h - the one JSON codec (Jansson) for every wire type.
 *
 * Encoders return a new json_t reference (caller owns it, json_decref) or NULL
 * on allocation failure or a value that cannot be written (an out-of-range
 * time). Decoders are strict: they fill *out (which the caller then releases
 * with the type's *_clear) and return 0, or leave *out cleared, set err to a
 * message that names the failing field, and return -1. Unknown fields are
 * ignored; missing required fields, wrong JSON types (a real where an integer
 * is due included) and out-of-range values are errors. No input crashes them.
 */
#ifndef FB_CODEC_H
#define FB_CODEC_H

#include <jansson.h>
#include <stddef.h>

#include "fb/err.h"
#include "fb/types.h"

/*
 * Parses len bytes of JSON text (duplicate keys, NUL characters and invalid
 * UTF-8 rejected) after checking len <= limit_bytes. Returns a new reference
 * or NULL with err set.
 */
json_t *cm_json_parse(const char *buf, size_t len, size_t limit_bytes, struct cm_err *err);

/* Compact dump; caller frees the string. NULL on failure. */
char *cm_json_dump(const json_t *j);
/* The same, dropping the reference to j (NULL allowed), and the length in *len (len may be NULL). */
char *cm_json_dump_take(json_t *j, size_t *len);

/*
 * Canonical JSON for signing: sorted keys, compact, UTF-8, integers only (a
 * real anywhere is an error). Caller frees the string; NULL with err set.
 */
char *cm_json_canonical(const json_t *j, struct cm_err *err);

json_t *cm_repository_encode(const struct cm_repository *r);
json_t *cm_capabilities_encode(const struct cm_capabilities *c);

json_t *cm_register_request_encode(const struct cm_register_request *r);
int cm_register_request_decode(const json_t *j, struct cm_register_request *out,
			       struct cm_err *err);

json_t *cm_heartbeat_request_encode(const struct cm_heartbeat_request *r);
int cm_heartbeat_request_decode(const json_t *j, struct cm_heartbeat_request *out,
				struct cm_err *err);
json_t *cm_feedback_request_encode(const struct cm_feedback_request *r);
int cm_feedback_request_decode(const json_t *j, struct cm_feedback_request *out,
			       struct cm_err *err);

json_t *cm_bootstrap_peer_encode(const struct cm_bootstrap_peer *p);
int cm_bootstrap_peer_decode(const json_t *j, struct cm_bootstrap_peer *out, struct cm_err *err);

/* A top-level array of bootstrap peers (peers, discover, list answers). */
json_t *cm_bootstrap_peerlist_encode(const struct cm_bootstrap_peerlist *l);
int cm_bootstrap_peerlist_decode(const json_t *j, struct cm_bootstrap_peerlist *out,
				 struct cm_err *err);

json_t *cm_register_response_encode(const struct cm_register_response *r);
/*
 * The same as text around peers_text, a bootstrap peer array written
 * elsewhere (the server's database builds it): r's own list is ignored.
 * Caller frees; NULL on failure.
 */
char *cm_register_response_text(const struct cm_register_response *r, const char *peers_text,
				size_t *len);
int cm_register_response_decode(const json_t *j, struct cm_register_response *out,
				struct cm_err *err);

json_t *cm_admin_registrationlist_encode(const struct cm_admin_registrationlist *l);
int cm_admin_registrationlist_decode(const json_t *j, struct cm_admin_registrationlist *out,
				     struct cm_err *err);
/* One row as the database builds it (the same shape as one list entry). */
int cm_admin_registration_decode(const json_t *j, struct cm_admin_registration *out,
				 struct cm_err *err);
/* The same from the row's JSON text (a trusted source: no size cap). */
int cm_admin_registration_from_text(const char *text, struct cm_admin_registration *out,
				    struct cm_err *err);
int cm_bootstrap_peer_from_text(const char *text, struct cm_bootstrap_peer *out,
				struct cm_err *err);

json_t *cm_whitelist_entry_encode(const struct cm_whitelist_entry *w);
/* The POST body: {fingerprint, note?}; added_at is not read. */
int cm_whitelist_entry_decode(const json_t *j, struct cm_whitelist_entry *out, struct cm_err *err);
json_t *cm_whitelist_encode(const struct cm_whitelist *l);

json_t *cm_peer_record_encode(const struct cm_peer_record *r);
int cm_peer_record_decode(const json_t *j, struct cm_peer_record *out, struct cm_err *err);

/*
 * A signed record is written with its received record object when canonical
 * is set (so unknown fields survive forwarding), else from the struct. The
 * decoder fills canonical and rejects a record over CM_MAX_SIGNED_RECORD bytes.
 * A NULL public_certificate is left out: only an announcement's origin may
 * lack it (a refresh, verified with the certificate the receiver holds);
 * everywhere else the decoders require it.
 */
json_t *cm_signed_record_encode(const struct cm_signed_record *s);
int cm_signed_record_decode(const json_t *j, struct cm_signed_record *out, struct cm_err *err);

json_t *cm_peer_info_encode(const struct cm_peer_info *p);
int cm_peer_info_decode(const json_t *j, struct cm_peer_info *out, struct cm_err *err);

json_t *cm_envelope_encode(const struct cm_envelope *e);
int cm_envelope_decode(const json_t *j, struct cm_envelope *out, struct cm_err *err);

/*
 * A PEER_ANNOUNCEMENT envelope of e (its payload ignored) around origin, an
 * encoded signed record the caller keeps its reference to: an agent encodes
 * its own record once and announces it many times.
 */
json_t *cm_announcement_encode(const struct cm_envelope *e, json_t *origin);

/*
 * The same as one frame's text, origin_text (a signed record's compact JSON,
 * written once by the caller) spliced in unparsed. Caller frees; NULL on failure.
 */
char *cm_announcement_text(const struct cm_envelope *e, const char *origin_text, size_t *len);

/*
 * A received frame passed on: tree (as cm_envelope_from_frame_tree parsed it)
 * with ttl and sender replaced, everything else, unknown fields included, as
 * it came. Returns the frame text and *len (caller frees), or NULL.
 */
char *cm_envelope_forward(json_t *tree, int ttl, const char *sender_email,
			  const char *sender_peer_id, size_t *len);
/*
 * After cm_envelope_forward: the frame again with cert put into an
 * announcement's origin that lacks one. NULL when it has one (or on failure).
 */
char *cm_envelope_forward_with_certificate(json_t *tree, const char *cert, size_t *len);

/* Text front ends with the byte caps of their transport. */
int cm_envelope_from_frame(const char *buf, size_t len, struct cm_envelope *out,
			   struct cm_err *err); /* <= CM_MAX_FRAME */
/* The same, and *tree receives the parsed frame (the caller's reference) to forward it from. */
int cm_envelope_from_frame_tree(const char *buf, size_t len, struct cm_envelope *out,
				json_t **tree, struct cm_err *err);
/*
 * A look at a received frame without decoding it: when the frame is a
 * PEER_ANNOUNCEMENT, fills *out with what cm_envelope_from_frame would decode
 * of it and returns 0; -1 otherwise, or when the look cannot be sure (the
 * full decode then decides). 0 says the text is JSON that cm_json_parse
 * accepts and these members are valid; it says nothing of the other members,
 * which are not read.
 */
int cm_announcement_peek(const char *buf, size_t len, struct cm_envelope_peek *out);
int cm_register_request_from_body(const char *buf, size_t len, struct cm_register_request *out,
				  struct cm_err *err); /* <= CM_MAX_BODY */

/* {"status": status} plus "expires_at" when expires_at_ms >= 0. */
json_t *cm_status_encode(const char *status, int64_t expires_at_ms);

/* Error body {"error": message, "code": slug}. */
json_t *cm_error_body_encode(const char *message, const char *code);

/* The same two answers as structs (a client reads them; release with *_clear). */
json_t *cm_status_body_encode(const struct cm_status *s);
int cm_status_body_decode(const json_t *j, struct cm_status *out, struct cm_err *err);
void cm_status_clear(struct cm_status *s);
int cm_error_body_decode(const json_t *j, struct cm_error_body *out, struct cm_err *err);
int cm_error_body_from_text(const char *buf, size_t len, struct cm_error_body *out,
			    struct cm_err *err); /* <= CM_MAX_BODY */
void cm_error_body_clear(struct cm_error_body *e);

/*
 * The peer agent's own documents (codec_agent.c): its control API, its peer
 * store and the topology tool. Each has encode, strict decode and clear.
 */
#define CM_CODEC_DECLARE(fn, T)                                                                \
	json_t *cm_##fn##_encode(const T *v);                                                  \
	int cm_##fn##_decode(const json_t *j, T *out, struct cm_err *err);                     \
	void cm_##fn##_clear(T *v)

CM_CODEC_DECLARE(agent_status, struct cm_agent_status);
CM_CODEC_DECLARE(gossip_stats, struct cm_gossip_stats);
/* A PeerInfo array: GET /api/v1/peers, discover and lookup answers. */
CM_CODEC_DECLARE(peer_infolist, struct cm_peer_infolist);
/* POST /api/v1/broadcast body; has_repositories tells whether it named any. */
CM_CODEC_DECLARE(broadcast_request, struct cm_broadcast_request);
/* One peers[] item of peers.json; rec is checked as a signed record with its certificate. */
CM_CODEC_DECLARE(store_entry, struct cm_store_entry);
/* One pins[] item of peers.json. */
CM_CODEC_DECLARE(store_pin, struct cm_store_pin);
/* peers.json: version must be CM_PEER_STORE_VERSION; peers and pins are kept as JSON arrays. */
CM_CODEC_DECLARE(peer_store, struct cm_peer_store);
/* What the topology tool reads of PeerInfo arrays: {email?, state?}. */
CM_CODEC_DECLARE(peer_linklist, struct cm_peer_linklist);
CM_CODEC_DECLARE(topology_summary, struct cm_topology_summary);
/* TorrentStatus: GET /api/v1/torrents/{info_hash}; a list of them: GET /api/v1/torrents. */
CM_CODEC_DECLARE(torrent_status, struct cm_torrent_status);
CM_CODEC_DECLARE(torrent_statuslist, struct cm_torrent_statuslist);
/* TorrentCreated: POST /api/v1/torrents {path, name?}. */
CM_CODEC_DECLARE(torrent_created, struct cm_torrent_created);
/* POST /api/v1/torrents body: create or get, one shape or the other (fb/types.h). */
CM_CODEC_DECLARE(torrent_add_request, struct cm_torrent_add_request);
/* RelayStatus: GET /api/v1/relay. */
CM_CODEC_DECLARE(relay_status, struct cm_relay_status);
/* One line of the relay port (docs/protocol.md section 7). */
CM_CODEC_DECLARE(relay_msg, struct cm_relay_msg);

/* Text front ends: API answers (<= CM_MAX_API_ANSWER), the broadcast body (<= CM_MAX_BODY). */
int cm_agent_status_from_text(const char *buf, size_t len, struct cm_agent_status *out,
			      struct cm_err *err);
int cm_peer_infolist_from_text(const char *buf, size_t len, struct cm_peer_infolist *out,
			       struct cm_err *err);
int cm_broadcast_request_from_body(const char *buf, size_t len, struct cm_broadcast_request *out,
				   struct cm_err *err);
/* Torrent answers (<= CM_MAX_API_ANSWER) and the POST body (<= CM_MAX_BODY). */
int cm_torrent_status_from_text(const char *buf, size_t len, struct cm_torrent_status *out,
				struct cm_err *err);
int cm_torrent_statuslist_from_text(const char *buf, size_t len,
				    struct cm_torrent_statuslist *out, struct cm_err *err);
int cm_torrent_created_from_text(const char *buf, size_t len, struct cm_torrent_created *out,
				 struct cm_err *err);
int cm_relay_status_from_text(const char *buf, size_t len, struct cm_relay_status *out,
			      struct cm_err *err);
int cm_torrent_add_request_from_body(const char *buf, size_t len,
				     struct cm_torrent_add_request *out, struct cm_err *err);

/* A relay line without its newline (<= limit bytes) to a message, and one message to text
 * (compact, no newline; caller frees; NULL on failure). */
int cm_relay_msg_from_text(const char *buf, size_t len, size_t limit, struct cm_relay_msg *out,
			   struct cm_err *err);
char *cm_relay_msg_text(const struct cm_relay_msg *m);

/* Appends a copy of name with count; 0 or -1 on allocation failure. */
int cm_counterlist_append(struct cm_counterlist *l, const char *name, int64_t count);

/* The summary as one compact line (reals with 15 significant digits); caller frees. */
char *cm_topology_summary_text(const struct cm_topology_summary *s);

/* Every table as JSON ([{name, schema, fields: [...]}]), for the schema test. */
json_t *cm_codec_tables(void);

#endif
