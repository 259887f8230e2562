/* tests/fuzz/fuzz.h - checks the harnesses share beside the sanitizers. */
#ifndef FB_FUZZ_H
#define FB_FUZZ_H

#include <stdlib.h>

#include "fb/err.h"

/* A parser that refuses says why: a refusal without a message is a bug. */
static inline void
fuzz_check_refusal(int rc, const struct cm_err *err)
{
	if (rc != 0 && err->msg[0] == '\0')
		abort();
}

#endif
