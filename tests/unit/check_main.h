/*
 * check_main.h - a Check suite is its tests and nothing else: every
 * START_TEST registers itself when the program loads, and FB_CHECK_MAIN runs
 * them in file order as one test case with the suite's fixture and timeout.
 * So a new test cannot be written and forgotten in a list.
 *
 * Include it right after <check.h>: it redefines START_TEST (same syntax and
 * body, plus the registration) and adds FB_LOOP_TEST for Check's loop tests.
 */
#ifndef FB_CHECK_MAIN_H
#define FB_CHECK_MAIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#define FB_MAX_TESTS 512

struct fb_test {
	const TTest *test;
	int loop_start, loop_end; /* _i runs from start to end - 1 */
};

struct fb_suite {
	const char *name;
	void (*setup)(void);    /* checked fixture: runs in each test's process */
	void (*teardown)(void);
	double timeout_s;       /* 0: Check's default */
};

static struct fb_test fb_tests[FB_MAX_TESTS];
static size_t fb_ntests;

static inline void
fb_test_register(const TTest *t, int loop_start, int loop_end)
{
	if (fb_ntests == FB_MAX_TESTS) {
		fprintf(stderr, "check_main.h: more than %d tests in %s\n", FB_MAX_TESTS, t->file);
		abort();
	}
	fb_tests[fb_ntests++] = (struct fb_test){t, loop_start, loop_end};
}

#undef START_TEST
#define START_TEST(name) FB_LOOP_TEST(name, 0, 1)

/* A test run once for each _i in [start, end), like tcase_add_loop_test. */
#define FB_LOOP_TEST(name, start, end)                                                           \
	static void name##_fn(int _i CK_ATTRIBUTE_UNUSED);                                       \
	static const TTest name##_ttest = {"" #name, name##_fn, __FILE__, __LINE__};             \
	__attribute__((constructor)) static void name##_register(void)                           \
	{                                                                                        \
		fb_test_register(&name##_ttest, (start), (end));                                 \
	}                                                                                        \
	static void name##_fn(int _i CK_ATTRIBUTE_UNUSED)

static inline int
fb_test_cmp(const void *a, const void *b)
{
	const struct fb_test *x = a, *y = b;

	return (x->test->line > y->test->line) - (x->test->line < y->test->line);
}

/* Runs every registered test; the exit code says whether all passed. */
static inline int
fb_check_run(const struct fb_suite *cfg)
{
	Suite *s = suite_create(cfg->name);
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	qsort(fb_tests, fb_ntests, sizeof(fb_tests[0]), fb_test_cmp);
	if (cfg->setup != NULL || cfg->teardown != NULL)
		tcase_add_checked_fixture(tc, cfg->setup, cfg->teardown);
	if (cfg->timeout_s > 0)
		tcase_set_timeout(tc, cfg->timeout_s);
	for (size_t i = 0; i < fb_ntests; i++)
		_tcase_add_test(tc, fb_tests[i].test, 0, 0, fb_tests[i].loop_start,
				fb_tests[i].loop_end);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

/* The suite's main: FB_CHECK_MAIN(.name = "engine", .setup = setup, .timeout_s = 60). */
#define FB_CHECK_MAIN(...)                                                                       \
	int main(void)                                                                           \
	{                                                                                        \
		static const struct fb_suite fb_suite_ = {__VA_ARGS__};                          \
		return fb_check_run(&fb_suite_);                                                 \
	}

#endif
