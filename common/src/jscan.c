/*
 * jscan.c - the bounded JSON scanner (see fb/jscan.h). It follows Jansson's
 * parser rule for rule where the codec relies on it: RFC 8259 grammar,
 * strict UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF),
 * escapes with paired surrogates and no \u0000, integers within int64,
 * whitespace of space, tab, CR and LF only, nothing after the document, and
 * JSON_REJECT_DUPLICATES. What it does not decide (reals, escaped keys, deep
 * or wide documents) it refuses, so a caller falls back to the full parse.
 */
#include "fb/jscan.h"

#include <string.h>

struct want {
	const char *key[CM_JSCAN_MAX_PATH];
	size_t klen[CM_JSCAN_MAX_PATH];
	size_t nkeys;
};

struct scan {
	const unsigned char *p, *end, *start;
	struct want wants[CM_JSCAN_MAX_WANTS];
	struct cm_jscan_value *values;
	size_t n;
};

/* Bytes that stand for themselves inside a string: printable ASCII but '"' and '\\'. */
static const unsigned char plain[256] = {
	[0x20 ... 0x21] = 1,
	[0x23 ... 0x5B] = 1,
	[0x5D ... 0x7F] = 1,
};

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* One UTF-8 sequence of two to four bytes at p: the byte after it, or NULL. */
static const unsigned char *
utf8_skip(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	uint32_t cp;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, cp = c & 0x07;
	else
		return NULL;
	if ((size_t)(end - p) < n)
		return NULL;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return NULL;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return NULL;
	return p + n;
}

/* The four hex digits after "\u" at p (p at the backslash), or -1. */
static long
hex4(const unsigned char *p, const unsigned char *end)
{
	long v = 0;

	if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++) {
		unsigned char ch = p[i];

		v <<= 4;
		if (ch >= '0' && ch <= '9')
			v |= ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			v |= ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			v |= ch - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* A \u escape at p: past it (a surrogate pair is one), or NULL for what Jansson refuses. */
static const unsigned char *
unicode_escape(const unsigned char *p, const unsigned char *end)
{
	long v = hex4(p, end), low;

	if (v <= 0 || (v >= 0xDC00 && v <= 0xDFFF))
		return NULL; /* \u0000 is refused too */
	if (v < 0xD800 || v > 0xDBFF)
		return p + 6;
	low = hex4(p + 6, end);
	return low >= 0xDC00 && low <= 0xDFFF ? p + 12 : NULL;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/*
 * Past the bytes from p on that stand for themselves, eight at a time while
 * none of the eight is '"', '\\', a control character or past ASCII
 * (certificates and signatures are most of a frame's text).
 */
static const unsigned char *
skip_plain(const unsigned char *p, const unsigned char *end)
{
	while (end - p >= 8) {
		uint64_t w, quote, slash;

		memcpy(&w, p, 8);
		quote = w ^ (ONES * '"');
		slash = w ^ (ONES * '\\');
		/* A byte under 0x20, equal to one of the two, or with its high bit set. */
		if ((((w - ONES * 0x20) & ~w) | ((quote - ONES) & ~quote) | ((slash - ONES) & ~slash) |
		     w) &
		    HIGHS)
			break;
		p += 8;
	}
	while (p < end && plain[*p])
		p++;
	return p;
}

/* The string at s->p (its opening quote) into v. */
static int
scan_string(struct scan *s, struct cm_jscan_value *v)
{
	const unsigned char *p = s->p + 1, *end = s->end;

	v->kind = CM_JSCAN_STRING;
	v->text = (const char *)p;
	v->escaped = false;
	for (;;) {
		p = skip_plain(p, end);
		if (p >= end)
			return -1;
		if (*p == '"')
			break;
		if (*p >= 0x80) {
			p = utf8_skip(p, end);
		} else if (*p != '\\' || p + 1 >= end) {
			return -1; /* a control character, or a cut escape */
		} else {
			v->escaped = true;
			switch (p[1]) {
			case 'u':
				p = unicode_escape(p, end);
				break;
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				p += 2;
				break;
			default:
				return -1;
			}
		}
		if (p == NULL)
			return -1;
	}
	v->len = (size_t)(p - (const unsigned char *)v->text);
	s->p = p + 1;
	return 0;
}

/* An integer at s->p into v; a real is refused (not decided here), as is what int64 cannot hold. */
static int
scan_number(struct scan *s, struct cm_jscan_value *v)
{
	const unsigned char *p = s->p, *end = s->end;
	uint64_t mag = 0;
	bool neg = p < end && *p == '-';

	if (neg)
		p++;
	if (p >= end || *p < '0' || *p > '9')
		return -1;
	if (*p == '0') {
		if (++p < end && *p >= '0' && *p <= '9')
			return -1;
	} else {
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (mag > ((uint64_t)INT64_MAX + 1) / 10)
				return -1;
			mag = mag * 10 + (uint64_t)(*p - '0');
		}
	}
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
		return -1;
	if (mag > (uint64_t)INT64_MAX + (neg ? 1 : 0))
		return -1;
	v->kind = CM_JSCAN_INTEGER;
	v->integer = !neg ? (int64_t)mag : mag > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)mag;
	s->p = p;
	return 0;
}

static int scan_value(struct scan *s, unsigned through, unsigned hit, size_t depth);

/* Adds the wants of mask whose key at depth is k (len bytes) to those that stop here or go on. */
static void
match_key(const struct scan *s, unsigned mask, size_t depth, const char *k, size_t len,
	  unsigned *hit, unsigned *through)
{
	for (size_t i = 0; mask != 0; i++, mask >>= 1) {
		const struct want *w = &s->wants[i];

		if (!(mask & 1) || w->klen[depth] != len || memcmp(w->key[depth], k, len) != 0)
			continue;
		if (w->nkeys == depth + 1)
			*hit |= 1u << i;
		else
			*through |= 1u << i;
	}
}

/* The object at s->p; mask: the wants whose first depth keys led here. */
static int
scan_object(struct scan *s, unsigned mask, size_t depth)
{
	uint32_t keys[CM_JSCAN_MAX_KEYS][2]; /* offset from the start, length */
	size_t nkeys = 0;
	struct cm_jscan_value k;
	unsigned hit, through;

	if (depth >= CM_JSCAN_MAX_DEPTH)
		return -1;
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		if (s->p >= s->end || *s->p != '"' || scan_string(s, &k) != 0 || k.escaped ||
		    nkeys == CM_JSCAN_MAX_KEYS)
			return -1;
		for (size_t i = 0; i < nkeys; i++)
			if (keys[i][1] == k.len &&
			    (k.len == 0 || (s->start[keys[i][0]] == (unsigned char)*k.text &&
					    memcmp(s->start + keys[i][0], k.text, k.len) == 0)))
				return -1; /* a duplicate key: Jansson refuses the document */
		keys[nkeys][0] = (uint32_t)((const unsigned char *)k.text - s->start);
		keys[nkeys++][1] = (uint32_t)k.len;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return -1;
		s->p++;
		hit = through = 0;
		if (mask != 0)
			match_key(s, mask, depth, k.text, k.len, &hit, &through);
		if (scan_value(s, through, hit, depth + 1) != 0)
			return -1;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			skip_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		return -1;
	}
}

static int
scan_array(struct scan *s, size_t depth)
{
	if (depth >= CM_JSCAN_MAX_DEPTH)
		return -1;
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (;;) {
		if (scan_value(s, 0, 0, depth + 1) != 0)
			return -1;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			return 0;
		}
		return -1;
	}
}

static int
scan_literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

/*
 * One value at s->p (whitespace first). through: the wants that go on
 * inside it (an object); hit: the wants it is the value of.
 */
static int
scan_value(struct scan *s, unsigned through, unsigned hit, size_t depth)
{
	struct cm_jscan_value v = {.kind = CM_JSCAN_OTHER};
	int rc;

	skip_ws(s);
	v.text = (const char *)s->p;
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '{':
		rc = scan_object(s, through, depth);
		break;
	case '[':
		rc = scan_array(s, depth);
		break;
	case '"':
		rc = scan_string(s, &v);
		break;
	case 't':
		rc = scan_literal(s, "true");
		break;
	case 'f':
		rc = scan_literal(s, "false");
		break;
	case 'n':
		rc = scan_literal(s, "null");
		break;
	default:
		rc = scan_number(s, &v);
	}
	if (rc != 0)
		return -1;
	if (v.kind == CM_JSCAN_OTHER)
		v.len = (size_t)(s->p - (const unsigned char *)v.text);
	for (size_t i = 0; hit != 0; i++, hit >>= 1)
		if (hit & 1)
			s->values[i] = v;
	return 0;
}

/* paths[i] into its keys; -1 when it has none or too many. */
static int
split_path(struct want *w, const char *path)
{
	w->nkeys = 0;
	for (const char *k = path;; k++) {
		const char *dot = strchr(k, '.');
		size_t len = dot != NULL ? (size_t)(dot - k) : strlen(k);

		if (w->nkeys == CM_JSCAN_MAX_PATH)
			return -1;
		w->key[w->nkeys] = k;
		w->klen[w->nkeys++] = len;
		if (dot == NULL)
			return 0;
		k = dot;
	}
}

int
cm_jscan(const char *buf, size_t len, const char *const *paths, struct cm_jscan_value *values,
	 size_t n)
{
	struct scan s;

	if (n > CM_JSCAN_MAX_WANTS)
		return -1;
	s.p = s.start = (const unsigned char *)buf;
	s.end = s.p + len;
	s.values = values;
	s.n = n;
	for (size_t i = 0; i < n; i++) {
		memset(&values[i], 0, sizeof(values[i]));
		if (split_path(&s.wants[i], paths[i]) != 0)
			return -1;
	}
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{' || scan_object(&s, (1u << n) - 1, 0) != 0)
		return -1;
	skip_ws(&s);
	return s.p == s.end ? 0 : -1;
}
