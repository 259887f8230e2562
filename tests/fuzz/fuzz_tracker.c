/*
 * fuzz_tracker.c - libFuzzer target for tracker answers (tr_tracker_parse in
 * torrent/tracker.h): any bytes. Besides what the sanitizers catch, it
 * checks what an accepted answer promises: a failure reason, or an interval
 * in 60..3600 and at most TR_TRACKER_MAX_PEERS peers, each a numeric
 * address with a port in 1..65535; a refusal says why.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "torrent/tracker.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tr_tracker_answer a;
	struct cm_err err = {{0}};
	unsigned char b[16];
	int rc = tr_tracker_parse(data, size, &a, &err);

	fuzz_check_refusal(rc, &err);
	if (rc != 0) {
		if (a.peers != NULL || a.failure != NULL)
			abort();
		return 0;
	}
	if (a.failure == NULL) {
		if (a.interval_s < 60 || a.interval_s > 3600 || a.npeers > TR_TRACKER_MAX_PEERS)
			abort();
		for (size_t i = 0; i < a.npeers; i++)
			if (a.peers[i].port < 1 || a.peers[i].port > 65535 ||
			    (inet_pton(AF_INET, a.peers[i].ip, b) != 1 &&
			     inet_pton(AF_INET6, a.peers[i].ip, b) != 1))
				abort();
	} else if (strlen(a.failure) > size) {
		abort();
	}
	tr_tracker_answer_clear(&a);
	return 0;
}
