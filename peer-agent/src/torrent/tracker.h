/*
 * tracker.h - the HTTP tracker client (BEP 3, compact answers BEP 23, and the
 * older list of dictionaries): one announce on the loop through net/httpclient,
 * its answer parsed by a pure function (fuzzed). Which tracker to ask and
 * when is the torrent client's.
 */
#ifndef TR_TRACKER_H
#define TR_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "fb/err.h"
#include "torrent/torrent.h"

struct hc_client;

#define TR_TRACKER_MAX_ANSWER (256 * 1024) /* bytes of a tracker answer we read */
#define TR_TRACKER_MAX_PEERS 200           /* peers taken from one answer */

struct tr_announce {
	unsigned char info_hash[TR_HASH_LEN];
	unsigned char peer_id[TR_HASH_LEN];
	int port;               /* our peer-wire port; a silent client never announces */
	uint64_t uploaded, downloaded, left;
	const char *event;      /* "started", "completed", "stopped" or NULL */
	int numwant;
	const char *bind_ip;    /* source address; NULL: the system's */
};

struct tr_tracker_answer {
	int interval_s;          /* the tracker's; clamped to 60..3600 */
	struct tr_peer_addr *peers;
	size_t npeers;
	char *failure;           /* "failure reason" when the tracker refused; else NULL */
};
void tr_tracker_answer_clear(struct tr_tracker_answer *a);

/* Parses an announce answer's body. -1 with err on anything malformed. */
int tr_tracker_parse(const void *body, size_t len, struct tr_tracker_answer *out, struct cm_err *err);

/*
 * The answer (a->failure set when the tracker refused us), or a NULL and err
 * (transport failure, HTTP status, malformed body); borrowed during the call.
 */
typedef void (*tr_announce_fn)(void *arg, const struct tr_tracker_answer *a, const char *err);
/*
 * Sends an announce to url (http:// or https://; compact=1, the 20-byte info
 * hash and peer id percent-escaped). 0 (fn runs once, later, unless hc is
 * freed first) or -1, also when a->port is not 1..65535: a client without a
 * port of its own (a silent one) has nothing to announce.
 */
int tr_tracker_announce(struct hc_client *hc, const char *url, const struct tr_announce *a,
			tr_announce_fn fn, void *arg);
/* Cancels, without calling fn, the announces in flight on hc with arg (call it before hc_free). */
void tr_tracker_cancel(struct hc_client *hc, const void *arg);

#endif
