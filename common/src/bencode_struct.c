/*
 * bencode_struct.c - the field tables of bencode.h: one generic decoder,
 * encoder and clear walk a table, so each BitTorrent dictionary is
 * described once. Errors name the field by its path from the table's name
 * ("metainfo.info.files[2].length: ..."), built as the walk goes down.
 */
#include "fb/bencode.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_BYTES 256

#define AT(base, off, type) ((type *)((char *)(base) + (off)))
#define AT_C(base, off, type) ((const type *)((const char *)(base) + (off)))

static int decode_dict(const struct cm_bval *v, const struct cm_btype *t, void *out,
		       const char *path, struct cm_err *err);

/* A longer path is cut: it only names a field in an error message. */
static void
path_item(char out[PATH_MAX_BYTES], const char *path, size_t i)
{
	if (snprintf(out, PATH_MAX_BYTES, "%s[%zu]", path, i) >= PATH_MAX_BYTES)
		out[PATH_MAX_BYTES - 1] = '\0';
}

static void
path_key(char out[PATH_MAX_BYTES], const char *path, const char *key)
{
	if (snprintf(out, PATH_MAX_BYTES, "%s.%s", path, key) >= PATH_MAX_BYTES)
		out[PATH_MAX_BYTES - 1] = '\0';
}

static int
fail(struct cm_err *err, const char *path, const char *what)
{
	cm_err_set(err, "%s: %s", path, what);
	return -1;
}

/* A string value as a new C string, refusing NULs and more than max bytes (0: any). */
static int
decode_cstr(const struct cm_bval *v, size_t max, char **out, const char *path,
	    struct cm_err *err)
{
	if (v->kind != CM_BSTR)
		return fail(err, path, "not a string");
	if (max > 0 && v->len > max) {
		cm_err_set(err, "%s: longer than %zu bytes", path, max);
		return -1;
	}
	if (memchr(v->s, '\0', v->len) != NULL)
		return fail(err, path, "contains a NUL byte");
	if ((*out = strndup((const char *)v->s, v->len)) == NULL)
		return fail(err, path, "out of memory");
	return 0;
}

static int
decode_bytes(const unsigned char *data, size_t len, struct cm_bbytes *out, const char *path,
	     struct cm_err *err)
{
	/* one byte more, so an empty value still has a non-NULL data (it is present) */
	if ((out->data = malloc(len + 1)) == NULL)
		return fail(err, path, "out of memory");
	memcpy(out->data, data, len);
	out->len = len;
	return 0;
}

static int
check_entries(const struct cm_bval *v, int64_t max, const char *path, struct cm_err *err)
{
	if (v->kind != CM_BLIST)
		return fail(err, path, "not a list");
	if (max > 0 && v->len > (uint64_t)max) {
		cm_err_set(err, "%s: more than %" PRId64 " entries", path, max);
		return -1;
	}
	return 0;
}

static int
decode_strlist(const struct cm_bval *v, const struct cm_bfield *f, struct cm_strlist *out,
	       const char *path, struct cm_err *err)
{
	char ipath[PATH_MAX_BYTES];

	if (v->kind == CM_BSTR && (f->flags & CB_ONE)) {
		if ((out->items = calloc(1, sizeof(*out->items))) == NULL)
			return fail(err, path, "out of memory");
		if (decode_cstr(v, f->item_max, &out->items[0], path, err) != 0)
			return -1;
		out->len = 1;
		return 0;
	}
	if (check_entries(v, f->max, path, err) != 0)
		return -1;
	if (v->len == 0)
		return 0;
	if ((out->items = calloc(v->len, sizeof(*out->items))) == NULL)
		return fail(err, path, "out of memory");
	for (size_t i = 0; i < v->len; i++) {
		path_item(ipath, path, i);
		if (decode_cstr(&v->items[i], f->item_max, &out->items[i], ipath, err) != 0)
			return -1;
		out->len++;
	}
	return 0;
}

static int
decode_strlists(const struct cm_bval *v, const struct cm_bfield *f, struct cm_strlists *out,
		const char *path, struct cm_err *err)
{
	char ipath[PATH_MAX_BYTES];

	if (check_entries(v, f->max, path, err) != 0)
		return -1;
	if (v->len == 0)
		return 0;
	if ((out->items = calloc(v->len, sizeof(*out->items))) == NULL)
		return fail(err, path, "out of memory");
	out->len = v->len;
	for (size_t i = 0; i < v->len; i++) {
		path_item(ipath, path, i);
		if (decode_strlist(&v->items[i], f, &out->items[i], ipath, err) != 0)
			return -1;
	}
	return 0;
}

static int
decode_list(const struct cm_bval *v, const struct cm_bfield *f, struct cm_blist *out,
	    const char *path, struct cm_err *err)
{
	char ipath[PATH_MAX_BYTES];

	if (check_entries(v, f->max, path, err) != 0)
		return -1;
	if (v->len == 0)
		return 0;
	if ((out->items = calloc(v->len, f->sub->size)) == NULL)
		return fail(err, path, "out of memory");
	/* every item counts at once: calloc zeroed them, so a clear after a failure is safe */
	out->len = v->len;
	for (size_t i = 0; i < v->len; i++) {
		path_item(ipath, path, i);
		if (decode_dict(&v->items[i], f->sub, (char *)out->items + i * f->sub->size, ipath,
				err) != 0)
			return -1;
	}
	return 0;
}

static int
decode_int(const struct cm_bval *v, const struct cm_bfield *f, int64_t *out, const char *path,
	   struct cm_err *err)
{
	if (v->kind != CM_BINT)
		return fail(err, path, "not an integer");
	if ((f->min != 0 || f->max != 0) && (v->i < f->min || v->i > f->max)) {
		cm_err_set(err, "%s: %" PRId64 " is not in %" PRId64 "..%" PRId64, path, v->i,
			   f->min, f->max);
		return -1;
	}
	*out = v->i;
	return 0;
}

static int
decode_field(const struct cm_bval *v, const struct cm_bfield *f, void *base, const char *path,
	     struct cm_err *err)
{
	struct cm_bbytes *b;

	switch (f->kind) {
	case CB_INT:
		return decode_int(v, f, AT(base, f->off, int64_t), path, err);
	case CB_STR:
		return decode_cstr(v, (size_t)f->max, AT(base, f->off, char *), path, err);
	case CB_BYTES:
		if (v->kind != CM_BSTR)
			return fail(err, path, "not a string");
		if (v->len < (uint64_t)f->min || (f->max > 0 && v->len > (uint64_t)f->max)) {
			cm_err_set(err, "%s: %zu bytes, not in %" PRId64 "..%" PRId64, path,
				   v->len, f->min, f->max);
			return -1;
		}
		if (f->item_max > 0 && v->len % f->item_max != 0) {
			cm_err_set(err, "%s: %zu bytes, not a multiple of %zu", path, v->len,
				   f->item_max);
			return -1;
		}
		return decode_bytes(v->s, v->len, AT(base, f->off, struct cm_bbytes), path, err);
	case CB_RAW:
		b = AT(base, f->off, struct cm_bbytes);
		return decode_bytes(v->raw, v->raw_len, b, path, err);
	case CB_STRLIST:
		return decode_strlist(v, f, AT(base, f->off, struct cm_strlist), path, err);
	case CB_STRLISTS:
		return decode_strlists(v, f, AT(base, f->off, struct cm_strlists), path, err);
	case CB_DICT:
		return decode_dict(v, f->sub, AT(base, f->off, void), path, err);
	case CB_LIST:
		return decode_list(v, f, AT(base, f->off, struct cm_blist), path, err);
	}
	return fail(err, path, "unknown field kind");
}

static int
decode_dict(const struct cm_bval *v, const struct cm_btype *t, void *out, const char *path,
	    struct cm_err *err)
{
	char fpath[PATH_MAX_BYTES];

	if (v->kind != CM_BDICT)
		return fail(err, path, "not a dictionary");
	for (size_t i = 0; i < t->nfields; i++) {
		const struct cm_bfield *f = &t->fields[i];
		const struct cm_bval *fv;

		if (f->flags & CB_OUT)
			continue;
		fv = cm_bdict_get(v, f->key);
		path_key(fpath, path, f->key);
		if (fv == NULL) {
			if (f->flags & CB_REQ)
				return fail(err, fpath, "missing");
			continue;
		}
		if (decode_field(fv, f, out, fpath, err) != 0)
			return -1;
		if (f->flags & CB_HAS)
			*AT(out, f->has_off, bool) = true;
	}
	return 0;
}

int
cm_bstruct_decode(const struct cm_bval *v, const struct cm_btype *t, void *out,
		  struct cm_err *err)
{
	memset(out, 0, t->size);
	if (decode_dict(v, t, out, t->name, err) != 0) {
		cm_bstruct_clear(t, out);
		return -1;
	}
	return 0;
}

/* ---- encoding ---- */

static void
encode_strlist(struct cm_benc *e, const struct cm_strlist *l)
{
	cm_benc_list(e);
	for (size_t i = 0; i < l->len; i++)
		cm_benc_cstr(e, l->items[i]);
	cm_benc_end(e);
}

/* Whether f is to be written; a required field that cannot be fails the encoding. */
static bool
present(struct cm_benc *e, const struct cm_bfield *f, const void *in)
{
	bool there = true;

	if (f->flags & CB_HAS)
		return *AT_C(in, f->has_off, bool);
	switch (f->kind) {
	case CB_INT:
	case CB_DICT:
		return true;
	case CB_STR:
		there = *AT_C(in, f->off, char *) != NULL;
		break;
	case CB_BYTES:
	case CB_RAW:
		there = AT_C(in, f->off, struct cm_bbytes)->data != NULL;
		break;
	case CB_STRLIST:
		there = AT_C(in, f->off, struct cm_strlist)->len > 0;
		break;
	case CB_STRLISTS:
		there = AT_C(in, f->off, struct cm_strlists)->len > 0;
		break;
	case CB_LIST:
		there = AT_C(in, f->off, struct cm_blist)->len > 0;
		break;
	}
	if (!there && (f->flags & CB_REQ)) {
		/* a list may be empty; a string or bytes cannot be written from NULL */
		if (f->kind == CB_STRLIST || f->kind == CB_STRLISTS || f->kind == CB_LIST)
			return true;
		e->failed = true;
	}
	return there;
}

static void
encode_field(struct cm_benc *e, const struct cm_bfield *f, const void *in)
{
	const struct cm_bbytes *b;
	const struct cm_strlists *ls;
	const struct cm_blist *l;

	switch (f->kind) {
	case CB_INT:
		cm_benc_int(e, *AT_C(in, f->off, int64_t));
		break;
	case CB_STR:
		cm_benc_cstr(e, *AT_C(in, f->off, char *));
		break;
	case CB_BYTES:
		b = AT_C(in, f->off, struct cm_bbytes);
		cm_benc_str(e, b->data, b->len);
		break;
	case CB_RAW:
		b = AT_C(in, f->off, struct cm_bbytes);
		cm_benc_raw(e, b->data, b->len);
		break;
	case CB_STRLIST:
		encode_strlist(e, AT_C(in, f->off, struct cm_strlist));
		break;
	case CB_STRLISTS:
		ls = AT_C(in, f->off, struct cm_strlists);
		cm_benc_list(e);
		for (size_t i = 0; i < ls->len; i++)
			encode_strlist(e, &ls->items[i]);
		cm_benc_end(e);
		break;
	case CB_DICT:
		cm_bstruct_encode(e, f->sub, AT_C(in, f->off, void));
		break;
	case CB_LIST:
		l = AT_C(in, f->off, struct cm_blist);
		cm_benc_list(e);
		for (size_t i = 0; i < l->len; i++)
			cm_bstruct_encode(e, f->sub, (const char *)l->items + i * f->sub->size);
		cm_benc_end(e);
		break;
	}
}

void
cm_bstruct_encode(struct cm_benc *e, const struct cm_btype *t, const void *in)
{
	cm_benc_dict(e);
	for (size_t i = 0; i < t->nfields; i++) {
		const struct cm_bfield *f = &t->fields[i];

		if (!present(e, f, in))
			continue;
		cm_benc_key(e, f->key);
		encode_field(e, f, in);
	}
	cm_benc_end(e);
}

/* ---- clear and check ---- */

static void
clear_field(const struct cm_bfield *f, void *in)
{
	struct cm_strlists *ls;
	struct cm_blist *l;
	struct cm_bbytes *b;

	switch (f->kind) {
	case CB_INT:
		break;
	case CB_STR:
		free(*AT(in, f->off, char *));
		break;
	case CB_BYTES:
	case CB_RAW:
		b = AT(in, f->off, struct cm_bbytes);
		free(b->data);
		break;
	case CB_STRLIST:
		cm_strlist_clear(AT(in, f->off, struct cm_strlist));
		break;
	case CB_STRLISTS:
		ls = AT(in, f->off, struct cm_strlists);
		for (size_t i = 0; i < ls->len; i++)
			cm_strlist_clear(&ls->items[i]);
		free(ls->items);
		break;
	case CB_DICT:
		cm_bstruct_clear(f->sub, AT(in, f->off, void));
		break;
	case CB_LIST:
		l = AT(in, f->off, struct cm_blist);
		for (size_t i = 0; i < l->len; i++)
			cm_bstruct_clear(f->sub, (char *)l->items + i * f->sub->size);
		free(l->items);
		break;
	}
}

void
cm_bstruct_clear(const struct cm_btype *t, void *in)
{
	for (size_t i = 0; i < t->nfields; i++)
		clear_field(&t->fields[i], in);
	memset(in, 0, t->size);
}

int
cm_btype_check(const struct cm_btype *t, struct cm_err *err)
{
	for (size_t i = 0; i < t->nfields; i++) {
		const struct cm_bfield *f = &t->fields[i];

		if (i > 0 && strcmp(t->fields[i - 1].key, f->key) >= 0) {
			cm_err_set(err, "%s: \"%s\" after \"%s\"", t->name, f->key,
				   t->fields[i - 1].key);
			return -1;
		}
		if (f->kind != CB_DICT && f->kind != CB_LIST)
			continue;
		if (f->sub == NULL) {
			cm_err_set(err, "%s.%s: no sub-table", t->name, f->key);
			return -1;
		}
		if (cm_btype_check(f->sub, err) != 0)
			return -1;
	}
	return 0;
}
