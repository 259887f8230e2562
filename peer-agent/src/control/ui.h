/*
 * ui.h - the agent's web page on the control API: its files, compiled in
 * from peer-agent/ui/ (tools/embed-files.sh), served with headers that keep
 * it to itself (a strict Content-Security-Policy, no framing, no sniffing),
 * and the Host check that keeps other sites' pages off the API (DNS
 * rebinding). The page holds no data and needs no token; it asks /api/ with
 * the token the user brings (peer-agent ui).
 */
#ifndef PA_CONTROL_UI_H
#define PA_CONTROL_UI_H

#include <stdbool.h>
#include <stddef.h>

#include "fb/embed.h"

struct evhttp_request;

/* build/gen/ui_files.c: the page's files by their path under peer-agent/ui/. */
extern const struct cm_embedded ctl_ui_files[];
extern const size_t ctl_ui_files_count;

/*
 * Whether a request's Host header names the API itself: its listen address
 * host with port ("127.0.0.1:7700", "[::1]:7700"), or localhost:port when it
 * listens on 127.0.0.1 or ::1; the port may be left out only when it is 80.
 * A missing Host is refused: every HTTP/1.1 client sends one.
 */
bool ctl_ui_host_ok(const char *host_header, const char *listen_host, int port);

/* The file a path serves ("/" the page), or NULL. */
const struct cm_embedded *ctl_ui_file(const char *path);

/* The Content-Type of a file by its name's ending. */
const char *ctl_ui_content_type(const char *name);

/* Headers every answer of the API carries, page or JSON. */
void ctl_ui_add_security_headers(struct evhttp_request *req);

/* Answers a GET or HEAD of f. */
void ctl_ui_serve(struct evhttp_request *req, const struct cm_embedded *f);

#endif
