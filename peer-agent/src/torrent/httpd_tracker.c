/*
 * httpd_tracker.c - the tracker's memory of announcers and its answers (see
 * httpd_internal.h). Bounded three ways: torrents tracked, announcers per
 * torrent, ports per address within a torrent; a full torrent gives the
 * oldest announcer's place to the newcomer, so a flood ages out in one
 * interval instead of locking honest peers out. Pure: time is an argument.
 */
#include "torrent/httpd_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/bencode.h"
#include "fb/map.h"

struct trk_peer {
	char ip[46];
	int port;
	int64_t seen_s;
};

struct trk_torrent {
	char hex[TR_HEX_LEN + 1]; /* the map's key */
	struct trk_peer *peers;   /* max_per_torrent slots */
	size_t n;
	size_t rot; /* where the next answer starts */
};

struct tr_trk {
	struct cm_map *m;
	size_t max_torrents, max_per;
};

struct tr_trk *
tr_trk_new(int max_torrents, int max_per_torrent, const struct cm_hash_key *key)
{
	struct tr_trk *t = calloc(1, sizeof(*t));

	if (t == NULL || max_torrents < 1 || max_per_torrent < 1 ||
	    (t->m = cm_map_new(CM_MAP_STR, key)) == NULL) {
		free(t);
		return NULL;
	}
	t->max_torrents = (size_t)max_torrents;
	t->max_per = (size_t)max_per_torrent;
	return t;
}

static void
torrent_free(struct trk_torrent *tt)
{
	if (tt != NULL)
		free(tt->peers);
	free(tt);
}

void
tr_trk_free(struct tr_trk *t)
{
	struct trk_torrent *tt;
	size_t cur = 0;

	if (t == NULL)
		return;
	while ((tt = cm_map_next(t->m, &cur)) != NULL)
		torrent_free(tt);
	cm_map_free(t->m);
	free(t);
}

size_t
tr_trk_torrents(const struct tr_trk *t)
{
	return cm_map_len(t->m);
}

/* The slot a new announcer takes: a free one, else the oldest of its address when it has its share,
 * else the oldest. */
static struct trk_peer *
slot_for(struct tr_trk *t, struct trk_torrent *tt, const char *ip)
{
	struct trk_peer *oldest = NULL, *oldest_ip = NULL;
	size_t same_ip = 0;

	for (size_t i = 0; i < tt->n; i++) {
		struct trk_peer *p = &tt->peers[i];

		if (oldest == NULL || p->seen_s < oldest->seen_s)
			oldest = p;
		if (strcmp(p->ip, ip) == 0) {
			same_ip++;
			if (oldest_ip == NULL || p->seen_s < oldest_ip->seen_s)
				oldest_ip = p;
		}
	}
	if (same_ip >= TR_HTTPD_ANNOUNCERS_PER_IP)
		return oldest_ip;
	if (tt->n < t->max_per)
		return &tt->peers[tt->n++];
	return oldest;
}

int
tr_trk_announce(struct tr_trk *t, const char *hex, const char *ip, int port, bool stopped,
                int64_t now_s, struct cm_err *err)
{
	struct trk_torrent *tt = cm_map_get(t->m, hex);
	struct trk_peer *p;

	if (strlen(ip) >= sizeof(p->ip) || strlen(hex) != TR_HEX_LEN) {
		cm_err_set(err, "bad address");
		return -1;
	}
	for (size_t i = 0; tt != NULL && i < tt->n; i++) {
		p = &tt->peers[i];
		if (p->port != port || strcmp(p->ip, ip) != 0)
			continue;
		if (!stopped) {
			p->seen_s = now_s;
			return 0;
		}
		tt->peers[i] = tt->peers[--tt->n];
		if (tt->n == 0)
			torrent_free(cm_map_del(t->m, hex));
		return 0;
	}
	if (stopped)
		return 0;
	if (tt == NULL) {
		if (cm_map_len(t->m) >= t->max_torrents) {
			cm_err_set(err, "tracker full");
			return -1;
		}
		if ((tt = calloc(1, sizeof(*tt))) == NULL ||
		    (tt->peers = calloc(t->max_per, sizeof(*tt->peers))) == NULL) {
			torrent_free(tt);
			cm_err_set(err, "out of memory");
			return -1;
		}
		memcpy(tt->hex, hex, TR_HEX_LEN + 1);
		if (cm_map_put(t->m, tt->hex, tt) != 0) {
			torrent_free(tt);
			cm_err_set(err, "out of memory");
			return -1;
		}
	}
	p = slot_for(t, tt, ip);
	snprintf(p->ip, sizeof(p->ip), "%s", ip);
	p->port = port;
	p->seen_s = now_s;
	return 0;
}

void
tr_trk_expire(struct tr_trk *t, int64_t now_s, int64_t max_age_s)
{
	struct trk_torrent *tt, **empty;
	size_t cur = 0, nempty = 0;

	/* The map may not change while it is walked: empty torrents are noted, then removed. */
	if ((empty = calloc(cm_map_len(t->m) + 1, sizeof(*empty))) == NULL)
		return;
	while ((tt = cm_map_next(t->m, &cur)) != NULL) {
		for (size_t i = 0; i < tt->n;) {
			if (tt->peers[i].seen_s < now_s - max_age_s)
				tt->peers[i] = tt->peers[--tt->n];
			else
				i++;
		}
		if (tt->n == 0)
			empty[nempty++] = tt;
	}
	for (size_t i = 0; i < nempty; i++) {
		cm_map_del(t->m, empty[i]->hex);
		torrent_free(empty[i]);
	}
	free(empty);
}

size_t
tr_trk_peers(struct tr_trk *t, const char *hex, struct tr_peer_addr *out, size_t max)
{
	struct trk_torrent *tt = cm_map_get(t->m, hex);
	size_t n = 0;

	if (tt == NULL || tt->n == 0)
		return 0;
	for (; n < max && n < tt->n; n++) {
		const struct trk_peer *p = &tt->peers[(tt->rot + n) % tt->n];

		snprintf(out[n].ip, sizeof(out[n].ip), "%s", p->ip);
		out[n].port = p->port;
	}
	tt->rot = (tt->rot + 1) % tt->n;
	return n;
}

/* Appends ip:port in compact form to v4 (6 bytes) or v6 (18 bytes); ignores what is neither. */
static void
compact_one(const struct tr_peer_addr *p, unsigned char *v4, size_t *n4, unsigned char *v6,
            size_t *n6)
{
	struct in_addr a4;
	struct in6_addr a6;
	unsigned char port[2] = {(unsigned char)(p->port >> 8), (unsigned char)p->port};

	if (p->port < 1 || p->port > 65535)
		return;
	if (inet_pton(AF_INET, p->ip, &a4) == 1) {
		memcpy(v4 + *n4, &a4, 4);
		memcpy(v4 + *n4 + 4, port, 2);
		*n4 += 6;
	} else if (inet_pton(AF_INET6, p->ip, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(v4 + *n4, a6.s6_addr + 12, 4);
			memcpy(v4 + *n4 + 4, port, 2);
			*n4 += 6;
			return;
		}
		memcpy(v6 + *n6, &a6, 16);
		memcpy(v6 + *n6 + 16, port, 2);
		*n6 += 18;
	}
}

int
tr_announce_answer(int interval_s, const struct tr_peer_addr *peers, size_t n, char **out,
                   size_t *out_len)
{
	unsigned char *v4 = malloc(6 * n + 1), *v6 = malloc(18 * n + 1);
	size_t n4 = 0, n6 = 0;
	struct cm_benc e;
	int rc = -1;

	if (v4 == NULL || v6 == NULL)
		goto end;
	for (size_t i = 0; i < n; i++)
		compact_one(&peers[i], v4, &n4, v6, &n6);
	cm_benc_init(&e, 64 + n4 + n6);
	cm_benc_dict(&e);
	cm_benc_key(&e, "interval");
	cm_benc_int(&e, interval_s);
	cm_benc_key(&e, "min interval");
	cm_benc_int(&e, interval_s / 2);
	cm_benc_key(&e, "peers");
	cm_benc_str(&e, v4, n4);
	cm_benc_key(&e, "peers6");
	cm_benc_str(&e, v6, n6);
	cm_benc_end(&e);
	rc = cm_benc_finish(&e, out, out_len);
	cm_benc_clear(&e);
end:
	free(v4);
	free(v6);
	return rc;
}

int
tr_announce_failure(const char *reason, char **out, size_t *out_len)
{
	struct cm_benc e;
	int rc;

	cm_benc_init(&e, 64 + strlen(reason));
	cm_benc_dict(&e);
	cm_benc_key(&e, "failure reason");
	cm_benc_cstr(&e, reason);
	cm_benc_end(&e);
	rc = cm_benc_finish(&e, out, out_len);
	cm_benc_clear(&e);
	return rc;
}
