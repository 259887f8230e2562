/*
 * peertable_keys.c - repository keys: which hosts the table keeps for
 * lookups by key, and whom a lookup asks (see "Repository keys" in
 * peertable.h).
 *
 * Two histograms by common prefix length (0..64) make every question O(65):
 * near[] counts the broadcasting entries by the prefix their position shares
 * with ours, keyed[] the entries by the longest prefix one of their
 * repositories' keys shares with ours. We are responsible for a key sharing
 * L bits with us when fewer than PEERTABLE_KEY_REPLICAS entries share L bits
 * or more with us: those are the only ones that can be nearer the key.
 */
#include <string.h>

#include "core/peertable_internal.h"
#include "fb/digest.h"
#include "fb/hex.h"

#define PREFIXES 65

static uint64_t
be64(const unsigned char b[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

uint64_t
peertable_repo_key(const char *name)
{
	unsigned char h[CM_SHA256_BYTES];

	if (cm_sha256(name, strlen(name), h) != 0)
		return 0;
	return be64(h);
}

/* The first 64 bits of a hex fingerprint; -1 when it is not hex. */
static int
fp_pos(const char *fp, uint64_t *pos)
{
	unsigned char b[8];
	struct cm_err err;

	if (fp == NULL || strlen(fp) < 16 || cm_hex_decode(fp, 16, b, sizeof(b), &err) != 0)
		return -1;
	*pos = be64(b);
	return 0;
}

static int8_t
cpl(uint64_t a, uint64_t b)
{
	return a == b ? 64 : (int8_t)__builtin_clzll(a ^ b);
}

int8_t
pt_key_cpl(const struct peertable *t, const char *name)
{
	return t->has_self_pos ? cpl(t->self_pos, peertable_repo_key(name)) : -1;
}

/*
 * keyed_from: one past the longest prefix L that PEERTABLE_KEY_REPLICAS
 * entries still share with us, raised while more than the keyed share of
 * the table would be kept for keys.
 */
static void
keys_threshold(struct peertable *t)
{
	size_t cap = t->cfg.max_entries / PEERTABLE_KEYED_SHARE;
	uint32_t sum = 0;
	int from = PREFIXES, l;

	if (!t->has_self_pos) {
		t->keyed_from = PREFIXES;
		return;
	}
	while (from > 0 && sum + t->near[from - 1] < PEERTABLE_KEY_REPLICAS)
		sum += t->near[--from];
	sum = 0;
	for (l = PREFIXES; l > from && sum + t->keyed[l - 1] <= cap; l--)
		sum += t->keyed[l - 1];
	t->keyed_from = l;
}

void
pt_keys_init(struct peertable *t)
{
	t->keyed_from = PREFIXES;
}

static bool
counts_near(const struct node *n)
{
	const struct cm_peer_record *r = &n->e.rec.record;

	return r->is_broadcasting && r->socket_addresses.len > 0 && !r->leaving;
}

/* Counts n (its record and fingerprint in place, its index made). */
void
pt_keys_add(struct peertable *t, struct node *n)
{
	n->near_at = n->keyed_at = n->key_cpl = -1;
	if (fp_pos(n->e.fingerprint, &n->pos) != 0 || !t->has_self_pos)
		return;
	for (size_t i = 0; i < n->nrefs; i++)
		if (!n->refs[i].b->torrent && n->refs[i].b->key_cpl > n->key_cpl)
			n->key_cpl = n->refs[i].b->key_cpl;
	if (counts_near(n))
		t->near[n->near_at = cpl(n->pos, t->self_pos)]++;
	if (n->key_cpl >= 0)
		t->keyed[n->keyed_at = n->key_cpl]++;
	keys_threshold(t);
}

void
pt_keys_del(struct peertable *t, struct node *n)
{
	if (n->near_at >= 0)
		t->near[n->near_at]--;
	if (n->keyed_at >= 0)
		t->keyed[n->keyed_at]--;
	n->near_at = n->keyed_at = -1;
	keys_threshold(t);
}

bool
pt_keyed(const struct peertable *t, const struct node *n)
{
	return n->key_cpl >= 0 && n->key_cpl >= t->keyed_from;
}

int
peertable_set_self_fingerprint(struct peertable *t, const char *fingerprint)
{
	struct repo_bucket *b;
	struct node *n;
	uint64_t pos;

	if (fp_pos(fingerprint, &pos) != 0)
		return -1;
	if (t->has_self_pos && pos == t->self_pos)
		return 0;
	t->self_pos = pos;
	t->has_self_pos = true;
	memset(t->near, 0, sizeof(t->near));
	memset(t->keyed, 0, sizeof(t->keyed));
	for (size_t i = 0; (b = cm_map_next(t->repos, &i)) != NULL;)
		b->key_cpl = pt_key_cpl(t, b->name);
	for (size_t i = 0; (n = cm_map_next(t->entries, &i)) != NULL;)
		pt_keys_add(t, n);
	keys_threshold(t);
	return 0;
}

bool
peertable_responsible(const struct peertable *t, const char *name)
{
	int8_t c = pt_key_cpl(t, name);

	return c >= 0 && c >= t->keyed_from;
}

size_t
peertable_nearest(const struct peertable *t, const char *name, int64_t now_ms,
		  const struct peertable_entry **out, size_t max)
{
	uint64_t key = peertable_repo_key(name);
	size_t len = 0;
	struct node *n;

	for (size_t c = 0; max > 0 && (n = cm_map_next(t->entries, &c)) != NULL;) {
		uint64_t d = n->pos ^ key;
		size_t i;

		if (!counts_near(n) || peertable_entry_status(t, &n->e, now_ms) != CM_PEER_ONLINE)
			continue;
		if (len == max && d >= (((const struct node *)out[max - 1])->pos ^ key))
			continue;
		i = len < max ? len++ : max - 1;
		for (; i > 0 && d < (((const struct node *)out[i - 1])->pos ^ key); i--)
			out[i] = out[i - 1];
		out[i] = &n->e;
	}
	return len;
}
