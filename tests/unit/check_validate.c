/* check_validate.c - the field rules: email, IP literals, port, UUID, repository names. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "fb/random.h"
#include "fb/validate.h"
#include "check_main.h"

#define V(fn, s) fn((s), strlen(s))

START_TEST(test_valid_email_accepts_plain_addresses)
{
	ck_assert(V(cm_valid_email, "alice@example.com"));
	ck_assert(V(cm_valid_email, "first.last+tag@sub.example.co.uk"));
	ck_assert(V(cm_valid_email, "o'brien_1@localhost"));
}
END_TEST

START_TEST(test_valid_email_rejects_malformed)
{
	static const char *bad[] = {"",        "alice",       "@example.com", "alice@",
				    "a@@b.c",  ".a@b.c",      "a.@b.c",       "a..b@c.d",
				    "a b@c.d", "a@-b.c",      "a@b-.c",       "a@b..c",
				    "a@b.c.",  "a@b_c.d",     "a\"b@c.d",     "a@[192.0.2.1]"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!V(cm_valid_email, bad[i]), "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_valid_email_local_part_limit)
{
	char email[128];

	memset(email, 'l', 64);
	snprintf(email + 64, sizeof(email) - 64, "@b.c");
	ck_assert(V(cm_valid_email, email));
	memset(email, 'l', 65);
	snprintf(email + 65, sizeof(email) - 65, "@b.c");
	ck_assert(!V(cm_valid_email, email));
}
END_TEST

START_TEST(test_valid_email_rejects_embedded_nul)
{
	ck_assert(!cm_valid_email("a\0b@c.d", 8));
}
END_TEST

START_TEST(test_valid_ip_accepts_v4_and_v6)
{
	ck_assert(V(cm_valid_ip, "192.0.2.1"));
	ck_assert(V(cm_valid_ip, "127.0.0.2"));
	ck_assert(V(cm_valid_ip, "2001:db8::1"));
	ck_assert(V(cm_valid_ip, "::1"));
	ck_assert(V(cm_valid_ip, "2fff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"));
}
END_TEST

START_TEST(test_valid_ip_rejects_non_literals_and_unusable)
{
	static const char *bad[] = {"",          "example.com", "256.0.0.1",   "1.2.3",
				    "01.2.3.4",  " 1.2.3.4",    "[::1]",       "fe80::1%eth0",
				    "0.0.0.0",   "::",          "224.0.0.1",   "ff02::1",
				    "1.2.3.4:80"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!V(cm_valid_ip, bad[i]), "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_valid_port_range_edges)
{
	ck_assert(!cm_valid_port(0));
	ck_assert(cm_valid_port(1));
	ck_assert(cm_valid_port(65535));
	ck_assert(!cm_valid_port(65536));
	ck_assert(!cm_valid_port(-1));
}
END_TEST

START_TEST(test_valid_uuid_forms)
{
	ck_assert(V(cm_valid_uuid, "0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f"));
	ck_assert(V(cm_valid_uuid, "0B9F2C1E-5D3A-4C2B-9E8F-1A2B3C4D5E6F"));
	ck_assert(!V(cm_valid_uuid, "0b9f2c1e5d3a4c2b9e8f1a2b3c4d5e6f"));
	ck_assert(!V(cm_valid_uuid, "0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6g"));
	ck_assert(!V(cm_valid_uuid, "{0b9f2c1e-5d3a-4c2b-9e8f-1a2b3c4d5e6f}"));
	ck_assert(!V(cm_valid_uuid, ""));
}
END_TEST

START_TEST(test_uuid_generate_is_valid_lowercase_and_unique)
{
	char a[CM_UUID_TEXT_LEN + 1], b[CM_UUID_TEXT_LEN + 1];

	cm_uuid_generate(a);
	cm_uuid_generate(b);
	ck_assert(V(cm_valid_uuid, a));
	ck_assert_str_ne(a, b);
	for (size_t i = 0; i < CM_UUID_TEXT_LEN; i++)
		ck_assert(a[i] == '-' || (a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
	ck_assert_int_eq(a[14], '4'); /* version 4: random */
}
END_TEST

START_TEST(test_valid_repo_name_rules)
{
	char name[300];

	ck_assert(V(cm_valid_repo_name, "flashback/core"));
	ck_assert(V(cm_valid_repo_name, "caf\xc3\xa9 notes"));
	ck_assert(!V(cm_valid_repo_name, ""));
	ck_assert(!V(cm_valid_repo_name, "a,b"));
	ck_assert(!V(cm_valid_repo_name, "tab\there"));
	memset(name, 'n', 255);
	name[255] = '\0';
	ck_assert(V(cm_valid_repo_name, name));
	name[255] = 'n';
	name[256] = '\0';
	ck_assert(!V(cm_valid_repo_name, name));
}
END_TEST

START_TEST(test_valid_hex_digest_lower_case_of_exact_length)
{
	const char *ih = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

	ck_assert(cm_valid_hex_digest(ih, 40, 40));
	ck_assert(!cm_valid_hex_digest(ih, 39, 40));
	ck_assert(!cm_valid_hex_digest(ih, 40, 64));
	ck_assert(!cm_valid_hex_digest("C12FE1C06BBA254A9DC9F519B335AA7C1367A88A", 40, 40));
	ck_assert(!cm_valid_hex_digest("g12fe1c06bba254a9dc9f519b335aa7c1367a88a", 40, 40));
	ck_assert(!cm_valid_hex_digest(NULL, 0, 0));
}
END_TEST

START_TEST(test_valid_torrent_name_rules)
{
	char name[300];

	ck_assert(V(cm_valid_torrent_name, "holiday, 2025.mkv"));
	ck_assert(V(cm_valid_torrent_name, "caf\xc3\xa9"));
	ck_assert(!V(cm_valid_torrent_name, ""));
	ck_assert(!V(cm_valid_torrent_name, "new\nline"));
	ck_assert(!V(cm_valid_torrent_name, "del\x7f"));
	memset(name, 'n', 255);
	name[255] = '\0';
	ck_assert(V(cm_valid_torrent_name, name));
	name[255] = 'n';
	name[256] = '\0';
	ck_assert(!V(cm_valid_torrent_name, name));
}
END_TEST

START_TEST(test_cm_parse_int_whole_number_in_range_only)
{
	int64_t v = 7;

	ck_assert_int_eq(cm_parse_int("42", 1, 100, &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(cm_parse_int("-3", -5, 5, &v), 0);
	ck_assert_int_eq(v, -3);
	v = 7;
	ck_assert_int_eq(cm_parse_int("", 0, 100, &v), -1);
	ck_assert_int_eq(cm_parse_int("12x", 0, 100, &v), -1);
	ck_assert_int_eq(cm_parse_int("101", 0, 100, &v), -1);
	ck_assert_int_eq(cm_parse_int("-1", 0, 100, &v), -1);
	ck_assert_int_eq(cm_parse_int("99999999999999999999", INT64_MIN, INT64_MAX, &v), -1);
	ck_assert_int_eq(v, 7);
}
END_TEST

FB_CHECK_MAIN(.name = "validate")
