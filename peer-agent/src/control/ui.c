/*
 * ui.c - the web page's files and headers, and the Host check (ui.h).
 */
#include "control/ui.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * Scripts and styles from the page's own files only (no inline script, so a
 * string that slipped into the document as HTML could not run), requests to
 * this origin only, no embedding in another site's frame, no form posting
 * elsewhere.
 */
#define UI_CSP                                                                                   \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "        \
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* host_header without its ":port" equals want (case-insensitive), and the port is port. */
static bool
host_is(const char *host_header, size_t hlen, const char *want, int port)
{
	size_t n = strlen(want);
	char tail[16];

	if (hlen < n || strncasecmp(host_header, want, n) != 0)
		return false;
	if (hlen == n)
		return port == 80;
	snprintf(tail, sizeof(tail), ":%d", port);
	return hlen - n == strlen(tail) && memcmp(host_header + n, tail, hlen - n) == 0;
}

bool
ctl_ui_host_ok(const char *host_header, const char *listen_host, int port)
{
	char bracketed[64];
	size_t hlen;

	if (host_header == NULL || listen_host == NULL)
		return false;
	hlen = strlen(host_header);
	if (strchr(listen_host, ':') != NULL) {
		snprintf(bracketed, sizeof(bracketed), "[%s]", listen_host);
		listen_host = bracketed;
	}
	if (host_is(host_header, hlen, listen_host, port))
		return true;
	/* A name only when it cannot mean anything but this machine's loopback. */
	return (strcmp(listen_host, "127.0.0.1") == 0 || strcmp(listen_host, "[::1]") == 0) &&
	       host_is(host_header, hlen, "localhost", port);
}

const struct cm_embedded *
ctl_ui_file(const char *path)
{
	if (path == NULL || path[0] != '/')
		return NULL;
	path = strcmp(path, "/") == 0 ? "index.html" : path + 1;
	for (size_t i = 0; i < ctl_ui_files_count; i++)
		if (strcmp(ctl_ui_files[i].name, path) == 0)
			return &ctl_ui_files[i];
	return NULL;
}

const char *
ctl_ui_content_type(const char *name)
{
	static const struct {
		const char *ending, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"},
	};
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t e = strlen(types[i].ending);

		if (n >= e && strcmp(name + n - e, types[i].ending) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

void
ctl_ui_add_security_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Security-Policy", UI_CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	/* Neither the page (it must match this binary) nor the API's data is kept. */
	evhttp_add_header(h, "Cache-Control", "no-store");
}

void
ctl_ui_serve(struct evhttp_request *req, const struct cm_embedded *f)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL || evbuffer_add_reference(buf, f->data, f->len, NULL, NULL) != 0) {
		evhttp_send_error(req, 500, "out of memory");
		if (buf != NULL)
			evbuffer_free(buf);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  ctl_ui_content_type(f->name));
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}
