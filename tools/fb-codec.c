/*
 * fb-codec.c - the project's codec on the command line: decode a document
 * with the strict decoder of a type, or print what the encoder writes for a
 * sample value. The contract tests (tests/proto) hold the JSON Schemas in
 * proto/ to these.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "fb/identity.h"
#include "fb/score.h"
#include "fb/timeutil.h"
#include "fb/validate.h"

#define MAX_INPUT (1024 * 1024)
#define T0 1764000000123LL
#define UUID_A "0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f"
#define UUID_B "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f"
#define INFO_HASH "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
#define SHA256_HEX "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

/* Each decoder checks a parsed document; returns 0 or -1 with err set. */
typedef int (*decode_fn)(const json_t *, struct cm_err *);

#define DECODER(name, type, decode, clear)                                                         \
	static int name(const json_t *j, struct cm_err *err)                                       \
	{                                                                                          \
		type v;                                                                            \
		if (decode(j, &v, err) != 0)                                                       \
			return -1;                                                                 \
		clear(&v);                                                                         \
		return 0;                                                                          \
	}

DECODER(dec_register_request, struct cm_register_request, cm_register_request_decode,
	cm_register_request_clear)
DECODER(dec_register_response, struct cm_register_response, cm_register_response_decode,
	cm_register_response_clear)
DECODER(dec_peer_list, struct cm_bootstrap_peerlist, cm_bootstrap_peerlist_decode,
	cm_bootstrap_peerlist_clear)
DECODER(dec_bootstrap_peer, struct cm_bootstrap_peer, cm_bootstrap_peer_decode,
	cm_bootstrap_peer_clear)
DECODER(dec_signed_record, struct cm_signed_record, cm_signed_record_decode,
	cm_signed_record_clear)
DECODER(dec_envelope, struct cm_envelope, cm_envelope_decode, cm_envelope_clear)
DECODER(dec_peer_info, struct cm_peer_info, cm_peer_info_decode, cm_peer_info_clear)
DECODER(dec_heartbeat_request, struct cm_heartbeat_request, cm_heartbeat_request_decode,
	cm_heartbeat_request_clear)
DECODER(dec_feedback_request, struct cm_feedback_request, cm_feedback_request_decode,
	cm_feedback_request_clear)
DECODER(dec_whitelist_entry, struct cm_whitelist_entry, cm_whitelist_entry_decode,
	cm_whitelist_entry_clear)
DECODER(dec_admin_registrations, struct cm_admin_registrationlist,
	cm_admin_registrationlist_decode, cm_admin_registrationlist_clear)
DECODER(dec_torrent_status, struct cm_torrent_status, cm_torrent_status_decode,
	cm_torrent_status_clear)
DECODER(dec_torrent_statuslist, struct cm_torrent_statuslist, cm_torrent_statuslist_decode,
	cm_torrent_statuslist_clear)
DECODER(dec_torrent_created, struct cm_torrent_created, cm_torrent_created_decode,
	cm_torrent_created_clear)
DECODER(dec_torrent_add_request, struct cm_torrent_add_request, cm_torrent_add_request_decode,
	cm_torrent_add_request_clear)
DECODER(dec_relay_msg, struct cm_relay_msg, cm_relay_msg_decode, cm_relay_msg_clear)

static const struct {
	const char *name;
	decode_fn fn;
	size_t limit; /* the transport's cap on the document */
} decoders[] = {
	{"register-request", dec_register_request, CM_MAX_BODY},
	{"register-response", dec_register_response, CM_MAX_BODY},
	{"bootstrap-peer", dec_bootstrap_peer, CM_MAX_BODY},
	{"bootstrap-peer-list", dec_peer_list, MAX_INPUT},
	{"signed-record", dec_signed_record, CM_MAX_FRAME},
	{"envelope", dec_envelope, CM_MAX_FRAME},
	{"peer-info", dec_peer_info, MAX_INPUT},
	{"heartbeat-request", dec_heartbeat_request, CM_MAX_BODY},
	{"feedback-request", dec_feedback_request, CM_MAX_BODY},
	{"whitelist-entry", dec_whitelist_entry, CM_MAX_BODY},
	{"admin-registrations", dec_admin_registrations, MAX_INPUT},
	{"torrent-status", dec_torrent_status, MAX_INPUT},
	{"torrent-status-list", dec_torrent_statuslist, MAX_INPUT},
	{"torrent-created", dec_torrent_created, MAX_INPUT},
	{"torrent-add-request", dec_torrent_add_request, CM_MAX_BODY},
	{"relay-message", dec_relay_msg, 4096},
};

static struct cm_identity *sample_id;

static void
sample_record(struct cm_peer_record *r, const char *email, bool broadcasting)
{
	memset(r, 0, sizeof(*r));
	r->email = strdup(email);
	r->peer_id = strdup(UUID_A);
	r->seq = 3;
	r->issued_at_ms = T0;
	r->is_broadcasting = broadcasting;
	r->is_bootstrap = broadcasting;
	if (broadcasting) {
		cm_strlist_append(&r->socket_addresses, "192.0.2.10");
		cm_strlist_append(&r->socket_addresses, "2001:db8::10");
		r->port = 7443;
	}
	cm_repolist_append(&r->repositories, "photos", "Holiday photos");
	cm_repolist_append(&r->repositories, "music", NULL);
	r->capabilities = (struct cm_capabilities){8, true, 1250000};
	cm_torrentlist_append(&r->torrents, INFO_HASH, "holiday-2025.mkv", 52428800, SHA256_HEX);
	/* Set for the silent sample too: the encoder must leave it out there. */
	r->torrent_port = 6881;
}

static int
sample_signed(struct cm_signed_record *s, bool broadcasting)
{
	struct cm_peer_record r;
	struct cm_err err;
	int rc;

	sample_record(&r, "alice@example.com", broadcasting);
	rc = cm_record_sign(&r, sample_id, s, &err);
	cm_peer_record_clear(&r);
	if (rc != 0)
		fprintf(stderr, "fb-codec: %s\n", err.msg);
	return rc;
}

static void
sample_bootstrap_peer(struct cm_bootstrap_peer *p, const char *email, bool scored)
{
	memset(p, 0, sizeof(*p));
	p->email = strdup(email);
	p->peer_id = strdup(UUID_B);
	cm_strlist_append(&p->socket_addresses, "203.0.113.5");
	p->port = 8443;
	cm_repolist_append(&p->repositories, "photos", NULL);
	p->public_certificate = strdup(cm_cert_pem(cm_identity_cert(sample_id)));
	p->has_availability_score = scored;
	p->availability_score = 97.5;
	p->has_performance_score = scored && email[0] == 'b';
	p->performance_score = 80.25;
}

static json_t *
sample_envelope(enum cm_msg_type type, bool torrent_search)
{
	struct cm_envelope e = {.v = 1, .type = type, .ttl = 6, .timestamp_ms = T0};
	json_t *j = NULL;

	e.id = strdup(UUID_A);
	e.sender_email = strdup("carol@example.com");
	e.sender_peer_id = strdup(UUID_B);
	switch (type) {
	case CM_MSG_PEER_ANNOUNCEMENT:
		if (sample_signed(&e.payload.announcement.origin, true) != 0)
			goto end;
		break;
	case CM_MSG_PEER_REQUEST:
		if (torrent_search) {
			e.payload.request.has_torrent_search = true;
			e.payload.request.torrent_search.info_hash = strdup(INFO_HASH);
		} else {
			cm_strlist_append(&e.payload.request.repositories, "photos");
		}
		break;
	case CM_MSG_PEER_LIST_RESPONSE:
		e.payload.list_response.request_id = strdup(UUID_B);
		e.payload.list_response.peers.items = calloc(2, sizeof(struct cm_signed_record));
		e.payload.list_response.peers.len = 2;
		if (sample_signed(&e.payload.list_response.peers.items[0], true) != 0 ||
		    sample_signed(&e.payload.list_response.peers.items[1], false) != 0)
			goto end;
		break;
	case CM_MSG_HEARTBEAT:
		e.payload.heartbeat = (struct cm_heartbeat){true, true, 42};
		break;
	}
	j = cm_envelope_encode(&e);
end:
	cm_envelope_clear(&e);
	return j;
}

static json_t *
sample_peer_info(enum cm_peer_source source)
{
	struct cm_peer_info p = {0};
	json_t *j;

	p.email = strdup("dave@example.com");
	p.peer_id = strdup(UUID_A);
	p.public_certificate = strdup(cm_cert_pem(cm_identity_cert(sample_id)));
	cm_strlist_append(&p.socket_addresses, "198.51.100.4");
	p.port = 7443;
	p.is_broadcasting = p.is_bootstrap = true;
	p.peer_status = CM_PEER_ONLINE;
	p.state = CM_STATE_CONNECTED;
	cm_repolist_append(&p.repositories, "photos", NULL);
	p.availability_score = 99;
	p.performance_score = 71.5;
	p.score = cm_score(99, 71.5);
	p.bandwidth_estimate = 500000;
	p.discovered_at_ms = T0;
	p.last_seen_ms = T0 + 30000;
	p.expires_at_ms = T0 + 7200000;
	p.peer_count = 12;
	p.gossip_received_count = 40;
	p.source = source;
	p.found_in_ms = source == CM_SOURCE_NONE ? 0 : 35;
	p.torrent_port = 6881;
	cm_torrentlist_append(&p.torrents, INFO_HASH, "holiday-2025.mkv", 52428800, SHA256_HEX);
	j = cm_peer_info_encode(&p);
	cm_peer_info_clear(&p);
	return j;
}

#define MAGNET "magnet:?xt=urn:btih:" INFO_HASH "&dn=photos&xl=52428800"

/* A multi-file torrent while it downloads, or a single file that failed. */
static void
sample_torrent_status(struct cm_torrent_status *t, bool multi)
{
	memset(t, 0, sizeof(*t));
	t->info_hash = strdup(INFO_HASH);
	t->name = strdup("photos");
	t->size = 52428800;
	t->state = multi ? CM_TORRENT_DOWNLOADING : CM_TORRENT_ERROR;
	t->progress = multi ? 0.25 : 0;
	t->peers = 3;
	t->download_rate = 1048576;
	t->downloaded = 13107200;
	t->path = strdup("/home/alice/Downloads/photos");
	t->magnet = strdup(MAGNET);
	if (multi) {
		t->sha256 = strdup(SHA256_HEX);
		t->torrent_file = strdup("/home/alice/.flashback/torrents/" INFO_HASH ".torrent");
		t->files.items = calloc(2, sizeof(*t->files.items));
		t->files.len = 2;
		t->files.items[0] = (struct cm_torrent_file){strdup("a.jpg"), strdup(SHA256_HEX)};
		t->files.items[1] = (struct cm_torrent_file){strdup("b/c.jpg"), strdup(SHA256_HEX)};
	} else {
		t->error = strdup("disk full");
	}
}

static json_t *
sample_torrent(const char *type)
{
	json_t *j = NULL;

	if (strcmp(type, "torrent-status") == 0) {
		struct cm_torrent_status t;
		sample_torrent_status(&t, true);
		j = cm_torrent_status_encode(&t);
		cm_torrent_status_clear(&t);
	} else if (strcmp(type, "torrent-status-list") == 0) {
		struct cm_torrent_statuslist l = {calloc(2, sizeof(struct cm_torrent_status)), 2};
		sample_torrent_status(&l.items[0], true);
		sample_torrent_status(&l.items[1], false);
		/* A magnet's torrent before its metadata: no name, SHA-256 or .torrent yet. */
		free(l.items[1].name);
		l.items[1].name = NULL;
		j = cm_torrent_statuslist_encode(&l);
		cm_torrent_statuslist_clear(&l);
	} else if (strcmp(type, "torrent-created") == 0) {
		struct cm_torrent_created c = {.size = 52428800, .piece_length = 262144};
		c.info_hash = strdup(INFO_HASH);
		c.sha256 = strdup(SHA256_HEX);
		c.name = strdup("holiday-2025.mkv");
		c.magnet = strdup(MAGNET);
		c.torrent_file = strdup("/home/alice/.flashback/torrents/" INFO_HASH ".torrent");
		j = cm_torrent_created_encode(&c);
		cm_torrent_created_clear(&c);
	} else if (strcmp(type, "torrent-add-request-create") == 0) {
		struct cm_torrent_add_request r = {0};
		r.path = strdup("/home/alice/holiday-2025.mkv");
		r.name = strdup("holiday");
		j = cm_torrent_add_request_encode(&r);
		cm_torrent_add_request_clear(&r);
	} else if (strcmp(type, "torrent-add-request-get") == 0) {
		struct cm_torrent_add_request r = {0};
		r.magnet = strdup(MAGNET);
		r.dest = strdup("/home/alice/Downloads");
		j = cm_torrent_add_request_encode(&r);
		cm_torrent_add_request_clear(&r);
	} else if (strcmp(type, "relay-invite") == 0) {
		struct cm_relay_msg m = {.op = CM_RELAY_INVITE};
		m.circuit = strdup("0123456789abcdef0123456789abcdef");
		m.from = strdup("alice@example.com");
		m.service = strdup("gossip");
		j = cm_relay_msg_encode(&m);
		cm_relay_msg_clear(&m);
	} else if (strcmp(type, "relay-reserved") == 0) {
		struct cm_relay_msg m = {.op = CM_RELAY_RESERVED, .expires_in_s = 1800,
					 .has_expires_in_s = true};
		j = cm_relay_msg_encode(&m);
	}
	return j;
}

static json_t *
sample(const char *type)
{
	json_t *j = NULL;

	if (strcmp(type, "register-request") == 0) {
		struct cm_register_request r = {.is_broadcasting = true, .port = 7443};
		r.email = strdup("alice@example.com");
		r.peer_id = strdup(UUID_A);
		cm_strlist_append(&r.socket_addresses, "192.0.2.10");
		cm_repolist_append(&r.repositories, "photos", "Holiday photos");
		r.has_capabilities = true;
		r.capabilities = (struct cm_capabilities){8, true, 1250000};
		j = cm_register_request_encode(&r);
		cm_register_request_clear(&r);
	} else if (strcmp(type, "register-response") == 0) {
		struct cm_register_response r = {.expires_at_ms = T0, .heartbeat_interval_s = 30};
		r.status = strdup("registered");
		r.peer_id = strdup(UUID_A);
		r.bootstrap_peers.items = calloc(1, sizeof(struct cm_bootstrap_peer));
		r.bootstrap_peers.len = 1;
		sample_bootstrap_peer(&r.bootstrap_peers.items[0], "bob@example.com", false);
		j = cm_register_response_encode(&r);
		cm_register_response_clear(&r);
	} else if (strcmp(type, "bootstrap-peer-list") == 0) {
		struct cm_bootstrap_peerlist l = {calloc(2, sizeof(struct cm_bootstrap_peer)), 2};
		sample_bootstrap_peer(&l.items[0], "bob@example.com", true);
		sample_bootstrap_peer(&l.items[1], "erin@example.com", true);
		j = cm_bootstrap_peerlist_encode(&l);
		cm_bootstrap_peerlist_clear(&l);
	} else if (strcmp(type, "signed-record") == 0) {
		struct cm_signed_record s;
		if (sample_signed(&s, true) == 0)
			j = cm_signed_record_encode(&s);
		cm_signed_record_clear(&s);
	} else if (strcmp(type, "envelope-announcement") == 0) {
		j = sample_envelope(CM_MSG_PEER_ANNOUNCEMENT, false);
	} else if (strcmp(type, "envelope-request") == 0) {
		j = sample_envelope(CM_MSG_PEER_REQUEST, false);
	} else if (strcmp(type, "envelope-torrent-search") == 0) {
		j = sample_envelope(CM_MSG_PEER_REQUEST, true);
	} else if (strcmp(type, "envelope-list-response") == 0) {
		j = sample_envelope(CM_MSG_PEER_LIST_RESPONSE, false);
	} else if (strcmp(type, "envelope-heartbeat") == 0) {
		j = sample_envelope(CM_MSG_HEARTBEAT, false);
	} else if (strcmp(type, "peer-info") == 0) {
		j = sample_peer_info(CM_SOURCE_NONE);
	} else if (strcmp(type, "peer-info-discover") == 0) {
		j = sample_peer_info(CM_SOURCE_GOSSIP);
	} else if (strcmp(type, "status") == 0) {
		j = cm_status_encode("ok", T0);
	} else if (strcmp(type, "error") == 0) {
		j = cm_error_body_encode("port: out of range 1..65535", "bad_request");
	} else if (strcmp(type, "admin-registrations") == 0) {
		struct cm_admin_registrationlist l = {calloc(1, sizeof(struct cm_admin_registration)),
						      1};
		sample_bootstrap_peer(&l.items[0].peer, "bob@example.com", false);
		l.items[0].fingerprint = strdup(cm_cert_fingerprint(cm_identity_cert(sample_id)));
		l.items[0].is_broadcasting = true;
		l.items[0].state = CM_PEER_STALE;
		l.items[0].registered_at_ms = T0;
		l.items[0].last_heartbeat_ms = T0 + 1000;
		l.items[0].expires_at_ms = T0 + 3600000;
		j = cm_admin_registrationlist_encode(&l);
		cm_admin_registrationlist_clear(&l);
	} else if (strcmp(type, "whitelist") == 0) {
		struct cm_whitelist l = {calloc(1, sizeof(struct cm_whitelist_entry)), 1};
		l.items[0].fingerprint = strdup(cm_cert_fingerprint(cm_identity_cert(sample_id)));
		l.items[0].note = strdup("bootstrap-1");
		l.items[0].added_at_ms = T0;
		j = cm_whitelist_encode(&l);
		cm_whitelist_clear(&l);
	} else {
		j = sample_torrent(type);
	}
	return j;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: fb-codec decode TYPE [FILE]   strict decode (stdin without FILE)\n"
		   "       fb-codec sample TYPE          what the encoder writes for a sample\n"
		   "       fb-codec tables               every type's field table, as JSON\n"
		   "\ndecode types:");
	for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++)
		fprintf(f, " %s", decoders[i].name);
	fprintf(f, "\nsample types: register-request register-response bootstrap-peer-list "
		   "signed-record envelope-announcement envelope-request envelope-torrent-search "
		   "envelope-list-response "
		   "envelope-heartbeat peer-info peer-info-discover status error "
		   "admin-registrations whitelist torrent-status torrent-status-list "
		   "torrent-created torrent-add-request-create torrent-add-request-get\n"
		   "decode prints 'ok' and exits 0, or prints the decoder's error and exits 1.\n");
}

static int
do_decode(const char *type, const char *path)
{
	FILE *f = path != NULL ? fopen(path, "rb") : stdin;
	char *buf = malloc(MAX_INPUT + 1);
	struct cm_err err = {0};
	size_t len, i;
	json_t *j;
	int rc = 1;

	for (i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++)
		if (strcmp(decoders[i].name, type) == 0)
			break;
	if (i == sizeof(decoders) / sizeof(decoders[0]) || f == NULL || buf == NULL) {
		fprintf(stderr, "fb-codec: %s\n", f == NULL ? "cannot open the file" : "unknown type");
		rc = 2;
		goto end;
	}
	len = fread(buf, 1, MAX_INPUT + 1, f);
	if ((j = cm_json_parse(buf, len, decoders[i].limit, &err)) != NULL) {
		if (decoders[i].fn(j, &err) == 0)
			rc = 0;
		json_decref(j);
	}
	printf("%s\n", rc == 0 ? "ok" : err.msg);
end:
	if (f != NULL && f != stdin)
		fclose(f);
	free(buf);
	return rc;
}

int
main(int argc, char **argv)
{
	struct cm_err err;
	char *text;
	json_t *j;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "decode") == 0)
		return do_decode(argv[2], argc == 4 ? argv[3] : NULL);
	if (argc == 2 && strcmp(argv[1], "tables") == 0) {
		if ((j = cm_codec_tables()) == NULL || (text = cm_json_dump(j)) == NULL)
			return 1;
		printf("%s\n", text);
		free(text);
		json_decref(j);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "sample") != 0) {
		usage(stderr);
		return 2;
	}
	if ((sample_id = cm_identity_generate("alice@example.com", 30, &err)) == NULL) {
		fprintf(stderr, "fb-codec: %s\n", err.msg);
		return 1;
	}
	j = sample(argv[2]);
	cm_identity_free(sample_id);
	if (j == NULL) {
		fprintf(stderr, "fb-codec: unknown sample type '%s'\n", argv[2]);
		return 2;
	}
	text = json_dumps(j, JSON_COMPACT);
	printf("%s\n", text);
	free(text);
	json_decref(j);
	return 0;
}
