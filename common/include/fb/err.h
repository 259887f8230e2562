/*
 * err.h - the error a decoder or checker hands back: one human-readable line
 * naming the field that failed ("repositories[3].name: longer than 255 bytes").
 */
#ifndef FB_ERR_H
#define FB_ERR_H

#define CM_ERR_MSG 512

struct cm_err {
	char msg[CM_ERR_MSG];
};

/* Writes a formatted message into err (NULL err is allowed and ignored). */
void cm_err_set(struct cm_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
