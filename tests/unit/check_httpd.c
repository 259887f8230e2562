/*
 * check_httpd.c - the agent's BitTorrent HTTP port: its parsers and tracker
 * memory on bytes, then the server itself on a loopback socket, talked to
 * with raw requests (well-formed and hostile) while the loop runs.
 */
#define _GNU_SOURCE /* nftw, in testutil.h */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fb/bencode.h"
#include "fb/timeutil.h"
#include "torrent/httpd.h"
#include "torrent/httpd_internal.h"
#include "check_main.h"
#include "testutil.h"

static const struct cm_hash_key zero_key = {0, 0};

/* ---- parsers ---- */

static int
parse(const char *head, struct tr_http_head *hd)
{
	struct cm_err err = {{0}};

	return tr_http_parse_head(head, strlen(head), hd, &err);
}

START_TEST(test_parse_head_reads_method_target_range_and_connection)
{
	struct tr_http_head hd;

	ck_assert_int_eq(parse("GET /seed/x?y HTTP/1.1\r\nHost: a\r\nRange: bytes=1-2\r\n"
	                       "Connection: keep-alive, close",
	                       &hd),
	                 0);
	ck_assert_int_eq(hd.method, TR_HTTP_GET);
	ck_assert_str_eq(hd.target, "/seed/x?y");
	ck_assert_str_eq(hd.range, "bytes=1-2");
	ck_assert(hd.close);
	ck_assert(!hd.http10);
	ck_assert(!hd.has_body);
}
END_TEST

START_TEST(test_parse_head_refuses_garbage_with_400)
{
	struct tr_http_head hd;

	ck_assert_int_eq(parse("\x01\x02garbage", &hd), 400);
	ck_assert_int_eq(parse("GET /x", &hd), 400);
	ck_assert_int_eq(parse("GET /x HTTP/1.1\r\nno colon here", &hd), 400);
	ck_assert_int_eq(parse("GET /x HTTP/1.1\r\n folded: x", &hd), 400);
	ck_assert_int_eq(parse("GET /\x7f HTTP/1.1", &hd), 400);
	ck_assert_int_eq(parse("GET /x HTTP/2.0", &hd), 505);
	ck_assert_int_eq(parse("GET /x HTTP/1.1\r\nRange: bytes=1-\r\nRange: bytes=2-", &hd), 400);
}
END_TEST

START_TEST(test_parse_head_refuses_a_long_request_line_with_414)
{
	char buf[TR_HTTPD_MAX_LINE + 64];
	struct tr_http_head hd;

	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /", 5);
	snprintf(buf + TR_HTTPD_MAX_LINE, sizeof(buf) - TR_HTTPD_MAX_LINE, " HTTP/1.1");
	ck_assert_int_eq(parse(buf, &hd), 414);
}
END_TEST

START_TEST(test_parse_head_refuses_too_many_headers_with_431)
{
	char buf[TR_HTTPD_MAX_HEAD];
	size_t len = 0;
	struct tr_http_head hd;

	len += (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1");
	for (int i = 0; i <= TR_HTTPD_MAX_HEADERS; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "\r\nX-%d: y", i);
	ck_assert_int_eq(parse(buf, &hd), 431);
}
END_TEST

START_TEST(test_parse_head_marks_a_body)
{
	struct tr_http_head hd;

	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nContent-Length: 0", &hd), 0);
	ck_assert(!hd.has_body);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 5", &hd), 0);
	ck_assert(hd.has_body);
	ck_assert_int_eq(hd.method, TR_HTTP_OTHER);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nTransfer-Encoding: chunked", &hd), 0);
	ck_assert(hd.has_body);
}
END_TEST

START_TEST(test_parse_range_takes_the_three_single_range_forms)
{
	uint64_t a, n;

	ck_assert_int_eq(tr_http_parse_range("bytes=10-19", 100, &a, &n), TR_RANGE_OK);
	ck_assert(a == 10 && n == 10);
	ck_assert_int_eq(tr_http_parse_range("bytes=90-", 100, &a, &n), TR_RANGE_OK);
	ck_assert(a == 90 && n == 10);
	ck_assert_int_eq(tr_http_parse_range("bytes=-30", 100, &a, &n), TR_RANGE_OK);
	ck_assert(a == 70 && n == 30);
	ck_assert_int_eq(tr_http_parse_range("bytes=-300", 100, &a, &n), TR_RANGE_OK);
	ck_assert(a == 0 && n == 100);
	ck_assert_int_eq(tr_http_parse_range("bytes=50-1000", 100, &a, &n), TR_RANGE_OK);
	ck_assert(a == 50 && n == 50);
}
END_TEST

START_TEST(test_parse_range_says_unsatisfiable_past_the_end)
{
	uint64_t a, n;

	ck_assert_int_eq(tr_http_parse_range("bytes=100-", 100, &a, &n), TR_RANGE_UNSATISFIABLE);
	ck_assert_int_eq(tr_http_parse_range("bytes=-0", 100, &a, &n), TR_RANGE_UNSATISFIABLE);
	ck_assert_int_eq(tr_http_parse_range("bytes=0-", 0, &a, &n), TR_RANGE_UNSATISFIABLE);
}
END_TEST

START_TEST(test_parse_range_ignores_what_it_does_not_serve)
{
	uint64_t a, n;

	ck_assert_int_eq(tr_http_parse_range("", 100, &a, &n), TR_RANGE_NONE);
	ck_assert_int_eq(tr_http_parse_range("items=1-2", 100, &a, &n), TR_RANGE_NONE);
	ck_assert_int_eq(tr_http_parse_range("bytes=1-2,5-6", 100, &a, &n), TR_RANGE_NONE);
	ck_assert_int_eq(tr_http_parse_range("bytes=5-1", 100, &a, &n), TR_RANGE_NONE);
	ck_assert_int_eq(tr_http_parse_range("bytes=x-", 100, &a, &n), TR_RANGE_NONE);
	ck_assert_int_eq(tr_http_parse_range("bytes=99999999999999999999-", 100, &a, &n),
	                 TR_RANGE_NONE);
}
END_TEST

/* An announce query for info hash 0x01 0x02 ... 0x14 (with a NUL-free escape of each byte). */
static const char *HASH_Q =
    "info_hash=%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13%14";
static const char *HASH_HEX = "0102030405060708090a0b0c0d0e0f1011121314";

static int
query(const char *rest, struct tr_announce_query *q, struct cm_err *err)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s%s", HASH_Q, rest);
	return tr_announce_query_parse(buf, q, err);
}

START_TEST(test_announce_query_takes_bep3_parameters)
{
	struct tr_announce_query q;
	struct cm_err err = {{0}};

	ck_assert_int_eq(query("&peer_id=-AR1360-abcdefghijkl&port=6881&uploaded=0&downloaded=0"
	                       "&left=100&compact=1&event=started&numwant=80&key=x&ip=10.0.0.9",
	                       &q, &err),
	                 0);
	ck_assert_str_eq(q.info_hash_hex, HASH_HEX);
	ck_assert_int_eq(q.port, 6881);
	ck_assert_int_eq(q.numwant, 80);
	ck_assert(!q.stopped);
	ck_assert_int_eq(query("&port=1&event=stopped&numwant=100000", &q, &err), 0);
	ck_assert(q.stopped);
	ck_assert_int_eq(q.numwant, TR_HTTPD_MAX_NUMWANT);
	ck_assert_int_eq(query("&port=1", &q, &err), 0);
	ck_assert_int_eq(q.numwant, TR_HTTPD_NUMWANT);
}
END_TEST

START_TEST(test_announce_query_refuses_bad_info_hash_lengths)
{
	struct tr_announce_query q;
	struct cm_err err = {{0}};

	ck_assert_int_eq(tr_announce_query_parse("info_hash=abc&port=1", &q, &err), -1);
	ck_assert_msg(strstr(err.msg, "info_hash is 3 bytes") != NULL, "%s", err.msg);
	ck_assert_int_eq(tr_announce_query_parse("info_hash=%0&port=1", &q, &err), -1);
	ck_assert_int_eq(tr_announce_query_parse("port=1", &q, &err), -1);
	ck_assert_str_eq(err.msg, "info_hash missing");
	ck_assert_int_eq(query("%15&port=1", &q, &err), -1);
}
END_TEST

START_TEST(test_announce_query_refuses_bad_ports_events_and_duplicates)
{
	struct tr_announce_query q;
	struct cm_err err = {{0}};

	ck_assert_int_eq(query("&port=0", &q, &err), -1);
	ck_assert_int_eq(query("&port=65536", &q, &err), -1);
	ck_assert_int_eq(query("&port=-5", &q, &err), -1);
	ck_assert_int_eq(query("&port=12x", &q, &err), -1);
	ck_assert_int_eq(query("", &q, &err), -1);
	ck_assert_str_eq(err.msg, "port missing");
	ck_assert_int_eq(query("&port=1&event=bogus", &q, &err), -1);
	ck_assert_int_eq(query("&port=1&compact=2", &q, &err), -1);
	ck_assert_int_eq(query("&port=1&port=2", &q, &err), -1);
	ck_assert_str_eq(err.msg, "port given twice");
	ck_assert_int_eq(query("&port=1&peer_id=short", &q, &err), -1);
	ck_assert_int_eq(query("&port=1&event=stopped%00", &q, &err), -1);
}
END_TEST

/* ---- the tracker's memory ---- */

START_TEST(test_trk_remembers_announcers_and_forgets_on_stopped)
{
	struct tr_trk *t = tr_trk_new(4, 4, &zero_key);
	struct tr_peer_addr p[8];

	ck_assert_int_eq(tr_trk_announce(t, HASH_HEX, "127.0.0.2", 10, false, 100, NULL), 0);
	ck_assert_int_eq(tr_trk_announce(t, HASH_HEX, "127.0.0.3", 11, false, 100, NULL), 0);
	ck_assert_int_eq(tr_trk_announce(t, HASH_HEX, "127.0.0.2", 10, false, 101, NULL), 0);
	ck_assert_uint_eq(tr_trk_peers(t, HASH_HEX, p, 8), 2);
	ck_assert_int_eq(tr_trk_announce(t, HASH_HEX, "127.0.0.2", 10, true, 102, NULL), 0);
	ck_assert_uint_eq(tr_trk_peers(t, HASH_HEX, p, 8), 1);
	ck_assert_str_eq(p[0].ip, "127.0.0.3");
	ck_assert_int_eq(p[0].port, 11);
	ck_assert_int_eq(tr_trk_announce(t, HASH_HEX, "127.0.0.3", 11, true, 102, NULL), 0);
	ck_assert_uint_eq(tr_trk_torrents(t), 0);
	tr_trk_free(t);
}
END_TEST

START_TEST(test_trk_caps_torrents_announcers_and_ports_per_address)
{
	struct tr_trk *t = tr_trk_new(2, 10, &zero_key);
	struct tr_peer_addr p[32];
	struct cm_err err = {{0}};
	char hex[41];

	for (int i = 0; i < 3; i++) {
		snprintf(hex, sizeof(hex), "%040d", i);
		ck_assert_int_eq(tr_trk_announce(t, hex, "127.0.0.2", 1, false, 1, &err),
		                 i < 2 ? 0 : -1);
	}
	ck_assert_str_eq(err.msg, "tracker full");
	/* one address holds at most TR_HTTPD_ANNOUNCERS_PER_IP ports; the oldest makes room */
	for (int port = 2; port < 40; port++)
		ck_assert_int_eq(tr_trk_announce(t, hex, "127.0.0.9", port, false, port, NULL), -1);
	snprintf(hex, sizeof(hex), "%040d", 0);
	for (int port = 2; port < 40; port++)
		ck_assert_int_eq(tr_trk_announce(t, hex, "127.0.0.9", port, false, port, NULL), 0);
	ck_assert_uint_eq(tr_trk_peers(t, hex, p, 32), 1 + TR_HTTPD_ANNOUNCERS_PER_IP);
	/* and a torrent at most max_per_torrent announcers */
	for (int i = 0; i < 20; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "127.0.1.%d", i);
		ck_assert_int_eq(tr_trk_announce(t, hex, ip, 7, false, 100 + i, NULL), 0);
	}
	ck_assert_uint_eq(tr_trk_peers(t, hex, p, 32), 10);
	tr_trk_free(t);
}
END_TEST

START_TEST(test_trk_expires_old_announcers_and_empty_torrents)
{
	struct tr_trk *t = tr_trk_new(4, 4, &zero_key);
	struct tr_peer_addr p[4];

	tr_trk_announce(t, HASH_HEX, "127.0.0.2", 10, false, 100, NULL);
	tr_trk_announce(t, HASH_HEX, "127.0.0.3", 10, false, 200, NULL);
	tr_trk_announce(t, "ffffffffffffffffffffffffffffffffffffffff", "::1", 10, false, 100, NULL);
	tr_trk_expire(t, 250, 100);
	ck_assert_uint_eq(tr_trk_torrents(t), 1);
	ck_assert_uint_eq(tr_trk_peers(t, HASH_HEX, p, 4), 1);
	ck_assert_str_eq(p[0].ip, "127.0.0.3");
	tr_trk_free(t);
}
END_TEST

START_TEST(test_announce_answer_is_compact_ipv4_and_ipv6)
{
	struct tr_peer_addr p[3] = {{"127.0.0.2", 0x1a2b}, {"::1", 6881}, {"::ffff:10.0.0.1", 80}};
	char *out;
	size_t len;
	struct cm_bdoc *d;
	const struct cm_bval *v;

	ck_assert_int_eq(tr_announce_answer(1800, p, 3, &out, &len), 0);
	ck_assert_ptr_nonnull(d = cm_bdecode(out, len, NULL, NULL));
	v = cm_bdict_get(cm_bdoc_root(d), "peers");
	ck_assert_uint_eq(v->len, 12);
	ck_assert_mem_eq(v->s, "\x7f\x00\x00\x02\x1a\x2b\x0a\x00\x00\x01\x00\x50", 12);
	v = cm_bdict_get(cm_bdoc_root(d), "peers6");
	ck_assert_uint_eq(v->len, 18);
	ck_assert_int_eq(v->s[15], 1);
	ck_assert_int_eq(cm_bdict_get(cm_bdoc_root(d), "interval")->i, 1800);
	cm_bdoc_free(d);
	free(out);
}
END_TEST

/* ---- the server on a socket ---- */

#define FILE_LEN 100000
static struct event_base *base;
static struct tr_httpd *httpd;
static unsigned char content[FILE_LEN];
static bool all_verified;
static size_t our_peers; /* how many peers ops->peers gives */

static int
op_find(void *ctx, const char hex[TR_HEX_LEN + 1], const char *rel, struct tr_httpd_file *out)
{
	(void)ctx;
	if (strcmp(hex, HASH_HEX) != 0 || strcmp(rel, "big file.bin") != 0)
		return -1;
	out->disk_path = tu_path("data");
	out->length = FILE_LEN;
	out->torrent_offset = 0;
	return 0;
}

static bool
op_verified(void *ctx, const char hex[TR_HEX_LEN + 1], uint64_t off, uint64_t len)
{
	(void)ctx;
	(void)hex;
	/* the first half is verified, or everything */
	return all_verified || off + len <= FILE_LEN / 2;
}

static bool
op_known(void *ctx, const char hex[TR_HEX_LEN + 1])
{
	(void)ctx;
	return strcmp(hex, HASH_HEX) == 0;
}

static size_t
op_peers(void *ctx, const char hex[TR_HEX_LEN + 1], struct tr_peer_addr *out, size_t max)
{
	size_t n = 0;

	(void)ctx;
	(void)hex;
	for (; n < our_peers && n < max; n++) {
		snprintf(out[n].ip, sizeof(out[n].ip), "127.0.2.%zu", n + 1);
		out[n].port = 7000;
	}
	return n;
}

static const struct tr_httpd_ops ops = {op_find, op_verified, op_known, op_peers};

static void
start_httpd(struct tr_httpd_config *cfg)
{
	tr_httpd_free(httpd);
	httpd = tr_httpd_new(base, cfg, &ops, NULL);
	ck_assert_ptr_nonnull(httpd);
}

static void
setup(void)
{
	struct tr_httpd_config cfg;
	FILE *f;

	tu_mkdir("check_httpd");
	for (size_t i = 0; i < FILE_LEN; i++)
		content[i] = (unsigned char)(i * 7 + i / 251);
	ck_assert_ptr_nonnull(f = fopen(tu_path("data"), "wb"));
	ck_assert_uint_eq(fwrite(content, 1, FILE_LEN, f), FILE_LEN);
	fclose(f);
	all_verified = true;
	our_peers = 0;
	base = event_base_new();
	tr_httpd_config_defaults(&cfg);
	httpd = NULL;
	start_httpd(&cfg);
}

static void
teardown(void)
{
	tr_httpd_free(httpd);
	event_base_free(base);
	tu_rmdir();
}

static int
dial(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons((uint16_t)tr_httpd_port(httpd));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Runs the loop for up to wait_ms or until fd is readable. */
static void
spin(int fd, int wait_ms)
{
	int64_t end = cm_time_mono_ms() + wait_ms;

	while (cm_time_mono_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		event_base_loop(base, EVLOOP_NONBLOCK);
		if (fd >= 0 && poll(&p, 1, 5) > 0)
			return;
		if (fd < 0)
			usleep(5000);
	}
}

/*
 * Reads what fd says until it closes, max bytes or wait_ms pass (the loop
 * running meanwhile). Returns the length; the text is NUL-terminated.
 */
static size_t
collect(int fd, char *buf, size_t max, int wait_ms)
{
	int64_t end = cm_time_mono_ms() + wait_ms;
	size_t len = 0;

	while (len + 1 < max && cm_time_mono_ms() < end) {
		ssize_t r;

		spin(fd, 50);
		r = recv(fd, buf + len, max - 1 - len, MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r > 0)
			len += (size_t)r;
	}
	buf[len] = '\0';
	return len;
}

/* Whether fd has been closed by the server (EOF or reset) within wait_ms. */
static bool
closed_by_server(int fd, int wait_ms)
{
	char b[4096];
	int64_t end = cm_time_mono_ms() + wait_ms;

	while (cm_time_mono_ms() < end) {
		ssize_t r;

		spin(fd, 50);
		r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			return true;
	}
	return false;
}

/* Sends one request on a new connection; the whole answer (server closes: Connection: close). */
static char *
exchange(const char *req, size_t *len)
{
	static char buf[2 * FILE_LEN];
	int fd = dial();

	ck_assert_int_eq(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	*len = collect(fd, buf, sizeof(buf), 3000);
	close(fd);
	return buf;
}

static const char *
body_of(const char *answer)
{
	const char *b = strstr(answer, "\r\n\r\n");

	ck_assert_ptr_nonnull(b);
	return b + 4;
}

#define SEED "/seed/0102030405060708090A0B0C0D0E0F1011121314/big%20file.bin"

START_TEST(test_httpd_serves_a_range_with_206_and_content_range)
{
	size_t len;
	char *a = exchange("GET " SEED " HTTP/1.1\r\nRange: bytes=1000-1999\r\n"
	                   "Connection: close\r\n\r\n",
	                   &len);

	ck_assert_msg(strncmp(a, "HTTP/1.1 206 ", 13) == 0, "%s", a);
	ck_assert_ptr_nonnull(strstr(a, "Content-Range: bytes 1000-1999/100000\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "Content-Length: 1000\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "Access-Control-Allow-Origin: *\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "Access-Control-Expose-Headers: Content-Range, "
	                                "Content-Length, Accept-Ranges\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "Accept-Ranges: bytes\r\n"));
	ck_assert_uint_eq(len - (size_t)(body_of(a) - a), 1000);
	ck_assert_mem_eq(body_of(a), content + 1000, 1000);
}
END_TEST

START_TEST(test_httpd_serves_the_whole_file_with_200_without_range)
{
	size_t len;
	char *a = exchange("GET " SEED " HTTP/1.0\r\n\r\n", &len);

	ck_assert_msg(strncmp(a, "HTTP/1.1 200 ", 13) == 0, "%s", a);
	ck_assert_uint_eq(len - (size_t)(body_of(a) - a), FILE_LEN);
	ck_assert_mem_eq(body_of(a), content, FILE_LEN);
}
END_TEST

START_TEST(test_httpd_serves_suffix_and_open_ranges)
{
	size_t len;
	char *a = exchange("GET " SEED " HTTP/1.1\r\nRange: bytes=-10\r\nConnection: close\r\n\r\n",
	                   &len);

	ck_assert_ptr_nonnull(strstr(a, "Content-Range: bytes 99990-99999/100000\r\n"));
	ck_assert_mem_eq(body_of(a), content + 99990, 10);
	a = exchange("GET " SEED " HTTP/1.1\r\nRange: bytes=99995-\r\nConnection: close\r\n\r\n",
	             &len);
	ck_assert_ptr_nonnull(strstr(a, "Content-Range: bytes 99995-99999/100000\r\n"));
	ck_assert_uint_eq(len - (size_t)(body_of(a) - a), 5);
}
END_TEST

START_TEST(test_httpd_answers_416_to_an_unsatisfiable_range)
{
	size_t len;
	char *a = exchange(
	    "GET " SEED " HTTP/1.1\r\nRange: bytes=100000-\r\nConnection: close\r\n\r\n", &len);

	ck_assert_msg(strncmp(a, "HTTP/1.1 416 ", 13) == 0, "%s", a);
	ck_assert_ptr_nonnull(strstr(a, "Content-Range: bytes */100000\r\n"));
}
END_TEST

START_TEST(test_httpd_head_gives_the_length_without_the_bytes)
{
	size_t len;
	char *a = exchange("HEAD " SEED " HTTP/1.1\r\nConnection: close\r\n\r\n", &len);

	ck_assert_msg(strncmp(a, "HTTP/1.1 200 ", 13) == 0, "%s", a);
	ck_assert_ptr_nonnull(strstr(a, "Content-Length: 100000\r\n"));
	ck_assert_str_eq(body_of(a), "");
}
END_TEST

START_TEST(test_httpd_serves_only_verified_bytes)
{
	size_t len;
	char *a;

	all_verified = false;
	a = exchange("GET " SEED " HTTP/1.1\r\nRange: bytes=0-49999\r\nConnection: close\r\n\r\n",
	             &len);
	ck_assert_msg(strncmp(a, "HTTP/1.1 206 ", 13) == 0, "%s", a);
	a = exchange(
	    "GET " SEED " HTTP/1.1\r\nRange: bytes=49000-50999\r\nConnection: close\r\n\r\n", &len);
	ck_assert_msg(strncmp(a, "HTTP/1.1 503 ", 13) == 0, "%s", a);
	ck_assert_ptr_nonnull(strstr(body_of(a), "not downloaded and verified"));
	a = exchange("GET " SEED " HTTP/1.1\r\nConnection: close\r\n\r\n", &len);
	ck_assert_msg(strncmp(a, "HTTP/1.1 503 ", 13) == 0, "%s", a);
}
END_TEST

START_TEST(test_httpd_answers_404_to_unknown_torrents_files_and_paths)
{
	size_t len;
	char *a;

	a = exchange(
	    "GET /seed/ffffffffffffffffffffffffffffffffffffffff/big%20file.bin HTTP/1.0\r\n\r\n",
	    &len);
	ck_assert_msg(strncmp(a, "HTTP/1.1 404 ", 13) == 0, "%s", a);
	a = exchange("GET /seed/0102030405060708090a0b0c0d0e0f1011121314/other HTTP/1.0\r\n\r\n",
	             &len);
	ck_assert_msg(strncmp(a, "HTTP/1.1 404 ", 13) == 0, "%s", a);
	a = exchange("GET /seed/0102/big HTTP/1.0\r\n\r\n", &len);
	ck_assert_msg(strncmp(a, "HTTP/1.1 404 ", 13) == 0, "%s", a);
	a = exchange("GET /seed/0102030405060708090a0b0c0d0e0f1011121314/big%00 HTTP/1.0\r\n\r\n",
	             &len);
	ck_assert_msg(strncmp(a, "HTTP/1.1 404 ", 13) == 0, "%s", a);
	a = exchange("GET /etc/passwd HTTP/1.0\r\n\r\n", &len);
	ck_assert_msg(strncmp(a, "HTTP/1.1 404 ", 13) == 0, "%s", a);
}
END_TEST

START_TEST(test_httpd_answers_the_cors_preflight_with_204)
{
	size_t len;
	char *a = exchange("OPTIONS " SEED " HTTP/1.1\r\nOrigin: http://127.0.0.1:9\r\n"
	                   "Access-Control-Request-Method: GET\r\n"
	                   "Access-Control-Request-Headers: range, cache-control\r\n"
	                   "Connection: close\r\n\r\n",
	                   &len);

	ck_assert_msg(strncmp(a, "HTTP/1.1 204 ", 13) == 0, "%s", a);
	ck_assert_ptr_nonnull(strstr(a, "Access-Control-Allow-Origin: *\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "Access-Control-Allow-Headers: Range, Cache-Control\r\n"));
	ck_assert_ptr_null(strstr(a, "\r\nContent-Length:"));
}
END_TEST

START_TEST(test_httpd_refuses_bodies_and_other_methods)
{
	size_t len;
	char *a = exchange("POST /announce HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd", &len);

	ck_assert_msg(strncmp(a, "HTTP/1.1 413 ", 13) == 0, "%s", a);
	a = exchange("DELETE " SEED " HTTP/1.1\r\nConnection: close\r\n\r\n", &len);
	ck_assert_msg(strncmp(a, "HTTP/1.1 405 ", 13) == 0, "%s", a);
	ck_assert_ptr_nonnull(strstr(a, "Allow: GET, HEAD, OPTIONS\r\n"));
}
END_TEST

START_TEST(test_httpd_answers_requests_one_after_another_on_one_connection)
{
	static char buf[8192];
	const char *req =
	    "GET " SEED " HTTP/1.1\r\nRange: bytes=0-9\r\n\r\n"
	    "GET " SEED " HTTP/1.1\r\nRange: bytes=10-19\r\nConnection: close\r\n\r\n";
	int fd = dial();
	size_t len;
	const char *second;

	ck_assert_int_eq(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	len = collect(fd, buf, sizeof(buf), 3000);
	close(fd);
	ck_assert_uint_gt(len, 0);
	/* the bodies hold NUL bytes: memmem, not strstr */
	ck_assert_ptr_nonnull(second = memmem(buf + 1, len - 1, "HTTP/1.1 206 ", 13));
	ck_assert_ptr_nonnull(strstr(buf, "Content-Range: bytes 0-9/100000"));
	ck_assert_ptr_nonnull(strstr(second, "Content-Range: bytes 10-19/100000"));
	ck_assert_mem_eq(body_of(second), content + 10, 10);
}
END_TEST

START_TEST(test_httpd_refuses_garbage_with_400_and_closes)
{
	size_t len;
	char *a = exchange("\x16\x03\x01\x02\x01garbage\r\n\r\n", &len);

	ck_assert_msg(strncmp(a, "HTTP/1.1 400 ", 13) == 0, "%s", a);
	ck_assert_ptr_nonnull(strstr(a, "Connection: close"));
}
END_TEST

START_TEST(test_httpd_refuses_a_huge_head_with_431)
{
	static char req[3 * TR_HTTPD_MAX_HEAD];
	uint64_t r, refused, b;
	size_t len;
	char *a;

	memset(req, 'x', sizeof(req) - 1);
	memcpy(req, "GET / HTTP/1.1\r\nX: ", 19);
	a = exchange(req, &len);
	ck_assert_msg(strncmp(a, "HTTP/1.1 431 ", 13) == 0, "%s", a);
	tr_httpd_counts(httpd, &r, &refused, &b);
	ck_assert_uint_eq(refused, 1);
}
END_TEST

START_TEST(test_httpd_closes_a_slowloris_at_the_head_deadline)
{
	struct tr_httpd_config cfg;
	int fd;
	int64_t t0;

	tr_httpd_config_defaults(&cfg);
	cfg.head_timeout_ms = 400;
	start_httpd(&cfg);
	fd = dial();
	t0 = cm_time_mono_ms();
	/* a byte every 100 ms: each read alone would keep a per-read timeout from firing */
	for (int i = 0; i < 20 && !closed_by_server(fd, 100); i++)
		send(fd, "G", 1, MSG_NOSIGNAL);
	ck_assert(closed_by_server(fd, 100));
	ck_assert_int_lt(cm_time_mono_ms() - t0, 1500);
	close(fd);
}
END_TEST

START_TEST(test_httpd_caps_connections_per_address_and_in_all)
{
	struct tr_httpd_config cfg;
	int fds[8];
	uint64_t r, refused, b;

	tr_httpd_config_defaults(&cfg);
	cfg.max_per_address = 3;
	start_httpd(&cfg);
	for (int i = 0; i < 4; i++)
		fds[i] = dial();
	spin(-1, 200);
	ck_assert(closed_by_server(fds[3], 500));
	ck_assert(!closed_by_server(fds[0], 100));
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	tr_httpd_counts(httpd, &r, &refused, &b);
	ck_assert_uint_eq(refused, 1);

	cfg.max_per_address = 10;
	cfg.max_connections = 2;
	start_httpd(&cfg);
	for (int i = 0; i < 3; i++)
		fds[i] = dial();
	spin(-1, 200);
	ck_assert(closed_by_server(fds[2], 500));
	ck_assert(!closed_by_server(fds[1], 100));
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}
END_TEST

/* GET /announce?<HASH_Q><rest>; the answer's body decoded. */
static struct cm_bdoc *
announce(const char *rest, char **raw)
{
	static char req[2048];
	size_t len;
	char *a;
	const char *b;

	snprintf(req, sizeof(req), "GET /announce?%s%s HTTP/1.1\r\nConnection: close\r\n\r\n",
	         HASH_Q, rest);
	a = exchange(req, &len);
	ck_assert_msg(strncmp(a, "HTTP/1.1 200 ", 13) == 0, "%s", a);
	b = body_of(a);
	*raw = (char *)b;
	return cm_bdecode(b, len - (size_t)(b - a), NULL, NULL);
}

START_TEST(test_httpd_tracker_lists_announcers_and_our_peers_compactly)
{
	struct cm_bdoc *d;
	const struct cm_bval *v;
	char *raw;

	our_peers = 2;
	d = announce("&port=6001&peer_id=AAAAAAAAAAAAAAAAAAAA&compact=1&event=started", &raw);
	ck_assert_msg(d != NULL, "%s", raw);
	/* the requester is not handed itself */
	ck_assert_uint_eq(cm_bdict_get(cm_bdoc_root(d), "peers")->len, 2 * 6);
	cm_bdoc_free(d);
	d = announce("&port=6002&peer_id=BBBBBBBBBBBBBBBBBBBB&compact=1", &raw);
	v = cm_bdict_get(cm_bdoc_root(d), "peers");
	ck_assert_uint_eq(v->len, 3 * 6);
	ck_assert_mem_eq(v->s, "\x7f\x00\x02\x01\x1b\x58", 6);
	ck_assert_mem_eq(v->s + 12, "\x7f\x00\x00\x01\x17\x71", 6); /* 127.0.0.1:6001 */
	ck_assert_int_eq(cm_bdict_get(cm_bdoc_root(d), "interval")->i, 1800);
	cm_bdoc_free(d);
	d = announce("&port=6002&numwant=1", &raw);
	ck_assert_uint_eq(cm_bdict_get(cm_bdoc_root(d), "peers")->len, 6);
	cm_bdoc_free(d);
	/* stopped: forgotten */
	d = announce("&port=6001&event=stopped", &raw);
	cm_bdoc_free(d);
	our_peers = 0;
	d = announce("&port=6002", &raw);
	ck_assert_uint_eq(cm_bdict_get(cm_bdoc_root(d), "peers")->len, 0);
	cm_bdoc_free(d);
}
END_TEST

START_TEST(test_httpd_tracker_refuses_unknown_torrents_and_bad_queries)
{
	size_t len;
	char *a =
	    exchange("GET /announce?info_hash=%ff%ff%ff%ff%ff%ff%ff%ff%ff%ff%ff%ff%ff%ff%ff%ff"
	             "%ff%ff%ff%ff&port=1 HTTP/1.0\r\n\r\n",
	             &len);

	ck_assert_ptr_nonnull(strstr(body_of(a), "d14:failure reason15:unknown torrente"));
	a = exchange("GET /announce?info_hash=abc&port=1 HTTP/1.0\r\n\r\n", &len);
	ck_assert_ptr_nonnull(strstr(body_of(a), "failure reason"));
	ck_assert_ptr_nonnull(strstr(body_of(a), "info_hash is 3 bytes"));
	a = exchange("GET /announce HTTP/1.0\r\n\r\n", &len);
	ck_assert_ptr_nonnull(strstr(body_of(a), "info_hash missing"));
}
END_TEST

FB_CHECK_MAIN(.name = "httpd", .setup = setup, .teardown = teardown, .timeout_s = 60)
