/*
 * fuzz_envelope.c - libFuzzer target for a gossip frame as the engine reads
 * it (fb/codec.h): the envelope and its payloads from the frame's text, the
 * signed records in it checked (certificate parsed, signature verified), and
 * the frame passed on as a forward does. Besides what the sanitizers catch,
 * it checks what the codec promises: an envelope it accepted, written again
 * or forwarded, is accepted again; a refusal says why. The same bytes are
 * also read as one signed record (peers.json and list answers hold them bare).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "fb/identity.h"
#include "fb/limits.h"
#include "fb/log.h"

#include "fuzz.h"

#define SENDER_EMAIL "relay@example.com"
#define SENDER_PEER_ID "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

static void
verify(const struct cm_signed_record *s)
{
	char fp[CM_FINGERPRINT_LEN + 1];
	struct cm_err err = {0};

	if (s->public_certificate != NULL &&
	    cm_record_verify(s, fp, &err) == 0 && strlen(fp) != CM_FINGERPRINT_LEN)
		abort();
}

/* Text that must decode as an envelope again (when within the frame cap). */
static void
check_again(char *text, size_t len)
{
	struct cm_envelope env;
	struct cm_err err = {0};

	if (text == NULL)
		return;
	if (len <= CM_MAX_FRAME && cm_envelope_from_frame(text, len, &env, &err) != 0)
		abort();
	cm_envelope_clear(&env);
	free(text);
}

static void
fuzz_envelope(const char *buf, size_t size)
{
	struct cm_envelope env;
	struct cm_err err = {0};
	json_t *tree = NULL;
	size_t len;
	int rc = cm_envelope_from_frame_tree(buf, size, &env, &tree, &err);

	fuzz_check_refusal(rc, &err);
	if (rc != 0) {
		cm_envelope_clear(&env);
		return;
	}
	if (env.type == CM_MSG_PEER_ANNOUNCEMENT)
		verify(&env.payload.announcement.origin);
	if (env.type == CM_MSG_PEER_LIST_RESPONSE)
		for (size_t i = 0; i < env.payload.list_response.peers.len; i++)
			verify(&env.payload.list_response.peers.items[i]);
	check_again(cm_json_dump_take(cm_envelope_encode(&env), &len), len);
	check_again(cm_envelope_forward(tree, env.ttl > 0 ? env.ttl - 1 : 0, SENDER_EMAIL,
					SENDER_PEER_ID, &len),
		    len);
	check_again(cm_envelope_forward_with_certificate(tree, "-----BEGIN CERTIFICATE-----\n",
							 &len),
		    len);
	cm_envelope_clear(&env);
	json_decref(tree);
}

static void
fuzz_signed_record(const char *buf, size_t size)
{
	struct cm_signed_record s;
	struct cm_err err = {0};
	json_t *j = cm_json_parse(buf, size, CM_MAX_FRAME, &err), *again;
	int rc;

	if (j == NULL)
		return;
	rc = cm_signed_record_decode(j, &s, &err);
	fuzz_check_refusal(rc, &err);
	if (rc == 0) {
		verify(&s);
		/* What was accepted, written again, is accepted again. */
		again = cm_signed_record_encode(&s);
		cm_signed_record_clear(&s);
		if (again == NULL || cm_signed_record_decode(again, &s, &err) != 0)
			abort();
		json_decref(again);
	}
	cm_signed_record_clear(&s);
	free(cm_json_canonical(j, &err));
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_envelope((const char *)data, size);
	fuzz_signed_record((const char *)data, size);
	return 0;
}
