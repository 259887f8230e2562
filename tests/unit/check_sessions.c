/* check_sessions.c - the daemon's session map: lookups by id across growth and removals. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sessions.h"
#include "check_main.h"

static const struct cm_hash_key test_key = {3, 4};

START_TEST(test_sessions_add_then_get_finds_the_record)
{
	struct sessions *m = sessions_new(&test_key);
	struct link *l;

	ck_assert_ptr_nonnull(m);
	l = sessions_add(m, 7, NULL, "a@example.com", true);
	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_eq(sessions_get(m, 7), l);
	ck_assert_str_eq(l->email, "a@example.com");
	ck_assert(l->outbound);
	ck_assert_ptr_null(sessions_get(m, 8));
	ck_assert_uint_eq(sessions_count(m), 1);
	sessions_free(m);
}
END_TEST

START_TEST(test_sessions_survive_growth_and_removals)
{
	struct sessions *m = sessions_new(&test_key);
	size_t cursor = 0, seen = 0;

	for (uint64_t id = 1; id <= 1000; id++)
		ck_assert_ptr_nonnull(sessions_add(m, id, NULL, NULL, false));
	for (uint64_t id = 1; id <= 1000; id += 2)
		sessions_remove(m, id);
	ck_assert_uint_eq(sessions_count(m), 500);
	for (uint64_t id = 1; id <= 1000; id++) {
		struct link *l = sessions_get(m, id);

		if (id % 2 == 1)
			ck_assert_ptr_null(l);
		else
			ck_assert_uint_eq(l->id, id);
	}
	while (sessions_next(m, &cursor) != NULL)
		seen++;
	ck_assert_uint_eq(seen, 500);
	sessions_free(m);
}
END_TEST

START_TEST(test_sessions_remove_unknown_id_changes_nothing)
{
	struct sessions *m = sessions_new(&test_key);

	sessions_add(m, 1, NULL, NULL, false);
	sessions_remove(m, 2);
	ck_assert_uint_eq(sessions_count(m), 1);
	ck_assert_ptr_nonnull(sessions_get(m, 1));
	sessions_free(m);
	sessions_free(NULL);
}
END_TEST

FB_CHECK_MAIN(.name = "sessions")
