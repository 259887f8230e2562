/* check_bencode.c - the bencode codec: strict decoding, its bounds, canonical encoding. */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fb/bencode.h"
#include "check_main.h"

/* Decodes s (its strlen), expecting failure; returns the message. */
static const char *
reject(const char *s, const struct cm_blimits *lim)
{
	static struct cm_err e;
	struct cm_bdoc *d;

	memset(&e, 0, sizeof(e));
	d = cm_bdecode(s, strlen(s), lim, &e);
	ck_assert_msg(d == NULL, "%s was accepted", s);
	return e.msg;
}

/* Decodes in and encodes the tree again; the bytes must be the same. */
static void
assert_round_trip(const void *in, size_t n)
{
	struct cm_err e;
	struct cm_bdoc *d = cm_bdecode(in, n, NULL, &e);
	struct cm_benc enc;
	char *out;
	size_t out_len;

	ck_assert_msg(d != NULL, "%.*s: %s", (int)n, (const char *)in, e.msg);
	ck_assert_uint_eq(cm_bdoc_root(d)->raw_len, n);
	cm_benc_init(&enc, 1 << 20);
	cm_benc_value(&enc, cm_bdoc_root(d));
	ck_assert_int_eq(cm_benc_finish(&enc, &out, &out_len), 0);
	ck_assert_uint_eq(out_len, n);
	ck_assert_mem_eq(out, in, n);
	free(out);
	cm_bdoc_free(d);
}

START_TEST(test_bdecode_round_trips_canonical_documents)
{
	static const char *docs[] = {
		"i0e", "i-1e", "i42e", "i9223372036854775807e", "i-9223372036854775808e",
		"0:", "4:spam", "le", "de", "l4:spami42ee", "d3:bar4:spam3:fooi42ee",
		"d1:ad1:bl1:cdeee1:bi0ee", "d0:i1e1:ai2e2:aai3e1:bi4ee",
		"d8:announce20:http://t.example/ann4:infod6:lengthi5e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		assert_round_trip(docs[i], strlen(docs[i]));
}
END_TEST

START_TEST(test_bdecode_keeps_binary_strings_with_nul_bytes)
{
	static const char in[] = "l3:a\0bd2:\0\0i1eee";
	struct cm_bdoc *d = cm_bdecode(in, sizeof(in) - 1, NULL, NULL);
	const struct cm_bval *r;

	ck_assert_ptr_nonnull(d);
	r = cm_bdoc_root(d);
	ck_assert_int_eq(r->kind, CM_BLIST);
	ck_assert_uint_eq(r->len, 2);
	ck_assert_uint_eq(r->items[0].len, 3);
	ck_assert_mem_eq(r->items[0].s, "a\0b", 3);
	ck_assert_uint_eq(r->items[1].keys[0].len, 2);
	cm_bdoc_free(d);
	assert_round_trip(in, sizeof(in) - 1);
}
END_TEST

START_TEST(test_bdecode_reads_integers_at_the_int64_limits)
{
	struct cm_bdoc *d = cm_bdecode("li9223372036854775807ei-9223372036854775808ee", 45, NULL,
				       NULL);

	ck_assert_ptr_nonnull(d);
	ck_assert(cm_bdoc_root(d)->items[0].i == INT64_MAX);
	ck_assert(cm_bdoc_root(d)->items[1].i == INT64_MIN);
	cm_bdoc_free(d);
}
END_TEST

START_TEST(test_bdecode_remembers_the_raw_bytes_of_each_value)
{
	const char *in = "d4:infod1:ai1ee4:zzzzi7ee";
	struct cm_bdoc *d = cm_bdecode(in, strlen(in), NULL, NULL);
	const struct cm_bval *info;

	ck_assert_ptr_nonnull(d);
	info = cm_bdict_get(cm_bdoc_root(d), "info");
	ck_assert_ptr_nonnull(info);
	ck_assert_uint_eq(info->raw_len, 8);
	ck_assert_mem_eq(info->raw, "d1:ai1ee", 8);
	ck_assert_ptr_eq(info->raw, (const unsigned char *)in + 7);
	cm_bdoc_free(d);
}
END_TEST

START_TEST(test_bdict_get_finds_every_key_and_only_those)
{
	const char *in = "d1:ai1e2:abi2e1:bi3e2:bai4e1:ci5e1:di6e1:ei7ee";
	static const char *keys[] = {"a", "ab", "b", "ba", "c", "d", "e"};
	struct cm_bdoc *d = cm_bdecode(in, strlen(in), NULL, NULL);
	const struct cm_bval *r;

	ck_assert_ptr_nonnull(d);
	r = cm_bdoc_root(d);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct cm_bval *v = cm_bdict_get(r, keys[i]);

		ck_assert_ptr_nonnull(v);
		ck_assert_int_eq(v->i, (int64_t)i + 1);
	}
	ck_assert_ptr_null(cm_bdict_get(r, ""));
	ck_assert_ptr_null(cm_bdict_get(r, "aa"));
	ck_assert_ptr_null(cm_bdict_get(r, "f"));
	ck_assert_ptr_null(cm_bdict_get(&r->items[0], "a")); /* not a dictionary */
	cm_bdoc_free(d);
}
END_TEST

START_TEST(test_bdecode_prefix_says_how_many_bytes_the_value_took)
{
	const char *in = "d8:msg_typei1e5:piecei0eeDATA-AFTER";
	size_t used = 0;
	struct cm_bdoc *d = cm_bdecode_prefix(in, strlen(in), NULL, &used, NULL);

	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(used, strlen(in) - strlen("DATA-AFTER"));
	cm_bdoc_free(d);
}
END_TEST

START_TEST(test_bdecode_prefix_still_rejects_a_truncated_value)
{
	struct cm_err e;
	size_t used;

	ck_assert_ptr_null(cm_bdecode_prefix("d8:msg_typei1e", 14, NULL, &used, &e));
	ck_assert_str_eq(e.msg, "at 14: truncated input");
}
END_TEST

START_TEST(test_bdecode_rejects_an_integer_with_a_leading_zero)
{
	ck_assert_str_eq(reject("i03e", NULL), "at 1: integer with a leading zero");
	ck_assert_str_eq(reject("i-03e", NULL), "at 2: integer with a leading zero");
	ck_assert_str_eq(reject("i00e", NULL), "at 1: integer with a leading zero");
}
END_TEST

START_TEST(test_bdecode_rejects_minus_zero)
{
	ck_assert_str_eq(reject("li1ei-0ee", NULL), "at 4: integer \"-0\"");
}
END_TEST

START_TEST(test_bdecode_rejects_an_integer_without_digits)
{
	ck_assert_str_eq(reject("i-e", NULL), "at 2: integer without digits");
	ck_assert_str_eq(reject("ie", NULL), "at 1: integer without digits");
	ck_assert_str_eq(reject("i1-e", NULL), "at 2: unexpected byte 0x2d in integer");
}
END_TEST

START_TEST(test_bdecode_rejects_an_integer_past_int64)
{
	ck_assert_str_eq(reject("i9223372036854775808e", NULL), "at 1: integer out of range");
	ck_assert_str_eq(reject("i-9223372036854775809e", NULL), "at 2: integer out of range");
}
END_TEST

START_TEST(test_bdecode_rejects_a_string_length_with_a_leading_zero)
{
	ck_assert_str_eq(reject("l04:spame", NULL), "at 1: string length with a leading zero");
}
END_TEST

START_TEST(test_bdecode_rejects_a_string_length_that_overflows)
{
	ck_assert_str_eq(reject("99999999999999999999:", NULL),
			 "at 0: string length out of range");
}
END_TEST

START_TEST(test_bdecode_rejects_a_string_longer_than_the_input)
{
	ck_assert_str_eq(reject("l6:spame", NULL), "at 1: string of 6 bytes past the end of input");
	ck_assert_str_eq(reject("18446744073709551615:", NULL),
			 "at 0: string of 18446744073709551615 bytes past the end of input");
}
END_TEST

START_TEST(test_bdecode_rejects_unsorted_keys)
{
	ck_assert_str_eq(reject("d1:bi1e1:ai2ee", NULL), "at 7: dictionary keys out of order");
	/* a key sorts after its own prefix */
	ck_assert_str_eq(reject("d2:abi1e1:ai2ee", NULL), "at 8: dictionary keys out of order");
}
END_TEST

START_TEST(test_bdecode_rejects_duplicate_keys)
{
	ck_assert_str_eq(reject("d1:ai1e1:ai2ee", NULL), "at 7: duplicate dictionary key");
}
END_TEST

START_TEST(test_bdecode_rejects_a_key_that_is_not_a_string)
{
	ck_assert_str_eq(reject("di1ei2ee", NULL), "at 1: dictionary key not a string");
	ck_assert_str_eq(reject("d1:ae", NULL), "at 4: dictionary key without a value");
}
END_TEST

START_TEST(test_bdecode_rejects_trailing_bytes)
{
	ck_assert_str_eq(reject("i1ei2e", NULL), "at 3: trailing bytes after the value");
	ck_assert_str_eq(reject("le\n", NULL), "at 2: trailing bytes after the value");
}
END_TEST

START_TEST(test_bdecode_rejects_truncated_input)
{
	static const char *cuts[] = {"", "i", "i12", "l", "li1e", "d1:a", "d1:ai1e", "4:sp", "12"};

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct cm_err e;

		ck_assert_ptr_null(cm_bdecode(cuts[i], strlen(cuts[i]), NULL, &e));
		ck_assert_msg(strstr(e.msg, "truncated input") != NULL ||
				      strstr(e.msg, "past the end of input") != NULL,
			      "%s: %s", cuts[i], e.msg);
	}
}
END_TEST

START_TEST(test_bdecode_rejects_an_unknown_byte)
{
	ck_assert_str_eq(reject("lxe", NULL), "at 1: unexpected byte 0x78");
	ck_assert_str_eq(reject("4spam", NULL), "at 1: unexpected byte 0x73 in string length");
}
END_TEST

START_TEST(test_bdecode_rejects_nesting_past_max_depth)
{
	struct cm_blimits lim = {.max_depth = 3};
	struct cm_bdoc *d = cm_bdecode("llleee", 6, &lim, NULL);
	char deep[80];

	ck_assert_ptr_nonnull(d);
	cm_bdoc_free(d);
	ck_assert_str_eq(reject("lllleeee", &lim), "at 3: nesting deeper than 3");
	/* the default is 32 */
	memset(deep, 'l', 33);
	memset(deep + 33, 'e', 33);
	deep[66] = '\0';
	ck_assert_str_eq(reject(deep, NULL), "at 32: nesting deeper than 32");
}
END_TEST

START_TEST(test_bdecode_rejects_more_values_than_max_values)
{
	struct cm_blimits lim = {.max_values = 4};
	struct cm_bdoc *d = cm_bdecode("li1ei2ei3ee", 11, &lim, NULL);

	ck_assert_ptr_nonnull(d);
	cm_bdoc_free(d);
	ck_assert_str_eq(reject("li1ei2ei3ei4ee", &lim), "at 10: more than 4 values");
	/* keys count as values */
	ck_assert_str_eq(reject("d1:ai1e1:bi2ee", &lim), "at 10: more than 4 values");
}
END_TEST

START_TEST(test_bdecode_rejects_input_past_max_bytes)
{
	struct cm_blimits lim = {.max_bytes = 5};

	ck_assert_str_eq(reject("4:spam", &lim), "input of 6 bytes, more than 5");
}
END_TEST

START_TEST(test_bdecode_survives_a_hundred_thousand_nested_lists)
{
	size_t n = 100000;
	char *in = malloc(2 * n);
	struct cm_err e;

	memset(in, 'l', n);
	memset(in + n, 'e', n);
	ck_assert_ptr_null(cm_bdecode(in, 2 * n, NULL, &e));
	ck_assert_str_eq(e.msg, "at 32: nesting deeper than 32");
	free(in);
}
END_TEST

/* ---- encoder ---- */

START_TEST(test_benc_writes_a_canonical_dictionary)
{
	struct cm_benc e;
	char *out;
	size_t n;

	cm_benc_init(&e, 1024);
	cm_benc_dict(&e);
	cm_benc_key(&e, "a");
	cm_benc_int(&e, -7);
	cm_benc_key(&e, "ab");
	cm_benc_list(&e);
	cm_benc_cstr(&e, "x");
	cm_benc_str(&e, "\0y", 2);
	cm_benc_raw(&e, "de", 2);
	cm_benc_end(&e);
	cm_benc_key(&e, "b");
	cm_benc_dict(&e);
	cm_benc_end(&e);
	cm_benc_end(&e);
	ck_assert_int_eq(cm_benc_finish(&e, &out, &n), 0);
	ck_assert_uint_eq(n, 29);
	ck_assert_mem_eq(out, "d1:ai-7e2:abl1:x2:\0ydee1:bdee", n);
	free(out);
}
END_TEST

START_TEST(test_benc_refuses_keys_out_of_order)
{
	struct cm_benc e;
	char *out = NULL;
	size_t n;

	cm_benc_init(&e, 1024);
	cm_benc_dict(&e);
	cm_benc_key(&e, "b");
	cm_benc_int(&e, 1);
	cm_benc_key(&e, "a");
	cm_benc_int(&e, 2);
	cm_benc_end(&e);
	ck_assert(e.failed);
	ck_assert_int_eq(cm_benc_finish(&e, &out, &n), -1);
	ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_benc_refuses_a_duplicate_key_and_a_prefix_after_its_extension)
{
	struct cm_benc e;
	char *out;
	size_t n;

	cm_benc_init(&e, 1024);
	cm_benc_dict(&e);
	cm_benc_key(&e, "a");
	cm_benc_int(&e, 1);
	cm_benc_key(&e, "a");
	ck_assert(e.failed);
	cm_benc_clear(&e);

	cm_benc_init(&e, 1024);
	cm_benc_dict(&e);
	cm_benc_key(&e, "ab");
	cm_benc_int(&e, 1);
	cm_benc_key(&e, "a");
	ck_assert(e.failed);
	ck_assert_int_eq(cm_benc_finish(&e, &out, &n), -1);
}
END_TEST

START_TEST(test_benc_refuses_a_value_without_a_key_and_a_key_without_a_value)
{
	struct cm_benc e;
	char *out;
	size_t n;

	cm_benc_init(&e, 1024);
	cm_benc_dict(&e);
	cm_benc_int(&e, 1);
	ck_assert(e.failed);
	cm_benc_clear(&e);

	cm_benc_init(&e, 1024);
	cm_benc_dict(&e);
	cm_benc_key(&e, "a");
	cm_benc_end(&e);
	ck_assert(e.failed);
	cm_benc_clear(&e);

	cm_benc_init(&e, 1024);
	cm_benc_list(&e);
	cm_benc_key(&e, "a");
	ck_assert(e.failed);
	ck_assert_int_eq(cm_benc_finish(&e, &out, &n), -1);
}
END_TEST

START_TEST(test_benc_finish_refuses_an_open_container_or_nothing_written)
{
	struct cm_benc e;
	char *out;
	size_t n;

	cm_benc_init(&e, 1024);
	cm_benc_list(&e);
	ck_assert_int_eq(cm_benc_finish(&e, &out, &n), -1);
	cm_benc_init(&e, 1024);
	ck_assert_int_eq(cm_benc_finish(&e, &out, &n), -1);
	cm_benc_init(&e, 1024);
	cm_benc_end(&e);
	ck_assert_int_eq(cm_benc_finish(&e, &out, &n), -1);
}
END_TEST

START_TEST(test_benc_fails_past_its_max_bytes)
{
	struct cm_benc e;
	char *out;
	size_t n;

	cm_benc_init(&e, 8);
	cm_benc_cstr(&e, "0123456789");
	ck_assert(e.failed);
	ck_assert_int_eq(cm_benc_finish(&e, &out, &n), -1);
}
END_TEST

START_TEST(test_benc_refuses_nesting_past_its_depth)
{
	struct cm_benc e;

	cm_benc_init(&e, 1024);
	for (int i = 0; i < CM_BENC_MAX_DEPTH; i++)
		cm_benc_list(&e);
	ck_assert(!e.failed);
	cm_benc_list(&e);
	ck_assert(e.failed);
	cm_benc_clear(&e);
}
END_TEST

/* ---- field tables ---- */

struct t_file {
	int64_t length;
	struct cm_strlist path;
};

struct t_inner {
	struct cm_bbytes blob;
	int64_t n;
};

struct t_doc {
	struct cm_strlists tiers;
	bool has_count;
	int64_t count;
	struct cm_blist files;
	struct t_inner inner;
	char *name;
	struct cm_bbytes raw;
	struct cm_strlist urls;
};

static const struct cm_bfield t_file_fields[] = {
	{"length", CB_INT, CB_REQ, offsetof(struct t_file, length), 0, INT64_MAX, 0, NULL, 0},
	{"path", CB_STRLIST, CB_REQ, offsetof(struct t_file, path), 0, 3, 8, NULL, 0},
};
static const struct cm_btype t_file_type = {"file", t_file_fields, 2, sizeof(struct t_file)};

static const struct cm_bfield t_inner_fields[] = {
	{"blob", CB_BYTES, CB_REQ, offsetof(struct t_inner, blob), 2, 8, 2, NULL, 0},
	{"n", CB_INT, 0, offsetof(struct t_inner, n), -5, 5, 0, NULL, 0},
};
static const struct cm_btype t_inner_type = {"inner", t_inner_fields, 2,
					     sizeof(struct t_inner)};

static const struct cm_bfield t_doc_fields[] = {
	{"announce-list", CB_STRLISTS, 0, offsetof(struct t_doc, tiers), 0, 2, 16, NULL, 0},
	{"count", CB_INT, CB_HAS, offsetof(struct t_doc, count), 0, 0, 0, NULL,
	 offsetof(struct t_doc, has_count)},
	{"files", CB_LIST, 0, offsetof(struct t_doc, files), 0, 4, 0, &t_file_type, 0},
	{"inner", CB_DICT, 0, offsetof(struct t_doc, inner), 0, 0, 0, &t_inner_type, 0},
	{"name", CB_STR, CB_REQ, offsetof(struct t_doc, name), 0, 10, 0, NULL, 0},
	{"raw", CB_RAW, 0, offsetof(struct t_doc, raw), 0, 0, 0, NULL, 0},
	{"url-list", CB_STRLIST, CB_ONE, offsetof(struct t_doc, urls), 0, 2, 16, NULL, 0},
};
static const struct cm_btype t_doc_type = {"doc", t_doc_fields, 7, sizeof(struct t_doc)};

#define T_DOC_FULL                                                                               \
	"d13:announce-listll1:a1:bel1:cee5:counti-99e5:filesld6:lengthi3e4:pathl1:x1:yeee"    \
	"5:innerd4:blob2:zz1:ni-5ee4:name3:abc3:rawli1e3:xyze8:url-listl2:u12:u2ee"

/* Decodes in by the test table, expecting failure; returns the message. */
static const char *
reject_doc(const char *in)
{
	static struct cm_err e;
	struct cm_bdoc *d = cm_bdecode(in, strlen(in), NULL, NULL);
	struct t_doc doc;

	ck_assert_msg(d != NULL, "%s does not decode", in);
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(cm_bstruct_decode(cm_bdoc_root(d), &t_doc_type, &doc, &e), -1);
	ck_assert_ptr_null(doc.name); /* left cleared */
	cm_bdoc_free(d);
	return e.msg;
}

START_TEST(test_bstruct_decode_reads_every_kind)
{
	struct cm_bdoc *d = cm_bdecode(T_DOC_FULL, strlen(T_DOC_FULL), NULL, NULL);
	struct cm_err e;
	struct t_doc doc;
	const struct t_file *f;

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(cm_bstruct_decode(cm_bdoc_root(d), &t_doc_type, &doc, &e), 0);
	ck_assert_uint_eq(doc.tiers.len, 2);
	ck_assert_uint_eq(doc.tiers.items[0].len, 2);
	ck_assert_str_eq(doc.tiers.items[1].items[0], "c");
	ck_assert(doc.has_count);
	ck_assert_int_eq(doc.count, -99);
	ck_assert_uint_eq(doc.files.len, 1);
	f = doc.files.items;
	ck_assert_int_eq(f->length, 3);
	ck_assert_str_eq(f->path.items[1], "y");
	ck_assert_uint_eq(doc.inner.blob.len, 2);
	ck_assert_mem_eq(doc.inner.blob.data, "zz", 2);
	ck_assert_int_eq(doc.inner.n, -5);
	ck_assert_str_eq(doc.name, "abc");
	ck_assert_uint_eq(doc.raw.len, 10);
	ck_assert_mem_eq(doc.raw.data, "li1e3:xyze", 10);
	ck_assert_uint_eq(doc.urls.len, 2);
	cm_bstruct_clear(&t_doc_type, &doc);
	ck_assert_ptr_null(doc.name);
	cm_bdoc_free(d);
}
END_TEST

START_TEST(test_bstruct_encode_writes_what_decode_read)
{
	struct cm_bdoc *d = cm_bdecode(T_DOC_FULL, strlen(T_DOC_FULL), NULL, NULL);
	struct t_doc doc;
	struct cm_benc e;
	char *out;
	size_t n;

	ck_assert_int_eq(cm_bstruct_decode(cm_bdoc_root(d), &t_doc_type, &doc, NULL), 0);
	cm_benc_init(&e, 4096);
	cm_bstruct_encode(&e, &t_doc_type, &doc);
	ck_assert_int_eq(cm_benc_finish(&e, &out, &n), 0);
	ck_assert_uint_eq(n, strlen(T_DOC_FULL));
	ck_assert_mem_eq(out, T_DOC_FULL, n);
	free(out);
	cm_bstruct_clear(&t_doc_type, &doc);
	cm_bdoc_free(d);
}
END_TEST

START_TEST(test_bstruct_ignores_unknown_keys_and_leaves_absent_ones_unwritten)
{
	const char *in = "d5:extrai1e5:innerd4:blob2:zze4:name1:x5:zzzzzlee";
	struct cm_bdoc *d = cm_bdecode(in, strlen(in), NULL, NULL);
	struct t_doc doc;
	struct cm_benc e;
	char *out;
	size_t n;

	ck_assert_int_eq(cm_bstruct_decode(cm_bdoc_root(d), &t_doc_type, &doc, NULL), 0);
	ck_assert(!doc.has_count);
	ck_assert_ptr_null(doc.raw.data);
	cm_benc_init(&e, 4096);
	cm_bstruct_encode(&e, &t_doc_type, &doc);
	ck_assert_int_eq(cm_benc_finish(&e, &out, &n), 0);
	/* the int without CB_HAS is written (as 0) though it was absent */
	ck_assert_str_eq(out, "d5:innerd4:blob2:zz1:ni0ee4:name1:xe");
	free(out);
	cm_bstruct_clear(&t_doc_type, &doc);
	cm_bdoc_free(d);
}
END_TEST

START_TEST(test_bstruct_reads_a_lone_string_as_a_list_of_one_where_allowed)
{
	const char *in = "d4:name1:x8:url-list3:u:1e";
	struct cm_bdoc *d = cm_bdecode(in, strlen(in), NULL, NULL);
	struct t_doc doc;

	ck_assert_int_eq(cm_bstruct_decode(cm_bdoc_root(d), &t_doc_type, &doc, NULL), 0);
	ck_assert_uint_eq(doc.urls.len, 1);
	ck_assert_str_eq(doc.urls.items[0], "u:1");
	cm_bstruct_clear(&t_doc_type, &doc);
	cm_bdoc_free(d);
	ck_assert_str_eq(reject_doc("d13:announce-listl1:ae4:name1:xe"),
			 "doc.announce-list[0]: not a list");
}
END_TEST

START_TEST(test_bstruct_names_a_missing_required_field)
{
	ck_assert_str_eq(reject_doc("d5:counti1ee"), "doc.name: missing");
	ck_assert_str_eq(reject_doc("d5:innerd1:ni1ee4:name1:xe"), "doc.inner.blob: missing");
}
END_TEST

START_TEST(test_bstruct_names_a_field_of_the_wrong_kind)
{
	ck_assert_str_eq(reject_doc("d4:namei1ee"), "doc.name: not a string");
	ck_assert_str_eq(reject_doc("d5:count1:14:name1:xe"), "doc.count: not an integer");
	ck_assert_str_eq(reject_doc("d5:filesle5:inneri1e4:name1:xe"),
			 "doc.inner: not a dictionary");
	ck_assert_str_eq(reject_doc("d5:filesd1:ai1ee4:name1:xe"), "doc.files: not a list");
	ck_assert_str_eq(reject_doc("d5:filesli1ee4:name1:xe"), "doc.files[0]: not a dictionary");
}
END_TEST

START_TEST(test_bstruct_names_the_list_item_that_fails)
{
	ck_assert_str_eq(
		reject_doc("d5:filesld6:lengthi1e4:pathl1:xeed6:length1:24:pathl1:xeee4:name1:xe"),
		"doc.files[1].length: not an integer");
	ck_assert_str_eq(reject_doc("d5:filesld6:lengthi1e4:pathl1:x9:123456789eee4:name1:xe"),
			 "doc.files[0].path[1]: longer than 8 bytes");
}
END_TEST

START_TEST(test_bstruct_holds_ints_to_their_range)
{
	ck_assert_str_eq(reject_doc("d5:innerd4:blob2:zz1:ni6ee4:name1:xe"),
			 "doc.inner.n: 6 is not in -5..5");
	ck_assert_str_eq(reject_doc("d5:filesld6:lengthi-1e4:pathleee4:name1:xe"),
			 "doc.files[0].length: -1 is not in 0..9223372036854775807");
}
END_TEST

START_TEST(test_bstruct_holds_bytes_to_their_length_and_multiple)
{
	ck_assert_str_eq(reject_doc("d5:innerd4:blob1:ze4:name1:xe"),
			 "doc.inner.blob: 1 bytes, not in 2..8");
	ck_assert_str_eq(reject_doc("d5:innerd4:blob10:0123456789e4:name1:xe"),
			 "doc.inner.blob: 10 bytes, not in 2..8");
	ck_assert_str_eq(reject_doc("d5:innerd4:blob3:zzze4:name1:xe"),
			 "doc.inner.blob: 3 bytes, not a multiple of 2");
}
END_TEST

START_TEST(test_bstruct_holds_strings_and_lists_to_their_caps)
{
	ck_assert_str_eq(reject_doc("d4:name11:12345678901e"), "doc.name: longer than 10 bytes");
	ck_assert_str_eq(reject_doc("d4:name1:x8:url-listl1:a1:b1:cee"), "doc.url-list: more than 2 entries");
	ck_assert_str_eq(reject_doc("d13:announce-listllelelee4:name1:xe"),
			 "doc.announce-list: more than 2 entries");
	ck_assert_str_eq(reject_doc("d13:announce-listll1:a1:b1:cee4:name1:xe"),
			 "doc.announce-list[0]: more than 2 entries");
}
END_TEST

START_TEST(test_bstruct_rejects_a_nul_inside_a_string)
{
	static const char in[] = "d4:name3:a\0be";
	struct cm_bdoc *d = cm_bdecode(in, sizeof(in) - 1, NULL, NULL);
	struct t_doc doc;
	struct cm_err e;

	ck_assert_int_eq(cm_bstruct_decode(cm_bdoc_root(d), &t_doc_type, &doc, &e), -1);
	ck_assert_str_eq(e.msg, "doc.name: contains a NUL byte");
	cm_bdoc_free(d);
}
END_TEST

START_TEST(test_bstruct_encode_fails_without_a_required_string)
{
	struct t_doc doc = {0};
	struct cm_benc e;
	char *out;
	size_t n;

	cm_benc_init(&e, 4096);
	cm_bstruct_encode(&e, &t_doc_type, &doc);
	ck_assert_int_eq(cm_benc_finish(&e, &out, &n), -1);
}
END_TEST

START_TEST(test_btype_check_holds_a_table_to_key_byte_order)
{
	static const struct cm_bfield bad[] = {
		{"piece length", CB_INT, 0, 0, 0, 0, 0, NULL, 0},
		{"pieces", CB_INT, 0, 0, 0, 0, 0, NULL, 0},
		{"name", CB_INT, 0, 0, 0, 0, 0, NULL, 0},
	};
	static const struct cm_btype bad_type = {"bad", bad, 3, sizeof(int64_t)};
	struct cm_err e;

	ck_assert_int_eq(cm_btype_check(&t_doc_type, &e), 0);
	ck_assert_int_eq(cm_btype_check(&bad_type, &e), -1);
	ck_assert_str_eq(e.msg, "bad: \"name\" after \"pieces\"");
}
END_TEST

FB_CHECK_MAIN(.name = "bencode")
