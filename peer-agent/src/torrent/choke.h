/*
 * choke.h - whom we upload to (BEP 3's tit-for-tat): every TR_CHOKE_INTERVAL_MS
 * the interested peers that gave us the most (leeching) or took the most from
 * us (seeding) get the unchoke slots, and one more, chosen at random among the
 * choked interested ones, is unchoked optimistically for TR_OPTIMISTIC_MS so
 * newcomers get a chance. Pure: peers in, decisions out.
 */
#ifndef TR_CHOKE_H
#define TR_CHOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TR_CHOKE_INTERVAL_MS 10000
#define TR_OPTIMISTIC_MS     30000

struct tr_choke_peer {
	uint64_t id;       /* stable while the session lasts */
	bool interested;   /* in us */
	bool snubbed;      /* sent us nothing for a long while although asked */
	int64_t down_rate; /* bytes/s it sent us */
	int64_t up_rate;   /* bytes/s we sent it */
	bool unchoke;      /* out: the decision */
};

struct tr_choke_state {
	uint64_t optimistic; /* id of the optimistic unchoke; 0: none */
	int64_t optimistic_since_ms;
};

/* Decides every peer's unchoke (out) for this round. */
void tr_choke_run(struct tr_choke_peer *peers, size_t n, bool seeding, int slots, int64_t now_ms,
                  struct tr_choke_state *st, uint64_t *rng);

#endif
