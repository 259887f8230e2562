/*
 * bencode.h - the one bencode codec (BEP 3): strict, bounded decoding into a
 * tree, canonical encoding, and field tables that map dictionaries to C
 * structs (the way the JSON codec's tables do), so each BitTorrent type
 * (metainfo, tracker answer, extension handshake, metadata message) is
 * described once.
 *
 * Strict means canonical: integers without leading zeros or "-0", string
 * lengths without leading zeros, dictionary keys unique and in byte order.
 * A decoded value remembers the bytes it came from (raw, raw_len), so the
 * info dictionary is hashed exactly as received; since only canonical input
 * is accepted, encoding the tree again gives the same bytes. A document's
 * tree is one allocation, sized by a first pass that checks every rule.
 */
#ifndef FB_BENCODE_H
#define FB_BENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb/err.h"
#include "fb/types.h"

enum cm_bkind { CM_BINT, CM_BSTR, CM_BLIST, CM_BDICT };

struct cm_bval {
	enum cm_bkind kind;
	int64_t i;                 /* CM_BINT */
	const unsigned char *s;    /* CM_BSTR: points into the decoded buffer; not NUL-terminated */
	size_t len;                /* CM_BSTR: bytes; CM_BLIST/CM_BDICT: entries */
	struct cm_bval *items;     /* CM_BLIST: len values; CM_BDICT: len values, keys in keys */
	struct cm_bval *keys;      /* CM_BDICT: len CM_BSTR keys, in byte order */
	const unsigned char *raw;  /* the encoded bytes of this value, in the decoded buffer */
	size_t raw_len;
};

/* Bounds of one decode; a field of 0 takes the default in brackets. */
struct cm_blimits {
	size_t max_bytes;  /* input length, the whole buffer also for a prefix [16 MiB] */
	int max_depth;     /* nesting of lists and dictionaries [32] */
	size_t max_values; /* values in the whole document, dictionary keys included [1,000,000] */
};

/* A decoded document: the tree borrows the input buffer, which must outlive it. */
struct cm_bdoc;

/*
 * Decodes exactly len bytes (trailing bytes are an error). NULL on failure,
 * with err naming the offset and the rule ("at 17: dictionary keys out of order").
 */
struct cm_bdoc *cm_bdecode(const void *buf, size_t len, const struct cm_blimits *lim,
			   struct cm_err *err);
/* The same, for a prefix: *used gets the bytes the first value took (BEP 9 data follows its dictionary). */
struct cm_bdoc *cm_bdecode_prefix(const void *buf, size_t len, const struct cm_blimits *lim,
				  size_t *used, struct cm_err *err);
const struct cm_bval *cm_bdoc_root(const struct cm_bdoc *d);
void cm_bdoc_free(struct cm_bdoc *d);

/* A dictionary's value for key (NUL-terminated), or NULL. */
const struct cm_bval *cm_bdict_get(const struct cm_bval *dict, const char *key);

/*
 * Encoding into a growing buffer (fb/buf.h rules: *buf, *len, capped at
 * max). Keys of a dictionary must be written in byte order, each followed by
 * one value; the encoder refuses anything else (so what it writes is always
 * canonical). Values may follow one another at the top level (a BEP 9 piece
 * message is a dictionary and then the data, written with cm_benc_raw).
 */
#define CM_BENC_MAX_DEPTH 32

struct cm_benc {
	char *buf;
	size_t len;
	size_t max;
	int depth;
	bool failed; /* a step failed: the rest do nothing, cm_benc_finish says -1 */
	/* each open container; a dictionary's last key is kept as its place in buf (buf moves) */
	struct cm_benc_open {
		bool dict;
		bool has_key;     /* a key was written in it */
		bool key_pending; /* the last key still waits for its value */
		size_t key_off, key_len;
	} open[CM_BENC_MAX_DEPTH];
};

void cm_benc_init(struct cm_benc *e, size_t max);
void cm_benc_int(struct cm_benc *e, int64_t v);
void cm_benc_str(struct cm_benc *e, const void *s, size_t n);
void cm_benc_cstr(struct cm_benc *e, const char *s);
void cm_benc_list(struct cm_benc *e);   /* opens a list */
void cm_benc_dict(struct cm_benc *e);   /* opens a dictionary */
void cm_benc_key(struct cm_benc *e, const char *key); /* the next key of the open dictionary */
void cm_benc_key_n(struct cm_benc *e, const void *key, size_t n); /* the same, n bytes */
void cm_benc_end(struct cm_benc *e);    /* closes the innermost list or dictionary */
void cm_benc_raw(struct cm_benc *e, const void *bytes, size_t n); /* an already-encoded value */
/* A decoded value written again, walked through the encoder (not copied from raw). */
void cm_benc_value(struct cm_benc *e, const struct cm_bval *v);
/* 0 and the encoding in *out, *out_len (caller frees), or -1 (a step failed or a container is open). */
int cm_benc_finish(struct cm_benc *e, char **out, size_t *out_len);
void cm_benc_clear(struct cm_benc *e);

/* ---- field tables: a dictionary described once ---- */

/*
 * What each kind reads and writes at off. A bound of 0 is no bound (the
 * decoder's limits still hold). Strings are checked for NUL bytes.
 */
enum cm_bfkind {
	CB_INT,      /* int64_t; min..max (both 0: any) */
	CB_STR,      /* char * (NUL-terminated copy; a NUL inside is an error); max bytes */
	CB_BYTES,    /* struct cm_bbytes (copy); min..max bytes, multiple of item_max when non-zero */
	CB_STRLIST,  /* struct cm_strlist of strings; max entries, item_max bytes each */
	CB_STRLISTS, /* struct cm_strlists: a list of lists of strings (BEP 12 tiers); max lists,
			max entries in each, item_max bytes each */
	CB_DICT,     /* a nested struct described by sub, at off */
	CB_LIST,     /* struct cm_blist: a list of dictionaries, each a struct described by sub;
			max entries */
	CB_RAW       /* struct cm_bbytes: the value's encoded bytes, kept as they were (the info
			dictionary); written back unchanged */
};

struct cm_bbytes {
	unsigned char *data;
	size_t len;
};

/* CB_LIST: len structs of the field's sub->size bytes each. */
struct cm_blist {
	void *items;
	size_t len;
};

/* CB_STRLISTS */
struct cm_strlists {
	struct cm_strlist *items;
	size_t len;
};

#define CB_REQ 0x01 /* decode: must be present; encode: a NULL string or absent bytes fail */
#define CB_HAS 0x02 /* has_off names the bool telling whether it was present / is to be written */
#define CB_ONE 0x04 /* CB_STRLIST: a lone string reads as a list of one (BEP 19 url-list) */
#define CB_OUT 0x08 /* written, never read (what we say of ourselves: "created by") */

struct cm_btype;

struct cm_bfield {
	const char *key;
	enum cm_bfkind kind;
	unsigned flags;
	size_t off;
	int64_t min, max;
	size_t item_max;
	const struct cm_btype *sub;
	size_t has_off;
};

struct cm_btype {
	const char *name;          /* in error messages: "metainfo.info.piece length: ..." */
	const struct cm_bfield *fields; /* in key byte order (cm_btype_check holds a table to it) */
	size_t nfields;
	size_t size;               /* sizeof the struct */
};

/*
 * Decodes dictionary v into out (zeroed first) by t. Unknown keys are
 * ignored (BitTorrent's extension rule). -1 with err naming the field
 * ("metainfo.info.files[2].path: more than 64 entries"), out left cleared.
 */
int cm_bstruct_decode(const struct cm_bval *v, const struct cm_btype *t, void *out,
		      struct cm_err *err);
/*
 * Writes in as a dictionary by t into e. Written are: a CB_HAS field when its
 * bool is set; otherwise ints and dictionaries always, a string or bytes when
 * not NULL, a list when not empty (or when CB_REQ).
 */
void cm_bstruct_encode(struct cm_benc *e, const struct cm_btype *t, const void *in);
/* Frees what decode allocated and zeroes the members (in itself is the caller's). */
void cm_bstruct_clear(const struct cm_btype *t, void *in);
/* 0 when t's keys, and those of every table under it, are in byte order; -1 with err. */
int cm_btype_check(const struct cm_btype *t, struct cm_err *err);

#endif
