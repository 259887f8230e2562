/*
 * fuzz_agent_ini.c - libFuzzer target for DIR/agent.ini as the agent reads it
 * (pa_config_load_text, daemon/config.h): inih's lines, every key's value
 * checked, the checks across keys. DIR is a scratch folder made once with the
 * files the defaults name (identity.crt, identity.key), so inputs get past
 * the file checks to the rest. A file with a NUL byte is refused before
 * parsing (pa_config_read_text), so such inputs stop there. Besides what the
 * sanitizers catch: an accepted configuration holds what the checks promise.
 */
#define _GNU_SOURCE /* nftw */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/config_internal.h"

static char home[64];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_home(void)
{
	nftw(home, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
touch(const char *name)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", home, name);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fclose(f);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct pa_config cfg;
	struct cm_err err;
	char *text;

	(void)argc;
	(void)argv;
	snprintf(home, sizeof(home), "/tmp/fuzz_agent_ini_XXXXXX");
	if (mkdtemp(home) == NULL)
		abort();
	atexit(rm_home);
	touch("identity.crt");
	touch("identity.key");
	touch("ca.pem");
	/* What init writes must load. */
	if ((text = pa_config_ini_text("alice@example.com")) == NULL ||
	    pa_config_load_text(home, "agent.ini", text, &cfg, &err) != 0)
		abort();
	pa_config_clear(&cfg);
	free(text);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pa_config cfg;
	struct cm_err err = {0};
	char *text;

	if (memchr(data, '\0', size) != NULL || (text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (pa_config_load_text(home, "agent.ini", text, &cfg, &err) == 0) {
		if (cfg.email == NULL || cfg.max_peers < cfg.neighbours ||
		    cfg.heartbeat_s >= cfg.stale_s || cfg.expire_s <= cfg.stale_s ||
		    2 * cfg.reannounce_s >= cfg.stale_s ||
		    (cfg.broadcasting && cfg.listen_host == NULL))
			abort();
		pa_config_clear(&cfg);
	} else if (err.msg[0] == '\0') {
		abort();
	}
	free(text);
	return 0;
}
