/*
 * timeutil.h - clocks for the I/O shell, and RFC 3339 conversion for everyone.
 * Pure code never calls the clocks: it takes now_ms as an argument.
 */
#ifndef FB_TIMEUTIL_H
#define FB_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define CM_RFC3339_LEN 24 /* "YYYY-MM-DDTHH:MM:SS.mmmZ", without the NUL */

/* Wall clock, milliseconds since the Unix epoch. */
int64_t cm_time_wall_ms(void);

/* Monotonic clock in milliseconds, for intervals and deadlines only. */
int64_t cm_time_mono_ms(void);

/*
 * Formats ms (years 0000..9999) as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out
 * (CM_RFC3339_LEN + 1 bytes). Returns 0, or -1 when ms is out of that range.
 */
int cm_time_format_ms(int64_t ms, char out[CM_RFC3339_LEN + 1]);

/*
 * Parses exactly the form cm_time_format_ms writes (UTC 'Z', three fraction
 * digits, real calendar dates, no leap second). Returns 0 or -1.
 */
int cm_time_parse_ms(const char *s, size_t len, int64_t *out_ms);

#endif
