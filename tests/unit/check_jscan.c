/* check_jscan.c - the bounded JSON scanner against the codec's parser, one rule per test. */
#include <check.h>
#include <stdbool.h>
#include <string.h>

#include "fb/jscan.h"
#include "check_main.h"
#include "jscan_agree.h" /* tests/fuzz, shared with fuzz_jscan */

/* Scans text for paths; the scan's answer, values in v. */
static int
scan(const char *text, const char *const *paths, struct cm_jscan_value *v, size_t n)
{
	return cm_jscan(text, strlen(text), paths, v, n);
}

/* Both say no to text. */
static void
refused(const char *text)
{
	bool scanned;

	ck_assert_msg(jscan_agree(text, strlen(text), &scanned), "disagree on %s", text);
	ck_assert_msg(!scanned, "scanned %s", text);
	ck_assert_ptr_null(json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, NULL));
}

/* Both say yes to text and read the same values. */
static void
read_alike(const char *text)
{
	bool scanned;

	ck_assert_msg(jscan_agree(text, strlen(text), &scanned), "disagree on %s", text);
	ck_assert_msg(scanned, "not scanned: %s", text);
}

START_TEST(test_jscan_reads_the_top_level_member_not_a_nested_one)
{
	const char *paths[] = {"id", "a.id"};
	struct cm_jscan_value v[2];

	ck_assert_int_eq(scan("{\"a\":{\"id\":\"inner\"},\"x\":[{\"id\":1}],\"id\":\"outer\"}",
			      paths, v, 2),
			 0);
	ck_assert_int_eq(v[0].kind, CM_JSCAN_STRING);
	ck_assert_uint_eq(v[0].len, 5);
	ck_assert(memcmp(v[0].text, "outer", 5) == 0);
	ck_assert_int_eq(v[1].kind, CM_JSCAN_STRING);
	ck_assert(memcmp(v[1].text, "inner", 5) == 0);
}
END_TEST

START_TEST(test_jscan_refuses_duplicate_keys_at_any_depth)
{
	refused("{\"id\":\"a\",\"id\":\"b\"}");
	refused("{\"x\":{\"k\":1,\"k\":1}}");
	refused("{\"x\":[{\"\":1,\"\":2}]}");
	read_alike("{\"x\":{\"k\":1},\"y\":{\"k\":1}}");
}
END_TEST

START_TEST(test_jscan_refuses_what_the_parser_refuses)
{
	static const char *const bad[] = {
		"",          "[",          "{",           "{\"a\":1,}",      "{\"a\":01}",
		"{\"a\":-}", "{\"a\":1}x", "{\"a\":1}{}", "{\"a\":tru}",     "{\"a\":truex}",
		"{\"a\":\"\\u0000\"}",     "{\"a\":\"\\ud800\"}",            "{\"a\":\"\\udc00\"}",
		"{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\ud83d[ude00\"}", "{\"a\":\"\\x\"}",             "{\"a\":\"\t\"}",
		"{\"a\":\"\xc0\xaf\"}",    "{\"a\":\"\xed\xa0\x80\"}",       "{\"a\":\"\xf4\x90\x80\x80\"}",
		"{\"a\":\"\xe2\x82\"}",    "{\"a\":9223372036854775808}",    "{\"a\":-9223372036854775809}",
		"{\"a\":1 2}",             "{\"a\" 1}",  "{a:1}",       "{\"a\":[1,]}",    "{\"a\":\"x}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i]);
}
END_TEST

START_TEST(test_jscan_reads_what_the_parser_reads)
{
	static const char *const good[] = {
		"{}",
		" \t\r\n{ \"id\" : \"x\" , \"type\":null } \n",
		"{\"a\":{\"b\":-0},\"id\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
		"{\"a\":{\"b\":9223372036854775807},\"id\":-9223372036854775808}",
		"{\"a\":{\"b\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}}",
		"{\"a\":[[],{},[{\"b\":true}],false],\"id\":[1,2]}",
		"{\"payload\":{\"origin\":{\"record\":{\"email\":\"e@x.org\",\"seq\":5}}}}",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		read_alike(good[i]);
}
END_TEST

START_TEST(test_jscan_marks_a_string_with_escapes)
{
	const char *paths[] = {"a", "b"};
	struct cm_jscan_value v[2];

	ck_assert_int_eq(scan("{\"a\":\"x\\n\",\"b\":\"xy\"}", paths, v, 2), 0);
	ck_assert(v[0].escaped);
	ck_assert(!v[1].escaped);
}
END_TEST

START_TEST(test_jscan_says_no_where_it_cannot_be_sure)
{
	const char *paths[] = {"a"};
	struct cm_jscan_value v[1];
	char deep[2 * CM_JSCAN_MAX_DEPTH + 16], wide[CM_JSCAN_MAX_KEYS * 8 + 8];
	size_t n = 0;

	/* Jansson takes all of these: the full parse decides. */
	ck_assert_int_eq(scan("{\"a\":1.5}", paths, v, 1), -1);
	ck_assert_int_eq(scan("{\"\\u0061\":1}", paths, v, 1), -1);
	ck_assert_int_eq(scan("[1]", paths, v, 1), -1);
	n += (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
	for (int i = 0; i < CM_JSCAN_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i < CM_JSCAN_MAX_DEPTH; i++)
		deep[n++] = ']';
	snprintf(deep + n, sizeof(deep) - n, "}");
	ck_assert_int_eq(scan(deep, paths, v, 1), -1);
	n = (size_t)snprintf(wide, sizeof(wide), "{");
	for (int i = 0; i <= CM_JSCAN_MAX_KEYS; i++)
		n += (size_t)snprintf(wide + n, sizeof(wide) - n, "%s\"k%d\":0", i ? "," : "", i);
	snprintf(wide + n, sizeof(wide) - n, "}");
	ck_assert_int_eq(scan(wide, paths, v, 1), -1);
}
END_TEST

START_TEST(test_jscan_reports_a_member_not_there_as_absent)
{
	const char *paths[] = {"a.b", "c"};
	struct cm_jscan_value v[2];

	ck_assert_int_eq(scan("{\"a\":\"b\",\"d\":{\"c\":1}}", paths, v, 2), 0);
	ck_assert_int_eq(v[0].kind, CM_JSCAN_ABSENT);
	ck_assert_int_eq(v[1].kind, CM_JSCAN_ABSENT);
}
END_TEST

FB_CHECK_MAIN(.name = "jscan")
