/* check_timeutil.c - RFC 3339 (UTC, milliseconds) conversion and the clocks. */
#include <check.h>
#include <string.h>

#include "fb/timeutil.h"
#include "check_main.h"

static int
parse(const char *s, int64_t *ms)
{
	return cm_time_parse_ms(s, strlen(s), ms);
}

START_TEST(test_time_format_ms_epoch_and_known_instant)
{
	char buf[CM_RFC3339_LEN + 1];

	ck_assert_int_eq(cm_time_format_ms(0, buf), 0);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
	ck_assert_int_eq(cm_time_format_ms(1764000000123LL, buf), 0);
	ck_assert_str_eq(buf, "2025-11-24T16:00:00.123Z");
	ck_assert_int_eq(cm_time_format_ms(-1, buf), 0);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(test_time_format_ms_rejects_out_of_range_years)
{
	char buf[CM_RFC3339_LEN + 1];

	ck_assert_int_eq(cm_time_format_ms(253402300799999LL, buf), 0);
	ck_assert_str_eq(buf, "9999-12-31T23:59:59.999Z");
	ck_assert_int_eq(cm_time_format_ms(253402300800000LL, buf), -1);
	ck_assert_int_eq(cm_time_format_ms(INT64_MIN, buf), -1);
}
END_TEST

START_TEST(test_time_parse_ms_round_trips_every_day_of_leap_year)
{
	char buf[CM_RFC3339_LEN + 1];
	int64_t start = 951782400000LL; /* 2000-02-29T00:00:00.000Z */
	int64_t back;

	ck_assert_int_eq(parse("2000-02-29T00:00:00.000Z", &back), 0);
	ck_assert_int_eq(back, start);
	for (int64_t d = -400; d < 400; d++) {
		int64_t ms = start + d * 86400000LL + d * 3723 % 86400000LL;
		ck_assert_int_eq(cm_time_format_ms(ms, buf), 0);
		ck_assert_int_eq(parse(buf, &back), 0);
		ck_assert_int_eq(back, ms);
	}
}
END_TEST

START_TEST(test_time_parse_ms_rejects_other_forms)
{
	static const char *bad[] = {
		"2025-11-24T16:00:00Z",          "2025-11-24T16:00:00.12Z",
		"2025-11-24T16:00:00.1234Z",     "2025-11-24T16:00:00.123+01:00",
		"2025-11-24t16:00:00.123z",      "2025-11-24 16:00:00.123Z",
		"2025-02-29T00:00:00.000Z",      "2100-02-29T00:00:00.000Z",
		"2025-04-31T00:00:00.000Z",      "2025-13-01T00:00:00.000Z",
		"2025-11-24T24:00:00.000Z",      "2025-11-24T23:60:00.000Z",
		"2025-12-31T23:59:60.000Z",      "+025-11-24T16:00:00.123Z",
		"2025-11-24T16:00:00.123Z ",     ""};
	int64_t ms;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], &ms) == -1, "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_time_wall_ms_is_after_2025_and_mono_never_goes_back)
{
	int64_t a = cm_time_mono_ms(), b = cm_time_mono_ms();

	ck_assert_int_gt(cm_time_wall_ms(), 1735689600000LL);
	ck_assert_int_ge(b, a);
}
END_TEST

FB_CHECK_MAIN(.name = "timeutil")
