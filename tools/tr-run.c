/*
 * tr-run.c - the agent's BitTorrent client alone, for interop tests and
 * benchmarks against other clients:
 *
 *   tr-run seed PATH... --state DIR [--listen IP] [--port N] [--name N] [--http IP]
 *   tr-run get SOURCE --dest DIR --state DIR [--listen IP] [--port N] [--silent]
 *                     [--bind IP] [--peer IP:PORT]... [--sha256 HEX] [--keep-seeding]
 *                     [--timeout S]
 *
 * SOURCE is a magnet, a .torrent file or an info hash. seed prints
 * "magnet M", "torrent PATH" and "port N" lines once it seeds, then runs
 * until SIGTERM; with --http it serves web seeds and a tracker on IP, named in
 * the .torrent ("http N" line). get exits 0 once the download is complete and verified
 * (printing "done SECONDS BYTES MB/s"), or keeps seeding with --keep-seeding;
 * it exits 1 on error or timeout.
 */
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fb/file.h"
#include "fb/log.h"
#include "torrent/torrent.h"

#define MAX_PEERS 32

struct run {
	struct event_base *base;
	struct tr_client *c;
	char info_hash[TR_HEX_LEN + 1];
	bool keep;
	int rc;
	double start;
	double timeout_s;
	int polls;
	struct tr_peer_addr peers[MAX_PEERS];
	size_t npeers;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct run *r = arg;

	(void)sig;
	(void)what;
	event_base_loopbreak(r->base);
}

static void
on_created(void *arg, const struct tr_status *st, const struct cm_err *err)
{
	struct run *r = arg;

	if (st == NULL) {
		fprintf(stderr, "tr-run: %s\n", err->msg);
		r->rc = 1;
		event_base_loopbreak(r->base);
		return;
	}
	printf("info_hash %s\nmagnet %s\ntorrent %s\nport %d\nhttp %d\nseconds %.3f\n",
	       st->info_hash, st->magnet, st->torrent_file, tr_client_listen_port(r->c),
	       tr_client_http_port(r->c), now_s() - r->start);
	fflush(stdout);
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	struct tr_status st;
	double t = now_s() - r->start;

	(void)fd;
	(void)what;
	if (r->npeers > 0 && r->polls % 10 == 0)
		tr_client_add_peers(r->c, r->info_hash, r->peers, r->npeers);
	if (tr_client_status(r->c, r->info_hash, &st) != 0)
		return;
	if (r->polls++ % 10 == 0)
		fprintf(stderr, "tr-run: %s %.1f%% peers %d down %.1f MB/s up %.1f MB/s\n",
		        tr_state_name(st.state), st.progress * 100, st.peers,
		        st.download_rate / 1e6, st.upload_rate / 1e6);
	if (st.state == TR_ERROR) {
		fprintf(stderr, "tr-run: %s\n", st.error);
		r->rc = 1;
		event_base_loopbreak(r->base);
	} else if (st.state == TR_SEEDING && r->rc == -1) {
		printf("done %.3f %llu %.1f\nsha256 %s\npath %s\n", t, (unsigned long long)st.size,
		       st.size / 1e6 / t, st.sha256, st.path);
		fflush(stdout);
		r->rc = 0;
		if (!r->keep)
			event_base_loopbreak(r->base);
	} else if (r->timeout_s > 0 && t > r->timeout_s && r->rc == -1) {
		fprintf(stderr, "tr-run: timed out\n");
		r->rc = 1;
		event_base_loopbreak(r->base);
	}
	tr_status_clear(&st);
}

static int
parse_peer(const char *s, struct tr_peer_addr *a)
{
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(a->ip))
		return -1;
	memcpy(a->ip, s, (size_t)(colon - s));
	a->ip[colon - s] = '\0';
	a->port = atoi(colon + 1);
	return a->port > 0 ? 0 : -1;
}

static int
usage(void)
{
	fprintf(stderr,
	        "usage: tr-run seed PATH... --state DIR [--listen IP] [--port N] [--name N]\n"
	        "              [--http IP]\n"
	        "       tr-run get SOURCE --dest DIR --state DIR [--listen IP] [--port N]\n"
	        "              [--silent] [--bind IP] [--peer IP:PORT]... [--sha256 HEX]\n"
	        "              [--keep-seeding] [--timeout S]\n");
	return 2;
}

static int
add_source(struct run *r, const char *src, const char *dest, const char *sha)
{
	struct tr_source s;
	struct cm_err err = {{0}};
	char *buf = NULL;
	size_t len;
	int rc;

	memset(&s, 0, sizeof(s));
	s.dest_dir = dest;
	s.sha256_hex = sha;
	if (strncmp(src, "magnet:", 7) == 0) {
		s.magnet = src;
	} else if (strlen(src) == TR_HEX_LEN && strchr(src, '/') == NULL &&
	           strchr(src, '.') == NULL) {
		s.info_hash_hex = src;
	} else {
		if (cm_file_read(src, TR_MAX_TORRENT_FILE, &buf, &len, &err) != 0) {
			fprintf(stderr, "tr-run: %s\n", err.msg);
			return -1;
		}
		s.torrent = buf;
		s.torrent_len = len;
	}
	rc = tr_client_add(r->c, &s, r->info_hash, &err);
	free(buf);
	if (rc == -1) {
		fprintf(stderr, "tr-run: %s\n", err.msg);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"state", required_argument, NULL, 's'},
	                                     {"listen", required_argument, NULL, 'l'},
	                                     {"port", required_argument, NULL, 'p'},
	                                     {"name", required_argument, NULL, 'n'},
	                                     {"dest", required_argument, NULL, 'd'},
	                                     {"silent", no_argument, NULL, 'S'},
	                                     {"bind", required_argument, NULL, 'b'},
	                                     {"peer", required_argument, NULL, 'P'},
	                                     {"sha256", required_argument, NULL, 'h'},
	                                     {"keep-seeding", no_argument, NULL, 'k'},
	                                     {"timeout", required_argument, NULL, 't'},
	                                     {"http", required_argument, NULL, 'H'},
	                                     {NULL, 0, NULL, 0}};
	struct tr_config cfg;
	struct run r;
	const char *name = NULL, *dest = NULL, *sha = NULL, *cmd, *arg;
	struct event *sigint, *sigterm, *poll = NULL;
	struct cm_err err = {{0}};
	struct timeval tenth = {0, 100000};
	int o;

	memset(&r, 0, sizeof(r));
	r.rc = -1;
	tr_config_defaults(&cfg);
	log_init(NULL);
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			cfg.state_dir = optarg;
			break;
		case 'l':
			cfg.listen_host = optarg;
			break;
		case 'p':
			cfg.listen_port = atoi(optarg);
			break;
		case 'n':
			name = optarg;
			break;
		case 'd':
			dest = optarg;
			break;
		case 'S':
			cfg.silent = true;
			break;
		case 'b':
			cfg.bind_ip = optarg;
			break;
		case 'h':
			sha = optarg;
			break;
		case 'k':
			r.keep = true;
			break;
		case 't':
			r.timeout_s = atof(optarg);
			break;
		case 'H':
			cfg.http_host = optarg;
			break;
		case 'P':
			if (r.npeers == MAX_PEERS || parse_peer(optarg, &r.peers[r.npeers]) != 0)
				return usage();
			r.npeers++;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 2 || cfg.state_dir == NULL)
		return usage();
	cmd = argv[optind];
	arg = argv[optind + 1];
	signal(SIGPIPE, SIG_IGN);
	r.base = event_base_new();
	if ((r.c = tr_client_new(r.base, &cfg, NULL, NULL)) == NULL)
		return 1;
	r.start = now_s();
	if (strcmp(cmd, "seed") == 0) {
		r.keep = true;
		for (int i = optind + 1; i < argc; i++) {
			if (tr_client_create(r.c, argv[i], name, on_created, &r, &err) != 0) {
				fprintf(stderr, "tr-run: %s\n", err.msg);
				return 1;
			}
		}
	} else if (strcmp(cmd, "get") == 0 && dest != NULL && argc - optind == 2) {
		if (add_source(&r, arg, dest, sha) != 0)
			return 1;
		poll = event_new(r.base, -1, EV_PERSIST, on_poll, &r);
		event_add(poll, &tenth);
		on_poll(-1, 0, &r);
	} else {
		return usage();
	}
	sigint = evsignal_new(r.base, SIGINT, on_signal, &r);
	sigterm = evsignal_new(r.base, SIGTERM, on_signal, &r);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	event_base_dispatch(r.base);
	tr_client_free(r.c);
	if (poll != NULL)
		event_free(poll);
	event_free(sigint);
	event_free(sigterm);
	event_base_free(r.base);
	return r.rc < 0 ? 0 : r.rc;
}
