/* picker.c - rarest first, partial pieces first, endgame (see picker.h). */
#include "torrent/picker.h"

#include <stdlib.h>
#include <string.h>

#include "torrent/wire.h"

#define BLOCK TR_WIRE_MAX_BLOCK

struct partial {
	uint32_t piece;
	uint32_t nblocks;
	uint32_t nreceived;
	uint32_t next; /* blocks before it have all been requested at least once */
	uint8_t *req;  /* requests outstanding per block */
	uint8_t *got;  /* received per block */
};

struct tr_picker {
	uint32_t count, piece_length, last_size, have_count, max_partial;
	uint64_t total;
	unsigned char *have; /* bitfield */
	uint16_t *avail;
	struct partial **part; /* per piece; NULL unless open */
	uint32_t *open;        /* indices of open pieces */
	uint32_t nopen;
	uint32_t untouched; /* missing pieces not open */
	uint32_t *cand;     /* scratch for pick */
};

struct tr_picker *
tr_picker_new(uint32_t piece_count, uint32_t piece_length, uint64_t total_length,
              uint32_t max_partial)
{
	struct tr_picker *p;

	if (piece_count == 0 || piece_length == 0 || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->count = piece_count;
	p->piece_length = piece_length;
	p->total = total_length;
	p->last_size = (uint32_t)(total_length - (uint64_t)(piece_count - 1) * piece_length);
	p->max_partial = max_partial ? max_partial : 1;
	p->untouched = piece_count;
	p->have = calloc((piece_count + 7) / 8, 1);
	p->avail = calloc(piece_count, sizeof(*p->avail));
	p->part = calloc(piece_count, sizeof(*p->part));
	p->open = calloc(piece_count, sizeof(*p->open));
	p->cand = calloc(piece_count, sizeof(*p->cand));
	if (p->have == NULL || p->avail == NULL || p->part == NULL || p->open == NULL ||
	    p->cand == NULL) {
		tr_picker_free(p);
		return NULL;
	}
	return p;
}

static void
partial_free(struct partial *x)
{
	if (x == NULL)
		return;
	free(x->req);
	free(x->got);
	free(x);
}

void
tr_picker_free(struct tr_picker *p)
{
	if (p == NULL)
		return;
	for (uint32_t i = 0; i < p->nopen; i++)
		partial_free(p->part[p->open[i]]);
	free(p->have);
	free(p->avail);
	free(p->part);
	free(p->open);
	free(p->cand);
	free(p);
}

static uint32_t
piece_size(const struct tr_picker *p, uint32_t i)
{
	return i + 1 == p->count ? p->last_size : p->piece_length;
}

static void
close_piece(struct tr_picker *p, uint32_t piece)
{
	for (uint32_t i = 0; i < p->nopen; i++) {
		if (p->open[i] == piece) {
			p->open[i] = p->open[--p->nopen];
			break;
		}
	}
	partial_free(p->part[piece]);
	p->part[piece] = NULL;
}

void
tr_picker_set_have(struct tr_picker *p, uint32_t piece)
{
	if (piece >= p->count || tr_bit_get(p->have, piece))
		return;
	if (p->part[piece] != NULL)
		close_piece(p, piece);
	else
		p->untouched--;
	tr_bit_set(p->have, piece);
	p->have_count++;
}

bool
tr_picker_have(const struct tr_picker *p, uint32_t piece)
{
	return piece < p->count && tr_bit_get(p->have, piece);
}

uint32_t
tr_picker_have_count(const struct tr_picker *p)
{
	return p->have_count;
}

bool
tr_picker_complete(const struct tr_picker *p)
{
	return p->have_count == p->count;
}

const unsigned char *
tr_picker_bitfield(const struct tr_picker *p)
{
	return p->have;
}

void
tr_picker_peer_bitfield(struct tr_picker *p, const unsigned char *bf, int delta)
{
	for (uint32_t i = 0; i < p->count; i++) {
		if (!tr_bit_get(bf, i))
			continue;
		if (delta > 0 && p->avail[i] < UINT16_MAX)
			p->avail[i]++;
		else if (delta < 0 && p->avail[i] > 0)
			p->avail[i]--;
	}
}

void
tr_picker_peer_have(struct tr_picker *p, uint32_t piece)
{
	if (piece < p->count && p->avail[piece] < UINT16_MAX)
		p->avail[piece]++;
}

bool
tr_picker_interesting(const struct tr_picker *p, const unsigned char *bf)
{
	size_t n = (p->count + 7) / 8;

	for (size_t i = 0; i < n; i++)
		if (bf[i] & ~p->have[i])
			return true;
	return false;
}

static struct partial *
open_piece(struct tr_picker *p, uint32_t piece)
{
	struct partial *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->piece = piece;
	x->nblocks = (piece_size(p, piece) + BLOCK - 1) / BLOCK;
	x->req = calloc(x->nblocks, 1);
	x->got = calloc(x->nblocks, 1);
	if (x->req == NULL || x->got == NULL) {
		partial_free(x);
		return NULL;
	}
	p->part[piece] = x;
	p->open[p->nopen++] = piece;
	p->untouched--;
	return x;
}

static void
block_of(const struct tr_picker *p, uint32_t piece, uint32_t b, struct tr_block *out)
{
	uint32_t size = piece_size(p, piece);

	out->piece = piece;
	out->begin = b * BLOCK;
	out->length = size - out->begin < BLOCK ? size - out->begin : BLOCK;
}

/* Takes the never-requested blocks of x, up to room. */
static size_t
take_fresh(struct tr_picker *p, struct partial *x, struct tr_block *out, size_t room)
{
	size_t n = 0;

	while (n < room && x->next < x->nblocks) {
		uint32_t b = x->next++;

		if (x->got[b] || x->req[b])
			continue;
		x->req[b] = 1;
		block_of(p, x->piece, b, &out[n++]);
	}
	return n;
}

/* Open pieces with blocks nobody was asked for (an aborted request resets next). */
static size_t
pick_partial(struct tr_picker *p, const unsigned char *bf, struct tr_block *out, size_t max)
{
	size_t n = 0;

	for (uint32_t i = 0; i < p->nopen && n < max; i++) {
		struct partial *x = p->part[p->open[i]];

		if (x->next < x->nblocks && tr_bit_get(bf, x->piece))
			n += take_fresh(p, x, out + n, max - n);
	}
	return n;
}

/* The untouched pieces the peer has (bf NULL: any) at the lowest availability, shuffled. */
static uint32_t
rarest(struct tr_picker *p, const unsigned char *bf, uint64_t *rng)
{
	uint32_t n = 0, best = UINT32_MAX;

	for (uint32_t i = 0; i < p->count; i++) {
		if (tr_bit_get(p->have, i) || p->part[i] != NULL ||
		    (bf != NULL && !tr_bit_get(bf, i)))
			continue;
		if (p->avail[i] < best) {
			best = p->avail[i];
			n = 0;
		}
		if (p->avail[i] == best)
			p->cand[n++] = i;
	}
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = (uint32_t)(tr_rng_next(rng) % i);
		uint32_t t = p->cand[i - 1];

		p->cand[i - 1] = p->cand[j];
		p->cand[j] = t;
	}
	return n;
}

static size_t
pick_new(struct tr_picker *p, const unsigned char *bf, uint64_t *rng, struct tr_block *out,
         size_t max)
{
	size_t n = 0;

	while (n < max && p->untouched > 0 && p->nopen < p->max_partial) {
		uint32_t nc = rarest(p, bf, rng);

		if (nc == 0)
			break;
		for (uint32_t i = 0; i < nc && n < max && p->nopen < p->max_partial; i++) {
			struct partial *x = open_piece(p, p->cand[i]);

			if (x == NULL)
				return n;
			n += take_fresh(p, x, out + n, max - n);
		}
	}
	return n;
}

static size_t
pick_endgame(struct tr_picker *p, const unsigned char *bf, tr_inflight_fn inflight, void *arg,
             struct tr_block *out, size_t max)
{
	size_t n = 0;

	for (uint32_t i = 0; i < p->nopen && n < max; i++) {
		struct partial *x = p->part[p->open[i]];

		if (!tr_bit_get(bf, x->piece))
			continue;
		for (uint32_t b = 0; b < x->nblocks && n < max; b++) {
			struct tr_block blk;

			if (x->got[b] || x->req[b] >= TR_PICKER_ENDGAME_DUP)
				continue;
			block_of(p, x->piece, b, &blk);
			if (inflight(arg, &blk))
				continue;
			x->req[b]++;
			out[n++] = blk;
		}
	}
	return n;
}

int
tr_picker_reserve(struct tr_picker *p, uint64_t *rng, uint32_t *piece)
{
	struct partial *x;

	if (p->untouched == 0 || p->nopen >= p->max_partial || rarest(p, NULL, rng) == 0 ||
	    (x = open_piece(p, p->cand[0])) == NULL)
		return -1;
	memset(x->req, 1, x->nblocks);
	x->next = x->nblocks;
	*piece = x->piece;
	return 0;
}

bool
tr_picker_endgame(const struct tr_picker *p)
{
	if (p->untouched > 0)
		return false;
	for (uint32_t i = 0; i < p->nopen; i++)
		if (p->part[p->open[i]]->next < p->part[p->open[i]]->nblocks)
			return false;
	return true;
}

size_t
tr_picker_pick(struct tr_picker *p, const unsigned char *bf, uint64_t *rng, tr_inflight_fn inflight,
               void *arg, struct tr_block *out, size_t max)
{
	size_t n = pick_partial(p, bf, out, max);

	if (n < max)
		n += pick_new(p, bf, rng, out + n, max - n);
	if (n < max && inflight != NULL && tr_picker_endgame(p))
		n += pick_endgame(p, bf, inflight, arg, out + n, max - n);
	return n;
}

static struct partial *
partial_of(const struct tr_picker *p, const struct tr_block *b, uint32_t *idx)
{
	struct partial *x;

	if (b->piece >= p->count || (x = p->part[b->piece]) == NULL || b->begin % BLOCK != 0)
		return NULL;
	*idx = b->begin / BLOCK;
	if (*idx >= x->nblocks)
		return NULL;
	return x;
}

bool
tr_picker_block_valid(const struct tr_picker *p, const struct tr_block *b)
{
	struct tr_block want;

	if (b->piece >= p->count || b->begin % BLOCK != 0 || b->begin >= piece_size(p, b->piece))
		return false;
	block_of(p, b->piece, b->begin / BLOCK, &want);
	return want.length == b->length;
}

int
tr_picker_received(struct tr_picker *p, const struct tr_block *b)
{
	uint32_t i;
	struct partial *x = partial_of(p, b, &i);

	if (x == NULL || !tr_picker_block_valid(p, b) || x->got[i] || x->req[i] == 0)
		return -1;
	x->got[i] = 1;
	x->nreceived++;
	return x->nreceived == x->nblocks ? 1 : 0;
}

void
tr_picker_abort(struct tr_picker *p, const struct tr_block *b)
{
	uint32_t i;
	struct partial *x = partial_of(p, b, &i);

	if (x == NULL || x->req[i] == 0)
		return;
	x->req[i]--;
	if (x->req[i] == 0 && !x->got[i] && i < x->next)
		x->next = i;
}

void
tr_picker_piece_failed(struct tr_picker *p, uint32_t piece)
{
	struct partial *x;

	if (piece >= p->count || (x = p->part[piece]) == NULL)
		return;
	memset(x->req, 0, x->nblocks);
	memset(x->got, 0, x->nblocks);
	x->nreceived = 0;
	x->next = 0;
}

uint32_t
tr_picker_queue_target(int64_t rate_bps)
{
	int64_t q = rate_bps * TR_QUEUE_TIME_MS / 1000 / BLOCK;

	if (q < TR_QUEUE_MIN)
		return TR_QUEUE_MIN;
	if (q > TR_QUEUE_MAX)
		return TR_QUEUE_MAX;
	return (uint32_t)q;
}
