/* check_score.c - the one peer score, in C and in SQL. */
#include <check.h>
#include <stdlib.h>

#include "fb/score.h"
#include "check_main.h"

START_TEST(test_score_weighs_availability_60_and_performance_40)
{
	ck_assert_double_eq_tol(cm_score(100, 0), 60.0, 1e-9);
	ck_assert_double_eq_tol(cm_score(0, 100), 40.0, 1e-9);
	ck_assert_double_eq_tol(cm_score(99, 71.5), 0.6 * 99 + 0.4 * 71.5, 1e-9);
}
END_TEST

START_TEST(test_score_sql_has_the_same_weights)
{
	ck_assert_str_eq(CM_SCORE_SQL("a", "p"), "0.6 * a + 0.4 * p");
}
END_TEST

FB_CHECK_MAIN(.name = "score")
