/*
 * fuzz_peers_json.c - libFuzzer target for DIR/peers.json as the agent loads
 * it at start (pa_store_load_text, daemon/store.h): the document parsed and
 * decoded, each entry's record decoded and verified and restored into a small
 * table (so that a full table's eviction runs too). Time is fixed. Besides
 * what the sanitizers catch: the table holds no more than were restored.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/peertable.h"
#include "daemon/store.h"
#include "fb/log.h"

/* Fixed, so a crash replays; the daemon draws a random key. */
static const struct cm_hash_key fuzz_key = {0x66757a7a, 0x6b6579};

#define NOW_MS 1764000060123LL /* a minute after the seeds' records were issued */
#define TABLE_MAX 4

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peertable_config cfg;
	struct peertable *t;
	size_t skipped;
	int restored;

	peertable_config_default(&cfg);
	cfg.max_entries = TABLE_MAX;
	if ((t = peertable_new(&cfg, &fuzz_key, "self@example.com")) == NULL)
		abort();
	restored = pa_store_load_text((const char *)data, size, "peers.json", t, NOW_MS, &skipped);
	if (restored > 0 && peertable_count(t) > (size_t)restored)
		abort();
	peertable_free(t);
	return 0;
}
