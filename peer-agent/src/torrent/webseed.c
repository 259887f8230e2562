/*
 * webseed.c - downloading pieces from a web seed (see webseed.h). A piece
 * is cut into the segments of the files it spans; each is one GET with
 * "Range: bytes=a-b", sent one after the other. A 206 must say, in
 * Content-Range, exactly the bytes asked for; a 200 (a server that ignores
 * Range) is taken only for a file of at most TR_WEBSEED_MAX_WHOLE bytes,
 * and the segment cut out of it. Nothing here trusts the bytes: the torrent
 * client verifies the piece's SHA-1.
 */
#include "torrent/webseed.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/buf.h"
#include "fb/log.h"
#include "net/httpclient.h"

#define WEBSEED_TIMEOUT_MS 120000
#define WEBSEED_MAX_URL    8192

struct tr_webseed {
	struct hc_client *hc;
	char *url;
	char *bind_ip;
	const struct tr_meta *m;
	tr_webseed_fn fn;
	void *arg;
	bool busy;
	uint32_t piece;
	uint64_t piece_off; /* the piece's start in the torrent's byte stream */
	unsigned char *buf; /* the piece, as it fills */
	size_t len, got;
	size_t file; /* the file the next segment comes from */
};

/* Appends s escaped as one URL path segment ('/' escaped too). */
static int
add_segment(char **url, size_t *len, const char *s, size_t n)
{
	char part[TR_MAX_PATH + 1], *esc;
	int rc;

	if (n > TR_MAX_PATH)
		return -1;
	memcpy(part, s, n);
	part[n] = '\0';
	if ((esc = hc_url_escape(part)) == NULL)
		return -1;
	rc = cm_buf_append(url, len, WEBSEED_MAX_URL, esc, strlen(esc));
	free(esc);
	return rc;
}

/*
 * The URL of file i (BEP 19): single-file, url + name when url ends in '/',
 * else url itself; multi-file, url [+ '/'] + name + '/' + path, each
 * component percent-escaped. Caller frees; NULL when it does not fit.
 */
static char *
file_url(const struct tr_webseed *w, size_t i)
{
	const struct tr_meta *m = w->m;
	size_t ulen = strlen(w->url), len = 0;
	bool slash = ulen > 0 && w->url[ulen - 1] == '/';
	char *url = NULL;
	const char *p;

	if (cm_buf_append(&url, &len, WEBSEED_MAX_URL, w->url, ulen) != 0)
		goto fail;
	if (!m->multi_file) {
		if (slash && add_segment(&url, &len, m->name, strlen(m->name)) != 0)
			goto fail;
		return url;
	}
	if ((!slash && cm_buf_append(&url, &len, WEBSEED_MAX_URL, "/", 1) != 0) ||
	    add_segment(&url, &len, m->name, strlen(m->name)) != 0)
		goto fail;
	for (p = m->files[i].path; *p != '\0';) {
		const char *sl = strchr(p, '/');
		size_t n = sl != NULL ? (size_t)(sl - p) : strlen(p);

		if (cm_buf_append(&url, &len, WEBSEED_MAX_URL, "/", 1) != 0 ||
		    add_segment(&url, &len, p, n) != 0)
			goto fail;
		p += n + (sl != NULL ? 1 : 0);
	}
	return url;
fail:
	free(url);
	return NULL;
}

static void
finish(struct tr_webseed *w, const char *err)
{
	unsigned char *buf = w->buf;

	w->busy = false;
	w->buf = NULL;
	if (err != NULL)
		log_info("%s: %s: piece %" PRIu32 ": %s", __func__, w->url, w->piece, err);
	w->fn(w->arg, w->piece, err == NULL ? buf : NULL, err == NULL ? w->len : 0, err);
	free(buf);
}

static int next_segment(struct tr_webseed *w);

/* Whether a 206's Content-Range says exactly bytes first..last of a file of flen bytes. */
static bool
range_matches(const char *cr, uint64_t first, uint64_t last, uint64_t flen)
{
	char want[96];

	if (cr == NULL)
		return false;
	snprintf(want, sizeof(want), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, flen);
	if (strcmp(cr, want) == 0)
		return true;
	/* a length of "*": a server that does not say it */
	snprintf(want, sizeof(want), "bytes %" PRIu64 "-%" PRIu64 "/*", first, last);
	return strcmp(cr, want) == 0;
}

static void
segment_done(const struct hc_result *r, void *arg)
{
	struct tr_webseed *w = arg;
	const struct tr_file *f = &w->m->files[w->file];
	uint64_t first = w->piece_off + w->got - f->offset;
	uint64_t n = f->offset + f->length - (w->piece_off + w->got);
	char why[CM_ERR_MSG];
	int rc;

	if (n > w->len - w->got)
		n = w->len - w->got;
	if (r->err != NULL) {
		snprintf(why, sizeof(why), "%s", r->err);
	} else if (r->status == 206) {
		if (!range_matches(r->content_range, first, first + n - 1, f->length)) {
			snprintf(why, sizeof(why),
			         "206 with Content-Range %s, not bytes %" PRIu64 "-%" PRIu64
			         "/%" PRIu64,
			         r->content_range ? r->content_range : "(none)", first,
			         first + n - 1, f->length);
		} else if (r->body_len != n) {
			snprintf(why, sizeof(why), "206 of %zu bytes, not %" PRIu64, r->body_len,
			         n);
		} else {
			memcpy(w->buf + w->got, r->body, n);
			w->got += n;
			why[0] = '\0';
		}
	} else if (r->status == 200) {
		if (r->body_len != f->length) {
			snprintf(why, sizeof(why), "200 of %zu bytes for a file of %" PRIu64,
			         r->body_len, f->length);
		} else {
			memcpy(w->buf + w->got, r->body + first, n);
			w->got += n;
			why[0] = '\0';
		}
	} else {
		snprintf(why, sizeof(why), "HTTP status %ld", r->status);
	}
	if (why[0] != '\0') {
		finish(w, why);
		return;
	}
	w->file++;
	if (w->got == w->len || (rc = next_segment(w)) == 1)
		finish(w, NULL);
	else if (rc != 0)
		finish(w, "cannot send the next request");
}

/*
 * Asks for the next segment: from w->file (skipping empty files, filling
 * padding files in with zeros) at the piece's w->got. 0: asked; 1: the rest
 * of the piece was padding, it is complete; -1: failed.
 */
static int
next_segment(struct tr_webseed *w)
{
	const struct tr_meta *m = w->m;
	uint64_t at = w->piece_off + w->got, first, n;
	struct hc_request req = {0};
	char range[80], *url;
	const char *headers[2] = {range, NULL};
	const struct tr_file *f;
	int rc;

	for (;;) {
		while (w->file < m->file_count &&
		       m->files[w->file].offset + m->files[w->file].length <= at)
			w->file++;
		if (w->file == m->file_count)
			return -1;
		f = &m->files[w->file];
		if (!f->pad)
			break;
		/* BEP 47: padding is zeros, never asked of a server */
		n = f->offset + f->length - at;
		if (n > w->len - w->got)
			n = w->len - w->got;
		memset(w->buf + w->got, 0, n);
		w->got += n;
		at += n;
		w->file++;
		if (w->got == w->len)
			return 1;
	}
	first = at - f->offset;
	n = f->length - first;
	if (n > w->len - w->got)
		n = w->len - w->got;
	if ((url = file_url(w, w->file)) == NULL)
		return -1;
	snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64, first, first + n - 1);
	req.method = "GET";
	req.url = url;
	req.allow_http = true;
	req.headers = headers;
	req.bind_ip = w->bind_ip;
	req.timeout_ms = WEBSEED_TIMEOUT_MS;
	/* room for the whole file when it is small: a server that ignores Range sends it all */
	req.max_answer_bytes = f->length <= TR_WEBSEED_MAX_WHOLE && f->length > n ? f->length : n;
	rc = hc_start(w->hc, &req, segment_done, w);
	free(url);
	return rc;
}

struct tr_webseed *
tr_webseed_new(struct hc_client *hc, const char *url, const struct tr_meta *m, const char *bind_ip,
               tr_webseed_fn fn, void *arg)
{
	struct tr_webseed *w;

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		log_warnx("%s: %s: not an http(s) URL", __func__, url);
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->url = strdup(url)) == NULL ||
	    (bind_ip != NULL && (w->bind_ip = strdup(bind_ip)) == NULL)) {
		tr_webseed_free(w);
		return NULL;
	}
	w->hc = hc;
	w->m = m;
	w->fn = fn;
	w->arg = arg;
	return w;
}

void
tr_webseed_free(struct tr_webseed *w)
{
	if (w == NULL)
		return;
	if (w->hc != NULL)
		hc_cancel(w->hc, w);
	free(w->buf);
	free(w->url);
	free(w->bind_ip);
	free(w);
}

int
tr_webseed_fetch(struct tr_webseed *w, uint32_t piece)
{
	const struct tr_meta *m = w->m;
	uint64_t off = (uint64_t)piece * m->piece_length;

	if (w->busy || piece >= m->piece_count || off >= m->total_length)
		return -1;
	w->piece = piece;
	w->piece_off = off;
	w->len = tr_meta_piece_size(m, piece);
	w->got = 0;
	w->file = 0;
	if ((w->buf = malloc(w->len)) == NULL)
		return -1;
	/* a piece of padding alone (no honest torrent has one) is not a web seed's to give */
	if (next_segment(w) != 0) {
		free(w->buf);
		w->buf = NULL;
		return -1;
	}
	w->busy = true;
	return 0;
}

bool
tr_webseed_busy(const struct tr_webseed *w)
{
	return w->busy;
}

const char *
tr_webseed_url(const struct tr_webseed *w)
{
	return w->url;
}
