/*
 * check_tracker.c - the tracker client: answers parsed from bytes (every
 * form, and garbage), then announces through the HTTP client to our own
 * HTTP port's tracker on the same loop.
 */
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/httpclient.h"
#include "torrent/httpd.h"
#include "torrent/tracker.h"
#include "check_main.h"

static int
parse(const char *body, size_t len, struct tr_tracker_answer *a, struct cm_err *err)
{
	return tr_tracker_parse(body, len, a, err);
}

#define PARSE(lit, a, err) parse(lit, sizeof(lit) - 1, a, err)

START_TEST(test_tracker_parse_reads_compact_peers_and_interval)
{
	struct tr_tracker_answer a;
	struct cm_err err = {{0}};

	ck_assert_int_eq(PARSE("d8:intervali900e5:peers12:\x7f\x00\x00\x02\x1a\xe1"
	                       "\x0a\x00\x00\x01\x00\x50"
	                       "e",
	                       &a, &err),
	                 0);
	ck_assert_int_eq(a.interval_s, 900);
	ck_assert_uint_eq(a.npeers, 2);
	ck_assert_str_eq(a.peers[0].ip, "127.0.0.2");
	ck_assert_int_eq(a.peers[0].port, 6881);
	ck_assert_str_eq(a.peers[1].ip, "10.0.0.1");
	ck_assert_int_eq(a.peers[1].port, 80);
	ck_assert_ptr_null(a.failure);
	tr_tracker_answer_clear(&a);
}
END_TEST

START_TEST(test_tracker_parse_reads_peers6)
{
	struct tr_tracker_answer a;
	struct cm_err err = {{0}};

	ck_assert_int_eq(PARSE("d8:intervali1800e5:peers0:6:peers618:"
	                       "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
	                       "\x1a\xe1"
	                       "e",
	                       &a, &err),
	                 0);
	ck_assert_uint_eq(a.npeers, 1);
	ck_assert_str_eq(a.peers[0].ip, "::1");
	ck_assert_int_eq(a.peers[0].port, 6881);
	tr_tracker_answer_clear(&a);
}
END_TEST

START_TEST(test_tracker_parse_reads_the_list_of_dictionaries)
{
	struct tr_tracker_answer a;
	struct cm_err err = {{0}};

	ck_assert_int_eq(PARSE("d8:intervali1800e5:peersld2:ip9:127.0.0.34:porti7000ee"
	                       "d2:ip11:example.org4:porti1ee"
	                       "d2:ip3:::14:porti7001ee"
	                       "d2:ip9:127.0.0.44:porti0eeee",
	                       &a, &err),
	                 0);
	/* a host name and port 0 are skipped, not trusted */
	ck_assert_uint_eq(a.npeers, 2);
	ck_assert_str_eq(a.peers[0].ip, "127.0.0.3");
	ck_assert_int_eq(a.peers[0].port, 7000);
	ck_assert_str_eq(a.peers[1].ip, "::1");
	tr_tracker_answer_clear(&a);
}
END_TEST

START_TEST(test_tracker_parse_reads_a_failure_reason)
{
	struct tr_tracker_answer a;
	struct cm_err err = {{0}};

	ck_assert_int_eq(PARSE("d14:failure reason16:unknown\x01torrent!e", &a, &err), 0);
	ck_assert_str_eq(a.failure, "unknown?torrent!");
	ck_assert_uint_eq(a.npeers, 0);
	tr_tracker_answer_clear(&a);
}
END_TEST

START_TEST(test_tracker_parse_clamps_the_interval)
{
	struct tr_tracker_answer a;
	struct cm_err err = {{0}};

	ck_assert_int_eq(PARSE("d8:intervali-5e5:peers0:e", &a, &err), 0);
	ck_assert_int_eq(a.interval_s, 60);
	tr_tracker_answer_clear(&a);
	ck_assert_int_eq(PARSE("d8:intervali99999999999e5:peers0:e", &a, &err), 0);
	ck_assert_int_eq(a.interval_s, 3600);
	tr_tracker_answer_clear(&a);
}
END_TEST

START_TEST(test_tracker_parse_takes_at_most_max_peers)
{
	size_t n = 1000, len = 0;
	char *body = malloc(64 + 6 * n);
	struct tr_tracker_answer a;
	struct cm_err err = {{0}};

	len += (size_t)snprintf(body, 64, "d8:intervali60e5:peers%zu:", 6 * n);
	for (size_t i = 0; i < n; i++) {
		memcpy(body + len, "\x7f\x00\x00\x01", 4);
		body[len + 4] = (char)(i >> 8 | 1);
		body[len + 5] = (char)i;
		len += 6;
	}
	body[len++] = 'e';
	ck_assert_int_eq(parse(body, len, &a, &err), 0);
	ck_assert_uint_eq(a.npeers, TR_TRACKER_MAX_PEERS);
	tr_tracker_answer_clear(&a);
	free(body);
}
END_TEST

START_TEST(test_tracker_parse_refuses_garbage_with_a_clear_error)
{
	static const struct {
		const char *body;
		const char *why;
	} bad[] = {
	    {"<html>502 Bad Gateway</html>", "not bencode"},
	    {"", "not bencode"},
	    {"li1ee", "not a dictionary"},
	    {"d8:intervali60ee", "neither peers nor peers6"},
	    {"d8:intervali60e5:peers5:abcdee", "not a multiple of 6"},
	    {"d5:peers0:6:peers67:abcdefge", "not a multiple of 18"},
	    {"d5:peersi3ee", "wrong type"},
	    {"d5:peersli3eee", "peers[0] is not {ip, port}"},
	    {"d5:peersld2:ipi1e4:porti1eeee", "peers[0] is not {ip, port}"},
	    {"d8:interval2:605:peers0:e", "interval is not an integer"},
	    {"d14:failure reasoni1ee", "failure reason is not a string"},
	    {"d5:peers0:e5:trail", "not bencode"},
	};
	struct tr_tracker_answer a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cm_err err = {{0}};

		ck_assert_int_eq(parse(bad[i].body, strlen(bad[i].body), &a, &err), -1);
		ck_assert_msg(strstr(err.msg, bad[i].why) != NULL, "%s: %s", bad[i].body, err.msg);
		ck_assert_ptr_null(a.peers);
	}
}
END_TEST

START_TEST(test_tracker_parse_refuses_an_oversized_answer)
{
	size_t len = TR_TRACKER_MAX_ANSWER + 1;
	char *body = calloc(1, len);
	struct tr_tracker_answer a;
	struct cm_err err = {{0}};

	ck_assert_int_eq(parse(body, len, &a, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "longer than"));
	free(body);
}
END_TEST

/* ---- announcing to our own tracker ---- */

static const unsigned char HASH[TR_HASH_LEN] = {0x00, 0x01, '%', '&', '=', ' ', '+',
                                                0xff, 'a',  'b', 'c', 'd', 'e', 'f',
                                                'g',  'h',  'i', 'j', 'k', 'l'};
static const char *HASH_HEX = "000125263d202bff6162636465666768696a6b6c";

static struct event_base *base;
static struct {
	int calls;
	char err[CM_ERR_MSG];
	char failure[CM_ERR_MSG];
	size_t npeers;
	struct tr_peer_addr peers[8];
	int interval_s;
	void *arg;
} got;

static void
announced(void *arg, const struct tr_tracker_answer *a, const char *err)
{
	got.arg = arg;
	got.calls++;
	snprintf(got.err, sizeof(got.err), "%s", err != NULL ? err : "");
	if (a != NULL) {
		snprintf(got.failure, sizeof(got.failure), "%s", a->failure ? a->failure : "");
		got.npeers = a->npeers < 8 ? a->npeers : 8;
		if (got.npeers > 0)
			memcpy(got.peers, a->peers, got.npeers * sizeof(a->peers[0]));
		got.interval_s = a->interval_s;
	}
	event_base_loopbreak(base);
}

static int
op_find(void *ctx, const char hex[TR_HEX_LEN + 1], const char *rel, struct tr_httpd_file *out)
{
	(void)ctx, (void)hex, (void)rel, (void)out;
	return -1;
}

static bool
op_verified(void *ctx, const char hex[TR_HEX_LEN + 1], uint64_t off, uint64_t len)
{
	(void)ctx, (void)hex, (void)off, (void)len;
	return false;
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
	(void)ctx, (void)hex;
	if (max == 0)
		return 0;
	snprintf(out[0].ip, sizeof(out[0].ip), "127.0.0.9");
	out[0].port = 9999;
	return 1;
}

static void
setup(void)
{
	base = event_base_new();
	memset(&got, 0, sizeof(got));
}

static void
teardown(void)
{
	event_base_free(base);
}

static void
run(void)
{
	struct timeval tv = {10, 0};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
announce_once(struct hc_client *hc, const char *url, int port, const unsigned char *hash)
{
	struct tr_announce a = {.port = port, .left = 5, .event = "started", .numwant = 10};

	memcpy(a.info_hash, hash, TR_HASH_LEN);
	memset(a.peer_id, 'P', TR_HASH_LEN);
	got.calls = 0;
	ck_assert_int_eq(tr_tracker_announce(hc, url, &a, announced, NULL), 0);
	run();
	ck_assert_int_eq(got.calls, 1);
}

START_TEST(test_tracker_announce_reaches_our_tracker_with_the_hash_escaped)
{
	static const struct tr_httpd_ops ops = {op_find, op_verified, op_known, op_peers};
	struct tr_httpd_config cfg;
	struct tr_httpd *h;
	struct hc_client *hc = hc_new(base);
	char url[128];
	unsigned char other[TR_HASH_LEN];

	tr_httpd_config_defaults(&cfg);
	cfg.announce_interval_s = 120;
	ck_assert_ptr_nonnull(h = tr_httpd_new(base, &cfg, &ops, NULL));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/announce", tr_httpd_port(h));
	announce_once(hc, url, 7001, HASH);
	ck_assert_msg(got.err[0] == '\0' && got.failure[0] == '\0', "%s%s", got.err, got.failure);
	ck_assert_int_eq(got.interval_s, 120);
	ck_assert_uint_eq(got.npeers, 1);
	ck_assert_str_eq(got.peers[0].ip, "127.0.0.9");
	announce_once(hc, url, 7002, HASH);
	ck_assert_uint_eq(got.npeers, 2);
	ck_assert_str_eq(got.peers[1].ip, "127.0.0.1");
	ck_assert_int_eq(got.peers[1].port, 7001);
	memset(other, 7, sizeof(other));
	announce_once(hc, url, 7002, other);
	ck_assert_str_eq(got.failure, "unknown torrent");
	hc_free(hc);
	tr_httpd_free(h);
}
END_TEST

START_TEST(test_tracker_announce_reports_a_dead_tracker_once)
{
	struct hc_client *hc = hc_new(base);

	/* port 9 on loopback: nothing listens there */
	announce_once(hc, "http://127.0.0.1:9/announce", 7001, HASH);
	ck_assert_msg(strncmp(got.err, "tracker: ", 9) == 0, "%s", got.err);
	hc_free(hc);
}
END_TEST

START_TEST(test_tracker_cancel_drops_an_announce_without_its_callback)
{
	struct hc_client *hc = hc_new(base);
	struct tr_announce a = {.port = 7001};
	int mine, other;

	memcpy(a.info_hash, HASH, TR_HASH_LEN);
	ck_assert_int_eq(
	    tr_tracker_announce(hc, "http://127.0.0.1:9/announce", &a, announced, &mine), 0);
	ck_assert_int_eq(
	    tr_tracker_announce(hc, "http://127.0.0.1:9/announce", &a, announced, &other), 0);
	tr_tracker_cancel(hc, &mine);
	run();
	event_base_loopexit(base, &(struct timeval){0, 300000});
	event_base_dispatch(base);
	ck_assert_int_eq(got.calls, 1);
	ck_assert_ptr_eq(got.arg, &other);
	hc_free(hc);
}
END_TEST

START_TEST(test_tracker_announce_refuses_without_a_port_or_with_another_scheme)
{
	struct hc_client *hc = hc_new(base);
	struct tr_announce a = {.port = 0};

	ck_assert_int_eq(tr_tracker_announce(hc, "http://127.0.0.1:9/a", &a, announced, NULL), -1);
	a.port = 1;
	ck_assert_int_eq(tr_tracker_announce(hc, "udp://127.0.0.1:9/a", &a, announced, NULL), -1);
	hc_free(hc);
}
END_TEST

FB_CHECK_MAIN(.name = "tracker", .setup = setup, .teardown = teardown, .timeout_s = 60)
