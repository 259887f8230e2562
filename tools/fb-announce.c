/*
 * fb-announce.c - one announce by the agent's tracker client
 * (torrent/tracker.c), for tests against real trackers: prints
 * "interval N" and one "peer IP PORT" line per peer (exit 0), "failure
 * REASON" when the tracker refused (exit 3), or "error WHY" (exit 1).
 *
 * fb-announce URL INFO_HASH_HEX PORT [EVENT [NUMWANT [BIND_IP]]]
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/hex.h"
#include "fb/log.h"
#include "net/httpclient.h"
#include "torrent/tracker.h"

static int status = 1;

static void
done(void *arg, const struct tr_tracker_answer *a, const char *err)
{
	event_base_loopbreak(arg);
	if (a == NULL) {
		printf("error %s\n", err);
		return;
	}
	if (a->failure != NULL) {
		printf("failure %s\n", a->failure);
		status = 3;
		return;
	}
	printf("interval %d\n", a->interval_s);
	for (size_t i = 0; i < a->npeers; i++)
		printf("peer %s %d\n", a->peers[i].ip, a->peers[i].port);
	status = 0;
}

int
main(int argc, char **argv)
{
	struct tr_announce a = {.numwant = 50};
	struct event_base *base;
	struct hc_client *hc;
	struct cm_err err = {{0}};
	char id[TR_HASH_LEN + 1];

	log_init(NULL);
	if (argc < 4 || argc > 7) {
		fprintf(stderr,
		        "usage: fb-announce URL INFO_HASH_HEX PORT [EVENT [NUMWANT [BIND_IP]]]\n");
		return 2;
	}
	if (cm_hex_decode(argv[2], strlen(argv[2]), a.info_hash, TR_HASH_LEN, &err) != 0) {
		fprintf(stderr, "fb-announce: info hash: %s\n", err.msg);
		return 2;
	}
	/* a fixed peer id per port: two runs with one port are one peer to the tracker */
	snprintf(id, sizeof(id), "-FB0001-%012d", atoi(argv[3]) % 1000000);
	memcpy(a.peer_id, id, TR_HASH_LEN);
	a.port = atoi(argv[3]);
	a.left = 1;
	a.event = argc > 4 && argv[4][0] != '\0' ? argv[4] : NULL;
	a.numwant = argc > 5 ? atoi(argv[5]) : 50;
	a.bind_ip = argc > 6 ? argv[6] : NULL;
	if ((base = event_base_new()) == NULL || (hc = hc_new(base)) == NULL)
		return 1;
	if (tr_tracker_announce(hc, argv[1], &a, done, base) == 0)
		event_base_dispatch(base);
	else
		printf("error cannot announce\n");
	hc_free(hc);
	event_base_free(base);
	fflush(stdout);
	return status;
}
