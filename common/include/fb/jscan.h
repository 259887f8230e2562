/*
 * jscan.h - a look at a JSON document without building it. cm_jscan checks
 * the whole text against what the codec's parser (cm_json_parse: Jansson,
 * duplicate keys rejected) accepts, and reports the values of a few members
 * named by their path, with no allocation and a fixed depth. Where it cannot
 * be sure (a real number, an escaped key, deeper than CM_JSCAN_MAX_DEPTH,
 * more than CM_JSCAN_MAX_KEYS members in one object) it says no, and the
 * caller parses the document the full way: a yes is always exact.
 */
#ifndef FB_JSCAN_H
#define FB_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CM_JSCAN_MAX_DEPTH 32 /* nesting of objects and arrays */
#define CM_JSCAN_MAX_KEYS 64  /* members of one object, checked for duplicates */
#define CM_JSCAN_MAX_WANTS 8  /* paths asked for in one scan */
#define CM_JSCAN_MAX_PATH 6   /* keys in one path */

enum cm_jscan_kind {
	CM_JSCAN_ABSENT,
	CM_JSCAN_STRING,
	CM_JSCAN_INTEGER,
	CM_JSCAN_OTHER /* an object, an array, true, false or null */
};

struct cm_jscan_value {
	enum cm_jscan_kind kind;
	/* A string's bytes between its quotes, as written: escapes undone only when !escaped. */
	const char *text;
	size_t len;
	bool escaped;
	int64_t integer; /* CM_JSCAN_INTEGER */
};

/*
 * Scans len bytes of buf, which must be one JSON object. paths[i] names a
 * member by its keys joined with '.' ("payload.origin.record.email"; no
 * path through an array); values[i] receives what is there (kind ABSENT when
 * nothing is). Returns 0 when cm_json_parse would accept the text and every
 * value is the one it would hold, -1 otherwise (n over CM_JSCAN_MAX_WANTS or
 * a path over CM_JSCAN_MAX_PATH keys included).
 */
int cm_jscan(const char *buf, size_t len, const char *const *paths, struct cm_jscan_value *values,
	     size_t n);

#endif
