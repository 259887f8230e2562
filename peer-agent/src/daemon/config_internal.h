/*
 * config_internal.h - what config.c (agent.ini) and home.c (the rest of DIR)
 * share and nothing else needs.
 */
#ifndef PA_CONFIG_INTERNAL_H
#define PA_CONFIG_INTERNAL_H

#include <stddef.h>

#include "fb/err.h"

/*
 * Reads a whole regular file of at most max_bytes into a new NUL-terminated
 * string the caller frees; NULL with err set (a NUL byte inside is refused).
 */
char *pa_config_read_text(const char *path, size_t max_bytes, struct cm_err *err);

/*
 * agent.ini as init writes it: every key commented out with its default, but
 * the email. A new string the caller frees; NULL when out of memory.
 */
char *pa_config_ini_text(const char *email);

#endif
