/*
 * check_metainfo.c - .torrent files and info dictionaries: the files
 * mktorrent and libtorrent write (tests/unit/fixtures/torrent/, made by its
 * make.sh, with the info hashes libtorrent printed), building the same info
 * dictionary from the same bytes, and every check on what a torrent says.
 */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb/bencode.h"
#include "fb/digest.h"
#include "fb/file.h"
#include "torrent/metainfo.h"
#include "check_main.h"

#define FIXTURES "tests/unit/fixtures/torrent/"

/* The content make.sh wrote: the same formula, byte for byte. */
static unsigned char *
gen(size_t n, unsigned salt)
{
	unsigned char *b = malloc(n ? n : 1);

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(((i * 131 + (i >> 8) * 7 + salt) ^ (i >> 16)) & 0xff);
	return b;
}

static void
load(const char *name, struct tr_meta *m)
{
	char path[256], *buf;
	size_t len;
	struct cm_err e;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	ck_assert_int_eq(cm_file_read(path, TR_MAX_TORRENT_FILE, &buf, &len, NULL), 0);
	ck_assert_msg(tr_meta_from_torrent(buf, len, m, &e) == 0, "%s: %s", name, e.msg);
	free(buf);
}

/* SHA-1 of each piece of data: what a torrent maker computes. */
static unsigned char *
hash_pieces(const unsigned char *data, uint64_t len, uint32_t piece_length, uint32_t *count)
{
	uint32_t n = (uint32_t)((len + piece_length - 1) / piece_length);
	unsigned char *out = malloc((size_t)n * TR_HASH_LEN);

	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = (uint64_t)i * piece_length;
		uint64_t k = len - off < piece_length ? len - off : piece_length;

		ck_assert_int_eq(cm_sha1(data + off, k, out + (size_t)i * TR_HASH_LEN), 0);
	}
	*count = n;
	return out;
}

START_TEST(test_meta_reads_a_single_file_torrent_made_by_mktorrent)
{
	struct tr_meta m;

	load("mk-single.torrent", &m);
	ck_assert_str_eq(m.info_hash_hex, "cf6e326490581442dfe01daf88ad77b98e0d0551");
	ck_assert_str_eq(m.name, "single.bin");
	ck_assert(!m.multi_file);
	ck_assert_uint_eq(m.total_length, 700000);
	ck_assert_uint_eq(m.piece_length, 262144);
	ck_assert_uint_eq(m.piece_count, 3);
	ck_assert_uint_eq(m.file_count, 1);
	ck_assert_str_eq(m.files[0].path, "single.bin");
	ck_assert_uint_eq(m.files[0].length, 700000);
	ck_assert_uint_eq(m.trackers.len, 1);
	ck_assert_str_eq(m.trackers.items[0], "http://127.0.0.1:6969/announce");
	ck_assert_uint_eq(m.web_seeds.len, 1); /* url-list as a lone string */
	ck_assert_str_eq(m.web_seeds.items[0], "http://127.0.0.1:8080/single.bin");
	tr_meta_clear(&m);
}
END_TEST

START_TEST(test_meta_reads_a_multi_file_torrent_made_by_mktorrent)
{
	struct tr_meta m;

	load("mk-multi.torrent", &m);
	ck_assert_str_eq(m.info_hash_hex, "be8059ae3b9315cf4d81c44fc7db77e2e3a242e6");
	ck_assert(m.multi_file);
	ck_assert_str_eq(m.name, "multi");
	ck_assert_uint_eq(m.file_count, 3);
	ck_assert_str_eq(m.files[0].path, "a.txt");
	ck_assert_str_eq(m.files[1].path, "sub/b.bin");
	ck_assert_uint_eq(m.files[1].offset, 1000);
	ck_assert_str_eq(m.files[2].path, "sub/empty");
	ck_assert_uint_eq(m.files[2].offset, 41000);
	ck_assert_uint_eq(m.total_length, 41000);
	ck_assert_uint_eq(m.piece_count, 2);
	/* announce, then the announce-list tiers, the repeat dropped */
	ck_assert_uint_eq(m.trackers.len, 3);
	ck_assert_str_eq(m.trackers.items[0], "http://127.0.0.1:6969/announce");
	ck_assert_str_eq(m.trackers.items[1], "http://127.0.0.2:6969/announce");
	ck_assert_str_eq(m.trackers.items[2], "http://127.0.0.3:6969/announce");
	tr_meta_clear(&m);
}
END_TEST

START_TEST(test_meta_reads_torrents_made_by_libtorrent)
{
	struct tr_meta m;

	load("lt-single.torrent", &m);
	ck_assert_str_eq(m.info_hash_hex, "bf059911007acc9fcaa2e3d9e70dc1a7b0fa5652");
	ck_assert_uint_eq(m.piece_count, 11);
	ck_assert_str_eq(m.web_seeds.items[0], "http://127.0.0.1:8080/");
	tr_meta_clear(&m);
	load("lt-multi.torrent", &m);
	ck_assert_str_eq(m.info_hash_hex, "323710edc1485ba43af7f093a86c68aaa9e52ae1");
	ck_assert_str_eq(m.files[0].path, "sub/b.bin");
	tr_meta_clear(&m);
}
END_TEST

START_TEST(test_meta_reads_a_hybrid_v1_v2_torrent_by_its_v1_part)
{
	struct tr_meta m;

	load("lt-multi-hybrid.torrent", &m);
	ck_assert_str_eq(m.info_hash_hex, "277eaf21f98fb4957a8dc52d02b185c0dd1da7af");
	/* the padding files are files like the others (BEP 47) */
	ck_assert_uint_eq(m.file_count, 5);
	ck_assert_str_eq(m.files[1].path, ".pad/15384");
	ck_assert(m.files[1].pad);
	ck_assert(!m.files[0].pad);
	ck_assert(!m.files[2].pad);
	ck_assert_uint_eq(m.total_length, 16384 + 49152 + 0);
	tr_meta_clear(&m);
}
END_TEST

START_TEST(test_meta_build_of_one_file_gives_mktorrents_info_hash)
{
	unsigned char *data = gen(700000, 0), *pieces;
	struct tr_file f = {.path = "single.bin", .length = 700000};
	uint32_t n;
	struct tr_meta m;
	struct cm_err e;

	pieces = hash_pieces(data, 700000, 1u << 18, &n);
	ck_assert_msg(tr_meta_build(&m, "single.bin", false, &f, 1, 1u << 18, pieces, n, NULL,
				    NULL, &e) == 0,
		      "%s", e.msg);
	ck_assert_str_eq(m.info_hash_hex, "cf6e326490581442dfe01daf88ad77b98e0d0551");
	tr_meta_clear(&m);
	free(pieces);
	free(data);
}
END_TEST

/* The files of make.sh's folder in the given order, concatenated, built at piece_length. */
static void
build_multi(const int *order, uint32_t piece_length, const char *want)
{
	static const char *paths[] = {"a.txt", "sub/b.bin", "sub/empty"};
	static const size_t lens[] = {1000, 40000, 0};
	unsigned char *all = malloc(41000), *pieces;
	struct tr_file files[3];
	size_t off = 0;
	uint32_t n;
	struct tr_meta m;
	struct cm_err e;

	for (int i = 0; i < 3; i++) {
		unsigned char *b = gen(lens[order[i]], (unsigned)order[i] + 1);

		memcpy(all + off, b, lens[order[i]]);
		off += lens[order[i]];
		free(b);
		files[i] = (struct tr_file){.path = (char *)paths[order[i]], .length = lens[order[i]]};
	}
	pieces = hash_pieces(all, off, piece_length, &n);
	ck_assert_msg(tr_meta_build(&m, "multi", true, files, 3, piece_length, pieces, n, NULL,
				    NULL, &e) == 0,
		      "%s", e.msg);
	ck_assert_str_eq(m.info_hash_hex, want);
	tr_meta_clear(&m);
	free(pieces);
	free(all);
}

START_TEST(test_meta_build_of_a_folder_gives_mktorrents_and_libtorrents_info_hash)
{
	static const int mk[] = {0, 1, 2}, lt[] = {1, 2, 0};

	build_multi(mk, 1u << 15, "be8059ae3b9315cf4d81c44fc7db77e2e3a242e6");
	build_multi(lt, 1u << 14, "323710edc1485ba43af7f093a86c68aaa9e52ae1");
}
END_TEST

START_TEST(test_meta_to_torrent_and_back_keeps_everything)
{
	struct tr_meta m, back;
	char *out;
	size_t n;
	struct cm_err e;

	load("mk-multi.torrent", &m);
	ck_assert_int_eq(cm_strlist_append(&m.web_seeds, "http://127.0.0.1:8080/ws/"), 0);
	m.creation_date = 1700000000;
	ck_assert_int_eq(tr_meta_to_torrent(&m, &out, &n), 0);
	ck_assert_ptr_nonnull(memmem(out, n, "10:created by9:flashback", 24));
	ck_assert_ptr_nonnull(memmem(out, n, "13:creation datei1700000000e", 28));
	ck_assert_ptr_nonnull(memmem(out, n, "13:announce-listll30:http://127.0.0.1", 37));
	ck_assert_msg(tr_meta_from_torrent(out, n, &back, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(back.info_hash_hex, m.info_hash_hex);
	ck_assert_uint_eq(back.info_len, m.info_len);
	ck_assert_mem_eq(back.info, m.info, m.info_len);
	ck_assert_uint_eq(back.trackers.len, 3);
	ck_assert_str_eq(back.trackers.items[2], "http://127.0.0.3:6969/announce");
	ck_assert_uint_eq(back.web_seeds.len, 1);
	ck_assert_str_eq(back.web_seeds.items[0], "http://127.0.0.1:8080/ws/");
	free(out);
	tr_meta_clear(&back);
	tr_meta_clear(&m);
}
END_TEST

START_TEST(test_meta_to_torrent_of_one_tracker_writes_announce_alone)
{
	struct tr_meta m;
	char *out;
	size_t n;

	load("lt-single.torrent", &m);
	ck_assert_int_eq(tr_meta_to_torrent(&m, &out, &n), 0);
	ck_assert_ptr_null(memmem(out, n, "announce-list", 13));
	ck_assert_ptr_null(memmem(out, n, "creation date", 13));
	ck_assert_int_eq(memcmp(out, "d8:announce30:http://127.0.0.1:6969/announce10:created by", 57),
			 0);
	free(out);
	tr_meta_clear(&m);
}
END_TEST

START_TEST(test_meta_piece_size_makes_the_last_piece_short)
{
	struct tr_meta m;

	load("mk-single.torrent", &m);
	ck_assert_uint_eq(tr_meta_piece_size(&m, 0), 262144);
	ck_assert_uint_eq(tr_meta_piece_size(&m, 1), 262144);
	ck_assert_uint_eq(tr_meta_piece_size(&m, 2), 700000 - 2 * 262144);
	ck_assert_uint_eq(tr_meta_piece_size(&m, 3), 0);
	tr_meta_clear(&m);
}
END_TEST

START_TEST(test_meta_from_info_checks_the_info_hash)
{
	struct tr_meta m, again;
	unsigned char wrong[TR_HASH_LEN];
	struct cm_err e;

	load("mk-single.torrent", &m);
	ck_assert_int_eq(tr_meta_from_info(m.info, m.info_len, m.info_hash, &again, &e), 0);
	ck_assert_str_eq(again.info_hash_hex, m.info_hash_hex);
	tr_meta_clear(&again);
	memcpy(wrong, m.info_hash, sizeof(wrong));
	wrong[0] ^= 1;
	ck_assert_int_eq(tr_meta_from_info(m.info, m.info_len, wrong, &again, &e), -1);
	ck_assert_str_eq(e.msg, "info: its SHA-1 is cf6e326490581442dfe01daf88ad77b98e0d0551, "
				"not the info hash ce6e326490581442dfe01daf88ad77b98e0d0551");
	ck_assert_ptr_null(again.info);
	tr_meta_clear(&m);
}
END_TEST

START_TEST(test_meta_types_hold_their_keys_in_byte_order)
{
	size_t n;
	const struct cm_btype *const *t = tr_meta_types(&n);
	struct cm_err e;

	ck_assert_uint_ge(n, 3);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(cm_btype_check(t[i], &e) == 0, "%s", e.msg);
}
END_TEST

/* ---- what is refused ---- */

/* An info dictionary: before ("6:lengthi5e" or "5:files..."), name, piece length, n hashes. */
static char *
info_of(const char *before, const char *name, int64_t piece_length, size_t hashes, size_t *len)
{
	size_t cap = strlen(before) + strlen(name) + 20 * hashes + 128, n;
	char *b = malloc(cap);

	n = (size_t)snprintf(b, cap, "d%s4:name%zu:%s12:piece lengthi%llde6:pieces%zu:", before,
			     strlen(name), name, (long long)piece_length, 20 * hashes);
	memset(b + n, 'h', 20 * hashes);
	n += 20 * hashes;
	b[n++] = 'e';
	*len = n;
	return b;
}

/* Parses the info dictionary, expecting the error want. */
static void
refuse(const char *before, const char *name, int64_t piece_length, size_t hashes,
       const char *want)
{
	size_t len;
	char *info = info_of(before, name, piece_length, hashes, &len);
	struct tr_meta m;
	struct cm_err e;

	ck_assert_msg(tr_meta_from_info(info, len, NULL, &m, &e) == -1, "%s: accepted", before);
	ck_assert_str_eq(e.msg, want);
	ck_assert_ptr_null(m.files);
	free(info);
}

START_TEST(test_meta_accepts_the_minimal_info_dictionary)
{
	size_t len;
	char *info = info_of("6:lengthi16385e", "x", 16384, 2, &len);
	struct tr_meta m;
	struct cm_err e;

	ck_assert_msg(tr_meta_from_info(info, len, NULL, &m, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(tr_meta_piece_size(&m, 1), 1);
	tr_meta_clear(&m);
	free(info);
}
END_TEST

START_TEST(test_meta_refuses_a_dot_dot_path_component)
{
	refuse("5:filesld6:lengthi1e4:pathl2:..6:passwdeee", "x", 16384, 1,
	       "info.files[0].path: path component \"..\"");
	refuse("5:filesld6:lengthi1e4:pathl1:a1:.eee", "x", 16384, 1,
	       "info.files[0].path: path component \".\"");
	refuse("6:lengthi1e", "..", 16384, 1, "info.name: path component \"..\"");
}
END_TEST

START_TEST(test_meta_refuses_an_empty_path_or_component)
{
	refuse("5:filesld6:lengthi1e4:pathl0:1:aeee", "x", 16384, 1,
	       "info.files[0].path: an empty path component");
	refuse("5:filesld6:lengthi1e4:pathleee", "x", 16384, 1, "info.files[0].path: an empty path");
	refuse("6:lengthi1e", "", 16384, 1, "info.name: an empty path component");
}
END_TEST

START_TEST(test_meta_refuses_slashes_and_backslashes_in_a_component)
{
	refuse("5:filesld6:lengthi1e4:pathl4:/etceee", "x", 16384, 1,
	       "info.files[0].path: a slash or backslash in path component \"/etc\"");
	refuse("5:filesld6:lengthi1e4:pathl5:..\\x1eee", "x", 16384, 1,
	       "info.files[0].path: a slash or backslash in path component \"..\\x1\"");
	refuse("6:lengthi1e", "a/b", 16384, 1,
	       "info.name: a slash or backslash in path component \"a/b\"");
}
END_TEST

START_TEST(test_meta_refuses_a_nul_in_a_path)
{
	static const char info[] = "d6:lengthi1e4:name3:a\0b12:piece lengthi16384e6:pieces20:"
				   "hhhhhhhhhhhhhhhhhhhhe";
	struct tr_meta m;
	struct cm_err e;

	ck_assert_int_eq(tr_meta_from_info(info, sizeof(info) - 1, NULL, &m, &e), -1);
	ck_assert_str_eq(e.msg, "info.name: contains a NUL byte");
}
END_TEST

START_TEST(test_meta_refuses_two_files_at_one_path)
{
	refuse("5:filesld6:lengthi1e4:pathl1:a1:beed6:lengthi1e4:pathl1:a1:beee", "x", 16384, 1,
	       "info.files: two files at \"a/b\"");
}
END_TEST

START_TEST(test_meta_lets_padding_files_share_a_path)
{
	size_t len;
	char *info = info_of("5:filesld6:lengthi1e4:pathl1:aeed4:attr1:p6:lengthi1e4:pathl4:.pad1:1eed"
			     "6:lengthi1e4:pathl1:beed4:attr1:p6:lengthi1e4:pathl4:.pad1:1eee",
			     "x", 16384, 1, &len);
	struct tr_meta m;
	struct cm_err e;

	ck_assert_msg(tr_meta_from_info(info, len, NULL, &m, &e) == 0, "%s", e.msg);
	ck_assert(m.files[3].pad);
	ck_assert_uint_eq(m.files[3].offset, 3);
	tr_meta_clear(&m);
	free(info);
}
END_TEST

START_TEST(test_meta_refuses_a_file_where_a_folder_is)
{
	/* "a-z" sorts between "a" and "a/b" in byte order: the check must still see them */
	refuse("5:filesld6:lengthi1e4:pathl1:aeed6:lengthi1e4:pathl3:a-zeed6:lengthi1e4:pathl1:a1:beee",
	       "x", 16384, 1, "info.files: \"a\" is a file and a folder");
}
END_TEST

START_TEST(test_meta_refuses_a_piece_count_that_does_not_match_the_size)
{
	refuse("6:lengthi16385e", "x", 16384, 1,
	       "info.pieces: 1 hashes for 16385 bytes in pieces of 16384, want 2");
	refuse("6:lengthi16384e", "x", 16384, 2,
	       "info.pieces: 2 hashes for 16384 bytes in pieces of 16384, want 1");
}
END_TEST

START_TEST(test_meta_refuses_pieces_not_a_multiple_of_twenty)
{
	const char *info = "d6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces21:"
			   "hhhhhhhhhhhhhhhhhhhhhe";
	struct tr_meta m;
	struct cm_err e;

	ck_assert_int_eq(tr_meta_from_info(info, strlen(info), NULL, &m, &e), -1);
	ck_assert_str_eq(e.msg, "info.pieces: 21 bytes, not a multiple of 20");
}
END_TEST

START_TEST(test_meta_refuses_a_piece_length_out_of_bounds_or_not_a_power_of_two)
{
	refuse("6:lengthi1e", "x", 49152, 1, "info.piece length: 49152 is not a power of two");
	refuse("6:lengthi1e", "x", 8192, 1, "info.piece length: 8192 is not in 16384..16777216");
	refuse("6:lengthi1e", "x", 1 << 25, 1,
	       "info.piece length: 33554432 is not in 16384..16777216");
}
END_TEST

START_TEST(test_meta_refuses_both_or_neither_of_length_and_files)
{
	refuse("5:filesld6:lengthi1e4:pathl1:aeee6:lengthi1e", "x", 16384, 1,
	       "info: both length and files");
	refuse("", "x", 16384, 1, "info: neither length nor files");
	refuse("5:filesle", "x", 16384, 1, "info.files: empty");
}
END_TEST

START_TEST(test_meta_refuses_no_content)
{
	refuse("6:lengthi0e", "x", 16384, 1, "info: no content (0 bytes)");
}
END_TEST

START_TEST(test_meta_refuses_sizes_past_the_cap_and_their_sum)
{
	char before[256];

	snprintf(before, sizeof(before), "6:lengthi%llue", (unsigned long long)TR_MAX_TOTAL + 1);
	refuse(before, "x", 16384, 1, "info.length: 4398046511105 is not in 0..4398046511104");
	refuse("6:lengthi-1e", "x", 16384, 1, "info.length: -1 is not in 0..4398046511104");
	snprintf(before, sizeof(before),
		 "5:filesld6:lengthi%llue4:pathl1:aeed6:lengthi%llue4:pathl1:beee",
		 (unsigned long long)TR_MAX_TOTAL, (unsigned long long)TR_MAX_TOTAL);
	refuse(before, "x", 16384, 1, "info.files: more than 4398046511104 bytes in all");
}
END_TEST

START_TEST(test_meta_refuses_more_files_than_the_cap)
{
	size_t cap = 40 * (TR_MAX_FILES + 2), n = 0;
	char *before = malloc(cap);

	n += (size_t)snprintf(before + n, cap - n, "5:filesl");
	for (int i = 0; i <= TR_MAX_FILES; i++)
		n += (size_t)snprintf(before + n, cap - n, "d6:lengthi1e4:pathl6:f%05dee", i);
	snprintf(before + n, cap - n, "e");
	refuse(before, "x", 16384, 1, "info.files: more than 10000 entries");
	free(before);
}
END_TEST

START_TEST(test_meta_refuses_a_component_longer_than_a_file_name)
{
	char name[TR_MAX_NAME + 2];

	memset(name, 'n', TR_MAX_NAME + 1);
	name[TR_MAX_NAME + 1] = '\0';
	refuse("6:lengthi1e", name, 16384, 1, "info.name: longer than 255 bytes");
}
END_TEST

START_TEST(test_meta_refuses_non_canonical_bencode_with_its_offset)
{
	struct tr_meta m;
	struct cm_err e;
	const char *t = "d4:infod6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:"
			"hhhhhhhhhhhhhhhhhhhhe8:announce1:xe";

	ck_assert_int_eq(tr_meta_from_torrent(t, strlen(t), &m, &e), -1);
	ck_assert_str_eq(e.msg, "torrent: at 82: dictionary keys out of order");
	ck_assert_int_eq(tr_meta_from_torrent("d4:infoi1ee", 11, &m, &e), -1);
	ck_assert_str_eq(e.msg, "info: not a dictionary");
	ck_assert_int_eq(tr_meta_from_torrent("de", 2, &m, &e), -1);
	ck_assert_str_eq(e.msg, "torrent.info: missing");
}
END_TEST

START_TEST(test_meta_drops_empty_repeated_and_surplus_trackers)
{
	size_t cap = 64 * 40 + 512, n = 0, ilen;
	char *t = malloc(cap), *info = info_of("6:lengthi1e", "x", 16384, 1, &ilen);
	struct tr_meta m;
	struct cm_err e;

	n += (size_t)snprintf(t + n, cap - n, "d8:announce0:13:announce-listll10:http://t/0e");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(t + n, cap - n, "l11:http://t/%02d10:http://t/0e", i);
	n += (size_t)snprintf(t + n, cap - n, "e4:info");
	memcpy(t + n, info, ilen);
	n += ilen;
	n += (size_t)snprintf(t + n, cap - n, "8:url-listl0:2:u1ee");
	ck_assert_msg(tr_meta_from_torrent(t, n, &m, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(m.trackers.len, TR_MAX_TRACKERS);
	ck_assert_str_eq(m.trackers.items[0], "http://t/0");
	ck_assert_str_eq(m.trackers.items[1], "http://t/00");
	ck_assert_uint_eq(m.web_seeds.len, 1);
	tr_meta_clear(&m);
	free(info);
	free(t);
}
END_TEST

START_TEST(test_meta_build_refuses_a_bad_path_as_parsing_would)
{
	struct tr_file f = {.path = "a//b", .length = 1};
	unsigned char pieces[TR_HASH_LEN] = {0};
	struct tr_meta m;
	struct cm_err e;

	ck_assert_int_eq(tr_meta_build(&m, "x", true, &f, 1, 16384, pieces, 1, NULL, NULL, &e), -1);
	ck_assert_str_eq(e.msg, "info.files[0].path: an empty path component");
	f.path = "../x";
	ck_assert_int_eq(tr_meta_build(&m, "x", true, &f, 1, 16384, pieces, 1, NULL, NULL, &e), -1);
	ck_assert_str_eq(e.msg, "info.files[0].path: path component \"..\"");
	ck_assert_int_eq(tr_meta_build(&m, "x", false, &f, 2, 16384, pieces, 1, NULL, NULL, &e), -1);
	ck_assert_str_eq(e.msg, "build: 2 files for a single-file torrent");
}
END_TEST

START_TEST(test_meta_build_keeps_trackers_and_web_seeds)
{
	struct tr_file f = {.path = "x", .length = 5};
	unsigned char pieces[TR_HASH_LEN] = {0};
	struct cm_strlist tr = {0}, ws = {0};
	struct tr_meta m;
	struct cm_err e;

	cm_strlist_append(&tr, "http://127.0.0.1:1/announce");
	cm_strlist_append(&tr, "http://127.0.0.1:1/announce");
	cm_strlist_append(&ws, "http://127.0.0.1:2/x");
	ck_assert_int_eq(tr_meta_build(&m, "x", false, &f, 1, 16384, pieces, 1, &tr, &ws, &e), 0);
	ck_assert_uint_eq(m.trackers.len, 1);
	ck_assert_uint_eq(m.web_seeds.len, 1);
	ck_assert_str_eq(m.files[0].path, "x");
	tr_meta_clear(&m);
	cm_strlist_clear(&tr);
	cm_strlist_clear(&ws);
}
END_TEST

FB_CHECK_MAIN(.name = "metainfo")
