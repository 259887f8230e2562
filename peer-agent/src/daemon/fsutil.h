/*
 * fsutil.h - pa_append_capped, the capped buffer of the agent's HTTP clients,
 * now cm_buf_append (fb/file.h) under its old name and return codes for the
 * two callers that still use them (bootclient.c, cli/main.c).
 */
#ifndef PA_FSUTIL_H
#define PA_FSUTIL_H

#include <errno.h>
#include <stddef.h>

#include "fb/file.h"

/* cm_buf_append; returns 0, -1 when the result would pass max bytes, -2 when out of memory. */
static inline int
pa_append_capped(char **buf, size_t *len, size_t max, const char *data, size_t n)
{
	if (cm_buf_append(buf, len, max, data, n) == 0)
		return 0;
	return errno == E2BIG ? -1 : -2;
}

#endif
