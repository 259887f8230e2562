/*
 * check_ratelimit.c - token buckets per client certificate and address,
 * address keys, connections counted per address, refusal counters.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "ratelimit.h"
#include "check_main.h"

static const struct cm_hash_key key = {1, 2};

START_TEST(test_ratelimit_take_allows_burst_then_refuses)
{
	struct bs_ratelimit *rl = bs_ratelimit_new("t", 20, 100, 16, &key);
	int64_t retry = 0;

	for (int i = 0; i < 100; i++)
		ck_assert(bs_ratelimit_take(rl, "a", 1000, NULL));
	ck_assert(!bs_ratelimit_take(rl, "a", 1000, &retry));
	ck_assert_int_eq(retry, 51); /* one token at 20/s takes 50 ms */
	bs_ratelimit_free(rl);
}
END_TEST

START_TEST(test_ratelimit_take_refills_at_rate)
{
	struct bs_ratelimit *rl = bs_ratelimit_new("t", 20, 100, 16, &key);

	for (int i = 0; i < 100; i++)
		bs_ratelimit_take(rl, "a", 0, NULL);
	ck_assert(!bs_ratelimit_take(rl, "a", 49, NULL));
	/* Two tokens have grown back by 100 ms. */
	ck_assert(bs_ratelimit_take(rl, "a", 100, NULL));
	ck_assert(bs_ratelimit_take(rl, "a", 100, NULL));
	ck_assert(!bs_ratelimit_take(rl, "a", 100, NULL));
	bs_ratelimit_free(rl);
}
END_TEST

START_TEST(test_ratelimit_take_keys_are_independent)
{
	struct bs_ratelimit *rl = bs_ratelimit_new("t", 1, 1, 16, &key);

	ck_assert(bs_ratelimit_take(rl, "a", 0, NULL));
	ck_assert(!bs_ratelimit_take(rl, "a", 0, NULL));
	ck_assert(bs_ratelimit_take(rl, "b", 0, NULL));
	bs_ratelimit_free(rl);
}
END_TEST

START_TEST(test_ratelimit_take_stays_bounded_under_many_keys)
{
	struct bs_ratelimit *rl = bs_ratelimit_new("t", 1, 1, 64, &key);
	char key[32];

	/*
	 * Far more keys than slots: the table must keep working, and a fresh key is
	 * served. 64 keys span 2 s, so those older than 1 s have refilled and free room.
	 */
	for (int i = 0; i < 100000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert(bs_ratelimit_take(rl, key, (int64_t)i * 32, NULL));
	}
	ck_assert(bs_ratelimit_take(rl, "new", 100000 * 32, NULL));
	bs_ratelimit_free(rl);
}
END_TEST

START_TEST(test_ratelimit_full_table_keeps_throttled_buckets)
{
	/* The feedback throttle: one report per 300 s. A flood of new keys fills the table. */
	struct bs_ratelimit *rl = bs_ratelimit_new("t", 1.0 / 300, 1, 64, &key);
	char k[32];

	ck_assert(bs_ratelimit_take(rl, "victim", 0, NULL));
	for (int i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "flood%d", i);
		bs_ratelimit_take(rl, k, 10 + i / 100, NULL);
	}
	/* The throttled key was not forgotten: it is still throttled. */
	ck_assert(!bs_ratelimit_take(rl, "victim", 2000, NULL));
	for (int i = 0; i < 63; i++) {
		snprintf(k, sizeof(k), "flood%d", i);
		ck_assert(!bs_ratelimit_take(rl, k, 2000, NULL));
	}
	bs_ratelimit_free(rl);
}
END_TEST

START_TEST(test_ratelimit_full_table_new_keys_share_one_bucket)
{
	struct bs_ratelimit *rl = bs_ratelimit_new("t", 1, 2, 64, &key);
	char k[32];
	int allowed = 0;

	for (int i = 0; i < 64; i++) {
		snprintf(k, sizeof(k), "held%d", i);
		ck_assert(bs_ratelimit_take(rl, k, 0, NULL));
	}
	/* Full of buckets still refilling: 1000 new keys get one bucket's burst between them. */
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "new%d", i);
		if (bs_ratelimit_take(rl, k, 100, NULL))
			allowed++;
	}
	ck_assert_int_eq(allowed, 2);
	/* Once the held buckets have refilled they go, and a new key has its own again. */
	ck_assert(bs_ratelimit_take(rl, "late", 3000, NULL));
	ck_assert(bs_ratelimit_take(rl, "late", 3000, NULL));
	ck_assert(bs_ratelimit_take(rl, "later", 3000, NULL));
	bs_ratelimit_free(rl);
}
END_TEST

static void
key_of(const char *text, char out[BS_ADDR_KEY_LEN])
{
	struct sockaddr_in in4 = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

	if (inet_pton(AF_INET, text, &in4.sin_addr) == 1) {
		bs_addr_key((struct sockaddr *)&in4, out);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
		bs_addr_key((struct sockaddr *)&in6, out);
	}
}

START_TEST(test_addr_key_ipv4_ipv6_prefix_and_mapped)
{
	char a[BS_ADDR_KEY_LEN], b[BS_ADDR_KEY_LEN];

	key_of("192.0.2.7", a);
	ck_assert_str_eq(a, "192.0.2.7");
	/* IPv4 behind a dual-stack socket is the same address. */
	key_of("::ffff:192.0.2.7", b);
	ck_assert_str_eq(b, "192.0.2.7");
	/* A host holds a whole /64: every address in it is one key. */
	key_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd", a);
	key_of("2001:db8:1:2::1", b);
	ck_assert_str_eq(a, "2001:db8:1:2::/64");
	ck_assert_str_eq(a, b);
	key_of("2001:db8:1:3::1", b);
	ck_assert_str_ne(a, b);
	key_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", a);
	ck_assert_str_eq(a, "ffff:ffff:ffff:ffff::/64");
	bs_addr_key(NULL, a);
	ck_assert_str_eq(a, "unknown");
}
END_TEST

START_TEST(test_addr_net_key_ipv6_48_ipv4_itself)
{
	char a[BS_ADDR_KEY_LEN], n[BS_ADDR_KEY_LEN], m[BS_ADDR_KEY_LEN];

	/* Every /64 of a /48 is one network. */
	key_of("2001:db8:1:2:aaaa::1", a);
	bs_addr_net_key(a, n);
	ck_assert_str_eq(n, "2001:db8:1::/48");
	key_of("2001:db8:1:ffff::1", a);
	bs_addr_net_key(a, m);
	ck_assert_str_eq(m, n);
	key_of("2001:db8:2:1::1", a);
	bs_addr_net_key(a, m);
	ck_assert_str_eq(m, "2001:db8:2::/48");
	bs_addr_net_key("192.0.2.7", n);
	ck_assert_str_eq(n, "192.0.2.7");
	bs_addr_net_key("unknown", n);
	ck_assert_str_eq(n, "unknown");
}
END_TEST

START_TEST(test_ratelimit_per_address_many_certificates_one_bucket)
{
	/* The attack of 20 throw-away certificates: per address they share one bucket. */
	struct bs_ratelimit *per_cert = bs_ratelimit_new("t", 1, 5, 1024, &key);
	struct bs_ratelimit *per_ip = bs_ratelimit_new("t", 10, 50, 1024, &key);
	char cert[32];
	int allowed = 0;

	for (int i = 0; i < 1000; i++) {
		snprintf(cert, sizeof(cert), "cert%d", i);
		if (bs_ratelimit_take(per_ip, "192.0.2.7", 0, NULL) &&
		    bs_ratelimit_take(per_cert, cert, 0, NULL))
			allowed++;
	}
	ck_assert_int_eq(allowed, 50);
	/* Another address is not held back by it. */
	ck_assert(bs_ratelimit_take(per_ip, "192.0.2.8", 0, NULL));
	bs_ratelimit_free(per_cert);
	bs_ratelimit_free(per_ip);
}
END_TEST

START_TEST(test_conncount_counts_per_address_and_total)
{
	struct bs_conncount *cc = bs_conncount_new(&key);
	int64_t total = -1;

	ck_assert_int_eq(bs_conncount_get(cc, "a", &total), 0);
	ck_assert_int_eq(total, 0);
	for (int i = 1; i <= 64; i++)
		ck_assert_int_eq(bs_conncount_add(cc, "a", &total), i);
	ck_assert_int_eq(bs_conncount_add(cc, "b", &total), 1);
	ck_assert_int_eq(total, 65);
	ck_assert_int_eq(bs_conncount_get(cc, "a", &total), 64);
	bs_conncount_del(cc, "a");
	ck_assert_int_eq(bs_conncount_get(cc, "a", &total), 63);
	ck_assert_int_eq(total, 64);
	bs_conncount_del(cc, "b");
	ck_assert_int_eq(bs_conncount_get(cc, "b", &total), 0);
	/* A close of an address with nothing open counts nothing. */
	bs_conncount_del(cc, "b");
	ck_assert_int_eq(bs_conncount_get(cc, "a", &total), 63);
	ck_assert_int_eq(total, 63);
	bs_conncount_free(cc);
	bs_conncount_free(NULL);
}
END_TEST

START_TEST(test_metrics_refused_counts_all_logs_some)
{
	struct bs_metrics m;
	uint64_t since = 0;
	int lines = 0;
	char *text;

	bs_metrics_init(&m);
	ck_assert(bs_metrics_refused(&m, BS_REFUSE_CONNS_PER_IP, 1000, &since));
	ck_assert_uint_eq(since, 1);
	/* A flood: counted every time, logged once per interval with what it stands for. */
	for (int i = 1; i <= 1000; i++)
		if (bs_metrics_refused(&m, BS_REFUSE_CONNS_PER_IP, 1000 + i * 20, &since))
			lines++;
	ck_assert_int_eq(lines, 2); /* at 11000 and 21000 ms */
	ck_assert_uint_eq(since, 500);
	/* Another reason has its own line. */
	ck_assert(bs_metrics_refused(&m, BS_REFUSE_RATE_PER_IP, 21000, &since));
	text = bs_metrics_render(&m, 0, 0);
	ck_assert_ptr_nonnull(strstr(text, "bootstrap_refusals_total{reason=\"conns_per_ip\"} 1001\n"));
	ck_assert_ptr_nonnull(strstr(text, "bootstrap_refusals_total{reason=\"rate_per_ip\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "bootstrap_refusals_total{reason=\"feedback_reporter\"} 0\n"));
	free(text);
	bs_metrics_destroy(&m);
}
END_TEST

FB_CHECK_MAIN(.name = "ratelimit")
