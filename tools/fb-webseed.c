/*
 * fb-webseed.c - one file served from the agent's BitTorrent HTTP port
 * (torrent/httpd.c), for tests with third-party clients (browser
 * WebTorrent, trackers) before the daemon wires its torrents to it: hashes
 * the file itself (SHA-1 pieces, so every byte it serves is verified),
 * writes a single-file .torrent whose url-list is its own web seed (and,
 * with --announce, whose tracker is its own /announce), prints
 * "ready PORT INFO_HASH" and serves until SIGTERM or SIGINT.
 *
 * fb-webseed --file PATH --torrent OUT [--host IP] [--port N] [--name NAME]
 *            [--piece-length N] [--announce] [--peer IP:PORT]...
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fb/bencode.h"
#include "fb/digest.h"
#include "fb/file.h"
#include "fb/hex.h"
#include "fb/log.h"
#include "torrent/httpd.h"

#define MAX_PEERS 16

static struct {
	const char *file, *name;
	uint64_t length;
	char hex[TR_HEX_LEN + 1];
	struct tr_peer_addr peers[MAX_PEERS];
	size_t npeers;
} seed;

static int
op_find(void *ctx, const char hex[TR_HEX_LEN + 1], const char *rel, struct tr_httpd_file *out)
{
	(void)ctx;
	if (strcmp(hex, seed.hex) != 0 || strcmp(rel, seed.name) != 0)
		return -1;
	out->disk_path = seed.file;
	out->length = seed.length;
	out->torrent_offset = 0;
	return 0;
}

static bool
op_verified(void *ctx, const char hex[TR_HEX_LEN + 1], uint64_t off, uint64_t len)
{
	(void)ctx;
	/* every piece was hashed from this very file at start */
	return strcmp(hex, seed.hex) == 0 && off + len <= seed.length;
}

static bool
op_known(void *ctx, const char hex[TR_HEX_LEN + 1])
{
	(void)ctx;
	return strcmp(hex, seed.hex) == 0;
}

static size_t
op_peers(void *ctx, const char hex[TR_HEX_LEN + 1], struct tr_peer_addr *out, size_t max)
{
	size_t n = 0;

	(void)ctx;
	(void)hex;
	for (; n < seed.npeers && n < max; n++)
		out[n] = seed.peers[n];
	return n;
}

/* The SHA-1 of each piece of the file, read piece by piece. -1 (logged) on failure. */
static int
hash_pieces(const char *path, uint32_t piece_len, unsigned char **pieces, uint32_t *count)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(piece_len);
	size_t n;
	int rc = -1;

	*pieces = NULL;
	*count = 0;
	if (f == NULL || buf == NULL) {
		log_errx("%s: %s: %s", __func__, path, strerror(errno));
		goto end;
	}
	while ((n = fread(buf, 1, piece_len, f)) > 0) {
		unsigned char *p = realloc(*pieces, ((size_t)*count + 1) * TR_HASH_LEN);

		if (p == NULL)
			goto end;
		*pieces = p;
		cm_sha1(buf, n, p + (size_t)*count * TR_HASH_LEN);
		(*count)++;
	}
	rc = ferror(f) ? -1 : 0;
end:
	if (f != NULL)
		fclose(f);
	free(buf);
	return rc;
}

/* Writes the .torrent; 0 or -1 (logged). */
static int
write_torrent(const char *out, const char *host, int port, uint32_t piece_len,
              const unsigned char *pieces, uint32_t count, bool announce)
{
	struct cm_benc e;
	char *info = NULL, *torrent = NULL, url[256];
	size_t info_len, torrent_len;
	unsigned char ih[CM_SHA1_BYTES];
	struct cm_err err = {{0}};
	int rc = -1;

	cm_benc_init(&e, TR_MAX_TORRENT_FILE);
	cm_benc_dict(&e);
	cm_benc_key(&e, "length");
	cm_benc_int(&e, (int64_t)seed.length);
	cm_benc_key(&e, "name");
	cm_benc_cstr(&e, seed.name);
	cm_benc_key(&e, "piece length");
	cm_benc_int(&e, piece_len);
	cm_benc_key(&e, "pieces");
	cm_benc_str(&e, pieces, (size_t)count * TR_HASH_LEN);
	cm_benc_end(&e);
	if (cm_benc_finish(&e, &info, &info_len) != 0)
		goto end;
	cm_benc_clear(&e);
	cm_sha1(info, info_len, ih);
	cm_hex_encode(ih, sizeof(ih), seed.hex);

	cm_benc_init(&e, TR_MAX_TORRENT_FILE);
	cm_benc_dict(&e);
	if (announce) {
		snprintf(url, sizeof(url), "http://%s:%d/announce", host, port);
		cm_benc_key(&e, "announce");
		cm_benc_cstr(&e, url);
	}
	cm_benc_key(&e, "info");
	cm_benc_raw(&e, info, info_len);
	/* the file's own URL: browser WebTorrent does not add the name to a URL ending in '/' */
	snprintf(url, sizeof(url), "http://%s:%d/seed/%s/%s", host, port, seed.hex, seed.name);
	cm_benc_key(&e, "url-list");
	cm_benc_list(&e);
	cm_benc_cstr(&e, url);
	cm_benc_end(&e);
	cm_benc_end(&e);
	if (cm_benc_finish(&e, &torrent, &torrent_len) != 0 ||
	    cm_file_write_atomic(out, torrent, torrent_len, 0644, &err) != 0) {
		log_errx("%s: %s: cannot write: %s", __func__, out, err.msg);
		goto end;
	}
	rc = 0;
end:
	cm_benc_clear(&e);
	free(info);
	free(torrent);
	return rc;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static int
parse_peer(const char *s, struct tr_peer_addr *p)
{
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(p->ip))
		return -1;
	memcpy(p->ip, s, (size_t)(colon - s));
	p->ip[colon - s] = '\0';
	p->port = atoi(colon + 1);
	return p->port > 0 && p->port < 65536 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"torrent", required_argument, NULL, 't'},
	    {"host", required_argument, NULL, 'H'},
	    {"port", required_argument, NULL, 'p'},
	    {"name", required_argument, NULL, 'n'},
	    {"piece-length", required_argument, NULL, 'l'},
	    {"announce", no_argument, NULL, 'a'},
	    {"peer", required_argument, NULL, 'P'},
	    {NULL, 0, NULL, 0},
	};
	const struct tr_httpd_ops ops = {op_find, op_verified, op_known, op_peers};
	struct tr_httpd_config cfg;
	const char *torrent = NULL;
	uint32_t piece_len = 262144, count;
	unsigned char *pieces = NULL;
	bool announce = false;
	struct event_base *base = NULL;
	struct event *sigs[2] = {NULL, NULL};
	struct tr_httpd *h = NULL;
	struct stat st;
	int c, rc = 1;

	log_init(NULL);
	tr_httpd_config_defaults(&cfg);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			seed.file = optarg;
			break;
		case 't':
			torrent = optarg;
			break;
		case 'H':
			cfg.host = optarg;
			break;
		case 'p':
			cfg.port = atoi(optarg);
			break;
		case 'n':
			seed.name = optarg;
			break;
		case 'l':
			piece_len = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'a':
			announce = true;
			break;
		case 'P':
			if (seed.npeers == MAX_PEERS ||
			    parse_peer(optarg, &seed.peers[seed.npeers++]) != 0) {
				fprintf(stderr, "fb-webseed: --peer IP:PORT, at most %d\n",
				        MAX_PEERS);
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if (seed.file == NULL || torrent == NULL || piece_len < TR_MIN_PIECE ||
	    piece_len > TR_MAX_PIECE) {
		fprintf(stderr,
		        "usage: fb-webseed --file PATH --torrent OUT [--host IP] [--port N] "
		        "[--name NAME] [--piece-length N] [--announce] [--peer IP:PORT]...\n");
		return 2;
	}
	if (seed.name == NULL)
		seed.name =
		    strrchr(seed.file, '/') != NULL ? strrchr(seed.file, '/') + 1 : seed.file;
	if (stat(seed.file, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_errx("fb-webseed: %s: not a file", seed.file);
		return 1;
	}
	seed.length = (uint64_t)st.st_size;
	if (hash_pieces(seed.file, piece_len, &pieces, &count) != 0 ||
	    (base = event_base_new()) == NULL ||
	    (h = tr_httpd_new(base, &cfg, &ops, NULL)) == NULL ||
	    write_torrent(torrent, cfg.host, tr_httpd_port(h), piece_len, pieces, count,
	                  announce) != 0)
		goto end;
	sigs[0] = evsignal_new(base, SIGTERM, on_signal, base);
	sigs[1] = evsignal_new(base, SIGINT, on_signal, base);
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);
	printf("ready %d %s\n", tr_httpd_port(h), seed.hex);
	fflush(stdout);
	event_base_dispatch(base);
	rc = 0;
end:
	for (int i = 0; i < 2; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	tr_httpd_free(h);
	if (base != NULL)
		event_base_free(base);
	free(pieces);
	return rc;
}
