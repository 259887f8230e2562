/*
 * cmd-torrent.c - `peer-agent torrent create|list|search|get|remove`: large
 * files shared as BitTorrent torrents, through the agent's control API.
 * `get` waits until the download is complete and verified, with a progress
 * bar on a terminal and plain lines otherwise.
 */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "fb/codec.h"

#define CREATE_TIMEOUT_S 3600 /* hashing a large file */
#define POLL_MS 200
#define PLAIN_EVERY_MS 5000   /* a progress line when stdout is not a terminal */

/* A human size: "12.3 MiB". */
static void
human(double v, char *out, size_t cap)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(out, cap, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
}

static const char *
str(const char *s)
{
	return s != NULL ? s : "-";
}

static void
print_torrent(const struct cm_torrent_status *t)
{
	char size[32];

	human((double)t->size, size, sizeof(size));
	printf("info_hash:    %s\n", str(t->info_hash));
	printf("name:         %s\n", str(t->name));
	printf("size:         %s (%lld bytes)\n", size, (long long)t->size);
	printf("state:        %s (%.1f %%)\n", str(cm_torrent_state_name(t->state)),
	       t->progress * 100);
	if (t->sha256 != NULL)
		printf("sha256:       %s\n", t->sha256);
	printf("path:         %s\n", str(t->path));
	if (t->torrent_file != NULL)
		printf("torrent_file: %s\n", t->torrent_file);
	if (t->magnet != NULL)
		printf("magnet:       %s\n", t->magnet);
	if (t->error != NULL)
		printf("error:        %s\n", t->error);
}

static void
print_list(const struct cm_torrent_statuslist *l)
{
	char size[32], down[32], up[32];

	if (l->len == 0) {
		printf("no torrents\n");
		return;
	}
	printf("%-40s %-11s %6s %10s %5s %11s %11s  %s\n", "INFO_HASH", "STATE", "DONE", "SIZE",
	       "PEERS", "DOWN/s", "UP/s", "NAME");
	for (size_t i = 0; i < l->len; i++) {
		const struct cm_torrent_status *t = &l->items[i];

		human((double)t->size, size, sizeof(size));
		human((double)t->download_rate, down, sizeof(down));
		human((double)t->upload_rate, up, sizeof(up));
		printf("%-40s %-11s %5.1f%% %10s %5lld %11s %11s  %s\n", str(t->info_hash),
		       str(cm_torrent_state_name(t->state)), t->progress * 100, size, (long long)t->peers, down, up,
		       str(t->name));
	}
}

/* Calls the API; prints an error answer. Returns the HTTP status (0: unreachable). */
static long
call(const struct cli_opts *o, const char *method, const char *path, const char *body,
     long timeout_s, struct cli_answer *ans)
{
	struct pa_config cfg;
	char *token;
	long status;

	if (cli_agent_open(o->home, &cfg, &token) != 0)
		return -2;
	status = cli_request_timeout(&cfg, token, method, path, body, timeout_s, ans);
	free(token);
	pa_config_clear(&cfg);
	if (status != 0 && (status < 200 || status > 299))
		cli_print_error(status, ans);
	return status;
}

/* Exit code of a call: 0, 1 (an error answer or unreachable), 2 (configuration). */
static int
rc_of(long status)
{
	return status == -2 ? 2 : status >= 200 && status <= 299 ? 0 : 1;
}

/* Prints a one-torrent answer (as JSON with --json). */
static int
show_one(const struct cli_opts *o, long status, const struct cli_answer *ans)
{
	struct cm_torrent_status t = {0};
	struct cm_err err;

	if (rc_of(status) != 0)
		return rc_of(status);
	if (o->json) {
		fputs(ans->buf, stdout);
		return 0;
	}
	if (cm_torrent_status_from_text(ans->buf, ans->len, &t, &err) != 0) {
		fprintf(stderr, "peer-agent: the agent's answer: %s\n", err.msg);
		return 1;
	}
	print_torrent(&t);
	cm_torrent_status_clear(&t);
	return 0;
}

static int
show_created(const struct cli_opts *o, long status, const struct cli_answer *ans)
{
	struct cm_torrent_created t = {0};
	struct cm_err err;
	char size[32];

	if (rc_of(status) != 0)
		return rc_of(status);
	if (o->json) {
		fputs(ans->buf, stdout);
		return 0;
	}
	if (cm_torrent_created_from_text(ans->buf, ans->len, &t, &err) != 0) {
		fprintf(stderr, "peer-agent: the agent's answer: %s\n", err.msg);
		return 1;
	}
	human((double)t.size, size, sizeof(size));
	printf("info_hash:    %s\n", str(t.info_hash));
	printf("name:         %s\n", str(t.name));
	printf("size:         %s (%lld bytes, pieces of %lld)\n", size, (long long)t.size,
	       (long long)t.piece_length);
	printf("sha256:       %s\n", str(t.sha256));
	printf("torrent_file: %s\n", str(t.torrent_file));
	printf("magnet:       %s\n", str(t.magnet));
	printf("seeding now.\n");
	cm_torrent_created_clear(&t);
	return 0;
}

/* An absolute form of a path given on the command line (the agent has its own cwd). */
static char *
absolute(const char *p)
{
	char *r = realpath(p, NULL);

	if (r == NULL)
		fprintf(stderr, "peer-agent: %s: %s\n", p, strerror(errno));
	return r;
}

static int
torrent_create(const struct cli_opts *o)
{
	struct cm_torrent_add_request r = {0};
	struct cli_answer ans = {0};
	char *body;
	long status;
	int rc;

	if ((r.path = absolute(o->args[1])) == NULL)
		return 1;
	r.name = (char *)o->name;
	body = cm_json_dump_take(cm_torrent_add_request_encode(&r), NULL);
	r.name = NULL;
	if (!o->json && isatty(STDERR_FILENO))
		fprintf(stderr, "hashing %s...\n", r.path);
	status = call(o, "POST", "/api/v1/torrents", body, CREATE_TIMEOUT_S, &ans);
	rc = show_created(o, status, &ans);
	free(body);
	free(ans.buf);
	cm_torrent_add_request_clear(&r);
	return rc;
}

static int
torrent_list(const struct cli_opts *o)
{
	struct cli_answer ans = {0};
	struct cm_torrent_statuslist l = {0};
	struct cm_err err;
	long status = call(o, "GET", "/api/v1/torrents", NULL, 30, &ans);
	int rc = rc_of(status);

	if (rc == 0 && o->json) {
		fputs(ans.buf, stdout);
	} else if (rc == 0) {
		if (cm_torrent_statuslist_from_text(ans.buf, ans.len, &l, &err) == 0) {
			print_list(&l);
		} else {
			fprintf(stderr, "peer-agent: the agent's answer: %s\n", err.msg);
			rc = 1;
		}
		cm_torrent_statuslist_clear(&l);
	}
	free(ans.buf);
	return rc;
}

static int
torrent_search(const struct cli_opts *o)
{
	char path[256];
	char *esc = curl_easy_escape(NULL, o->args[1], 0);

	snprintf(path, sizeof(path), "/api/v1/torrents/search?info_hash=%s",
		 esc != NULL ? esc : "");
	curl_free(esc);
	return cli_api_show(o, "GET", path, NULL, true);
}

/* A bar on a terminal: "[#####.....]  45.2 %  12.3 MiB/s  ETA 0:42". */
static void
show_progress(const struct cm_torrent_status *t, bool tty)
{
	/* Before the metadata arrives a torrent has no name yet. */
	const char *name = t->name != NULL ? t->name : t->info_hash;
	char rate[32], eta[32] = "--:--";
	int width = 30, filled = (int)(t->progress * width);
	double left = (1 - t->progress) * (double)t->size;

	human((double)t->download_rate, rate, sizeof(rate));
	if (t->download_rate > 0 && t->size > 0) {
		long s = (long)(left / (double)t->download_rate);

		snprintf(eta, sizeof(eta), "%ld:%02ld", s / 60, s % 60);
	}
	if (!tty) {
		printf("%s %s %.1f %% %s/s eta %s peers %lld\n", str(name),
		       str(cm_torrent_state_name(t->state)),
		       t->progress * 100, rate, eta, (long long)t->peers);
		fflush(stdout);
		return;
	}
	printf("\r%-24.24s [", str(name));
	for (int i = 0; i < width; i++)
		putchar(i < filled ? '#' : '.');
	printf("] %5.1f %%  %10s/s  ETA %-8s %2lld peers ", t->progress * 100, rate, eta,
	       (long long)t->peers);
	fflush(stdout);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Polls the torrent until it is complete and verified (0) or failed (1). */
static int
wait_done(const struct cli_opts *o, const char *info_hash)
{
	bool tty = isatty(STDOUT_FILENO) && !o->json;
	long since_line = PLAIN_EVERY_MS;
	char path[128];
	int rc = 1;

	snprintf(path, sizeof(path), "/api/v1/torrents/%s", info_hash);
	for (;;) {
		struct cli_answer ans = {0};
		struct cm_torrent_status t = {0};
		struct cm_err err;
		long status = call(o, "GET", path, NULL, 30, &ans);

		if (rc_of(status) != 0 ||
		    cm_torrent_status_from_text(ans.buf, ans.len, &t, &err) != 0) {
			free(ans.buf);
			return 1;
		}
		if (!o->json && (tty || since_line >= PLAIN_EVERY_MS)) {
			show_progress(&t, tty);
			since_line = 0;
		}
		if (t.state == CM_TORRENT_SEEDING || t.state == CM_TORRENT_ERROR) {
			bool ok = t.state == CM_TORRENT_SEEDING;

			if (tty)
				putchar('\n');
			if (o->json)
				fputs(ans.buf, stdout);
			else if (ok)
				printf("complete and verified: %s%s%s\n", str(t.path),
				       t.sha256 != NULL ? "\nsha256: " : "", t.sha256 != NULL ? t.sha256 : "");
			else
				fprintf(stderr, "peer-agent: download failed: %s\n", str(t.error));
			rc = ok ? 0 : 1;
			cm_torrent_status_clear(&t);
			free(ans.buf);
			return rc;
		}
		cm_torrent_status_clear(&t);
		free(ans.buf);
		sleep_ms(POLL_MS);
		since_line += POLL_MS;
	}
}

/* What SRC is: a magnet, an info hash, or a .torrent file. */
static int
source_of(const char *src, struct cm_torrent_add_request *r)
{
	size_t n = strlen(src), hex = strspn(src, "0123456789abcdefABCDEF");

	if (strncmp(src, "magnet:", 7) == 0)
		return (r->magnet = strdup(src)) != NULL ? 0 : -1;
	if (n == 40 && hex == 40 && access(src, F_OK) != 0)
		return (r->info_hash = strdup(src)) != NULL ? 0 : -1;
	return (r->torrent_file = absolute(src)) != NULL ? 0 : -1;
}

static int
torrent_get(const struct cli_opts *o)
{
	struct cm_torrent_add_request r = {0};
	struct cm_torrent_status t = {0};
	struct cli_answer ans = {0};
	struct cm_err err;
	char *body = NULL, ih[41] = "";
	long status;
	int rc = 1;

	if (o->dest == NULL) {
		fprintf(stderr, "peer-agent: torrent get needs --dest DIR\n");
		return 2;
	}
	if (source_of(o->args[1], &r) != 0 || (r.dest = absolute(o->dest)) == NULL)
		goto end;
	body = cm_json_dump_take(cm_torrent_add_request_encode(&r), NULL);
	status = call(o, "POST", "/api/v1/torrents", body, 30, &ans);
	if ((rc = rc_of(status)) != 0)
		goto end;
	if (cm_torrent_status_from_text(ans.buf, ans.len, &t, &err) != 0) {
		fprintf(stderr, "peer-agent: the agent's answer: %s\n", err.msg);
		rc = 1;
		goto end;
	}
	snprintf(ih, sizeof(ih), "%s", t.info_hash);
	if (o->no_wait) {
		rc = show_one(o, status, &ans);
		goto end;
	}
	rc = wait_done(o, ih);
end:
	cm_torrent_status_clear(&t);
	cm_torrent_add_request_clear(&r);
	free(body);
	free(ans.buf);
	return rc;
}

static int
torrent_remove(const struct cli_opts *o)
{
	struct cli_answer ans = {0};
	char path[256];
	long status;
	int rc;
	char *esc = curl_easy_escape(NULL, o->args[1], 0);

	snprintf(path, sizeof(path), "/api/v1/torrents/%s%s", esc != NULL ? esc : "",
		 o->delete_data ? "?delete_data=1" : "");
	curl_free(esc);
	status = call(o, "DELETE", path, NULL, 30, &ans);
	rc = rc_of(status);
	if (rc == 0 && o->json)
		fputs(ans.buf, stdout);
	else if (rc == 0)
		printf("removed %s%s\n", o->args[1], o->delete_data ? " and its data" : "");
	free(ans.buf);
	return rc;
}

static int
cmd_torrent(const struct cli_opts *o)
{
	static const struct {
		const char *name;
		int nargs;
		int (*fn)(const struct cli_opts *o);
	} subs[] = {
		{"create", 2, torrent_create}, {"list", 1, torrent_list},
		{"search", 2, torrent_search}, {"get", 2, torrent_get},
		{"remove", 2, torrent_remove},
	};

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(o->args[0], subs[i].name) == 0 && o->nargs == subs[i].nargs)
			return subs[i].fn(o);
	return cli_wrong_args(o);
}

const struct cli_command cli_cmd_torrent = {
	"torrent", 1, 2,
	"  torrent create PATH [--name N]    hash a file or folder, seed it; prints the magnet\n"
	"  torrent list                      our torrents: state, progress, rates\n"
	"  torrent search INFO_HASH          who seeds it: the table, then gossip\n"
	"  torrent get MAGNET|INFO_HASH|FILE.torrent --dest DIR [--no-wait]\n"
	"                                    download (progress until complete and verified)\n"
	"  torrent remove INFO_HASH [--delete-data]\n"
	"                                    stop seeding; --delete-data deletes the files\n",
	cmd_torrent};
