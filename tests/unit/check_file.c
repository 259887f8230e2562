/* check_file.c - the bounded reader and the atomic writer. */
#define _GNU_SOURCE /* nftw */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fb/file.h"
#include "check_main.h"
#include "testutil.h"

static void
setup(void)
{
	tu_mkdir("check_file");
}

static void
teardown(void)
{
	tu_rmdir();
}

static void
put(const char *name, const char *text)
{
	FILE *f = fopen(tu_path(name), "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_file_read_gives_the_whole_file_nul_terminated)
{
	char *text;
	size_t len;

	put("f", "hello\n");
	ck_assert_int_eq(cm_file_read(tu_path("f"), 6, &text, &len, NULL), 0);
	ck_assert_uint_eq(len, 6);
	ck_assert_str_eq(text, "hello\n");
	free(text);
}
END_TEST

START_TEST(test_file_read_refuses_a_file_over_the_cap)
{
	char *text = (char *)"untouched";
	struct cm_err e;
	size_t len;

	put("f", "hello\n");
	ck_assert_int_eq(cm_file_read(tu_path("f"), 5, &text, &len, &e), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_ptr_null(text);
	ck_assert_msg(strstr(e.msg, "6 bytes, over the limit of 5") != NULL, "%s", e.msg);
}
END_TEST

START_TEST(test_file_read_says_enoent_for_a_missing_file)
{
	char *text;
	size_t len;

	ck_assert_int_eq(cm_file_read(tu_path("none"), 10, &text, &len, NULL), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_file_read_refuses_a_directory)
{
	struct cm_err e;
	char *text;
	size_t len;

	ck_assert_int_eq(cm_file_read(tu_dir, 10, &text, &len, &e), -1);
	ck_assert_msg(strstr(e.msg, "not a regular file") != NULL, "%s", e.msg);
}
END_TEST

START_TEST(test_file_write_atomic_creates_with_the_mode_given)
{
	struct stat st;
	char *text;
	size_t len;

	ck_assert_int_eq(cm_file_write_atomic(tu_path("f"), "abc", 3, 0640, NULL), 0);
	ck_assert_int_eq(stat(tu_path("f"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(cm_file_read(tu_path("f"), 10, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "abc");
	ck_assert_int_eq(access(tu_path("f.tmp"), F_OK), -1);
	free(text);
}
END_TEST

START_TEST(test_file_write_atomic_replaces_an_existing_file)
{
	char *text;
	size_t len;

	put("f", "old contents");
	ck_assert_int_eq(cm_file_write_atomic(tu_path("f"), "new", 3, 0600, NULL), 0);
	ck_assert_int_eq(cm_file_read(tu_path("f"), 100, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "new");
	free(text);
}
END_TEST

START_TEST(test_file_write_atomic_leaves_the_old_file_on_failure)
{
	struct cm_err e;
	char *text;
	size_t len;

	put("f", "old contents");
	/* The temporary file cannot be created: a directory holds its name. */
	ck_assert_int_eq(mkdir(tu_path("f.tmp"), 0700), 0);
	ck_assert_int_eq(cm_file_write_atomic(tu_path("f"), "new", 3, 0600, &e), -1);
	ck_assert_msg(strstr(e.msg, "cannot write") != NULL, "%s", e.msg);
	ck_assert_int_eq(cm_file_read(tu_path("f"), 100, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "old contents");
	free(text);
}
END_TEST

START_TEST(test_write_all_writes_everything_to_a_pipe)
{
	char big[100000], back[sizeof(big)];
	int fds[2];
	size_t got = 0;
	pid_t pid;

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(pipe(fds), 0);
	/* More than a pipe holds: the writer must go on after short writes. */
	if ((pid = fork()) == 0) {
		close(fds[0]);
		_exit(cm_write_all(fds[1], big, sizeof(big)) == 0 ? 0 : 1);
	}
	close(fds[1]);
	for (ssize_t n; (n = read(fds[0], back + got, sizeof(back) - got)) > 0;)
		got += (size_t)n;
	close(fds[0]);
	ck_assert_uint_eq(got, sizeof(big));
	ck_assert_mem_eq(big, back, sizeof(big));
}
END_TEST

FB_CHECK_MAIN(.name = "file", .setup = setup, .teardown = teardown)
