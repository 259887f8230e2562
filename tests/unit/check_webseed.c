/*
 * check_webseed.c - web-seed downloads (BEP 19) from real HTTP servers on
 * loopback: our own HTTP port (Range, 206), and python3's http.server,
 * which ignores Range and answers 200 with the whole file. Torrents are
 * described by hand (struct tr_meta), files written to a private folder.
 */
#define _GNU_SOURCE /* nftw, in testutil.h */
#include <check.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fb/timeutil.h"
#include "net/httpclient.h"
#include "torrent/httpd.h"
#include "torrent/webseed.h"
#include "check_main.h"
#include "testutil.h"

#define HEX "00112233445566778899aabbccddeeff00112233"

static struct event_base *base;
static struct hc_client *hc;
static struct tr_httpd *httpd;
static struct tr_meta meta;
static struct tr_file files[3];
static unsigned char *stream; /* the torrent's bytes, all files in a row */
static uint64_t lie_length;   /* non-zero: the server says the first file has this length */

static struct {
	int calls;
	uint32_t piece;
	unsigned char *data;
	size_t len;
	char err[CM_ERR_MSG];
} got;

static void
write_file(const char *path, const unsigned char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* A multi-file torrent "my set" of a.bin (30000), empty (0) and "sub dir/b c.bin" (50000). */
static void
multi_meta(void)
{
	static const char *paths[] = {"a.bin", "empty", "sub dir/b c.bin"};
	static const uint64_t lens[] = {30000, 0, 50000};
	uint64_t off = 0;

	memset(&meta, 0, sizeof(meta));
	meta.name = "my set";
	meta.multi_file = true;
	meta.piece_length = 16384;
	for (int i = 0; i < 3; i++) {
		files[i].path = (char *)paths[i];
		files[i].length = lens[i];
		files[i].offset = off;
		off += lens[i];
	}
	meta.files = files;
	meta.file_count = 3;
	meta.total_length = off;
	meta.piece_count = (uint32_t)((off + meta.piece_length - 1) / meta.piece_length);
	stream = malloc(off);
	for (uint64_t i = 0; i < off; i++)
		stream[i] = (unsigned char)(i * 13 + i / 7);
	ck_assert_int_eq(mkdir(tu_path("my set"), 0700), 0);
	ck_assert_int_eq(mkdir(tu_path("my set/sub dir"), 0700), 0);
	write_file(tu_path("my set/a.bin"), stream, 30000);
	write_file(tu_path("my set/empty"), stream, 0);
	write_file(tu_path("my set/sub dir/b c.bin"), stream + 30000, 50000);
}

/* The same bytes as one file, "one.bin". */
static void
single_meta(void)
{
	multi_meta();
	meta.name = "one.bin";
	meta.multi_file = false;
	files[0].path = "one.bin";
	files[0].length = meta.total_length;
	meta.file_count = 1;
	write_file(tu_path("one.bin"), stream, meta.total_length);
}

static int
op_find(void *ctx, const char hex[TR_HEX_LEN + 1], const char *rel, struct tr_httpd_file *out)
{
	(void)ctx;
	if (strcmp(hex, HEX) != 0)
		return -1;
	if (!meta.multi_file) {
		if (strcmp(rel, meta.name) != 0)
			return -1;
		out->disk_path = tu_path("one.bin");
		out->length = meta.total_length;
		return 0;
	}
	for (size_t i = 0; i < meta.file_count; i++) {
		char want[128];

		snprintf(want, sizeof(want), "%s/%s", meta.name, files[i].path);
		if (strcmp(rel, want) == 0) {
			out->disk_path = tu_path(want);
			out->length = i == 0 && lie_length != 0 ? lie_length : files[i].length;
			out->torrent_offset = files[i].offset;
			return 0;
		}
	}
	return -1;
}

static bool
op_verified(void *ctx, const char hex[TR_HEX_LEN + 1], uint64_t off, uint64_t len)
{
	(void)ctx, (void)hex, (void)off, (void)len;
	return true;
}

static bool
op_known(void *ctx, const char hex[TR_HEX_LEN + 1])
{
	(void)ctx, (void)hex;
	return false;
}

static size_t
op_peers(void *ctx, const char hex[TR_HEX_LEN + 1], struct tr_peer_addr *out, size_t max)
{
	(void)ctx, (void)hex, (void)out, (void)max;
	return 0;
}

static void
piece_cb(void *arg, uint32_t piece, const unsigned char *data, size_t len, const char *err)
{
	(void)arg;
	got.calls++;
	got.piece = piece;
	free(got.data);
	got.data = NULL;
	got.len = len;
	if (data != NULL) {
		got.data = malloc(len);
		memcpy(got.data, data, len);
	}
	snprintf(got.err, sizeof(got.err), "%s", err != NULL ? err : "");
	event_base_loopbreak(base);
}

static void
setup(void)
{
	static const struct tr_httpd_ops ops = {op_find, op_verified, op_known, op_peers};
	struct tr_httpd_config cfg;

	tu_mkdir("check_webseed");
	base = event_base_new();
	hc = hc_new(base);
	tr_httpd_config_defaults(&cfg);
	httpd = tr_httpd_new(base, &cfg, &ops, NULL);
	ck_assert_ptr_nonnull(httpd);
	memset(&got, 0, sizeof(got));
	lie_length = 0;
}

static void
teardown(void)
{
	free(got.data);
	free(stream);
	stream = NULL;
	hc_free(hc);
	tr_httpd_free(httpd);
	event_base_free(base);
	tu_rmdir();
}

/* Fetches piece i through w and waits for its callback. */
static void
fetch(struct tr_webseed *w, uint32_t i)
{
	struct timeval tv = {10, 0};

	got.calls = 0;
	ck_assert_int_eq(tr_webseed_fetch(w, i), 0);
	ck_assert(tr_webseed_busy(w));
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	ck_assert_int_eq(got.calls, 1);
	ck_assert(!tr_webseed_busy(w));
}

/* Fetches every piece through url and compares it with the stream. */
static void
fetch_all(const char *url)
{
	struct tr_webseed *w = tr_webseed_new(hc, url, &meta, "127.0.0.1", piece_cb, NULL);

	ck_assert_ptr_nonnull(w);
	for (uint32_t i = 0; i < meta.piece_count; i++) {
		uint64_t off = (uint64_t)i * meta.piece_length;
		size_t len = meta.total_length - off < meta.piece_length ? meta.total_length - off
		                                                         : meta.piece_length;

		fetch(w, i);
		ck_assert_msg(got.err[0] == '\0', "piece %u: %s", i, got.err);
		ck_assert_uint_eq(got.piece, i);
		ck_assert_uint_eq(got.len, len);
		ck_assert_mem_eq(got.data, stream + off, len);
	}
	tr_webseed_free(w);
}

static char *
seed_url(const char *tail)
{
	static char url[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/seed/" HEX "/%s", tr_httpd_port(httpd),
	         tail);
	return url;
}

START_TEST(test_webseed_fetches_multi_file_pieces_across_files_with_ranges)
{
	multi_meta();
	/* piece 1 is a.bin's end and b c.bin's start, the empty file between */
	fetch_all(seed_url(""));
}
END_TEST

START_TEST(test_webseed_fills_padding_files_with_zeros_without_asking)
{
	multi_meta();
	/* the empty file becomes BEP 47 padding up to the next piece: b c.bin starts at 32768 */
	files[1].path = ".pad/2768";
	files[1].length = 2768;
	files[1].pad = true;
	files[2].offset = 32768;
	meta.total_length = 32768 + 50000;
	meta.piece_count =
	    (uint32_t)((meta.total_length + meta.piece_length - 1) / meta.piece_length);
	free(stream);
	stream = calloc(1, meta.total_length);
	for (uint64_t i = 0; i < 30000; i++)
		stream[i] = (unsigned char)(i * 13 + i / 7);
	for (uint64_t i = 0; i < 50000; i++)
		stream[32768 + i] = (unsigned char)((30000 + i) * 13 + (30000 + i) / 7);
	/* the server has no padding file: asking for it would be a 404 */
	fetch_all(seed_url(""));
}
END_TEST

START_TEST(test_webseed_adds_the_slash_a_multi_file_url_lacks)
{
	char url[256];

	multi_meta();
	snprintf(url, sizeof(url), "%s", seed_url(""));
	url[strlen(url) - 1] = '\0';
	fetch_all(url);
}
END_TEST

START_TEST(test_webseed_fetches_a_single_file_by_directory_url_and_by_file_url)
{
	single_meta();
	fetch_all(seed_url(""));
	fetch_all(seed_url("one.bin"));
}
END_TEST

START_TEST(test_webseed_reports_a_missing_file)
{
	struct tr_webseed *w;

	multi_meta();
	w = tr_webseed_new(hc, seed_url("nothing-here/"), &meta, NULL, piece_cb, NULL);
	fetch(w, 0);
	ck_assert_str_eq(got.err, "HTTP status 404");
	ck_assert_ptr_null(got.data);
	tr_webseed_free(w);
}
END_TEST

START_TEST(test_webseed_refuses_a_content_range_of_another_file_length)
{
	struct tr_webseed *w;

	multi_meta();
	lie_length = 29000; /* a shorter a.bin on the server than in the torrent */
	w = tr_webseed_new(hc, seed_url(""), &meta, NULL, piece_cb, NULL);
	fetch(w, 0);
	ck_assert_msg(strstr(got.err, "Content-Range bytes 0-16383/29000") != NULL, "%s", got.err);
	tr_webseed_free(w);
}
END_TEST

START_TEST(test_webseed_refuses_a_second_fetch_while_busy_and_pieces_out_of_range)
{
	struct tr_webseed *w;

	multi_meta();
	w = tr_webseed_new(hc, seed_url(""), &meta, NULL, piece_cb, NULL);
	ck_assert_int_eq(tr_webseed_fetch(w, meta.piece_count), -1);
	ck_assert_int_eq(tr_webseed_fetch(w, 0), 0);
	ck_assert_int_eq(tr_webseed_fetch(w, 1), -1);
	/* freed in flight: no callback, ever */
	tr_webseed_free(w);
	event_base_loopexit(base, &(struct timeval){0, 300000});
	event_base_dispatch(base);
	ck_assert_int_eq(got.calls, 0);
	ck_assert_ptr_null(tr_webseed_new(hc, "ftp://x/", &meta, NULL, piece_cb, NULL));
}
END_TEST

/* python3's http.server on a free port, serving tu_dir; its pid. */
static pid_t
python_server(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char ps[16];
	pid_t pid;

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	*port = ntohs(sa.sin_port);
	snprintf(ps, sizeof(ps), "%d", *port);
	if ((pid = fork()) == 0) {
		freopen("/dev/null", "w", stderr);
		execlp("python3", "python3", "-m", "http.server", "--bind", "127.0.0.1",
		       "--directory", tu_dir, ps, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			return pid;
		}
		close(fd);
		usleep(25000);
	}
	kill(pid, SIGTERM);
	ck_abort_msg("python3 -m http.server did not start");
	return -1;
}

START_TEST(test_webseed_takes_a_200_from_a_server_that_ignores_range)
{
	int port;
	pid_t pid;
	char url[128];

	multi_meta();
	pid = python_server(&port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	fetch_all(url);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}
END_TEST

FB_CHECK_MAIN(.name = "webseed", .setup = setup, .teardown = teardown, .timeout_s = 60)
