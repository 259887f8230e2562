/* buf.c - the growing, capped text buffer (see buf.h). */
#include "fb/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
cm_buf_append(char **buf, size_t *len, size_t max, const void *data, size_t n)
{
	char *grown;

	if (n > max || *len > max - n) {
		errno = E2BIG;
		return -1;
	}
	if ((grown = realloc(*buf, *len + n + 1)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	*buf = grown;
	memcpy(grown + *len, data, n);
	*len += n;
	grown[*len] = '\0';
	return 0;
}

int
cm_buf_printf(char **buf, size_t *len, size_t max, const char *fmt, ...)
{
	char line[256], *text = line;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0) {
		errno = EINVAL;
		return -1;
	}
	/* Most pieces fit the line on the stack; a longer one is formatted again. */
	if ((size_t)n >= sizeof(line)) {
		if ((text = malloc((size_t)n + 1)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		va_start(ap, fmt);
		vsnprintf(text, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	rc = cm_buf_append(buf, len, max, text, (size_t)n);
	if (text != line)
		free(text);
	return rc;
}
