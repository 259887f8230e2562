/*
 * fuzz_upgrade.c - libFuzzer target for the Upgrade parsers (net/upgrade.h):
 * any bytes, as a request and as a response. Besides what the sanitizers
 * catch, it checks what an answer promises: a block's length within the input
 * and the limit, ending with the empty line; a request accepted has a key
 * whose built answer our own client accepts; a refusal has a status we can send.
 * `make fuzz` builds it with clang and runs it for FUZZ_SECONDS (60) seconds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/upgrade.h"

#define PATH "/gossip/v1"
#define PROTO "flashback-gossip.v1"

static void
check_block(const uint8_t *data, size_t size, int r)
{
	if (r > 0 && ((size_t)r > size || r > UPGRADE_MAX_BYTES || r < 4 ||
		      memcmp(data + r - 4, "\r\n\r\n", 4) != 0))
		abort();
}

static void
check_request(const uint8_t *data, size_t size)
{
	struct upgrade_request req;
	struct cm_err err;
	char accept[UPGRADE_ACCEPT_LEN + 1], resp[512];
	int r = upgrade_parse_request(data, size, PATH, PROTO, &req, &err), n;

	check_block(data, size, r);
	if (r > 0) {
		if (strlen(req.key) != UPGRADE_KEY_LEN || upgrade_accept_key(req.key, accept) != 0)
			abort();
		n = upgrade_build_response(resp, sizeof(resp), accept, PROTO);
		if (n < 0 || upgrade_parse_response(resp, (size_t)n, accept, PROTO, &err) != n)
			abort();
	} else if (r < 0) {
		if (req.status != 400 && req.status != 404 && req.status != 405 &&
		    req.status != 426 && req.status != 431)
			abort();
		if (upgrade_build_refusal(resp, sizeof(resp), req.status) < 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cm_err err;

	check_request(data, size);
	check_block(data, size,
		    upgrade_parse_response(data, size, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", PROTO, &err));
	return 0;
}
