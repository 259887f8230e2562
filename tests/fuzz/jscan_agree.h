/*
 * tests/fuzz/jscan_agree.h - does cm_jscan agree with the codec's parser on
 * one text? Shared by the fuzz harness and check_jscan.c. When the scan says
 * yes, cm_json_parse must accept the text and hold the same value at every
 * path; when the parser refuses, the scan must not say yes.
 */
#ifndef FB_JSCAN_AGREE_H
#define FB_JSCAN_AGREE_H

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "fb/codec.h"
#include "fb/jscan.h"

/* The paths both are asked about: an envelope's, and short ones fuzzing finds. */
static const char *const jscan_agree_paths[] = {
	"id", "type", "payload.origin.record.email", "payload.origin.record.seq",
	"payload.origin.public_certificate", "a", "a.b", "",
};
#define JSCAN_AGREE_NPATHS (sizeof(jscan_agree_paths) / sizeof(jscan_agree_paths[0]))

/* The member of j at path (keys joined with '.'), or NULL. */
static inline json_t *
jscan_agree_get(json_t *j, const char *path)
{
	char key[64];

	for (const char *k = path;;) {
		const char *dot = strchr(k, '.');
		size_t len = dot != NULL ? (size_t)(dot - k) : strlen(k);

		if (len >= sizeof(key) || !json_is_object(j))
			return NULL;
		memcpy(key, k, len);
		key[len] = '\0';
		if ((j = json_object_get(j, key)) == NULL || dot == NULL)
			return j;
		k = dot + 1;
	}
}

static inline bool
jscan_agree_value(const struct cm_jscan_value *v, json_t *j)
{
	switch (v->kind) {
	case CM_JSCAN_ABSENT:
		return j == NULL;
	case CM_JSCAN_STRING:
		return json_is_string(j) && (v->escaped || (json_string_length(j) == v->len &&
							    memcmp(json_string_value(j), v->text,
								   v->len) == 0));
	case CM_JSCAN_INTEGER:
		return json_is_integer(j) && json_integer_value(j) == v->integer;
	case CM_JSCAN_OTHER:
		return json_is_object(j) || json_is_array(j) || json_is_boolean(j) || json_is_null(j);
	}
	return false;
}

/* True when the two agree on buf (len bytes); *scanned: the scan said yes. */
static inline bool
jscan_agree(const char *buf, size_t len, bool *scanned)
{
	struct cm_jscan_value vals[JSCAN_AGREE_NPATHS];
	struct cm_err err;
	json_t *j = cm_json_parse(buf, len, SIZE_MAX, &err);
	bool ok = true;

	*scanned = cm_jscan(buf, len, jscan_agree_paths, vals, JSCAN_AGREE_NPATHS) == 0;
	if (*scanned) {
		ok = j != NULL;
		for (size_t i = 0; ok && i < JSCAN_AGREE_NPATHS; i++)
			ok = jscan_agree_value(&vals[i], jscan_agree_get(j, jscan_agree_paths[i]));
	}
	json_decref(j);
	return ok;
}

#endif
