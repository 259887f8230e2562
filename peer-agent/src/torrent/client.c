/*
 * client.c - the tr_client API (torrent.h): torrents held by info hash, the
 * peer-wire listener (never for a silent client), dialling with caps,
 * connections adopted from relayed circuits, bans,
 * the loop's one-second tick and its hashing slices, and torrent creation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/util.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fb/buf.h"
#include "fb/hex.h"
#include "fb/log.h"
#include "fb/ratemap.h"
#include "fb/random.h"
#include "net/tcp.h"
#include "torrent/httpd.h"
#include "torrent/torrent_internal.h"

#define PEER_ID_PREFIX "-FB0100-"

void
tr_rate_add(struct tr_rate *r, uint64_t n)
{
	r->slot[r->pos] += n;
}

void
tr_rate_tick(struct tr_rate *r)
{
	r->pos = (r->pos + 1) % TR_RATE_SLOTS;
	r->slot[r->pos] = 0;
}

/* Bytes/s over the full slots (the current one is still filling). */
int64_t
tr_rate_get(const struct tr_rate *r)
{
	uint64_t sum = 0;

	for (int i = 0; i < TR_RATE_SLOTS; i++)
		if (i != r->pos)
			sum += r->slot[i];
	return (int64_t)(sum / (TR_RATE_SLOTS - 1));
}

void
tr_config_defaults(struct tr_config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_torrents = 100;
	c->max_peers_per_torrent = 50;
	c->max_connections = 200;
	c->max_per_address = 8;
	c->unchoke_slots = 8;
	c->max_torrent_bytes = 64ull << 30;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void
free_config(struct tr_config *c)
{
	free((char *)c->state_dir);
	free((char *)c->listen_host);
	free((char *)c->http_host);
	free((char *)c->public_host);
	free((char *)c->bind_ip);
}

/* One accept from ip's group's bucket; false when it is empty: a reconnect loop. */
static bool
accept_rate_take(struct tr_client *c, const char *ip)
{
	char key[TR_GROUP_LEN];

	tr_addr_group(ip, key);
	return cm_ratemap_take(c->accepts, key, cm_time_mono_ms());
}

void
tr_addr_group(const char *ip, char out[TR_GROUP_LEN])
{
	struct in6_addr a6;

	if (strchr(ip, ':') != NULL && inet_pton(AF_INET6, ip, &a6) == 1 &&
	    !IN6_IS_ADDR_V4MAPPED(&a6)) {
		memset(a6.s6_addr + 8, 0, 8);
		if (inet_ntop(AF_INET6, &a6, out, TR_GROUP_LEN) != NULL)
			return;
	}
	snprintf(out, TR_GROUP_LEN, "%s", ip);
}

int
tr_client_inbound_max(const struct tr_client *c)
{
	int n = c->cfg.max_peers_per_torrent - c->cfg.max_peers_per_torrent / 4;

	return n > 0 ? n : 1;
}

static void
on_accept(int fd, const struct sockaddr *sa, socklen_t len, void *arg)
{
	struct tr_client *c = arg;
	struct tr_peer_addr a = {{0}, 0};
	const char *why = NULL;

	(void)len;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, a.ip, sizeof(a.ip));
		a.port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, a.ip, sizeof(a.ip));
		a.port = ntohs(in6->sin6_port);
	}
	if (tr_client_banned(c, a.ip))
		why = "banned";
	else if (!accept_rate_take(c, a.ip))
		why = "reconnects too fast";
	else if (c->npending >= TR_PENDING_MAX)
		why = "too many sessions before their handshake";
	else if (c->nsessions >= c->cfg.max_connections ||
	         c->ninbound >= c->cfg.max_connections - c->cfg.max_connections / 4)
		why = "connection caps";
	else if (tr_client_address_count(c, a.ip) >= c->cfg.max_per_address)
		why = "sessions per address";
	if (why != NULL) {
		c->stats.sessions_refused++;
		log_info("%s: %s:%d refused (%s)", __func__, a.ip, a.port, why);
		close(fd);
		return;
	}
	if (tr_peer_new(c, NULL, fd, &a, false, NULL) == NULL)
		close(fd);
}

int
tr_client_dial(struct tr_client *c, struct tr_torrent *t, struct tr_candidate *cd)
{
	struct tcp_addr a;
	int fd;

	if (tcp_addr_parse(cd->addr.ip, cd->addr.port, &a) != 0 ||
	    (fd = tcp_socket_new(&a, c->cfg.bind_ip)) < 0)
		return -1;
	tcp_nodelay(fd);
	if (connect(fd, (const struct sockaddr *)&a.ss, a.len) != 0 && errno != EINPROGRESS) {
		log_info("torrent %s: dial %s:%d: %s", t->hex, cd->addr.ip, cd->addr.port,
		         strerror(errno));
		close(fd);
		return -1;
	}
	if (tr_peer_new(c, t, fd, &cd->addr, true, NULL) == NULL) {
		close(fd);
		return -1;
	}
	cd->connected = true;
	return 0;
}

bool
tr_client_banned(const struct tr_client *c, const char *ip)
{
	return cm_map_get(c->banned, ip) != NULL;
}

void
tr_client_ban(struct tr_client *c, const char *ip, const char *why)
{
	struct tr_peer *p, *tmp;
	char *key;

	if (!tr_client_banned(c, ip) && cm_map_len(c->banned) < TR_MAX_BANNED &&
	    (key = strdup(ip)) != NULL) {
		if (cm_map_put(c->banned, key, key) != 0)
			free(key);
		c->stats.peers_banned++;
		log_warnx("torrent: banned %s: %s", ip, why);
	}
	TAILQ_FOREACH_SAFE(p, &c->sessions, all, tmp)
		if (!p->dead && !p->adopted && strcmp(p->addr.ip, ip) == 0)
			tr_peer_close(p, "banned");
}

void
tr_client_ban_peer(struct tr_client *c, struct tr_peer *p, const char *why)
{
	if (p->adopted)
		tr_peer_close(p, why);
	else
		tr_client_ban(c, p->addr.ip, why);
}

int
tr_client_address_count(const struct tr_client *c, const char *ip)
{
	const struct tr_peer *p;
	char g[TR_GROUP_LEN];
	int n = 0;

	tr_addr_group(ip, g);
	TAILQ_FOREACH(p, &c->sessions, all)
		if (!p->dead && !p->adopted && strcmp(p->group, g) == 0)
			n++;
	return n;
}

static void
on_work(evutil_socket_t fd, short what, void *arg)
{
	struct tr_client *c = arg;
	struct tr_torrent *t, *tt;
	bool more = false;

	(void)fd;
	(void)what;
	TAILQ_FOREACH_SAFE(t, &c->torrents, link, tt) {
		more |= tr_torrent_work(t);
		if (t->has_meta && t->state == TR_DOWNLOADING && !t->paused)
			tr_torrent_webseeds_work(t);
	}
	if (more)
		tr_client_kick(c);
}

void
tr_client_kick(struct tr_client *c)
{
	static const struct timeval now = {0, 0};

	if (!event_pending(c->work, EV_TIMEOUT, NULL))
		event_add(c->work, &now);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct tr_client *c = arg;
	struct tr_torrent *t, *tt;
	struct tr_peer *p, *tmp;
	int64_t now = cm_time_mono_ms();

	(void)fd;
	(void)what;
	TAILQ_FOREACH_SAFE(t, &c->torrents, link, tt)
		tr_torrent_tick(t, now);
	TAILQ_FOREACH_SAFE(p, &c->sessions, all, tmp)
		if (!p->dead)
			tr_peer_tick(p, now);
	TAILQ_FOREACH_SAFE(p, &c->sessions, all, tmp) {
		if (p->dead) {
			TAILQ_REMOVE(&c->sessions, p, all);
			tr_peer_free(p);
		}
	}
}

/* Each turn gives a tenth of a second's worth; what was not used carries over up to that much more.
 */
static void
on_refill(evutil_socket_t fd, short what, void *arg)
{
	struct tr_client *c = arg;
	struct tr_peer *p, *tmp;
	int64_t up = c->cfg.max_upload_rate * TR_REFILL_MS / 1000;
	int64_t down = c->cfg.max_download_rate * TR_REFILL_MS / 1000;

	(void)fd;
	(void)what;
	c->up_budget = c->up_budget > 0 ? (c->up_budget < up ? c->up_budget : up) + up : up;
	c->down_budget =
	    c->down_budget > 0 ? (c->down_budget < down ? c->down_budget : down) + down : down;
	TAILQ_FOREACH_SAFE(p, &c->sessions, all, tmp)
		tr_peer_resume(p);
}

struct tr_client *
tr_client_new(struct event_base *base, const struct tr_config *cfg, const struct tr_hooks *hooks,
              void *ctx)
{
	struct tr_client *c = calloc(1, sizeof(*c));
	static const struct timeval second = {1, 0};

	if (c == NULL)
		return NULL;
	c->base = base;
	c->cfg = *cfg;
	c->cfg.state_dir = dup_or_null(cfg->state_dir);
	c->cfg.listen_host = cfg->silent ? NULL : dup_or_null(cfg->listen_host);
	c->cfg.http_host = cfg->silent ? NULL : dup_or_null(cfg->http_host);
	c->cfg.public_host = dup_or_null(cfg->public_host   ? cfg->public_host
	                                 : cfg->listen_host ? cfg->listen_host
	                                                    : cfg->http_host);
	c->cfg.bind_ip = dup_or_null(cfg->bind_ip);
	if (hooks != NULL)
		c->hooks = *hooks;
	c->ctx = ctx;
	TAILQ_INIT(&c->torrents);
	TAILQ_INIT(&c->sessions);
	TAILQ_INIT(&c->creations);
	TAILQ_INIT(&c->tickets);
	memcpy(c->peer_id, PEER_ID_PREFIX, 8);
	if (c->cfg.state_dir == NULL || cm_random_bytes(c->peer_id + 8, 12) != 0 ||
	    cm_random_bytes(&c->rng, sizeof(c->rng)) != 0 || cm_random_hash_key(&c->key) != 0)
		goto fail;
	if (mkdir(c->cfg.state_dir, 0700) != 0 && errno != EEXIST) {
		log_warnx("%s: %s: %s", __func__, c->cfg.state_dir, strerror(errno));
		goto fail;
	}
	c->by_hash = cm_map_new(CM_MAP_STR, &c->key);
	c->banned = cm_map_new(CM_MAP_STR, &c->key);
	c->accepts = cm_ratemap_new(&c->key, TR_ACCEPT_RATE, TR_ACCEPT_BURST, TR_ACCEPT_TABLE_MAX);
	c->tick = event_new(base, -1, EV_PERSIST, on_tick, c);
	c->work = evtimer_new(base, on_work, c);
	if (c->by_hash == NULL || c->banned == NULL || c->accepts == NULL || c->tick == NULL ||
	    c->work == NULL)
		goto fail;
	if (c->cfg.listen_host != NULL &&
	    (c->lst = tcp_listener_new(base, c->cfg.listen_host, c->cfg.listen_port, on_accept,
	                               c)) == NULL)
		goto fail;
	if (tr_client_http_start(c) != 0)
		goto fail;
	if (c->cfg.max_upload_rate > 0 || c->cfg.max_download_rate > 0) {
		static const struct timeval refill = {0, TR_REFILL_MS * 1000};

		if ((c->refill = event_new(base, -1, EV_PERSIST, on_refill, c)) == NULL)
			goto fail;
		event_add(c->refill, &refill);
		on_refill(-1, 0, c);
	}
	event_add(c->tick, &second);
	tr_store_load(c);
	return c;
fail:
	log_warnx("%s: the torrent client cannot start", __func__);
	tr_client_free(c);
	return NULL;
}

void
tr_client_free(struct tr_client *c)
{
	struct tr_torrent *t;
	struct tr_peer *p;
	size_t cur = 0;
	char *s;

	if (c == NULL)
		return;
	/* A creation still hashing ends with an error, so whoever waits for it is answered. */
	while (!TAILQ_EMPTY(&c->creations)) {
		struct tr_creation *cr = TAILQ_FIRST(&c->creations);
		tr_created_fn done = cr->done;
		void *arg = cr->arg;
		struct cm_err err;

		tr_creation_free(cr); /* joins its threads */
		cm_err_set(&err, "the torrent client stopped before hashing ended");
		done(arg, NULL, &err);
	}
	while ((t = TAILQ_FIRST(&c->torrents)) != NULL) {
		if (t->state != TR_CHECKING)
			tr_store_save(t);
		tr_torrent_free(t);
	}
	while ((p = TAILQ_FIRST(&c->sessions)) != NULL) {
		tr_peer_close(p, "client stopped");
		TAILQ_REMOVE(&c->sessions, p, all);
		tr_peer_free(p);
	}
	tr_client_http_stop(c);
	tcp_listener_free(c->lst);
	if (c->tick != NULL)
		event_free(c->tick);
	if (c->work != NULL)
		event_free(c->work);
	if (c->refill != NULL)
		event_free(c->refill);
	if (c->banned != NULL)
		while ((s = cm_map_next(c->banned, &cur)) != NULL)
			free(s);
	cm_map_free(c->banned);
	cm_ratemap_free(c->accepts);
	cm_map_free(c->by_hash);
	free_config(&c->cfg);
	free(c);
}

int
tr_client_listen_port(const struct tr_client *c)
{
	return c->lst != NULL ? tcp_listener_port(c->lst) : 0;
}

static struct tr_torrent *
find(const struct tr_client *c, const char *hex)
{
	char low[TR_HEX_LEN + 1];

	if (hex == NULL || strlen(hex) != TR_HEX_LEN)
		return NULL;
	for (int i = 0; i <= TR_HEX_LEN; i++)
		low[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
	return cm_map_get(c->by_hash, low);
}

int
tr_client_adopt(struct tr_client *c, int fd, const char *info_hash_hex, const char *label)
{
	static const struct tr_peer_addr none = {{0}, 0};
	struct tr_torrent *t = NULL;
	const char *why = NULL;

	/* The caps of a dial or an accept, but none by address: it has none. */
	if (label == NULL || *label == '\0') {
		why = "no label";
	} else if (info_hash_hex != NULL) {
		if ((t = find(c, info_hash_hex)) == NULL)
			why = "unknown torrent";
		else if (t->state == TR_ERROR || t->paused)
			why = t->paused ? "torrent paused" : "torrent in error";
		else if (c->nsessions - c->npending >= c->cfg.max_connections ||
		         t->npeers >= c->cfg.max_peers_per_torrent)
			why = "connection caps";
	} else if (c->npending >= TR_PENDING_MAX) {
		why = "too many sessions before their handshake";
	} else if (c->nsessions >= c->cfg.max_connections ||
	           c->ninbound >= c->cfg.max_connections - c->cfg.max_connections / 4) {
		why = "connection caps";
	}
	if (why == NULL && evutil_make_socket_nonblocking(fd) != 0)
		why = strerror(errno);
	if (why != NULL) {
		c->stats.sessions_refused++;
		log_info("%s: %s refused (%s)", __func__, label != NULL ? label : "-", why);
		close(fd);
		return -1;
	}
	/* Outgoing, it is a dial whose connect is done: the first write sends our handshake. */
	if (tr_peer_new(c, t, fd, &none, t != NULL, label) == NULL) {
		close(fd);
		return -1;
	}
	return 0;
}

bool
tr_client_has_peer(const struct tr_client *c, const char *info_hash_hex, const char *label)
{
	const struct tr_torrent *t = find(c, info_hash_hex);
	const struct tr_peer *p;

	if (t == NULL)
		return false;
	TAILQ_FOREACH(p, &c->sessions, all)
		if (!p->dead && p->adopted && p->t == t && strcmp(p->name, label) == 0)
			return true;
	return false;
}

/* "ip:port" or "[ip6]:port" into a; -1 when it is not that. */
static int
parse_hostport(const char *s, struct tr_peer_addr *a)
{
	const char *colon = strrchr(s, ':');
	const char *ip = s;
	size_t iplen;
	char *end;
	long port;
	struct tcp_addr ta;

	if (colon == NULL)
		return -1;
	iplen = (size_t)(colon - s);
	if (*s == '[') {
		if (iplen < 2 || s[iplen - 1] != ']')
			return -1;
		ip = s + 1;
		iplen -= 2;
	}
	if (iplen == 0 || iplen >= sizeof(a->ip))
		return -1;
	memcpy(a->ip, ip, iplen);
	a->ip[iplen] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535 || tcp_addr_parse(a->ip, (int)port, &ta) != 0)
		return -1;
	a->port = (int)port;
	return 0;
}

void
tr_client_add_peers_from(struct tr_torrent *t, const struct cm_strlist *peers)
{
	for (size_t i = 0; i < peers->len; i++) {
		struct tr_peer_addr a;

		if (parse_hostport(peers->items[i], &a) == 0)
			tr_client_add_peers(t->c, t->hex, &a, 1);
	}
}

void
tr_client_add_peers(struct tr_client *c, const char *info_hash_hex,
                    const struct tr_peer_addr *peers, size_t n)
{
	struct tr_torrent *t = find(c, info_hash_hex);

	if (t == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		struct tcp_addr ta;

		if (peers[i].port < 1 || peers[i].port > 65535 ||
		    memchr(peers[i].ip, '\0', sizeof(peers[i].ip)) == NULL ||
		    tcp_addr_parse(peers[i].ip, peers[i].port, &ta) != 0)
			continue;
		/* Our own listener is no peer of ours. */
		if (c->lst != NULL && peers[i].port == tr_client_listen_port(c) &&
		    c->cfg.public_host != NULL && strcmp(peers[i].ip, c->cfg.public_host) == 0)
			continue;
		tr_torrent_add_candidate(t, &peers[i]);
	}
	if (tr_torrent_wanted(t))
		tr_torrent_dial(t, cm_time_mono_ms());
}

char *
tr_torrent_magnet(const struct tr_torrent *t)
{
	const struct tr_client *c = t->c;
	struct cm_strlist self = {NULL, 0};
	char buf[128];
	char *m;

	if (!t->has_meta) {
		char *s = NULL;
		size_t len = 0;

		if (cm_buf_printf(&s, &len, 1024, "magnet:?xt=urn:btih:%s", t->hex) != 0)
			return NULL;
		return s;
	}
	/* Only a listening client names itself (x.pe); a silent one never does. */
	if (!c->cfg.silent && c->lst != NULL && c->cfg.public_host != NULL) {
		snprintf(buf, sizeof(buf), strchr(c->cfg.public_host, ':') ? "[%s]:%d" : "%s:%d",
		         c->cfg.public_host, tr_client_listen_port(c));
		cm_strlist_append(&self, buf);
	}
	m = tr_magnet_of(&t->meta, &self);
	cm_strlist_clear(&self);
	return m;
}

void
tr_status_clear(struct tr_status *s)
{
	free(s->name);
	free(s->path);
	free(s->magnet);
	free(s->torrent_file);
	free(s->error);
	for (size_t i = 0; i < s->file_count; i++)
		free(s->file_paths[i]);
	free(s->file_paths);
	free(s->file_sha256);
	memset(s, 0, sizeof(*s));
}

int
tr_client_status(const struct tr_client *c, const char *info_hash_hex, struct tr_status *out)
{
	struct tr_torrent *t = find(c, info_hash_hex);

	if (t == NULL)
		return -1;
	tr_torrent_status(t, out);
	return 0;
}

size_t
tr_client_list(const struct tr_client *c, struct tr_status **out)
{
	struct tr_torrent *t;
	size_t n = 0;

	*out = calloc(c->ntorrents > 0 ? (size_t)c->ntorrents : 1, sizeof(**out));
	if (*out == NULL)
		return 0;
	TAILQ_FOREACH(t, &c->torrents, link)
		tr_torrent_status(t, &(*out)[n++]);
	return n;
}

void
tr_client_stats(const struct tr_client *c, struct tr_stats *out)
{
	uint64_t http_bytes;

	*out = c->stats;
	if (c->httpd != NULL)
		tr_httpd_counts(c->httpd, &out->http_requests, &out->http_refused, &http_bytes);
}

size_t
tr_client_seeding(const struct tr_client *c, struct tr_seeded *out, size_t max)
{
	struct tr_torrent *t;
	size_t n = 0;

	TAILQ_FOREACH(t, &c->torrents, link) {
		if (n == max)
			break;
		if (t->state != TR_SEEDING || !t->has_meta)
			continue;
		memcpy(out[n].info_hash, t->hex, sizeof(out[n].info_hash));
		snprintf(out[n].name, sizeof(out[n].name), "%s", t->meta.name);
		out[n].size = t->meta.total_length;
		memcpy(out[n].sha256, t->meta.multi_file ? "" : t->file_sha[0], 65);
		n++;
	}
	return n;
}

int
tr_client_remove(struct tr_client *c, const char *info_hash_hex, bool delete_data)
{
	struct tr_torrent *t = find(c, info_hash_hex);
	bool seeding;

	if (t == NULL)
		return -1;
	seeding = t->state == TR_SEEDING;
	log_info("torrent %s: removed%s", t->hex, delete_data ? " with its data" : "");
	if (delete_data && t->st != NULL && !t->created)
		tr_storage_delete(t->st);
	tr_torrent_announce_stopped(t);
	tr_store_remove(t);
	tr_torrent_free(t);
	if (seeding && c->hooks.seeding_changed != NULL)
		c->hooks.seeding_changed(c->ctx);
	return 0;
}

/* ---- adding ---- */

static int
source_hash(const struct tr_source *src, unsigned char ih[TR_HASH_LEN], struct tr_magnet *mg,
            struct tr_meta *m, struct cm_err *err)
{
	int n = (src->magnet != NULL) + (src->info_hash_hex != NULL) + (src->torrent != NULL);

	if (n != 1) {
		cm_err_set(err, "give one of a magnet, an info hash or a .torrent");
		return -1;
	}
	if (src->magnet != NULL) {
		if (tr_magnet_parse(src->magnet, mg, err) != 0)
			return -1;
		memcpy(ih, mg->info_hash, TR_HASH_LEN);
		return 0;
	}
	if (src->info_hash_hex != NULL)
		return cm_hex_decode(src->info_hash_hex, strlen(src->info_hash_hex), ih,
		                     TR_HASH_LEN, err);
	if (src->torrent_len > TR_MAX_TORRENT_FILE) {
		cm_err_set(err, "a .torrent of %zu bytes (at most %u)", src->torrent_len,
		           TR_MAX_TORRENT_FILE);
		return -1;
	}
	if (tr_meta_from_torrent(src->torrent, src->torrent_len, m, err) != 0)
		return -1;
	memcpy(ih, m->info_hash, TR_HASH_LEN);
	return 0;
}

static bool
is_hex64(const char *s)
{
	unsigned char d[32];

	return s != NULL && strlen(s) == 64 && cm_hex_decode(s, 64, d, sizeof(d), NULL) == 0;
}

int
tr_client_add(struct tr_client *c, const struct tr_source *src, char info_hash[TR_HEX_LEN + 1],
              struct cm_err *err)
{
	unsigned char ih[TR_HASH_LEN];
	struct tr_magnet mg;
	struct tr_meta m;
	struct tr_torrent *t;
	struct stat sb;
	char dest[PATH_MAX];
	int rc = -1;

	memset(&mg, 0, sizeof(mg));
	memset(&m, 0, sizeof(m));
	if (source_hash(src, ih, &mg, &m, err) != 0)
		goto end;
	cm_hex_encode(ih, TR_HASH_LEN, info_hash);
	if ((t = cm_map_get(c->by_hash, info_hash)) != NULL) {
		/* Held already: a magnet given again may name new peers, trackers or web seeds. */
		if (src->magnet != NULL)
			tr_torrent_add_magnet_sources(t, &mg);
		rc = TR_EXISTS;
		goto end;
	}
	if (src->dest_dir == NULL || stat(src->dest_dir, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
	    realpath(src->dest_dir, dest) == NULL) {
		cm_err_set(err, "%s: not a folder", src->dest_dir ? src->dest_dir : "(no dest)");
		goto end;
	}
	if ((src->sha256_hex != NULL && !is_hex64(src->sha256_hex)) ||
	    (src->sha256_hint != NULL && !is_hex64(src->sha256_hint))) {
		cm_err_set(err, "sha256: not 64 hex digits");
		goto end;
	}
	if (c->ntorrents >= c->cfg.max_torrents) {
		cm_err_set(err, "%d torrents held already", c->ntorrents);
		goto end;
	}
	if ((t = tr_torrent_new(c, ih)) == NULL) {
		cm_err_set(err, "out of memory");
		goto end;
	}
	t->dest_dir = strdup(dest);
	t->expect_sha256 = src->sha256_hex ? strdup(src->sha256_hex) : NULL;
	t->hint_sha256 = src->sha256_hint ? strdup(src->sha256_hint) : NULL;
	if (src->magnet != NULL) {
		t->magnet_src = strdup(src->magnet);
		t->name = mg.name ? strdup(mg.name) : NULL;
		tr_torrent_add_magnet_sources(t, &mg);
	}
	if (src->torrent != NULL && tr_torrent_set_meta(t, &m, err) != 0) {
		tr_store_remove(t);
		tr_torrent_free(t);
		goto end;
	}
	tr_store_save(t);
	log_info("torrent %s: added, to %s", t->hex, dest);
	/* Ask the trackers now rather than at the next tick: on a fast link the wait
	 * (up to a second) is most of a download. */
	tr_torrent_announce(t, cm_time_mono_ms());
	rc = 0;
end:
	tr_magnet_clear(&mg);
	tr_meta_clear(&m);
	return rc;
}
