/*
 * timeutil.c - clocks and RFC 3339 (UTC, milliseconds) conversion.
 * The calendar arithmetic is Howard Hinnant's days-from-civil, so no libc
 * time zone state is touched.
 */
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "fb/timeutil.h"

#define MS_PER_DAY 86400000LL
/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z */
#define MIN_MS (-62167219200000LL)
#define MAX_MS (253402300799999LL)

int64_t
cm_time_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
cm_time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int
cm_time_format_ms(int64_t ms, char out[CM_RFC3339_LEN + 1])
{
	int64_t days, rem, y;
	int m, d;

	if (ms < MIN_MS || ms > MAX_MS)
		return -1;
	days = ms / MS_PER_DAY;
	rem = ms % MS_PER_DAY;
	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	/* Every field is in range here, so the text is exactly CM_RFC3339_LEN bytes. */
	if (snprintf(out, CM_RFC3339_LEN + 1, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, m, d,
		     (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
		     (int)(rem % 1000)) != CM_RFC3339_LEN)
		return -1;
	return 0;
}

/* Reads n ASCII digits at s; -1 when any is not a digit. */
static int
read_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int
days_in_month(int64_t y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

int
cm_time_parse_ms(const char *s, size_t len, int64_t *out_ms)
{
	int y, mo, d, hh, mi, ss, ms;

	if (s == NULL || len != CM_RFC3339_LEN)
		return -1;
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[19] != '.' || s[23] != 'Z')
		return -1;
	y = read_digits(s, 4);
	mo = read_digits(s + 5, 2);
	d = read_digits(s + 8, 2);
	hh = read_digits(s + 11, 2);
	mi = read_digits(s + 14, 2);
	ss = read_digits(s + 17, 2);
	ms = read_digits(s + 20, 3);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || hh < 0 || hh > 23 || mi < 0 || mi > 59 ||
	    ss < 0 || ss > 59 || ms < 0)
		return -1;
	if (d > days_in_month(y, mo))
		return -1;
	*out_ms = days_from_civil(y, mo, d) * MS_PER_DAY + (int64_t)hh * 3600000 +
		  (int64_t)mi * 60000 + (int64_t)ss * 1000 + ms;
	return 0;
}
