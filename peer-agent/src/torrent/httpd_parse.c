/*
 * httpd_parse.c - the HTTP port's parsers (see httpd_internal.h): request
 * heads, Range, percent-escapes and the /announce query. Pure: bytes in,
 * structs out; every length is checked before it is used.
 */
#include "torrent/httpd_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fb/hex.h"

/* Whether the n bytes at s are a header name: an HTTP token. */
static bool
is_token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c) != NULL)
			return false;
	}
	return true;
}

static int
parse_request_line(const char *line, size_t len, struct tr_http_head *out, struct cm_err *err)
{
	const char *sp1 = memchr(line, ' ', len), *sp2, *ver;
	size_t mlen, tlen, vlen;

	if (sp1 == NULL || (sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line))) == NULL) {
		cm_err_set(err, "malformed request line");
		return 400;
	}
	mlen = (size_t)(sp1 - line);
	tlen = (size_t)(sp2 - sp1 - 1);
	ver = sp2 + 1;
	vlen = len - (size_t)(ver - line);
	if (!is_token(line, mlen) || tlen == 0 || memchr(sp1 + 1, '\0', tlen) != NULL) {
		cm_err_set(err, "malformed request line");
		return 400;
	}
	if (vlen != 8 || strncmp(ver, "HTTP/1.", 7) != 0 || (ver[7] != '0' && ver[7] != '1')) {
		cm_err_set(err, "not HTTP/1.0 or HTTP/1.1");
		return vlen == 8 && strncmp(ver, "HTTP/", 5) == 0 ? 505 : 400;
	}
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)sp1[1 + i];

		if (c <= ' ' || c >= 0x7f) {
			cm_err_set(err, "a control or non-ASCII byte in the target");
			return 400;
		}
	}
	if (tlen >= sizeof(out->target)) {
		cm_err_set(err, "request target longer than %zu bytes", sizeof(out->target) - 1);
		return 414;
	}
	memcpy(out->target, sp1 + 1, tlen);
	out->target[tlen] = '\0';
	out->http10 = ver[7] == '0';
	if (mlen == 3 && memcmp(line, "GET", 3) == 0)
		out->method = TR_HTTP_GET;
	else if (mlen == 4 && memcmp(line, "HEAD", 4) == 0)
		out->method = TR_HTTP_HEAD;
	else if (mlen == 7 && memcmp(line, "OPTIONS", 7) == 0)
		out->method = TR_HTTP_OPTIONS;
	else
		out->method = TR_HTTP_OTHER;
	return 0;
}

/* Whether the value (n bytes) lists token tok, comma-separated, any case. */
static bool
has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);

	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && v[j] != ',')
			j++;
		size_t a = i, b = j;

		while (a < b && (v[a] == ' ' || v[a] == '\t'))
			a++;
		while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (b - a == tl && strncasecmp(v + a, tok, tl) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

static int
parse_header(const char *line, size_t len, struct tr_http_head *out, struct cm_err *err)
{
	const char *colon = memchr(line, ':', len), *v;
	size_t nlen, vlen;

	if (colon == NULL || !is_token(line, (size_t)(colon - line))) {
		cm_err_set(err, "malformed header line");
		return 400;
	}
	nlen = (size_t)(colon - line);
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)v[i];

		if ((c < ' ' && c != '\t') || c == 0x7f) {
			cm_err_set(err, "a control byte in a header value");
			return 400;
		}
	}
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(line, name, nlen) == 0)
	if (IS("Content-Length")) {
		if (vlen != 1 || v[0] != '0')
			out->has_body = true;
	} else if (IS("Transfer-Encoding")) {
		out->has_body = true;
	} else if (IS("Connection")) {
		if (has_token(v, vlen, "close"))
			out->close = true;
	} else if (IS("Range")) {
		if (out->range[0] != '\0' || out->range_too_long) {
			cm_err_set(err, "more than one Range header");
			return 400;
		}
		if (vlen >= sizeof(out->range)) {
			out->range_too_long = true;
		} else {
			memcpy(out->range, v, vlen);
			out->range[vlen] = '\0';
		}
	}
#undef IS
	return 0;
}

int
tr_http_parse_head(const char *head, size_t len, struct tr_http_head *out, struct cm_err *err)
{
	size_t pos = 0;
	int nheaders = 0, rc;

	memset(out, 0, sizeof(*out));
	if (len > TR_HTTPD_MAX_HEAD) {
		cm_err_set(err, "request head longer than %d bytes", TR_HTTPD_MAX_HEAD);
		return 431;
	}
	while (pos < len) {
		const char *line = head + pos, *nl = memchr(line, '\n', len - pos);
		size_t llen = nl != NULL ? (size_t)(nl - line) : len - pos;

		pos += llen + (nl != NULL ? 1 : 0);
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (line == head) {
			if (llen >= TR_HTTPD_MAX_LINE) {
				cm_err_set(err, "request line longer than %d bytes",
				           TR_HTTPD_MAX_LINE - 1);
				return 414;
			}
			if ((rc = parse_request_line(line, llen, out, err)) != 0)
				return rc;
			continue;
		}
		if (llen > 0 && (line[0] == ' ' || line[0] == '\t')) {
			cm_err_set(err, "folded header line");
			return 400;
		}
		if (++nheaders > TR_HTTPD_MAX_HEADERS) {
			cm_err_set(err, "more than %d header lines", TR_HTTPD_MAX_HEADERS);
			return 431;
		}
		if ((rc = parse_header(line, llen, out, err)) != 0)
			return rc;
	}
	if (out->target[0] == '\0') {
		cm_err_set(err, "empty request");
		return 400;
	}
	return 0;
}

/* Reads decimal digits at *p (at least one, no overflow past UINT64_MAX). -1 otherwise. */
static int
read_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

enum tr_range_kind
tr_http_parse_range(const char *value, uint64_t size, uint64_t *first, uint64_t *len)
{
	const char *p = value;
	uint64_t a, b;

	if (value == NULL || strncasecmp(p, "bytes=", 6) != 0)
		return TR_RANGE_NONE;
	p += 6;
	while (*p == ' ')
		p++;
	if (strchr(p, ',') != NULL)
		return TR_RANGE_NONE; /* several ranges: the whole file (RFC 9110 lets us ignore
		                         Range) */
	if (*p == '-') {
		p++;
		if (read_u64(&p, &b) != 0 || *p != '\0')
			return TR_RANGE_NONE;
		if (b == 0 || size == 0)
			return TR_RANGE_UNSATISFIABLE;
		*len = b < size ? b : size;
		*first = size - *len;
		return TR_RANGE_OK;
	}
	if (read_u64(&p, &a) != 0 || *p++ != '-')
		return TR_RANGE_NONE;
	if (*p == '\0') {
		b = UINT64_MAX;
	} else if (read_u64(&p, &b) != 0 || *p != '\0' || b < a) {
		return TR_RANGE_NONE;
	}
	if (a >= size)
		return TR_RANGE_UNSATISFIABLE;
	if (b >= size)
		b = size - 1;
	*first = a;
	*len = b - a + 1;
	return TR_RANGE_OK;
}

/* One "key=value" pair of the query, decoded; tells which of the keys it was. */
static int
announce_pair(const char *key, const char *val, size_t vlen, struct tr_announce_query *out,
              unsigned *seen, struct cm_err *err)
{
	static const char *const keys[] = {"info_hash", "peer_id",    "port",
	                                   "event",     "numwant",    "compact",
	                                   "uploaded",  "downloaded", "left"};
	size_t k;
	char *end;
	long long n;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]) && strcmp(key, keys[k]) != 0; k++)
		;
	if (k == sizeof(keys) / sizeof(keys[0]))
		return 0; /* key, trackerid, supportcrypto, ...: not ours to use */
	if (*seen & (1u << k)) {
		cm_err_set(err, "%s given twice", key);
		return -1;
	}
	*seen |= 1u << k;
	if (k > 1 && memchr(val, '\0', vlen) != NULL) {
		cm_err_set(err, "%s holds a NUL byte", key);
		return -1;
	}
	switch (k) {
	case 0:
		if (vlen != TR_HASH_LEN) {
			cm_err_set(err, "info_hash is %zu bytes, not %d", vlen, TR_HASH_LEN);
			return -1;
		}
		memcpy(out->info_hash, val, TR_HASH_LEN);
		cm_hex_encode(out->info_hash, TR_HASH_LEN, out->info_hash_hex);
		return 0;
	case 1:
		if (vlen != TR_HASH_LEN) {
			cm_err_set(err, "peer_id is %zu bytes, not %d", vlen, TR_HASH_LEN);
			return -1;
		}
		return 0;
	case 3:
		if (strcmp(val, "stopped") == 0)
			out->stopped = true;
		else if (val[0] != '\0' && strcmp(val, "started") != 0 &&
		         strcmp(val, "completed") != 0 && strcmp(val, "empty") != 0 &&
		         strcmp(val, "paused") != 0) {
			cm_err_set(err, "unknown event");
			return -1;
		}
		return 0;
	case 5:
		if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0) {
			cm_err_set(err, "compact is neither 0 nor 1");
			return -1;
		}
		return 0;
	default:
		break;
	}
	/* port, numwant, uploaded, downloaded, left: decimal numbers */
	if (val[0] < '0' || val[0] > '9' || vlen > 19 ||
	    (n = strtoll(val, &end, 10), *end != '\0')) {
		cm_err_set(err, "%s is not a number", key);
		return -1;
	}
	if (k == 2) {
		if (n < 1 || n > 65535) {
			cm_err_set(err, "port out of 1..65535");
			return -1;
		}
		out->port = (int)n;
	} else if (k == 4) {
		out->numwant = n > TR_HTTPD_MAX_NUMWANT ? TR_HTTPD_MAX_NUMWANT : (int)n;
	}
	return 0;
}

int
tr_announce_query_parse(const char *query, struct tr_announce_query *out, struct cm_err *err)
{
	unsigned seen = 0;
	const char *p = query;

	memset(out, 0, sizeof(*out));
	out->numwant = TR_HTTPD_NUMWANT;
	while (p != NULL && *p != '\0') {
		const char *amp = strchr(p, '&'), *eq;
		size_t plen = amp != NULL ? (size_t)(amp - p) : strlen(p), klen, dlen, vlen = 0;
		char key[32], val[TR_HTTPD_MAX_LINE];

		eq = memchr(p, '=', plen);
		klen = eq != NULL ? (size_t)(eq - p) : plen;
		if (plen > 0 &&
		    (cm_percent_decode(p, klen, true, key, sizeof(key), &dlen) != 0 ||
		     memchr(key, '\0', dlen) != NULL ||
		     cm_percent_decode(eq != NULL ? eq + 1 : p + plen, eq != NULL ? plen - klen - 1 : 0,
		                   true, val, sizeof(val), &vlen) != 0)) {
			cm_err_set(err, "malformed query");
			return -1;
		}
		if (plen > 0 && announce_pair(key, val, vlen, out, &seen, err) != 0)
			return -1;
		p = amp != NULL ? amp + 1 : NULL;
	}
	if (!(seen & 1u)) {
		cm_err_set(err, "info_hash missing");
		return -1;
	}
	if (!(seen & 4u)) {
		cm_err_set(err, "port missing");
		return -1;
	}
	return 0;
}
