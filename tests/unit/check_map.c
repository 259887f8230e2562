/* check_map.c - the one hash map: string and integer keys, growth, deletion, iteration. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/map.h"
#include "check_main.h"

#define MANY 20000

static const struct cm_hash_key key = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};

/* Values that are not NULL and say which key they belong to. */
#define VAL(i) ((void *)(uintptr_t)((i) + 1))

static char names[MANY][24];

static void
make_names(void)
{
	for (int i = 0; i < MANY; i++)
		snprintf(names[i], sizeof(names[i]), "peer%d@example.com", i);
}

START_TEST(test_map_finds_what_was_put_and_nothing_else)
{
	struct cm_map *m = cm_map_new(CM_MAP_STR, &key);

	ck_assert_int_eq(cm_map_put(m, "a@example.com", VAL(1)), 0);
	ck_assert_ptr_eq(cm_map_get(m, "a@example.com"), VAL(1));
	ck_assert_ptr_null(cm_map_get(m, "b@example.com"));
	ck_assert_uint_eq(cm_map_len(m), 1);
	cm_map_free(m);
}
END_TEST

START_TEST(test_map_put_replaces_the_value_of_a_present_key)
{
	struct cm_map *m = cm_map_new(CM_MAP_STR, &key);

	ck_assert_int_eq(cm_map_put(m, "a", VAL(1)), 0);
	ck_assert_int_eq(cm_map_put(m, "a", VAL(2)), 0);
	ck_assert_ptr_eq(cm_map_get(m, "a"), VAL(2));
	ck_assert_uint_eq(cm_map_len(m), 1);
	cm_map_free(m);
}
END_TEST

START_TEST(test_map_grows_and_keeps_every_key)
{
	struct cm_map *m = cm_map_new(CM_MAP_STR, &key);

	make_names();
	for (int i = 0; i < MANY; i++)
		ck_assert_int_eq(cm_map_put(m, names[i], VAL(i)), 0);
	ck_assert_uint_eq(cm_map_len(m), MANY);
	for (int i = 0; i < MANY; i++)
		ck_assert_ptr_eq(cm_map_get(m, names[i]), VAL(i));
	ck_assert_ptr_null(cm_map_get(m, "nobody@example.com"));
	cm_map_free(m);
}
END_TEST

START_TEST(test_map_delete_keeps_every_other_key_reachable)
{
	struct cm_map *m = cm_map_new(CM_MAP_STR, &key);

	make_names();
	for (int i = 0; i < MANY; i++)
		cm_map_put(m, names[i], VAL(i));
	/* Every third key goes: backward shifts must not cut any probe chain. */
	for (int i = 0; i < MANY; i += 3)
		ck_assert_ptr_eq(cm_map_del(m, names[i]), VAL(i));
	ck_assert_ptr_null(cm_map_del(m, names[0]));
	for (int i = 0; i < MANY; i++)
		ck_assert_ptr_eq(cm_map_get(m, names[i]), i % 3 == 0 ? NULL : VAL(i));
	ck_assert_uint_eq(cm_map_len(m), MANY - (MANY + 2) / 3);
	cm_map_free(m);
}
END_TEST

START_TEST(test_map_u64_keys_grow_and_delete)
{
	struct cm_map *m = cm_map_new(CM_MAP_U64, &key);

	for (uint64_t i = 0; i < MANY; i++)
		ck_assert_int_eq(cm_map_put_u64(m, i << 32 | (i * 7), VAL(i)), 0);
	for (uint64_t i = 0; i < MANY; i += 2)
		ck_assert_ptr_eq(cm_map_del_u64(m, i << 32 | (i * 7)), VAL(i));
	for (uint64_t i = 0; i < MANY; i++)
		ck_assert_ptr_eq(cm_map_get_u64(m, i << 32 | (i * 7)), i % 2 == 0 ? NULL : VAL(i));
	ck_assert_uint_eq(cm_map_len(m), MANY / 2);
	cm_map_free(m);
}
END_TEST

START_TEST(test_map_next_visits_every_value_once)
{
	struct cm_map *m = cm_map_new(CM_MAP_STR, &key);
	static unsigned char seen[MANY];
	size_t cursor = 0, n = 0;
	void *v;

	make_names();
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < MANY; i++)
		cm_map_put(m, names[i], VAL(i));
	while ((v = cm_map_next(m, &cursor)) != NULL) {
		size_t i = (uintptr_t)v - 1;

		ck_assert_uint_lt(i, MANY);
		ck_assert_uint_eq(seen[i]++, 0);
		n++;
	}
	ck_assert_uint_eq(n, MANY);
	cm_map_free(m);
}
END_TEST

START_TEST(test_map_free_accepts_null)
{
	cm_map_free(NULL);
}
END_TEST

FB_CHECK_MAIN(.name = "map")
