/*
 * fuzz_engine.c - libFuzzer target for the engine's receive path
 * (engine_receive, core/engine.h): the input is frames separated by NUL bytes
 * (no valid frame holds one), given to a fresh engine with a small table at
 * a fixed time and a fixed random sequence. Neighbour 1 has sent its genuine
 * hello, so its frames are applied; neighbour 2 has not, and gets the first
 * frame as its hello. The engine has asked neighbour 1 for peers beforehand,
 * so an answer can be solicited: that request's id follows from the fixed
 * randomness, and the seed list-response-answer.json carries it. The timers
 * run once at the end. Time is the tests/proto seeds' own.
 * Each input runs twice: with signature checks, as the agent does, and
 * without, as the simulator may, so that records the fuzzer cannot sign
 * still reach the table, forwarding and the answers. Besides what the
 * sanitizers catch: every frame the engine sends is one a receiver accepts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "fb/codec.h"
#include "fb/digest.h"
#include "fb/log.h"

/* Fixed, so a crash replays; the daemon draws a random key. */
static const struct cm_hash_key fuzz_key = {0x66757a7a, 0x6b6579};

#define T0 1764000000123LL /* 2025-11-24T16:00:00.123Z, the seeds' time */
#define NOW_MS (T0 + 60 * 1000LL)
#define TABLE_MAX 8 /* small, so that eviction runs */
#define NB_HELLO 1  /* authenticated neighbour */
#define NB_NEW 2    /* its first frame is its hello */
#define SELF_EMAIL "self@example.com"
#define NB_EMAIL "nb@example.com"
#define PEER_ID "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f"

static struct cm_identity *self_id, *nb_id;
static char *hello; /* neighbour 1's announcement of its own record */
static size_t hello_len;
static char nb_fp[CM_FINGERPRINT_LEN + 1];     /* its certificate's fingerprint */
static char nb_pem_fp[CM_FINGERPRINT_LEN + 1]; /* what stands for it without checks */

static uint64_t
rng_next(void *ctx)
{
	uint64_t *s = ctx;

	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void
own_record(struct cm_peer_record *r, const char *email)
{
	memset(r, 0, sizeof(*r));
	r->email = strdup(email);
	r->peer_id = strdup(PEER_ID);
	r->is_broadcasting = true;
	cm_strlist_append(&r->socket_addresses, "192.0.2.1");
	r->port = 7443;
	cm_repolist_append(&r->repositories, "photos", NULL);
	r->capabilities.max_peers = 8;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cm_envelope env = {.v = 1,
				  .id = "4f1d6a3e-0c2b-4e5f-9a8b-7c6d5e4f3a2b",
				  .type = CM_MSG_PEER_ANNOUNCEMENT,
				  .ttl = 1,
				  .timestamp_ms = NOW_MS,
				  .sender_email = NB_EMAIL,
				  .sender_peer_id = PEER_ID};
	struct cm_signed_record s;
	struct cm_peer_record r;
	struct cm_err err;
	char *origin;

	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERROR);
	if ((self_id = cm_identity_generate(SELF_EMAIL, 30, &err)) == NULL ||
	    (nb_id = cm_identity_generate(NB_EMAIL, 30, &err)) == NULL)
		abort();
	own_record(&r, NB_EMAIL);
	r.issued_at_ms = T0;
	r.seq = 1;
	if (cm_record_sign(&r, nb_id, &s, &err) != 0 ||
	    (origin = cm_json_dump_take(cm_signed_record_encode(&s), NULL)) == NULL ||
	    (hello = cm_announcement_text(&env, origin, &hello_len)) == NULL)
		abort();
	snprintf(nb_fp, sizeof(nb_fp), "%s", cm_cert_fingerprint(cm_identity_cert(nb_id)));
	if (cm_sha256_hex(s.public_certificate, strlen(s.public_certificate), nb_pem_fp) != 0)
		abort();
	free(origin);
	cm_signed_record_clear(&s);
	cm_peer_record_clear(&r);
	return 0;
}

/* Every frame sent must be an envelope a receiver accepts; then the actions are done. */
static void
check_actions(struct engine_actions *a)
{
	for (size_t i = 0; i < a->len; i++) {
		const struct engine_action *x = &a->items[i];
		struct cm_envelope env;
		struct cm_err err;

		if (x->kind != ENGINE_SEND)
			continue;
		if (cm_envelope_from_frame(x->frame, x->frame_len, &env, &err) != 0)
			abort();
		cm_envelope_clear(&env);
	}
	engine_actions_clear(a);
}

static void
run(const char *data, size_t size, bool verify)
{
	struct peertable_config tc;
	struct engine_config ec;
	struct engine_actions out = {0};
	uint64_t state = 88172645463325252ULL;
	struct engine_rng rng = {rng_next, &state};
	struct cm_strlist repos = {0};
	struct cm_peer_record self;
	struct peertable *t;
	struct engine *e;
	char request_id[CM_UUID_TEXT_LEN + 1];
	const char *p = data, *end = data + size;
	bool first = true;

	peertable_config_default(&tc);
	tc.max_entries = TABLE_MAX;
	engine_config_default(&ec);
	ec.verify_signatures = verify;
	own_record(&self, SELF_EMAIL);
	cm_strlist_append(&repos, "photos");
	if ((t = peertable_new(&tc, &fuzz_key, SELF_EMAIL)) == NULL ||
	    (e = engine_new(&ec, t, self_id)) == NULL ||
	    engine_set_self(e, &self, NOW_MS, &rng, &out) != 0 ||
	    engine_neighbour_up(e, NB_HELLO, true, verify ? nb_fp : nb_pem_fp, NOW_MS, &rng,
				&out) != 0 ||
	    engine_receive(e, NB_HELLO, hello, hello_len, NOW_MS, &rng, &out) != ENGINE_ACCEPTED ||
	    engine_neighbour_up(e, NB_NEW, false, nb_fp, NOW_MS, &rng, &out) != 0 ||
	    engine_request(e, &repos, 1, NOW_MS, &rng, request_id, &out) != 1)
		abort();
	check_actions(&out);
	for (;;) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		size_t len = nul != NULL ? (size_t)(nul - p) : (size_t)(end - p);

		if (first)
			engine_receive(e, NB_NEW, p, len, NOW_MS, &rng, &out);
		first = false;
		engine_receive(e, NB_HELLO, p, len, NOW_MS, &rng, &out);
		check_actions(&out);
		if (nul == NULL)
			break;
		p = nul + 1;
	}
	engine_tick(e, NOW_MS + ec.anti_entropy_ms, &rng, &out);
	check_actions(&out);
	engine_neighbour_down(e, NB_HELLO, NOW_MS);
	engine_neighbour_down(e, NB_NEW, NOW_MS);
	engine_free(e);
	peertable_free(t);
	cm_strlist_clear(&repos);
	cm_peer_record_clear(&self);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run((const char *)data, size, true);
	run((const char *)data, size, false);
	return 0;
}
