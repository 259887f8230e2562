/*
 * codec.c - JSON encode and strict decode of every wire type (Jansson),
 * driven by one field table per type (codec_table.h).
 *
 * The decoder walks the document with a path ("payload.origin.record.port")
 * so each error names the field that failed. It checks every length against
 * fb/limits.h before copying anything, and ignores fields it does not know.
 * Rules a table cannot say (a signed record's size cap and canonical text,
 * the payload chosen by the message type, the privacy rule that a silent
 * record carries no addresses) are the small hooks next to their tables.
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

/* Checks one string value against its kind and cap; key NULL: the path names it. */
static int
check_string(struct dctx *c, const char *key, const json_t *v, size_t max_len,
	     enum cm_str_kind kind)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	if (!json_is_string(v))
		return fail(c, key, "expected a string, got %s", json_type_name(v));
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
	case STR_REPO:
		return cm_valid_repo_name(s, len)
			       ? 0
			       : fail(c, key, "not a valid repository name (1-%d bytes, no control "
					      "characters or ',')",
				      CM_MAX_REPO_NAME);
	}
	return 0;
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
			rc = check_string(c, NULL, item, f->item_max, f->skind);
			if (rc == 0 && (*(char **)slot = strdup(json_string_value(item))) == NULL)
				rc = fail(c, NULL, "out of memory");
		} else {
			rc = decode_object(c, f->sub, item, slot, false);
		}
		if (rc != 0)
			return -1;
		path_pop(c, mark);
	}
	return 0;
}

static int
decode_enum(struct dctx *c, const struct cm_field *f, const json_t *v, void *p)
{
	const char *s = json_string_value(v);

	if (check_string(c, f->name, v, 64, STR_ANY) != 0)
		return -1;
	for (int i = (int)f->min; i <= (int)f->max; i++) {
		if (f->name_of(i) != NULL && strcmp(f->name_of(i), s) == 0) {
			*(int *)p = i;
			return 0;
		}
	}
	return fail(c, f->name, "unknown value \"%.64s\"", s);
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

/* One member's value v (NULL: absent) into base + f->off. */
static int
decode_value(struct dctx *c, const struct cm_field *f, const json_t *v, void *base, bool lax)
{
	void *p = (char *)base + f->off;
	int64_t n;
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
	switch (f->kind) {
	case CK_STRING:
		if (check_string(c, f->name, v, (size_t)f->max, f->skind) != 0)
			return -1;
		if ((*(char **)p = strdup(json_string_value(v))) == NULL)
			return fail(c, f->name, "out of memory");
		break;
	case CK_VERSION:
	case CK_INT:
		if (!json_is_integer(v))
			return fail(c, f->name, "expected an integer, got %s", json_type_name(v));
		n = json_integer_value(v);
		if (f->kind == CK_VERSION && n != CM_PROTOCOL_VERSION)
			return fail(c, f->name, "unsupported protocol version %lld (this peer speaks %d)",
				    (long long)n, CM_PROTOCOL_VERSION);
		if (n < f->min || n > f->max)
			return fail(c, f->name, "out of range %lld..%lld", (long long)f->min,
				    (long long)f->max);
		store_int(p, f->width, n);
		break;
	case CK_BOOL:
		if (!json_is_boolean(v))
			return fail(c, f->name, "expected a boolean, got %s", json_type_name(v));
		*(bool *)p = json_is_true(v);
		break;
	case CK_TIME:
		if (!json_is_string(v))
			return fail(c, f->name, "expected a string, got %s", json_type_name(v));
		if (cm_time_parse_ms(json_string_value(v), json_string_length(v), (int64_t *)p) != 0)
			return fail(c, f->name, "not an RFC 3339 UTC time with milliseconds "
						"(YYYY-MM-DDTHH:MM:SS.mmmZ)");
		break;
	case CK_REAL:
	case CK_SCORE:
		if (!json_is_number(v))
			return fail(c, f->name, "expected a number, got %s", json_type_name(v));
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

static json_t *encode_object(const struct cm_type *t, const void *base, json_t *payload);

static json_t *
encode_array(const struct cm_field *f, const struct anylist *l)
{
	json_t *arr = json_array();
	bool ok = arr != NULL;

	for (size_t i = 0; i < l->len && ok; i++) {
		json_t *v = f->kind == CK_STRLIST
				    ? json_string(((char **)l->items)[i])
				    : encode_object(f->sub, (char *)l->items + i * f->sub->size, NULL);
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
		return sub != NULL ? encode_object(sub, p, NULL) : NULL;
	default:
		return encode_object(f->sub, p, NULL);
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

static json_t *
encode_object(const struct cm_type *t, const void *base, json_t *payload)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	encode_fields(t, base, o, payload, &ok);
	return finish(o, ok);
}

json_t *
cm_codec_encode(const struct cm_field *doc, const void *obj)
{
	return doc->kind == CK_ARRAY ? encode_array(doc, obj) : encode_object(doc->sub, obj, NULL);
}

/* Enum names as the tables want them: int in, wire name out. */
#define NAME_OF(fn, name_fn, E)                                                                \
	static const char *fn(int v) { return name_fn((E)v); }
NAME_OF(status_name, cm_peer_status_name, enum cm_peer_status)
NAME_OF(state_name, cm_peer_state_name, enum cm_peer_state)
NAME_OF(source_name, cm_peer_source_name, enum cm_peer_source)
NAME_OF(msg_type_name, cm_msg_type_name, enum cm_msg_type)

static const struct cm_field repository_fields[] = {
	STR(struct cm_repository, "name", name, F_REQ, CM_MAX_REPO_NAME, STR_REPO),
	STR(struct cm_repository, "description", description, 0, CM_MAX_DESCRIPTION, STR_ANY),
};
TYPE(cm_repository_type, "repository", "common.schema.json#/$defs/repository",
     struct cm_repository, repository_fields);

/* Required in a signed record; in a registration (F_LAX) each may be left out. */
static const struct cm_field capabilities_fields[] = {
	{.name = "max_peers", .kind = CK_INT, .flags = F_LAXABLE | F_DEFAULT,
	 CM_MEMBER(struct cm_capabilities, max_peers), .min = 1, .max = CM_MAX_MAX_PEERS,
	 .dflt = CM_CAPABILITIES_DEFAULT_MAX_PEERS},
	BOOL(struct cm_capabilities, "supports_torrent", supports_torrent, F_LAXABLE),
	INT(struct cm_capabilities, "bandwidth_estimate", bandwidth_estimate, F_LAXABLE, 0,
	    CM_MAX_SAFE_INTEGER),
};
static TYPE(capabilities_type, "capabilities", "common.schema.json#/$defs/capabilities",
     struct cm_capabilities, capabilities_fields);

static bool
register_broadcasting(const void *base)
{
	return ((const struct cm_register_request *)base)->is_broadcasting;
}

static int
register_request_check(struct dctx *c, const json_t *j, void *obj)
{
	const struct cm_register_request *r = obj;

	(void)j;
	if (!r->is_broadcasting && r->socket_addresses.len > 0)
		return fail(c, "socket_addresses", "must be empty when is_broadcasting is false");
	return 0;
}

/* Encoded in this order; email, peer_id and is_broadcasting are read first. */
static const struct cm_field register_request_fields[] = {
	STR(struct cm_register_request, "email", email, F_REQ | F_FIRST, CM_MAX_EMAIL, STR_EMAIL),
	PEER_ID(struct cm_register_request, peer_id, F_FIRST),
	ADDRESSES(struct cm_register_request, 0),
	{.name = "port", .kind = CK_INT, .flags = F_OMIT_ZERO,
	 CM_MEMBER(struct cm_register_request, port), .min = 1, .max = 65535,
	 .req_if = register_broadcasting},
	REPOSITORIES(struct cm_register_request),
	{.name = "is_broadcasting", .kind = CK_BOOL, .flags = F_FIRST | F_DEFAULT,
	 CM_MEMBER(struct cm_register_request, is_broadcasting), .dflt = 1},
	{.name = "capabilities", .kind = CK_OBJECT, .flags = F_LAX | F_HAS,
	 CM_MEMBER(struct cm_register_request, capabilities), .sub = &capabilities_type,
	 .has_off = offsetof(struct cm_register_request, has_capabilities)},
};
static TYPE(register_request_type, "register-request", "register-request.schema.json",
     struct cm_register_request, register_request_fields, .check = register_request_check);

static bool
bootstrap_peer_has_addresses(const void *base)
{
	return ((const struct cm_bootstrap_peer *)base)->socket_addresses.len > 0;
}

/* In discover answers performance_score is always written: null until feedback exists. */
static bool
bootstrap_peer_scored(const void *base)
{
	const struct cm_bootstrap_peer *p = base;

	return p->has_availability_score || p->has_performance_score;
}

static const struct cm_field bootstrap_peer_fields[] = {
	EMAIL(struct cm_bootstrap_peer, email),
	PEER_ID(struct cm_bootstrap_peer, peer_id, F_REQ),
	ADDRESSES(struct cm_bootstrap_peer, F_REQ),
	{.name = "port", .kind = CK_INT, .flags = F_OMIT_ZERO,
	 CM_MEMBER(struct cm_bootstrap_peer, port), .min = 1, .max = 65535,
	 .req_if = bootstrap_peer_has_addresses},
	REPOSITORIES(struct cm_bootstrap_peer),
	CERT(struct cm_bootstrap_peer, F_REQ),
	{.name = "availability_score", .kind = CK_SCORE, .flags = F_HAS,
	 CM_MEMBER(struct cm_bootstrap_peer, availability_score),
	 .has_off = offsetof(struct cm_bootstrap_peer, has_availability_score)},
	{.name = "performance_score", .kind = CK_SCORE, .flags = F_HAS | F_NULLABLE,
	 CM_MEMBER(struct cm_bootstrap_peer, performance_score),
	 .has_off = offsetof(struct cm_bootstrap_peer, has_performance_score),
	 .enc_if = bootstrap_peer_scored},
};
static TYPE(bootstrap_peer_type, "bootstrap-peer", "bootstrap-peer.schema.json",
     struct cm_bootstrap_peer, bootstrap_peer_fields);

static const struct cm_field register_response_fields[] = {
	{.name = "status", .kind = CK_STRING, .flags = F_REQ,
	 CM_MEMBER(struct cm_register_response, status), .max = 64, .dflt_str = "registered"},
	PEER_ID(struct cm_register_response, peer_id, F_REQ),
	TIME(struct cm_register_response, "expires_at", expires_at_ms, F_REQ),
	INT(struct cm_register_response, "heartbeat_interval_s", heartbeat_interval_s, F_REQ, 1,
	    CM_MAX_HEARTBEAT_INTERVAL_S),
	{.name = "bootstrap_peers", .kind = CK_ARRAY, .flags = F_REQ,
	 CM_MEMBER(struct cm_register_response, bootstrap_peers), .sub = &bootstrap_peer_type,
	 .max = CM_MAX_BOOTSTRAP_PEERS},
};
/* The status check runs before the rest: a wrong status is the first thing said. */
static int
register_response_pre(struct dctx *c, const json_t *j)
{
	const json_t *s = json_object_get(j, "status");

	if (s == NULL)
		return fail(c, "status", "missing");
	if (check_string(c, "status", s, 64, STR_ANY) != 0)
		return -1;
	if (strcmp(json_string_value(s), "registered") != 0)
		return fail(c, "status", "expected \"registered\"");
	return 0;
}
static TYPE(register_response_type, "register-response", "register-response.schema.json",
     struct cm_register_response, register_response_fields, .pre = register_response_pre);

static const struct cm_field heartbeat_request_fields[] = {
	EMAIL(struct cm_heartbeat_request, email),
};
static TYPE(heartbeat_request_type, "heartbeat-request", "heartbeat-request.schema.json",
     struct cm_heartbeat_request, heartbeat_request_fields);

static const struct cm_field feedback_request_fields[] = {
	EMAIL(struct cm_feedback_request, email),
	INT(struct cm_feedback_request, "latency_ms", latency_ms, F_REQ, 0, CM_MAX_LATENCY_MS),
};
static TYPE(feedback_request_type, "feedback-request", "feedback-request.schema.json",
     struct cm_feedback_request, feedback_request_fields);

static const struct cm_field admin_registration_fields[] = {
	{.name = "peer", .kind = CK_EMBED, CM_MEMBER(struct cm_admin_registration, peer),
	 .sub = &bootstrap_peer_type},
	STR(struct cm_admin_registration, "fingerprint", fingerprint, F_REQ, CM_FINGERPRINT_LEN,
	    STR_FINGERPRINT),
	BOOL(struct cm_admin_registration, "is_broadcasting", is_broadcasting, F_REQ),
	ENUM(struct cm_admin_registration, "state", state, F_REQ, status_name, CM_PEER_ONLINE,
	     CM_PEER_STALE),
	TIME(struct cm_admin_registration, "registered_at", registered_at_ms, F_REQ),
	TIME(struct cm_admin_registration, "last_heartbeat", last_heartbeat_ms, F_REQ),
	TIME(struct cm_admin_registration, "expires_at", expires_at_ms, F_REQ),
};
static TYPE(admin_registration_type, "admin-registration", "admin-registrations.schema.json#/items",
     struct cm_admin_registration, admin_registration_fields);

/* The POST body is {fingerprint, note?}: added_at is the server's, never read. */
static const struct cm_field whitelist_entry_fields[] = {
	STR(struct cm_whitelist_entry, "fingerprint", fingerprint, F_REQ, CM_FINGERPRINT_LEN,
	    STR_FINGERPRINT),
	STR(struct cm_whitelist_entry, "note", note, 0, CM_MAX_NOTE, STR_ANY),
	TIME(struct cm_whitelist_entry, "added_at", added_at_ms, F_ENCODE_ONLY),
};
static TYPE(whitelist_entry_type, "whitelist-entry", "whitelist.schema.json#/$defs/entry",
     struct cm_whitelist_entry, whitelist_entry_fields);

static bool
record_broadcasting(const void *base)
{
	return ((const struct cm_peer_record *)base)->is_broadcasting;
}

/* The sharing rule: a silent peer's record never carries addresses (enc_if). */
static const struct cm_field peer_record_fields[] = {
	EMAIL(struct cm_peer_record, email),
	PEER_ID(struct cm_peer_record, peer_id, F_REQ),
	COUNT(struct cm_peer_record, "seq", seq),
	TIME(struct cm_peer_record, "issued_at", issued_at_ms, F_REQ),
	BOOL(struct cm_peer_record, "is_broadcasting", is_broadcasting, F_REQ),
	BOOL(struct cm_peer_record, "is_bootstrap", is_bootstrap, F_REQ),
	BOOL(struct cm_peer_record, "leaving", leaving, F_REQ),
	{.name = "socket_addresses", .kind = CK_STRLIST,
	 CM_MEMBER(struct cm_peer_record, socket_addresses), .max = CM_MAX_SOCKET_ADDRESSES,
	 .item_max = CM_MAX_ADDRESS, .skind = STR_IP, .enc_if = record_broadcasting},
	{.name = "port", .kind = CK_INT, .flags = F_OMIT_ZERO, CM_MEMBER(struct cm_peer_record, port),
	 .min = 1, .max = 65535, .req_if = record_broadcasting},
	REPOSITORIES(struct cm_peer_record),
	{.name = "capabilities", .kind = CK_OBJECT, .flags = F_REQ,
	 CM_MEMBER(struct cm_peer_record, capabilities), .sub = &capabilities_type},
};
static TYPE(peer_record_type, "peer-record", "signed-record.schema.json#/properties/record",
     struct cm_peer_record, peer_record_fields);

/* Length of s as JSON writes it compact, quotes included (Jansson's escapes). */
static size_t
string_size(const char *s, size_t len)
{
	size_t n = 2;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\' || ch == '\b' || ch == '\f' || ch == '\n' || ch == '\r' ||
		    ch == '\t')
			n += 2;
		else if (ch < 0x20)
			n += 6;
		else
			n++;
	}
	return n;
}

/*
 * What json_dumpb(j, NULL, 0, JSON_COMPACT) returns, without writing the text
 * out: the record size check runs on every received record. Stops counting
 * once past limit.
 */
static size_t
compact_size(const json_t *j, size_t limit)
{
	const char *key;
	json_t *v;
	size_t n, i;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		n = 2 + (json_object_size(j) > 0 ? json_object_size(j) - 1 : 0);
		json_object_foreach((json_t *)j, key, v)
		{
			if (n > limit)
				break;
			n += string_size(key, strlen(key)) + 1 + compact_size(v, limit);
		}
		return n;
	case JSON_ARRAY:
		n = 2 + (json_array_size(j) > 0 ? json_array_size(j) - 1 : 0);
		json_array_foreach(j, i, v)
		{
			if (n > limit)
				break;
			n += compact_size(v, limit);
		}
		return n;
	case JSON_STRING:
		return string_size(json_string_value(j), json_string_length(j));
	case JSON_TRUE:
	case JSON_NULL:
		return 4;
	case JSON_FALSE:
		return 5;
	default:
		return json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	}
}

static int
signed_record_pre(struct dctx *c, const json_t *j)
{
	size_t size = compact_size(j, CM_MAX_SIGNED_RECORD + 1);

	if (size == 0 || size > CM_MAX_SIGNED_RECORD)
		return fail(c, NULL, "signed record larger than %d bytes", CM_MAX_SIGNED_RECORD);
	return 0;
}

/* Keeps the record's canonical text as received: the signature covers it. */
static int
signed_record_check(struct dctx *c, const json_t *j, void *obj)
{
	struct cm_signed_record *s = obj;
	struct cm_err cerr;

	if ((s->canonical = cm_json_canonical(json_object_get(j, "record"), &cerr)) == NULL)
		return fail(c, "record", "%s", cerr.msg);
	return 0;
}

/* The received record when there is one, so unknown fields survive forwarding. */
static json_t *
signed_record_record_json(const void *base)
{
	const struct cm_signed_record *s = base;

	if (s->canonical != NULL)
		return json_loads(s->canonical, JSON_REJECT_DUPLICATES, NULL);
	return encode_object(&peer_record_type, &s->record, NULL);
}

/* public_certificate may be left out only in an announcement's origin (F_LAX there). */
static const struct cm_field signed_record_fields[] = {
	{.name = "record", .kind = CK_OBJECT, .flags = F_REQ,
	 CM_MEMBER(struct cm_signed_record, record), .sub = &peer_record_type,
	 .enc = signed_record_record_json},
	CERT(struct cm_signed_record, F_LAXABLE),
	STR(struct cm_signed_record, "signature", signature, F_REQ, CM_MAX_SIGNATURE_B64, STR_ANY),
	{.name = "canonical", .kind = CK_STRING, .flags = F_INTERNAL,
	 CM_MEMBER(struct cm_signed_record, canonical)},
};
TYPE(cm_signed_record_type, "signed-record", "signed-record.schema.json#/$defs/withCertificate",
     struct cm_signed_record, signed_record_fields, .pre = signed_record_pre,
     .check = signed_record_check);

static bool
info_has_source(const void *base)
{
	return ((const struct cm_peer_info *)base)->source != CM_SOURCE_NONE;
}

static const struct cm_field peer_info_fields[] = {
	EMAIL(struct cm_peer_info, email),
	PEER_ID(struct cm_peer_info, peer_id, F_REQ),
	CERT(struct cm_peer_info, F_REQ),
	ADDRESSES(struct cm_peer_info, F_REQ),
	INT(struct cm_peer_info, "port", port, F_REQ, 0, 65535),
	BOOL(struct cm_peer_info, "is_broadcasting", is_broadcasting, F_REQ),
	BOOL(struct cm_peer_info, "is_bootstrap", is_bootstrap, F_REQ),
	ENUM(struct cm_peer_info, "peer_status", peer_status, F_REQ, status_name, CM_PEER_ONLINE,
	     CM_PEER_OFFLINE),
	ENUM(struct cm_peer_info, "state", state, F_REQ, state_name, CM_STATE_DISCOVERED,
	     CM_STATE_STALE),
	REPOSITORIES(struct cm_peer_info),
	{.name = "availability_score", .kind = CK_SCORE, .flags = F_REQ,
	 CM_MEMBER(struct cm_peer_info, availability_score)},
	{.name = "performance_score", .kind = CK_SCORE, .flags = F_REQ,
	 CM_MEMBER(struct cm_peer_info, performance_score)},
	{.name = "score", .kind = CK_SCORE, .flags = F_REQ, CM_MEMBER(struct cm_peer_info, score)},
	COUNT(struct cm_peer_info, "bandwidth_estimate", bandwidth_estimate),
	TIME(struct cm_peer_info, "discovered_at", discovered_at_ms, F_REQ),
	TIME(struct cm_peer_info, "last_seen", last_seen_ms, F_REQ),
	TIME(struct cm_peer_info, "expires_at", expires_at_ms, F_REQ),
	COUNT(struct cm_peer_info, "peer_count", peer_count),
	COUNT(struct cm_peer_info, "gossip_received_count", gossip_received_count),
	{.name = "source", .kind = CK_ENUM, CM_MEMBER(struct cm_peer_info, source),
	 .name_of = source_name, .min = CM_SOURCE_TABLE, .max = CM_SOURCE_RELAY,
	 .enc_if = info_has_source},
	{.name = "found_in_ms", .kind = CK_INT, CM_MEMBER(struct cm_peer_info, found_in_ms),
	 .max = CM_MAX_SAFE_INTEGER, .req_if = info_has_source, .enc_if = info_has_source},
};
TYPE(cm_peer_info_type, "peer-info", "peer-info.schema.json", struct cm_peer_info,
     peer_info_fields);

/* Payloads: offsets within struct cm_envelope's payload union. */
static const struct cm_field announcement_fields[] = {
	{.name = "origin", .kind = CK_OBJECT, .flags = F_REQ | F_LAX,
	 CM_MEMBER(struct cm_peer_announcement, origin), .sub = &cm_signed_record_type},
};
static TYPE(announcement_type, "payload-announcement", "peer-announcement.schema.json",
     struct cm_peer_announcement, announcement_fields);

static const struct cm_field digest_fields[] = {
	COUNT(struct cm_digest, "since", since),
	COUNT(struct cm_digest, "seed", seed),
	INT(struct cm_digest, "k", k, F_REQ, 1, CM_MAX_BLOOM_K),
	{.name = "bloom", .kind = CK_STRING, .flags = F_REQ, CM_MEMBER(struct cm_digest, bloom),
	 .max = (CM_MAX_BLOOM_BYTES + 2) / 3 * 4, .skind = STR_BASE64, .dflt_str = ""},
	TIME(struct cm_digest, "issued_after", issued_after_ms, F_OMIT_ZERO),
};
static TYPE(digest_type, "digest", "peer-request.schema.json#/properties/digest", struct cm_digest,
     digest_fields);

static const struct cm_field peer_request_fields[] = {
	{.name = "repositories", .kind = CK_STRLIST, CM_MEMBER(struct cm_peer_request, repositories),
	 .max = CM_MAX_REPOSITORIES, .item_max = CM_MAX_REPO_NAME, .skind = STR_REPO},
	{.name = "digest", .kind = CK_OBJECT, .flags = F_HAS, CM_MEMBER(struct cm_peer_request, digest),
	 .sub = &digest_type, .has_off = offsetof(struct cm_peer_request, has_digest)},
};
static TYPE(peer_request_type, "payload-request", "peer-request.schema.json", struct cm_peer_request,
     peer_request_fields);

/* request_id and version are read before the (long) peers list, as they come first in errors. */
static const struct cm_field list_response_fields[] = {
	STR(struct cm_peer_list_response, "request_id", request_id, F_REQ | F_FIRST,
	    CM_UUID_TEXT_LEN, STR_UUID),
	{.name = "peers", .kind = CK_ARRAY, .flags = F_REQ, CM_MEMBER(struct cm_peer_list_response, peers),
	 .sub = &cm_signed_record_type, .max = CM_MAX_LIST_PEERS},
	{.name = "version", .kind = CK_INT, .flags = F_HAS | F_FIRST,
	 CM_MEMBER(struct cm_peer_list_response, version), .max = CM_MAX_SAFE_INTEGER,
	 .has_off = offsetof(struct cm_peer_list_response, has_version)},
};
static TYPE(list_response_type, "payload-list-response", "peer-list-response.schema.json",
     struct cm_peer_list_response, list_response_fields);

static const struct cm_field heartbeat_fields[] = {
	BOOL(struct cm_heartbeat, "is_alive", is_alive, F_REQ),
	BOOL(struct cm_heartbeat, "is_bootstrap", is_bootstrap, F_REQ),
	COUNT(struct cm_heartbeat, "peer_count", peer_count),
};
static TYPE(heartbeat_type, "payload-heartbeat", "heartbeat.schema.json", struct cm_heartbeat,
     heartbeat_fields);

/* The payload's table, chosen by the envelope's type. */
static const struct cm_type *
envelope_payload(const void *base)
{
	switch (((const struct cm_envelope *)base)->type) {
	case CM_MSG_PEER_ANNOUNCEMENT:
		return &announcement_type;
	case CM_MSG_PEER_REQUEST:
		return &peer_request_type;
	case CM_MSG_PEER_LIST_RESPONSE:
		return &list_response_type;
	case CM_MSG_HEARTBEAT:
		return &heartbeat_type;
	}
	return NULL;
}

/* sender's offsets are the envelope's own (the object sits at offset 0). */
static const struct cm_field sender_fields[] = {
	{.name = "email", .kind = CK_STRING, .flags = F_REQ | F_WRITE_NULL,
	 CM_MEMBER(struct cm_envelope, sender_email), .max = CM_MAX_EMAIL, .skind = STR_EMAIL},
	{.name = "peer_id", .kind = CK_STRING, .flags = F_REQ | F_WRITE_NULL,
	 CM_MEMBER(struct cm_envelope, sender_peer_id), .max = CM_UUID_TEXT_LEN, .skind = STR_UUID},
};
static TYPE(sender_type, "sender", "common.schema.json#/$defs/sender", struct cm_envelope,
     sender_fields);

static const struct cm_field envelope_fields[] = {
	{.name = "v", .kind = CK_VERSION, .flags = F_REQ, CM_MEMBER(struct cm_envelope, v),
	 .min = INT64_MIN, .max = INT64_MAX},
	STR(struct cm_envelope, "id", id, F_REQ, CM_UUID_TEXT_LEN, STR_UUID),
	ENUM(struct cm_envelope, "type", type, F_REQ, msg_type_name, CM_MSG_PEER_ANNOUNCEMENT,
	     CM_MSG_HEARTBEAT),
	INT(struct cm_envelope, "ttl", ttl, F_REQ, 0, CM_MAX_TTL),
	TIME(struct cm_envelope, "timestamp", timestamp_ms, F_REQ),
	{.name = "sender", .kind = CK_OBJECT, .flags = F_REQ, .off = 0,
	 .width = sizeof(struct cm_envelope), .sub = &sender_type},
	{.name = "payload", .kind = CK_UNION, .flags = F_REQ, CM_MEMBER(struct cm_envelope, payload),
	 .pick = envelope_payload},
};
static TYPE(envelope_type, "envelope", "envelope.schema.json", struct cm_envelope, envelope_fields);

static const struct cm_field status_fields[] = {
	STR(struct cm_status, "status", status, F_REQ, 64, STR_ANY),
	{.name = "expires_at", .kind = CK_TIME, .flags = F_HAS, CM_MEMBER(struct cm_status, expires_at_ms),
	 .has_off = offsetof(struct cm_status, has_expires_at)},
};
static TYPE(status_type, "status", "status.schema.json", struct cm_status, status_fields);

static const struct cm_field error_body_fields[] = {
	STR(struct cm_error_body, "error", error, F_REQ, CM_MAX_BODY, STR_ANY),
	STR(struct cm_error_body, "code", code, F_REQ, 64, STR_ANY),
};
static TYPE(error_body_type, "error", "error.schema.json", struct cm_error_body, error_body_fields);

/* The public entry points: one document description each. */
static const struct cm_field register_request_doc =
	CM_DOC_OBJECT(struct cm_register_request, register_request_type);
static const struct cm_field heartbeat_request_doc =
	CM_DOC_OBJECT(struct cm_heartbeat_request, heartbeat_request_type);
static const struct cm_field feedback_request_doc =
	CM_DOC_OBJECT(struct cm_feedback_request, feedback_request_type);
static const struct cm_field bootstrap_peer_doc =
	CM_DOC_OBJECT(struct cm_bootstrap_peer, bootstrap_peer_type);
static const struct cm_field bootstrap_peerlist_doc =
	CM_DOC_ARRAY(struct cm_bootstrap_peerlist, bootstrap_peer_type, CM_MAX_BOOTSTRAP_PEERS);
static const struct cm_field register_response_doc =
	CM_DOC_OBJECT(struct cm_register_response, register_response_type);
static const struct cm_field admin_registration_doc =
	CM_DOC_OBJECT(struct cm_admin_registration, admin_registration_type);
static const struct cm_field admin_registrationlist_doc =
	CM_DOC_ARRAY(struct cm_admin_registrationlist, admin_registration_type,
		     CM_MAX_ADMIN_ROWS);
static const struct cm_field whitelist_entry_doc =
	CM_DOC_OBJECT(struct cm_whitelist_entry, whitelist_entry_type);
static const struct cm_field whitelist_doc =
	CM_DOC_ARRAY(struct cm_whitelist, whitelist_entry_type, CM_MAX_ADMIN_ROWS);
static const struct cm_field peer_record_doc =
	CM_DOC_OBJECT(struct cm_peer_record, peer_record_type);
static const struct cm_field signed_record_doc =
	CM_DOC_OBJECT(struct cm_signed_record, cm_signed_record_type);
static const struct cm_field peer_info_doc = CM_DOC_OBJECT(struct cm_peer_info, cm_peer_info_type);
static const struct cm_field envelope_doc = CM_DOC_OBJECT(struct cm_envelope, envelope_type);
static const struct cm_field status_doc = CM_DOC_OBJECT(struct cm_status, status_type);
static const struct cm_field error_body_doc = CM_DOC_OBJECT(struct cm_error_body, error_body_type);

CM_DOC_CODEC(register_request, struct cm_register_request, register_request_doc)
CM_DOC_CODEC(bootstrap_peer, struct cm_bootstrap_peer, bootstrap_peer_doc)
CM_DOC_CODEC(bootstrap_peerlist, struct cm_bootstrap_peerlist, bootstrap_peerlist_doc)
CM_DOC_CODEC(register_response, struct cm_register_response, register_response_doc)
CM_DOC_CODEC(admin_registrationlist, struct cm_admin_registrationlist, admin_registrationlist_doc)
CM_DOC_CODEC(whitelist_entry, struct cm_whitelist_entry, whitelist_entry_doc)
CM_DOC_CODEC(peer_record, struct cm_peer_record, peer_record_doc)
CM_DOC_CODEC(signed_record, struct cm_signed_record, signed_record_doc)
CM_DOC_CODEC(peer_info, struct cm_peer_info, peer_info_doc)
CM_DOC_CODEC(envelope, struct cm_envelope, envelope_doc)
CM_DOC_CODEC(status_body, struct cm_status, status_doc)
CM_DOC_CODEC(heartbeat_request, struct cm_heartbeat_request, heartbeat_request_doc)
CM_DOC_CODEC(feedback_request, struct cm_feedback_request, feedback_request_doc)

int
cm_error_body_decode(const json_t *j, struct cm_error_body *out, struct cm_err *err)
{
	return cm_codec_decode(&error_body_doc, j, out, err);
}

CM_DOC_CLEAR(status, struct cm_status, status_doc)

int
cm_error_body_from_text(const char *buf, size_t len, struct cm_error_body *out,
			struct cm_err *err)
{
	return cm_codec_decode_text(&error_body_doc, buf, len, CM_MAX_BODY, out, err);
}

CM_DOC_CLEAR(error_body, struct cm_error_body, error_body_doc)

int
cm_admin_registration_decode(const json_t *j, struct cm_admin_registration *out,
			     struct cm_err *err)
{
	return cm_codec_decode(&admin_registration_doc, j, out, err);
}

int
cm_admin_registration_from_text(const char *text, struct cm_admin_registration *out,
				struct cm_err *err)
{
	return cm_codec_decode_text(&admin_registration_doc, text, strlen(text), SIZE_MAX, out,
				    err);
}

int
cm_bootstrap_peer_from_text(const char *text, struct cm_bootstrap_peer *out, struct cm_err *err)
{
	return cm_codec_decode_text(&bootstrap_peer_doc, text, strlen(text), SIZE_MAX, out, err);
}

json_t *
cm_whitelist_encode(const struct cm_whitelist *l)
{
	return cm_codec_encode(&whitelist_doc, l);
}

json_t *
cm_repository_encode(const struct cm_repository *r)
{
	return encode_object(&cm_repository_type, r, NULL);
}

json_t *
cm_capabilities_encode(const struct cm_capabilities *c)
{
	return encode_object(&capabilities_type, c, NULL);
}

json_t *
cm_announcement_encode(const struct cm_envelope *e, json_t *origin)
{
	json_t *p = json_object(), *o = NULL;

	if (p != NULL && json_object_set(p, "origin", origin) == 0)
		o = encode_object(&envelope_type, e, p);
	json_decref(p);
	return o;
}

/*
 * frame (taken) with its "origin":null replaced by origin, a JSON text. Both
 * texts come from the JSON writer, and the key cannot occur inside a string
 * value (its quotes would be escaped there), so the first match is the payload's.
 */
static char *
splice_origin(char *frame, const char *origin, size_t *len)
{
	static const char hole[] = "\"origin\":null";
	char *at = frame != NULL ? strstr(frame, hole) : NULL, *out = NULL;
	size_t head, olen;

	if (at != NULL) {
		head = (size_t)(at - frame) + sizeof(hole) - 5;
		olen = strlen(origin);
		if ((out = malloc(*len - 4 + olen + 1)) != NULL) {
			memcpy(out, frame, head);
			memcpy(out + head, origin, olen);
			memcpy(out + head + olen, at + sizeof(hole) - 1, *len - head - 4 + 1);
			*len = *len - 4 + olen;
		}
	}
	free(frame);
	return out;
}

char *
cm_announcement_text(const struct cm_envelope *e, const char *origin_text, size_t *len)
{
	json_t *hole = json_null();

	return splice_origin(cm_json_dump_take(cm_announcement_encode(e, hole), len), origin_text,
			     len);
}

char *
cm_envelope_forward(json_t *tree, int ttl, const char *sender_email, const char *sender_peer_id,
		    size_t *len)
{
	struct cm_envelope who = {.sender_email = (char *)sender_email,
				  .sender_peer_id = (char *)sender_peer_id};

	if (json_object_set_new(tree, "ttl", json_integer(ttl)) != 0 ||
	    json_object_set_new(tree, "sender", encode_object(&sender_type, &who, NULL)) != 0)
		return NULL;
	return cm_json_dump_take(json_incref(tree), len);
}

char *
cm_envelope_forward_with_certificate(json_t *tree, const char *cert, size_t *len)
{
	json_t *origin = json_object_get(json_object_get(tree, "payload"), "origin");

	if (!json_is_object(origin) || json_object_get(origin, "public_certificate") != NULL ||
	    json_object_set_new(origin, "public_certificate", json_string(cert)) != 0)
		return NULL;
	return cm_json_dump_take(json_incref(tree), len);
}

/* {"status": status} plus "expires_at" when expires_at_ms >= 0. */
json_t *
cm_status_encode(const char *status, int64_t expires_at_ms)
{
	struct cm_status s = {.status = (char *)status, .expires_at_ms = expires_at_ms,
			      .has_expires_at = expires_at_ms >= 0};

	return cm_status_body_encode(&s);
}

json_t *
cm_error_body_encode(const char *message, const char *code)
{
	struct cm_error_body e = {.error = (char *)message, .code = (char *)code};

	return cm_codec_encode(&error_body_doc, &e);
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
	if (s != NULL)
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

int
cm_envelope_from_frame_tree(const char *buf, size_t len, struct cm_envelope *out, json_t **tree,
			    struct cm_err *err)
{
	json_t *j;

	memset(out, 0, sizeof(*out));
	*tree = NULL;
	if ((j = cm_json_parse(buf, len, CM_MAX_FRAME, err)) == NULL)
		return -1;
	if (cm_envelope_decode(j, out, err) != 0) {
		json_decref(j);
		return -1;
	}
	*tree = j;
	return 0;
}

int
cm_envelope_from_frame(const char *buf, size_t len, struct cm_envelope *out, struct cm_err *err)
{
	return cm_codec_decode_text(&envelope_doc, buf, len, CM_MAX_FRAME, out, err);
}

int
cm_register_request_from_body(const char *buf, size_t len, struct cm_register_request *out,
			      struct cm_err *err)
{
	return cm_codec_decode_text(&register_request_doc, buf, len, CM_MAX_BODY, out, err);
}

/*
 * Introspection: the tables as JSON, so a test can hold each one to its
 * schema in proto/ without a second copy of the field lists.
 */
static const struct cm_type *const all_types[] = {
	&cm_repository_type,       &capabilities_type,      &register_request_type,
	&bootstrap_peer_type,   &register_response_type, &heartbeat_request_type,
	&feedback_request_type, &admin_registration_type, &whitelist_entry_type,
	&peer_record_type,      &cm_signed_record_type,     &cm_peer_info_type,
	&announcement_type,     &digest_type,            &peer_request_type,
	&list_response_type,    &heartbeat_type,         &sender_type,
	&envelope_type,         &status_type,            &error_body_type,
};

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
	[STR_BASE64] = "base64",
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

	if (arr == NULL || add_types(arr, all_types, CM_NFIELDS(all_types)) != 0 ||
	    add_types(arr, cm_agent_types, cm_agent_ntypes) != 0) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}
