/*
 * log.c - leveled, timestamped log lines on stderr. One line per call, written
 * with a single fprintf so lines from threads do not interleave mid-line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/log.h"
#include "fb/timeutil.h"

static enum log_level current_level = LOG_LVL_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

int
log_level_parse(const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

int
log_init(const char *flag_level)
{
	const char *text = flag_level != NULL ? flag_level : getenv(LOG_ENV_LEVEL);
	int lvl;

	if (text == NULL || *text == '\0')
		return 0;
	if ((lvl = log_level_parse(text)) < 0)
		return -1;
	current_level = (enum log_level)lvl;
	return 0;
}

void
log_set_level(enum log_level lvl)
{
	current_level = lvl;
}

enum log_level
log_get_level(void)
{
	return current_level;
}

static void
log_vwrite(enum log_level lvl, const char *fmt, va_list ap)
{
	char ts[CM_RFC3339_LEN + 1], msg[2048];

	if (lvl < current_level)
		return;
	if (cm_time_format_ms(cm_time_wall_ms(), ts) != 0)
		snprintf(ts, sizeof(ts), "?");
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "%s %-5s %s\n", ts, level_names[lvl], msg);
}

#define LOG_FN(name, lvl)                                                                          \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_vwrite(lvl, fmt, ap);                                                          \
		va_end(ap);                                                                        \
	}

LOG_FN(log_debug, LOG_LVL_DEBUG)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_warnx, LOG_LVL_WARN)
LOG_FN(log_errx, LOG_LVL_ERROR)
