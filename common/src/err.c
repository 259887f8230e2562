/* err.c - filling struct cm_err. */
#include <stdarg.h>
#include <stdio.h>

#include "fb/err.h"

void
cm_err_set(struct cm_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}
