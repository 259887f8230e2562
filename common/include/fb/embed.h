/*
 * embed.h - files compiled into a binary by tools/embed-files.sh: the
 * bootstrap server's SQL migrations, the agent's web page.
 */
#ifndef FB_EMBED_H
#define FB_EMBED_H

#include <stddef.h>

struct cm_embedded {
	const char *name; /* path under the folder embedded: "001_init.sql", "app.js" */
	const char *data; /* the bytes, NUL-terminated */
	size_t len;       /* without the NUL */
};

#endif
