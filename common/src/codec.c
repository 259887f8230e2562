/*
 * codec.c - the codec's engine: one strict decoder, one encoder and one
 * release that walk the field tables (codec_table.h) of codec_wire.c and
 * codec_agent.c; the JSON text helpers; the tables' introspection.
 *
 * The decoder walks the document with a path ("payload.origin.record.port")
 * so each error names the field that failed. It checks every length against
 * fb/limits.h before copying anything, and ignores fields it does not know.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_table.h"
#include "fb/codec.h"
#include "fb/timeutil.h"
#include "fb/validate.h"

/* Sets "path.key: message" (or "path: message" when key is NULL) and returns -1. */
int
cm_codec_fail(struct dctx *c, const char *key, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key == NULL)
		cm_err_set(c->err, "%s: %s", c->len ? c->path : "document", msg);
	else
		cm_err_set(c->err, "%s%s%s: %s", c->path, c->len ? "." : "", key, msg);
	return -1;
}

#define fail cm_codec_fail

/* Appends ".key" or "[i]" to the path; returns the old length for path_pop. */
static size_t
path_push(struct dctx *c, const char *key, size_t i)
{
	size_t old = c->len;
	int n;

	if (key != NULL)
		n = snprintf(c->path + c->len, sizeof(c->path) - c->len, "%s%s",
			     c->len ? "." : "", key);
	else
		n = snprintf(c->path + c->len, sizeof(c->path) - c->len, "[%zu]", i);
	if (n > 0)
		c->len = strnlen(c->path, sizeof(c->path) - 1);
	return old;
}

static void
path_pop(struct dctx *c, size_t old)
{
	c->len = old;
	c->path[old] = '\0';
}

static const char *
json_type_name(const json_t *v)
{
	if (v == NULL)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/* Standard alphabet, padded, non-empty. */
static bool
valid_base64(const char *s, size_t len)
{
	size_t pad = 0;

	if (len == 0 || len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (ch == '=') {
			if (i < len - 2)
				return false;
			pad++;
		} else if (pad > 0 || !(isalnum((unsigned char)ch) || ch == '+' || ch == '/')) {
			return false;
		}
	}
	return true;
}

/* Checks one string's text (s, len bytes, NUL after them) against its kind and cap. */
static int
check_text(struct dctx *c, const char *key, const char *s, size_t len, size_t max_len,
	   enum cm_str_kind kind)
{
	if (len > max_len)
		return fail(c, key, "longer than %zu bytes", max_len);
	switch (kind) {
	case STR_ANY:
		return 0;
	case STR_EMAIL:
		return cm_valid_email(s, len) ? 0 : fail(c, key, "not a valid email address");
	case STR_UUID:
		return cm_valid_uuid(s, len) ? 0 : fail(c, key, "not a UUID");
	case STR_IP:
		return cm_valid_ip(s, len) ? 0 : fail(c, key, "not a usable IPv4 or IPv6 address");
	case STR_FINGERPRINT:
		return cm_valid_fingerprint(s, len)
			       ? 0
			       : fail(c, key, "not a SHA-256 fingerprint (64 lower-case hex digits)");
	case STR_BASE64:
		return valid_base64(s, len) ? 0 : fail(c, key, "not base64");
	case STR_INFO_HASH:
		return cm_valid_hex_digest(s, len, CM_INFO_HASH_LEN)
			       ? 0
			       : fail(c, key, "not an info hash (40 lower-case hex digits)");
	case STR_SHA256:
		return cm_valid_hex_digest(s, len, CM_SHA256_HEX_LEN)
			       ? 0
			       : fail(c, key, "not a SHA-256 (64 lower-case hex digits)");
	case STR_TORRENT_NAME:
		return cm_valid_torrent_name(s, len)
			       ? 0
			       : fail(c, key, "not a valid torrent name (1-%d bytes, no control "
					      "characters)",
				      CM_MAX_TORRENT_NAME);
	case STR_REPO:
		return cm_valid_repo_name(s, len)
			       ? 0
			       : fail(c, key, "not a valid repository name (1-%d bytes, no control "
					      "characters or ',')",
				      CM_MAX_REPO_NAME);
	}
	return 0;
}

/* Checks one string value against its kind and cap; key NULL: the path names it. */
int
cm_codec_check_string(struct dctx *c, const char *key, const json_t *v, size_t max_len,
	     enum cm_str_kind kind)
{
	if (!json_is_string(v))
		return fail(c, key, "expected a string, got %s", json_type_name(v));
	return check_text(c, key, json_string_value(v), json_string_length(v), max_len, kind);
}

static int64_t
load_int(const void *p, size_t width)
{
	return width == sizeof(int64_t) ? *(const int64_t *)p : *(const int *)p;
}

static void
store_int(void *p, size_t width, int64_t v)
{
	if (width == sizeof(int64_t))
		*(int64_t *)p = v;
	else
		*(int *)p = (int)v;
}

/* The {items, len} shape every list type shares. */
struct anylist {
	void *items;
	size_t len;
};

static void
set_defaults(const struct cm_type *t, void *base)
{
	for (size_t i = 0; i < t->nfields; i++) {
		const struct cm_field *f = &t->fields[i];

		if (!(f->flags & F_DEFAULT))
			continue;
		if (f->kind == CK_BOOL)
			*(bool *)((char *)base + f->off) = f->dflt != 0;
		else
			store_int((char *)base + f->off, f->width, f->dflt);
	}
}

static int decode_value(struct dctx *c, const struct cm_field *f, const json_t *v, void *base,
			bool lax);

static int
decode_object(struct dctx *c, const struct cm_type *t, const json_t *j, void *base, bool lax)
{
	if (j == NULL || !json_is_object(j))
		return fail(c, NULL, "expected an object, got %s", json_type_name(j));
	if (t->pre != NULL && t->pre(c, j) != 0)
		return -1;
	set_defaults(t, base);
	/* Two passes only for tables with F_FIRST fields: their values steer later rules. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < t->nfields; i++) {
			const struct cm_field *f = &t->fields[i];

			if ((f->flags & (F_ENCODE_ONLY | F_INTERNAL)) ||
			    ((f->flags & F_FIRST) != 0) != (pass == 0))
				continue;
			if (decode_value(c, f, f->kind == CK_EMBED ? j : json_object_get(j, f->name),
					 base, lax) != 0)
				return -1;
		}
	}
	return t->check != NULL ? t->check(c, j, base) : 0;
}

/* A JSON array into a {items, len} list of f->sub objects, or of strings for CK_STRLIST. */
static int
decode_array(struct dctx *c, const struct cm_field *f, const json_t *v, struct anylist *l)
{
	size_t elem = f->kind == CK_STRLIST ? sizeof(char *) : f->sub->size;
	const json_t *item;
	size_t i;

	if (!json_is_array(v))
		return fail(c, NULL, "expected an array, got %s", json_type_name(v));
	if (json_array_size(v) > (size_t)f->max)
		return fail(c, NULL, "more than %zu entries", (size_t)f->max);
	if ((l->items = calloc(json_array_size(v) + 1, elem)) == NULL)
		return fail(c, NULL, "out of memory");
	json_array_foreach(v, i, item)
	{
		size_t mark = path_push(c, NULL, i);
		char *slot = (char *)l->items + i * elem;
		int rc;

		/* Count the entry first so a half-filled one is released with the rest. */
		l->len = i + 1;
		if (f->kind == CK_STRLIST) {
			rc = cm_codec_check_string(c, NULL, item, f->item_max, f->skind);
			if (rc == 0 && (*(char **)slot = strdup(json_string_value(item))) == NULL)
				rc = fail(c, NULL, "out of memory");
		} else {
			rc = decode_object(c, f->sub, item, slot, (f->flags & F_LAX) != 0);
		}
		if (rc != 0)
			return -1;
		path_pop(c, mark);
	}
	return 0;
}

/* An enum's name s (its length checked) into p. */
static int
enum_of(struct dctx *c, const struct cm_field *f, const char *s, void *p)
{
	for (int i = (int)f->min; i <= (int)f->max; i++) {
		if (f->name_of(i) != NULL && strcmp(f->name_of(i), s) == 0) {
			*(int *)p = i;
			return 0;
		}
	}
	return fail(c, f->name, "unknown value \"%.64s\"", s);
}

static int
decode_enum(struct dctx *c, const struct cm_field *f, const json_t *v, void *p)
{
	if (cm_codec_check_string(c, f->name, v, 64, STR_ANY) != 0)
		return -1;
	return enum_of(c, f, json_string_value(v), p);
}

/* An integer n of a CK_INT or CK_VERSION member into p. */
static int
int_of(struct dctx *c, const struct cm_field *f, int64_t n, void *p)
{
	if (f->kind == CK_VERSION && n != CM_PROTOCOL_VERSION)
		return fail(c, f->name, "unsupported protocol version %lld (this peer speaks %d)",
			    (long long)n, CM_PROTOCOL_VERSION);
	if (n < f->min || n > f->max)
		return fail(c, f->name, "out of range %lld..%lld", (long long)f->min,
			    (long long)f->max);
	store_int(p, f->width, n);
	return 0;
}

static int
decode_nested(struct dctx *c, const struct cm_field *f, const json_t *v, void *base)
{
	const struct cm_type *sub = f->kind == CK_UNION ? f->pick(base) : f->sub;
	size_t mark = path_push(c, f->name, 0);
	int rc;

	if (f->kind == CK_UNION && sub == NULL)
		rc = fail(c, NULL, "unknown message type");
	else if (f->kind == CK_OBJECT || f->kind == CK_UNION)
		rc = decode_object(c, sub, v, (char *)base + f->off, (f->flags & F_LAX) != 0);
	else
		rc = decode_array(c, f, v, (struct anylist *)((char *)base + f->off));
	path_pop(c, mark);
	return rc;
}

/* A {name: count} object or an [n, ...] array into its list. */
static int
decode_numbers(struct dctx *c, const struct cm_field *f, const json_t *v, void *p)
{
	bool map = f->kind == CK_COUNTERS;
	size_t n = map ? json_object_size(v) : json_array_size(v), i = 0, mark;
	struct cm_counterlist *cl = p;
	struct cm_intlist *il = p;
	const char *key;
	json_t *item;
	int rc = 0;

	if (map ? !json_is_object(v) : !json_is_array(v))
		return fail(c, f->name, "expected %s, got %s", map ? "an object" : "an array",
			    json_type_name(v));
	if (n > f->item_max)
		return fail(c, f->name, "more than %zu entries", f->item_max);
	if (map ? (cl->items = calloc(n + 1, sizeof(*cl->items))) == NULL
		: (il->items = calloc(n + 1, sizeof(*il->items))) == NULL)
		return fail(c, f->name, "out of memory");
	mark = path_push(c, f->name, 0);
	for (void *it = map ? json_object_iter((json_t *)v) : NULL; rc == 0 && i < n; i++) {
		key = map ? json_object_iter_key(it) : NULL;
		item = map ? json_object_iter_value(it) : json_array_get(v, i);
		if (!json_is_integer(item))
			rc = fail(c, key, "expected an integer, got %s", json_type_name(item));
		else if (json_integer_value(item) < f->min || json_integer_value(item) > f->max)
			rc = fail(c, key, "out of range %lld..%lld", (long long)f->min,
				  (long long)f->max);
		else if (!map)
			il->items[il->len++] = json_integer_value(item);
		else if ((cl->items[i].name = strdup(key)) == NULL)
			rc = fail(c, key, "out of memory");
		else
			cl->items[cl->len++].count = json_integer_value(item);
		if (map)
			it = json_object_iter_next((json_t *)v, it);
	}
	path_pop(c, mark);
	return rc;
}

static bool
field_required(const struct cm_field *f, const void *base, bool lax)
{
	if (f->req_if != NULL)
		return f->req_if(base);
	if (lax && (f->flags & F_LAXABLE))
		return false;
	return (f->flags & (F_REQ | F_LAXABLE)) != 0;
}

/* What a scalar kind needs that v is not ("an integer"), or NULL when v will do. */
static const char *
scalar_mismatch(enum cm_kind kind, const json_t *v)
{
	switch (kind) {
	case CK_VERSION:
	case CK_INT:
		return json_is_integer(v) ? NULL : "an integer";
	case CK_BOOL:
		return json_is_boolean(v) ? NULL : "a boolean";
	case CK_TIME:
		return json_is_string(v) ? NULL : "a string";
	case CK_REAL:
	case CK_SCORE:
		return json_is_number(v) ? NULL : "a number";
	default:
		return NULL;
	}
}

/* One member's value v (NULL: absent) into base + f->off. */
static int
decode_value(struct dctx *c, const struct cm_field *f, const json_t *v, void *base, bool lax)
{
	void *p = (char *)base + f->off;
	const char *want;
	double d;

	if (f->kind == CK_EMBED)
		return decode_object(c, f->sub, v, p, false);
	if (v == NULL || ((f->flags & F_NULLABLE) && json_is_null(v))) {
		if (v == NULL && field_required(f, base, lax))
			return fail(c, f->name, "missing");
		if (f->kind == CK_OBJECT)
			set_defaults(f->sub, p);
		return 0;
	}
	if ((want = scalar_mismatch(f->kind, v)) != NULL)
		return fail(c, f->name, "expected %s, got %s", want, json_type_name(v));
	switch (f->kind) {
	case CK_STRING:
		if (cm_codec_check_string(c, f->name, v, (size_t)f->max, f->skind) != 0)
			return -1;
		if ((*(char **)p = strdup(json_string_value(v))) == NULL)
			return fail(c, f->name, "out of memory");
		break;
	case CK_VERSION:
	case CK_INT:
		if (int_of(c, f, json_integer_value(v), p) != 0)
			return -1;
		break;
	case CK_BOOL:
		*(bool *)p = json_is_true(v);
		break;
	case CK_TIME:
		if (cm_time_parse_ms(json_string_value(v), json_string_length(v), (int64_t *)p) != 0)
			return fail(c, f->name, "not an RFC 3339 UTC time with milliseconds "
						"(YYYY-MM-DDTHH:MM:SS.mmmZ)");
		break;
	case CK_REAL:
	case CK_SCORE:
		d = json_number_value(v);
		if (f->kind == CK_SCORE && !(d >= 0.0 && d <= 100.0))
			return fail(c, f->name, "out of range 0..100");
		*(double *)p = d;
		break;
	case CK_ENUM:
		if (decode_enum(c, f, v, p) != 0)
			return -1;
		break;
	case CK_JSON:
		*(json_t **)p = json_incref((json_t *)v);
		break;
	case CK_COUNTERS:
	case CK_INTLIST:
		if (decode_numbers(c, f, v, p) != 0)
			return -1;
		break;
	default:
		if (decode_nested(c, f, v, base) != 0)
			return -1;
	}
	if (f->flags & F_HAS)
		*(bool *)((char *)base + f->has_off) = true;
	return 0;
}

/* decode_value's rules for a scanned scalar (codec_table.h): one check of each, shared. */
int
cm_codec_decode_scanned(struct dctx *c, const struct cm_field *f, const struct cm_jscan_value *v,
			void *p, size_t cap)
{
	char text[CM_JSCAN_MAX_STRING + 1];
	bool is_string = f->kind == CK_STRING || f->kind == CK_ENUM || f->kind == CK_TIME;

	if (v->kind == CM_JSCAN_ABSENT)
		return fail(c, f->name, "missing");
	if (is_string ? v->kind != CM_JSCAN_STRING || v->escaped || v->len > CM_JSCAN_MAX_STRING
		      : v->kind != CM_JSCAN_INTEGER)
		return fail(c, f->name, "not read by a scan");
	if (is_string) {
		memcpy(text, v->text, v->len);
		text[v->len] = '\0';
	}
	switch (f->kind) {
	case CK_STRING:
		if (check_text(c, f->name, text, v->len, (size_t)f->max, f->skind) != 0)
			return -1;
		if (v->len >= cap)
			return fail(c, f->name, "longer than its buffer");
		memcpy(p, text, v->len + 1);
		return 0;
	case CK_ENUM:
		if (check_text(c, f->name, text, v->len, 64, STR_ANY) != 0)
			return -1;
		return enum_of(c, f, text, p);
	case CK_TIME:
		return cm_time_parse_ms(text, v->len, (int64_t *)p) == 0
			       ? 0
			       : fail(c, f->name, "not an RFC 3339 time");
	case CK_VERSION:
	case CK_INT:
		return int_of(c, f, v->integer, p);
	default:
		return fail(c, f->name, "not read by a scan");
	}
}

static void clear_object(const struct cm_type *t, void *base);

static void
clear_value(const struct cm_field *f, void *base)
{
	void *p = (char *)base + f->off;
	struct anylist *l = p;
	const struct cm_type *sub;

	switch (f->kind) {
	case CK_STRING:
		free(*(char **)p);
		*(char **)p = NULL;
		break;
	case CK_JSON:
		json_decref(*(json_t **)p);
		*(json_t **)p = NULL;
		break;
	case CK_STRLIST:
		cm_strlist_clear(p);
		break;
	case CK_COUNTERS:
		for (size_t i = 0; i < l->len; i++)
			free(((struct cm_counter *)l->items)[i].name);
		/* fall through */
	case CK_INTLIST:
		free(l->items);
		l->items = NULL;
		l->len = 0;
		break;
	case CK_ARRAY:
		for (size_t i = 0; i < l->len; i++)
			clear_object(f->sub, (char *)l->items + i * f->sub->size);
		free(l->items);
		l->items = NULL;
		l->len = 0;
		break;
	case CK_OBJECT:
	case CK_EMBED:
	case CK_UNION:
		if ((sub = f->kind == CK_UNION ? f->pick(base) : f->sub) != NULL)
			clear_object(sub, p);
		break;
	default:
		break;
	}
}

static void
clear_object(const struct cm_type *t, void *base)
{
	for (size_t i = 0; i < t->nfields; i++)
		clear_value(&t->fields[i], base);
}

void
cm_codec_clear(const struct cm_field *doc, void *obj)
{
	clear_value(doc, obj);
	memset(obj, 0, doc->width);
}

int
cm_codec_decode(const struct cm_field *doc, const json_t *j, void *out, struct cm_err *err)
{
	struct dctx c = {.err = err, .path = "", .len = 0};
	int rc;

	memset(out, 0, doc->width);
	if (doc->kind == CK_ARRAY)
		rc = j == NULL ? fail(&c, NULL, "expected an array, got nothing")
			       : decode_array(&c, doc, j, out);
	else
		rc = decode_object(&c, doc->sub, j, out, false);
	if (rc != 0)
		cm_codec_clear(doc, out);
	return rc;
}

int
cm_codec_decode_text(const struct cm_field *doc, const char *buf, size_t len, size_t limit_bytes,
		     void *out, struct cm_err *err)
{
	json_t *j;
	int rc;

	memset(out, 0, doc->width);
	if ((j = cm_json_parse(buf, len, limit_bytes, err)) == NULL)
		return -1;
	rc = cm_codec_decode(doc, j, out, err);
	json_decref(j);
	return rc;
}

/*
 * Encoding. set() adds a member and records an allocation failure in *ok, so
 * each encoder checks once at the end instead of after every member.
 */
static void
set(json_t *obj, const char *key, json_t *v, bool *ok)
{
	if (v == NULL || obj == NULL || json_object_set_new(obj, key, v) != 0)
		*ok = false;
}

static json_t *
finish(json_t *obj, bool ok)
{
	if (!ok) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *
time_json(int64_t ms)
{
	char buf[CM_RFC3339_LEN + 1];

	if (cm_time_format_ms(ms, buf) != 0)
		return NULL;
	return json_string(buf);
}


static json_t *
encode_array(const struct cm_field *f, const struct anylist *l)
{
	json_t *arr = json_array();
	bool ok = arr != NULL;

	for (size_t i = 0; i < l->len && ok; i++) {
		const char *item = (const char *)l->items + i * (f->sub ? f->sub->size : 0);
		json_t *v = f->kind == CK_STRLIST ? json_string(((char **)l->items)[i])
						  : cm_codec_encode_object(f->sub, item, NULL);
		if (v == NULL || json_array_append_new(arr, v) != 0)
			ok = false;
	}
	return finish(arr, ok);
}

static json_t *
encode_numbers(const struct cm_field *f, const void *p)
{
	const struct cm_counterlist *cl = p;
	const struct cm_intlist *il = p;
	json_t *o = f->kind == CK_COUNTERS ? json_object() : json_array();
	bool ok = o != NULL;

	for (size_t i = 0; ok && f->kind == CK_COUNTERS && i < cl->len; i++)
		set(o, cl->items[i].name, json_integer(cl->items[i].count), &ok);
	for (size_t i = 0; ok && f->kind == CK_INTLIST && i < il->len; i++)
		if (json_array_append_new(o, json_integer(il->items[i])) != 0)
			ok = false;
	return finish(o, ok);
}

/* The JSON of one member; payload (when not NULL) stands in for a CK_UNION's. */
static json_t *
encode_value(const struct cm_field *f, const void *base, json_t *payload)
{
	const void *p = (const char *)base + f->off;
	const struct cm_type *sub;
	const char *s;

	if (f->enc != NULL)
		return f->enc(base);
	switch (f->kind) {
	case CK_STRING:
		s = *(char *const *)p;
		if (s == NULL && f->dflt_str != NULL)
			s = f->dflt_str;
		return s == NULL && (f->flags & F_WRITE_NULL) ? json_null() : json_string(s);
	case CK_INT:
		return json_integer(load_int(p, f->width));
	case CK_VERSION:
		return json_integer(CM_PROTOCOL_VERSION);
	case CK_BOOL:
		return json_boolean(*(const bool *)p);
	case CK_TIME:
		return time_json(*(const int64_t *)p);
	case CK_REAL:
	case CK_SCORE:
		return json_real(*(const double *)p);
	case CK_ENUM:
		s = f->name_of(*(const int *)p);
		return s != NULL ? json_string(s) : NULL;
	case CK_JSON:
		return json_incref(*(json_t *const *)p);
	case CK_STRLIST:
	case CK_ARRAY:
		return encode_array(f, p);
	case CK_COUNTERS:
	case CK_INTLIST:
		return encode_numbers(f, p);
	case CK_UNION:
		if (payload != NULL)
			return json_incref(payload);
		sub = f->pick(base);
		return sub != NULL ? cm_codec_encode_object(sub, p, NULL) : NULL;
	default:
		return cm_codec_encode_object(f->sub, p, NULL);
	}
}

/* Whether f is left out of the JSON of base; *null: written as null instead. */
static bool
omitted(const struct cm_field *f, const void *base, bool *null)
{
	const void *p = (const char *)base + f->off;

	*null = false;
	if (f->flags & F_INTERNAL)
		return true;
	if (f->enc_if != NULL && !f->enc_if(base))
		return true;
	if ((f->flags & F_HAS) && !*(const bool *)((const char *)base + f->has_off)) {
		*null = (f->flags & F_NULLABLE) != 0;
		return !*null;
	}
	if ((f->flags & F_OMIT_ZERO) && load_int(p, f->width) == 0)
		return true;
	return f->kind == CK_STRING && *(char *const *)p == NULL && f->dflt_str == NULL &&
	       !(f->flags & (F_REQ | F_WRITE_NULL));
}

static void
encode_fields(const struct cm_type *t, const void *base, json_t *o, json_t *payload, bool *ok)
{
	for (size_t i = 0; i < t->nfields && *ok; i++) {
		const struct cm_field *f = &t->fields[i];
		bool null;

		if (omitted(f, base, &null))
			continue;
		if (f->kind == CK_EMBED)
			encode_fields(f->sub, (const char *)base + f->off, o, NULL, ok);
		else
			set(o, f->name, null ? json_null() : encode_value(f, base, payload), ok);
	}
}

json_t *
cm_codec_encode_object(const struct cm_type *t, const void *base, json_t *payload)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	encode_fields(t, base, o, payload, &ok);
	return finish(o, ok);
}

json_t *
cm_codec_encode(const struct cm_field *doc, const void *obj)
{
	if (doc->kind == CK_ARRAY)
		return encode_array(doc, obj);
	return cm_codec_encode_object(doc->sub, obj, NULL);
}

json_t *
cm_json_parse(const char *buf, size_t len, size_t limit_bytes, struct cm_err *err)
{
	json_error_t jerr;
	json_t *j;

	if (len > limit_bytes) {
		cm_err_set(err, "document: larger than %zu bytes", limit_bytes);
		return NULL;
	}
	if ((j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		cm_err_set(err, "document: invalid JSON at line %d column %d: %s", jerr.line,
			   jerr.column, jerr.text);
	return j;
}

char *
cm_json_dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT);
}

char *
cm_json_dump_take(json_t *j, size_t *len)
{
	char *s = j != NULL ? cm_json_dump(j) : NULL;

	json_decref(j);
	if (s != NULL && len != NULL)
		*len = strlen(s);
	return s;
}

/* True when no real number appears anywhere under j. */
static bool
integers_only(const json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	switch (json_typeof(j)) {
	case JSON_REAL:
		return false;
	case JSON_OBJECT:
		json_object_foreach((json_t *)j, key, v)
		{
			if (!integers_only(v))
				return false;
		}
		return true;
	case JSON_ARRAY:
		json_array_foreach(j, i, v)
		{
			if (!integers_only(v))
				return false;
		}
		return true;
	default:
		return true;
	}
}

char *
cm_json_canonical(const json_t *j, struct cm_err *err)
{
	char *s;

	if (j == NULL || !integers_only(j)) {
		cm_err_set(err, "canonical JSON allows integers only");
		return NULL;
	}
	if ((s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		cm_err_set(err, "out of memory");
	return s;
}

/*
 * Introspection: the tables as JSON, so a test can hold each one to its
 * schema in proto/ without a second copy of the field lists.
 */

static const char *const kind_names[] = {
	[CK_STRING] = "string", [CK_INT] = "integer",   [CK_BOOL] = "boolean",
	[CK_TIME] = "time",     [CK_SCORE] = "score", [CK_REAL] = "number",   [CK_ENUM] = "enum",
	[CK_STRLIST] = "strlist", [CK_OBJECT] = "object", [CK_EMBED] = "embed",
	[CK_ARRAY] = "array",   [CK_UNION] = "union",   [CK_VERSION] = "version",
	[CK_JSON] = "json",     [CK_COUNTERS] = "counters", [CK_INTLIST] = "intlist",
};

static const char *const str_kind_names[] = {
	[STR_ANY] = "any",   [STR_EMAIL] = "email", [STR_UUID] = "uuid",
	[STR_IP] = "ip",     [STR_REPO] = "repository-name", [STR_FINGERPRINT] = "fingerprint",
	[STR_BASE64] = "base64", [STR_INFO_HASH] = "info-hash", [STR_SHA256] = "sha256",
	[STR_TORRENT_NAME] = "torrent-name",
};

static const char *
field_required_name(const struct cm_field *f)
{
	if (f->req_if != NULL)
		return "conditional";
	if (f->flags & F_LAXABLE)
		return "laxable";
	if (f->flags & F_ENCODE_ONLY)
		return "written";
	return (f->flags & F_REQ) ? "required" : "optional";
}

static json_t *
field_json(const struct cm_field *f)
{
	json_t *o = json_object(), *values;
	bool ok = true;

	set(o, "name", json_string(f->name), &ok);
	set(o, "kind", json_string(kind_names[f->kind]), &ok);
	set(o, "required", json_string(field_required_name(f)), &ok);
	set(o, "nullable", json_boolean(f->flags & F_NULLABLE), &ok);
	set(o, "lax", json_boolean(f->flags & F_LAX), &ok);
	if (f->kind == CK_INT || f->kind == CK_COUNTERS || f->kind == CK_INTLIST) {
		set(o, "min", json_integer(f->min), &ok);
		set(o, "max", json_integer(f->max), &ok);
	}
	if (f->kind == CK_STRING || f->kind == CK_STRLIST)
		set(o, "format", json_string(str_kind_names[f->skind]), &ok);
	if (f->kind == CK_STRING)
		set(o, "max_length", json_integer(f->max), &ok);
	if (f->kind == CK_STRLIST) {
		set(o, "max_entries", json_integer(f->max), &ok);
		set(o, "item_max_length", json_integer((json_int_t)f->item_max), &ok);
	}
	if (f->kind == CK_ARRAY)
		set(o, "max_entries", json_integer(f->max), &ok);
	if (f->kind == CK_COUNTERS || f->kind == CK_INTLIST)
		set(o, "max_entries", json_integer((json_int_t)f->item_max), &ok);
	if (f->sub != NULL)
		set(o, "type", json_string(f->sub->name), &ok);
	if (f->kind == CK_ENUM) {
		set(o, "values", values = json_array(), &ok);
		for (int i = (int)f->min; ok && i <= (int)f->max; i++)
			if (json_array_append_new(values, json_string(f->name_of(i))) != 0)
				ok = false;
	}
	return finish(o, ok);
}

static json_t *
type_json(const struct cm_type *t)
{
	json_t *o = json_object(), *fields = json_array();
	bool ok = fields != NULL;

	set(o, "name", json_string(t->name), &ok);
	set(o, "schema", t->schema != NULL ? json_string(t->schema) : json_null(), &ok);
	set(o, "fields", fields, &ok);
	for (size_t i = 0; ok && i < t->nfields; i++) {
		json_t *f;

		if (t->fields[i].flags & F_INTERNAL)
			continue;
		if ((f = field_json(&t->fields[i])) == NULL || json_array_append_new(fields, f) != 0)
			ok = false;
	}
	return finish(o, ok);
}

static int
add_types(json_t *arr, const struct cm_type *const *types, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, type_json(types[i])) != 0)
			return -1;
	return 0;
}

json_t *
cm_codec_tables(void)
{
	json_t *arr = json_array();

	if (arr == NULL || add_types(arr, cm_wire_types, cm_wire_ntypes) != 0 ||
	    add_types(arr, cm_agent_types, cm_agent_ntypes) != 0 ||
	    add_types(arr, cm_relay_types, cm_relay_ntypes) != 0) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}
