/*
 * httpd.c - the agent's BitTorrent HTTP port (see httpd.h): connections on
 * bufferevents, capped in all and per address; one request head at a time,
 * parsed by httpd_parse.c; web-seed files sent from disk as evbuffer file
 * segments (sendfile), never read into memory; /announce answered
 * from httpd_tracker.c.
 */
#include "torrent/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fb/hex.h"
#include "fb/log.h"
#include "fb/map.h"
#include "fb/random.h"
#include "fb/timeutil.h"
#include "net/tcp.h"
#include "torrent/httpd_internal.h"

struct conn {
	struct tr_httpd *h;
	struct conn *prev, *next;
	struct bufferevent *bev;
	struct event
	    *deadline; /* the request head (or the next one, on keep-alive) must be in by then */
	char ip[46];
	bool writing;     /* an answer is going out: nothing more is read until it is */
	bool close_after; /* close once the answer is out */
};

/* Connections from one address; the map's key is ip. */
struct addr_count {
	char ip[46];
	int n;
};

struct tr_httpd {
	struct event_base *base;
	struct tr_httpd_config cfg;
	struct tr_httpd_ops ops;
	void *ctx;
	struct tcp_listener *listener;
	struct conn *conns;
	int nconns;
	struct cm_map *per_addr;
	struct tr_trk *trk;
	struct event *sweep;
	uint64_t requests, refused, bytes;
};

/* What every answer carries, so that browser WebTorrent may read it across origins. */
#define CORS_HEADERS                                                                               \
	"Access-Control-Allow-Origin: *\r\n"                                                       \
	"Access-Control-Expose-Headers: Content-Range, Content-Length, Accept-Ranges\r\n"

void
tr_httpd_config_defaults(struct tr_httpd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->host = "127.0.0.1";
	c->max_connections = 256;
	c->max_per_address = 16;
	c->max_announcers = 200;
	c->max_torrents_tracked = 1024;
	c->announce_interval_s = 1800;
	c->head_timeout_ms = 10000;
	c->write_timeout_ms = 30000;
}

static void
conn_free(struct conn *c)
{
	struct tr_httpd *h = c->h;
	struct addr_count *a = cm_map_get(h->per_addr, c->ip);

	if (a != NULL && --a->n == 0)
		free(cm_map_del(h->per_addr, c->ip));
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	h->nconns--;
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c);
}

static void
arm_deadline(struct conn *c)
{
	struct timeval tv = {c->h->cfg.head_timeout_ms / 1000,
	                     (c->h->cfg.head_timeout_ms % 1000) * 1000};

	evtimer_add(c->deadline, &tv);
}

/*
 * Queues an answer: status line, the common headers, extra (CRLF-ended lines
 * or ""), then body (body_len bytes) or the file segment (fd, which it then
 * owns; -1: none). head_only leaves the payload out but keeps its length.
 */
static void
reply(struct conn *c, int status, const char *reason, const char *extra, const char *body,
      size_t body_len, int fd, uint64_t file_off, uint64_t file_len, bool head_only)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	uint64_t len = fd >= 0 ? file_len : body_len;

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n" CORS_HEADERS, status, reason);
	if (status != 204) /* which has no Content-Length (RFC 9110, 8.6) */
		evbuffer_add_printf(out, "Content-Length: %" PRIu64 "\r\n", len);
	evbuffer_add_printf(out, "%s%s\r\n", extra, c->close_after ? "Connection: close\r\n" : "");
	if (!head_only && fd >= 0 && file_len > 0) {
		/*
		 * A segment of our own rather than evbuffer_add_file, which leaks
		 * fd when it fails: the segment closes fd when the last of its
		 * references (ours, dropped at once, or the buffer's) goes.
		 */
		struct evbuffer_file_segment *seg = evbuffer_file_segment_new(
			fd, (ev_off_t)file_off, (ev_off_t)file_len, EVBUF_FS_CLOSE_ON_FREE);

		if (seg == NULL ||
		    evbuffer_add_file_segment(out, seg, 0, (ev_off_t)file_len) != 0) {
			log_warnx("%s: cannot queue a file segment", __func__);
			c->close_after = true;
		}
		if (seg != NULL) {
			evbuffer_file_segment_free(seg);
			fd = -1;
		}
	} else if (!head_only && body_len > 0) {
		evbuffer_add(out, body, body_len);
	}
	if (fd >= 0)
		close(fd);
	if (!head_only)
		c->h->bytes += len;
	c->h->requests++;
	c->writing = true;
	bufferevent_disable(c->bev, EV_READ);
}

/* A short text answer: errors and refusals, which say in words what was wrong. */
static void
reply_text(struct conn *c, int status, const char *reason, const char *extra, const char *text,
           bool head_only)
{
	char ex[256];

	snprintf(ex, sizeof(ex), "Content-Type: text/plain; charset=utf-8\r\n%s", extra);
	reply(c, status, reason, ex, text, strlen(text), -1, 0, 0, head_only);
}

static void
reply_bencode(struct conn *c, const char *body, size_t len, bool head_only)
{
	reply(c, 200, "OK", "Content-Type: text/plain\r\nCache-Control: no-store\r\n", body, len,
	      -1, 0, 0, head_only);
}

static void
announce_fail(struct conn *c, const char *reason, bool head_only)
{
	char *body;
	size_t len;

	log_info("%s: %s: announce refused: %s", __func__, c->ip, reason);
	if (tr_announce_failure(reason, &body, &len) != 0) {
		c->close_after = true;
		reply_text(c, 500, "Internal Server Error", "", "out of memory\n", head_only);
		return;
	}
	reply_bencode(c, body, len, head_only);
	free(body);
}

/* Adds p to out[*n] (capacity max) unless it is there already or is the requester itself. */
static void
add_peer(struct tr_peer_addr *out, size_t *n, size_t max, const struct tr_peer_addr *p,
         const char *self_ip, int self_port)
{
	if (*n >= max || (p->port == self_port && strcmp(p->ip, self_ip) == 0))
		return;
	for (size_t i = 0; i < *n; i++)
		if (out[i].port == p->port && strcmp(out[i].ip, p->ip) == 0)
			return;
	out[(*n)++] = *p;
}

static void
serve_announce(struct conn *c, const char *query, bool head_only)
{
	struct tr_httpd *h = c->h;
	struct tr_announce_query q;
	struct tr_peer_addr ours[TR_HTTPD_MAX_NUMWANT], theirs[TR_HTTPD_MAX_NUMWANT],
	    all[TR_HTTPD_MAX_NUMWANT];
	size_t nours = 0, ntheirs = 0, n = 0, len;
	struct cm_err err = {{0}};
	char *body;

	if (tr_announce_query_parse(query != NULL ? query : "", &q, &err) != 0) {
		announce_fail(c, err.msg, head_only);
		return;
	}
	if (!h->ops.known(h->ctx, q.info_hash_hex)) {
		announce_fail(c, "unknown torrent", head_only);
		return;
	}
	if (tr_trk_announce(h->trk, q.info_hash_hex, c->ip, q.port, q.stopped,
	                    cm_time_mono_ms() / 1000, &err) != 0) {
		announce_fail(c, err.msg, head_only);
		return;
	}
	if (!q.stopped && q.numwant > 0) {
		/* gossip's seeders and ourselves first, then the announcers */
		nours = h->ops.peers(h->ctx, q.info_hash_hex, ours, (size_t)q.numwant);
		ntheirs = tr_trk_peers(h->trk, q.info_hash_hex, theirs, (size_t)q.numwant);
		for (size_t i = 0; i < nours && i < (size_t)q.numwant; i++)
			add_peer(all, &n, (size_t)q.numwant, &ours[i], c->ip, q.port);
		for (size_t i = 0; i < ntheirs; i++)
			add_peer(all, &n, (size_t)q.numwant, &theirs[i], c->ip, q.port);
	}
	if (tr_announce_answer(h->cfg.announce_interval_s, all, n, &body, &len) != 0) {
		announce_fail(c, "out of memory", head_only);
		return;
	}
	log_debug("%s: %s port %d: %s, %zu peers", __func__, c->ip, q.port, q.info_hash_hex, n);
	reply_bencode(c, body, len, head_only);
	free(body);
}

/* Opens f's file for reading; -1 when it is missing or shorter than the torrent says. */
static int
open_file(const struct tr_httpd_file *f)
{
	struct stat st;
	int fd = open(f->disk_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		log_warnx("%s: %s: %s", __func__, f->disk_path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < f->length) {
		log_warnx("%s: %s: not a file of %" PRIu64 " bytes", __func__, f->disk_path,
		          f->length);
		close(fd);
		return -1;
	}
	return fd;
}

/* /seed/<info_hash>/<name>[/<path>]: path is what follows "/seed/". */
static void
serve_seed(struct conn *c, const char *path, const struct tr_http_head *hd)
{
	struct tr_httpd *h = c->h;
	bool head_only = hd->method == TR_HTTP_HEAD;
	unsigned char raw[TR_HASH_LEN];
	char hex[TR_HEX_LEN + 1], rel[TR_HTTPD_MAX_LINE], extra[256];
	struct tr_httpd_file f;
	uint64_t first = 0, len;
	size_t rlen;
	enum tr_range_kind rk;
	int fd;

	if (strlen(path) < TR_HEX_LEN + 2 || path[TR_HEX_LEN] != '/' ||
	    cm_hex_decode(path, TR_HEX_LEN, raw, sizeof(raw), NULL) != 0 ||
	    cm_percent_decode(path + TR_HEX_LEN + 1, strlen(path + TR_HEX_LEN + 1), false, rel,
	                  sizeof(rel), &rlen) != 0 ||
	    memchr(rel, '\0', rlen) != NULL) {
		reply_text(c, 404, "Not Found", "",
		           "not a web seed path: /seed/<info hash, 40 hex>/<name>[/<path>]\n",
		           head_only);
		return;
	}
	cm_hex_encode(raw, sizeof(raw), hex);
	memset(&f, 0, sizeof(f));
	if (h->ops.find_file(h->ctx, hex, rel, &f) != 0) {
		reply_text(c, 404, "Not Found", "", "no such torrent or file here\n", head_only);
		return;
	}
	len = f.length;
	rk = hd->range_too_long ? TR_RANGE_NONE
	                        : tr_http_parse_range(hd->range, f.length, &first, &len);
	if (rk == TR_RANGE_UNSATISFIABLE) {
		snprintf(extra, sizeof(extra), "Content-Range: bytes */%" PRIu64 "\r\n", f.length);
		reply_text(c, 416, "Range Not Satisfiable", extra,
		           "the range is outside the file\n", head_only);
		return;
	}
	if (len > 0 && !h->ops.verified(h->ctx, hex, f.torrent_offset + first, len)) {
		reply_text(c, 503, "Service Unavailable", "Retry-After: 30\r\n",
		           "those bytes are not downloaded and verified yet\n", head_only);
		return;
	}
	if ((fd = open_file(&f)) < 0) {
		reply_text(c, 503, "Service Unavailable", "Retry-After: 30\r\n",
		           "the file cannot be read\n", head_only);
		return;
	}
	if (rk == TR_RANGE_OK)
		snprintf(extra, sizeof(extra),
		         "Content-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\n"
		         "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n",
		         first, first + len - 1, f.length);
	else
		snprintf(extra, sizeof(extra),
		         "Content-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\n");
	reply(c, rk == TR_RANGE_OK ? 206 : 200, rk == TR_RANGE_OK ? "Partial Content" : "OK", extra,
	      NULL, 0, fd, first, len, head_only);
}

/* Answers one parsed request. */
static void
route(struct conn *c, const struct tr_http_head *hd)
{
	bool head_only = hd->method == TR_HTTP_HEAD;
	char path[TR_HTTPD_MAX_LINE];
	const char *q = strchr(hd->target, '?');
	size_t plen = q != NULL ? (size_t)(q - hd->target) : strlen(hd->target);

	memcpy(path, hd->target, plen);
	path[plen] = '\0';
	if (hd->has_body) {
		c->close_after = true;
		reply_text(c, 413, "Content Too Large", "",
		           "requests with a body are not accepted\n", head_only);
	} else if (hd->method == TR_HTTP_OPTIONS) {
		/* the CORS preflight of a cross-origin Range request */
		reply(c, 204, "No Content",
		      "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
		      "Access-Control-Allow-Headers: Range, Cache-Control\r\n"
		      "Access-Control-Max-Age: 600\r\n",
		      NULL, 0, -1, 0, 0, true);
	} else if (hd->method == TR_HTTP_OTHER) {
		reply_text(c, 405, "Method Not Allowed", "Allow: GET, HEAD, OPTIONS\r\n",
		           "only GET, HEAD and OPTIONS\n", false);
	} else if (strcmp(path, "/announce") == 0) {
		serve_announce(c, q != NULL ? q + 1 : NULL, head_only);
	} else if (strncmp(path, "/seed/", 6) == 0) {
		serve_seed(c, path + 6, hd);
	} else {
		reply_text(c, 404, "Not Found", "",
		           "not found: /seed/... and /announce are served\n", head_only);
	}
}

static const char *
status_reason(int status)
{
	switch (status) {
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Bad Request";
	}
}

/* Refuses the connection's request with status and closes once that is sent. */
static void
refuse(struct conn *c, int status, const char *why)
{
	char text[CM_ERR_MSG + 2];

	log_info("%s: %s: %d: %s", __func__, c->ip, status, why);
	c->h->refused++;
	c->close_after = true;
	snprintf(text, sizeof(text), "%s\n", why);
	reply_text(c, status, status_reason(status), "", text, false);
}

/* Takes one request head from the input, when it is all there, and answers it. */
static void
next_request(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	char head[TR_HTTPD_MAX_HEAD + 4];
	struct tr_http_head hd;
	struct cm_err err = {{0}};
	int status;

	if (end.pos < 0) {
		if (evbuffer_get_length(in) > TR_HTTPD_MAX_HEAD)
			refuse(c, 431, "request head too large");
		return;
	}
	if ((size_t)end.pos > TR_HTTPD_MAX_HEAD) {
		refuse(c, 431, "request head too large");
		return;
	}
	evtimer_del(c->deadline);
	evbuffer_remove(in, head, (size_t)end.pos + 4);
	if ((status = tr_http_parse_head(head, (size_t)end.pos, &hd, &err)) != 0) {
		refuse(c, status, err.msg);
		return;
	}
	c->close_after = hd.http10 || hd.close;
	route(c, &hd);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (!c->writing)
		next_request(c);
}

/* The answer is out: close, or wait for the next request (which may be in already). */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (!c->writing)
		return;
	c->writing = false;
	if (c->close_after) {
		conn_free(c);
		return;
	}
	arm_deadline(c);
	bufferevent_enable(c->bev, EV_READ);
	next_request(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_info("%s: %s: the answer made no progress; closed", __func__, c->ip);
	conn_free(c);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		log_info("%s: %s: no whole request head within %d ms; closed", __func__, c->ip,
		         c->h->cfg.head_timeout_ms);
		c->h->refused++;
	}
	conn_free(c);
}

/* The peer's address as text; an IPv4-mapped IPv6 address as plain IPv4. */
static void
addr_text(const struct sockaddr *sa, char out[46])
{
	out[0] = '\0';
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 46);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, a->s6_addr + 12, out, 46);
		else
			inet_ntop(AF_INET6, a, out, 46);
	}
}

/* Counts one more connection from ip; -1 when that passes the cap (or memory fails). */
static int
addr_take(struct tr_httpd *h, const char *ip)
{
	struct addr_count *a = cm_map_get(h->per_addr, ip);

	if (a == NULL) {
		if ((a = calloc(1, sizeof(*a))) == NULL)
			return -1;
		snprintf(a->ip, sizeof(a->ip), "%s", ip);
		if (cm_map_put(h->per_addr, a->ip, a) != 0) {
			free(a);
			return -1;
		}
	}
	if (a->n >= h->cfg.max_per_address)
		return -1;
	a->n++;
	return 0;
}

static void
accept_cb(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct tr_httpd *h = arg;
	struct timeval wtv = {h->cfg.write_timeout_ms / 1000,
	                      (h->cfg.write_timeout_ms % 1000) * 1000};
	struct conn *c;
	char ip[46];

	(void)salen;
	addr_text(sa, ip);
	if (h->nconns >= h->cfg.max_connections || ip[0] == '\0' || addr_take(h, ip) != 0) {
		log_info("%s: %s: refused (%d connections open; caps %d, %d per address)", __func__,
		         ip, h->nconns, h->cfg.max_connections, h->cfg.max_per_address);
		h->refused++;
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		struct addr_count *a = cm_map_get(h->per_addr, ip);

		if (--a->n == 0)
			free(cm_map_del(h->per_addr, ip));
		close(fd);
		return;
	}
	c->h = h;
	memcpy(c->ip, ip, sizeof(ip));
	c->next = h->conns;
	if (h->conns != NULL)
		h->conns->prev = c;
	h->conns = c;
	h->nconns++;
	evutil_make_socket_nonblocking(fd);
	c->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(h->base, deadline_cb, c);
	if (c->bev == NULL || c->deadline == NULL) {
		if (c->bev == NULL)
			close(fd);
		conn_free(c);
		return;
	}
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	/* the input never holds more than one head: reading pauses there */
	bufferevent_setwatermark(c->bev, EV_READ, 0, TR_HTTPD_MAX_HEAD + 1);
	bufferevent_set_timeouts(c->bev, NULL, &wtv);
	bufferevent_enable(c->bev, EV_READ);
	arm_deadline(c);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tr_httpd *h = arg;

	(void)fd;
	(void)what;
	tr_trk_expire(h->trk, cm_time_mono_ms() / 1000, 2 * (int64_t)h->cfg.announce_interval_s);
}

struct tr_httpd *
tr_httpd_new(struct event_base *base, const struct tr_httpd_config *cfg,
             const struct tr_httpd_ops *ops, void *ctx)
{
	struct tr_httpd *h = calloc(1, sizeof(*h));
	struct cm_hash_key key;
	struct timeval tv;

	if (h == NULL)
		return NULL;
	h->base = base;
	h->cfg = *cfg;
	h->ops = *ops;
	h->ctx = ctx;
	if (cfg->max_connections < 1 || cfg->max_per_address < 1 || cfg->announce_interval_s < 1 ||
	    cfg->head_timeout_ms < 1 || cfg->write_timeout_ms < 1) {
		log_warnx("%s: a cap or timeout is not positive", __func__);
		goto fail;
	}
	if (cm_random_hash_key(&key) != 0 || (h->per_addr = cm_map_new(CM_MAP_STR, &key)) == NULL ||
	    (h->trk = tr_trk_new(cfg->max_torrents_tracked, cfg->max_announcers, &key)) == NULL ||
	    (h->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, h)) == NULL) {
		log_warnx("%s: out of memory", __func__);
		goto fail;
	}
	/* half the expiry age: an announcer is gone between 2 and 2.5 intervals after its last word
	 */
	tv.tv_sec = cfg->announce_interval_s > 1 ? cfg->announce_interval_s / 2 : 1;
	tv.tv_usec = 0;
	event_add(h->sweep, &tv);
	if ((h->listener = tcp_listener_new(base, cfg->host, cfg->port, accept_cb, h)) == NULL)
		goto fail;
	log_info("%s: web seeds and tracker on http://%s:%d/", __func__, cfg->host,
	         tcp_listener_port(h->listener));
	return h;
fail:
	tr_httpd_free(h);
	return NULL;
}

void
tr_httpd_free(struct tr_httpd *h)
{
	if (h == NULL)
		return;
	while (h->conns != NULL)
		conn_free(h->conns);
	tcp_listener_free(h->listener);
	if (h->sweep != NULL)
		event_free(h->sweep);
	tr_trk_free(h->trk);
	cm_map_free(h->per_addr);
	free(h);
}

int
tr_httpd_port(const struct tr_httpd *h)
{
	return tcp_listener_port(h->listener);
}

void
tr_httpd_counts(const struct tr_httpd *h, uint64_t *requests, uint64_t *refused, uint64_t *bytes)
{
	*requests = h->requests;
	*refused = h->refused;
	*bytes = h->bytes;
}
