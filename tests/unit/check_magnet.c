/* check_magnet.c - magnet links: libtorrent's read, ours written, every bound. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/file.h"
#include "fb/hex.h"
#include "torrent/metainfo.h"
#include "check_main.h"

#define HASH "cf6e326490581442dfe01daf88ad77b98e0d0551"

static void
parse(const char *uri, struct tr_magnet *m)
{
	struct cm_err e;

	ck_assert_msg(tr_magnet_parse(uri, m, &e) == 0, "%s: %s", uri, e.msg);
}

static const char *
refuse(const char *uri)
{
	static struct cm_err e;
	struct tr_magnet m;

	ck_assert_msg(tr_magnet_parse(uri, &m, &e) == -1, "%s: accepted", uri);
	ck_assert_ptr_null(m.name);
	ck_assert_uint_eq(m.trackers.len, 0);
	return e.msg;
}

static void
assert_hash(const struct tr_magnet *m, const char *hex)
{
	char got[TR_HEX_LEN + 1];

	cm_hex_encode(m->info_hash, TR_HASH_LEN, got);
	ck_assert_str_eq(got, hex);
}

START_TEST(test_magnet_reads_what_libtorrent_writes)
{
	struct tr_magnet m;

	/* lt.make_magnet_uri of fixtures/torrent/mk-multi.torrent */
	parse("magnet:?xt=urn:btih:be8059ae3b9315cf4d81c44fc7db77e2e3a242e6&dn=multi"
	      "&tr=http%3a%2f%2f127.0.0.1%3a6969%2fannounce&tr=http%3a%2f%2f127.0.0.2%3a6969%2fannounce"
	      "&tr=http%3a%2f%2f127.0.0.3%3a6969%2fannounce",
	      &m);
	assert_hash(&m, "be8059ae3b9315cf4d81c44fc7db77e2e3a242e6");
	ck_assert_str_eq(m.name, "multi");
	ck_assert(!m.has_length);
	ck_assert_uint_eq(m.trackers.len, 3);
	ck_assert_str_eq(m.trackers.items[2], "http://127.0.0.3:6969/announce");
	tr_magnet_clear(&m);
}
END_TEST

START_TEST(test_magnet_reads_a_base32_info_hash)
{
	struct tr_magnet m;

	parse("magnet:?xt=urn:btih:Z5XDEZEQLAKEFX7ADWXYRLLXXGHA2BKR", &m);
	assert_hash(&m, HASH);
	tr_magnet_clear(&m);
	parse("magnet:?xt=urn:btih:z5xdezeqlakefx7adwxyrllxxgha2bkr", &m);
	assert_hash(&m, HASH);
	tr_magnet_clear(&m);
	parse("MAGNET:?xt=URN:BTIH:CF6E326490581442DFE01DAF88AD77B98E0D0551", &m);
	assert_hash(&m, HASH);
	tr_magnet_clear(&m);
}
END_TEST

START_TEST(test_magnet_decodes_percent_escapes_and_plus_in_the_name)
{
	struct tr_magnet m;

	parse("magnet:?dn=a%20b+c%2Bd&xt=urn:btih:" HASH "&ws=http://h/a+b", &m);
	ck_assert_str_eq(m.name, "a b c+d");
	/* a URL keeps its plus */
	ck_assert_str_eq(m.web_seeds.items[0], "http://h/a+b");
	tr_magnet_clear(&m);
}
END_TEST

START_TEST(test_magnet_reads_the_length_and_refuses_a_bad_one)
{
	struct tr_magnet m;

	parse("magnet:?xt=urn:btih:" HASH "&xl=18446744073709551615", &m);
	ck_assert(m.has_length);
	ck_assert(m.length == UINT64_MAX);
	tr_magnet_clear(&m);
	ck_assert_str_eq(refuse("magnet:?xt=urn:btih:" HASH "&xl=18446744073709551616"),
			 "magnet: xl: not a byte count");
	ck_assert_str_eq(refuse("magnet:?xt=urn:btih:" HASH "&xl=-1"), "magnet: xl: not a byte count");
	ck_assert_str_eq(refuse("magnet:?xt=urn:btih:" HASH "&xl="), "magnet: xl: not a byte count");
}
END_TEST

START_TEST(test_magnet_reads_several_trackers_peers_and_web_seeds)
{
	struct tr_magnet m;

	parse("magnet:?xt=urn:btih:" HASH "&tr=http://a/ann&tr.1=http://b/ann&tr=http://a/ann"
	      "&x.pe=127.0.0.1:6881&x.pe=%5B::1%5D:6882&x.pe=[fe80::1]:1"
	      "&ws=http://w/1&ws=http://w/2&foo=bar&novalue",
	      &m);
	ck_assert_uint_eq(m.trackers.len, 2);
	ck_assert_str_eq(m.trackers.items[1], "http://b/ann");
	ck_assert_uint_eq(m.peers.len, 3);
	ck_assert_str_eq(m.peers.items[1], "[::1]:6882");
	ck_assert_uint_eq(m.web_seeds.len, 2);
	tr_magnet_clear(&m);
}
END_TEST

START_TEST(test_magnet_needs_a_btih_and_leaves_other_kinds_of_xt)
{
	struct tr_magnet m;

	parse("magnet:?xt=urn:btmh:1220abcd&xt=urn:btih:" HASH, &m);
	assert_hash(&m, HASH);
	tr_magnet_clear(&m);
	parse("magnet:?xt=urn:btih:" HASH "&xt.1=urn:btih:" HASH, &m);
	tr_magnet_clear(&m);
	ck_assert_str_eq(refuse("magnet:?xt=urn:btmh:1220abcd&dn=x"), "magnet: no xt=urn:btih:");
	ck_assert_str_eq(refuse("magnet:?dn=x&tr=http://a/"), "magnet: no xt=urn:btih:");
	ck_assert_str_eq(refuse("magnet:?xt=urn:btih:" HASH "&xt=urn:btih:"
				"0000000000000000000000000000000000000000"),
			 "magnet: xt: two different info hashes");
}
END_TEST

START_TEST(test_magnet_refuses_an_info_hash_of_the_wrong_form)
{
	ck_assert_str_eq(refuse("magnet:?xt=urn:btih:cf6e"),
			 "magnet: xt: \"cf6e\" is neither 40 hex nor 32 base32 digits");
	ck_assert_str_eq(refuse("magnet:?xt=urn:btih:zf6e326490581442dfe01daf88ad77b98e0d0551"),
			 "magnet: xt: \"zf6e326490581442dfe01daf88ad77b98e0d0551\" is neither 40 "
			 "hex nor 32 base32 digits");
	/* 1, 8, 9 and 0 are not base32 digits */
	ck_assert_str_eq(refuse("magnet:?xt=urn:btih:Z5XDEZEQLAKEFX7ADWXYRLLXXGHA2BK1"),
			 "magnet: xt: \"Z5XDEZEQLAKEFX7ADWXYRLLXXGHA2BK1\" is neither 40 hex nor "
			 "32 base32 digits");
}
END_TEST

START_TEST(test_magnet_refuses_bad_percent_escapes_and_nul)
{
	ck_assert_str_eq(refuse("magnet:?xt=urn:btih:" HASH "&dn=a%G1"),
			 "magnet: dn: a bad percent escape");
	ck_assert_str_eq(refuse("magnet:?xt=urn:btih:" HASH "&tr=http://a/%4"),
			 "magnet: value: a bad percent escape");
	ck_assert_str_eq(refuse("magnet:?xt=urn:btih:" HASH "&dn=a%00b"),
			 "magnet: dn: a NUL byte");
}
END_TEST

START_TEST(test_magnet_refuses_a_peer_that_is_not_an_ip_and_port)
{
	static const char *bad[] = {"example.com:6881", "127.0.0.1", "127.0.0.1:0",
				    "127.0.0.1:65536", "127.0.0.1:+1", "::1:6881", "[::1]6881",
				    "[]:1", "127.0.0.1:1x"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char uri[256], want[256];

		snprintf(uri, sizeof(uri), "magnet:?xt=urn:btih:" HASH "&x.pe=%s", bad[i]);
		snprintf(want, sizeof(want), "magnet: x.pe: \"%s\" is not an IP address and port",
			 bad[i]);
		ck_assert_str_eq(refuse(uri), want);
	}
}
END_TEST

START_TEST(test_magnet_refuses_more_trackers_than_the_cap)
{
	char uri[4096];
	size_t n = (size_t)snprintf(uri, sizeof(uri), "magnet:?xt=urn:btih:" HASH);

	for (int i = 0; i <= TR_MAX_TRACKERS; i++)
		n += (size_t)snprintf(uri + n, sizeof(uri) - n, "&tr=http://t/%d", i);
	ck_assert_str_eq(refuse(uri), "magnet: more than 32 tr");
}
END_TEST

START_TEST(test_magnet_refuses_a_link_past_its_length_or_without_its_scheme)
{
	char *uri = malloc(TR_MAX_MAGNET + 64);

	snprintf(uri, TR_MAX_MAGNET + 64, "magnet:?xt=urn:btih:" HASH "&dn=");
	memset(uri + strlen(uri), 'a', TR_MAX_MAGNET);
	uri[TR_MAX_MAGNET + 1] = '\0';
	ck_assert_str_eq(refuse(uri), "magnet: longer than 16384 bytes");
	free(uri);
	ck_assert_str_eq(refuse("http://x/?xt=urn:btih:" HASH),
			 "magnet: does not start with \"magnet:?\"");
	ck_assert_str_eq(refuse(""), "magnet: does not start with \"magnet:?\"");
}
END_TEST

START_TEST(test_magnet_of_a_torrent_reads_back_the_same)
{
	struct tr_meta m;
	struct tr_magnet back;
	struct cm_strlist peers = {0};
	char *buf, *uri;
	size_t len;

	ck_assert_int_eq(cm_file_read("tests/unit/fixtures/torrent/lt-single.torrent", 1 << 20,
				      &buf, &len, NULL),
			 0);
	ck_assert_int_eq(tr_meta_from_torrent(buf, len, &m, NULL), 0);
	free(m.name);
	m.name = strdup("a b&c=d");
	cm_strlist_append(&peers, "127.0.0.2:6881");
	cm_strlist_append(&peers, "[::1]:6881");
	uri = tr_magnet_of(&m, &peers);
	ck_assert_ptr_nonnull(uri);
	ck_assert_str_eq(uri, "magnet:?xt=urn:btih:bf059911007acc9fcaa2e3d9e70dc1a7b0fa5652"
			      "&dn=a%20b%26c%3Dd&xl=700000"
			      "&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce"
			      "&ws=http%3A%2F%2F127.0.0.1%3A8080%2F&x.pe=127.0.0.2:6881&x.pe=[::1]:6881");
	parse(uri, &back);
	ck_assert_mem_eq(back.info_hash, m.info_hash, TR_HASH_LEN);
	ck_assert_str_eq(back.name, "a b&c=d");
	ck_assert(back.has_length);
	ck_assert_uint_eq(back.length, 700000);
	ck_assert_str_eq(back.trackers.items[0], "http://127.0.0.1:6969/announce");
	ck_assert_str_eq(back.web_seeds.items[0], "http://127.0.0.1:8080/");
	ck_assert_str_eq(back.peers.items[0], "127.0.0.2:6881");
	ck_assert_str_eq(back.peers.items[1], "[::1]:6881");
	tr_magnet_clear(&back);
	free(uri);
	free(buf);
	cm_strlist_clear(&peers);
	tr_meta_clear(&m);
}
END_TEST

FB_CHECK_MAIN(.name = "magnet")
