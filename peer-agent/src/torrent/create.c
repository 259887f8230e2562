/*
 * create.c - tr_client_create: a file or folder hashed on the hasher's
 * threads while the loop goes on, its metadata built (naming our tracker and
 * web seed when we serve HTTP), its .torrent written, and seeding started at once.
 */
#include <event2/event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/log.h"
#include "net/httpclient.h"
#include "torrent/torrent_internal.h"

/*
 * Our tracker and web-seed URLs: only a client that serves HTTP and is not
 * silent has them. A single-file web seed is the file's own URL (browser
 * WebTorrent takes a URL as it is); a multi-file one is the folder's.
 */
static void
our_urls(const struct tr_client *c, const char *hex, const char *name, bool multi,
         struct cm_strlist *trackers, struct cm_strlist *seeds)
{
	char url[1024];
	const char *host = c->cfg.public_host;
	int port = tr_client_http_port(c);
	bool v6 = host != NULL && strchr(host, ':') != NULL;

	if (c->cfg.silent || host == NULL || port == 0)
		return;
	if (trackers != NULL) {
		snprintf(url, sizeof(url), v6 ? "http://[%s]:%d/announce" : "http://%s:%d/announce",
		         host, port);
		cm_strlist_append(trackers, url);
	}
	if (seeds != NULL) {
		char *esc = multi ? strdup("") : hc_url_escape(name);

		if (esc == NULL)
			return;
		snprintf(url, sizeof(url),
		         v6 ? "http://[%s]:%d/seed/%s/%s" : "http://%s:%d/seed/%s/%s", host, port,
		         hex, esc);
		free(esc);
		cm_strlist_append(seeds, url);
	}
}

static int
build(struct tr_creation *cr, struct tr_meta *m, struct cm_err *err)
{
	struct cm_strlist trackers = {NULL, 0};
	size_t nfiles;
	uint32_t npieces;
	const struct tr_file *files = tr_hasher_files(cr->h, &nfiles);
	const unsigned char *pieces = tr_hasher_pieces(cr->h, &npieces);
	const char *name = cr->name;
	int rc;

	if (name == NULL) {
		const char *slash = strrchr(cr->path, '/');

		name = slash != NULL ? slash + 1 : cr->path;
	}
	our_urls(cr->c, "", name, false, &trackers, NULL);
	rc = tr_meta_build(m, name, tr_hasher_multi_file(cr->h), files, nfiles,
	                   tr_hasher_piece_length(cr->h), pieces, npieces, &trackers, NULL, err);
	cm_strlist_clear(&trackers);
	if (rc != 0)
		return -1;
	/* The web seed's URL holds the info hash, known only now; url-list is outside info. */
	our_urls(cr->c, m->info_hash_hex, name, m->multi_file, NULL, &m->web_seeds);
	return 0;
}

static void
finish(struct tr_creation *cr, const struct cm_err *err, struct tr_torrent *t)
{
	struct tr_status st;

	memset(&st, 0, sizeof(st));
	if (t != NULL)
		tr_torrent_status(t, &st);
	cr->done(cr->arg, t != NULL ? &st : NULL, err);
	tr_status_clear(&st);
	tr_creation_free(cr);
}

void
tr_creation_free(struct tr_creation *cr)
{
	TAILQ_REMOVE(&cr->c->creations, cr, link);
	if (cr->ev != NULL)
		event_free(cr->ev);
	tr_hasher_free(cr->h);
	free(cr->path);
	free(cr->name);
	free(cr);
}

static struct tr_torrent *
seed(struct tr_creation *cr, struct tr_meta *m, struct cm_err *err)
{
	struct tr_client *c = cr->c;
	struct tr_torrent *t = cm_map_get(c->by_hash, m->info_hash_hex);
	size_t nfiles;

	if (t != NULL) {
		tr_meta_clear(m);
		return t; /* held already: its status is the answer */
	}
	if (c->ntorrents >= c->cfg.max_torrents) {
		cm_err_set(err, "%d torrents held already", c->ntorrents);
		return NULL;
	}
	if ((t = tr_torrent_new(c, m->info_hash)) == NULL) {
		cm_err_set(err, "out of memory");
		return NULL;
	}
	t->created = true;
	t->trusted = true;
	t->root = strdup(cr->path);
	tr_hasher_files(cr->h, &nfiles);
	t->file_sha = calloc(nfiles, sizeof(*t->file_sha));
	if (t->root == NULL || t->file_sha == NULL) {
		cm_err_set(err, "out of memory");
		tr_torrent_free(t);
		return NULL;
	}
	memcpy(t->file_sha, tr_hasher_sha256(cr->h), nfiles * sizeof(*t->file_sha));
	if (tr_torrent_set_meta(t, m, err) != 0) {
		tr_store_remove(t);
		tr_torrent_free(t);
		return NULL;
	}
	log_info("torrent %s: created from %s", t->hex, cr->path);
	return t;
}

/* The hasher's threads have ended. */
static void
on_hashed(evutil_socket_t fd, short what, void *arg)
{
	struct tr_creation *cr = arg;
	struct cm_err err = {{0}};
	struct tr_meta m;
	struct tr_torrent *t;

	(void)fd;
	(void)what;
	if (tr_hasher_finish(cr->h, &err) != 0) {
		finish(cr, &err, NULL);
		return;
	}
	memset(&m, 0, sizeof(m));
	if (build(cr, &m, &err) != 0) {
		finish(cr, &err, NULL);
		return;
	}
	t = seed(cr, &m, &err);
	tr_meta_clear(&m);
	finish(cr, t != NULL ? NULL : &err, t);
}

int
tr_client_create(struct tr_client *c, const char *path, const char *name, tr_created_fn done,
                 void *arg, struct cm_err *err)
{
	struct tr_creation *cr;
	char full[PATH_MAX];

	if (realpath(path, full) == NULL) {
		cm_err_set(err, "%s: no such file or folder", path);
		return -1;
	}
	if (name != NULL && (*name == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
	                     strcmp(name, "..") == 0)) {
		cm_err_set(err, "name %s: not a file name", name);
		return -1;
	}
	if ((cr = calloc(1, sizeof(*cr))) == NULL) {
		cm_err_set(err, "out of memory");
		return -1;
	}
	cr->c = c;
	cr->done = done;
	cr->arg = arg;
	cr->path = strdup(full);
	cr->name = name != NULL ? strdup(name) : NULL;
	TAILQ_INSERT_TAIL(&c->creations, cr, link);
	if (cr->path == NULL || (name != NULL && cr->name == NULL)) {
		cm_err_set(err, "out of memory");
		goto fail;
	}
	if ((cr->h = tr_hasher_new(full, c->cfg.max_torrent_bytes, err)) == NULL)
		goto fail;
	if ((cr->ev = event_new(c->base, tr_hasher_fd(cr->h), EV_READ, on_hashed, cr)) == NULL ||
	    event_add(cr->ev, NULL) != 0) {
		cm_err_set(err, "out of memory");
		goto fail;
	}
	return 0;
fail:
	tr_creation_free(cr);
	return -1;
}
