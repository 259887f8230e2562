/*
 * fb-bench.c - micro-benchmarks of the common library: envelope encode and
 * decode, canonical JSON, record signing and verification (ECDSA P-256 and
 * Ed25519 keys, through identity.c as the agent calls it), and verification's
 * two parts: parsing the record's certificate and checking the signature with
 * it. Prints one line per measurement (operations per second and microseconds
 * per operation).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "fb/identity.h"
#include "fb/timeutil.h"
#include "fb/random.h"
#include "fb/validate.h"

#define MIN_RUN_MS 500

struct bench_ctx {
	struct cm_envelope env;
	char *frame;
	size_t frame_len;
	struct cm_identity *id;
	struct cm_signed_record *signed_rec;
	struct cm_cert *cert; /* signed_rec's certificate, parsed once */
};

typedef int (*bench_fn)(struct bench_ctx *);

/* Runs fn in doubling batches until MIN_RUN_MS of monotonic time have passed. */
static int
measure(const char *name, bench_fn fn, struct bench_ctx *ctx)
{
	int64_t start = cm_time_mono_ms(), elapsed;
	long ops = 0, batch = 1;

	do {
		for (long i = 0; i < batch; i++)
			if (fn(ctx) != 0) {
				fprintf(stderr, "fb-bench: %s failed\n", name);
				return -1;
			}
		ops += batch;
		batch *= 2;
		elapsed = cm_time_mono_ms() - start;
	} while (elapsed < MIN_RUN_MS);
	printf("%-28s %10.0f ops/s %10.2f us/op  (%ld ops in %lld ms)\n", name,
	       ops * 1000.0 / (double)elapsed, elapsed * 1000.0 / (double)ops, ops,
	       (long long)elapsed);
	return 0;
}

static int
bench_encode(struct bench_ctx *c)
{
	json_t *j = cm_envelope_encode(&c->env);
	char *s = cm_json_dump(j);
	int rc = s == NULL ? -1 : 0;

	free(s);
	json_decref(j);
	return rc;
}

static int
bench_decode(struct bench_ctx *c)
{
	struct cm_envelope e;
	struct cm_err err;

	if (cm_envelope_from_frame(c->frame, c->frame_len, &e, &err) != 0)
		return -1;
	cm_envelope_clear(&e);
	return 0;
}

static int
bench_canonical(struct bench_ctx *c)
{
	json_t *j = cm_peer_record_encode(&c->signed_rec->record);
	char *s = cm_json_canonical(j, NULL);
	int rc = s == NULL ? -1 : 0;

	free(s);
	json_decref(j);
	return rc;
}

static int
bench_sign(struct bench_ctx *c)
{
	struct cm_signed_record s;

	if (cm_record_sign(&c->signed_rec->record, c->id, &s, NULL) != 0)
		return -1;
	cm_signed_record_clear(&s);
	return 0;
}

static int
bench_verify(struct bench_ctx *c)
{
	return cm_record_verify(c->signed_rec, NULL, NULL);
}

static int
bench_cert_parse(struct bench_ctx *c)
{
	const char *pem = c->signed_rec->public_certificate;
	struct cm_cert *cert = cm_cert_from_pem(pem, strlen(pem), NULL);

	cm_cert_free(cert);
	return cert == NULL ? -1 : 0;
}

static int
bench_signature(struct bench_ctx *c)
{
	const char *msg = c->signed_rec->canonical;

	return cm_cert_verify_signature(c->cert, msg, strlen(msg), c->signed_rec->signature, NULL);
}

/* A broadcasting record with 8 repositories, signed with a key of type, in a PEER_ANNOUNCEMENT. */
static int
setup(struct bench_ctx *c, enum cm_key_type type)
{
	struct cm_peer_record r = {0};
	struct cm_err err;
	char name[32], peer_id[CM_UUID_TEXT_LEN + 1], id[CM_UUID_TEXT_LEN + 1];
	json_t *j;

	if ((c->id = cm_identity_generate_as("bench@example.com", 30, type, &err)) == NULL) {
		fprintf(stderr, "fb-bench: %s\n", err.msg);
		return -1;
	}
	cm_uuid_generate(peer_id);
	cm_uuid_generate(id);
	r.email = "bench@example.com";
	r.peer_id = peer_id;
	r.seq = 1;
	r.issued_at_ms = cm_time_wall_ms();
	r.is_broadcasting = r.is_bootstrap = true;
	r.port = 7443;
	r.capabilities = (struct cm_capabilities){8, true, 1000000};
	cm_strlist_append(&r.socket_addresses, "192.0.2.10");
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "repository-%d", i);
		cm_repolist_append(&r.repositories, name, "a repository of the benchmark");
	}
	c->env = (struct cm_envelope){.v = 1, .id = strdup(id), .type = CM_MSG_PEER_ANNOUNCEMENT,
				      .ttl = 6, .timestamp_ms = r.issued_at_ms,
				      .sender_email = strdup(r.email),
				      .sender_peer_id = strdup(peer_id)};
	if (cm_record_sign(&r, c->id, &c->env.payload.announcement.origin, &err) != 0) {
		fprintf(stderr, "fb-bench: %s\n", err.msg);
		return -1;
	}
	cm_strlist_clear(&r.socket_addresses);
	cm_repolist_clear(&r.repositories);
	c->signed_rec = &c->env.payload.announcement.origin;
	c->cert = cm_cert_from_pem(c->signed_rec->public_certificate,
				   strlen(c->signed_rec->public_certificate), &err);
	if (c->cert == NULL) {
		fprintf(stderr, "fb-bench: %s\n", err.msg);
		return -1;
	}
	j = cm_envelope_encode(&c->env);
	c->frame = cm_json_dump(j);
	json_decref(j);
	if (c->frame == NULL)
		return -1;
	c->frame_len = strlen(c->frame);
	return 0;
}

static void
teardown(struct bench_ctx *c)
{
	cm_envelope_clear(&c->env);
	cm_cert_free(c->cert);
	free(c->frame);
	cm_identity_free(c->id);
	memset(c, 0, sizeof(*c));
}

int
main(int argc, char **argv)
{
	struct bench_ctx c = {0};
	int rc = 1;

	if (argc > 1) {
		fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
			"usage: fb-bench\nMeasures the common library: envelope encode/decode, "
			"canonical JSON, ECDSA P-256 and Ed25519 record sign/verify "
			"(and verify's certificate parse and signature check).\n");
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (setup(&c, CM_KEY_P256) != 0)
		goto end;
	printf("announcement frame: %zu bytes\n", c.frame_len);
	if (measure("envelope encode+dump", bench_encode, &c) != 0 ||
	    measure("envelope parse+decode", bench_decode, &c) != 0 ||
	    measure("record canonical JSON", bench_canonical, &c) != 0 ||
	    measure("record sign (P-256)", bench_sign, &c) != 0 ||
	    measure("record verify (P-256)", bench_verify, &c) != 0 ||
	    measure("certificate parse (P-256)", bench_cert_parse, &c) != 0 ||
	    measure("signature check (P-256)", bench_signature, &c) != 0)
		goto end;
	teardown(&c);
	if (setup(&c, CM_KEY_ED25519) != 0 || measure("record sign (Ed25519)", bench_sign, &c) != 0 ||
	    measure("record verify (Ed25519)", bench_verify, &c) != 0 ||
	    measure("certificate parse (Ed25519)", bench_cert_parse, &c) != 0 ||
	    measure("signature check (Ed25519)", bench_signature, &c) != 0)
		goto end;
	rc = 0;
end:
	teardown(&c);
	return rc;
}
