/* check_choke.c - tit-for-tat and the optimistic unchoke. */
#include <check.h>
#include <string.h>

#include "torrent/choke.h"
#include "check_main.h"

static size_t
count_unchoked(const struct tr_choke_peer *p, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += p[i].unchoke;
	return k;
}

static void
peers(struct tr_choke_peer *p, size_t n)
{
	memset(p, 0, n * sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		p[i].id = i + 1;
		p[i].interested = true;
		p[i].down_rate = (int64_t)(i * 1000);
		p[i].up_rate = (int64_t)((n - i) * 1000);
	}
}

START_TEST(test_leeching_unchokes_the_fastest_uploaders_to_us_and_one_more)
{
	struct tr_choke_peer p[10];
	struct tr_choke_state st = {0, 0};
	uint64_t rng = 1;

	peers(p, 10);
	tr_choke_run(p, 10, false, 3, 0, &st, &rng);
	ck_assert(p[9].unchoke && p[8].unchoke && p[7].unchoke);
	ck_assert_uint_eq(count_unchoked(p, 10), 4);
	ck_assert_uint_ne(st.optimistic, 0);
	ck_assert_uint_lt(st.optimistic, 8);
}
END_TEST

START_TEST(test_seeding_unchokes_those_we_upload_to_fastest)
{
	struct tr_choke_peer p[10];
	struct tr_choke_state st = {0, 0};
	uint64_t rng = 1;

	peers(p, 10);
	tr_choke_run(p, 10, true, 3, 0, &st, &rng);
	ck_assert(p[0].unchoke && p[1].unchoke && p[2].unchoke);
}
END_TEST

START_TEST(test_uninterested_peers_stay_choked)
{
	struct tr_choke_peer p[4];
	struct tr_choke_state st = {0, 0};
	uint64_t rng = 1;

	peers(p, 4);
	for (int i = 0; i < 4; i++)
		p[i].interested = false;
	tr_choke_run(p, 4, false, 3, 0, &st, &rng);
	ck_assert_uint_eq(count_unchoked(p, 4), 0);
	ck_assert_uint_eq(st.optimistic, 0);
}
END_TEST

START_TEST(test_optimistic_unchoke_is_kept_for_thirty_seconds_then_rotates)
{
	struct tr_choke_peer p[20];
	struct tr_choke_state st = {0, 0};
	uint64_t rng = 7, first;
	bool changed = false;

	peers(p, 20);
	tr_choke_run(p, 20, false, 2, 0, &st, &rng);
	first = st.optimistic;
	peers(p, 20);
	tr_choke_run(p, 20, false, 2, TR_CHOKE_INTERVAL_MS, &st, &rng);
	ck_assert_uint_eq(st.optimistic, first);
	for (int round = 0; round < 10 && !changed; round++) {
		peers(p, 20);
		tr_choke_run(p, 20, false, 2, TR_OPTIMISTIC_MS * (round + 1), &st, &rng);
		changed = st.optimistic != first;
	}
	ck_assert(changed);
}
END_TEST

START_TEST(test_snubbed_peers_lose_their_slot)
{
	struct tr_choke_peer p[3];
	struct tr_choke_state st = {0, 0};
	uint64_t rng = 1;

	peers(p, 3);
	p[2].snubbed = true;
	tr_choke_run(p, 3, false, 1, 0, &st, &rng);
	ck_assert(p[1].unchoke);
}
END_TEST

FB_CHECK_MAIN(.name = "choke")
