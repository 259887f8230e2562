/*
 * fuzz_bodies.c - libFuzzer target for the bootstrap API's bodies (fb/codec.h),
 * as bootstrap-server/src/routes.c reads them: the text parsed within
 * CM_MAX_BODY, then decoded as each request body (register, heartbeat,
 * feedback, the admin whitelist entry), and as each answer the agent reads
 * from a server (register answer, peer lists, status, error) or its control
 * API takes and gives (broadcast, the torrent POST body, torrent answers). unregister and discover carry no body: their query
 * values go through the same checks routes.c applies (an email; names
 * between commas). Besides what the sanitizers catch: a request accepted,
 * written again, is accepted again, and a refusal says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fb/codec.h"
#include "fb/limits.h"
#include "fb/log.h"
#include "fb/validate.h"

#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

/*
 * Decodes j as T, and when that works writes it again and decodes that too:
 * the second decode must succeed. Every *_clear takes a cleared value.
 */
#define ROUND_TRIP(fn, T, j)                                                                   \
	do {                                                                                   \
		T v_;                                                                          \
		struct cm_err e_ = {0};                                                        \
		int rc_ = cm_##fn##_decode(j, &v_, &e_);                                       \
		json_t *again_;                                                                \
		fuzz_check_refusal(rc_, &e_);                                                       \
		if (rc_ == 0) {                                                                \
			again_ = cm_##fn##_encode(&v_);                                        \
			cm_##fn##_clear(&v_);                                                  \
			if (again_ == NULL || cm_##fn##_decode(again_, &v_, &e_) != 0)         \
				abort();                                                       \
			json_decref(again_);                                                   \
		}                                                                              \
		cm_##fn##_clear(&v_);                                                          \
	} while (0)

/* Decodes j as T and releases it: answers the agent only reads. */
#define DECODE(fn, clear, T, j)                                                                \
	do {                                                                                   \
		T v_;                                                                          \
		struct cm_err e_ = {0};                                                        \
		fuzz_check_refusal(cm_##fn##_decode(j, &v_, &e_), &e_);                             \
		clear(&v_);                                                                    \
	} while (0)

/* ?repositories=a,b as do_discover splits and checks it. */
static void
query_repositories(const char *v, size_t len)
{
	size_t n = 0;

	for (const char *p = v, *end = v + len;; n++) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t l = comma != NULL ? (size_t)(comma - p) : (size_t)(end - p);

		if (!cm_valid_repo_name(p, l) || n >= CM_MAX_REPOSITORIES || comma == NULL)
			return;
		p = comma + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct cm_register_request reg;
	struct cm_err err = {0};
	json_t *j;

	fuzz_check_refusal(cm_register_request_from_body(buf, size, &reg, &err), &err);
	cm_register_request_clear(&reg);
	cm_valid_email(buf, size);
	query_repositories(buf, size);
	if ((j = cm_json_parse(buf, size, CM_MAX_BODY, &err)) == NULL) {
		fuzz_check_refusal(-1, &err);
		return 0;
	}
	ROUND_TRIP(register_request, struct cm_register_request, j);
	ROUND_TRIP(heartbeat_request, struct cm_heartbeat_request, j);
	ROUND_TRIP(feedback_request, struct cm_feedback_request, j);
	DECODE(whitelist_entry, cm_whitelist_entry_clear, struct cm_whitelist_entry, j);
	ROUND_TRIP(bootstrap_peerlist, struct cm_bootstrap_peerlist, j);
	DECODE(register_response, cm_register_response_clear, struct cm_register_response, j);
	DECODE(status_body, cm_status_clear, struct cm_status, j);
	DECODE(error_body, cm_error_body_clear, struct cm_error_body, j);
	ROUND_TRIP(broadcast_request, struct cm_broadcast_request, j);
	ROUND_TRIP(torrent_add_request, struct cm_torrent_add_request, j);
	ROUND_TRIP(torrent_status, struct cm_torrent_status, j);
	ROUND_TRIP(torrent_statuslist, struct cm_torrent_statuslist, j);
	ROUND_TRIP(torrent_created, struct cm_torrent_created, j);
	ROUND_TRIP(relay_status, struct cm_relay_status, j);
	json_decref(j);
	return 0;
}
