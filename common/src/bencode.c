/*
 * bencode.c - the bencode codec (see bencode.h).
 *
 * Decoding takes two passes over the input. The first checks every rule and
 * counts the values and, for each list or dictionary in document order, its
 * entries; the second builds the tree into one allocation sized from those
 * counts, so a document is one malloc and one free, and the builder need not
 * check anything again. Both passes recurse, at most max_depth deep.
 */
#include "fb/bencode.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/buf.h"

#define DEFAULT_MAX_BYTES (16u << 20)
#define DEFAULT_MAX_DEPTH 32
#define DEFAULT_MAX_VALUES 1000000u

struct cm_bdoc {
	struct cm_bval root;
	size_t nslots;
	struct cm_bval slots[]; /* every list's items and every dictionary's keys and items */
};

struct scan {
	const unsigned char *p;
	size_t len, pos;
	size_t max_values;
	int max_depth;
	size_t values;  /* every value, keys included */
	size_t slots;   /* entries of containers (twice for a dictionary: keys and items) */
	size_t *counts; /* entries of each container, in document order */
	size_t ncounts, capcounts;
	struct cm_err *err;
};

static int
scan_fail(struct scan *s, size_t at, const char *rule)
{
	cm_err_set(s->err, "at %zu: %s", at, rule);
	return -1;
}

/* Reads the digits of a length or an integer up to stop; canonical form only. */
static int
scan_digits(struct scan *s, unsigned char stop, uint64_t limit, uint64_t *out, const char *what)
{
	size_t start = s->pos;
	uint64_t v = 0;

	while (s->pos < s->len && s->p[s->pos] >= '0' && s->p[s->pos] <= '9') {
		unsigned d = (unsigned)(s->p[s->pos] - '0');

		if (v > (limit - d) / 10) {
			cm_err_set(s->err, "at %zu: %s out of range", start, what);
			return -1;
		}
		v = v * 10 + d;
		s->pos++;
	}
	if (s->pos == s->len)
		return scan_fail(s, s->pos, "truncated input");
	if (s->pos == start) {
		cm_err_set(s->err, "at %zu: %s without digits", start, what);
		return -1;
	}
	if (s->p[s->pos] != stop) {
		cm_err_set(s->err, "at %zu: unexpected byte 0x%02x in %s", s->pos, s->p[s->pos], what);
		return -1;
	}
	if (s->p[start] == '0' && s->pos - start > 1) {
		cm_err_set(s->err, "at %zu: %s with a leading zero", start, what);
		return -1;
	}
	s->pos++; /* the stop byte */
	*out = v;
	return 0;
}

static int
scan_int(struct scan *s)
{
	size_t start = s->pos;
	bool neg = false;
	uint64_t v;

	s->pos++; /* 'i' */
	if (s->pos < s->len && s->p[s->pos] == '-') {
		neg = true;
		s->pos++;
	}
	if (scan_digits(s, 'e', neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &v,
			"integer") != 0)
		return -1;
	if (neg && v == 0)
		return scan_fail(s, start, "integer \"-0\"");
	return 0;
}

/* A string's extent: its bytes start at *data and take *n. */
static int
scan_str(struct scan *s, size_t *data, size_t *n)
{
	size_t start = s->pos;
	uint64_t v;

	if (scan_digits(s, ':', SIZE_MAX, &v, "string length") != 0)
		return -1;
	if (v > s->len - s->pos) {
		cm_err_set(s->err, "at %zu: string of %" PRIu64 " bytes past the end of input", start,
			   v);
		return -1;
	}
	*data = s->pos;
	*n = (size_t)v;
	s->pos += (size_t)v;
	return 0;
}

static int
scan_count(struct scan *s, size_t *slot)
{
	if (s->ncounts == s->capcounts) {
		size_t cap = s->capcounts ? 2 * s->capcounts : 64;
		size_t *grown = realloc(s->counts, cap * sizeof(*grown));

		if (grown == NULL)
			return scan_fail(s, s->pos, "out of memory");
		s->counts = grown;
		s->capcounts = cap;
	}
	*slot = s->ncounts++;
	s->counts[*slot] = 0;
	return 0;
}

static int scan_value(struct scan *s, int depth);

static int
scan_key_order(struct scan *s, size_t at, const unsigned char *prev, size_t prev_n,
	       const unsigned char *key, size_t n)
{
	size_t m = prev_n < n ? prev_n : n;
	int c = memcmp(prev, key, m);

	if (c == 0 && prev_n == n)
		return scan_fail(s, at, "duplicate dictionary key");
	if (c > 0 || (c == 0 && prev_n > n))
		return scan_fail(s, at, "dictionary keys out of order");
	return 0;
}

static int
scan_container(struct scan *s, int depth)
{
	bool dict = s->p[s->pos] == 'd';
	const unsigned char *prev = NULL;
	size_t prev_n = 0, slot, n = 0;

	if (depth >= s->max_depth) {
		cm_err_set(s->err, "at %zu: nesting deeper than %d", s->pos, s->max_depth);
		return -1;
	}
	if (scan_count(s, &slot) != 0)
		return -1;
	s->pos++;
	for (;;) {
		if (s->pos == s->len)
			return scan_fail(s, s->pos, "truncated input");
		if (s->p[s->pos] == 'e')
			break;
		if (dict) {
			size_t at = s->pos, data, kn;

			if (s->p[at] < '0' || s->p[at] > '9')
				return scan_fail(s, at, "dictionary key not a string");
			if (++s->values > s->max_values)
				goto too_many;
			if (scan_str(s, &data, &kn) != 0)
				return -1;
			if (prev != NULL && scan_key_order(s, at, prev, prev_n, s->p + data, kn) != 0)
				return -1;
			prev = s->p + data;
			prev_n = kn;
			if (s->pos == s->len)
				return scan_fail(s, s->pos, "truncated input");
			if (s->p[s->pos] == 'e')
				return scan_fail(s, s->pos, "dictionary key without a value");
		}
		if (scan_value(s, depth + 1) != 0)
			return -1;
		n++;
	}
	s->pos++; /* 'e' */
	s->counts[slot] = n;
	s->slots += dict ? 2 * n : n;
	return 0;
too_many:
	cm_err_set(s->err, "at %zu: more than %zu values", s->pos, s->max_values);
	return -1;
}

static int
scan_value(struct scan *s, int depth)
{
	unsigned char c;

	if (s->pos == s->len)
		return scan_fail(s, s->pos, "truncated input");
	if (++s->values > s->max_values) {
		cm_err_set(s->err, "at %zu: more than %zu values", s->pos, s->max_values);
		return -1;
	}
	c = s->p[s->pos];
	if (c == 'i')
		return scan_int(s);
	if (c == 'l' || c == 'd')
		return scan_container(s, depth);
	if (c >= '0' && c <= '9') {
		size_t data, n;

		return scan_str(s, &data, &n);
	}
	cm_err_set(s->err, "at %zu: unexpected byte 0x%02x", s->pos, c);
	return -1;
}

/* ---- the second pass: the input is known good ---- */

struct build {
	const unsigned char *p;
	size_t pos;
	const size_t *counts;
	size_t next_count;
	struct cm_bval *slots;
	size_t next_slot;
};

static uint64_t
build_digits(struct build *b)
{
	uint64_t v = 0;

	while (b->p[b->pos] >= '0' && b->p[b->pos] <= '9')
		v = v * 10 + (uint64_t)(b->p[b->pos++] - '0');
	b->pos++; /* the stop byte */
	return v;
}

static void
build_value(struct build *b, struct cm_bval *v)
{
	size_t start = b->pos;
	unsigned char c = b->p[b->pos];

	memset(v, 0, sizeof(*v));
	if (c == 'i') {
		bool neg;
		uint64_t u;

		b->pos++;
		neg = b->p[b->pos] == '-';
		b->pos += neg;
		u = build_digits(b);
		v->kind = CM_BINT;
		/* -(INT64_MAX + 1) is INT64_MIN: negate in unsigned arithmetic */
		v->i = neg ? (int64_t)(0 - u) : (int64_t)u;
	} else if (c == 'l' || c == 'd') {
		size_t n = b->counts[b->next_count++];

		v->kind = c == 'l' ? CM_BLIST : CM_BDICT;
		v->len = n;
		if (n > 0) {
			v->items = b->slots + b->next_slot;
			b->next_slot += n;
			if (c == 'd') {
				v->keys = b->slots + b->next_slot;
				b->next_slot += n;
			}
		}
		b->pos++;
		for (size_t i = 0; i < n; i++) {
			if (c == 'd')
				build_value(b, &v->keys[i]);
			build_value(b, &v->items[i]);
		}
		b->pos++; /* 'e' */
	} else {
		size_t n = (size_t)build_digits(b);

		v->kind = CM_BSTR;
		v->s = b->p + b->pos;
		v->len = n;
		b->pos += n;
	}
	v->raw = b->p + start;
	v->raw_len = b->pos - start;
}

static struct cm_bdoc *
decode(const void *buf, size_t len, const struct cm_blimits *lim, bool prefix, size_t *used,
       struct cm_err *err)
{
	struct scan s = {.p = buf, .len = len, .err = err};
	size_t max_bytes = DEFAULT_MAX_BYTES;
	struct cm_bdoc *d = NULL;
	struct build b;

	s.max_depth = DEFAULT_MAX_DEPTH;
	s.max_values = DEFAULT_MAX_VALUES;
	if (lim != NULL) {
		if (lim->max_bytes > 0)
			max_bytes = lim->max_bytes;
		if (lim->max_depth > 0)
			s.max_depth = lim->max_depth;
		if (lim->max_values > 0)
			s.max_values = lim->max_values;
	}
	if (len > max_bytes) {
		cm_err_set(err, "input of %zu bytes, more than %zu", len, max_bytes);
		return NULL;
	}
	if (scan_value(&s, 0) != 0)
		goto end;
	if (!prefix && s.pos != len) {
		scan_fail(&s, s.pos, "trailing bytes after the value");
		goto end;
	}
	/* slots <= values <= max_values, so the size cannot overflow for sane limits */
	if (s.slots > (SIZE_MAX - sizeof(*d)) / sizeof(d->slots[0]) ||
	    (d = malloc(sizeof(*d) + s.slots * sizeof(d->slots[0]))) == NULL) {
		cm_err_set(err, "out of memory for %zu values", s.values);
		goto end;
	}
	d->nslots = s.slots;
	b = (struct build){.p = buf, .counts = s.counts, .slots = d->slots};
	build_value(&b, &d->root);
	if (used != NULL)
		*used = s.pos;
end:
	free(s.counts);
	return d;
}

struct cm_bdoc *
cm_bdecode(const void *buf, size_t len, const struct cm_blimits *lim, struct cm_err *err)
{
	return decode(buf, len, lim, false, NULL, err);
}

struct cm_bdoc *
cm_bdecode_prefix(const void *buf, size_t len, const struct cm_blimits *lim, size_t *used,
		  struct cm_err *err)
{
	return decode(buf, len, lim, true, used, err);
}

const struct cm_bval *
cm_bdoc_root(const struct cm_bdoc *d)
{
	return &d->root;
}

void
cm_bdoc_free(struct cm_bdoc *d)
{
	free(d);
}

const struct cm_bval *
cm_bdict_get(const struct cm_bval *dict, const char *key)
{
	size_t n = strlen(key), lo = 0, hi;

	if (dict == NULL || dict->kind != CM_BDICT)
		return NULL;
	hi = dict->len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct cm_bval *k = &dict->keys[mid];
		size_t m = k->len < n ? k->len : n;
		int c = memcmp(k->s, key, m);

		if (c == 0)
			c = (k->len > n) - (k->len < n);
		if (c == 0)
			return &dict->items[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- encoding ---- */

void
cm_benc_init(struct cm_benc *e, size_t max)
{
	memset(e, 0, sizeof(*e));
	e->max = max;
}

static void
put(struct cm_benc *e, const void *data, size_t n)
{
	if (!e->failed && cm_buf_append(&e->buf, &e->len, e->max, data, n) != 0)
		e->failed = true;
}

/* Before any value: inside a dictionary it must answer a key. */
static bool
value_allowed(struct cm_benc *e)
{
	if (e->failed)
		return false;
	if (e->depth > 0 && e->open[e->depth - 1].dict) {
		if (!e->open[e->depth - 1].key_pending) {
			e->failed = true;
			return false;
		}
		e->open[e->depth - 1].key_pending = false;
	}
	return true;
}

void
cm_benc_int(struct cm_benc *e, int64_t v)
{
	char text[32];
	int n;

	if (!value_allowed(e))
		return;
	n = snprintf(text, sizeof(text), "i%" PRId64 "e", v);
	put(e, text, (size_t)n);
}

static void
put_str(struct cm_benc *e, const void *s, size_t n)
{
	char text[32];
	int k = snprintf(text, sizeof(text), "%zu:", n);

	put(e, text, (size_t)k);
	put(e, s, n);
}

void
cm_benc_str(struct cm_benc *e, const void *s, size_t n)
{
	if (value_allowed(e))
		put_str(e, s, n);
}

void
cm_benc_cstr(struct cm_benc *e, const char *s)
{
	cm_benc_str(e, s, strlen(s));
}

static void
open_container(struct cm_benc *e, bool dict)
{
	if (!value_allowed(e))
		return;
	if (e->depth == CM_BENC_MAX_DEPTH) {
		e->failed = true;
		return;
	}
	memset(&e->open[e->depth], 0, sizeof(e->open[0]));
	e->open[e->depth].dict = dict;
	e->depth++;
	put(e, dict ? "d" : "l", 1);
}

void
cm_benc_list(struct cm_benc *e)
{
	open_container(e, false);
}

void
cm_benc_dict(struct cm_benc *e)
{
	open_container(e, true);
}

void
cm_benc_key(struct cm_benc *e, const char *key)
{
	cm_benc_key_n(e, key, strlen(key));
}

void
cm_benc_key_n(struct cm_benc *e, const void *key, size_t n)
{
	struct cm_benc_open *o;

	if (e->failed)
		return;
	if (e->depth == 0 || !(o = &e->open[e->depth - 1])->dict || o->key_pending) {
		e->failed = true;
		return;
	}
	if (o->has_key) {
		size_t m = o->key_len < n ? o->key_len : n;
		int c = memcmp(e->buf + o->key_off, key, m);

		if (c > 0 || (c == 0 && o->key_len >= n)) {
			e->failed = true;
			return;
		}
	}
	put_str(e, key, n);
	if (e->failed)
		return;
	o->has_key = true;
	o->key_pending = true;
	o->key_off = e->len - n;
	o->key_len = n;
}

void
cm_benc_end(struct cm_benc *e)
{
	if (e->failed)
		return;
	if (e->depth == 0 || e->open[e->depth - 1].key_pending) {
		e->failed = true;
		return;
	}
	e->depth--;
	put(e, "e", 1);
}

void
cm_benc_raw(struct cm_benc *e, const void *bytes, size_t n)
{
	if (value_allowed(e))
		put(e, bytes, n);
}

void
cm_benc_value(struct cm_benc *e, const struct cm_bval *v)
{
	switch (v->kind) {
	case CM_BINT:
		cm_benc_int(e, v->i);
		break;
	case CM_BSTR:
		cm_benc_str(e, v->s, v->len);
		break;
	case CM_BLIST:
		cm_benc_list(e);
		for (size_t i = 0; i < v->len; i++)
			cm_benc_value(e, &v->items[i]);
		cm_benc_end(e);
		break;
	case CM_BDICT:
		cm_benc_dict(e);
		for (size_t i = 0; i < v->len; i++) {
			cm_benc_key_n(e, v->keys[i].s, v->keys[i].len);
			cm_benc_value(e, &v->items[i]);
		}
		cm_benc_end(e);
		break;
	}
}

int
cm_benc_finish(struct cm_benc *e, char **out, size_t *out_len)
{
	if (e->failed || e->depth != 0 || e->buf == NULL) {
		cm_benc_clear(e);
		return -1;
	}
	*out = e->buf;
	*out_len = e->len;
	e->buf = NULL;
	e->len = 0;
	return 0;
}

void
cm_benc_clear(struct cm_benc *e)
{
	free(e->buf);
	e->buf = NULL;
	e->len = 0;
	e->depth = 0;
}
