/*
 * fuzz_jscan.c - libFuzzer target for the bounded JSON scanner (fb/jscan.h)
 * and the look at a frame built on it (cm_announcement_peek): the scan never
 * says yes to a text the codec's parser refuses, nor reads a value other than
 * the parser's, and a look that succeeds reads what the full decode reads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "fb/log.h"

#include "fuzz.h"
#include "jscan_agree.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

/* A look that succeeded, against the decode when the frame decodes at all. */
static void
check_peek(const char *buf, size_t size)
{
	struct cm_envelope_peek pk;
	struct cm_envelope env;
	struct cm_err err = {0};
	const struct cm_signed_record *o;

	if (cm_announcement_peek(buf, size, &pk) != 0)
		return;
	if (cm_envelope_from_frame(buf, size, &env, &err) == 0) {
		o = &env.payload.announcement.origin;
		if (env.type != pk.type || env.ttl != pk.ttl || env.timestamp_ms != pk.timestamp_ms ||
		    strcmp(env.id, pk.id) != 0 || strcmp(o->record.email, pk.email) != 0 ||
		    o->record.seq != pk.seq || (o->public_certificate != NULL) != pk.has_certificate)
			abort();
	}
	cm_envelope_clear(&env);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool scanned;

	if (!jscan_agree((const char *)data, size, &scanned))
		abort();
	check_peek((const char *)data, size);
	return 0;
}
