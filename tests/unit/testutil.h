/*
 * testutil.h - what several Check suites share: a private directory per test
 * (made by the fixture's setup, removed with everything in it by teardown),
 * paths inside it, and the identities and peer tables their tests start from.
 */
#ifndef FB_TESTUTIL_H
#define FB_TESTUTIL_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/peertable.h"
#include "fb/identity.h"

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

/* A new identity for email (a 30-day self-signed certificate); fails the test if it cannot. */
static inline struct cm_identity *
tu_identity(const char *email)
{
	struct cm_err e = {0};
	struct cm_identity *id = cm_identity_generate(email, 30, &e);

	ck_assert_msg(id != NULL, "%s", e.msg);
	return id;
}

/* An empty peer table of self@example.com with the default settings. */
static inline struct peertable *
tu_peertable(void)
{
	struct peertable_config c;
	struct peertable *t;

	static const struct cm_hash_key key = {5, 6};

	peertable_config_default(&c);
	t = peertable_new(&c, &key, "self@example.com");
	ck_assert_ptr_nonnull(t);
	return t;
}

#endif
