/*
 * check_storage.c - a torrent's bytes on disk: pieces across file boundaries,
 * nothing written before its SHA-1 matches, the .part name until finished,
 * and creation hashing (piece length, SHA-1 per piece, SHA-256 per file).
 */
#define _GNU_SOURCE /* nftw */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fb/digest.h"
#include "fb/file.h"
#include "fb/random.h"
#include "torrent/hasher.h"
#include "torrent/storage.h"
#include "check_main.h"
#include "testutil.h"

#define PL 16384

static unsigned char data[3 * PL + 100]; /* the torrent's byte stream */
static struct tr_meta meta;

/* Three files (5000, 30000 and 14252 bytes) over three pieces and a short fourth. */
static void
setup(void)
{
	struct tr_file files[3] = {{"a.bin", 5000, 0, false},
	                           {"sub/b.bin", 30000, 5000, false},
	                           {"sub/c.bin", sizeof(data) - 35000, 35000, false}};
	unsigned char pieces[4 * 20];
	uint32_t n = (sizeof(data) + PL - 1) / PL;

	tu_mkdir("check_storage");
	ck_assert_int_eq(cm_random_bytes(data, sizeof(data)), 0);
	for (uint32_t i = 0; i < n; i++) {
		size_t len = i + 1 == n ? sizeof(data) - (size_t)i * PL : PL;

		cm_sha1(data + (size_t)i * PL, len, pieces + i * 20);
	}
	memset(&meta, 0, sizeof(meta));
	ck_assert_int_eq(
	    tr_meta_build(&meta, "folder", true, files, 3, PL, pieces, n, NULL, NULL, NULL), 0);
}

static void
teardown(void)
{
	tr_meta_clear(&meta);
	tu_rmdir();
}

static char root[160];

static struct tr_storage *
part_storage(void)
{
	struct tr_storage *st;

	snprintf(root, sizeof(root), "%s/folder", tu_dir);
	st = tr_storage_new(&meta, root, false, NULL);
	ck_assert_ptr_nonnull(st);
	return st;
}

START_TEST(test_a_new_download_is_made_under_a_part_name_and_is_fresh)
{
	struct tr_storage *st = part_storage();
	char p[256];
	struct stat sb;

	ck_assert(tr_storage_fresh(st));
	snprintf(p, sizeof(p), "%s.part/sub/b.bin", root);
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_int_eq(sb.st_size, 30000);
	ck_assert_int_eq(access(root, F_OK), -1);
	tr_storage_free(st);
}
END_TEST

START_TEST(test_pieces_across_file_boundaries_read_back_whole)
{
	struct tr_storage *st = part_storage();
	unsigned char back[sizeof(data)];

	for (uint32_t i = 0; i < meta.piece_count; i++)
		ck_assert_int_eq(tr_storage_put_piece(st, i, data + (size_t)i * PL, NULL), 0);
	ck_assert_int_eq(tr_storage_read(st, 0, back, sizeof(back)), 0);
	ck_assert_mem_eq(back, data, sizeof(data));
	ck_assert_int_eq(tr_storage_read(st, 4990, back, 20), 0);
	ck_assert_mem_eq(back, data + 4990, 20);
	tr_storage_free(st);
}
END_TEST

START_TEST(test_a_piece_failing_its_hash_writes_nothing)
{
	struct tr_storage *st = part_storage();
	unsigned char bad[PL], back[PL], zero[PL] = {0};

	memcpy(bad, data + PL, PL);
	bad[77] ^= 1;
	ck_assert_int_eq(tr_storage_put_piece(st, 1, bad, NULL), 1);
	ck_assert_int_eq(tr_storage_read(st, PL, back, PL), 0);
	ck_assert_mem_eq(back, zero, PL);
	ck_assert_int_eq(tr_storage_check_piece(st, 1, back), 0);
	tr_storage_free(st);
}
END_TEST

START_TEST(test_a_read_past_the_end_fails)
{
	struct tr_storage *st = part_storage();
	unsigned char b[16];

	ck_assert_int_eq(tr_storage_read(st, sizeof(data) - 8, b, 16), -1);
	tr_storage_free(st);
}
END_TEST

START_TEST(test_finish_renames_the_folder_and_a_reopened_one_checks_out)
{
	struct tr_storage *st = part_storage();
	unsigned char scratch[PL];
	char(*sha)[65] = calloc(3, 65), want[65];
	struct tr_sha256_job *j;
	int r;

	for (uint32_t i = 0; i < meta.piece_count; i++)
		tr_storage_put_piece(st, i, data + (size_t)i * PL, NULL);
	ck_assert_int_eq(tr_storage_finish(st, NULL), 0);
	ck_assert(tr_storage_finished(st));
	ck_assert_str_eq(tr_storage_path(st), root);
	j = tr_sha256_job_new(st);
	while ((r = tr_sha256_job_step(j, 4096, sha)) == 0)
		;
	ck_assert_int_eq(r, 1);
	cm_sha256_hex(data + 5000, 30000, want);
	ck_assert_str_eq(sha[1], want);
	tr_sha256_job_free(j);
	tr_storage_free(st);
	st = tr_storage_new(&meta, root, true, NULL);
	for (uint32_t i = 0; i < meta.piece_count; i++)
		ck_assert_int_eq(tr_storage_check_piece(st, i, scratch), 1);
	tr_storage_free(st);
	free(sha);
}
END_TEST

START_TEST(test_finish_refuses_to_replace_an_existing_path)
{
	struct tr_storage *st = part_storage();
	struct cm_err err;

	mkdir(root, 0755);
	ck_assert_int_eq(tr_storage_finish(st, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "exists"));
	tr_storage_free(st);
}
END_TEST

START_TEST(test_piece_length_gives_one_to_two_thousand_pieces)
{
	ck_assert_uint_eq(tr_piece_length_for(1000), TR_MIN_PIECE);
	ck_assert_uint_eq(tr_piece_length_for(200ull << 20), 131072);
	/* Up to 2000 pieces of the largest length: 31.25 GiB. */
	for (uint64_t total = 64ull << 20; total <= 2000ull * TR_MAX_PIECE; total = total * 3 + 1) {
		uint32_t pl = tr_piece_length_for(total);
		uint64_t n = (total + pl - 1) / pl;

		ck_assert_uint_eq(pl & (pl - 1), 0);
		ck_assert_msg(n >= 1000 && n <= 2000, "%llu pieces", (unsigned long long)n);
	}
	ck_assert_uint_eq(tr_piece_length_for(1ull << 40), TR_MAX_PIECE);
}
END_TEST

START_TEST(test_hashing_a_folder_gives_its_files_pieces_and_sha256)
{
	char dir[160], p[256], want[65];
	struct tr_hasher *h;
	const struct tr_file *f;
	size_t nf;
	uint32_t np;
	const unsigned char *pieces;
	unsigned char d[20];
	struct pollfd pfd;

	snprintf(dir, sizeof(dir), "%s/src", tu_dir);
	mkdir(dir, 0755);
	snprintf(p, sizeof(p), "%s/sub", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/a.bin", dir);
	cm_file_write_atomic(p, data, 5000, 0644, NULL);
	snprintf(p, sizeof(p), "%s/sub/b.bin", dir);
	cm_file_write_atomic(p, data + 5000, 30000, 0644, NULL);
	snprintf(p, sizeof(p), "%s/sub/c.bin", dir);
	cm_file_write_atomic(p, data + 35000, sizeof(data) - 35000, 0644, NULL);
	snprintf(p, sizeof(p), "%s/link", dir);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	ck_assert_ptr_nonnull(h = tr_hasher_new(dir, 1 << 30, NULL));
	pfd.fd = tr_hasher_fd(h);
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
	ck_assert_int_eq(tr_hasher_finish(h, NULL), 0);
	ck_assert(tr_hasher_multi_file(h));
	f = tr_hasher_files(h, &nf);
	ck_assert_uint_eq(nf, 3); /* the symbolic link is left out */
	ck_assert_str_eq(f[1].path, "sub/b.bin");
	ck_assert_uint_eq(f[2].offset, 35000);
	pieces = tr_hasher_pieces(h, &np);
	ck_assert_uint_eq(np, meta.piece_count);
	ck_assert_mem_eq(pieces, meta.pieces, (size_t)np * 20);
	cm_sha1(data + 3 * PL, 100, d);
	ck_assert_mem_eq(pieces + 3 * 20, d, 20);
	cm_sha256_hex(data + 35000, sizeof(data) - 35000, want);
	ck_assert_str_eq(tr_hasher_sha256(h)[2], want);
	tr_hasher_free(h);
}
END_TEST

START_TEST(test_hashing_refuses_an_empty_file)
{
	char p[256];
	struct cm_err err;

	snprintf(p, sizeof(p), "%s/empty", tu_dir);
	cm_file_write_atomic(p, "", 0, 0644, NULL);
	ck_assert_ptr_null(tr_hasher_new(p, 1 << 30, &err));
	ck_assert_ptr_nonnull(strstr(err.msg, "no content"));
}
END_TEST

START_TEST(test_hashing_reports_a_file_cut_short_while_it_is_hashed)
{
	char dir[160], p[256];
	size_t big = 64u << 20; /* long enough to hash that the cut comes first */
	unsigned char *buf = calloc(1, big);
	struct tr_hasher *h;
	struct cm_err err;
	struct pollfd pfd;

	ck_assert_ptr_nonnull(buf);
	snprintf(dir, sizeof(dir), "%s/src", tu_dir);
	mkdir(dir, 0755);
	snprintf(p, sizeof(p), "%s/a.bin", dir);
	ck_assert_int_eq(cm_file_write_atomic(p, buf, big, 0644, NULL), 0);
	snprintf(p, sizeof(p), "%s/b.bin", dir);
	ck_assert_int_eq(cm_file_write_atomic(p, data, sizeof(data), 0644, NULL), 0);
	free(buf);
	ck_assert_ptr_nonnull(h = tr_hasher_new(dir, 1 << 30, NULL));
	ck_assert_int_eq(truncate(p, 100), 0);
	pfd.fd = tr_hasher_fd(h);
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 20000), 1);
	ck_assert_int_eq(tr_hasher_finish(h, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "b.bin changed while it was hashed"));
	tr_hasher_free(h);
}
END_TEST

FB_CHECK_MAIN(.name = "storage", .setup = setup, .teardown = teardown)
