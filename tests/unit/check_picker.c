/* check_picker.c - rarest first, partial pieces first, endgame, block bookkeeping. */
#include <check.h>
#include <string.h>

#include "torrent/picker.h"
#include "torrent/wire.h"
#include "check_main.h"

#define PL (4 * 16384)

static struct tr_picker *
picker(uint32_t pieces)
{
	/* The last piece is short: one block and a half. */
	return tr_picker_new(pieces, PL, (uint64_t)(pieces - 1) * PL + 24576, 64);
}

static void
all(unsigned char *bf, uint32_t n)
{
	memset(bf, 0, (n + 7) / 8);
	for (uint32_t i = 0; i < n; i++)
		tr_bit_set(bf, i);
}

START_TEST(test_rarest_piece_is_picked_first)
{
	struct tr_picker *p = tr_picker_new(8, PL, 8ull * PL, 64);
	unsigned char seed[1], one[1] = {0};
	struct tr_block b[4];
	uint64_t rng = 3;

	all(seed, 8);
	tr_bit_set(one, 5);
	for (int i = 0; i < 3; i++)
		tr_picker_peer_bitfield(p, seed, +1);
	tr_picker_peer_bitfield(p, seed, -1);
	/* Piece 5 is held by three, every other by two but one, which nobody else has. */
	tr_picker_peer_bitfield(p, one, +1);
	tr_picker_peer_bitfield(p, seed, -1);
	tr_picker_peer_have(p, 2);
	ck_assert_uint_eq(tr_picker_pick(p, seed, &rng, NULL, NULL, b, 4), 4);
	ck_assert_uint_ne(b[0].piece, 5);
	ck_assert_uint_ne(b[0].piece, 2);
	ck_assert_uint_eq(b[0].begin, 0);
	ck_assert_uint_eq(b[3].begin, 3 * 16384);
	ck_assert_uint_eq(b[0].piece, b[3].piece);
	tr_picker_free(p);
}
END_TEST

START_TEST(test_ties_are_broken_at_random)
{
	unsigned char seed[2];
	bool seen[16] = {false};
	int distinct = 0;

	all(seed, 16);
	for (uint64_t s = 0; s < 40; s++) {
		struct tr_picker *p = picker(16);
		struct tr_block b;
		uint64_t rng = s;

		tr_picker_peer_bitfield(p, seed, +1);
		tr_picker_pick(p, seed, &rng, NULL, NULL, &b, 1);
		if (!seen[b.piece]) {
			seen[b.piece] = true;
			distinct++;
		}
		tr_picker_free(p);
	}
	ck_assert_int_gt(distinct, 4);
}
END_TEST

START_TEST(test_a_partial_piece_is_finished_before_a_new_one)
{
	struct tr_picker *p = picker(8);
	unsigned char seed[1];
	struct tr_block b[2], c[4];
	uint64_t rng = 1;

	all(seed, 8);
	tr_picker_peer_bitfield(p, seed, +1);
	ck_assert_uint_eq(tr_picker_pick(p, seed, &rng, NULL, NULL, b, 2), 2);
	tr_picker_abort(p, &b[1]);
	ck_assert_uint_eq(tr_picker_pick(p, seed, &rng, NULL, NULL, c, 1), 1);
	ck_assert_uint_eq(c[0].piece, b[0].piece);
	ck_assert_uint_eq(c[0].begin, b[1].begin);
	tr_picker_free(p);
}
END_TEST

START_TEST(test_the_last_piece_has_a_short_last_block)
{
	struct tr_picker *p = picker(1);
	unsigned char seed[1];
	struct tr_block b[4];
	uint64_t rng = 1;

	all(seed, 1);
	ck_assert_uint_eq(tr_picker_pick(p, seed, &rng, NULL, NULL, b, 4), 2);
	ck_assert_uint_eq(b[1].length, 8192);
	tr_picker_free(p);
}
END_TEST

START_TEST(test_received_blocks_complete_a_piece_once)
{
	struct tr_picker *p = picker(2);
	unsigned char seed[1];
	struct tr_block b[8];
	uint64_t rng = 1;
	size_t n;
	int done = 0;

	all(seed, 2);
	n = tr_picker_pick(p, seed, &rng, NULL, NULL, b, 8);
	ck_assert_uint_eq(n, 6);
	for (size_t i = 0; i < n; i++)
		done += tr_picker_received(p, &b[i]) == 1;
	ck_assert_int_eq(done, 2);
	ck_assert_int_eq(tr_picker_received(p, &b[0]), -1);
	tr_picker_set_have(p, 0);
	tr_picker_set_have(p, 1);
	ck_assert(tr_picker_complete(p));
	tr_picker_free(p);
}
END_TEST

START_TEST(test_an_unrequested_block_is_not_wanted)
{
	struct tr_picker *p = picker(2);
	struct tr_block b = {0, 0, 16384};

	ck_assert_int_eq(tr_picker_received(p, &b), -1);
	tr_picker_free(p);
}
END_TEST

static bool
never(void *arg, const struct tr_block *b)
{
	(void)arg;
	(void)b;
	return false;
}

static bool
always(void *arg, const struct tr_block *b)
{
	(void)arg;
	(void)b;
	return true;
}

START_TEST(test_endgame_asks_a_second_peer_for_outstanding_blocks)
{
	struct tr_picker *p = picker(2);
	unsigned char seed[1];
	struct tr_block b[8], d[8];
	uint64_t rng = 1;

	all(seed, 2);
	ck_assert(!tr_picker_endgame(p));
	ck_assert_uint_eq(tr_picker_pick(p, seed, &rng, always, NULL, b, 8), 6);
	ck_assert(tr_picker_endgame(p));
	/* The same peer already has them in flight: nothing more. */
	ck_assert_uint_eq(tr_picker_pick(p, seed, &rng, always, NULL, d, 8), 0);
	ck_assert_uint_eq(tr_picker_pick(p, seed, &rng, never, NULL, d, 8), 6);
	/* Each block at most twice. */
	ck_assert_uint_eq(tr_picker_pick(p, seed, &rng, never, NULL, d, 8), 0);
	tr_picker_free(p);
}
END_TEST

START_TEST(test_a_failed_piece_is_picked_again)
{
	struct tr_picker *p = picker(1);
	unsigned char seed[1];
	struct tr_block b[4];
	uint64_t rng = 1;
	size_t n;

	all(seed, 1);
	n = tr_picker_pick(p, seed, &rng, NULL, NULL, b, 4);
	for (size_t i = 0; i < n; i++)
		tr_picker_received(p, &b[i]);
	tr_picker_piece_failed(p, 0);
	ck_assert_uint_eq(tr_picker_pick(p, seed, &rng, NULL, NULL, b, 4), 2);
	tr_picker_free(p);
}
END_TEST

START_TEST(test_pieces_the_peer_lacks_are_never_picked)
{
	struct tr_picker *p = picker(8);
	unsigned char bf[1] = {0};
	struct tr_block b[40];
	uint64_t rng = 1;
	size_t n;

	tr_bit_set(bf, 6);
	ck_assert(tr_picker_interesting(p, bf));
	n = tr_picker_pick(p, bf, &rng, NULL, NULL, b, 40);
	ck_assert_uint_eq(n, 4);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(b[i].piece, 6);
	tr_picker_set_have(p, 6);
	ck_assert(!tr_picker_interesting(p, bf));
	tr_picker_free(p);
}
END_TEST

START_TEST(test_open_pieces_are_capped)
{
	struct tr_picker *p = tr_picker_new(100, PL, 100ull * PL, 3);
	unsigned char seed[13];
	struct tr_block b[100];
	uint64_t rng = 1;

	all(seed, 100);
	ck_assert_uint_eq(tr_picker_pick(p, seed, &rng, NULL, NULL, b, 100), 12);
	tr_picker_free(p);
}
END_TEST

START_TEST(test_queue_target_follows_the_rate)
{
	ck_assert_uint_eq(tr_picker_queue_target(0), TR_QUEUE_MIN);
	ck_assert_uint_eq(tr_picker_queue_target(1000000), 1000000 * 3 / 16384);
	ck_assert_uint_eq(tr_picker_queue_target(1000000000), TR_QUEUE_MAX);
}
END_TEST

FB_CHECK_MAIN(.name = "picker")
