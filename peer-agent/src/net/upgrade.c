/* upgrade.c - the WebSocket opening handshake on byte buffers (see upgrade.h). */
#define _GNU_SOURCE
#include "net/upgrade.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fb/base64.h"
#include "fb/digest.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define MAX_KEY_INPUT 64 /* longest key upgrade_accept_key hashes */

/* A piece of the caller's buffer: not NUL-terminated. */
struct span {
	const char *p;
	size_t len;
};

struct header {
	struct span name, value;
};

/* One header block split into its start line and header lines. */
struct block {
	struct span start;
	struct header h[UPGRADE_MAX_HEADERS];
	size_t n;
};

/* The block's length with its empty line, 0 when it has not ended yet, -1 when it is too long. */
static int
block_length(const char *buf, size_t len)
{
	size_t scan = len < UPGRADE_MAX_BYTES ? len : UPGRADE_MAX_BYTES;
	const char *end = memmem(buf, scan, "\r\n\r\n", 4);

	if (end == NULL)
		return len >= UPGRADE_MAX_BYTES ? -1 : 0;
	return (int)(end - buf) + 4;
}

/* RFC 9110 token characters, which a header name is made of. */
static bool
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       memchr("!#$%&'*+-.^_`|~", c, 15) != NULL;
}

/* "name: value" with the value trimmed of blanks. Returns 0, or -1 when the line is not a header. */
static int
header_parse(struct span line, struct header *h)
{
	const char *colon = memchr(line.p, ':', line.len), *v, *end = line.p + line.len;

	if (colon == NULL || colon == line.p)
		return -1;
	for (const char *c = line.p; c < colon; c++)
		if (!is_tchar((unsigned char)*c))
			return -1;
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	/* No control bytes: a value is copied into answers and compared as text. */
	for (const char *c = v; c < end; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return -1;
	h->name = (struct span){line.p, (size_t)(colon - line.p)};
	h->value = (struct span){v, (size_t)(end - v)};
	return 0;
}

/*
 * Splits the blen bytes of a whole block (ending with the empty line) into
 * lines. Returns 0, or the HTTP status that refuses it (400, 431) with err set.
 */
static int
block_split(const char *b, size_t blen, struct block *bk, struct cm_err *err)
{
	const char *p = b, *end = b + blen - 2; /* every line, the last included, ends in CRLF */
	bool first = true;

	bk->n = 0;
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		struct span line = {p, (size_t)(eol - p)};

		p = eol + 2;
		if (first) {
			bk->start = line;
			first = false;
			continue;
		}
		if (bk->n == UPGRADE_MAX_HEADERS) {
			cm_err_set(err, "more than %d header lines", UPGRADE_MAX_HEADERS);
			return 431;
		}
		if (header_parse(line, &bk->h[bk->n]) != 0) {
			cm_err_set(err, "header line %zu is not \"name: value\"", bk->n + 1);
			return 400;
		}
		bk->n++;
	}
	return 0;
}

static bool
span_is(struct span s, const char *text)
{
	return s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

/* How many headers are called name (case-insensitive); *value is the first one's. */
static int
header_count(const struct block *bk, const char *name, struct span *value)
{
	size_t nlen = strlen(name);
	int found = 0;

	for (size_t i = 0; i < bk->n; i++) {
		if (bk->h[i].name.len != nlen || strncasecmp(bk->h[i].name.p, name, nlen) != 0)
			continue;
		if (found++ == 0 && value != NULL)
			*value = bk->h[i].value;
	}
	return found;
}

static bool
is_list_sep(char c)
{
	return c == ' ' || c == ',' || c == '\t';
}

/* True when the comma-separated value holds token (case-insensitive). */
static bool
span_has_token(struct span list, const char *token)
{
	size_t tlen = strlen(token), i = 0;

	while (i < list.len) {
		size_t start;

		while (i < list.len && is_list_sep(list.p[i]))
			i++;
		start = i;
		while (i < list.len && !is_list_sep(list.p[i]))
			i++;
		if (i - start == tlen && tlen > 0 && strncasecmp(list.p + start, token, tlen) == 0)
			return true;
	}
	return false;
}

/* True when some header called name lists token: repeated headers make one list. */
static bool
header_has_token(const struct block *bk, const char *name, const char *token)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; i < bk->n; i++)
		if (bk->h[i].name.len == nlen && strncasecmp(bk->h[i].name.p, name, nlen) == 0 &&
		    span_has_token(bk->h[i].value, token))
			return true;
	return false;
}

/* 22 base64 characters and "==": the encoding of UPGRADE_NONCE_LEN bytes. */
static bool
key_well_formed(struct span k)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	if (k.len != UPGRADE_KEY_LEN || k.p[22] != '=' || k.p[23] != '=')
		return false;
	for (size_t i = 0; i < UPGRADE_KEY_LEN - 2; i++)
		if (memchr(alphabet, k.p[i], sizeof(alphabet) - 1) == NULL)
			return false;
	return true;
}

static int
refuse(struct upgrade_request *req, int status)
{
	req->status = status;
	return -1;
}

/* The request line must be exactly "GET path HTTP/1.1". Returns 0 or a status. */
static int
check_request_line(struct span line, const char *path, struct cm_err *err)
{
	char want[300];
	int n = snprintf(want, sizeof(want), "GET %s HTTP/1.1", path);

	if (n > 0 && (size_t)n < sizeof(want) && span_is(line, want))
		return 0;
	if (line.len >= 4 && memcmp(line.p, "GET ", 4) == 0) {
		cm_err_set(err, "request line is not GET %s HTTP/1.1", path);
		return 404;
	}
	cm_err_set(err, "method is not GET");
	return 405;
}

int
upgrade_parse_request(const void *buf, size_t len, const char *path, const char *subprotocol,
		      struct upgrade_request *req, struct cm_err *err)
{
	int blen = block_length(buf, len), status, nkeys;
	struct block bk;
	struct span key = {NULL, 0}, version = {NULL, 0};

	memset(req, 0, sizeof(*req));
	if (blen == 0)
		return 0;
	if (blen < 0) {
		cm_err_set(err, "request headers over %d bytes", UPGRADE_MAX_BYTES);
		return refuse(req, 431);
	}
	if ((status = block_split(buf, (size_t)blen, &bk, err)) != 0 ||
	    (status = check_request_line(bk.start, path, err)) != 0)
		return refuse(req, status);
	if (!header_has_token(&bk, "Upgrade", "websocket") ||
	    !header_has_token(&bk, "Connection", "upgrade")) {
		cm_err_set(err, "not an Upgrade to websocket");
		return refuse(req, 400);
	}
	if ((nkeys = header_count(&bk, "Sec-WebSocket-Key", &key)) != 1 || !key_well_formed(key)) {
		cm_err_set(err, "Sec-WebSocket-Key %s", nkeys == 0 ? "missing"
						       : nkeys > 1 ? "repeated"
								   : "is not 16 bytes in base64");
		return refuse(req, 400);
	}
	if (header_count(&bk, "Sec-WebSocket-Version", &version) != 1 || !span_is(version, "13")) {
		cm_err_set(err, "Sec-WebSocket-Version is not 13");
		return refuse(req, 426);
	}
	if (!header_has_token(&bk, "Sec-WebSocket-Protocol", subprotocol)) {
		cm_err_set(err, "subprotocol %s not offered", subprotocol);
		return refuse(req, 400);
	}
	memcpy(req->key, key.p, UPGRADE_KEY_LEN);
	req->key[UPGRADE_KEY_LEN] = '\0';
	req->extensions_offered = header_count(&bk, "Sec-WebSocket-Extensions", NULL) > 0;
	return blen;
}

int
upgrade_parse_response(const void *buf, size_t len, const char *accept,
		       const char *subprotocol, struct cm_err *err)
{
	int blen = block_length(buf, len);
	struct block bk;
	struct span v = {NULL, 0};

	if (blen == 0)
		return 0;
	if (blen < 0) {
		cm_err_set(err, "response headers over %d bytes", UPGRADE_MAX_BYTES);
		return -1;
	}
	if (block_split(buf, (size_t)blen, &bk, err) != 0)
		return -1;
	if (bk.start.len < 12 || memcmp(bk.start.p, "HTTP/1.1 101", 12) != 0 ||
	    (bk.start.len > 12 && bk.start.p[12] != ' ')) {
		cm_err_set(err, "status is not HTTP/1.1 101");
		return -1;
	}
	if (header_count(&bk, "Sec-WebSocket-Accept", &v) != 1 || !span_is(v, accept)) {
		cm_err_set(err, "Sec-WebSocket-Accept missing, repeated or wrong");
		return -1;
	}
	if (header_count(&bk, "Sec-WebSocket-Protocol", &v) != 1 || !span_is(v, subprotocol)) {
		cm_err_set(err, "subprotocol is not %s", subprotocol);
		return -1;
	}
	if (header_count(&bk, "Sec-WebSocket-Extensions", NULL) > 0) {
		cm_err_set(err, "an extension we did not offer");
		return -1;
	}
	return blen;
}

/* base64 of len bytes into out (cap bytes with the NUL). Returns 0 or -1. */
static int
base64(const void *data, size_t len, char *out, size_t cap)
{
	char *b = cm_base64_encode(data, len);
	int rc = -1;

	if (b != NULL && strlen(b) < cap) {
		memcpy(out, b, strlen(b) + 1);
		rc = 0;
	}
	free(b);
	return rc;
}

int
upgrade_key_from_nonce(const uint8_t *nonce, char key[UPGRADE_KEY_LEN + 1])
{
	return base64(nonce, UPGRADE_NONCE_LEN, key, UPGRADE_KEY_LEN + 1);
}

int
upgrade_accept_key(const char *key, char accept[UPGRADE_ACCEPT_LEN + 1])
{
	char buf[MAX_KEY_INPUT + sizeof(WS_GUID)];
	unsigned char sha[CM_SHA1_BYTES];
	size_t klen = strlen(key);

	if (klen > MAX_KEY_INPUT)
		return -1;
	memcpy(buf, key, klen);
	memcpy(buf + klen, WS_GUID, sizeof(WS_GUID) - 1);
	if (cm_sha1(buf, klen + sizeof(WS_GUID) - 1, sha) != 0)
		return -1;
	return base64(sha, sizeof(sha), accept, UPGRADE_ACCEPT_LEN + 1);
}

/* snprintf's answer as a builder's: the length, or -1 when it did not fit. */
static int
fitted(int n, size_t cap)
{
	return n >= 0 && (size_t)n < cap ? n : -1;
}

int
upgrade_build_request(char *buf, size_t cap, const char *host, const char *path,
		      const char *key, const char *subprotocol)
{
	return fitted(snprintf(buf, cap,
			       "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
			       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
			       path, host, key, subprotocol),
		      cap);
}

int
upgrade_build_response(char *buf, size_t cap, const char *accept, const char *subprotocol)
{
	return fitted(snprintf(buf, cap,
			       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
			       "Sec-WebSocket-Protocol: %s\r\n\r\n",
			       accept, subprotocol),
		      cap);
}

int
upgrade_build_refusal(char *buf, size_t cap, int status)
{
	static const struct {
		int status;
		const char *text;
	} reasons[] = {
		{400, "Bad Request"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		/* RFC 6455 4.4: name the version we speak. */
		{426, "Upgrade Required\r\nSec-WebSocket-Version: 13"},
		{431, "Request Header Fields Too Large"},
	};
	size_t r = 0; /* anything else is answered as a bad request */

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			r = i;
	return fitted(snprintf(buf, cap,
			       "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
			       reasons[r].status, reasons[r].text),
		      cap);
}
