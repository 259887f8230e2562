/*
 * codec_agent.c - the tables of the peer agent's own documents: its control
 * API (status, PeerInfo lists, the broadcast body, the torrents, the relay
 * status), its peer store file and the topology tool's input and summary.
 * The engine is codec.c's; the types they build on (repository, signed
 * record, PeerInfo) are codec_wire.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "codec_table.h"
#include "fb/codec.h"
#include "fb/timeutil.h"
#include "fb/validate.h"

#define SAFE(T, key, m) INT(T, key, m, F_REQ, 0, CM_MAX_SAFE_INTEGER)
#define COUNTERS(T, key, m)                                                                    \
	{.name = key, .kind = CK_COUNTERS, .flags = F_REQ, CM_MEMBER(T, m), .min = 0,            \
	 .max = CM_MAX_SAFE_INTEGER, .item_max = CM_MAX_COUNTERS}

static const struct cm_field gossip_stats_fields[] = {
	SAFE(struct cm_gossip_stats, "received", received),
	COUNTERS(struct cm_gossip_stats, "verdicts", verdicts),
	SAFE(struct cm_gossip_stats, "records_applied", records_applied),
	SAFE(struct cm_gossip_stats, "forwarded", forwarded),
	SAFE(struct cm_gossip_stats, "sent", sent),
	SAFE(struct cm_gossip_stats, "stripped_addresses", stripped_addresses),
	SAFE(struct cm_gossip_stats, "anti_entropy_rounds", anti_entropy_rounds),
	SAFE(struct cm_gossip_stats, "requests_answered", requests_answered),
	SAFE(struct cm_gossip_stats, "refreshes_pulled", refreshes_pulled),
	SAFE(struct cm_gossip_stats, "sessions_open", sessions_open),
	COUNTERS(struct cm_gossip_stats, "closed_by_code", closed_by_code),
	SAFE(struct cm_gossip_stats, "handshake_failures", handshake_failures),
	SAFE(struct cm_gossip_stats, "pin_failures", pin_failures),
	SAFE(struct cm_gossip_stats, "bytes_in", bytes_in),
	SAFE(struct cm_gossip_stats, "bytes_out", bytes_out),
	COUNTERS(struct cm_gossip_stats, "limits", limits),
};
static TYPE(gossip_stats_type, "gossip-stats", "agent-status.schema.json#/properties/gossip",
	    struct cm_gossip_stats, gossip_stats_fields);

/* url and expires_at are always written: null when there is none. */
static const struct cm_field agent_bootstrap_fields[] = {
	STR(struct cm_agent_bootstrap, "state", state, F_REQ, 64, STR_ANY),
	{.name = "url", .kind = CK_STRING, .flags = F_REQ | F_NULLABLE | F_WRITE_NULL,
	 CM_MEMBER(struct cm_agent_bootstrap, url), .max = CM_MAX_URL},
	{.name = "expires_at", .kind = CK_TIME, .flags = F_REQ | F_NULLABLE | F_HAS,
	 CM_MEMBER(struct cm_agent_bootstrap, expires_at_ms),
	 .has_off = offsetof(struct cm_agent_bootstrap, has_expires_at)},
};
static TYPE(agent_bootstrap_type, "agent-bootstrap",
	    "agent-status.schema.json#/properties/bootstrap", struct cm_agent_bootstrap,
	    agent_bootstrap_fields);

static const struct cm_field agent_status_fields[] = {
	STR(struct cm_agent_status, "email", email, F_REQ, CM_MAX_EMAIL, STR_EMAIL),
	STR(struct cm_agent_status, "peer_id", peer_id, F_REQ, CM_UUID_TEXT_LEN, STR_UUID),
	BOOL(struct cm_agent_status, "broadcasting", broadcasting, F_REQ),
	{.name = "bootstrap", .kind = CK_OBJECT, .flags = F_REQ,
	 CM_MEMBER(struct cm_agent_status, bootstrap), .sub = &agent_bootstrap_type},
	SAFE(struct cm_agent_status, "neighbours", neighbours),
	SAFE(struct cm_agent_status, "known_peers", known_peers),
	STR(struct cm_agent_status, "version", version, F_REQ, 64, STR_ANY),
	BOOL(struct cm_agent_status, "is_bootstrap", is_bootstrap, F_REQ),
	INT(struct cm_agent_status, "listen_port", listen_port, F_REQ, -1, 65535),
	{.name = "repositories", .kind = CK_ARRAY, .flags = F_REQ,
	 CM_MEMBER(struct cm_agent_status, repositories), .sub = &cm_repository_type,
	 .max = CM_MAX_REPOSITORIES},
	{.name = "gossip", .kind = CK_OBJECT, .flags = F_REQ,
	 CM_MEMBER(struct cm_agent_status, gossip), .sub = &gossip_stats_type},
};
static TYPE(agent_status_type, "agent-status", "agent-status.schema.json",
	    struct cm_agent_status, agent_status_fields);

static const struct cm_field broadcast_request_fields[] = {
	{.name = "repositories", .kind = CK_ARRAY, .flags = F_HAS,
	 CM_MEMBER(struct cm_broadcast_request, repositories), .sub = &cm_repository_type,
	 .max = CM_MAX_REPOSITORIES,
	 .has_off = offsetof(struct cm_broadcast_request, has_repositories)},
};
static TYPE(broadcast_request_type, "broadcast-request", "broadcast-request.schema.json",
	    struct cm_broadcast_request, broadcast_request_fields);

static const struct cm_field store_entry_fields[] = {
	{.name = "signed", .kind = CK_OBJECT, .flags = F_REQ, CM_MEMBER(struct cm_store_entry, rec),
	 .sub = &cm_signed_record_type},
	STR(struct cm_store_entry, "fingerprint", fingerprint, F_REQ, CM_FINGERPRINT_LEN,
	    STR_FINGERPRINT),
	TIME(struct cm_store_entry, "discovered_at", discovered_at_ms, F_REQ),
	TIME(struct cm_store_entry, "last_seen", last_seen_ms, F_REQ),
};
static TYPE(store_entry_type, "store-entry", "peer-store.schema.json#/$defs/entry",
	    struct cm_store_entry, store_entry_fields);

static const struct cm_field store_pin_fields[] = {
	EMAIL(struct cm_store_pin, email),
	STR(struct cm_store_pin, "fingerprint", fingerprint, F_REQ, CM_FINGERPRINT_LEN,
	    STR_FINGERPRINT),
	BOOL(struct cm_store_pin, "verified", verified, F_REQ),
};
static TYPE(store_pin_type, "store-pin", "peer-store.schema.json#/$defs/pin",
	    struct cm_store_pin, store_pin_fields);

static int
peer_store_check(struct dctx *c, const json_t *j, void *obj)
{
	const struct cm_peer_store *ps = obj;

	(void)j;
	if (!json_is_array(ps->peers))
		return cm_codec_fail(c, "peers", "expected an array");
	if (ps->has_pins && !json_is_array(ps->pins))
		return cm_codec_fail(c, "pins", "expected an array");
	return 0;
}

static const struct cm_field peer_store_fields[] = {
	INT(struct cm_peer_store, "version", version, F_REQ, CM_PEER_STORE_VERSION,
	    CM_PEER_STORE_VERSION),
	TIME(struct cm_peer_store, "saved_at", saved_at_ms, 0),
	{.name = "peers", .kind = CK_JSON, .flags = F_REQ, CM_MEMBER(struct cm_peer_store, peers)},
	{.name = "pins", .kind = CK_JSON, .flags = F_HAS, CM_MEMBER(struct cm_peer_store, pins),
	 .has_off = offsetof(struct cm_peer_store, has_pins)},
};
static TYPE(peer_store_type, "peer-store", "peer-store.schema.json", struct cm_peer_store,
	    peer_store_fields, .check = peer_store_check);

/* Lenient on purpose: the topology tool reads what agents answered, and judges the email itself. */
static const struct cm_field peer_link_fields[] = {
	STR(struct cm_peer_link, "email", email, 0, CM_MAX_BODY, STR_ANY),
	STR(struct cm_peer_link, "state", state, 0, 64, STR_ANY),
};
static TYPE(peer_link_type, "peer-link", NULL, struct cm_peer_link,
	    peer_link_fields);

static const struct cm_field topology_summary_fields[] = {
	SAFE(struct cm_topology_summary, "nodes", nodes),
	SAFE(struct cm_topology_summary, "edges", edges),
	SAFE(struct cm_topology_summary, "components", components),
	SAFE(struct cm_topology_summary, "largest_component", largest_component),
	BOOL(struct cm_topology_summary, "partitioned", partitioned, F_REQ),
	SAFE(struct cm_topology_summary, "degree_min", degree_min),
	{.name = "degree_avg", .kind = CK_REAL, .flags = F_REQ,
	 CM_MEMBER(struct cm_topology_summary, degree_avg)},
	SAFE(struct cm_topology_summary, "degree_max", degree_max),
	SAFE(struct cm_topology_summary, "diameter_estimate", diameter_estimate),
	{.name = "degree_histogram", .kind = CK_INTLIST, .flags = F_REQ,
	 CM_MEMBER(struct cm_topology_summary, degree_histogram), .min = 0,
	 .max = CM_MAX_SAFE_INTEGER, .item_max = CM_MAX_DEGREES},
};
static TYPE(topology_summary_type, "topology-summary", "topology-summary.schema.json",
	    struct cm_topology_summary, topology_summary_fields);

/* Torrents (torrent.schema.json) */

static const char *
torrent_state_name(int v)
{
	return cm_torrent_state_name((enum cm_torrent_state)v);
}

static const struct cm_field torrent_file_fields[] = {
	STR(struct cm_torrent_file, "path", path, F_REQ, CM_MAX_PATH, STR_ANY),
	STR(struct cm_torrent_file, "sha256", sha256, F_REQ, CM_SHA256_HEX_LEN, STR_SHA256),
};
static TYPE(torrent_file_type, "torrent-file", "torrent.schema.json#/$defs/file",
	    struct cm_torrent_file, torrent_file_fields);

/* A multi-file torrent's files: left out for a single file. */
#define TORRENT_FILES(T, has)                                                                  \
	{.name = "files", .kind = CK_ARRAY, CM_MEMBER(T, files), .sub = &torrent_file_type,      \
	 .max = CM_MAX_TORRENT_FILES, .enc_if = (has)}
/* Written null while unknown (a magnet's torrent before its metadata came). */
#define NULLABLE_STR(T, key, m, cap, sk)                                                       \
	{.name = key, .kind = CK_STRING, .flags = F_REQ | F_NULLABLE | F_WRITE_NULL,             \
	 CM_MEMBER(T, m), .max = (cap), .skind = (sk)}

static bool
status_has_files(const void *base)
{
	return ((const struct cm_torrent_status *)base)->files.len > 0;
}

static int
torrent_status_check(struct dctx *c, const json_t *j, void *obj)
{
	const struct cm_torrent_status *t = obj;

	(void)j;
	if (!(t->progress >= 0.0 && t->progress <= 1.0))
		return cm_codec_fail(c, "progress", "out of range 0..1");
	return 0;
}

/*
 * Names and paths are shown as the torrent has them: a torrent from
 * elsewhere may name itself with any text, which the display must survive.
 */
static const struct cm_field torrent_status_fields[] = {
	STR(struct cm_torrent_status, "info_hash", info_hash, F_REQ, CM_INFO_HASH_LEN,
	    STR_INFO_HASH),
	NULLABLE_STR(struct cm_torrent_status, "name", name, CM_MAX_TORRENT_NAME, STR_ANY),
	SAFE(struct cm_torrent_status, "size", size),
	ENUM(struct cm_torrent_status, "state", state, F_REQ, torrent_state_name,
	     CM_TORRENT_CHECKING, CM_TORRENT_ERROR),
	{.name = "progress", .kind = CK_REAL, .flags = F_REQ,
	 CM_MEMBER(struct cm_torrent_status, progress)},
	SAFE(struct cm_torrent_status, "peers", peers),
	SAFE(struct cm_torrent_status, "download_rate", download_rate),
	SAFE(struct cm_torrent_status, "upload_rate", upload_rate),
	SAFE(struct cm_torrent_status, "downloaded", downloaded),
	SAFE(struct cm_torrent_status, "uploaded", uploaded),
	STR(struct cm_torrent_status, "path", path, F_REQ, CM_MAX_PATH, STR_ANY),
	NULLABLE_STR(struct cm_torrent_status, "sha256", sha256, CM_SHA256_HEX_LEN, STR_SHA256),
	STR(struct cm_torrent_status, "magnet", magnet, F_REQ, CM_MAX_MAGNET, STR_ANY),
	NULLABLE_STR(struct cm_torrent_status, "torrent_file", torrent_file, CM_MAX_PATH, STR_ANY),
	STR(struct cm_torrent_status, "error", error, 0, CM_MAX_MESSAGE, STR_ANY),
	TORRENT_FILES(struct cm_torrent_status, status_has_files),
};
static TYPE(torrent_status_type, "torrent-status", "torrent.schema.json#/$defs/status",
	    struct cm_torrent_status, torrent_status_fields, .check = torrent_status_check);

static bool
created_has_files(const void *base)
{
	return ((const struct cm_torrent_created *)base)->files.len > 0;
}

static const struct cm_field torrent_created_fields[] = {
	STR(struct cm_torrent_created, "info_hash", info_hash, F_REQ, CM_INFO_HASH_LEN,
	    STR_INFO_HASH),
	/* null for a folder: its files carry theirs. */
	NULLABLE_STR(struct cm_torrent_created, "sha256", sha256, CM_SHA256_HEX_LEN, STR_SHA256),
	STR(struct cm_torrent_created, "name", name, F_REQ, CM_MAX_TORRENT_NAME, STR_ANY),
	SAFE(struct cm_torrent_created, "size", size),
	INT(struct cm_torrent_created, "piece_length", piece_length, F_REQ, 1, UINT32_MAX),
	STR(struct cm_torrent_created, "magnet", magnet, F_REQ, CM_MAX_MAGNET, STR_ANY),
	STR(struct cm_torrent_created, "torrent_file", torrent_file, F_REQ, CM_MAX_PATH, STR_ANY),
	TORRENT_FILES(struct cm_torrent_created, created_has_files),
};
static TYPE(torrent_created_type, "torrent-created", "torrent.schema.json#/$defs/created",
	    struct cm_torrent_created, torrent_created_fields);

/* The first present of names (n of them) in j, or NULL. */
static const char *
first_present(const json_t *j, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (json_object_get(j, names[i]) != NULL)
			return names[i];
	return NULL;
}

/* One of the two shapes: create {path, name?} or get {magnet | info_hash | torrent_file, dest}. */
static int
torrent_add_request_check(struct dctx *c, const json_t *j, void *obj)
{
	static const char *const members[] = {"path", "name", "magnet", "info_hash", "torrent_file",
					      "dest"};
	static const char *const sources[] = {"magnet", "info_hash", "torrent_file"};
	const char *key, *src;
	json_t *v;

	(void)obj;
	for (size_t i = 0; i < CM_NFIELDS(members); i++)
		if ((v = json_object_get(j, members[i])) != NULL && json_string_length(v) == 0)
			return cm_codec_fail(c, members[i], "empty");
	if (json_object_get(j, "path") != NULL) {
		if ((key = first_present(j, members + 2, CM_NFIELDS(members) - 2)) != NULL)
			return cm_codec_fail(c, key, "not allowed with path");
		return 0;
	}
	if ((src = first_present(j, sources, CM_NFIELDS(sources))) == NULL)
		return cm_codec_fail(c, NULL, "one of path, magnet, info_hash or torrent_file is "
					      "required");
	json_object_foreach((json_t *)j, key, v)
	{
		for (size_t i = 0; i < CM_NFIELDS(sources); i++)
			if (strcmp(key, sources[i]) == 0 && strcmp(key, src) != 0)
				return cm_codec_fail(c, key, "not allowed with %s", src);
	}
	if (json_object_get(j, "name") != NULL)
		return cm_codec_fail(c, "name", "only with path");
	if (json_object_get(j, "dest") == NULL)
		return cm_codec_fail(c, "dest", "missing (required with %s)", src);
	return 0;
}

static const struct cm_field torrent_add_request_fields[] = {
	STR(struct cm_torrent_add_request, "path", path, 0, CM_MAX_PATH, STR_ANY),
	STR(struct cm_torrent_add_request, "name", name, 0, CM_MAX_TORRENT_NAME, STR_TORRENT_NAME),
	STR(struct cm_torrent_add_request, "magnet", magnet, 0, CM_MAX_MAGNET, STR_ANY),
	STR(struct cm_torrent_add_request, "info_hash", info_hash, 0, CM_INFO_HASH_LEN,
	    STR_INFO_HASH),
	STR(struct cm_torrent_add_request, "torrent_file", torrent_file, 0, CM_MAX_PATH, STR_ANY),
	STR(struct cm_torrent_add_request, "dest", dest, 0, CM_MAX_PATH, STR_ANY),
};
static TYPE(torrent_add_request_type, "torrent-add-request",
	    "torrent.schema.json#/$defs/addRequest", struct cm_torrent_add_request,
	    torrent_add_request_fields, .check = torrent_add_request_check);

/* Relay status (relay-status.schema.json) */

static const char *
relay_service_name(int v)
{
	return cm_relay_service_name((enum cm_relay_service)v);
}

#define RELAY_EMAIL(T, key, m) STR(T, key, m, F_REQ, CM_MAX_EMAIL, STR_EMAIL)
#define RELAY_SERVICE(T)                                                                       \
	ENUM(T, "service", service, F_REQ, relay_service_name, CM_RELAY_GOSSIP, CM_RELAY_TORRENT)

static const struct cm_field relay_held_fields[] = {
	RELAY_EMAIL(struct cm_relay_held, "relay", relay),
	BOOL(struct cm_relay_held, "pending", pending, F_REQ),
	TIME(struct cm_relay_held, "since", since_ms, F_REQ),
	{.name = "expires_at", .kind = CK_TIME, .flags = F_HAS,
	 CM_MEMBER(struct cm_relay_held, expires_at_ms),
	 .has_off = offsetof(struct cm_relay_held, has_expires_at)},
};
static TYPE(relay_held_type, "relay-held", "relay-status.schema.json#/$defs/held",
	    struct cm_relay_held, relay_held_fields);

static const struct cm_field relay_served_fields[] = {
	RELAY_EMAIL(struct cm_relay_served, "peer", peer),
	TIME(struct cm_relay_served, "since", since_ms, F_REQ),
	TIME(struct cm_relay_served, "expires_at", expires_at_ms, F_REQ),
};
static TYPE(relay_served_type, "relay-served", "relay-status.schema.json#/$defs/served",
	    struct cm_relay_served, relay_served_fields);

static const struct cm_field relay_circuit_fields[] = {
	RELAY_EMAIL(struct cm_relay_circuit, "peer", peer),
	RELAY_EMAIL(struct cm_relay_circuit, "relay", relay),
	RELAY_SERVICE(struct cm_relay_circuit),
	BOOL(struct cm_relay_circuit, "inbound", inbound, F_REQ),
	BOOL(struct cm_relay_circuit, "pending", pending, F_REQ),
	TIME(struct cm_relay_circuit, "since", since_ms, F_REQ),
	SAFE(struct cm_relay_circuit, "bytes", bytes),
};
static TYPE(relay_circuit_type, "relay-circuit", "relay-status.schema.json#/$defs/circuit",
	    struct cm_relay_circuit, relay_circuit_fields);

static const struct cm_field relay_circuit_served_fields[] = {
	RELAY_EMAIL(struct cm_relay_circuit_served, "peer", peer),
	RELAY_EMAIL(struct cm_relay_circuit_served, "target", target),
	RELAY_SERVICE(struct cm_relay_circuit_served),
	BOOL(struct cm_relay_circuit_served, "pending", pending, F_REQ),
	TIME(struct cm_relay_circuit_served, "since", since_ms, F_REQ),
	SAFE(struct cm_relay_circuit_served, "bytes", bytes),
};
static TYPE(relay_circuit_served_type, "relay-circuit-served",
	    "relay-status.schema.json#/$defs/circuitServed", struct cm_relay_circuit_served,
	    relay_circuit_served_fields);

static const struct cm_field relay_refused_fields[] = {
	SAFE(struct cm_relay_refused, "no_reservation", no_reservation),
	SAFE(struct cm_relay_refused, "max_reservations", max_reservations),
	SAFE(struct cm_relay_refused, "not_allowed", not_allowed),
	SAFE(struct cm_relay_refused, "max_circuits", max_circuits),
	SAFE(struct cm_relay_refused, "per_peer", per_peer),
	SAFE(struct cm_relay_refused, "per_address", per_address),
	SAFE(struct cm_relay_refused, "rate", rate),
	SAFE(struct cm_relay_refused, "bad_request", bad_request),
};
static TYPE(relay_refused_type, "relay-refused", "relay-status.schema.json#/properties/refused",
	    struct cm_relay_refused, relay_refused_fields);

static const struct cm_field relay_closed_fields[] = {
	SAFE(struct cm_relay_closed, "byte_cap", byte_cap),
	SAFE(struct cm_relay_closed, "lifetime", lifetime),
};
static TYPE(relay_closed_type, "relay-closed", "relay-status.schema.json#/properties/closed",
	    struct cm_relay_closed, relay_closed_fields);

#define RELAY_LIST(key, m, type)                                                               \
	{.name = key, .kind = CK_ARRAY, .flags = F_REQ, CM_MEMBER(struct cm_relay_status, m),    \
	 .sub = &(type), .max = CM_MAX_RELAY_ENTRIES}

static const struct cm_field relay_status_fields[] = {
	RELAY_LIST("reservations_held", reservations_held, relay_held_type),
	RELAY_LIST("reservations_served", reservations_served, relay_served_type),
	RELAY_LIST("circuits", circuits, relay_circuit_type),
	RELAY_LIST("circuits_served", circuits_served, relay_circuit_served_type),
	BOOL(struct cm_relay_status, "serving", serving, F_REQ),
	INT(struct cm_relay_status, "relay_port", relay_port, F_REQ, 0, 65535),
	SAFE(struct cm_relay_status, "reservations_granted", reservations_granted),
	SAFE(struct cm_relay_status, "reservations_renewed", reservations_renewed),
	SAFE(struct cm_relay_status, "reservations_refused", reservations_refused),
	SAFE(struct cm_relay_status, "circuits_opened", circuits_opened),
	SAFE(struct cm_relay_status, "circuits_closed", circuits_closed),
	{.name = "refused", .kind = CK_OBJECT, .flags = F_REQ,
	 CM_MEMBER(struct cm_relay_status, refused), .sub = &relay_refused_type},
	SAFE(struct cm_relay_status, "join_timeouts", join_timeouts),
	{.name = "closed", .kind = CK_OBJECT, .flags = F_REQ,
	 CM_MEMBER(struct cm_relay_status, closed), .sub = &relay_closed_type},
	SAFE(struct cm_relay_status, "bytes_relayed", bytes_relayed),
	SAFE(struct cm_relay_status, "circuits_dialed", circuits_dialed),
	SAFE(struct cm_relay_status, "circuits_accepted", circuits_accepted),
	SAFE(struct cm_relay_status, "circuit_failures", circuit_failures),
	SAFE(struct cm_relay_status, "bytes_carried", bytes_carried),
};
static TYPE(relay_status_type, "relay-status", "relay-status.schema.json", struct cm_relay_status,
	    relay_status_fields);

/* Every table here, for cm_codec_tables(). */
const struct cm_type *const cm_agent_types[] = {
	&gossip_stats_type,      &agent_bootstrap_type, &agent_status_type,
	&broadcast_request_type, &store_entry_type,     &store_pin_type,
	&peer_store_type,        &peer_link_type,       &topology_summary_type,
	&torrent_file_type,      &torrent_status_type,  &torrent_created_type,
	&torrent_add_request_type, &relay_held_type,    &relay_served_type,
	&relay_circuit_type,     &relay_circuit_served_type, &relay_refused_type,
	&relay_closed_type,      &relay_status_type,
};
const size_t cm_agent_ntypes = CM_NFIELDS(cm_agent_types);

/* The public entry points: encode, decode and clear of each document. */
#define AGENT_OBJECT(fn, T, type) CM_OBJECT_CODEC(fn, T, type) CM_DOC_CLEAR(fn, T, fn##_doc)
AGENT_OBJECT(agent_status, struct cm_agent_status, agent_status_type)
AGENT_OBJECT(gossip_stats, struct cm_gossip_stats, gossip_stats_type)
AGENT_OBJECT(broadcast_request, struct cm_broadcast_request, broadcast_request_type)
AGENT_OBJECT(store_entry, struct cm_store_entry, store_entry_type)
AGENT_OBJECT(store_pin, struct cm_store_pin, store_pin_type)
AGENT_OBJECT(peer_store, struct cm_peer_store, peer_store_type)
AGENT_OBJECT(topology_summary, struct cm_topology_summary, topology_summary_type)
CM_ARRAY_CODEC(peer_infolist, struct cm_peer_infolist, cm_peer_info_type, CM_MAX_PEER_INFOS)
CM_DOC_CLEAR(peer_infolist, struct cm_peer_infolist, peer_infolist_doc)
CM_ARRAY_CODEC(peer_linklist, struct cm_peer_linklist, peer_link_type, CM_MAX_PEER_INFOS)
CM_DOC_CLEAR(peer_linklist, struct cm_peer_linklist, peer_linklist_doc)
AGENT_OBJECT(torrent_status, struct cm_torrent_status, torrent_status_type)
AGENT_OBJECT(torrent_created, struct cm_torrent_created, torrent_created_type)
AGENT_OBJECT(torrent_add_request, struct cm_torrent_add_request, torrent_add_request_type)
AGENT_OBJECT(relay_status, struct cm_relay_status, relay_status_type)
CM_ARRAY_CODEC(torrent_statuslist, struct cm_torrent_statuslist, torrent_status_type,
	       CM_MAX_TORRENT_LIST)
CM_DOC_CLEAR(torrent_statuslist, struct cm_torrent_statuslist, torrent_statuslist_doc)

int
cm_agent_status_from_text(const char *buf, size_t len, struct cm_agent_status *out,
			  struct cm_err *err)
{
	return cm_codec_decode_text(&agent_status_doc, buf, len, CM_MAX_API_ANSWER, out, err);
}

int
cm_peer_infolist_from_text(const char *buf, size_t len, struct cm_peer_infolist *out,
			   struct cm_err *err)
{
	return cm_codec_decode_text(&peer_infolist_doc, buf, len, CM_MAX_API_ANSWER, out, err);
}

int
cm_broadcast_request_from_body(const char *buf, size_t len, struct cm_broadcast_request *out,
			       struct cm_err *err)
{
	return cm_codec_decode_text(&broadcast_request_doc, buf, len, CM_MAX_BODY, out, err);
}

int
cm_torrent_status_from_text(const char *buf, size_t len, struct cm_torrent_status *out,
			    struct cm_err *err)
{
	return cm_codec_decode_text(&torrent_status_doc, buf, len, CM_MAX_API_ANSWER, out, err);
}

int
cm_torrent_statuslist_from_text(const char *buf, size_t len, struct cm_torrent_statuslist *out,
				struct cm_err *err)
{
	return cm_codec_decode_text(&torrent_statuslist_doc, buf, len, CM_MAX_API_ANSWER, out, err);
}

int
cm_torrent_created_from_text(const char *buf, size_t len, struct cm_torrent_created *out,
			     struct cm_err *err)
{
	return cm_codec_decode_text(&torrent_created_doc, buf, len, CM_MAX_API_ANSWER, out, err);
}

int
cm_torrent_add_request_from_body(const char *buf, size_t len, struct cm_torrent_add_request *out,
				 struct cm_err *err)
{
	return cm_codec_decode_text(&torrent_add_request_doc, buf, len, CM_MAX_BODY, out, err);
}

int
cm_relay_status_from_text(const char *buf, size_t len, struct cm_relay_status *out,
			  struct cm_err *err)
{
	return cm_codec_decode_text(&relay_status_doc, buf, len, CM_MAX_API_ANSWER, out, err);
}

int
cm_counterlist_append(struct cm_counterlist *l, const char *name, int64_t count)
{
	struct cm_counter *items;
	char *copy;

	if ((copy = strdup(name)) == NULL)
		return -1;
	if ((items = realloc(l->items, (l->len + 1) * sizeof(*items))) == NULL) {
		free(copy);
		return -1;
	}
	items[l->len++] = (struct cm_counter){copy, count};
	l->items = items;
	return 0;
}

/* 15 digits print a number rounded to three decimals as those decimals. */
char *
cm_topology_summary_text(const struct cm_topology_summary *s)
{
	json_t *j = cm_topology_summary_encode(s);
	char *text;

	text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	json_decref(j);
	return text;
}
