/*
 * picker.h - which blocks to ask a peer for: piece availability, rarest
 * first with random ties, partial pieces finished before new ones are
 * opened, and endgame (the last outstanding blocks asked of more than one
 * peer, the duplicates cancelled when one arrives). Pure: the randomness is
 * a state the caller seeds; data buffers are the caller's.
 */
#ifndef TR_PICKER_H
#define TR_PICKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TR_PICKER_ENDGAME_DUP 2  /* requests of one block at once in endgame */
#define TR_QUEUE_MIN          64 /* blocks in flight to one peer, whatever its rate */
#define TR_QUEUE_MAX          250
#define TR_QUEUE_TIME_MS      3000 /* the queue holds this long of the peer's rate (libtorrent) */

struct tr_picker;

struct tr_block {
	uint32_t piece, begin, length;
};

/* splitmix64: the pure code's random numbers, from a state the caller seeds. */
static inline uint64_t
tr_rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A picker for a torrent of piece_count pieces; max_partial caps pieces open at once. */
struct tr_picker *tr_picker_new(uint32_t piece_count, uint32_t piece_length, uint64_t total_length,
                                uint32_t max_partial);
void tr_picker_free(struct tr_picker *p);

/* A piece verified (or found on disk): never picked again. */
void tr_picker_set_have(struct tr_picker *p, uint32_t piece);
bool tr_picker_have(const struct tr_picker *p, uint32_t piece);
uint32_t tr_picker_have_count(const struct tr_picker *p);
bool tr_picker_complete(const struct tr_picker *p);
/* Our bitfield (BEP 3 layout), (piece_count + 7) / 8 bytes. */
const unsigned char *tr_picker_bitfield(const struct tr_picker *p);

/* Availability: a peer's bitfield counted in (+1) or out (-1), or one have. */
void tr_picker_peer_bitfield(struct tr_picker *p, const unsigned char *bf, int delta);
void tr_picker_peer_have(struct tr_picker *p, uint32_t piece);

/* Whether the peer with bitfield bf has a piece we lack. */
bool tr_picker_interesting(const struct tr_picker *p, const unsigned char *bf);

/* Tells pick whether this peer has block b in flight already (endgame skips those). */
typedef bool (*tr_inflight_fn)(void *arg, const struct tr_block *b);

/*
 * Up to max blocks to request of the peer with bitfield bf, written to out;
 * returns how many. Each is counted as requested until received or aborted.
 * Endgame duplicates are only picked with inflight (NULL: none).
 */
size_t tr_picker_pick(struct tr_picker *p, const unsigned char *bf, uint64_t *rng,
                      tr_inflight_fn inflight, void *arg, struct tr_block *out, size_t max);
/*
 * Reserves a whole untouched piece (rarest first) for a source that fetches
 * pieces, not blocks (a web seed): its blocks count as requested. 0 and
 * *piece, or -1 when none is left. tr_picker_piece_failed gives it back.
 */
int tr_picker_reserve(struct tr_picker *p, uint64_t *rng, uint32_t *piece);
/* Whether every missing block has been requested (duplicates are then allowed). */
bool tr_picker_endgame(const struct tr_picker *p);

/*
 * A block arrived: 1 when it completed its piece (every block received: verify
 * it now), 0 when more are due, -1 when it was not wanted (not requested,
 * already received, a piece we have): drop the data.
 */
int tr_picker_received(struct tr_picker *p, const struct tr_block *b);
/* A request that will not be answered (choked, cancelled, peer gone). */
void tr_picker_abort(struct tr_picker *p, const struct tr_block *b);
/* The piece's hash failed: all its blocks are missing again. */
void tr_picker_piece_failed(struct tr_picker *p, uint32_t piece);
/* Whether b is a block of the torrent as pick would cut it. */
bool tr_picker_block_valid(const struct tr_picker *p, const struct tr_block *b);

/* Blocks to keep in flight to a peer sending rate_bps bytes/s. */
uint32_t tr_picker_queue_target(int64_t rate_bps);

#endif
