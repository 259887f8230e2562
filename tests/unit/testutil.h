/*
 * testutil.h - what several Check suites share: a private directory per test
 * (made by the fixture's setup, removed with everything in it by teardown)
 * and paths inside it.
 */
#ifndef FB_TESTUTIL_H
#define FB_TESTUTIL_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static char tu_dir[64];

/* Makes /tmp/PREFIX_XXXXXX as tu_dir. */
static inline void
tu_mkdir(const char *prefix)
{
	snprintf(tu_dir, sizeof(tu_dir), "/tmp/%s_XXXXXX", prefix);
	ck_assert_ptr_nonnull(mkdtemp(tu_dir));
}

static inline int
tu_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void
tu_rmdir(void)
{
	nftw(tu_dir, tu_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* tu_dir/name, in one of four rotating static buffers. */
static inline char *
tu_path(const char *name)
{
	static char buf[4][256];
	static int n;
	char *p = buf[n++ % 4];

	snprintf(p, 256, "%s/%s", tu_dir, name);
	return p;
}

#endif
