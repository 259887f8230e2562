/*
 * codec_table.h - how the codec describes a wire type: a table of fields, each
 * with its JSON name, kind, limits, whether it is required and where it lives
 * in the C struct. One generic decoder, encoder and clear walk these tables;
 * a new type costs a table (and, for a rule no table can say, a small hook).
 * Private to common/src.
 */
#ifndef FB_CODEC_TABLE_H
#define FB_CODEC_TABLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/err.h"
#include "fb/jscan.h"

enum cm_kind {
	CK_STRING,  /* char *; max: length in bytes; skind: what it must look like */
	CK_INT,     /* int or int64_t (width); min..max */
	CK_BOOL,    /* bool */
	CK_TIME,    /* int64_t ms; RFC 3339 text on the wire */
	CK_SCORE,   /* double 0..100; any JSON number */
	CK_REAL,    /* double; any JSON number */
	CK_ENUM,    /* an enum (int) named by name_of over min..max */
	CK_STRLIST, /* struct cm_strlist; max entries, item_max bytes each, skind */
	CK_OBJECT,  /* a struct of type sub at off (off 0: sub's offsets are the parent's) */
	CK_EMBED,   /* sub's fields in this same JSON object */
	CK_ARRAY,   /* a {items, len} list of sub; max entries */
	CK_UNION,   /* an object whose type pick() chooses from the parent */
	CK_VERSION, /* int: must be CM_PROTOCOL_VERSION; always written as it */
	CK_JSON,    /* json_t * kept as it was received (a reference) */
	CK_COUNTERS, /* struct cm_counterlist: {name: count, ...}; item_max entries, min..max */
	CK_INTLIST  /* struct cm_intlist: [n, ...]; item_max entries, each min..max */
};

enum cm_str_kind {
	STR_ANY,
	STR_EMAIL,
	STR_UUID,
	STR_IP,
	STR_REPO,
	STR_FINGERPRINT,
	STR_BASE64,
	STR_INFO_HASH,   /* 40 lower-case hex digits */
	STR_SHA256,      /* 64 lower-case hex digits */
	STR_TORRENT_NAME /* 1..CM_MAX_TORRENT_NAME bytes, no control characters */
};

#define F_REQ 0x01        /* decode: must be present */
#define F_FIRST 0x02      /* decode before the rest: a later field's rule depends on it */
#define F_NULLABLE 0x04   /* decode: null reads as absent; encode: an absent has-flag writes null */
#define F_OMIT_ZERO 0x08  /* encode: a 0 value is not written */
#define F_LAX 0x10        /* object, or array of objects: their F_LAXABLE fields are optional here */
#define F_LAXABLE 0x20    /* required, except inside an F_LAX object */
#define F_ENCODE_ONLY 0x40 /* written, never read (a server-set time in a request body) */
#define F_INTERNAL 0x80   /* not on the wire: only released with the struct */
#define F_WRITE_NULL 0x100 /* encode: a NULL string writes null instead of failing */
#define F_HAS 0x200       /* has_off names the bool telling whether the value is present */
#define F_DEFAULT 0x400   /* int/bool: dflt before decoding (and when the object is absent) */

struct cm_type;
struct dctx;

struct cm_field {
	const char *name;
	enum cm_kind kind;
	unsigned flags;
	size_t off;
	size_t width; /* sizeof the member (ints: int or int64_t) */
	int64_t min, max;
	enum cm_str_kind skind;
	size_t item_max;
	const struct cm_type *sub;
	size_t has_off;
	int64_t dflt;
	const char *dflt_str;                     /* encode: written for a NULL string */
	const char *(*name_of)(int);              /* CK_ENUM */
	bool (*req_if)(const void *base);         /* decode: required iff true (overrides F_REQ) */
	bool (*enc_if)(const void *base);         /* encode: written iff true */
	json_t *(*enc)(const void *base);         /* encode: replaces the generic writer */
	const struct cm_type *(*pick)(const void *base); /* CK_UNION */
};

struct cm_type {
	const char *name;   /* as tools/fb-codec and the schema test call it */
	const char *schema; /* proto/ file and JSON pointer it is held to; NULL: none */
	const struct cm_field *fields;
	size_t nfields;
	size_t size;
	int (*pre)(struct dctx *c, const json_t *j);              /* before the fields */
	int (*check)(struct dctx *c, const json_t *j, void *obj); /* after: cross-field rules */
};

#define CM_NFIELDS(a) (sizeof(a) / sizeof((a)[0]))
#define CM_MEMBER(T, m) .off = offsetof(T, m), .width = sizeof(((T *)0)->m)

/* Decoding context: where we are in the document, and where errors go. */
struct dctx {
	struct cm_err *err;
	char path[256];
	size_t len;
};

int cm_codec_fail(struct dctx *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Checks one string value against its kind and cap; key NULL: the path names it. */
int cm_codec_check_string(struct dctx *c, const char *key, const json_t *v, size_t max_len,
			  enum cm_str_kind kind);
/*
 * One scalar member (CK_STRING, CK_ENUM, CK_TIME, CK_INT, CK_VERSION) as
 * cm_jscan read it, by the same rules as the decoder; a string is copied into
 * p, cap bytes, and one with escapes is refused (the full decode reads it).
 */
#define CM_JSCAN_MAX_STRING 1024 /* the longest scalar string a scan decodes */
int cm_codec_decode_scanned(struct dctx *c, const struct cm_field *f,
			    const struct cm_jscan_value *v, void *p, size_t cap);
/* One object of type t at base; payload (when not NULL) stands in for a CK_UNION member. */
json_t *cm_codec_encode_object(const struct cm_type *t, const void *base, json_t *payload);

/* Whole documents: the value doc describes (an object of a type, or an array). */
int cm_codec_decode(const struct cm_field *doc, const json_t *j, void *out, struct cm_err *err);
json_t *cm_codec_encode(const struct cm_field *doc, const void *obj);
void cm_codec_clear(const struct cm_field *doc, void *obj);
/* Parses text under limit_bytes and decodes it as doc. */
int cm_codec_decode_text(const struct cm_field *doc, const char *buf, size_t len,
			 size_t limit_bytes, void *out, struct cm_err *err);

/* A document that is one object of type T (sub) or one array of it. */
#define CM_DOC_OBJECT(T, type) {.kind = CK_OBJECT, .width = sizeof(T), .sub = &(type)}
#define CM_DOC_ARRAY(T, type, max_entries)                                                      \
	{.kind = CK_ARRAY, .width = sizeof(T), .sub = &(type), .max = (max_entries)}


/* Field rows, one per member. T is the struct the offsets are taken in. */
#define STR(T, key, m, fl, cap, sk)                                                             \
	{.name = key, .kind = CK_STRING, .flags = (fl), CM_MEMBER(T, m), .max = (cap),           \
	 .skind = (sk)}
#define INT(T, key, m, fl, lo, hi)                                                             \
	{.name = key, .kind = CK_INT, .flags = (fl), CM_MEMBER(T, m), .min = (lo), .max = (hi)}
#define BOOL(T, key, m, fl) {.name = key, .kind = CK_BOOL, .flags = (fl), CM_MEMBER(T, m)}
#define TIME(T, key, m, fl) {.name = key, .kind = CK_TIME, .flags = (fl), CM_MEMBER(T, m)}
#define ENUM(T, key, m, fl, names, lo, hi)                                                     \
	{.name = key, .kind = CK_ENUM, .flags = (fl), CM_MEMBER(T, m), .name_of = (names),       \
	 .min = (lo), .max = (hi)}
#define ADDRESSES(T, fl)                                                                       \
	{.name = "socket_addresses", .kind = CK_STRLIST, .flags = (fl),                          \
	 CM_MEMBER(T, socket_addresses), .max = CM_MAX_SOCKET_ADDRESSES,                         \
	 .item_max = CM_MAX_ADDRESS, .skind = STR_IP}
#define REPOSITORIES(T)                                                                        \
	{.name = "repositories", .kind = CK_ARRAY, .flags = F_REQ, CM_MEMBER(T, repositories),   \
	 .sub = &cm_repository_type, .max = CM_MAX_REPOSITORIES}
#define EMAIL(T, m) STR(T, "email", m, F_REQ, CM_MAX_EMAIL, STR_EMAIL)
#define PEER_ID(T, m, fl) STR(T, "peer_id", m, fl, CM_UUID_TEXT_LEN, STR_UUID)
#define CERT(T, fl) STR(T, "public_certificate", public_certificate, fl, CM_MAX_CERT_PEM, STR_ANY)
#define COUNT(T, key, m) INT(T, key, m, F_REQ, 0, CM_MAX_SAFE_INTEGER)
#define TYPE(var, tname, schema_ref, T, table, ...)                                            \
	const struct cm_type var = {.name = tname, .schema = schema_ref, .fields = table,  \
					   .nfields = CM_NFIELDS(table), .size = sizeof(T),        \
					   __VA_ARGS__}

/* cm_<fn>_encode and cm_<fn>_decode (and cm_<fn>_clear) of the document doc of T. */
#define CM_DOC_CODEC(fn, T, doc)                                                               \
	json_t *cm_##fn##_encode(const T *v) { return cm_codec_encode(&(doc), v); }            \
	int cm_##fn##_decode(const json_t *j, T *out, struct cm_err *err)                      \
	{                                                                                      \
		return cm_codec_decode(&(doc), j, out, err);                                   \
	}
#define CM_DOC_CLEAR(fn, T, doc)                                                               \
	void cm_##fn##_clear(T *v) { cm_codec_clear(&(doc), v); }

/* A document of one object (or array) of a table, with its encode and decode. */
#define CM_OBJECT_CODEC(fn, T, type)                                                           \
	static const struct cm_field fn##_doc = CM_DOC_OBJECT(T, type);                        \
	CM_DOC_CODEC(fn, T, fn##_doc)
#define CM_ARRAY_CODEC(fn, T, type, max_entries)                                               \
	static const struct cm_field fn##_doc = CM_DOC_ARRAY(T, type, max_entries);            \
	CM_DOC_CODEC(fn, T, fn##_doc)

/* Types other tables build on, and each table file's types for cm_codec_tables(). */
extern const struct cm_type cm_repository_type, cm_signed_record_type, cm_peer_info_type;
extern const struct cm_type *const cm_wire_types[], *const cm_agent_types[],
	*const cm_relay_types[];
extern const size_t cm_wire_ntypes, cm_agent_ntypes, cm_relay_ntypes;

#endif
