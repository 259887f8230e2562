/*
 * log.h - timestamped log lines to stderr.
 *
 * Convention: warnings and errors name the function that knows why,
 * log_warnx("%s: bad ttl %d", __func__, ttl).
 */
#ifndef FB_LOG_H
#define FB_LOG_H

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

#define LOG_ENV_LEVEL "FB_LOG_LEVEL"

/* "debug", "info", "warn", "error"; returns -1 for anything else. */
int log_level_parse(const char *s);

/*
 * Sets the level: the flag value when non-NULL, else $FB_LOG_LEVEL, else info.
 * Returns -1 (and keeps the level) when the chosen text is not a level.
 */
int log_init(const char *flag_level);

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
