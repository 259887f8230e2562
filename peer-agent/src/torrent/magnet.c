/*
 * magnet.c - magnet links (BEP 9), read and written (see metainfo.h). A
 * magnet is untrusted text from a user or a peer: it is bounded as a whole
 * and in each part, and every value is percent-decoded into a fresh buffer
 * before it is looked at.
 */
#include "torrent/metainfo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fb/buf.h"
#include "fb/hex.h"

#define MAX_DN 1024 /* bytes of a decoded dn */

/* The n bytes at s percent-decoded as a new string; '+' is a space when plus is set. */
static char *
unescape(const char *s, size_t n, bool plus, const char *key, struct cm_err *err)
{
	char *out = malloc(n + 1);
	size_t len;

	if (out == NULL) {
		cm_err_set(err, "magnet: out of memory");
		return NULL;
	}
	if (cm_percent_decode(s, n, plus, out, n + 1, &len) != 0)
		cm_err_set(err, "magnet: %s: a bad percent escape", key);
	else if (strlen(out) != len)
		cm_err_set(err, "magnet: %s: a NUL byte", key);
	else
		return out;
	free(out);
	return NULL;
}

/* RFC 4648 base32 (either case), exactly 32 digits into 20 bytes. */
static int
base32_decode(const char *s, unsigned char out[TR_HASH_LEN])
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < 32; i++) {
		char c = s[i];
		int v;

		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a';
		else if (c >= '2' && c <= '7')
			v = c - '2' + 26;
		else
			return -1;
		acc = acc << 5 | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return 0;
}

/* xt=urn:btih:...; other kinds of xt (urn:btmh: of v2) are not ours and are left. */
static int
read_xt(const char *v, struct tr_magnet *m, bool *have, struct cm_err *err)
{
	unsigned char h[TR_HASH_LEN];
	size_t n;

	if (strncasecmp(v, "urn:btih:", 9) != 0)
		return 0;
	v += 9;
	n = strlen(v);
	if (!(n == TR_HEX_LEN && cm_hex_decode(v, n, h, sizeof(h), NULL) == 0) &&
	    !(n == 32 && base32_decode(v, h) == 0)) {
		cm_err_set(err, "magnet: xt: \"%.64s\" is neither 40 hex nor 32 base32 digits", v);
		return -1;
	}
	if (*have && memcmp(h, m->info_hash, TR_HASH_LEN) != 0) {
		cm_err_set(err, "magnet: xt: two different info hashes");
		return -1;
	}
	memcpy(m->info_hash, h, TR_HASH_LEN);
	*have = true;
	return 0;
}

static int
read_xl(const char *v, struct tr_magnet *m, struct cm_err *err)
{
	uint64_t x = 0;

	if (*v == '\0')
		goto bad;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9' || x > (UINT64_MAX - (uint64_t)(*v - '0')) / 10)
			goto bad;
		x = x * 10 + (uint64_t)(*v - '0');
	}
	m->has_length = true;
	m->length = x;
	return 0;
bad:
	cm_err_set(err, "magnet: xl: not a byte count");
	return -1;
}

/* x.pe: an IP literal and a port, "1.2.3.4:6881" or "[::1]:6881" (no host names: no DNS here). */
static int
check_peer(const char *v)
{
	unsigned char addr[16];
	char host[64];
	const char *colon = strrchr(v, ':'), *hs = v;
	size_t hn;
	int af = AF_INET;
	char *end;
	long port;

	if (colon == NULL)
		return -1;
	hn = (size_t)(colon - v);
	if (v[0] == '[') {
		if (hn < 2 || v[hn - 1] != ']')
			return -1;
		hs = v + 1;
		hn -= 2;
		af = AF_INET6;
	}
	if (hn == 0 || hn >= sizeof(host))
		return -1;
	memcpy(host, hs, hn);
	host[hn] = '\0';
	if (inet_pton(af, host, addr) != 1)
		return -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || port < 1 ||
	    port > 65535)
		return -1;
	return 0;
}

/* Adds v to l, at most max entries of at most TR_MAX_URL bytes; a repeat is dropped. */
static int
add_item(struct cm_strlist *l, const char *v, size_t max, const char *key, struct cm_err *err)
{
	if (strlen(v) > TR_MAX_URL) {
		cm_err_set(err, "magnet: %s: longer than %d bytes", key, TR_MAX_URL);
		return -1;
	}
	for (size_t i = 0; i < l->len; i++)
		if (strcmp(l->items[i], v) == 0)
			return 0;
	if (l->len >= max) {
		cm_err_set(err, "magnet: more than %zu %s", max, key);
		return -1;
	}
	if (cm_strlist_append(l, v) != 0) {
		cm_err_set(err, "magnet: out of memory");
		return -1;
	}
	return 0;
}

static bool
key_is(const char *k, size_t kn, const char *name)
{
	return kn == strlen(name) && memcmp(k, name, kn) == 0;
}

/* "tr" or "tr.1": some writers number repeated keys. */
static bool
key_is_numbered(const char *k, size_t kn, const char *name)
{
	size_t n = strlen(name);

	return key_is(k, kn, name) || (kn > n + 1 && memcmp(k, name, n) == 0 && k[n] == '.');
}

static int
read_param(const char *k, size_t kn, const char *raw, size_t rn, struct tr_magnet *m,
	   bool *have_hash, struct cm_err *err)
{
	bool dn = key_is(k, kn, "dn");
	char *v;
	int rc = 0;

	if (!dn && !key_is_numbered(k, kn, "xt") && !key_is(k, kn, "xl") &&
	    !key_is_numbered(k, kn, "tr") && !key_is(k, kn, "x.pe") && !key_is(k, kn, "ws"))
		return 0;
	if ((v = unescape(raw, rn, dn, dn ? "dn" : "value", err)) == NULL)
		return -1;
	if (dn) {
		if (strlen(v) > MAX_DN) {
			cm_err_set(err, "magnet: dn: longer than %d bytes", MAX_DN);
			rc = -1;
		} else if (m->name == NULL) {
			m->name = v;
			v = NULL;
		}
	} else if (key_is_numbered(k, kn, "xt")) {
		rc = read_xt(v, m, have_hash, err);
	} else if (key_is(k, kn, "xl")) {
		rc = read_xl(v, m, err);
	} else if (key_is_numbered(k, kn, "tr")) {
		rc = add_item(&m->trackers, v, TR_MAX_TRACKERS, "tr", err);
	} else if (key_is(k, kn, "ws")) {
		rc = add_item(&m->web_seeds, v, TR_MAX_WEB_SEEDS, "ws", err);
	} else if (check_peer(v) != 0) {
		cm_err_set(err, "magnet: x.pe: \"%.64s\" is not an IP address and port", v);
		rc = -1;
	} else {
		rc = add_item(&m->peers, v, TR_MAX_MAGNET_PEERS, "x.pe", err);
	}
	free(v);
	return rc;
}

int
tr_magnet_parse(const char *uri, struct tr_magnet *out, struct cm_err *err)
{
	size_t len = strnlen(uri, TR_MAX_MAGNET + 1);
	bool have_hash = false;
	const char *p, *end = uri + len;

	memset(out, 0, sizeof(*out));
	if (len > TR_MAX_MAGNET) {
		cm_err_set(err, "magnet: longer than %d bytes", TR_MAX_MAGNET);
		return -1;
	}
	if (strncasecmp(uri, "magnet:?", 8) != 0) {
		cm_err_set(err, "magnet: does not start with \"magnet:?\"");
		return -1;
	}
	for (p = uri + 8; p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));

		if (eq != NULL && read_param(p, (size_t)(eq - p), eq + 1, (size_t)(stop - eq - 1),
					     out, &have_hash, err) != 0)
			goto fail;
		p = stop + 1;
	}
	if (!have_hash) {
		cm_err_set(err, "magnet: no xt=urn:btih:");
		goto fail;
	}
	return 0;
fail:
	tr_magnet_clear(out);
	return -1;
}

/*
 * "&key=" and value with every byte but the unreserved ones (RFC 3986) and
 * those in keep percent-encoded. x.pe keeps ":[]": libtorrent reads that
 * value without decoding it.
 */
static int
put_param(char **buf, size_t *len, const char *key, const char *v, const char *keep)
{
	static const char digits[] = "0123456789ABCDEF";

	if (cm_buf_printf(buf, len, TR_MAX_MAGNET, "&%s=", key) != 0)
		return -1;
	for (const unsigned char *c = (const unsigned char *)v; *c != '\0'; c++) {
		char e[3] = {'%', digits[*c >> 4], digits[*c & 15]};
		bool plain = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
			     (*c >= '0' && *c <= '9') || strchr("-._~", *c) != NULL ||
			     strchr(keep, *c) != NULL;

		if (cm_buf_append(buf, len, TR_MAX_MAGNET, plain ? (const char *)c : e,
				  plain ? 1 : 3) != 0)
			return -1;
	}
	return 0;
}

char *
tr_magnet_of(const struct tr_meta *m, const struct cm_strlist *peers)
{
	char *buf = NULL;
	size_t len = 0;
	bool ok;

	ok = cm_buf_printf(&buf, &len, TR_MAX_MAGNET, "magnet:?xt=urn:btih:%s",
			   m->info_hash_hex) == 0;
	if (ok && m->name != NULL)
		ok = put_param(&buf, &len, "dn", m->name, "") == 0;
	if (ok && m->total_length > 0)
		ok = cm_buf_printf(&buf, &len, TR_MAX_MAGNET, "&xl=%" PRIu64, m->total_length) == 0;
	for (size_t i = 0; ok && i < m->trackers.len; i++)
		ok = put_param(&buf, &len, "tr", m->trackers.items[i], "") == 0;
	for (size_t i = 0; ok && i < m->web_seeds.len; i++)
		ok = put_param(&buf, &len, "ws", m->web_seeds.items[i], "") == 0;
	for (size_t i = 0; ok && peers != NULL && i < peers->len; i++)
		ok = put_param(&buf, &len, "x.pe", peers->items[i], ":[]") == 0;
	if (!ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

void
tr_magnet_clear(struct tr_magnet *m)
{
	free(m->name);
	cm_strlist_clear(&m->trackers);
	cm_strlist_clear(&m->peers);
	cm_strlist_clear(&m->web_seeds);
	memset(m, 0, sizeof(*m));
}
