/*
 * codec_wire.c - the tables of the gossip protocol's and the bootstrap
 * server's wire types, and their public entry points (fb/codec.h).
 *
 * Rules a table cannot say are the small hooks next to their tables: a signed
 * record's size cap and canonical text, the payload chosen by the message
 * type, the privacy rule that a silent record carries no addresses, the
 * announcement spliced around a record written once.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec_table.h"
#include "fb/codec.h"
#include "fb/validate.h"

#define fail cm_codec_fail

/* Enum names as the tables want them: int in, wire name out. */
#define NAME_OF(fn, name_fn, E)                                                                \
	static const char *fn(int v) { return name_fn((E)v); }
NAME_OF(status_name, cm_peer_status_name, enum cm_peer_status)
NAME_OF(state_name, cm_peer_state_name, enum cm_peer_state)
NAME_OF(source_name, cm_peer_source_name, enum cm_peer_source)
NAME_OF(msg_type_name, cm_msg_type_name, enum cm_msg_type)

static const struct cm_field repository_fields[] = {
	STR(struct cm_repository, "name", name, F_REQ, CM_MAX_REPO_NAME, STR_REPO),
	STR(struct cm_repository, "description", description, 0, CM_MAX_DESCRIPTION, STR_ANY),
};
TYPE(cm_repository_type, "repository", "common.schema.json#/$defs/repository",
     struct cm_repository, repository_fields);

static const struct cm_field torrent_summary_fields[] = {
	STR(struct cm_torrent_summary, "info_hash", info_hash, F_REQ, CM_INFO_HASH_LEN,
	    STR_INFO_HASH),
	STR(struct cm_torrent_summary, "name", name, F_REQ, CM_MAX_TORRENT_NAME, STR_TORRENT_NAME),
	INT(struct cm_torrent_summary, "size", size, F_REQ, 0, CM_MAX_SAFE_INTEGER),
	STR(struct cm_torrent_summary, "sha256", sha256, F_REQ, CM_SHA256_HEX_LEN, STR_SHA256),
};
static TYPE(torrent_summary_type, "torrent-summary", "common.schema.json#/$defs/torrentSummary",
	    struct cm_torrent_summary, torrent_summary_fields);

/* A record's or a PeerInfo's torrents: left out when there are none. */
#define TORRENTS(T, has)                                                                       \
	{.name = "torrents", .kind = CK_ARRAY, CM_MEMBER(T, torrents),                           \
	 .sub = &torrent_summary_type, .max = CM_MAX_TORRENTS, .enc_if = (has)}

/* Required in a signed record; in a registration (F_LAX) each may be left out. */
static const struct cm_field capabilities_fields[] = {
	{.name = "max_peers", .kind = CK_INT, .flags = F_LAXABLE | F_DEFAULT,
	 CM_MEMBER(struct cm_capabilities, max_peers), .min = 1, .max = CM_MAX_MAX_PEERS,
	 .dflt = CM_CAPABILITIES_DEFAULT_MAX_PEERS},
	BOOL(struct cm_capabilities, "supports_torrent", supports_torrent, F_LAXABLE),
	INT(struct cm_capabilities, "bandwidth_estimate", bandwidth_estimate, F_LAXABLE, 0,
	    CM_MAX_SAFE_INTEGER),
};
static TYPE(capabilities_type, "capabilities", "common.schema.json#/$defs/capabilities",
     struct cm_capabilities, capabilities_fields);

static bool
register_broadcasting(const void *base)
{
	return ((const struct cm_register_request *)base)->is_broadcasting;
}

static int
register_request_check(struct dctx *c, const json_t *j, void *obj)
{
	const struct cm_register_request *r = obj;

	(void)j;
	if (!r->is_broadcasting && r->socket_addresses.len > 0)
		return fail(c, "socket_addresses", "must be empty when is_broadcasting is false");
	return 0;
}

/* Encoded in this order; email, peer_id and is_broadcasting are read first. */
static const struct cm_field register_request_fields[] = {
	STR(struct cm_register_request, "email", email, F_REQ | F_FIRST, CM_MAX_EMAIL, STR_EMAIL),
	PEER_ID(struct cm_register_request, peer_id, F_FIRST),
	ADDRESSES(struct cm_register_request, 0),
	{.name = "port", .kind = CK_INT, .flags = F_OMIT_ZERO,
	 CM_MEMBER(struct cm_register_request, port), .min = 1, .max = 65535,
	 .req_if = register_broadcasting},
	REPOSITORIES(struct cm_register_request),
	{.name = "is_broadcasting", .kind = CK_BOOL, .flags = F_FIRST | F_DEFAULT,
	 CM_MEMBER(struct cm_register_request, is_broadcasting), .dflt = 1},
	{.name = "capabilities", .kind = CK_OBJECT, .flags = F_LAX | F_HAS,
	 CM_MEMBER(struct cm_register_request, capabilities), .sub = &capabilities_type,
	 .has_off = offsetof(struct cm_register_request, has_capabilities)},
};
static TYPE(register_request_type, "register-request", "register-request.schema.json",
     struct cm_register_request, register_request_fields, .check = register_request_check);

static bool
bootstrap_peer_has_addresses(const void *base)
{
	return ((const struct cm_bootstrap_peer *)base)->socket_addresses.len > 0;
}

/* In discover answers performance_score is always written: null until feedback exists. */
static bool
bootstrap_peer_scored(const void *base)
{
	const struct cm_bootstrap_peer *p = base;

	return p->has_availability_score || p->has_performance_score;
}

static const struct cm_field bootstrap_peer_fields[] = {
	EMAIL(struct cm_bootstrap_peer, email),
	PEER_ID(struct cm_bootstrap_peer, peer_id, F_REQ),
	ADDRESSES(struct cm_bootstrap_peer, F_REQ),
	{.name = "port", .kind = CK_INT, .flags = F_OMIT_ZERO,
	 CM_MEMBER(struct cm_bootstrap_peer, port), .min = 1, .max = 65535,
	 .req_if = bootstrap_peer_has_addresses},
	REPOSITORIES(struct cm_bootstrap_peer),
	CERT(struct cm_bootstrap_peer, F_REQ),
	{.name = "availability_score", .kind = CK_SCORE, .flags = F_HAS,
	 CM_MEMBER(struct cm_bootstrap_peer, availability_score),
	 .has_off = offsetof(struct cm_bootstrap_peer, has_availability_score)},
	{.name = "performance_score", .kind = CK_SCORE, .flags = F_HAS | F_NULLABLE,
	 CM_MEMBER(struct cm_bootstrap_peer, performance_score),
	 .has_off = offsetof(struct cm_bootstrap_peer, has_performance_score),
	 .enc_if = bootstrap_peer_scored},
};
static TYPE(bootstrap_peer_type, "bootstrap-peer", "bootstrap-peer.schema.json",
     struct cm_bootstrap_peer, bootstrap_peer_fields);

static const struct cm_field register_response_fields[] = {
	{.name = "status", .kind = CK_STRING, .flags = F_REQ,
	 CM_MEMBER(struct cm_register_response, status), .max = 64, .dflt_str = "registered"},
	PEER_ID(struct cm_register_response, peer_id, F_REQ),
	TIME(struct cm_register_response, "expires_at", expires_at_ms, F_REQ),
	INT(struct cm_register_response, "heartbeat_interval_s", heartbeat_interval_s, F_REQ, 1,
	    CM_MAX_HEARTBEAT_INTERVAL_S),
	{.name = "bootstrap_peers", .kind = CK_ARRAY, .flags = F_REQ,
	 CM_MEMBER(struct cm_register_response, bootstrap_peers), .sub = &bootstrap_peer_type,
	 .max = CM_MAX_BOOTSTRAP_PEERS},
};
/* The status check runs before the rest: a wrong status is the first thing said. */
static int
register_response_pre(struct dctx *c, const json_t *j)
{
	const json_t *s = json_object_get(j, "status");

	if (s == NULL)
		return fail(c, "status", "missing");
	if (cm_codec_check_string(c, "status", s, 64, STR_ANY) != 0)
		return -1;
	if (strcmp(json_string_value(s), "registered") != 0)
		return fail(c, "status", "expected \"registered\"");
	return 0;
}
static TYPE(register_response_type, "register-response", "register-response.schema.json",
     struct cm_register_response, register_response_fields, .pre = register_response_pre);

static const struct cm_field heartbeat_request_fields[] = {
	EMAIL(struct cm_heartbeat_request, email),
};
static TYPE(heartbeat_request_type, "heartbeat-request", "heartbeat-request.schema.json",
     struct cm_heartbeat_request, heartbeat_request_fields);

static const struct cm_field feedback_request_fields[] = {
	EMAIL(struct cm_feedback_request, email),
	INT(struct cm_feedback_request, "latency_ms", latency_ms, F_REQ, 0, CM_MAX_LATENCY_MS),
};
static TYPE(feedback_request_type, "feedback-request", "feedback-request.schema.json",
     struct cm_feedback_request, feedback_request_fields);

static const struct cm_field admin_registration_fields[] = {
	{.name = "peer", .kind = CK_EMBED, CM_MEMBER(struct cm_admin_registration, peer),
	 .sub = &bootstrap_peer_type},
	STR(struct cm_admin_registration, "fingerprint", fingerprint, F_REQ, CM_FINGERPRINT_LEN,
	    STR_FINGERPRINT),
	BOOL(struct cm_admin_registration, "is_broadcasting", is_broadcasting, F_REQ),
	ENUM(struct cm_admin_registration, "state", state, F_REQ, status_name, CM_PEER_ONLINE,
	     CM_PEER_STALE),
	TIME(struct cm_admin_registration, "registered_at", registered_at_ms, F_REQ),
	TIME(struct cm_admin_registration, "last_heartbeat", last_heartbeat_ms, F_REQ),
	TIME(struct cm_admin_registration, "expires_at", expires_at_ms, F_REQ),
};
static TYPE(admin_registration_type, "admin-registration", "admin-registrations.schema.json#/items",
     struct cm_admin_registration, admin_registration_fields);

/* The POST body is {fingerprint, note?}: added_at is the server's, never read. */
static const struct cm_field whitelist_entry_fields[] = {
	STR(struct cm_whitelist_entry, "fingerprint", fingerprint, F_REQ, CM_FINGERPRINT_LEN,
	    STR_FINGERPRINT),
	STR(struct cm_whitelist_entry, "note", note, 0, CM_MAX_NOTE, STR_ANY),
	TIME(struct cm_whitelist_entry, "added_at", added_at_ms, F_ENCODE_ONLY),
};
static TYPE(whitelist_entry_type, "whitelist-entry", "whitelist.schema.json#/$defs/entry",
     struct cm_whitelist_entry, whitelist_entry_fields);

static bool
record_broadcasting(const void *base)
{
	return ((const struct cm_peer_record *)base)->is_broadcasting;
}

static bool
record_has_torrents(const void *base)
{
	return ((const struct cm_peer_record *)base)->torrents.len > 0;
}

static bool
record_has_relays(const void *base)
{
	return ((const struct cm_peer_record *)base)->relays.len > 0;
}

/*
 * The sharing rule: a silent peer's record never carries addresses, a
 * torrent port nor a relay port (enc_if). torrents, torrent_port, relays and
 * relay_port are left out when there are none, so a record without them
 * signs the same text as before them.
 */
static const struct cm_field peer_record_fields[] = {
	EMAIL(struct cm_peer_record, email),
	PEER_ID(struct cm_peer_record, peer_id, F_REQ),
	COUNT(struct cm_peer_record, "seq", seq),
	TIME(struct cm_peer_record, "issued_at", issued_at_ms, F_REQ),
	BOOL(struct cm_peer_record, "is_broadcasting", is_broadcasting, F_REQ),
	BOOL(struct cm_peer_record, "is_bootstrap", is_bootstrap, F_REQ),
	BOOL(struct cm_peer_record, "leaving", leaving, F_REQ),
	{.name = "socket_addresses", .kind = CK_STRLIST,
	 CM_MEMBER(struct cm_peer_record, socket_addresses), .max = CM_MAX_SOCKET_ADDRESSES,
	 .item_max = CM_MAX_ADDRESS, .skind = STR_IP, .enc_if = record_broadcasting},
	{.name = "port", .kind = CK_INT, .flags = F_OMIT_ZERO,
	 CM_MEMBER(struct cm_peer_record, port), .min = 1, .max = 65535,
	 .req_if = record_broadcasting},
	REPOSITORIES(struct cm_peer_record),
	{.name = "capabilities", .kind = CK_OBJECT, .flags = F_REQ,
	 CM_MEMBER(struct cm_peer_record, capabilities), .sub = &capabilities_type},
	TORRENTS(struct cm_peer_record, record_has_torrents),
	{.name = "torrent_port", .kind = CK_INT, .flags = F_OMIT_ZERO,
	 CM_MEMBER(struct cm_peer_record, torrent_port), .min = 1, .max = 65535,
	 .enc_if = record_broadcasting},
	{.name = "relays", .kind = CK_STRLIST, CM_MEMBER(struct cm_peer_record, relays),
	 .max = CM_MAX_RELAYS, .item_max = CM_MAX_EMAIL, .skind = STR_EMAIL,
	 .enc_if = record_has_relays},
	{.name = "relay_port", .kind = CK_INT, .flags = F_OMIT_ZERO,
	 CM_MEMBER(struct cm_peer_record, relay_port), .min = 1, .max = 65535,
	 .enc_if = record_broadcasting},
};
static TYPE(peer_record_type, "peer-record", "signed-record.schema.json#/properties/record",
     struct cm_peer_record, peer_record_fields);

/* Length of s as JSON writes it compact, quotes included (Jansson's escapes). */
static size_t
string_size(const char *s, size_t len)
{
	size_t n = 2;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\' || ch == '\b' || ch == '\f' || ch == '\n' || ch == '\r' ||
		    ch == '\t')
			n += 2;
		else if (ch < 0x20)
			n += 6;
		else
			n++;
	}
	return n;
}

/*
 * What json_dumpb(j, NULL, 0, JSON_COMPACT) returns, without writing the text
 * out: the record size check runs on every received record. Stops counting
 * once past limit.
 */
static size_t
compact_size(const json_t *j, size_t limit)
{
	const char *key;
	json_t *v;
	size_t n, i;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		n = 2 + (json_object_size(j) > 0 ? json_object_size(j) - 1 : 0);
		json_object_foreach((json_t *)j, key, v)
		{
			if (n > limit)
				break;
			n += string_size(key, strlen(key)) + 1 + compact_size(v, limit);
		}
		return n;
	case JSON_ARRAY:
		n = 2 + (json_array_size(j) > 0 ? json_array_size(j) - 1 : 0);
		json_array_foreach(j, i, v)
		{
			if (n > limit)
				break;
			n += compact_size(v, limit);
		}
		return n;
	case JSON_STRING:
		return string_size(json_string_value(j), json_string_length(j));
	case JSON_TRUE:
	case JSON_NULL:
		return 4;
	case JSON_FALSE:
		return 5;
	default:
		return json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	}
}

static int
signed_record_pre(struct dctx *c, const json_t *j)
{
	size_t size = compact_size(j, CM_MAX_SIGNED_RECORD + 1);

	if (size == 0 || size > CM_MAX_SIGNED_RECORD)
		return fail(c, NULL, "signed record larger than %d bytes", CM_MAX_SIGNED_RECORD);
	return 0;
}

/* Keeps the record's canonical text as received: the signature covers it. */
static int
signed_record_check(struct dctx *c, const json_t *j, void *obj)
{
	struct cm_signed_record *s = obj;
	struct cm_err cerr;

	if ((s->canonical = cm_json_canonical(json_object_get(j, "record"), &cerr)) == NULL)
		return fail(c, "record", "%s", cerr.msg);
	return 0;
}

/* The received record when there is one, so unknown fields survive forwarding. */
static json_t *
signed_record_record_json(const void *base)
{
	const struct cm_signed_record *s = base;

	if (s->canonical != NULL)
		return json_loads(s->canonical, JSON_REJECT_DUPLICATES, NULL);
	return cm_codec_encode_object(&peer_record_type, &s->record, NULL);
}

/* public_certificate may be left out only in an announcement's origin (F_LAX there). */
static const struct cm_field signed_record_fields[] = {
	{.name = "record", .kind = CK_OBJECT, .flags = F_REQ,
	 CM_MEMBER(struct cm_signed_record, record), .sub = &peer_record_type,
	 .enc = signed_record_record_json},
	CERT(struct cm_signed_record, F_LAXABLE),
	STR(struct cm_signed_record, "signature", signature, F_REQ, CM_MAX_SIGNATURE_B64, STR_ANY),
	{.name = "canonical", .kind = CK_STRING, .flags = F_INTERNAL,
	 CM_MEMBER(struct cm_signed_record, canonical)},
};
TYPE(cm_signed_record_type, "signed-record", "signed-record.schema.json#/$defs/withCertificate",
     struct cm_signed_record, signed_record_fields, .pre = signed_record_pre,
     .check = signed_record_check);

static bool
info_has_source(const void *base)
{
	return ((const struct cm_peer_info *)base)->source != CM_SOURCE_NONE;
}

static bool
info_has_torrents(const void *base)
{
	return ((const struct cm_peer_info *)base)->torrents.len > 0;
}

static const struct cm_field peer_info_fields[] = {
	EMAIL(struct cm_peer_info, email),
	PEER_ID(struct cm_peer_info, peer_id, F_REQ),
	CERT(struct cm_peer_info, F_REQ),
	ADDRESSES(struct cm_peer_info, F_REQ),
	INT(struct cm_peer_info, "port", port, F_REQ, 0, 65535),
	BOOL(struct cm_peer_info, "is_broadcasting", is_broadcasting, F_REQ),
	BOOL(struct cm_peer_info, "is_bootstrap", is_bootstrap, F_REQ),
	ENUM(struct cm_peer_info, "peer_status", peer_status, F_REQ, status_name, CM_PEER_ONLINE,
	     CM_PEER_OFFLINE),
	ENUM(struct cm_peer_info, "state", state, F_REQ, state_name, CM_STATE_DISCOVERED,
	     CM_STATE_STALE),
	REPOSITORIES(struct cm_peer_info),
	{.name = "availability_score", .kind = CK_SCORE, .flags = F_REQ,
	 CM_MEMBER(struct cm_peer_info, availability_score)},
	{.name = "performance_score", .kind = CK_SCORE, .flags = F_REQ,
	 CM_MEMBER(struct cm_peer_info, performance_score)},
	{.name = "score", .kind = CK_SCORE, .flags = F_REQ, CM_MEMBER(struct cm_peer_info, score)},
	COUNT(struct cm_peer_info, "bandwidth_estimate", bandwidth_estimate),
	TIME(struct cm_peer_info, "discovered_at", discovered_at_ms, F_REQ),
	TIME(struct cm_peer_info, "last_seen", last_seen_ms, F_REQ),
	TIME(struct cm_peer_info, "expires_at", expires_at_ms, F_REQ),
	COUNT(struct cm_peer_info, "peer_count", peer_count),
	COUNT(struct cm_peer_info, "gossip_received_count", gossip_received_count),
	{.name = "source", .kind = CK_ENUM, CM_MEMBER(struct cm_peer_info, source),
	 .name_of = source_name, .min = CM_SOURCE_TABLE, .max = CM_SOURCE_RELAY,
	 .enc_if = info_has_source},
	{.name = "found_in_ms", .kind = CK_INT, CM_MEMBER(struct cm_peer_info, found_in_ms),
	 .max = CM_MAX_SAFE_INTEGER, .req_if = info_has_source, .enc_if = info_has_source},
	INT(struct cm_peer_info, "torrent_port", torrent_port, F_OMIT_ZERO, 1, 65535),
	TORRENTS(struct cm_peer_info, info_has_torrents),
	{.name = "reachable_via", .kind = CK_STRLIST, .flags = F_REQ,
	 CM_MEMBER(struct cm_peer_info, reachable_via), .max = CM_MAX_RELAYS,
	 .item_max = CM_MAX_EMAIL, .skind = STR_EMAIL},
	STR(struct cm_peer_info, "via", via, 0, CM_MAX_EMAIL, STR_EMAIL),
	INT(struct cm_peer_info, "relay_port", relay_port, F_OMIT_ZERO, 1, 65535),
};
TYPE(cm_peer_info_type, "peer-info", "peer-info.schema.json", struct cm_peer_info,
     peer_info_fields);

/* Payloads: offsets within struct cm_envelope's payload union. */
static const struct cm_field announcement_fields[] = {
	{.name = "origin", .kind = CK_OBJECT, .flags = F_REQ | F_LAX,
	 CM_MEMBER(struct cm_peer_announcement, origin), .sub = &cm_signed_record_type},
};
static TYPE(announcement_type, "payload-announcement", "peer-announcement.schema.json",
     struct cm_peer_announcement, announcement_fields);

static bool
digest_recent(const void *base)
{
	return ((const struct cm_digest *)base)->recent;
}

static bool
digest_certless(const void *base)
{
	return ((const struct cm_digest *)base)->certless;
}

static const struct cm_field digest_fields[] = {
	COUNT(struct cm_digest, "since", since),
	COUNT(struct cm_digest, "seed", seed),
	INT(struct cm_digest, "k", k, F_REQ, 1, CM_MAX_BLOOM_K),
	{.name = "bloom", .kind = CK_STRING, .flags = F_REQ, CM_MEMBER(struct cm_digest, bloom),
	 .max = (CM_MAX_BLOOM_BYTES + 2) / 3 * 4, .skind = STR_BASE64, .dflt_str = ""},
	TIME(struct cm_digest, "issued_after", issued_after_ms, F_OMIT_ZERO),
	/* Written only when true: agents before it ignore it as an unknown field. */
	{.name = "recent", .kind = CK_BOOL, CM_MEMBER(struct cm_digest, recent),
	 .enc_if = digest_recent},
	{.name = "certless", .kind = CK_BOOL, CM_MEMBER(struct cm_digest, certless),
	 .enc_if = digest_certless},
};
static TYPE(digest_type, "digest", "peer-request.schema.json#/properties/digest", struct cm_digest,
     digest_fields);

static const struct cm_field torrent_search_fields[] = {
	STR(struct cm_torrent_search, "info_hash", info_hash, F_REQ, CM_INFO_HASH_LEN,
	    STR_INFO_HASH),
};
static TYPE(torrent_search_type, "torrent-search",
	    "peer-request.schema.json#/properties/torrent_search", struct cm_torrent_search,
	    torrent_search_fields);

/*
 * A torrent search asks one thing: next to repositories (even an empty list)
 * or a digest it would be unclear what the answer narrows, so it is refused.
 */
static int
peer_request_check(struct dctx *c, const json_t *j, void *obj)
{
	const struct cm_peer_request *r = obj;

	if (r->has_torrent_search && (json_object_get(j, "repositories") != NULL || r->has_digest))
		return fail(c, "torrent_search", "not allowed with repositories or digest");
	return 0;
}

static bool
request_not_torrent_search(const void *base)
{
	return !((const struct cm_peer_request *)base)->has_torrent_search;
}

static const struct cm_field peer_request_fields[] = {
	{.name = "repositories", .kind = CK_STRLIST,
	 CM_MEMBER(struct cm_peer_request, repositories), .max = CM_MAX_REPOSITORIES,
	 .item_max = CM_MAX_REPO_NAME, .skind = STR_REPO, .enc_if = request_not_torrent_search},
	{.name = "digest", .kind = CK_OBJECT, .flags = F_HAS,
	 CM_MEMBER(struct cm_peer_request, digest), .sub = &digest_type,
	 .has_off = offsetof(struct cm_peer_request, has_digest)},
	{.name = "torrent_search", .kind = CK_OBJECT, .flags = F_HAS,
	 CM_MEMBER(struct cm_peer_request, torrent_search), .sub = &torrent_search_type,
	 .has_off = offsetof(struct cm_peer_request, has_torrent_search)},
};
static TYPE(peer_request_type, "payload-request", "peer-request.schema.json",
	    struct cm_peer_request, peer_request_fields, .check = peer_request_check);

static bool
list_has_refreshes(const void *base)
{
	return ((const struct cm_peer_list_response *)base)->refreshes.len > 0;
}

/* request_id and version are read before the (long) peers list, as they come first in errors. */
static const struct cm_field list_response_fields[] = {
	STR(struct cm_peer_list_response, "request_id", request_id, F_REQ | F_FIRST,
	    CM_UUID_TEXT_LEN, STR_UUID),
	{.name = "peers", .kind = CK_ARRAY, .flags = F_REQ,
	 CM_MEMBER(struct cm_peer_list_response, peers), .sub = &cm_signed_record_type,
	 .max = CM_MAX_LIST_PEERS},
	/* Written only when not empty: agents before it never ask for it. */
	{.name = "refreshes", .kind = CK_ARRAY, .flags = F_LAX,
	 CM_MEMBER(struct cm_peer_list_response, refreshes), .sub = &cm_signed_record_type,
	 .max = CM_MAX_LIST_PEERS, .enc_if = list_has_refreshes},
	{.name = "version", .kind = CK_INT, .flags = F_HAS | F_FIRST,
	 CM_MEMBER(struct cm_peer_list_response, version), .max = CM_MAX_SAFE_INTEGER,
	 .has_off = offsetof(struct cm_peer_list_response, has_version)},
};
static TYPE(list_response_type, "payload-list-response", "peer-list-response.schema.json",
     struct cm_peer_list_response, list_response_fields);

static const struct cm_field heartbeat_fields[] = {
	BOOL(struct cm_heartbeat, "is_alive", is_alive, F_REQ),
	BOOL(struct cm_heartbeat, "is_bootstrap", is_bootstrap, F_REQ),
	COUNT(struct cm_heartbeat, "peer_count", peer_count),
};
static TYPE(heartbeat_type, "payload-heartbeat", "heartbeat.schema.json", struct cm_heartbeat,
     heartbeat_fields);

/* The payload's table, chosen by the envelope's type. */
static const struct cm_type *
envelope_payload(const void *base)
{
	switch (((const struct cm_envelope *)base)->type) {
	case CM_MSG_PEER_ANNOUNCEMENT:
		return &announcement_type;
	case CM_MSG_PEER_REQUEST:
		return &peer_request_type;
	case CM_MSG_PEER_LIST_RESPONSE:
		return &list_response_type;
	case CM_MSG_HEARTBEAT:
		return &heartbeat_type;
	}
	return NULL;
}

/* sender's offsets are the envelope's own (the object sits at offset 0). */
static const struct cm_field sender_fields[] = {
	{.name = "email", .kind = CK_STRING, .flags = F_REQ | F_WRITE_NULL,
	 CM_MEMBER(struct cm_envelope, sender_email), .max = CM_MAX_EMAIL, .skind = STR_EMAIL},
	{.name = "peer_id", .kind = CK_STRING, .flags = F_REQ | F_WRITE_NULL,
	 CM_MEMBER(struct cm_envelope, sender_peer_id), .max = CM_UUID_TEXT_LEN, .skind = STR_UUID},
};
static TYPE(sender_type, "sender", "common.schema.json#/$defs/sender", struct cm_envelope,
     sender_fields);

static const struct cm_field envelope_fields[] = {
	{.name = "v", .kind = CK_VERSION, .flags = F_REQ, CM_MEMBER(struct cm_envelope, v),
	 .min = INT64_MIN, .max = INT64_MAX},
	STR(struct cm_envelope, "id", id, F_REQ, CM_UUID_TEXT_LEN, STR_UUID),
	ENUM(struct cm_envelope, "type", type, F_REQ, msg_type_name, CM_MSG_PEER_ANNOUNCEMENT,
	     CM_MSG_HEARTBEAT),
	INT(struct cm_envelope, "ttl", ttl, F_REQ, 0, CM_MAX_TTL),
	TIME(struct cm_envelope, "timestamp", timestamp_ms, F_REQ),
	{.name = "sender", .kind = CK_OBJECT, .flags = F_REQ, .off = 0,
	 .width = sizeof(struct cm_envelope), .sub = &sender_type},
	{.name = "payload", .kind = CK_UNION, .flags = F_REQ,
	 CM_MEMBER(struct cm_envelope, payload), .pick = envelope_payload},
};
static TYPE(envelope_type, "envelope", "envelope.schema.json", struct cm_envelope, envelope_fields);

static const struct cm_field status_fields[] = {
	STR(struct cm_status, "status", status, F_REQ, 64, STR_ANY),
	{.name = "expires_at", .kind = CK_TIME, .flags = F_HAS,
	 CM_MEMBER(struct cm_status, expires_at_ms),
	 .has_off = offsetof(struct cm_status, has_expires_at)},
};
static TYPE(status_type, "status", "status.schema.json", struct cm_status, status_fields);

static const struct cm_field error_body_fields[] = {
	STR(struct cm_error_body, "error", error, F_REQ, CM_MAX_BODY, STR_ANY),
	STR(struct cm_error_body, "code", code, F_REQ, 64, STR_ANY),
};
static TYPE(error_body_type, "error", "error.schema.json", struct cm_error_body, error_body_fields);

/* The public entry points: one document description each. */
CM_OBJECT_CODEC(register_request, struct cm_register_request, register_request_type)
CM_OBJECT_CODEC(heartbeat_request, struct cm_heartbeat_request, heartbeat_request_type)
CM_OBJECT_CODEC(feedback_request, struct cm_feedback_request, feedback_request_type)
CM_OBJECT_CODEC(bootstrap_peer, struct cm_bootstrap_peer, bootstrap_peer_type)
CM_ARRAY_CODEC(bootstrap_peerlist, struct cm_bootstrap_peerlist, bootstrap_peer_type,
	       CM_MAX_BOOTSTRAP_PEERS)
CM_OBJECT_CODEC(register_response, struct cm_register_response, register_response_type)
CM_ARRAY_CODEC(admin_registrationlist, struct cm_admin_registrationlist,
	       admin_registration_type, CM_MAX_ADMIN_ROWS)
CM_OBJECT_CODEC(whitelist_entry, struct cm_whitelist_entry, whitelist_entry_type)
CM_OBJECT_CODEC(peer_record, struct cm_peer_record, peer_record_type)
CM_OBJECT_CODEC(signed_record, struct cm_signed_record, cm_signed_record_type)
CM_OBJECT_CODEC(peer_info, struct cm_peer_info, cm_peer_info_type)
CM_OBJECT_CODEC(envelope, struct cm_envelope, envelope_type)
CM_OBJECT_CODEC(status_body, struct cm_status, status_type)
CM_DOC_CLEAR(status, struct cm_status, status_body_doc)

/* Documents with only some of the three entry points. */
static const struct cm_field admin_registration_doc =
	CM_DOC_OBJECT(struct cm_admin_registration, admin_registration_type);
static const struct cm_field whitelist_doc =
	CM_DOC_ARRAY(struct cm_whitelist, whitelist_entry_type, CM_MAX_ADMIN_ROWS);
static const struct cm_field error_body_doc = CM_DOC_OBJECT(struct cm_error_body, error_body_type);

int
cm_error_body_decode(const json_t *j, struct cm_error_body *out, struct cm_err *err)
{
	return cm_codec_decode(&error_body_doc, j, out, err);
}

int
cm_error_body_from_text(const char *buf, size_t len, struct cm_error_body *out,
			struct cm_err *err)
{
	return cm_codec_decode_text(&error_body_doc, buf, len, CM_MAX_BODY, out, err);
}

CM_DOC_CLEAR(error_body, struct cm_error_body, error_body_doc)

int
cm_admin_registration_decode(const json_t *j, struct cm_admin_registration *out,
			     struct cm_err *err)
{
	return cm_codec_decode(&admin_registration_doc, j, out, err);
}

int
cm_admin_registration_from_text(const char *text, struct cm_admin_registration *out,
				struct cm_err *err)
{
	return cm_codec_decode_text(&admin_registration_doc, text, strlen(text), SIZE_MAX, out,
				    err);
}

int
cm_bootstrap_peer_from_text(const char *text, struct cm_bootstrap_peer *out, struct cm_err *err)
{
	return cm_codec_decode_text(&bootstrap_peer_doc, text, strlen(text), SIZE_MAX, out, err);
}

json_t *
cm_whitelist_encode(const struct cm_whitelist *l)
{
	return cm_codec_encode(&whitelist_doc, l);
}

json_t *
cm_repository_encode(const struct cm_repository *r)
{
	return cm_codec_encode_object(&cm_repository_type, r, NULL);
}

json_t *
cm_capabilities_encode(const struct cm_capabilities *c)
{
	return cm_codec_encode_object(&capabilities_type, c, NULL);
}

json_t *
cm_announcement_encode(const struct cm_envelope *e, json_t *origin)
{
	json_t *p = json_object(), *o = NULL;

	if (p != NULL && json_object_set(p, "origin", origin) == 0)
		o = cm_codec_encode_object(&envelope_type, e, p);
	json_decref(p);
	return o;
}

/*
 * doc (taken, *len bytes) with the value of its member "key":placeholder
 * replaced by text, a JSON text written once elsewhere. Both come from the
 * JSON writer, and "key": cannot occur inside a string value (its quotes
 * would be escaped there), so the first match is the member. NULL on failure.
 */
static char *
splice(char *doc, const char *key, const char *placeholder, const char *text, size_t *len)
{
	char hole[80], *at = NULL, *out = NULL;
	size_t head, plen = strlen(placeholder), tlen = strlen(text);
	int n = snprintf(hole, sizeof(hole), "\"%s\":%s", key, placeholder);

	if (doc != NULL && n > 0 && (size_t)n < sizeof(hole))
		at = strstr(doc, hole);
	if (at != NULL) {
		head = (size_t)(at - doc) + (size_t)n - plen;
		if ((out = malloc(*len - plen + tlen + 1)) != NULL) {
			memcpy(out, doc, head);
			memcpy(out + head, text, tlen);
			memcpy(out + head + tlen, doc + head + plen, *len - head - plen + 1);
			*len = *len - plen + tlen;
		}
	}
	free(doc);
	return out;
}

char *
cm_announcement_text(const struct cm_envelope *e, const char *origin_text, size_t *len)
{
	json_t *hole = json_null();

	return splice(cm_json_dump_take(cm_announcement_encode(e, hole), len), "origin", "null",
		      origin_text, len);
}

char *
cm_register_response_text(const struct cm_register_response *r, const char *peers_text,
			  size_t *len)
{
	struct cm_register_response shell = *r;

	shell.bootstrap_peers = (struct cm_bootstrap_peerlist){0};
	return splice(cm_json_dump_take(cm_register_response_encode(&shell), len),
		      "bootstrap_peers", "[]", peers_text, len);
}

char *
cm_envelope_forward(json_t *tree, int ttl, const char *sender_email, const char *sender_peer_id,
		    size_t *len)
{
	struct cm_envelope who = {.sender_email = (char *)sender_email,
				  .sender_peer_id = (char *)sender_peer_id};

	if (json_object_set_new(tree, "ttl", json_integer(ttl)) != 0 ||
	    json_object_set_new(tree, "sender", cm_codec_encode_object(&sender_type, &who, NULL)) !=
		    0)
		return NULL;
	return cm_json_dump_take(json_incref(tree), len);
}

char *
cm_envelope_forward_with_certificate(json_t *tree, const char *cert, size_t *len)
{
	json_t *origin = json_object_get(json_object_get(tree, "payload"), "origin");

	if (!json_is_object(origin) || json_object_get(origin, "public_certificate") != NULL ||
	    json_object_set_new(origin, "public_certificate", json_string(cert)) != 0)
		return NULL;
	return cm_json_dump_take(json_incref(tree), len);
}

/* {"status": status} plus "expires_at" when expires_at_ms >= 0. */
json_t *
cm_status_encode(const char *status, int64_t expires_at_ms)
{
	struct cm_status s = {.status = (char *)status, .expires_at_ms = expires_at_ms,
			      .has_expires_at = expires_at_ms >= 0};

	return cm_codec_encode(&status_body_doc, &s);
}

json_t *
cm_error_body_encode(const char *message, const char *code)
{
	struct cm_error_body e = {.error = (char *)message, .code = (char *)code};

	return cm_codec_encode(&error_body_doc, &e);
}
int
cm_envelope_from_frame_tree(const char *buf, size_t len, struct cm_envelope *out, json_t **tree,
			    struct cm_err *err)
{
	json_t *j;

	memset(out, 0, sizeof(*out));
	*tree = NULL;
	if ((j = cm_json_parse(buf, len, CM_MAX_FRAME, err)) == NULL)
		return -1;
	if (cm_envelope_decode(j, out, err) != 0) {
		json_decref(j);
		return -1;
	}
	*tree = j;
	return 0;
}

int
cm_envelope_from_frame(const char *buf, size_t len, struct cm_envelope *out, struct cm_err *err)
{
	return cm_codec_decode_text(&envelope_doc, buf, len, CM_MAX_FRAME, out, err);
}

/*
 * What cm_announcement_peek reads, each by the row the decoder reads it by
 * (found by name once: peek_rows), into struct cm_envelope_peek.
 */
#define PEEK_ORIGIN "payload.origin."
static const struct {
	const struct cm_type *type;
	const char *row;
	size_t off, cap;
} peek_fields[] = {
	{&envelope_type, "v", offsetof(struct cm_envelope_peek, v), 0},
	{&envelope_type, "id", offsetof(struct cm_envelope_peek, id), CM_UUID_TEXT_LEN + 1},
	{&envelope_type, "type", offsetof(struct cm_envelope_peek, type), 0},
	{&envelope_type, "ttl", offsetof(struct cm_envelope_peek, ttl), 0},
	{&envelope_type, "timestamp", offsetof(struct cm_envelope_peek, timestamp_ms), 0},
	{&peer_record_type, "email", offsetof(struct cm_envelope_peek, email), CM_MAX_EMAIL + 1},
	{&peer_record_type, "seq", offsetof(struct cm_envelope_peek, seq), 0},
};
#define NPEEK CM_NFIELDS(peek_fields)
/* Where each of peek_fields is, and last the origin's certificate (is it there?). */
static const char *const peek_paths[NPEEK + 1] = {
	"v", "id", "type", "ttl", "timestamp", PEEK_ORIGIN "record.email", PEEK_ORIGIN "record.seq",
	PEEK_ORIGIN "public_certificate",
};
static const struct cm_field *peek_rows[NPEEK];
static pthread_once_t peek_once = PTHREAD_ONCE_INIT;

static void
peek_rows_find(void)
{
	for (size_t i = 0; i < NPEEK; i++) {
		const struct cm_type *t = peek_fields[i].type;

		for (size_t k = 0; k < t->nfields; k++)
			if (strcmp(t->fields[k].name, peek_fields[i].row) == 0)
				peek_rows[i] = &t->fields[k];
	}
}

int
cm_announcement_peek(const char *buf, size_t len, struct cm_envelope_peek *out)
{
	struct cm_jscan_value vals[NPEEK + 1];
	struct cm_err err;
	struct dctx c = {.err = &err};

	memset(out, 0, sizeof(*out));
	if (len > CM_MAX_FRAME || pthread_once(&peek_once, peek_rows_find) != 0 ||
	    cm_jscan(buf, len, peek_paths, vals, NPEEK + 1) != 0)
		return -1;
	for (size_t i = 0; i < NPEEK; i++)
		if (peek_rows[i] == NULL ||
		    cm_codec_decode_scanned(&c, peek_rows[i], &vals[i],
					    (char *)out + peek_fields[i].off, peek_fields[i].cap) != 0)
			return -1;
	/* A certificate that is there must be a string; the full decode checks the rest of it. */
	if (vals[NPEEK].kind != CM_JSCAN_ABSENT && vals[NPEEK].kind != CM_JSCAN_STRING)
		return -1;
	out->has_certificate = vals[NPEEK].kind == CM_JSCAN_STRING;
	return out->type == CM_MSG_PEER_ANNOUNCEMENT ? 0 : -1;
}

int
cm_register_request_from_body(const char *buf, size_t len, struct cm_register_request *out,
			      struct cm_err *err)
{
	return cm_codec_decode_text(&register_request_doc, buf, len, CM_MAX_BODY, out, err);
}

/* Every table here, for cm_codec_tables(). */
const struct cm_type *const cm_wire_types[] = {
	&cm_repository_type,     &torrent_summary_type,    &capabilities_type,
	&register_request_type,  &bootstrap_peer_type,     &register_response_type,
	&heartbeat_request_type, &feedback_request_type,   &admin_registration_type,
	&whitelist_entry_type,   &peer_record_type,        &cm_signed_record_type,
	&cm_peer_info_type,      &announcement_type,       &digest_type,
	&torrent_search_type,    &peer_request_type,       &list_response_type,
	&heartbeat_type,         &sender_type,             &envelope_type,
	&status_type,            &error_body_type,
};
const size_t cm_wire_ntypes = CM_NFIELDS(cm_wire_types);
